"""Kernels of sparse input (:mod:`fastlae._sparse`): the feature Gram and products with X.

Every kernel works on a span of rows (or columns) of its output, holds no GIL and is called
by one Python thread per core (:func:`fastlae._sparse.threaded`), so a pass runs on all cores
without Numba's parallel runtime. The inputs are the index arrays of the same matrix in CSR
(rows, sorted column indices) and CSC (columns, sorted row indices) form, float64 values.
"""
import numba as nb
import numpy as np

from ._config import JIT


@nb.njit(**JIT)
def gram_rows(c_ptr, c_rows, c_vals, r_ptr, r_cols, r_vals, j0, j1, stop, G):
    """Rows ``j0:j1`` of the upper triangle of ``X.T @ X`` into ``G`` (columns ``>= j``).

    Row j is ``sum_i X[i, j] X[i, :]`` over the non-zeros of column j (CSC), each row of X
    read from CSR from its first column ``>= j`` on, into a dense accumulator of length d that
    stays in cache (Gustavson's product with a dense accumulator): the work is the number of
    multiply-adds of the sparse product, and ``G`` is written once, row by row.
    """
    d = G.shape[1]
    acc = np.zeros(d)
    for j in range(j0, j1):
        if stop[0] != 0:
            return
        for p in range(c_ptr[j], c_ptr[j + 1]):
            i = c_rows[p]
            v = c_vals[p]
            lo, hi = r_ptr[i], r_ptr[i + 1]
            while lo < hi:   # the first entry of row i at a column >= j
                mid = (lo + hi) // 2
                if r_cols[mid] < j:
                    lo = mid + 1
                else:
                    hi = mid
            for q in range(lo, r_ptr[i + 1]):
                acc[r_cols[q]] += v * r_vals[q]
        for c in range(j, d):
            G[j, c] = acc[c]
            acc[c] = 0.0


@nb.njit(**JIT)
def mirror_rows(G, j0, j1):
    """Copy the upper triangle into the lower one for rows ``j0:j1`` of the lower part (in
    tiles, so both sides stay in cache)."""
    tile = 64
    d = G.shape[0]
    for a in range(j0, j1, tile):
        a1 = min(j1, a + tile)
        for b in range(0, a1, tile):
            b1 = min(d, b + tile)
            for i in range(a, a1):
                for c in range(b, min(b1, i)):
                    G[i, c] = G[c, i]


@nb.njit(**JIT)
def rows_times(ptr, idx, vals, V, r0, r1, stop, out):
    """``out[r0:r1] = X[r0:r1] @ V`` from CSR; ``V`` (d x b) and ``out`` C-contiguous, so
    each non-zero reads one contiguous row of b values of ``V`` (which stays in cache)."""
    b = V.shape[1]
    acc = np.empty(b)
    for i in range(r0, r1):
        if stop[0] != 0:
            return
        for c in range(b):
            acc[c] = 0.0
        for p in range(ptr[i], ptr[i + 1]):
            v = vals[p]
            row = V[idx[p]]
            for c in range(b):
                acc[c] += v * row[c]
        for c in range(b):
            out[i, c] = acc[c]


@nb.njit(**JIT)
def rows_transposed_times(ptr, idx, vals, T, r0, r1, stop, out):
    """``out += X[r0:r1].T @ T[r0:r1]`` from CSR: the rows of X and T are read in order and
    each non-zero adds a row of b values into ``out`` (d x b, small enough for cache); a
    gather from CSC would read T at random instead (10 times slower, measured)."""
    b = T.shape[1]
    for i in range(r0, r1):
        if stop[0] != 0:
            return
        row = T[i]
        for p in range(ptr[i], ptr[i + 1]):
            v = vals[p]
            dst = out[idx[p]]
            for c in range(b):
                dst[c] += v * row[c]
