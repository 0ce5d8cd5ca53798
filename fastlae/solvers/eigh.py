"""``"eigh"``: the LAPACK reference, ``scipy.linalg.eigh(G, subset_by_index=...)`` on the Gram."""
import numpy as np
from scipy.linalg import eigh

from ._common import Trained

DEFAULT_MAX_ITER = 1


def solve(prob, k, r, lam, lam_floor, tol, wtol, max_iter, rng, matrix_free, init=None):
    lam = lam_floor if lam is None else lam
    m = prob.m
    _, V = eigh(prob.C, subset_by_index=[m - k, m - 1], check_finite=False)
    return Trained(np.ascontiguousarray(V[:, ::-1]), 0, 0.0, lam)
