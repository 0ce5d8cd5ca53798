"""Tied weights ``W1 = W^T``, ``W2 = W``: gradient descent on the tied sum loss (regularized Oja).

The update ``W += a (2 G W - G W (W^T W) - W (W^T G W) - 2 lam W)`` is Oja's subspace rule
when ``lam = 0`` and ``W^T W = I``. The step is halved whenever the loss would increase.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .monitor import GO_ON, relative_update, verdict
from .operator import apply_gram
from .ritz import check


@nb.njit(**JIT)
def _products(op, W, lam):
    P = apply_gram(op, W)
    B = np.dot(W.T, P)
    N = np.dot(W.T, W)
    loss = -2.0 * np.trace(B) + np.sum(B * N) + 2.0 * lam * np.trace(N)
    return P, B, N, loss


@nb.njit(**JIT)
def run(op, W, lam, alpha, k, tol, wtol, max_iter, check_every, patience, hist):
    """Tied descent from ``W`` until :func:`monitor.verdict` stops it (target
    ``tol * min(1, gap)``, see :func:`fastlae._kernels.als_tied.run`); returns
    ``(W, n_iter, res, status, alpha)``."""
    P, B, N, loss = _products(op, W, lam)
    res = np.inf
    it = np.int64(0)   # not a literal: a literal 0 compiles verdict a second time
    upd = np.inf
    status = GO_ON
    while op.stop[0] == 0:
        if it % check_every == 0 or it == max_iter:
            res, _, _, gap = check(W, P, k)
            status = verdict(hist, it, res, tol * min(1.0, gap), tol, upd, wtol, max_iter,
                             patience)
            if status != GO_ON:
                break
        step = 2.0 * P - np.dot(P, N) - np.dot(W, B) - 2.0 * lam * W
        while True:
            Wn = np.ascontiguousarray(W + alpha * step)
            Pn, Bn, Nn, lossn = _products(op, Wn, lam)
            if lossn <= loss + 1e-13 * abs(loss) or alpha < 1e-300:
                break
            alpha *= 0.5
        # the relative update, when the caller asks for a stationary point (wtol > 0)
        upd = relative_update(Wn, W) if wtol > 0 else 0.0
        W, P, B, N, loss = Wn, Pn, Bn, Nn, lossn
        it += 1
    return W, it, res, status, alpha
