"""``"oja"``: tied weights ``W1 = W2^T``, gradient descent on the tied sum loss (regularized Oja).

Step ``1 / (3 theta_1 + 2 lam)`` from a power estimate of the top eigenvalue, with the same
backtracking guard as ``"gd"``.
"""
import numpy as np

from .._kernels import oja as K
from ._common import Trained, decoder_basis, descent_lam, power_ritz, random_orthonormal

ITERATIVE = True
DEFAULT_MAX_ITER = 100_000
CHECK_EVERY = 10


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    W = random_orthonormal(rng, op.m, r) if init is None else init[1]
    theta = power_ritz(op, W)
    lam = descent_lam(lam, theta, k, lam_floor)
    alpha = 1.0 / (3.0 * theta[0] + 2.0 * lam)
    W, n_iter, res, status, _ = K.run(op.kernel_op(), W, lam, alpha, k, tol,
                                      wtol, max_iter, CHECK_EVERY, patience, op.history("oja"))
    return Trained(decoder_basis(W), n_iter, res, lam, np.ascontiguousarray(W.T), W,
                   status=status)
