"""Kernels of sparse input (:mod:`fastlae._sparse`): the feature Gram and products with X.

Every kernel works on a span of rows (or columns) of its output, holds no GIL and is called
by one Python thread per core (:func:`fastlae._sparse.threaded`), so a pass runs on all cores
without Numba's parallel runtime. The inputs are the index arrays of one matrix in CSR (rows, sorted
column indices, float64 values) and, for the Gram, its CSC index with the CSR position of
every entry.
"""
import numba as nb
import numpy as np

from ._config import JIT


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
