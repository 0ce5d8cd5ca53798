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
    W1, W2 : ndarray of shape (r, m) and (m, r), or None
        The trained encoder and decoder on the solvers' Gram, in units where the data are
        divided by ``Problem.scale``; None for ``eigh``.
    """

    basis: np.ndarray
    n_iter: int
    check: float
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


def top_eigenvalue(apply, W, steps=6):
    """A few block power steps from ``W``: the largest Ritz value, a lower bound on ``lambda_1``."""
    Q = W
    theta = 0.0
    for _ in range(steps):
        GQ = apply(Q)
        theta = float(np.linalg.eigvalsh(Q.T @ GQ)[-1])
        Q, _ = np.linalg.qr(GQ)
        Q = np.ascontiguousarray(Q)
    return max(theta, 1e-300)
