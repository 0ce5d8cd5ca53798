"""``"als_tied"``: tied exact decoder solves, ``W <- G W (W^T G W + lam I)^-1``.

A regularized subspace iteration: each update costs one product with the Gram matrix (or one
pass over the data in matrix-free mode) plus an r x r Cholesky solve, and the k-th direction
converges like ``(s_{r+1}^2 / s_k^2)`` per update, so a latent wider than k pays for itself.
"""
from .._kernels import als_tied as K
from .._kernels.monitor import DONE
from .._kernels.ritz import check
from ._common import Trained, decoder_basis, random_orthonormal

ITERATIVE = True
DEFAULT_MAX_ITER = 1000
CHECK_EVERY = 1
# Matrix-free passes that skip centering (Operator.use_uncentered) run until the residual is
# this many times their rounding bound; centered passes take it from there to the target.
UNCENTERED_FLOOR = 10.0


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    lam = lam_floor if lam is None else lam
    W = random_orthonormal(rng, op.m, r) if init is None else init[1]
    momentum = wtol == 0.0   # only when the subspace alone is wanted: its fixed points differ
    n_iter = 0
    error = op.uncentered_error
    if error is not None:
        # uncentered passes while the residual is well above their rounding, then centered ones
        W, GW, n_iter, res, status = K.run(op.kernel_op(), W, lam, k, tol,
                                           UNCENTERED_FLOOR * error, wtol, max_iter,
                                           CHECK_EVERY, momentum, patience, op.history("als_tied"))
        if status != DONE or res <= tol * min(1.0, check(W, GW, k)[3]):   # no floor met
            return Trained(decoder_basis(W), n_iter, res, lam, W.T.copy(), W, GW, status)
    W, GW, more, res, status = K.run(op.kernel_op(centered=True), W, lam, k,
                                     tol, 0.0, wtol, max_iter - n_iter, CHECK_EVERY, momentum,
                                     patience, op.history("als_tied"))
    return Trained(decoder_basis(W), n_iter + more, res, lam, W.T.copy(), W, GW, status)
