"""Tied alternating exact solve: ``W <- G W (W^T G W + lam I)^-1`` (a regularized subspace iteration).

With ``W1 = W^T`` and ``W2 = W`` this is the exact minimizer of the sum loss over the decoder
for a fixed encoder, applied to the tied pair; its fixed points are the Landscape Theorem's
``W = U_r (I - lam S_r^-2)^{1/2} O`` with an arbitrary rotation ``O``.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .ops import apply_gram
from .ritz import check


@nb.njit(**JIT)
def run(C, A, mean, feat_axis, inv, of_cols, block, buf, W, lam, k, tol, wtol, max_iter,
        check_every):
    """Iterate from ``W`` until the certificate of :func:`ritz.check` is at most ``tol`` and the
    last relative update ``||W_new - W|| / ||W||`` is at most ``wtol`` (0 disables that test).

    Returns ``(W, n_iter, res)``: the last iterate, the number of updates, the last check.
    """
    r = W.shape[1]
    eye = np.eye(r)
    res = np.inf
    it = 0
    upd = np.inf
    while True:
        GW = apply_gram(C, A, mean, feat_axis, inv, of_cols, block, buf, W)
        if it % check_every == 0 or it == max_iter:
            res = check(W, GW, k)
            if (res <= tol and upd <= wtol) or it == max_iter:
                break
        M = np.dot(W.T, GW)
        M = 0.5 * (M + M.T)
        ridge = lam if lam > 0.0 else 1e-15 * np.trace(M) / r
        L = np.linalg.cholesky(M + ridge * eye)
        # W <- GW (L L^T)^-1, by two triangular solves on the transposed system
        Y = np.linalg.solve(L, GW.T)
        Wn = np.ascontiguousarray(np.linalg.solve(L.T, Y).T)
        upd = np.sqrt(np.sum((Wn - W) ** 2) / max(np.sum(W ** 2), 1e-300)) if wtol > 0 else 0.0
        W = Wn
        it += 1
    return W, it, res
