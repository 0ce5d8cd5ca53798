"""The certificate every solver's answer ends with: a Rayleigh-Ritz step in feature space.

The solvers hand back a span (:class:`fastlae.solvers._common.Trained`); :func:`certify` turns
it into the top-k Ritz pairs of the feature Gram ``C = Xc.T @ Xc`` (scaled) and their relative
residuals ``||C v - theta v|| / theta_1``.
"""
import numpy as np

from ._kernels.ritz import basis_from_decoder, orthonormal, rayleigh_ritz


def certify(op, trained, k):
    """Final Rayleigh-Ritz in feature space, with its residual certificate.

    Costs one product with the feature Gram, or none when the solver already computed the
    Gram matrix times its last decoder (feature Gram, no collapsed latent direction).

    Returns
    -------
    theta : ndarray of shape (k,)
    vecs : ndarray of shape (d, k)
    res : ndarray of shape (k,)
    ritz : ndarray of shape (q,), every Ritz value on the span, descending
    """
    features = op.data.gram == "features"
    pair, rest = None, None
    if features and trained.GW2 is not None:
        P, GP, ok = basis_from_decoder(trained.W2, trained.GW2)
        pair = (P, GP) if ok else None
    if pair is None and not features and not op.matrix_free:
        found = feature_pair_from_samples(op, trained.basis, k)
        if found is not None:
            pair, rest = found[:2], found[2]
    if pair is None:
        basis = trained.basis
        if not features:
            basis = orthonormal(op.to_features(basis))
        pair = basis, op.apply_features(basis)
    theta, vecs, res, ritz = rayleigh_ritz(np.ascontiguousarray(pair[0]), pair[1], k)
    if rest is not None:   # the span's Ritz values below the k-th, from the sample Gram
        ritz = np.concatenate([ritz, np.minimum(rest, ritz[-1])])
    return theta, vecs, res, ritz


# feature_pair_from_samples keeps the sample Ritz directions with theta >= KEEP * theta_1
# (their feature vectors then carry rounding below eps / sqrt(KEEP)), and trusts the mapped
# basis only while it is orthonormal to ORTHO_TOL, as exact arithmetic makes it.
KEEP = 1e-8
ORTHO_TOL = 1e-8


def feature_pair_from_samples(op, U, k):
    """``(P, C P, rest)`` for the feature Gram C from the formed sample Gram G, by one pass
    over X.

    With ``Xs`` the centered, scaled data, ``G = Xs Xs^T`` and ``C = Xs^T Xs``. For the Ritz
    pairs ``(theta_i, u_i)`` of G on ``span(U)``, ``w_i = Xs^T u_i / sqrt(theta_i)`` are
    orthonormal, and ``C w_i = Xs^T (G u_i) / sqrt(theta_i)``: so one pass over X with the
    2k columns ``[u_i, G u_i] / sqrt(theta_i)`` of the top k pairs gives both the feature
    basis and its Gram product, where mapping the basis and then multiplying by C took two
    passes and three products. C's Ritz values on the mapped span of all of U equal G's on
    ``span(U)``: the ones below the k-th (``rest``, descending, for
    :func:`~fastlae._kernels.ritz.component_errors`) need no mapping. Returns None (the caller
    takes the two-pass route) when fewer than k directions are kept or the mapped basis is
    not orthonormal to ``ORTHO_TOL``.
    """
    GU = op.C @ U
    H = U.T @ GU
    w, Z = np.linalg.eigh(0.5 * (H + H.T))
    w, Z = w[::-1], Z[:, ::-1]
    q = int(np.sum(w >= KEEP * w[0])) if w[0] > 0.0 else 0
    if q < k:
        return None
    s = 1.0 / np.sqrt(w[:k])
    both = op.to_features(np.hstack([(U @ Z[:, :k]) * s, (GU @ Z[:, :k]) * s]))
    W, CW = both[:, :k], both[:, k:]
    M = W.T @ W
    if np.max(np.abs(M - np.eye(k))) > ORTHO_TOL:
        return None
    # Cholesky QR, exact enough for a basis this close to orthonormal: W = Q L^T, so
    # Q = W T and C Q = C W T with T = L^-T: a Householder QR of the long W costs far more
    T = np.linalg.inv(np.linalg.cholesky(M)).T
    return W @ T, CW @ T, np.maximum(w[k:q], 0.0)
