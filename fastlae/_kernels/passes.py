"""Kernels of the data passes: column statistics, block centering, and summing partial Grams."""
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

    Serial, like every kernel here (see :mod:`fastlae._kernels`); the pass only runs where the
    Gram is not formed in one pass (matrix-free, the exact-mean fallback).

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
        maxabs = 0.0
        total = 0.0
        for i in range(p):   # loops, not .max()/.sum(): each would compile for a while
            maxabs = max(maxabs, rowmax[i])
            total += rowsq[i]
        return mean, maxabs, total
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
    # merged by loops: array expressions would each compile a loop of their own
    maxabs = 0.0
    total = 0.0
    mean = np.zeros(q)
    for j in range(q):
        col = 0.0
        colsq = 0.0
        for t in range(nchunk):
            col += sums[t, j]
            colsq += sqs[t, j]
            maxabs = max(maxabs, maxs[t, j])
        mean[j] = col / p
        total += colsq
    return mean, maxabs, total


@nb.njit(**JIT)
def center_block(A, r0, r1, c0, c1, mean, feat_axis, inv, out):
    """``out[:] = (A[r0:r1, c0:c1] - mean) * inv`` in float64 (serial: runs between BLAS calls).

    ``out`` is C-contiguous of shape (r1 - r0, c1 - c0).
    """
    # Row views let LLVM see that ``o``, ``a`` and ``mm`` are distinct unit-stride vectors and
    # vectorize the loop, which indexing ``out[i, j]``/``A[r0 + i, c0 + j]`` directly does not.
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
def center_block_ones(A, r0, r1, c0, c1, shift, feat_axis, inv, out):
    """:func:`center_block` around ``shift`` plus a constant sample of ones, for one-pass Grams.

    With ``feat_axis == 1`` ``out`` has shape (r1 - r0, c1 - c0 + 1): the centered, scaled
    block and a last column of ones; with ``feat_axis == 0`` it has shape
    (r1 - r0 + 1, c1 - c0): the block and a last row of ones. The Gram of the block's feature
    vectors then carries the feature sums in its last row and column (computed by the same
    BLAS call, in float64), and the sample count in its corner: cheaper than accumulating the
    sums here, element by element.
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


@nb.njit(**JIT)
def center_block_sums(A, r0, r1, c0, c1, shift, feat_axis, inv, out, sums, sumsq):
    """:func:`center_block` around ``shift`` into ``out`` (float32 for the single-precision
    Gram of :mod:`fastlae._mixed`), adding each feature's sum and sum of squares of the
    shifted, scaled values, in float64, to ``sums`` and ``sumsq`` (indexed by feature).

    The block's own sums are formed first and then added (blocked summation). ``out`` has the
    block's shape.
    """
    w = c1 - c0
    if feat_axis == 1:
        sh = shift[c0:c1]
        s = np.zeros(w)
        ss = np.zeros(w)
        for i in range(r1 - r0):
            a = A[r0 + i, c0:c1]
            o = out[i]
            for j in range(w):
                x = (np.float64(a[j]) - sh[j]) * inv
                o[j] = x
                s[j] += x
                ss[j] += x * x
        for j in range(w):
            sums[c0 + j] += s[j]
            sumsq[c0 + j] += ss[j]
    else:
        for i in range(r1 - r0):
            a = A[r0 + i, c0:c1]
            o = out[i]
            si = shift[r0 + i]
            acc = 0.0
            sq = 0.0
            for j in range(w):
                x = (np.float64(a[j]) - si) * inv
                o[j] = x
                acc += x
                sq += x * x
            sums[r0 + i] += acc
            sumsq[r0 + i] += sq


# Samples per partial sum in center_block_exact: the means are sums of partial sums of this
# many samples (blocked summation bounds rounding growth, as STAT_CHUNKS does).
MEAN_CHUNK = 256


@nb.njit(**JIT)
def exact_means(A, r0, r1, c0, c1, mean, feat_axis):
    """The exact means of the features of a block that holds every sample of them, into
    ``mean``; returns the block's largest ``|a|``.

    With ``feat_axis == 1`` the block is the columns ``c0:c1`` of A (all rows, ``r0 = 0``,
    ``r1 = p``); with ``feat_axis == 0`` the rows ``r0:r1`` (all columns). Each mean is a sum
    of partial sums of ``MEAN_CHUNK`` samples. NaN and inf show in the means.
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
    return big


@nb.njit(**JIT)
def center_block_exact(A, r0, r1, c0, c1, mean, feat_axis, inv, out):
    """:func:`center_block` for blocks that hold every sample of their features: computes those
    features' exact means into ``mean`` first (:func:`exact_means`), then centers around them;
    returns the block's largest ``|a|``. ``out`` has the block's shape. The one-pass sample
    Gram (:func:`fastlae._gram.one_pass_samples`) uses it, so that no statistics pass has to
    precede the Gram.
    """
    big = exact_means(A, r0, r1, c0, c1, mean, feat_axis)
    center_block(A, r0, r1, c0, c1, mean, feat_axis, inv, out)
    return big


@nb.njit(**JIT)
def center_block_exact_sums(A, r0, r1, c0, c1, mean, feat_axis, inv, out, sumsq):
    """:func:`center_block_exact` into ``out`` (float32 for the single-precision sample Gram of
    :mod:`fastlae._mixed`), adding each sample's sum of squares of the centered, scaled values,
    in float64, to ``sumsq`` (indexed by sample): the sample Gram's exact diagonal."""
    big = exact_means(A, r0, r1, c0, c1, mean, feat_axis)
    w = c1 - c0
    if feat_axis == 1:   # rows of the block are samples
        mm = mean[c0:c1]
        for i in range(r1 - r0):
            a = A[r0 + i, c0:c1]
            o = out[i]
            acc = 0.0
            for j in range(w):
                x = (np.float64(a[j]) - mm[j]) * inv
                o[j] = x
                acc += x * x
            sumsq[r0 + i] += acc
    else:                # columns of the block are samples
        for i in range(r1 - r0):
            a = A[r0 + i, c0:c1]
            o = out[i]
            mi = mean[r0 + i]
            for j in range(w):
                x = (np.float64(a[j]) - mi) * inv
                o[j] = x
                sumsq[c0 + j] += x * x
    return big


# Tile of the reduce-and-mirror kernel below: a 64 x 64 float64 tile and its mirror (64 KiB)
# stay in L2 while one is read by rows and the other written by columns.
SYM_TILE = 64


@nb.njit(**JIT)
def fold_lower_symmetric(S, P):
    """``S = tril(S) + sum_t tril(P[t])``, mirrored, in place: the float64 partial Grams summed
    into the first one (``S``, which becomes the symmetric Gram) without a new m x m array.

    Fixed summation order (``S`` first, then ``t = 0, 1, ...``), so results do not depend on
    thread timing. Tiled, so that a tile and its mirror stay in cache. Writing into ``S``
    saves the copy of its lower triangle and the first touch of a fresh array's pages
    (measured, m = 4000, medians of 7, against the sum into a new array: S alone 0.019 s
    against 0.125 s, S and one partial 0.031 s against 0.139 s).

    Parameters
    ----------
    S : ndarray of shape (m, m), C-contiguous float64
        Only its lower triangle is read; all of it is written.
    P : ndarray of shape (T, m, m), float64 or float32 (T may be 0)
        Only the lower triangles are read.
    """
    T, m = P.shape[0], S.shape[0]
    for i0 in range(0, m, SYM_TILE):
        i1 = min(m, i0 + SYM_TILE)
        for j0 in range(0, i1, SYM_TILE):
            for i in range(i0, i1):
                si = S[i]
                j1 = min(i + 1, j0 + SYM_TILE)
                for t in range(T):
                    pi = P[t, i]
                    for j in range(j0, j1):
                        si[j] += pi[j]
            for j in range(j0, min(m, j0 + SYM_TILE)):
                sj = S[j]
                for i in range(max(i0, j + 1), i1):
                    sj[i] = S[i, j]


@nb.njit(**JIT)
def sum_lower_symmetric(P):
    """Sum the lower triangles of the partial Grams ``P[t]`` and mirror: ``S = sum_t tril(P[t])``
    with the strict lower part copied to the upper (:func:`fold_lower_symmetric` into a copy of
    the first).

    Fixed summation order (``t = 0, 1, ...``), so results do not depend on thread timing.

    Parameters
    ----------
    P : ndarray of shape (T, m, m), C-contiguous float64 or float32, T >= 1
        Only the lower triangles (``i >= j``) are read.

    Returns
    -------
    S : ndarray of shape (m, m), C-contiguous float64, symmetric
    """
    m = P.shape[1]
    S = np.empty((m, m))
    for i in range(m):
        si = S[i]
        pi = P[0, i]
        for j in range(i + 1):
            si[j] = pi[j]
    fold_lower_symmetric(S, P[1:])
    return S
