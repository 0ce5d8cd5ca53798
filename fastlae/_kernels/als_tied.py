"""Tied alternating exact solve: ``W <- G W (W^T G W + lam I)^-1`` (a regularized subspace iteration).

With ``W1 = W^T`` and ``W2 = W`` this is the exact minimizer of the sum loss over the decoder
for a fixed encoder, applied to the tied pair; its fixed points are the Landscape Theorem's
``W = U_r (I - lam S_r^-2)^{1/2} O`` with an arbitrary rotation ``O``.

Momentum (heavy ball, as in the accelerated power method of Xu et al., AISTATS 2018): the
un-normalized recurrence ``Y+ = G Y - beta Y-`` written in the LAE's normalization is
``W+ = (G W - beta W- M-^-1) M^-1`` with ``M = W^T G W + lam I``. It damps every direction with
eigenvalue below ``e = 2 sqrt(beta)`` to a growth of ``e / 2`` per update and separates the
others more than the plain update does; with ``e = min(theta_r, 0.8 theta_k)`` (Ritz values on
the latent span, lower bounds on ``lambda_r`` and ``lambda_k``) the k-th direction converges
like ``e / (lambda_k + sqrt(lambda_k^2 - e^2))`` against the damped tail instead of
``lambda_{r+1} / lambda_k``.
Its fixed points are not the LAE's, so it is used only when the caller asks for the subspace
alone (``momentum=True``); convergence is judged on the iterate itself either way.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .ops import apply_gram
from .ritz import check


@nb.njit(**JIT)
def run(C, A, mean, feat_axis, inv, of_cols, block, buf, stop, W, lam, k, tol, wtol, max_iter,
        check_every, momentum):
    """Iterate from ``W`` until the certificate of :func:`ritz.check` is at most ``tol`` and the
    last relative update ``||W_new - W|| / ||W||`` is at most ``wtol`` (0 disables that test).

    Returns early, with whatever it has, when ``stop[0]`` becomes non-zero.
    Returns ``(W, GW, n_iter, res)``: the last iterate, the Gram matrix times it, the number
    of updates and the last check.
    """
    r = W.shape[1]
    eye = np.eye(r)
    res = np.inf
    it = 0
    upd = np.inf
    beta = 0.0
    W_prev = np.zeros_like(W)
    GW = np.zeros_like(W)
    Minv_prev = np.zeros((r, r))
    while stop[0] == 0:
        GW = apply_gram(C, A, mean, feat_axis, inv, of_cols, block, buf, stop, W)
        if it % check_every == 0 or it == max_iter:
            res, theta_k, theta_min = check(W, GW, k)
            if (res <= tol and upd <= wtol) or it == max_iter:
                break
            if momentum and it >= 2:
                # damp below min(theta_min, 0.8 theta_k): strictly below lambda_k, where heavy
                # ball never converges slower than the plain update, and at lambda_r when the
                # latent tail is separated from the wanted directions
                edge = min(theta_min, 0.8 * theta_k)
                beta = 0.25 * edge * edge
        M = np.dot(W.T, GW)
        M = 0.5 * (M + M.T)
        ridge = lam if lam > 0.0 else 1e-15 * np.trace(M) / r
        # span(GW M^-1) = span(GW) whatever the rounding in the inverse, so the subspace
        # iteration keeps its accuracy; an explicit r x r inverse and one product ran 5x faster
        # than two triangular solves with r x m right-hand sides
        Minv = np.ascontiguousarray(np.linalg.inv(M + ridge * eye))
        if beta > 0.0:
            Wn = np.dot(GW - beta * np.dot(W_prev, Minv_prev), Minv)
        else:
            Wn = np.dot(GW, Minv)
        upd = np.sqrt(np.sum((Wn - W) ** 2) / max(np.sum(W ** 2), 1e-300)) if wtol > 0 else 0.0
        W_prev = W
        Minv_prev = Minv
        W = Wn
        it += 1
    return W, GW, it, res
