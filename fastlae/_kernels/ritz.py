"""Rayleigh-Ritz extraction and the residual certificate, shared by every LAE solver.

The LAE's answer is the decoder's column space (Landscape Theorem: its left singular vectors are
the principal directions). :func:`check` measures how far that space is from an invariant
subspace using only products the solvers already computed, so a convergence test costs no
extra pass over the Gram matrix or the data.
"""
import numpy as np
import numba as nb

from ._config import JIT

# Latent directions whose singular value is below this fraction of the largest are treated as
# collapsed (mapped to zero by the trained autoencoder) and left out of the cheap check.
COLLAPSE = 1e-7


@nb.njit(**JIT)
def check(W, GW, k):
    """Largest relative residual of the top ``k`` Ritz pairs on ``span(W)``.

    Parameters
    ----------
    W : ndarray of shape (m, r), float64
        The decoder (or the tied weight).
    GW : ndarray of shape (m, r), float64
        The Gram matrix times ``W``.
    k : int
        Number of wanted components.

    Returns
    -------
    float
        ``max_i ||G v_i - theta_i v_i|| / theta_1`` over the top ``min(k, rank)`` Ritz pairs
        (0 when W is zero), where ``rank`` counts the non-collapsed latent directions.
    """
    P, T, Qt = np.linalg.svd(W, full_matrices=False)
    if T[0] <= 0.0:
        return np.inf
    keep = 0
    while keep < T.shape[0] and T[keep] > COLLAPSE * T[0]:
        keep += 1
    P = np.ascontiguousarray(P[:, :keep])
    GP = np.dot(GW, np.ascontiguousarray(Qt[:keep].T)) / T[:keep]
    H = np.dot(P.T, GP)
    H = 0.5 * (H + H.T)
    theta, Z = np.linalg.eigh(H)
    top = theta[-1]
    if top <= 0.0:
        return 0.0
    R = np.dot(GP, Z) - np.dot(P, Z) * theta
    worst = 0.0
    for j in range(max(0, keep - k), keep):
        worst = max(worst, np.sqrt(np.sum(R[:, j] ** 2)) / top)
    return worst
