"""The paper's Algorithm 1: untied full-batch gradient descent on the sum loss.

``W1 -= a (W2^T (W2 W1 - I) G + lam W1)``; ``W2 -= a ((W2 W1 - I) G W1^T + lam W2)``, with
both gradients taken at the same point (as in the paper). The step is halved whenever the loss
would increase, so a too-optimistic curvature bound costs iterations, never divergence.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .monitor import GO_ON, relative_update, verdict
from .operator import apply_gram
from .ritz import check


@nb.njit(**JIT)
def _products(op, W1, W2, lam):
    r = W2.shape[1]
    V = np.empty((W2.shape[0], 2 * r))
    V[:, :r] = W1.T
    V[:, r:] = W2
    GV = apply_gram(op, V)
    P1 = np.ascontiguousarray(GV[:, :r])   # G W1^T
    P2 = np.ascontiguousarray(GV[:, r:])   # G W2
    Amat = np.dot(W2.T, W2)
    B = np.dot(W1, P1)                      # W1 G W1^T
    loss = (-2.0 * np.trace(np.dot(W1, P2)) + np.sum(Amat * B)
            + lam * (np.sum(W1 * W1) + np.sum(W2 * W2)))
    return P1, P2, Amat, B, loss


@nb.njit(**JIT)
def run(op, W1, W2, lam, alpha, k, tol, wtol, max_iter, check_every, patience, hist):
    """Gradient descent from ``(W1, W2)`` until :func:`monitor.verdict` stops it (target
    ``tol * min(1, gap)``, see :func:`fastlae._kernels.als_tied.run`); returns
    ``(W1, W2, n_iter, res, status, alpha)``.

    ``loss`` here omits the constant ``tr(G)``; it is used only to compare iterates.
    """
    P1, P2, Amat, B, loss = _products(op, W1, W2, lam)
    res = np.inf
    it = np.int64(0)   # not a literal: a literal 0 compiles verdict a second time
    upd = np.inf
    status = GO_ON
    while op.stop[0] == 0:
        if it % check_every == 0 or it == max_iter:
            res, _, _, gap = check(W2, P2, k)
            status = verdict(hist, it, res, tol * min(1.0, gap), tol, upd, wtol, max_iter,
                             patience)
            if status != GO_ON:
                break
        G1 = np.dot(Amat, P1.T) - P2.T + lam * W1
        G2 = np.dot(W2, B) - P1 + lam * W2
        while True:
            W1n = W1 - alpha * G1
            W2n = np.ascontiguousarray(W2 - alpha * G2)
            P1n, P2n, An, Bn, lossn = _products(op, W1n, W2n, lam)
            if lossn <= loss + 1e-13 * abs(loss) or alpha < 1e-300:
                break
            alpha *= 0.5
        # the relative update, when the caller asks for a stationary point (wtol > 0)
        upd = max(relative_update(W1n, W1), relative_update(W2n, W2)) if wtol > 0 else 0.0
        W1, W2, P1, P2, Amat, B, loss = W1n, W2n, P1n, P2n, An, Bn, lossn
        it += 1
    return W1, W2, it, res, status, alpha
