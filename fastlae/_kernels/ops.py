"""Passes over the data matrix: column statistics, block centering, the Gram operator."""
import numba as nb
import numpy as np

from ._config import JIT


# Row chunks of the statistics pass; each chunk owns one row of the partial results, merged at
# the end: a blocked (pairwise-like) summation that bounds rounding growth.
STAT_CHUNKS = 64


@nb.njit(**JIT)
def feature_stats(A, feat_axis, shift):
    """Mean of each feature, the largest ``|a|``, and the sum of squares around ``shift``.

    One pass, float64 accumulation. The sum of squares of ``a - shift`` gives the total
    variance without cancellation when ``shift`` is near the mean (a provisional center):
    ``sum (a - mean)^2 = sum (a - shift)^2 - n |mean - shift|^2``.

    Serial, like every kernel here: a ``parallel=True`` version ran this pass about 1.5x faster
    alone, but a Numba OpenMP region is not fork-safe with GNU OpenMP, is not safe for
    concurrent calls under the ``workqueue`` layer, and fights OpenBLAS's spinning workers;
    the pass only runs where the Gram is not formed in one pass (matrix-free, sample Gram,
    the exact-mean fallback).

    Parameters
    ----------
    A : ndarray of shape (p, q), C-contiguous float32/float64
    feat_axis : int
        1 when features are columns of ``A``, 0 when they are rows.
    shift : ndarray of shape (n_features,), float64

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
    maxabs : float
    sumsq : float
        ``sum (a - shift)^2`` over all entries.
    """
    p, q = A.shape
    if feat_axis == 0:  # features are rows: one sum and one max per row
        mean = np.empty(p)
        rowmax = np.empty(p)
        rowsq = np.empty(p)
        for i in range(p):
            acc = 0.0
            sq = 0.0
            mx = 0.0
            a = A[i]
            si = shift[i]
            for j in range(q):
                v = np.float64(a[j])
                acc += v
                mx = max(mx, abs(v))
                sq += (v - si) * (v - si)
            mean[i] = acc / q
            rowmax[i] = mx
            rowsq[i] = sq
        return mean, rowmax.max(), rowsq.sum()
    nchunk = min(STAT_CHUNKS, p)
    size = (p + nchunk - 1) // nchunk
    # element-wise accumulators over row views vectorize; scalar reductions inside the
    # loop (a running max) did not
    sums = np.zeros((nchunk, q))
    sqs = np.zeros((nchunk, q))
    maxs = np.zeros((nchunk, q))
    for t in range(nchunk):
        s = sums[t]
        ss = sqs[t]
        mx = maxs[t]
        for i in range(t * size, min(p, (t + 1) * size)):
            a = A[i]
            for j in range(q):
                v = np.float64(a[j])
                s[j] += v
                ss[j] += (v - shift[j]) * (v - shift[j])
                mx[j] = max(mx[j], abs(v))
    maxabs = 0.0
    col = np.zeros(q)
    colsq = np.zeros(q)
    for t in range(nchunk):
        col += sums[t]
        colsq += sqs[t]
        maxabs = max(maxabs, maxs[t].max())
    return col / p, maxabs, colsq.sum()


@nb.njit(**JIT)
def center_block(A, r0, r1, c0, c1, mean, feat_axis, inv, out):
    """``out[:] = (A[r0:r1, c0:c1] - mean) * inv`` in float64 (serial: runs between BLAS calls).

    ``out`` is C-contiguous of shape (r1 - r0, c1 - c0).
    """
    # Row views let LLVM see that ``o``, ``a`` and ``mm`` are distinct unit-stride vectors and
    # vectorize the loop; indexing ``out[i, j]``/``A[r0 + i, c0 + j]`` directly ran 4x slower.
    w = c1 - c0
    mm = mean[c0:c1]
    for i in range(r1 - r0):
        a = A[r0 + i, c0:c1]
        o = out[i]
        if feat_axis == 1:
            for j in range(w):
                o[j] = (np.float64(a[j]) - mm[j]) * inv
        else:
            mi = mean[r0 + i]
            for j in range(w):
                o[j] = (np.float64(a[j]) - mi) * inv


@nb.njit(**JIT)
def _block_view(buf, rows, cols):
    return buf[: rows * cols].reshape((rows, cols))


@nb.njit(**JIT)
def apply_gram(C, A, mean, feat_axis, inv, of_cols, block, buf, stop, V):
    """Return ``G @ V`` for the Gram matrix ``G`` of the centered, scaled data.

    Parameters
    ----------
    C : ndarray of shape (m, m) or (0, 0), float64
        The explicit Gram matrix, or an empty array for matrix-free mode.
    A, mean, feat_axis, inv
        The data, see the module conventions (ignored when ``C`` is not empty).
    of_cols : bool
        True: ``G = Ac.T @ Ac`` (Gram of the columns of ``A``, accumulated over row blocks);
        False: ``G = Ac @ Ac.T`` (Gram of the rows, over column blocks).
    block : int
        Rows (or columns) of ``A`` per block.
    buf : ndarray of shape (>= block * other_dim,) or (0,), float64
        Scratch space for one centered block; empty to apply the uncentered blocks of A
        directly (see :func:`_apply_gram_uncentered`; features must be A's columns).
    stop : ndarray of shape (1,), int64
        Cancellation flag: when it becomes non-zero the pass stops early (the result is then
        meaningless; callers check the flag).
    V : ndarray of shape (m, r), C-contiguous float64

    Returns
    -------
    ndarray of shape (m, r), float64
    """
    if C.shape[0] > 0:
        return np.dot(C, V)
    p, q = A.shape
    if buf.shape[0] == 0:
        return _apply_gram_uncentered(A, mean, inv, block, stop, V)
    # The products are formed transposed (``(B V)^T = V^T B^T`` and so on): Numba hands BLAS
    # the C-ordered result as its Fortran-ordered transpose, and this way round OpenBLAS sees
    # a tall, narrow result (M large, N = r), which it ran 1.2-1.4x faster (4000 x 4000, r = 40).
    outT = np.zeros((V.shape[1], V.shape[0]))
    if of_cols:  # G V = sum B^T (B V) over row blocks B
        for r0 in range(0, p, block):
            if stop[0] != 0:
                break
            r1 = min(p, r0 + block)
            B = _block_view(buf, r1 - r0, q)
            center_block(A, r0, r1, 0, q, mean, feat_axis, inv, B)
            outT += np.dot(np.dot(V.T, B.T), B)
    else:  # G V = sum B (B^T V) over column blocks B
        for c0 in range(0, q, block):
            if stop[0] != 0:
                break
            c1 = min(q, c0 + block)
            B = _block_view(buf, p, c1 - c0)
            center_block(A, 0, p, c0, c1, mean, feat_axis, inv, B)
            outT += np.dot(np.dot(V.T, B), B.T)
    return np.ascontiguousarray(outT.T)


@nb.njit(**JIT)
def _apply_gram_uncentered(A, mean, inv, block, stop, V):
    """``Xc.T @ Xc @ V * inv**2`` from views of the rows of A, without a centered copy.

    With ``Y = A V - 1 (mean^T V)``: ``Xc.T Xc V = A^T Y - mean (1^T Y)``. Each block of rows
    is read once from memory (both products see it in cache) and never copied; the price is
    rounding relative to the uncentered A, ``eps |A| |Xc|`` instead of ``eps |Xc|^2``, which
    :meth:`fastlae._gram.Problem.use_uncentered` admits only when that is far below the
    tolerance. Products transposed as in :func:`apply_gram`. Float64 A only (the float32
    instantiation compiles but is never called). Measured at 4000 x 4000, r = 40: 35 ms a
    pass against 43 ms for the centered copy (and 50-58 ms untransposed).
    """
    p, q = A.shape
    r = V.shape[1]
    VT = np.empty((r, q), dtype=A.dtype)  # one copy, in A's dtype (np.dot needs equal dtypes)
    VT[:] = V.T
    c = np.dot(mean, V)
    outT = np.zeros((r, q))
    sY = np.zeros(r)
    for r0 in range(0, p, block):
        if stop[0] != 0:
            break
        r1 = min(p, r0 + block)
        B = A[r0:r1]
        YT = np.dot(VT, B.T)        # (B V)^T, r x rows
        for j in range(r):
            y = YT[j]
            cj = c[j]
            acc = 0.0
            for i in range(r1 - r0):
                y[i] -= cj
                acc += y[i]
            sY[j] += acc
        outT += np.dot(YT, B)
    out = np.ascontiguousarray(outT.T)
    s2 = inv * inv
    for i in range(q):
        o = out[i]
        mi = mean[i]
        for j in range(r):
            o[j] = (o[j] - mi * sY[j]) * s2
    return out


@nb.njit(**JIT)
def apply_data_t(A, mean, feat_axis, inv, of_cols, block, buf, U):
    """Return ``Ac.T @ U`` (``of_cols``) or ``Ac @ U`` (not ``of_cols``), blockwise.

    Maps vectors of the other Gram's space into this one: with ``of_cols`` False it takes
    ``U`` of shape (q, r) to ``Ac @ U`` of shape (p, r).

    The blocks run along the output's long side when it is the longer side of A, so that each
    block writes its own rows of the result once: with ``of_cols`` and ``p < q`` (wide data,
    ``q x r`` result) blocks of columns, each ``out[c0:c1] = B.T @ U``; row blocks would add into
    all of ``out`` per block (at 1000 x 100000, r = 40: 100 read-modify-writes of 32 MB).
    ``block`` is the block length for the other orientation; column blocks take as many
    columns as ``buf`` holds.
    """
    p, q = A.shape
    r = U.shape[1]
    if of_cols:
        out = np.zeros((q, r))
        if p < q and p <= buf.shape[0]:
            cb = buf.shape[0] // p
            for c0 in range(0, q, cb):
                c1 = min(q, c0 + cb)
                B = _block_view(buf, p, c1 - c0)
                center_block(A, 0, p, c0, c1, mean, feat_axis, inv, B)
                out[c0:c1] = np.dot(B.T, U)
        else:
            for r0 in range(0, p, block):
                r1 = min(p, r0 + block)
                B = _block_view(buf, r1 - r0, q)
                center_block(A, r0, r1, 0, q, mean, feat_axis, inv, B)
                out += np.dot(B.T, np.ascontiguousarray(U[r0:r1]))
    else:
        out = np.zeros((p, r))
        if q < p and q <= buf.shape[0]:
            rb = buf.shape[0] // q
            for r0 in range(0, p, rb):
                r1 = min(p, r0 + rb)
                B = _block_view(buf, r1 - r0, q)
                center_block(A, r0, r1, 0, q, mean, feat_axis, inv, B)
                out[r0:r1] = np.dot(B, U)
        else:
            for c0 in range(0, q, block):
                c1 = min(q, c0 + block)
                B = _block_view(buf, p, c1 - c0)
                center_block(A, 0, p, c0, c1, mean, feat_axis, inv, B)
                out += np.dot(B, np.ascontiguousarray(U[c0:c1]))
    return out


@nb.njit(**JIT)
def power_ritz(C, A, mean, feat_axis, inv, of_cols, block, buf, stop, W, steps):
    """Ritz values (descending) after ``steps`` block power steps from ``W``.

    By interlacing ``theta_i <= lambda_i``: a safe lower bound on the Gram's eigenvalues.
    """
    Q = W
    r = W.shape[1]
    theta = np.zeros(r)
    for _ in range(steps):
        GQ = apply_gram(C, A, mean, feat_axis, inv, of_cols, block, buf, stop, Q)
        H = np.dot(Q.T, GQ)
        theta = np.linalg.eigvalsh(0.5 * (H + H.T))[::-1].copy()
        Q, _ = np.linalg.qr(GQ)
        Q = np.ascontiguousarray(Q)
    return np.maximum(theta, 0.0)


@nb.njit(**JIT)
def center_block_ones(A, r0, r1, c0, c1, shift, feat_axis, inv, out):
    """:func:`center_block` around ``shift`` plus a constant sample of ones, for one-pass Grams.

    With ``feat_axis == 1`` ``out`` has shape (r1 - r0, c1 - c0 + 1): the centered, scaled
    block and a last column of ones; with ``feat_axis == 0`` it has shape
    (r1 - r0 + 1, c1 - c0): the block and a last row of ones. The Gram of the block's feature
    vectors then carries the feature sums in its last row and column (computed by the same
    BLAS call, in float64), and the sample count in its corner. Accumulating the sums here
    instead, element by element, made this pass twice as slow.
    """
    w = c1 - c0
    rows = r1 - r0
    if feat_axis == 1:
        sh = shift[c0:c1]
        for i in range(rows):
            a = A[r0 + i, c0:c1]
            o = out[i]
            for j in range(w):
                o[j] = (np.float64(a[j]) - sh[j]) * inv
            o[w] = 1.0
    else:
        for i in range(rows):
            a = A[r0 + i, c0:c1]
            o = out[i]
            si = shift[r0 + i]
            for j in range(w):
                o[j] = (np.float64(a[j]) - si) * inv
        out[rows, :] = 1.0


# Samples per partial sum in center_block_exact: the means are sums of partial sums of this
# many samples (blocked summation bounds rounding growth, as STAT_CHUNKS does).
MEAN_CHUNK = 256


@nb.njit(**JIT)
def center_block_exact(A, r0, r1, c0, c1, mean, feat_axis, inv, out):
    """:func:`center_block` for blocks that hold every sample of their features: computes those
    features' exact means into ``mean`` first, then centers around them (with
    :func:`center_block`); returns the block's largest ``|a|``.

    With ``feat_axis == 1`` the block is the columns ``c0:c1`` of A (all rows, ``r0 = 0``,
    ``r1 = p``); with ``feat_axis == 0`` the rows ``r0:r1`` (all columns). ``out`` has the
    block's shape. The sample Gram's one-pass (``Problem._form_sample_gram_one_pass``) uses
    it, so that no statistics pass has to precede the Gram. NaN and inf show in the means.
    """
    rows = r1 - r0
    w = c1 - c0
    big = 0.0
    if feat_axis == 1:
        total = np.zeros(w)
        part = np.zeros(w)
        mx = np.zeros(w)
        for i in range(rows):
            a = A[r0 + i, c0:c1]
            for j in range(w):
                v = np.float64(a[j])
                part[j] += v
                mx[j] = max(mx[j], abs(v))
            if (i + 1) % MEAN_CHUNK == 0 or i == rows - 1:
                total += part
                part[:] = 0.0
        for j in range(w):
            mean[c0 + j] = total[j] / rows
            big = max(big, mx[j])
    else:
        for i in range(rows):
            a = A[r0 + i, c0:c1]
            acc = 0.0
            part = 0.0
            mx = 0.0
            for j in range(w):
                v = np.float64(a[j])
                part += v
                mx = max(mx, abs(v))
                if (j + 1) % MEAN_CHUNK == 0:
                    acc += part
                    part = 0.0
            mean[r0 + i] = (acc + part) / w
            big = max(big, mx)
    center_block(A, r0, r1, c0, c1, mean, feat_axis, inv, out)
    return big


# Tile of the reduce-and-mirror kernel below: a 64 x 64 float64 tile and its mirror (64 KiB)
# stay in L2 while one is read by rows and the other written by columns.
SYM_TILE = 64


@nb.njit(**JIT)
def sum_lower_symmetric(P):
    """Sum the lower triangles of the partial Grams ``P[t]`` and mirror: ``S = sum_t tril(P[t])``
    with the strict lower part copied to the upper.

    Fixed summation order (``t = 0, 1, ...``), so results do not depend on thread timing.
    Tiled; about 3 ms at m = 1000 against 11 ms for the NumPy chain ``triu``/``+=``/copy.

    Parameters
    ----------
    P : ndarray of shape (T, m, m), C-contiguous float64
        Only the lower triangles (``i >= j``) are read.

    Returns
    -------
    S : ndarray of shape (m, m), C-contiguous float64, symmetric
    """
    T, m = P.shape[0], P.shape[1]
    S = np.empty((m, m))
    for i0 in range(0, m, SYM_TILE):
        i1 = min(m, i0 + SYM_TILE)
        for j0 in range(0, i1, SYM_TILE):
            for i in range(i0, i1):
                si = S[i]
                j1 = min(i + 1, j0 + SYM_TILE)
                for j in range(j0, j1):
                    si[j] = P[0, i, j]
                for t in range(1, T):
                    pi = P[t, i]
                    for j in range(j0, j1):
                        si[j] += pi[j]
            for j in range(j0, min(m, j0 + SYM_TILE)):
                sj = S[j]
                for i in range(max(i0, j + 1), i1):
                    sj[i] = S[i, j]
    return S
