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
alone (``momentum=True``), and then each iterate is also rescaled to orthonormal columns (the
same span; see :func:`run`); convergence is judged on the iterate itself either way.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .blas import product
from .monitor import GO_ON, relative_update, verdict
from .operator import apply_gram
from .ritz import check, scale_columns, sym

# Eigenvalues of W^T G W at most NULL * m times the largest are rounding noise (see run).
NULL = 2.0 * np.finfo(np.float64).eps


@nb.njit(**JIT)
def run(op, W, lam, k, tol, floor, wtol, max_iter, check_every, momentum, patience, hist):
    """Iterate from ``W`` until :func:`monitor.verdict` stops it.

    The target is ``max(tol * min(1, gap), floor)`` with the relative gap at k from
    :func:`ritz.check`, so that the top-k subspace error bound ``res / gap`` reaches ``tol``
    where the gap allows (``floor``: where the operator's own rounding would stop it);
    ``res <= tol`` certifies. ``wtol > 0`` also asks for stationary weights (relative update at
    most ``wtol``). Returns early, with whatever it has, when ``op.stop[0]`` becomes non-zero.

    Latent directions whose ``W^T G W`` eigenvalue is at the rounding level of the largest
    (``NULL`` relative) are set to zero at once: they hold no variance the Gram can resolve,
    the Landscape Theorem collapses them for any penalty above that level, and the regularized
    inverse would otherwise amplify rounding in them by ``1 / lam`` every update.

    Returns ``(W, GW, n_iter, res, status)``: the last iterate, the Gram matrix times it, the
    number of updates, the last check and the verdict (``monitor.DONE``, ...).
    """
    m, r = W.shape
    res = np.inf
    it = np.int64(0)   # not a literal: a literal 0 compiles verdict a second time
    upd = np.inf
    beta = 0.0
    W_prev = np.zeros_like(W)
    GW = np.zeros_like(W)
    Minv_prev = np.zeros((r, r))
    status = GO_ON
    while op.stop[0] == 0:
        GW = apply_gram(op, W)
        if it % check_every == 0 or it == max_iter:
            res, theta_k, theta_min, gap = check(W, GW, k)
            status = verdict(hist, it, res, max(tol * min(1.0, gap), floor), tol, upd, wtol,
                             max_iter, patience)
            if status != GO_ON:
                break
            if momentum and it >= 2:
                # damp below min(theta_min, 0.8 theta_k): strictly below lambda_k, where heavy
                # ball never converges slower than the plain update, and at lambda_r when the
                # latent tail is separated from the wanted directions
                edge = min(theta_min, 0.8 * theta_k)
                beta = 0.25 * edge * edge
        M = product(W, GW, True, False)
        mu, Z = np.linalg.eigh(sym(M))
        ridge = lam if lam > 0.0 else 1e-15 * max(mu[r - 1], 0.0)
        # span(GW M^-1) = span(GW) whatever the rounding in the inverse, so the subspace
        # iteration keeps its accuracy with an explicit r x r inverse (one product, where
        # triangular solves would take r x m right-hand sides)
        null_level = NULL * m * max(mu[r - 1], 0.0)
        f = np.zeros(r)
        for j in range(r):
            if mu[j] > null_level:
                f[j] = 1.0 / (mu[j] + ridge)
        Minv = product(scale_columns(Z, f), np.ascontiguousarray(Z), False, True)
        if beta > 0.0:
            D = product(W_prev, Minv_prev, False, False)
            for i in range(m):   # GW - beta D, as a loop (cheaper to compile)
                for j in range(r):
                    D[i, j] = GW[i, j] - beta * D[i, j]
            Wn = product(D, Minv, False, False)
        else:
            Wn = product(GW, Minv, False, False)
        if momentum:
            # only the span is wanted: rescale to orthonormal columns (the zeroed ones stay
            # zero). The plain LAE step maps W = U D to U D^-1 when lam is tiny, a 2-cycle
            # whose ill-conditioned half costs the check its accuracy (eps cond(W)^2)
            N = product(Wn, Wn, True, False)
            sig2, P = np.linalg.eigh(sym(N))
            g = np.zeros(r)
            for j in range(r):
                if sig2[j] > NULL * NULL * sig2[r - 1]:
                    g[j] = 1.0 / np.sqrt(sig2[j])
            R = scale_columns(P, g)
            Wn = product(Wn, R, False, False)
            Minv = product(Minv, R, False, False)
        upd = relative_update(Wn, W) if wtol > 0 else 0.0
        W_prev = W
        Minv_prev = Minv
        W = Wn
        it += 1
    return W, GW, it, res, status
