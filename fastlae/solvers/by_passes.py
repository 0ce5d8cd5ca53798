"""The tied alternating exact solve, one pass over the data per update, for data too wide for
a formed Gram (a stream or file with n_features in the tens of thousands, a wide sparse X).

Each update is ``W <- G W (W^T G W + lam I)^-1`` (:mod:`fastlae.solvers.als_tied`), with
``G W = Xc.T (Xc W)`` computed by one pass over row blocks (``data.apply``); memory is
O(n_features r) plus one block. The same pass certifies the previous span: the Ritz pairs of
``span(W)`` and their residuals ``||G v - theta v|| / theta_1`` come from ``G W`` itself, so
the answer is certified against the data (``PCAResult.certificate == "data"``) and stops as
soon as the top-k subspace bound ``res / gap`` meets ``tol``, like the in-memory solvers.
NumPy's BLAS does the products on each block; there is no kernel of its own.
"""
import numpy as np
from scipy.linalg import eigh, qr

from ._common import Trained, random_orthonormal

ITERATIVE = True
# Passes when max_iter is not given: every update reads all of the data again.
DEFAULT_MAX_ITER = 200


def default_latent(k, d):
    """A wider latent than in memory (``2 k + 30``): a pass costs O(n d r) arithmetic but
    reads all of X whatever r is, and the k-th direction converges like
    ``(lambda_{r+1} / lambda_k)`` per pass."""
    return min(d, 2 * k + 30)


def solve(data, k, r, lam, tol, max_iter, rng):
    """Run until the top-k Ritz pairs are certified to ``tol * min(1, gap)`` or ``max_iter``
    passes. Returns ``(Trained, theta, vecs, res, ritz)``: the trained weights and the
    certificate of the last span (k values, d x k vectors, k residuals, all Ritz values)."""
    Q = random_orthonormal(rng, data.d, r)
    it = 0
    while True:
        data.check_stop()
        GQ = data.apply(Q, tol)
        it += 1
        H = Q.T @ GQ
        theta, Z = eigh(0.5 * (H + H.T))
        theta, Z = theta[::-1], Z[:, ::-1]
        V, GV = Q @ Z, GQ @ Z
        top = theta[0] if theta[0] > 0 else 1.0
        res = np.linalg.norm(GV[:, :k] - V[:, :k] * theta[:k], axis=0) / top
        gap = (theta[k - 1] - theta[k]) / top if k < r else 1.0
        data.activity = [f"als_tied by passes: {it} updates, residual {res.max():.1e}", 0, 0]
        if res.max() <= tol * min(1.0, max(gap, 0.0)) or res.max() <= 1e-15 or it >= max_iter:
            break
        # the tied exact solve; its span is that of G Q, the next basis its orthonormal frame
        W = GQ @ np.linalg.inv(H + lam * np.eye(r))
        Q = qr(W, mode="economic")[0]
    W2 = V * np.sqrt(np.maximum(1.0 - lam / np.maximum(theta, lam), 0.0))
    trained = Trained(V, it, float(res.max()), lam, W2.T.copy(), W2, None, status=0)
    return trained, theta[:k], V[:, :k], res, theta
