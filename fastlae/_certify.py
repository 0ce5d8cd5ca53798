"""The certificate every solver's answer ends with: a Rayleigh-Ritz step in feature space.

The solvers hand back a span (:class:`fastlae.solvers._common.Trained`); :func:`certify` turns
it into the top-k Ritz pairs of the feature Gram ``C = Xc.T @ Xc`` (scaled) and their relative
residuals ``||C v - theta v|| / theta_1``; :func:`component_errors` bounds each component's
angle from them. These run once per call, so they are Python around the kernels' GEMM
(:func:`fastlae._kernels.blas.product`: SciPy's BLAS, whose threads the solvers just used;
NumPy's own OpenBLAS keeps its threads spinning after each threaded call, taking cores from
the next pass, so every product here goes through ``product``) and SciPy's LAPACK; as
kernels of their own they took 1.6 s of a first call's compilation.
"""
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ._kernels.blas import product
from ._kernels.ritz import COLLAPSE
from .solvers._common import orthonormal


@dataclass
class Pairs:
    """Certified Ritz pairs.

    Attributes
    ----------
    theta : ndarray of shape (k,), descending, clipped at 0
    vecs : ndarray of shape (m, k)
    res : ndarray of shape (k,)
        ``||G v_i - theta_i v_i|| / theta_1`` (absolute when ``theta_1 <= 0``).
    ritz : ndarray of shape (q,), descending, clipped at 0
        Every Ritz value on the span (the first k are ``theta``): the gaps of
        :func:`component_errors`.
    certificate : str
        What ``res`` was measured against (``PCAResult.certificate``).
    """

    theta: np.ndarray
    vecs: np.ndarray
    res: np.ndarray
    ritz: np.ndarray
    certificate: str = "gram"


def ritz_rotation(basis, G_basis):
    """``(w, Z)``: the Ritz values of G on ``span(basis)`` (orthonormal columns; ``G_basis =
    G @ basis``), descending, and the rotation ``Z`` of the basis to its Ritz vectors (``basis
    @ Z``). The one Rayleigh-Ritz step of the certificates and the refinement."""
    H = product(np.ascontiguousarray(basis), np.ascontiguousarray(G_basis), True, False)
    w, Z = np.linalg.eigh(0.5 * (H + H.T))
    return w[::-1], Z[:, ::-1]


def certify(op, trained, k, in_gram=False):
    """Final Rayleigh-Ritz in feature space, with its residual certificate.

    Costs one product with the feature Gram, or none when the solver already computed the
    Gram matrix times its last decoder (feature Gram, no collapsed latent direction). With
    ``in_gram`` the pairs are those of the solvers' own Gram, in its space (the sample Gram's
    too: no pass over X; mixed precision's check of its float32 solve).

    Returns
    -------
    Pairs
    """
    features = op.data.gram == "features" or in_gram
    pair = None
    if features and trained.GW2 is not None:
        P, GP, ok = basis_from_decoder(trained.W2, trained.GW2)
        pair = (P, GP) if ok else None
    if pair is None and not features and not op.matrix_free:
        found = feature_pair_from_samples(op, trained.basis, k)
        if found is not None:
            return found
    if pair is not None and trained.rest is not None:
        return ritz_with_rest(pair[0], pair[1], k, trained.rest)
    if pair is None:
        basis = trained.basis
        if in_gram:
            pair = basis, op.apply(basis)
        else:
            if not features:
                basis = orthonormal(op.to_features(basis))
            pair = basis, op.apply_features(basis)
    return rayleigh_ritz(pair[0], pair[1], k)


def ritz_with_rest(basis, G_basis, k, rest):
    """:func:`rayleigh_ritz` on a k-column span mapped from the sample Gram, with the Ritz
    values of the sample span below the k-th (``rest``, descending; capped at the k-th)
    appended: they equal the feature Gram's on the mapped span of all of it."""
    pairs = rayleigh_ritz(basis, G_basis, k)
    pairs.ritz = np.concatenate([pairs.ritz, np.minimum(rest, pairs.ritz[-1])])
    return pairs


def rayleigh_ritz(basis, G_basis, k):
    """Top-k Ritz pairs of G on ``span(basis)`` and their relative residuals.

    Parameters
    ----------
    basis : ndarray of shape (m, r), orthonormal columns
    G_basis : ndarray of shape (m, r)
        ``G @ basis``.
    k : int

    Returns
    -------
    Pairs
        With ``ritz`` of shape (r,).
    """
    basis, G_basis = np.ascontiguousarray(basis), np.ascontiguousarray(G_basis)
    w, Z = ritz_rotation(basis, G_basis)
    Zk = np.ascontiguousarray(Z[:, :k])
    theta = w[:k]
    vecs = product(basis, Zk, False, False)
    top = theta[0] if theta[0] > 0.0 else 1.0
    res = np.linalg.norm(product(G_basis, Zk, False, False) - vecs * theta, axis=0) / top
    return Pairs(np.maximum(theta, 0.0), vecs, res, np.maximum(w, 0.0))


def basis_from_decoder(W2, GW2):
    """``(P, G P, ok)`` for the left singular vectors ``P`` of ``W2`` from an existing ``G W2``.

    ``P = W2 V S^-1``, so ``G P = (G W2) V S^-1``: exact products up to an r x r transform whose
    rounding grows like ``cond(W2)``. ``ok`` is False when some latent direction collapsed
    (``s_min < COLLAPSE * s_max``), where that transform would amplify errors (``G P`` is then
    None).
    """
    P, sv, Vt = scipy.linalg.svd(W2, full_matrices=False, check_finite=False)
    if not sv[-1] >= COLLAPSE * sv[0]:
        return np.ascontiguousarray(P), None, False
    T = np.ascontiguousarray(Vt.T / sv)
    return np.ascontiguousarray(P), product(np.ascontiguousarray(GW2), T, False, False), True


def component_errors(res, ritz, complete):
    """Bounds on ``sin(v_i, u_i)``, the angle between each component and its eigenvector.

    ``sin <= ||G v_i - theta_i v_i|| / delta_i`` (Davis-Kahan for one vector) with ``delta_i``
    the distance from ``theta_i`` to the rest of the spectrum, estimated by the other Ritz
    values on the span (they bracket it once they have converged, which the latent width
    r > k arranges). Capped at 1.

    Parameters
    ----------
    res : ndarray of shape (k,)
        Relative residuals (``/ theta_1``).
    ritz : ndarray of shape (r,), descending
        All Ritz values; ``ritz[:k]`` belong to the components.
    complete : bool
        True when ``ritz`` holds the whole spectrum (r equals the Gram's size), so that
        nothing lies below ``ritz[r - 1]``; else, with ``r == k``, the last component's
        distance to the unknown rest is not known and its bound is 1.

    Returns
    -------
    ndarray of shape (k,)
    """
    k, r = res.shape[0], ritz.shape[0]
    top = ritz[0] if ritz[0] > 0.0 else 1.0
    below = np.full(k, np.inf)   # distance to the next Ritz value down, where there is one
    has_next = np.arange(k) + 1 < r
    below[has_next] = ritz[:k][has_next] - ritz[1:k + 1]
    above = np.full(k, np.inf)
    above[1:] = ritz[:k - 1] - ritz[1:k]
    delta = np.minimum(above, below)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.minimum(1.0, res * top / delta)
    out = np.ones(k)
    between = (delta > 0.0) & (delta < np.inf)
    out[between] = bound[between]
    out[~between & (res == 0.0)] = 0.0   # an exact eigenvector (or all the spectrum)
    if not complete:   # nothing known below the last Ritz value
        out[~has_next] = 1.0
    return out


# feature_pair_from_samples keeps the sample Ritz directions with theta >= KEEP * theta_1
# (their feature vectors then carry rounding below eps / sqrt(KEEP)), and trusts the mapped
# basis only while it is orthonormal to ORTHO_TOL, as exact arithmetic makes it.
KEEP = 1e-8
ORTHO_TOL = 1e-8


def feature_pair_from_samples(op, U, k, GU=None, rest=None):
    """The top-k :class:`Pairs` of the feature Gram C from the formed sample Gram G, by one pass
    over X.

    With ``Xs`` the centered, scaled data, ``G = Xs Xs^T`` and ``C = Xs^T Xs``. For the Ritz
    pairs ``(theta_i, u_i)`` of G on ``span(U)``, ``w_i = Xs^T u_i / sqrt(theta_i)`` are
    orthonormal, and ``C w_i = Xs^T (G u_i) / sqrt(theta_i)``: so one pass over X with the
    2k columns ``[u_i, G u_i] / sqrt(theta_i)`` of the top k pairs gives both the feature
    basis and its Gram product, where mapping the basis and then multiplying by C took two
    passes and three products. C's Ritz values on the mapped span of all of U equal G's on
    ``span(U)``: the ones below the k-th (descending, for :func:`component_errors`; ``rest``
    where the caller knows them better) need no mapping. Returns None (the caller
    takes the two-pass route) when fewer than k directions are kept or the mapped basis is
    not orthonormal to ``ORTHO_TOL``. ``GU``: ``G @ U`` where the formed Gram is not exact
    enough (mixed precision passes the products of its float64 pass over X).
    """
    U = np.ascontiguousarray(U)
    GU = product(op.C, U, False, False) if GU is None else np.ascontiguousarray(GU)
    w, Z = ritz_rotation(U, GU)
    q = int(np.sum(w >= KEEP * w[0])) if w[0] > 0.0 else 0
    if q < k:
        return None
    Zs = np.ascontiguousarray(Z[:, :k] / np.sqrt(w[:k]))
    both = op.to_features(np.hstack([product(U, Zs, False, False),
                                     product(GU, Zs, False, False)]))
    W, CW = np.ascontiguousarray(both[:, :k]), np.ascontiguousarray(both[:, k:])
    M = product(W, W, True, False)
    if np.max(np.abs(M - np.eye(k))) > ORTHO_TOL:
        return None
    # Cholesky QR, exact enough for a basis this close to orthonormal: W = Q L^T, so
    # Q = W T and C Q = C W T with T = L^-T: a Householder QR of the long W costs far more
    T = np.ascontiguousarray(np.linalg.inv(np.linalg.cholesky(M)).T)
    rest = np.maximum(w[k:q], 0.0) if rest is None else rest
    return ritz_with_rest(product(W, T, False, False), product(CW, T, False, False), k, rest)
