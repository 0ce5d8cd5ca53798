"""The tied alternating exact solve, one pass over the data per update, for data too wide for
a formed Gram (a stream or file with n_features in the tens of thousands, a wide sparse X).

Each update is ``W <- G W (W^T G W + lam I)^-1`` (:mod:`fastlae.solvers.als_tied`), with
``G W = Xc.T (Xc W)`` computed by one pass over row blocks (``data.times``); memory is
O(n_features r) plus one block. The same pass certifies the previous span: the Ritz pairs of
``span(W)`` and their residuals ``||G v - theta v|| / theta_1`` come from ``G W`` itself, so
the answer is certified against the data (``PCAResult.certificate == "data"``) and stops as
soon as the top-k subspace bound ``res / gap`` meets ``tol``, like the in-memory solvers.
NumPy's BLAS does the products on each block; there is no kernel of its own.
"""
import numpy as np
from scipy.linalg import eigh, qr

from .._kernels.als_tied import NULL
from ._common import Trained, random_orthonormal

ITERATIVE = True
# Passes when max_iter is not given: every update reads all of the data again.
DEFAULT_MAX_ITER = 200
# A certified run (residuals <= tol) stops when its residual has not halved in this many
# passes: the subspace target tol * gap cannot be met where the gap at k is at rounding level.
STALL = 10


def default_latent(k, d):
    """A wider latent than in memory (``2 k + 30``): a pass costs O(n d r) arithmetic but
    reads all of X whatever r is, and the k-th direction converges like
    ``(lambda_{r+1} / lambda_k)`` per pass."""
    return min(d, 2 * k + 30)


def solve(data, k, r, lam, tol, max_iter, rng, momentum=True):
    """Run until the top-k Ritz pairs are certified to ``tol * min(1, gap)`` or ``max_iter``
    passes. Returns ``(Trained, theta, vecs, res, ritz)``: the trained weights and the
    certificate of the last span (k values, d x k vectors, k residuals, all Ritz values).

    With ``momentum`` (the penalty left to fastlae: only the span is wanted) the update is
    the heavy-ball form of :func:`fastlae._kernels.als_tied.run` (damping below
    ``min(theta_r, 0.8 theta_k)``), each iterate rescaled to orthonormal columns; without it,
    the plain tied exact solve, whose iterates are orthonormalized for the Ritz step.
    """
    Q = random_orthonormal(rng, data.d, r)
    Q_prev, Minv_prev, beta = None, None, 0.0
    it, history = 0, []
    while True:
        data.check_stop()
        GQ = data.times(Q, tol)
        it += 1
        H = Q.T @ GQ
        mu, Z = eigh(0.5 * (H + H.T))
        theta, Zd = mu[::-1], Z[:, ::-1]
        V, GV = Q @ Zd, GQ @ Zd
        top = theta[0] if theta[0] > 0 else 1.0
        res = np.linalg.norm(GV[:, :k] - V[:, :k] * theta[:k], axis=0) / top
        gap = (theta[k - 1] - theta[k]) / top if k < r else 1.0
        data.activity = [f"als_tied by passes: {it} updates, residual {res.max():.1e}", 0, 0]
        history.append(float(res.max()))
        if res.max() <= tol * min(1.0, max(gap, 0.0)) or res.max() <= 1e-15 or it >= max_iter:
            break
        if res.max() <= tol and it > STALL and min(history[-STALL:]) > 0.5 * min(history[:-STALL]):
            break   # certified, and no longer improving: a gap at k too small to resolve
        # the tied exact solve W = G Q (Q^T G Q + lam I)^-1, directions at rounding level
        # of the largest set to zero (as in the kernel)
        ridge = lam if lam > 0.0 else 1e-15 * max(mu[-1], 0.0)
        keep = mu > NULL * data.d * max(mu[-1], 0.0)
        Minv = (Z * np.where(keep, 1.0 / (mu + ridge), 0.0)) @ Z.T
        if not momentum:
            Q = qr(GQ @ Minv, mode="economic")[0]
            continue
        W = (GQ - beta * (Q_prev @ Minv_prev)) @ Minv if beta > 0.0 else GQ @ Minv
        if it >= 2:   # damp below the tail, strictly below lambda_k
            edge = min(theta[r - 1], 0.8 * theta[k - 1])
            beta = 0.25 * edge * edge
        # rescale to orthonormal columns (zeroed directions stay zero)
        sig2, P = eigh(W.T @ W)
        R = P * np.where(sig2 > NULL * NULL * sig2[-1], 1.0 / np.sqrt(np.maximum(sig2, 1e-300)),
                         0.0)
        Q_prev, Minv_prev = Q, Minv @ R
        Q = W @ R
    W2 = V * np.sqrt(np.maximum(1.0 - lam / np.maximum(theta, lam), 0.0))
    trained = Trained(V, it, float(res.max()), lam, W2.T.copy(), W2, None, status=0)
    return trained, theta[:k], V[:, :k], res, theta
