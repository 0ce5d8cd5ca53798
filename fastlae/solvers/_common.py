"""Pieces every LAE solver shares: initialization, step bounds, the solver interface."""
from dataclasses import dataclass

import numpy as np


@dataclass
class Trained:
    """What a solver hands back to :func:`fastlae.pca`.

    Attributes
    ----------
    basis : ndarray of shape (m, r), float64
        Orthonormal columns spanning the answer: the decoder's left singular vectors for the
        LAE solvers (Landscape Theorem), eigenvectors for ``eigh``.
    n_iter : int
        Updates performed (0 for ``eigh``).
    check : float
        The solver's own last convergence measure (see :func:`fastlae._kernels.ritz.check`).
    lam : float
        The penalty the solver trained with (on the scaled Gram).
    W1, W2 : ndarray of shape (r, m) and (m, r), or None
        The trained encoder and decoder on the solvers' Gram, in units where the data are
        divided by ``Problem.scale``; None for ``eigh``.
    """

    basis: np.ndarray
    n_iter: int
    check: float
    lam: float
    W1: object = None
    W2: object = None


def decoder_basis(W2):
    """Left singular vectors of the decoder, all r of them (orthonormal even where W2 collapses)."""
    P, _, _ = np.linalg.svd(W2, full_matrices=False)
    return P


def random_orthonormal(rng, m, r):
    """An m x r matrix with orthonormal columns, from a Gaussian draw of ``rng``."""
    Q, R = np.linalg.qr(rng.standard_normal((m, r)))
    return np.ascontiguousarray(Q * np.sign(np.diag(R) + (np.diag(R) == 0)))


def power_ritz(apply, W, steps=6):
    """Ritz values after a few block power steps from ``W``, descending.

    By interlacing, ``theta_i <= lambda_i`` for every i: a safe lower bound on the Gram's
    eigenvalues, used for step sizes and default penalties.
    """
    Q = W
    theta = np.zeros(W.shape[1])
    for _ in range(steps):
        GQ = apply(Q)
        theta = np.linalg.eigvalsh(Q.T @ GQ)[::-1]
        Q, _ = np.linalg.qr(GQ)
        Q = np.ascontiguousarray(Q)
    return np.maximum(theta, 0.0)


def descent_lam(lam, theta, k, lam_floor):
    """Default penalty of the gradient solvers: half the k-th Ritz value from :func:`power_ritz`.

    With a vanishing penalty the untied loss is nearly invariant under ``W2 -> W2 G^-1``,
    ``W1 -> G W1`` and gradient descent crawls along that valley; ``lam = theta_k / 2`` keeps the
    curvature of the transpose gap on the scale of the eigengap, and since ``theta_k <= s_k^2``
    no wanted direction collapses. ``lam_floor`` applies when ``theta_k`` is zero (rank
    deficiency). An explicit ``lam`` is returned unchanged.
    """
    if lam is not None:
        return lam
    return max(0.5 * theta[k - 1], lam_floor)
