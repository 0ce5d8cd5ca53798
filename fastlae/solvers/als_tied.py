"""``"als_tied"``: tied exact decoder solves, ``W <- G W (W^T G W + lam I)^-1``.

A regularized subspace iteration: each update costs one product with the Gram matrix (or one
pass over the data in matrix-free mode) plus an r x r Cholesky solve, and the k-th direction
converges like ``(s_{r+1}^2 / s_k^2)`` per update, so a latent wider than k pays for itself.
"""
from .._kernels import als_tied as K
from .._kernels.monitor import new_history
from ._common import Trained, decoder_basis, random_orthonormal

DEFAULT_MAX_ITER = 1000
CHECK_EVERY = 1


def solve(prob, k, r, lam, lam_floor, tol, wtol, max_iter, rng, matrix_free, init=None,
          give_up=False):
    lam = lam_floor if lam is None else lam
    W = random_orthonormal(rng, prob.m, r) if init is None else init[1]
    # momentum only when the subspace alone is wanted (wtol == 0): its fixed points differ
    W, GW, n_iter, res, status = K.run(*prob.kernel_args(matrix_free), W, lam, k, tol, wtol,
                                       max_iter, CHECK_EVERY, wtol == 0.0, give_up,
                                       new_history())
    return Trained(decoder_basis(W), n_iter, res, lam, W.T.copy(), W, GW, status)
