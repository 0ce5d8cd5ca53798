"""The solvers' convergence check (Rayleigh-Ritz from products they already have) and its
small helpers; the final certificate is :mod:`fastlae._certify`.

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
    # (loops: slicing expressions compile for a while)
    T = np.empty((r, keep))
    for i in range(r):
        for j in range(keep):
            T[i, j] = VN[i, first + j] / np.sqrt(sig2[first + j])
    H0 = product(W, GW, True, False)
    H = product(T, product(sym(H0), T, False, False), True, False)
    theta, Z = np.linalg.eigh(sym(H))
    top = theta[keep - 1]
    if top <= 0.0:
        return 0.0, 0.0, 0.0, 1.0
    nk = min(k, keep)
    Zk = np.empty((keep, nk))
    for i in range(keep):
        for j in range(nk):
            Zk[i, j] = Z[i, keep - nk + j]
    Y = product(T, Zk, False, False)
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
