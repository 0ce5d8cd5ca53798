"""Dot products of many rows with a few: the products of block Krylov runs that OpenBLAS
takes slowly.

A GEMM ``C Q`` with C of many rows and Q of a few columns (a formed Gram times a Krylov
block, the stored basis times a new block) is, for OpenBLAS, a large matrix to pack in
blocks for a small one: it packs C at every call. :func:`rows_dot` reads each row of C once
and takes its dot products with all the columns of Q (held as the rows of ``Qt``, in cache)
at once. Measured: one product with the formed Gram on 2 cores
(:data:`fastlae._operator.DOT_ROWS_MIN`, ``scripts/bench_krylov.py --only products``) and
the basis products of a Krylov step on one thread (:data:`fastlae.solvers.krylov.DOT_ELEMENTS`).
"""
import numba as nb

from ._config import JIT_DOTS


@nb.njit(**JIT_DOTS)
def rows_dot(C, Qt, out, r0, r1):
    """``out[:, r0:r1] = Qt @ C[r0:r1].T``: the rows ``r0:r1`` of ``C Q``, transposed (threads
    that split a product call it on their own rows).

    Each output is the dot product of a row of C with a row of ``Qt``, in blocks of four
    rows of C by five of ``Qt`` (20 sums kept in vector registers, each value of C and of
    ``Qt`` loaded once per block): C is read from memory once, ``Qt`` from cache.

    Parameters
    ----------
    C : ndarray of shape (p, m), C-contiguous float64
    Qt : ndarray of shape (b, m), C-contiguous float64
    out : ndarray of shape (b, p), C-contiguous float64
    r0, r1 : int
        Rows of C, ``0 <= r0 <= r1 <= p``.
    """
    b, m = Qt.shape
    i = r0
    while i + 4 <= r1:
        c = 0
        while c + 5 <= b:
            a00 = a01 = a02 = a03 = a04 = 0.0
            a10 = a11 = a12 = a13 = a14 = 0.0
            a20 = a21 = a22 = a23 = a24 = 0.0
            a30 = a31 = a32 = a33 = a34 = 0.0
            for j in range(m):
                q0, q1, q2 = Qt[c, j], Qt[c + 1, j], Qt[c + 2, j]
                q3, q4 = Qt[c + 3, j], Qt[c + 4, j]
                x = C[i, j]
                a00 += x * q0; a01 += x * q1; a02 += x * q2  # noqa: E702
                a03 += x * q3; a04 += x * q4  # noqa: E702
                x = C[i + 1, j]
                a10 += x * q0; a11 += x * q1; a12 += x * q2  # noqa: E702
                a13 += x * q3; a14 += x * q4  # noqa: E702
                x = C[i + 2, j]
                a20 += x * q0; a21 += x * q1; a22 += x * q2  # noqa: E702
                a23 += x * q3; a24 += x * q4  # noqa: E702
                x = C[i + 3, j]
                a30 += x * q0; a31 += x * q1; a32 += x * q2  # noqa: E702
                a33 += x * q3; a34 += x * q4  # noqa: E702
            out[c, i], out[c, i + 1], out[c, i + 2], out[c, i + 3] = a00, a10, a20, a30
            out[c + 1, i], out[c + 1, i + 1], out[c + 1, i + 2] = a01, a11, a21
            out[c + 2, i], out[c + 2, i + 1], out[c + 2, i + 2] = a02, a12, a22
            out[c + 3, i], out[c + 3, i + 1], out[c + 3, i + 2] = a03, a13, a23
            out[c + 4, i], out[c + 4, i + 1], out[c + 4, i + 2] = a04, a14, a24
            out[c + 1, i + 3], out[c + 2, i + 3], out[c + 3, i + 3] = a31, a32, a33
            out[c + 4, i + 3] = a34
            c += 5
        while c < b:   # single columns
            a0 = a1 = a2 = a3 = 0.0
            for j in range(m):
                q = Qt[c, j]
                a0 += C[i, j] * q
                a1 += C[i + 1, j] * q
                a2 += C[i + 2, j] * q
                a3 += C[i + 3, j] * q
            out[c, i], out[c, i + 1], out[c, i + 2], out[c, i + 3] = a0, a1, a2, a3
            c += 1
        i += 4
    for r in range(i, r1):   # the last one to three rows
        for c in range(b):
            s = 0.0
            for j in range(m):
                s += C[r, j] * Qt[c, j]
            out[c, r] = s
