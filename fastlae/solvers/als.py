"""``"als"``: untied alternating exact solves of the sum loss (the second-order scheme).

The Gram matrix is first reduced to tridiagonal form ``G = Q T Q^T`` (LAPACK ``dsytrd``, the same
O(m^3) reduction ``eigh`` starts with); the loss is invariant under that orthogonal change of
basis, so the autoencoder is trained on ``T``, where every exact solve costs O(m r^2), and the
weights are mapped back with ``Q`` (LAPACK ``dormqr``). See :mod:`fastlae._kernels.als`.
"""
import numpy as np
from scipy.linalg import lapack

from .._kernels import als as K
from ._common import Trained, decoder_basis, random_orthonormal

ITERATIVE = True
DEFAULT_MAX_ITER = 2000
CHECK_EVERY = 1


def _tridiagonalize(C):
    m = C.shape[0]
    c, d, e, tau, info = lapack.dsytrd(C, lower=1, lwork=max(1, 64 * m))
    if info != 0:  # pragma: no cover - LAPACK argument errors only
        raise RuntimeError(f"LAPACK dsytrd failed with info={info}")
    return c, d, e, tau


def _apply_q(c, tau, Y, trans=False):
    """``Q @ Y`` (or ``Q.T @ Y``) for the Q of ``dsytrd(lower=1)``: ``Q = diag(1, Q')`` with Q'
    a QR-type product."""
    m = c.shape[0]
    out = np.array(Y, dtype=np.float64, order="F")
    if m > 1:
        sub = np.asfortranarray(c[1:, : m - 1])
        tail = np.asfortranarray(out[1:])
        tail, _, info = lapack.dormqr("L", "T" if trans else "N", sub, tau, tail,
                                      lwork=max(1, 64 * max(tail.shape)), overwrite_c=1)
        if info != 0:  # pragma: no cover
            raise RuntimeError(f"LAPACK dormqr failed with info={info}")
        out[1:] = tail
    return np.ascontiguousarray(out)


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    lam = lam_floor if lam is None else lam
    # one reduction per problem: a continued run (init, see fastlae.pca) reuses it
    if "als" not in op.solver_cache:
        op.solver_cache["als"] = _tridiagonalize(op.C)
    c, d, e, tau = op.solver_cache["als"]
    d = np.ascontiguousarray(d)
    e = np.ascontiguousarray(e)
    if init is None:
        W2 = random_orthonormal(rng, op.m, r)
        W1 = np.ascontiguousarray(W2.T)
    else:  # continue from the given weights, in the tridiagonal basis
        W2 = _apply_q(c, tau, init[1], trans=True)
        W1 = np.ascontiguousarray(_apply_q(c, tau, np.ascontiguousarray(init[0].T), trans=True).T)
    W1, W2, n_iter, res, status = K.run(d, e, W1, W2, lam, k, tol, wtol, max_iter, CHECK_EVERY,
                                        op.stop, patience, op.history("als"))
    W2 = _apply_q(c, tau, W2)
    W1 = np.ascontiguousarray(_apply_q(c, tau, np.ascontiguousarray(W1.T)).T)
    return Trained(decoder_basis(W2), n_iter, res, lam, W1, W2, status=status)
