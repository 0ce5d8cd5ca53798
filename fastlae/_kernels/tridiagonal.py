"""Shifted solves with a symmetric tridiagonal matrix: the preconditioner of ``eigh``'s
float64 refinement (:mod:`fastlae.solvers.eigh`)."""
import numba as nb
import numpy as np

from ._config import JIT


@nb.njit(**JIT)
def shifted_solves(d, e, shifts, B):
    """``B[j] = (T - shifts[j] I)^-1 B[j]`` for every row j of B, in place.

    ``T`` is the symmetric tridiagonal matrix with diagonal ``d`` and off-diagonal ``e``.
    Gaussian elimination with partial pivoting (LAPACK's ``dgtsv``, one right-hand side per
    shift). A pivot that is exactly zero (a shift equal to an eigenvalue of a leading block)
    is replaced by ``eps * max|T|``, as inverse iteration does: the solution is then large
    along that eigenvector, which the caller's projections remove.

    Parameters
    ----------
    d : ndarray of shape (n,), float64
    e : ndarray of shape (n - 1,), float64
    shifts : ndarray of shape (c,), float64
    B : ndarray of shape (c, n), float64, C-contiguous
        The right-hand sides as rows; overwritten by the solutions.
    """
    n = d.shape[0]
    scale = 0.0
    for i in range(n):
        scale = max(scale, abs(d[i]))
    for i in range(n - 1):
        scale = max(scale, abs(e[i]))
    tiny = np.finfo(np.float64).eps * max(scale, np.finfo(np.float64).tiny)
    diag = np.empty(n)
    up = np.empty(n)     # first superdiagonal of U
    up2 = np.empty(n)    # second superdiagonal of U (row interchanges fill it)
    for j in range(shifts.shape[0]):
        b = B[j]
        for i in range(n):
            diag[i] = d[i] - shifts[j]
        for i in range(n - 1):
            up[i] = e[i]
            up2[i] = 0.0
        up[n - 1] = 0.0
        up2[n - 1] = 0.0
        for i in range(n - 1):
            low = e[i]   # the subdiagonal entry below the pivot
            if abs(diag[i]) >= abs(low):
                if diag[i] == 0.0:
                    diag[i] = tiny
                fact = low / diag[i]
                diag[i + 1] -= fact * up[i]
                b[i + 1] -= fact * b[i]
            else:   # interchange rows i and i + 1
                fact = diag[i] / low
                diag[i] = low
                temp = diag[i + 1]
                diag[i + 1] = up[i] - fact * temp
                if i < n - 2:
                    up2[i] = up[i + 1]
                    up[i + 1] = -fact * up2[i]
                up[i] = temp
                temp = b[i]
                b[i] = b[i + 1]
                b[i + 1] = temp - fact * b[i + 1]
        if diag[n - 1] == 0.0:
            diag[n - 1] = tiny
        b[n - 1] /= diag[n - 1]
        if n > 1:
            b[n - 2] = (b[n - 2] - up[n - 2] * b[n - 1]) / diag[n - 2]
        for i in range(n - 3, -1, -1):
            b[i] = (b[i] - up[i] * b[i + 1] - up2[i] * b[i + 2]) / diag[i]
