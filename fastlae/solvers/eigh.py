"""``"eigh"``: LAPACK on the Gram, ``scipy.linalg.eigh(G, subset_by_index=...)``.

It computes one eigenpair beyond the k wanted, or beyond ``r`` when ``r > k`` (the span that
mixed precision refines), when there is one, so that the error bound of the last component
sees its gap to the rest of the spectrum.

Beyond the cache LAPACK's eigh is bound by memory: its tridiagonal reduction (DSYTRD) reads
the trailing Gram once per column. On Grams of at least ``SINGLE_MIN`` rows, unless the call
asked for ``precision="double"`` (:attr:`fastlae._operator.Operator.single_reduction`), the
reduction runs in float32 (SSYTRD, half the bytes), and float64 refines its answer on the
float64 Gram (the mixed-precision scheme of Tsai, Luszczek and Dongarra, 2022):

1. the top ``q + EXTRA`` eigenvectors of the float32 tridiagonal ``T`` (in float64) are
   taken back to the Gram's space by the reduction's reflectors ``Q`` (SORMQR);
2. each step takes the Rayleigh-Ritz pairs ``(theta_i, v_i)`` of the float64 Gram on the span
   and their residuals ``r_i``, and adds the corrections ``Q (T - theta_i)^-1 Q^T r_i``: the
   float32 reduction, shifted, as the inverse of ``G - theta_i``. To first order the span
   then holds the float64 eigenvector, so each step multiplies the error by about
   ``eps32 ||G|| / gap`` (the gap from ``theta_i`` to the eigenvalues outside the span);
3. it stops at the residual block Krylov stops at (:func:`fastlae.solvers.krylov.target`,
   for ``MARGIN`` times the call's tol); where the steps stall before, it settles for
   ``SETTLE`` times the target for the call's tol, and short of that LAPACK's float64 eigh
   answers (a float32 reduction that cannot separate the wanted pairs).

Measured against LAPACK with ``python scripts/bench_eigh.py``: docs/solvers.md.
"""
import numpy as np
import scipy.linalg
from scipy.linalg import eigh
from scipy.linalg.lapack import sormqr, ssytrd, ssytrd_lwork

from .._kernels.blas import product
from .._kernels.ritz import sym
from .._kernels.tridiagonal import shifted_solves
from . import krylov
from ._common import Trained, orthonormal

ITERATIVE = False
DEFAULT_MAX_ITER = 1
# Rows from which the float32 reduction runs, and the most eigenvectors it refines per
# SINGLE_ROWS rows (each step reads the reflectors and multiplies the Gram with as many
# columns: about 1.2e-9 m^2 q seconds in all, against about half of eigh's time saved).
# Below, a Gram just formed is still in the cache for LAPACK's eigh: inside calls, 1500
# rows, k 10, eigh took 0.10-0.13 s either way; 2000 rows, 0.27 s against 0.20-0.23.
# Measured against LAPACK's eigh, 2 cores, on the zoo's Grams (scripts/bench_eigh.py):
# docs/solvers.md.
SINGLE_MIN = 2000
SINGLE_ROWS = 100
# Eigenpairs of the float32 tridiagonal beyond the q wanted: the steps converge like
# eps32 ||G|| / (theta_q - mu_{q+EXTRA+1}), the gap to the first one left out.
EXTRA = 6
# Refinement steps before the fall-back, and the factor each must reduce the residual by.
STEPS = 5
CONTRACTION = 0.1
# eigh is not iterative (no continued run where the certificate disagrees in its last
# digits, e.g. against the data): the refinement aims at the target for MARGIN times the
# call's tol, and where its steps stall short of that, it settles for SETTLE times the
# target for tol (a residual at rounding level of a k-th eigenvalue near float32's rounding
# of the largest: 2e-11 on the zoo's large_mean, whose gap at k is 3e-6).
MARGIN = 1e-2
SETTLE = 0.5
# Ritz values within this fraction of the largest of the last refined one form its cluster:
# a Rayleigh-Ritz step may rotate any of them into it, so all are corrected. (Elsewhere an
# uncorrected pair j mixes into a refined pair i only like res_j res_i / |theta_i - theta_j|,
# and Ritz values of one cluster differ by about res^2 after the float32 start.)
CLUSTER = 1e-8
# Corrections below this fraction of the largest after their projection off the span are
# dropped.
VANISHED = 1e-10
# The largest diagonal entry (which bounds every entry of a Gram) float32 holds without
# overflow, or without losing the small entries to underflow.
SINGLE_RANGE = (1e-30, 1e30)
# SORMQR's workspace per column: its largest block of reflectors (64), plus its T factor.
_ORMQR_BLOCK, _ORMQR_T = 64, 65 * 64


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0):
    lam = lam_floor if lam is None else lam
    m = op.m
    q = min(max(k, r) + 1, m)
    V = None
    if op.single_reduction and m >= SINGLE_MIN and q * SINGLE_ROWS <= m:
        V = refined(op.C, q, min(k, q - 1), tol)
    if V is None:
        _, V = eigh(op.C, subset_by_index=[m - q, m - 1], check_finite=False)
        V = V[:, ::-1]
    return Trained(np.ascontiguousarray(V), 0, 0.0, lam)


def refined(C, q, k, tol):
    """The top q eigenvectors of the symmetric ``C`` (descending), reduced in float32 and
    refined in float64 (module docstring); None where float32 cannot hold ``C`` or the
    refinement does not converge.

    Parameters
    ----------
    C : ndarray of shape (m, m), symmetric
    q : int
        Eigenvectors returned; the first ``q - 1`` are refined to :func:`krylov.target`.
    k : int
        The components wanted (at most ``q - 1``): the target's gap is taken after them.
    tol : float
        The call's tolerance: the refinement aims at :func:`krylov.target` for ``MARGIN *
        tol`` and settles, where it stalls, for ``SETTLE`` times the target for ``tol``.

    Returns
    -------
    ndarray of shape (m, q) or None
    """
    C = np.ascontiguousarray(C, dtype=np.float64)   # the kernels' products take C order
    m = C.shape[0]
    top = float(np.max(np.diagonal(C)))
    if not SINGLE_RANGE[0] < top < SINGLE_RANGE[1]:
        return None
    # C is symmetric: its transpose is the Fortran-ordered view LAPACK reads without a copy
    F, d, e, tau, info = ssytrd(np.asfortranarray(C.T, dtype=np.float32), lower=1,
                                lwork=int(ssytrd_lwork(m, lower=1)[0]), overwrite_a=1)
    if info != 0:
        return None
    d, e = d.astype(np.float64), e.astype(np.float64)
    p = min(m, q + EXTRA)
    _, Y = scipy.linalg.eigh_tridiagonal(d, e, select="i", select_range=(m - p, m - 1),
                                         check_finite=False)
    Y = np.ascontiguousarray(Y[:, ::-1])
    H = np.asfortranarray(F[1:, :m - 1])   # the reflectors of Q = diag(1, H_1 ... H_{m-1})
    del F   # its 4 m^2 bytes: LAPACK's float64 eigh copies 8 m^2 of them
    V = orthonormal(_reflect(H, tau, Y, "N"))
    GV = product(C, V, False, False)
    last = np.inf
    for step in range(STEPS + 1):   # returns at STEPS at the latest
        theta, Z = np.linalg.eigh(sym(product(V, GV, True, False)))
        Z = np.ascontiguousarray(Z[:, ::-1][:, :p])
        theta = theta[::-1][:p]
        V, GV = product(V, Z, False, False), product(GV, Z, False, False)
        # the pairs refined, and with them those equal to the last one (a cluster straddling
        # it, which the Rayleigh-Ritz step may rotate into it): their residuals
        c = q - 1 + int(np.count_nonzero(theta[q - 1:] >= theta[q - 2] - CLUSTER * theta[0]))
        R = GV[:, :c] - V[:, :c] * theta[:c]
        res = np.linalg.norm(R[:, :q - 1], axis=0) / (theta[0] if theta[0] > 0.0 else 1.0)
        worst, settled = (max(float(res[:k].max()) / krylov.target(theta, k, t),
                              float(res.max()) / krylov.target(theta, q - 1, t))
                          for t in (MARGIN * tol, tol))
        if worst <= 1.0:
            return V[:, :q]
        if step == STEPS or not worst <= CONTRACTION * last:
            return V[:, :q] if settled <= SETTLE else None
        last = worst
        # the corrections without the tridiagonal's top eigenvectors (the span V already
        # holds), before the shifted solves (which would amplify them by up to 1 / eps32)
        # and after (what their rounding leaves): float32's rounding in the reflectors then
        # stays relative to the corrections, not to v_i
        B = np.ascontiguousarray(_reflect(H, tau, R, "T").T)
        B -= product(product(B, Y, False, False), Y, False, True)
        shifted_solves(d, e, np.ascontiguousarray(theta[:c]), B)
        B -= product(product(B, Y, False, False), Y, False, True)
        T = _reflect(H, tau, np.ascontiguousarray(B.T), "N")
        for _ in range(2):
            T -= product(V, product(V, T, True, False), False, False)
        # a correction that vanished (its pair already at rounding level) has no direction:
        # its QR column would be a coordinate vector, not orthogonal to V
        norms = np.linalg.norm(T, axis=0)
        T = orthonormal(np.ascontiguousarray(T[:, norms > VANISHED * norms.max()]))
        V = np.ascontiguousarray(np.hstack([V, T]))
        GV = np.ascontiguousarray(np.hstack([GV, product(C, T, False, False)]))


def _reflect(H, tau, Z, trans):
    """``Q Z`` (``trans="N"``) or ``Q^T Z`` (``"T"``) for SSYTRD's ``Q = diag(1, H_1 ...
    H_{m-1})`` (lower), in float32; float64 C-contiguous result."""
    Z32 = np.asfortranarray(Z, dtype=np.float32)
    c = Z.shape[1]
    Z32[1:], _, info = sormqr("L", trans, H, tau, Z32[1:],
                              lwork=c * _ORMQR_BLOCK + _ORMQR_T, overwrite_c=1)
    return np.ascontiguousarray(Z32, dtype=np.float64)
