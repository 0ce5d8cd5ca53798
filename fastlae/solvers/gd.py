"""``"gd"``: the paper's Algorithm 1, untied full-batch gradient descent on the sum loss.

The step is ``1 / (2 theta_1 + lam)`` with ``theta_1`` the top eigenvalue of the Gram matrix
estimated by a few block power steps (the sum loss's curvature near its minimum is bounded by
about twice ``s_1^2``); a backtracking guard halves it if the loss ever rises. The default
penalty is :func:`~fastlae.solvers._common.descent_lam`.
"""
import numpy as np

from .._kernels import gd as K
from ._common import Trained, decoder_basis, descent_lam, power_ritz, random_orthonormal

ITERATIVE = True
DEFAULT_MAX_ITER = 100_000
CHECK_EVERY = 10


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    if init is None:
        W2 = random_orthonormal(rng, op.m, r)
        W1 = np.ascontiguousarray(W2.T)
    else:
        W1, W2 = init
    theta = power_ritz(op, W2)
    lam = descent_lam(lam, theta, k, lam_floor)
    alpha = 1.0 / (2.0 * theta[0] + lam)
    W1, W2, n_iter, res, status, _ = K.run(op.kernel_op(), W1, W2, lam, alpha,
                                           k, tol, wtol, max_iter, CHECK_EVERY, patience,
                                           op.history("gd"))
    return Trained(decoder_basis(W2), n_iter, res, lam, W1, W2, status=status)
