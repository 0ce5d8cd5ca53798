"""Pieces every LAE solver shares: initialization, step bounds, the solver interface."""
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .._kernels.monitor import DONE
from .._kernels.operator import power_ritz as _power_ritz


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
        divided by ``Data.scale``; None for ``eigh``.
    GW2 : ndarray of shape (m, r) or None
        The Gram matrix times ``W2`` when the solver computed it for its last iterate: the
        final certificate then needs no further product (see ``_certify.basis_from_decoder``).
    status : int
        How the iteration ended: a verdict of :mod:`fastlae._kernels.monitor` (``DONE`` for
        ``eigh``).
    rest : ndarray or None
        Ritz values below the decoder's on a larger span the solver kept (descending; block
        Krylov's stored columns): the certificate's error bounds read the next one.
    """

    basis: np.ndarray
    n_iter: int
    check: float
    lam: float
    W1: object = None
    W2: object = None
    GW2: object = None
    status: int = DONE
    rest: object = None


# The two factorizations below run once per call, outside the solver loops: SciPy's LAPACK
# (the library the kernels' BLAS comes from) rather than kernels, whose np.linalg.qr and svd
# took 1.5 s of a first call's compilation.

def orthonormal(Y):
    """Q of the thin QR of ``Y`` (m x r), with the signs fixed by ``diag(R) >= 0``, as a
    C-contiguous float64 array."""
    Q, R = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    return np.ascontiguousarray(np.where(np.diag(R) < 0.0, -Q, Q), dtype=np.float64)


def decoder_basis(W2):
    """Left singular vectors of the decoder, all r of them (orthonormal even where W2
    collapses)."""
    P = scipy.linalg.svd(W2, full_matrices=False, check_finite=False)[0]
    return np.ascontiguousarray(P, dtype=np.float64)


def random_orthonormal(rng, m, r):
    """An m x r matrix with orthonormal columns, from a Gaussian draw of ``rng``."""
    return orthonormal(rng.standard_normal((m, r)))


def power_ritz(op, W, steps=6):
    """Ritz values after a few block power steps from ``W``, descending (see
    :func:`fastlae._kernels.operator.power_ritz`)."""
    return _power_ritz(op.kernel_op(), np.ascontiguousarray(W), steps)


def descent_lam(lam, theta, k, lam_floor):
    """Default penalty of the gradient solvers: half the k-th Ritz value from :func:`power_ritz`.

    With a vanishing penalty the untied loss is nearly invariant under ``W2 -> W2 G^-1``,
    ``W1 -> G W1`` and gradient descent crawls along that valley; ``lam = theta_k / 2`` keeps the
    curvature of the transpose gap on the scale of the eigengap, and since ``theta_k <= s_k^2``
    no wanted direction collapses. When the data have fewer than k directions above the
    rounding level (``theta_i <= lam_floor``, rank deficiency) it is half the smallest Ritz
    value above it: the numerically null directions then collapse (Landscape Theorem) at a
    rate set by the data's own spectrum instead of crawling; ``lam_floor`` if there is none.
    An explicit ``lam`` is returned unchanged.
    """
    if lam is not None:
        return lam
    above = theta[:k][theta[:k] > lam_floor]
    return 0.5 * above[-1] if above.size else lam_floor
