"""``"eigh"``: the LAPACK reference, ``scipy.linalg.eigh(G, subset_by_index=...)`` on the Gram.

It computes one eigenpair beyond the k wanted, or beyond ``r`` when ``r > k`` (the span that
mixed precision refines), when there is one, so that the error bound of the last component
sees its gap to the rest of the spectrum.
"""
import numpy as np
from scipy.linalg import eigh

from ._common import Trained

ITERATIVE = False
DEFAULT_MAX_ITER = 1


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    lam = lam_floor if lam is None else lam
    m = op.m
    q = min(max(k, r) + 1, m)
    _, V = eigh(op.C, subset_by_index=[m - q, m - 1], check_finite=False)
    return Trained(np.ascontiguousarray(V[:, ::-1]), 0, 0.0, lam)
