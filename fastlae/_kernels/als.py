"""Untied alternating exact solves of the sum loss, on a tridiagonal form of the Gram matrix.

The sum loss is invariant under an orthogonal change of feature basis, so the solver trains the
autoencoder on ``T = Q^T G Q`` (tridiagonal, from LAPACK ``sytrd``) and maps the weights back
with ``Q`` at the end. Each half-step is the exact minimizer of a convex sub-problem:

* decoder: ``W2 = T W1^T (W1 T W1^T + lam I)^-1`` (an r x r SPD solve);
* encoder: ``(W2^T W2) W1 T + lam W1 = W2^T T``, solved in the eigenbasis ``Qa`` of the r x r
  matrix ``W2^T W2 = Qa diag(a) Qa^T``: row i of ``Y = Qa^T W1`` solves the tridiagonal SPD
  system ``(a_i T + lam I) y_i = (Qa^T W2^T T)_i`` in O(m). Never a (r m) x (r m) Kronecker
  system.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .monitor import GO_ON, relative_update, verdict
from .ritz import check


@nb.njit(**JIT)
def tri_matmul(d, e, V):
    """``T @ V`` for the symmetric tridiagonal ``T`` with diagonal ``d`` and off-diagonal ``e``."""
    m = d.shape[0]
    out = np.empty(V.shape)
    for i in range(m):
        for j in range(V.shape[1]):
            s = d[i] * V[i, j]
            if i > 0:
                s += e[i - 1] * V[i - 1, j]
            if i < m - 1:
                s += e[i] * V[i + 1, j]
            out[i, j] = s
    return out


@nb.njit(**JIT)
def tri_solve_shifted(d, e, a, lam, b, work):
    """Solve ``(a T + lam I) y = b`` for SPD tridiagonal ``a T + lam I`` (LDL^T, no pivoting)."""
    m = d.shape[0]
    y = np.empty(m)
    diag = work
    diag[0] = a * d[0] + lam
    y[0] = b[0]
    for i in range(1, m):
        l = a * e[i - 1] / diag[i - 1]
        diag[i] = a * d[i] + lam - l * a * e[i - 1]
        y[i] = b[i] - l * y[i - 1]
    y[m - 1] = y[m - 1] / diag[m - 1]
    for i in range(m - 2, -1, -1):
        y[i] = (y[i] - a * e[i] * y[i + 1]) / diag[i]
    return y


@nb.njit(**JIT)
def run(d, e, W1, W2, lam, k, tol, wtol, max_iter, check_every, stop, patience, hist):
    """Alternate exact solves from ``(W1, W2)`` until :func:`monitor.verdict` stops them
    (target ``tol * min(1, gap)``, see :func:`fastlae._kernels.als_tied.run`); returns
    ``(W1, W2, n_iter, res, status)``."""
    m, r = W2.shape
    eye = np.eye(r)
    work = np.empty(m)
    res = np.inf
    it = np.int64(0)   # not a literal: a literal 0 compiles verdict a second time
    upd = np.inf
    status = GO_ON
    scale = max(np.abs(d).max(), 1e-300)
    lam_eff = lam if lam > 0.0 else 1e-15 * scale
    while stop[0] == 0:
        P2 = tri_matmul(d, e, W2)
        if it % check_every == 0 or it == max_iter:
            res, _, _, gap = check(W2, P2, k)
            status = verdict(hist, it, res, tol * min(1.0, gap), tol, upd, wtol, max_iter,
                             patience)
            if status != GO_ON:
                break
        # encoder step, in the eigenbasis of W2^T W2
        a, Qa = np.linalg.eigh(np.dot(W2.T, W2))
        Bm = np.dot(Qa.T, P2.T)
        Y = np.empty((r, m))
        for i in range(r):
            Y[i] = tri_solve_shifted(d, e, max(a[i], 0.0), lam_eff, Bm[i], work)
        W1 = np.dot(Qa, Y)
        # decoder step
        P1 = tri_matmul(d, e, np.ascontiguousarray(W1.T))
        M = np.dot(W1, P1)
        M = 0.5 * (M + M.T) + lam_eff * eye
        W2n = np.ascontiguousarray(np.linalg.solve(M, P1.T).T)
        upd = relative_update(W2n, W2) if wtol > 0 else 0.0
        W2 = W2n
        it += 1
    return W1, W2, it, res, status
