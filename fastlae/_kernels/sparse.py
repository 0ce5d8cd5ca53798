"""Kernels of sparse input (:mod:`fastlae._sparse`): the feature Gram and products with X.

Every kernel works on a span of rows (or columns) of its output, holds no GIL and is called
by one Python thread per core (:func:`fastlae._sparse.threaded`), so a pass runs on all cores
without Numba's parallel runtime. The inputs are the index arrays of one matrix in CSR (rows,
column indices, sorted for the Gram's kernels, float64 values) and, for the Gram, either the
same entries split into bands of columns (:func:`split_bands`, read by :func:`gram_tile`) or
its CSC index with the CSR position of every entry (:func:`column_positions`, read by
:func:`gram_rows`).
"""
import numba as nb
import numpy as np

from ._config import JIT
from ._simd import add4, fma4


@nb.njit(**JIT)
def column_positions(ptr, cols, d, c_ptr, c_rows, c_pos):
    """The CSC index of a CSR matrix with, for each entry, its position in the CSR arrays.

    ``c_ptr`` (d + 1), ``c_rows`` and ``c_pos`` (nnz) are filled: column j holds the rows
    ``c_rows[c_ptr[j]:c_ptr[j + 1]]`` in increasing order (a counting sort by column over the
    rows in order) and ``c_pos`` the CSR position of each of those entries.
    """
    c_ptr[:] = 0
    for p in range(ptr[-1]):
        c_ptr[cols[p] + 1] += 1
    for j in range(d):
        c_ptr[j + 1] += c_ptr[j]
    nxt = c_ptr[:-1].copy()
    for i in range(ptr.shape[0] - 1):
        for p in range(ptr[i], ptr[i + 1]):
            j = cols[p]
            q = nxt[j]
            c_rows[q] = i
            c_pos[q] = p
            nxt[j] = q + 1


@nb.njit(**JIT)
def gram_rows(c_ptr, c_rows, c_pos, r_ptr, r_cols, r_vals, j0, j1, stop, G):
    """Rows ``j0:j1`` of the upper triangle of ``X.T @ X`` into ``G`` (columns ``>= j``).

    Row j is ``sum_i X[i, j] X[i, :]`` over the non-zeros of column j (CSC index with CSR
    positions, :func:`column_positions`), each row of X read from CSR from the entry
    ``X[i, j]`` itself on (its position is stored: no search), into a dense accumulator of
    length d that stays in cache (Gustavson's product with a dense accumulator): the work is
    the number of multiply-adds of the sparse product, and ``G`` is written once, row by row.
    """
    d = G.shape[1]
    acc = np.zeros(d)
    for j in range(j0, j1):
        if stop[0] != 0:
            return
        for p in range(c_ptr[j], c_ptr[j + 1]):
            q0 = c_pos[p]
            v = r_vals[q0]
            for q in range(q0, r_ptr[c_rows[p] + 1]):
                acc[r_cols[q]] += v * r_vals[q]
        for c in range(j, d):
            G[j, c] = acc[c]
            acc[c] = 0.0


@nb.njit(**JIT)
def band_counts(ptr, cols, width, r0, r1, counts):
    """``counts[k]``: the entries of rows ``r0:r1`` in the band k of columns (``[k width,
    (k + 1) width)``)."""
    counts[:] = 0
    for p in range(ptr[r0], ptr[r1]):
        counts[cols[p] // width] += 1


@nb.njit(**JIT)
def split_bands(ptr, cols, vals, width, r0, r1, nxt, bptr, bcols, bvals):
    """Rows ``r0:r1`` of a CSR matrix split into bands of ``width`` columns, each band a CSR
    matrix: band k's entries of row i are ``bcols[bptr[k, i]:bptr[k, i + 1]]`` (columns
    within the band, in the row's order) and ``bvals``; ``nxt[k]`` is where the rows' entries
    of band k go (from :func:`band_counts`: the bands lie one after another). ``bptr`` has
    shape (bands, n + 1); its last column is the caller's."""
    bands = bptr.shape[0]
    for i in range(r0, r1):
        for k in range(bands):
            bptr[k, i] = nxt[k]
        for p in range(ptr[i], ptr[i + 1]):
            k = cols[p] // width
            q = nxt[k]
            bcols[q] = cols[p] - k * width
            bvals[q] = vals[p]
            nxt[k] = q + 1


@nb.njit(**JIT)
def gram_tile(bptr, bcols, bvals, width, a, b, stop, G):
    """Add the tile ``(a, b)`` (``a <= b``) of ``X.T @ X`` into ``G`` (d x d, zero there
    before): ``G[a w + s, b w + t] += X[i, a w + s] X[i, b w + t]`` over the rows of bands a
    and b (:func:`split_bands`, ``w = width``); on a diagonal tile only ``s <= t`` (the upper
    triangle). Both bands are read in order and the tile (``width^2`` floats) stays in cache:
    the work is the multiply-adds plus one visit per row, where the column-wise
    :func:`gram_rows` reads each row of X from memory once per entry.
    """
    n, d = bptr.shape[1] - 1, G.shape[1]
    flat = G.reshape(-1)
    base = a * width * d + b * width
    pa, pb = bptr[a], bptr[b]
    diagonal = a == b
    for i in range(n):
        if i % 4096 == 0 and stop[0] != 0:
            return
        b1 = pb[i + 1]
        for p in range(pa[i], pa[i + 1]):
            v = bvals[p]
            row = base + bcols[p] * d
            for q in range(p if diagonal else pb[i], b1):
                flat[row + bcols[q]] += v * bvals[q]


@nb.njit(**JIT)
def symmetrize_rows(G, s, u, w, j0, j1):
    """Rows ``j0:j1`` of ``G <- s G - u w^T - w u^T`` from its upper triangle, written to
    both triangles: each entry ``(c, i)``, ``c <= i``, is finished once, by row i (in tiles,
    so both sides stay in cache). Threads over disjoint row ranges write disjoint entries.
    ``w = u / 2`` subtracts ``u u^T`` exactly as one product would."""
    tile = 64
    d = G.shape[0]
    for t0 in range(j0, j1, tile):
        t1 = min(j1, t0 + tile)
        for c0 in range(0, t1, tile):
            c1 = min(d, c0 + tile)
            for i in range(t0, t1):
                ui, wi = u[i], w[i]
                for c in range(c0, min(c1, i + 1)):
                    v = s * G[c, i] - (u[c] * wi + w[c] * ui)
                    G[c, i] = v
                    G[i, c] = v


@nb.njit(**JIT)
def column_sums(ptr, idx, vals, r0, r1, total, count, last, flags):
    """Add each column's sum over rows ``r0:r1`` to ``total`` and its stored entries to
    ``count`` (both d, float64); ``flags[0]`` is raised to the largest magnitude of the
    values and ``flags[1]`` set to 1 where a row stores a column twice (duplicate entries,
    which SciPy's products add up: the column statistics and the Gram of the entries would
    not). ``last`` (d, int64) holds the last row that stored each column (-1 at first)."""
    biggest = flags[0]
    twice = False
    for i in range(r0, r1):
        for p in range(ptr[i], ptr[i + 1]):
            x = vals[p]
            j = idx[p]
            total[j] += x
            count[j] += 1.0
            biggest = max(biggest, abs(x))
            twice |= last[j] == i
            last[j] = i
    flags[0] = biggest
    if twice:
        flags[1] = 1.0


@nb.njit(**JIT)
def centered_squares(ptr, idx, vals, ms, inv, r0, r1, out):
    """Add ``(x inv - ms[j])^2`` over the stored entries of rows ``r0:r1`` to ``out[j]``."""
    for p in range(ptr[r0], ptr[r1]):
        j = idx[p]
        dev = vals[p] * inv - ms[j]
        out[j] += dev * dev


@nb.njit(inline="always", **JIT)
def _row_times(ptr, idx, vals, V, b, i, pre, ui, c, t):
    """``t = pre x_i V - ui c`` for row i of a CSR X (V of shape (d, b), C-contiguous): four
    columns at a time summed in one vector register (:mod:`fastlae._kernels._simd`), over
    positions and indices taken as unsigned (no wraparound checks); inlined into its callers
    (a call per row cost up to 1.8x on rows of few entries). A loop over b columns in memory
    carried every sum through a store and a load, 1.5-2.7x slower at b = 1-4; indexing V by
    (row, column) instead of a raveled V, 1.1-1.4x faster at b = 1-20 (measured, one
    thread)."""
    p0, p1 = nb.uint64(ptr[i]), nb.uint64(ptr[i + 1])
    whole = b - b % 4
    for c0 in range(0, whole, 4):
        acc = (0.0, 0.0, 0.0, 0.0)
        for p in range(p0, p1):
            acc = fma4(acc, vals[p], V, nb.uint64(idx[p]), c0)
        for q in range(4):
            t[c0 + q] = pre * acc[q] - ui * c[c0 + q]
    for col in range(whole, b):
        a0 = 0.0
        for p in range(p0, p1):
            a0 += vals[p] * V[nb.uint64(idx[p]), col]
        t[col] = pre * a0 - ui * c[col]


@nb.njit(inline="always", **JIT)
def _row_add(ptr, idx, vals, t, b, i, out):
    """``out += x_i^T t`` for row i of a CSR X (out of shape (d, b), C-contiguous): four
    columns at a time as one vector (:mod:`fastlae._kernels._simd`; a loop over b columns
    was 1.3-1.8x slower than four scalars at b = 1-4, measured)."""
    p0, p1 = nb.uint64(ptr[i]), nb.uint64(ptr[i + 1])
    whole = b - b % 4
    for c0 in range(0, whole, 4):
        quad = (t[c0], t[c0 + 1], t[c0 + 2], t[c0 + 3])
        for p in range(p0, p1):
            add4(out, nb.uint64(idx[p]), c0, vals[p], quad)
    for col in range(whole, b):
        t0 = t[col]
        for p in range(p0, p1):
            out[nb.uint64(idx[p]), col] += vals[p] * t0


@nb.njit(**JIT)
def rows_times(ptr, idx, vals, V, pre, u, s, r0, r1, stop, out):
    """``out[r0:r1] = pre X[r0:r1] @ V - u[r0:r1] s^T`` from CSR (a rank-one correction, such
    as the centering, in the same pass; u of shape (rows,), s of shape (b,)); ``V`` (d x b)
    and ``out`` C-contiguous, so each non-zero reads one contiguous row of b values of ``V``
    (which stays in cache)."""
    b = V.shape[1]
    for i in range(r0, r1):
        if stop[0] != 0:
            return
        _row_times(ptr, idx, vals, V, b, i, pre, u[i], s, out[i])


@nb.njit(**JIT)
def rows_transposed_times(ptr, idx, vals, T, r0, r1, stop, out):
    """``out += X[r0:r1].T @ T[r0:r1]`` from CSR (``out`` C-contiguous): the rows of X and T
    are read in order and each non-zero adds a row of b values into ``out`` (d x b, small
    enough for cache); a gather from CSC would read T at random instead (10 times slower,
    measured)."""
    b = T.shape[1]
    for i in range(r0, r1):
        if stop[0] != 0:
            return
        _row_add(ptr, idx, vals, T[i], b, i, out)


@nb.njit(**JIT)
def rows_gram_times(ptr, idx, vals, V, pre, u, c, r0, r1, stop, out, wsum):
    """Both products of ``X.T (X V)`` in one pass over rows ``r0:r1`` of a CSR X: each row's
    ``t = pre x_i V - u[i] c`` is added at once as ``out += x_i^T t`` (out: d x b,
    C-contiguous) and ``wsum += u[i] t``, while the row's entries are still in cache: the
    non-zeros are read once per product instead of twice. ``V`` (d x b) C-contiguous, ``u``
    of shape (rows,), ``c`` of shape (b,)."""
    b = V.shape[1]
    if b == 4:   # the block of the runs by passes: t stays in registers
        _rows_gram_times4(ptr, idx, vals, V, pre, u, c, r0, r1, stop, out, wsum)
        return
    t = np.empty(b)
    for i in range(r0, r1):
        if stop[0] != 0:
            return
        ui = u[i]
        _row_times(ptr, idx, vals, V, b, i, pre, ui, c, t)
        for col in range(b):
            wsum[col] += ui * t[col]
        _row_add(ptr, idx, vals, t, b, i, out)


@nb.njit(inline="always", **JIT)
def _rows_gram_times4(ptr, idx, vals, V, pre, u, c, r0, r1, stop, out, wsum):
    """:func:`rows_gram_times` at four columns, each row's t and the sums in registers
    (200000 x 5000 at 0.5%, one thread: 14.5-16.6 ms against 17.9-18.6 through the general
    helpers, which keep t in memory; the same results)."""
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    w0 = w1 = w2 = w3 = 0.0
    for i in range(r0, r1):
        if stop[0] != 0:
            break
        ui = u[i]
        p0, p1 = nb.uint64(ptr[i]), nb.uint64(ptr[i + 1])
        acc = (0.0, 0.0, 0.0, 0.0)
        for p in range(p0, p1):
            acc = fma4(acc, vals[p], V, nb.uint64(idx[p]), 0)
        t = (pre * acc[0] - ui * c0, pre * acc[1] - ui * c1, pre * acc[2] - ui * c2,
             pre * acc[3] - ui * c3)
        w0 += ui * t[0]
        w1 += ui * t[1]
        w2 += ui * t[2]
        w3 += ui * t[3]
        for p in range(p0, p1):
            add4(out, nb.uint64(idx[p]), 0, vals[p], t)
    wsum[0] += w0
    wsum[1] += w1
    wsum[2] += w2
    wsum[3] += w3
