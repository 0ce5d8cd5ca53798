"""Rayleigh-Ritz extraction and the residual certificate, shared by every LAE solver.

The LAE's answer is the decoder's column space (Landscape Theorem: its left singular vectors are
the principal directions). :func:`check` measures how far that space is from an invariant
subspace using only products the solvers already computed, so a convergence test costs no
extra pass over the Gram matrix or the data.
"""
import numpy as np
import numba as nb

from ._config import JIT
from .blas import product

# Latent directions whose singular value is below this fraction of the largest are treated as
# collapsed (mapped to zero by the trained autoencoder) and left out of the cheap check. The
# check sees squared singular values, resolved to about eps relative to the largest, so the
# threshold stays well above sqrt(eps).
COLLAPSE = 1e-6


# Small matrix steps written as element loops and shared by the kernels: each broadcasting
# expression would compile a loop of its own in every kernel that uses it (seconds of a first
# call's compilation in all).

@nb.njit(**JIT)
def sym(M):
    """``(M + M.T) / 2`` of a square matrix, as a new C-contiguous array."""
    n = M.shape[0]
    S = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            S[i, j] = 0.5 * (M[i, j] + M[j, i])
    return S


@nb.njit(**JIT)
def scale_columns(Z, f):
    """``Z * f`` (column j of Z times ``f[j]``), as a new C-contiguous array."""
    m, r = Z.shape
    out = np.empty((m, r))
    for i in range(m):
        for j in range(r):
            out[i, j] = Z[i, j] * f[j]
    return out


@nb.njit(error_model="numpy", **JIT)
def divide_columns(Z, s):
    """``Z / s`` (column j of Z divided by ``s[j]``), as a new C-contiguous array; a zero
    ``s[j]`` gives inf or NaN, as NumPy's division does (callers check for collapse)."""
    m, r = Z.shape
    out = np.empty((m, r))
    for i in range(m):
        for j in range(r):
            out[i, j] = Z[i, j] / s[j]
    return out


@nb.njit(**JIT)
def check(W, GW, k):
    """Largest relative residual of the top ``k`` Ritz pairs on ``span(W)``.

    Works from the r x r matrices ``W^T W`` and ``W^T G W`` plus two m x r x r products, with no
    QR or SVD of the tall ``W`` (LAPACK's took 5-10x longer than the product ``G W`` at
    m = 2000, r = 100). Orthonormalizing through the eigenvectors of ``W^T W`` loses accuracy
    like ``eps * cond(W)^2``; the LAE iterates have singular values near 1 apart from
    collapsed directions, which are left out.

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
    res : float
        ``max_i ||G v_i - theta_i v_i|| / theta_1`` over the top ``min(k, rank)`` Ritz pairs,
        where ``rank`` counts the non-collapsed latent directions (inf when W is zero).
    theta_k : float
        The ``min(k, rank)``-th largest Ritz value (a lower bound on ``lambda_k``).
    theta_min : float
        The smallest Ritz value on the non-collapsed span (a lower bound on ``lambda_rank``).
    gap : float
        ``(theta_k - theta_{k+1}) / theta_1`` from the Ritz values on the span: the relative gap
        that bounds the top-k subspace's error by ``res / gap`` (Davis-Kahan). When the span
        holds no Ritz value beyond the k-th: ``theta_k / theta_1`` if some latent direction
        collapsed (the rest is numerically zero), else 1 (nothing is known beyond k).
    """
    N = product(W, W, True, False)
    sig2, VN = np.linalg.eigh(sym(N))
    r = sig2.shape[0]
    if sig2[r - 1] <= 0.0:
        return np.inf, 0.0, 0.0, 1.0
    first = 0
    while sig2[first] <= COLLAPSE * COLLAPSE * sig2[r - 1]:
        first += 1
    keep = r - first
    # P = W T with T = VN[:, kept] / sigma: orthonormal columns spanning the kept directions
    T = divide_columns(np.ascontiguousarray(VN[:, first:]), np.sqrt(sig2[first:]))
    H0 = product(W, GW, True, False)
    H = product(T, product(sym(H0), T, False, False), True, False)
    theta, Z = np.linalg.eigh(sym(H))
    top = theta[keep - 1]
    if top <= 0.0:
        return 0.0, 0.0, 0.0, 1.0
    nk = min(k, keep)
    Y = product(T, np.ascontiguousarray(Z[:, keep - nk:]), False, False)
    GY = product(GW, Y, False, False)
    WY = product(W, Y, False, False)
    sums = np.zeros(nk)
    for i in range(GY.shape[0]):   # the residuals G v - theta v, column norms
        for j in range(nk):
            e = GY[i, j] - WY[i, j] * theta[keep - nk + j]
            sums[j] += e * e
    worst = 0.0
    for j in range(nk):
        worst = max(worst, np.sqrt(sums[j]) / top)
    theta_k = max(theta[keep - nk], 0.0)
    if keep > nk:
        gap = (theta_k - max(theta[keep - nk - 1], 0.0)) / top
    elif keep < r:
        gap = theta_k / top
    else:
        gap = 1.0
    return worst, theta_k, max(theta[0], 0.0), gap


@nb.njit(**JIT)
def orthonormal(Y):
    """Q of the thin QR of ``Y`` (m x r), with the signs fixed by ``diag(R) >= 0``."""
    Q, R = np.linalg.qr(Y)
    m, r = Q.shape
    out = np.empty((m, r))
    for i in range(m):   # an element loop: a column-slice expression costs 2 s to compile
        for j in range(r):
            out[i, j] = -Q[i, j] if R[j, j] < 0.0 else Q[i, j]
    return out


@nb.njit(**JIT)
def left_singular(W):
    """All r left singular vectors of ``W`` (m x r): orthonormal even where W collapses."""
    P, _, _ = np.linalg.svd(W, full_matrices=False)
    return np.ascontiguousarray(P)


@nb.njit(**JIT)
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
    theta : ndarray of shape (k,), descending, clipped at 0
    vecs : ndarray of shape (m, k)
    res : ndarray of shape (k,)
        ``||G v_i - theta_i v_i|| / theta_1`` (absolute when ``theta_1 <= 0``).
    ritz : ndarray of shape (r,), descending, clipped at 0
        Every Ritz value on the span (the first k are ``theta``): the gaps of
        :func:`component_errors`.
    """
    w, Z = np.linalg.eigh(sym(product(basis, G_basis, True, False)))
    r = w.shape[0]
    theta = np.empty(k)
    Zk = np.empty((r, k))
    for j in range(k):   # the top k, descending
        theta[j] = w[r - 1 - j]
        for i in range(r):
            Zk[i, j] = Z[i, r - 1 - j]
    vecs = product(basis, Zk, False, False)
    R = product(G_basis, Zk, False, False)
    top = theta[0] if theta[0] > 0.0 else 1.0
    res = np.zeros(k)
    for i in range(R.shape[0]):
        for j in range(k):
            e = R[i, j] - vecs[i, j] * theta[j]
            res[j] += e * e
    for j in range(k):
        res[j] = np.sqrt(res[j]) / top
    return np.maximum(theta, 0.0), vecs, res, np.maximum(w[::-1], 0.0)


@nb.njit(**JIT)
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
    k = res.shape[0]
    r = ritz.shape[0]
    top = ritz[0] if ritz[0] > 0.0 else 1.0
    out = np.ones(k)
    for i in range(k):
        delta = np.inf
        if i > 0:
            delta = ritz[i - 1] - ritz[i]
        if i + 1 < r:
            delta = min(delta, ritz[i] - ritz[i + 1])
        elif not complete:
            continue
        if delta > 0.0 and delta < np.inf:
            out[i] = min(1.0, res[i] * top / delta)
        elif delta == np.inf:   # a single Ritz value holding the whole spectrum
            out[i] = 0.0 if res[i] == 0.0 else 1.0
        elif res[i] == 0.0:
            out[i] = 0.0
    return out


@nb.njit(**JIT)
def basis_from_decoder(W2, GW2):
    """``(P, G P, ok)`` for the left singular vectors ``P`` of ``W2`` from an existing ``G W2``.

    ``P = W2 V S^-1``, so ``G P = (G W2) V S^-1``: exact products up to an r x r transform whose
    rounding grows like ``cond(W2)``. ``ok`` is False when some latent direction collapsed
    (``s_min < COLLAPSE * s_max``), where that transform would amplify errors.
    """
    P, sv, Vt = np.linalg.svd(W2, full_matrices=False)
    ok = sv[sv.shape[0] - 1] >= COLLAPSE * sv[0]
    T = divide_columns(np.ascontiguousarray(Vt.T), sv)
    return np.ascontiguousarray(P), product(GW2, T, False, False), ok
