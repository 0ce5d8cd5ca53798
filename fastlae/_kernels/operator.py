"""The Gram operator the solvers iterate on, and the maps between the two Gram spaces.

The solver kernels receive an operator whole and pass it to :func:`apply_gram`:
:class:`FormedGram` (the Gram matrix itself) or :class:`GramOperator` (what a matrix-free
product with the centered, scaled Gram needs). They are different types, so Numba compiles a
solver kernel separately for each, and a call on the formed Gram (the common case) never
compiles the matrix-free products (about half of the first call's compilation).
"""
from collections import namedtuple

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from ._config import JIT
from .blas import gemm, product
from .passes import center_block

FormedGram = namedtuple("FormedGram", [
    "C",          # (m, m) float64 Gram matrix
    "stop",       # (1,) int64 cancellation flag
])

GramOperator = namedtuple("GramOperator", [
    "A",          # the data as stored, C-contiguous float32/float64
    "mean",       # (n_features,) float64
    "feat_axis",  # the axis of A that holds the features
    "inv",        # a power of two: the data are (A - mean) * inv
    "gram_axis",  # the axis of A the Gram's rows run along (1: Gram of A's columns)
    "block",      # rows (or columns) of A per block
    "buf",        # scratch for one centered block; empty: multiply uncentered views
    "stop",       # (1,) int64 cancellation flag
])


@nb.njit(**JIT)
def _block_view(buf, rows, cols):
    return buf[: rows * cols].reshape((rows, cols))


def apply_gram(op, V):
    """Return ``G @ V`` for the Gram matrix ``G`` of the centered, scaled data.

    Callable from Python and from the kernels (where the operator's type picks the
    implementation at compile time).

    Parameters
    ----------
    op : FormedGram or GramOperator
        A :class:`GramOperator` with ``gram_axis == 1`` applies ``G = Ac.T @ Ac`` (Gram of the
        columns of ``A``, accumulated over row blocks); with 0, ``G = Ac @ Ac.T`` (over column
        blocks). When ``op.stop`` becomes non-zero the pass stops early (the result is then
        meaningless; callers check the flag). An empty ``op.buf`` applies the uncentered rows
        of A directly (:func:`span_uncentered`; features must be A's columns).
    V : ndarray of shape (m, r), C-contiguous float64

    Returns
    -------
    ndarray of shape (m, r), float64
    """
    if isinstance(op, FormedGram):
        return _apply_formed(op, V)
    return _apply_data(op, V)


def _apply_data(op, V):
    """:func:`apply_gram` of a :class:`GramOperator`, over all of A. Plain Python: the overload
    below compiles it into each solver kernel directly (a jitted level in between costs about
    0.4 s of a first call) and Python callers run it as it is."""
    span = op.A.shape[1 - op.gram_axis]
    if op.buf.shape[0] == 0:
        return span_uncentered(op.A, op.mean, op.inv, op.block, op.stop, V, 0, span)
    return span_centered(op.A, op.mean, op.feat_axis, op.inv, op.gram_axis, op.block, op.buf,
                         op.stop, V, 0, span)


def apply_span(op, V, s0, s1):
    """The part of :func:`apply_gram` (a :class:`GramOperator`) that the rows ``s0:s1`` of A
    contribute (columns where ``op.gram_axis`` is 0): threads that split a product call it on
    their own spans, each with its own ``op.buf``."""
    if op.buf.shape[0] == 0:
        return span_uncentered(op.A, op.mean, op.inv, op.block, op.stop, V, s0, s1)
    return span_centered(op.A, op.mean, op.feat_axis, op.inv, op.gram_axis, op.block, op.buf,
                         op.stop, V, s0, s1)


@overload(apply_gram, jit_options=JIT)
def _apply_gram_typed(op, V):
    if isinstance(op, types.BaseNamedTuple) and op.instance_class is FormedGram:
        return lambda op, V: _apply_formed(op, V)
    return _apply_data


@nb.njit(**JIT)
def _apply_formed(op, V):
    return product(op.C, V, False, False)


@nb.njit(**JIT)
def span_centered(A, mean, feat_axis, inv, gram_axis, block, buf, stop, V, s0, s1):
    """The part of :func:`apply_gram` that rows ``s0:s1`` of A (``gram_axis == 1``; columns
    for 0) contribute, from centered blocks: the sum over all of them is the product. The
    arguments are the fields of a :class:`GramOperator`; threads that split a pass call it on
    their own spans (it holds no GIL).

    The products are formed transposed (``(B V)^T = V^T B^T`` and so on): BLAS sees the
    C-ordered result as its Fortran-ordered transpose, and this way round OpenBLAS sees a
    tall, narrow result (M large, N = r), its fast case.
    """
    p, q = A.shape
    r = V.shape[1]
    zero = np.int64(0)   # literal 0 arguments would compile center_block a second time
    outT = np.zeros((r, V.shape[0]))
    T = np.empty(r * block)
    if gram_axis == 1:  # G V = sum B^T (B V) over row blocks B
        for r0 in range(s0, s1, block):
            if stop[0] != 0:
                break
            r1 = min(s1, r0 + block)
            B = _block_view(buf, r1 - r0, q)
            center_block(A, r0, r1, zero, q, mean, feat_axis, inv, B)
            BV = _block_view(T, r, r1 - r0)
            gemm(V, B, BV, True, True, 0.0)        # (B V)^T = V^T B^T
            gemm(BV, B, outT, False, False, 1.0)   # += (B V)^T B
    else:  # G V = sum B (B^T V) over column blocks B
        for c0 in range(s0, s1, block):
            if stop[0] != 0:
                break
            c1 = min(s1, c0 + block)
            B = _block_view(buf, p, c1 - c0)
            center_block(A, zero, p, c0, c1, mean, feat_axis, inv, B)
            BV = _block_view(T, r, c1 - c0)
            gemm(V, B, BV, True, False, 0.0)       # (B^T V)^T = V^T B
            gemm(BV, B, outT, False, True, 1.0)    # += (B^T V)^T B^T
    return _transpose(outT)


@nb.njit(**JIT)
def map_span(A, mean, feat_axis, inv, block, buf, stop, U, out, f0, f1):
    """Rows ``f0:f1`` of ``Xc.T @ U * inv`` (sample vectors mapped to features) into ``out``
    (d x r, C-contiguous), by blocks of ``block`` whole features centered into ``buf``.
    Threads that split the pass call it on their own spans (it holds no GIL)."""
    p, q = A.shape
    r = U.shape[1]
    zero = np.int64(0)   # literal 0 arguments would compile center_block a second time
    flat = out.ravel()   # a view: out is C-contiguous
    for c0 in range(f0, f1, block):
        if stop[0] != 0:
            break
        c1 = min(f1, c0 + block)
        res = _block_view(flat[c0 * r:], c1 - c0, r)
        if feat_axis == 1:   # A = X: features are columns, B (n x w) holds c0:c1
            B = _block_view(buf, p, c1 - c0)
            center_block(A, zero, p, c0, c1, mean, feat_axis, inv, B)
            gemm(B, U, res, True, False, 0.0)
        else:                # A = X.T: features are rows
            B = _block_view(buf, c1 - c0, q)
            center_block(A, c0, c1, zero, q, mean, feat_axis, inv, B)
            gemm(B, U, res, False, False, 0.0)


@nb.njit(**JIT)
def map_uncentered(A, mean, feat_axis, inv, step, stop, U):
    """``Xc.T @ U * inv`` (d x r) from products with the uncentered X: ``X.T U - mean (1^T U)``.

    One threaded BLAS call per chunk of ``step`` rows of A (the stop flag is read between
    them), in the orientation OpenBLAS runs fastest, ``U^T X`` (r x d): a tall, narrow
    result; the mean correction and the transposition come in one loop. Float64 A; rounds
    within :func:`fastlae._data.uncentered_rounding` of the centered :func:`map_span`.
    """
    p, q = A.shape
    n, r = U.shape
    d = q if feat_axis == 1 else p
    c = np.zeros(r)
    for i in range(n):
        for j in range(r):
            c[j] += U[i, j]
    out = np.empty((d, r))
    flat = A.ravel()   # a view: A is C-contiguous
    if feat_axis == 1:   # A = X (n x d): U^T X summed over chunks of samples
        UT = np.zeros((r, d))
        flatU = U.ravel()
        for s0 in range(0, p, step):
            if stop[0] != 0:
                break
            s1 = min(p, s0 + step)
            gemm(_block_view(flatU[s0 * r:], s1 - s0, r), _block_view(flat[s0 * q:], s1 - s0, q),
                 UT, True, False, 1.0)
        for i in range(d):
            o = out[i]
            mi = mean[i]
            for j in range(r):
                o[j] = (UT[j, i] - mi * c[j]) * inv
    else:                # A = X.T (d x n): U^T A^T, chunks of features
        Ut = _transpose(U)
        T = np.empty(r * min(step, p))
        for f0 in range(0, p, step):
            if stop[0] != 0:
                break
            f1 = min(p, f0 + step)
            Tc = _block_view(T, r, f1 - f0)
            gemm(Ut, _block_view(flat[f0 * q:], f1 - f0, q), Tc, False, True, 0.0)
            for i in range(f1 - f0):
                o = out[f0 + i]
                mi = mean[f0 + i]
                for j in range(r):
                    o[j] = (Tc[j, i] - mi * c[j]) * inv
    return out


@nb.njit(**JIT)
def _transpose(M):
    out = np.empty((M.shape[1], M.shape[0]))
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            out[j, i] = M[i, j]
    return out


@nb.njit(**JIT)
def span_uncentered(A, mean, inv, block, stop, V, s0, s1):
    """``Xc.T @ Xc @ V * inv**2`` from views of the rows ``s0:s1`` of A, without a centered
    copy (the part those rows contribute).

    With ``Y = A V - 1 (mean^T V)``: ``Xc.T Xc V = A^T Y - mean (1^T Y)``. Each block of rows
    is read once from memory (both products see it in cache) and never copied; the price is
    rounding relative to the uncentered A, ``eps |A| |Xc|`` instead of ``eps |Xc|^2``, which
    :meth:`fastlae._operator.Operator.use_uncentered` admits only when that is far below the
    tolerance. Products transposed as in :func:`apply_gram`. Float64 A only (the float32
    instantiation compiles but is never called).
    """
    p, q = A.shape
    r = V.shape[1]
    # V^T, once, in A's dtype (BLAS needs equal dtypes), and c = mean^T V; loops: a sliced
    # assignment compiles for seconds
    VT = np.empty((r, q), dtype=A.dtype)
    c = np.zeros(r)
    for i in range(q):
        for j in range(r):
            VT[j, i] = V[i, j]
            c[j] += mean[i] * V[i, j]
    outT = np.zeros((r, q), dtype=A.dtype)
    T = np.empty(r * block, dtype=A.dtype)
    flat = A.ravel()   # a view: A is C-contiguous
    sY = np.zeros(r)
    for r0 in range(s0, s1, block):
        if stop[0] != 0:
            break
        r1 = min(s1, r0 + block)
        B = _block_view(flat[r0 * q:], r1 - r0, q)   # a C-ordered view, typed like YT
        YT = _block_view(T, r, r1 - r0)
        gemm(VT, B, YT, False, True, 0.0)    # (B V)^T, r x rows
        for j in range(r):
            y = YT[j]
            cj = c[j]
            acc = 0.0
            for i in range(r1 - r0):
                y[i] -= cj
                acc += y[i]
            sY[j] += acc
        gemm(YT, B, outT, False, False, 1.0)   # += Y^T B
    out = np.empty((q, r))
    s2 = inv * inv
    for i in range(q):
        o = out[i]
        mi = mean[i]
        for j in range(r):
            o[j] = (outT[j, i] - mi * sY[j]) * s2
    return out


@nb.njit(**JIT)
def power_ritz(op, W, steps):
    """Ritz values (descending) after ``steps`` block power steps from ``W``.

    By interlacing ``theta_i <= lambda_i``: a safe lower bound on the Gram's eigenvalues.
    """
    Q = W
    r = W.shape[1]
    theta = np.zeros(r)
    for _ in range(steps):
        GQ = apply_gram(op, Q)
        H = np.dot(Q.T, GQ)
        theta = np.linalg.eigvalsh(0.5 * (H + H.T))[::-1].copy()
        Q, _ = np.linalg.qr(GQ)
        Q = np.ascontiguousarray(Q)
    return np.maximum(theta, 0.0)
