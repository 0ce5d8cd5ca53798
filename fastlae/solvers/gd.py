"""``"gd"``: the paper's Algorithm 1, untied full-batch gradient descent on the sum loss.

The step is ``1 / (2 theta_1 + lam)`` with ``theta_1`` the top eigenvalue of the Gram matrix
estimated by a few block power steps (the sum loss's curvature near its minimum is bounded by
about twice ``s_1^2``); a backtracking guard halves it if the loss ever rises.
"""
import numpy as np

from .._kernels import gd as K
from ._common import Trained, decoder_basis, random_orthonormal, top_eigenvalue

DEFAULT_MAX_ITER = 100_000
CHECK_EVERY = 10


def solve(prob, k, r, lam, tol, max_iter, rng, matrix_free, init=None):
    if init is None:
        W2 = random_orthonormal(rng, prob.m, r)
        W1 = np.ascontiguousarray(W2.T)
    else:
        W1, W2 = init
    theta1 = top_eigenvalue(lambda V: prob.apply(V, matrix_free), W2)
    alpha = 1.0 / (2.0 * theta1 + lam)
    W1, W2, n_iter, res, _ = K.run(*prob.kernel_args(matrix_free), W1, W2, lam, alpha, k, tol,
                                   max_iter, CHECK_EVERY)
    return Trained(decoder_basis(W2), n_iter, res, W1, W2)
