"""Mixed precision: a float32 Gram, refined to float64 accuracy by one float64 pass over X.

The feature Gram is described here; wide data take the same steps on the sample Gram (blocks
of whole features, exact means and diagonal), and :func:`feature_pairs` carries the refined
answer to feature space by one more pass (docs/solvers.md, "Wide data").

Forming the feature Gram costs ``n d^2`` multiply-adds; in float32 (SSYRK) they run at about
twice the float64 rate and move half the bytes. The float32 Gram ``Ch = C + E`` has an error
``||E||`` of about ``1e-7 ||C||``, so the autoencoder trained on it spans the top directions
only to about ``||E|| / gap``. :func:`refine` restores float64 accuracy:

1. One float64 pass over X computes ``Y = C V`` exactly on the trained span ``V`` (``r``
   columns, ``r >= k`` chosen at a gap of the float32 spectrum). Rayleigh-Ritz on it gives
   Ritz pairs with exact residuals: when they are at most ``tol`` the answer is certified
   against the data.
2. Otherwise the Gram corrected on the span, ``Ct = Ch + EV V^T + V EV^T - V (V^T EV) V^T``
   with ``EV = Y - Ch V``, equals C on ``span(V)`` and differs from it by ``(I-P) E (I-P)``
   (``P = V V^T``). Its top eigenpairs are found in memory by Jacobi-Davidson corrections:
   the correction equations ``(theta_i - (I-P) Ct (I-P)) x_i = r_i`` are solved by conjugate
   gradients with products by ``Ct`` (GEMMs on the d x d matrix; no pass over X). This is
   iterative refinement of eigenpairs in the spirit of Ogita and Aishima: float64 residuals
   from the data, the correction solved in the float32 Gram's terms. The error left is about
   ``(||E|| / gap)^2`` relative, far below ``tol``.
3. The residuals against ``Ct`` are exact; what ``Ct`` does not see is
   ``||(I-P) E (I-P) v_i|| <= ||E|| ||(I-P) v_i||``. ``||E||`` is estimated by
   ``UNSEEN * ||E V||_2`` (measured exactly by the pass) and added to each residual: the
   certificate ``"corrected"``. When that sum exceeds ``tol`` another pass runs from the new
   vectors.

The refinement applies where the float32 Gram resolves the answer: the k-th eigenvalue at
least ``LEVEL_MIN`` of the largest and a gap ``theta_k - theta_{r+1}`` for some ``r`` in
``[k, q)`` of at least ``GAP_MIN`` (both relative to the largest, well above float32's
rounding), and, after the pass, ``||E V|| <= FACTOR_MAX * gap``; otherwise :func:`refine`
returns None and the caller forms the float64 Gram. :func:`probe` looks at the first rows
before the float32 pass, so that data whose k-th eigenvalue is out of float32's reach do not
pay for both Grams, and so that ``"auto"`` leaves data flat around k (noise-like data, a flat
cluster across k) in float64.
"""
import time
from dataclasses import dataclass

import numpy as np

from . import _blas
from . import _validation as V
from ._blas import blas_threads
from ._certify import Pairs, feature_pair_from_samples, ritz_rotation
from ._data import ArrayData, pow2_at_least
from ._gram import form_gram
from ._kernels.operator import span_centered, span_uncentered
from ._operator import Operator, span_block
from ._threads import pass_workers, run_blocks
from ._train import Solved, budget_of, latent_width, train
from .solvers import REGISTRY, default_latent, single_saves

# The probe (see probe): the first PROBE_ROWS samples, PROBE_STEPS block power steps. Mixed
# precision is tried when its k-th Ritz value is at least PROBE_MARGIN * LEVEL_MIN of its
# largest, and "auto" takes it only when the values still fall after the k-th, by at least
# TAIL_DROP of it over the next k + 10 (see falls).
PROBE_ROWS = 600
PROBE_STEPS = 4
TAIL_DROP = 0.35
PROBE_MARGIN = 10.0
# The tolerance the solver trains to on the float32 Gram (about its own accuracy).
SOLVE_TOL = 1e-7
# When the refinement applies (relative to the largest eigenvalue, see the module text).
LEVEL_MIN = 1e-5
GAP_MIN = 1e-5
GAP_WANT = 0.02     # see refinement_width
FACTOR_MAX = 0.1
UNSEEN = 4.0
MAX_PASSES = 3
# The float64 pass: each thread takes about SPANS_PER_WORKER spans of blocks
# (fastlae._operator.span_block), one compiled call each (a Python call per block held the
# GIL often enough to stall 16 threads).
SPANS_PER_WORKER = 4
INNER_MAX = 4       # Jacobi-Davidson steps per pass
CG_MAX = 60         # conjugate-gradient steps per correction


@dataclass
class Refined:
    """What :func:`refine` hands back: Ritz pairs as :func:`fastlae._certify.certify` gives
    them (``ritz``: the Ritz values on the refined span and, last, the float32 Gram's next
    one), what certifies them, the float64 passes it took, the products of the Gram with
    ``vecs`` (exact with certificate ``"data"``, else those of the corrected Gram), and the
    part of ``res`` that estimates what the corrected Gram does not see (``unseen``, relative
    to ``theta[0]``; zero with ``"data"``)."""

    theta: np.ndarray
    vecs: np.ndarray
    res: np.ndarray
    ritz: np.ndarray
    certificate: str
    passes: int
    products: np.ndarray
    unseen: np.ndarray


def probe(data, k, rng):
    """The top ``min(m, 2k + 10)`` Ritz values (descending, relative to the largest) of the
    first ``PROBE_ROWS`` samples (of the first ``PROBE_ROWS`` features for the sample Gram):
    the data's spectrum as seen before the float32 pass.

    The samples are centered around their own mean (features around their exact means), in
    float64, and get ``PROBE_STEPS`` block power steps (15 ms at d = 1000). Data whose k-th
    value lies below float32's resolution (numerical rank below k, a spectrum spanning many
    orders of magnitude: see :func:`resolvable`) then go straight to the float64 Gram
    instead of paying for both. A
    cluster across k is not seen by a sample of rows (sampling spreads it): :func:`refine`
    declines those later. Returns None for data with no variance or non-finite values (the
    float64 path handles and reports them).
    """
    A, m = data.A, data.m
    # B (s x m): the Gram's spectrum is B^T B's; samples as rows, or (sample Gram) features
    if data.gram == "features":
        s = min(data.n, PROBE_ROWS)
        B = np.array(A[:s] if data.feat_axis == 1 else A[:, :s].T, dtype=np.float64)
    else:
        s = min(data.d, PROBE_ROWS)
        B = np.array(A[:, :s].T if data.feat_axis == 1 else A[:s], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        B -= B.mean(axis=0) if data.gram == "features" else B.mean(axis=1)[:, None]
        big = float(np.max(np.abs(B)))
        if not np.isfinite(big) or big == 0.0:
            return None
        B *= 1.0 / pow2_at_least(big)
    q = min(m, s, 2 * k + 10)
    if q < k:
        return None
    Q = np.linalg.qr(rng.standard_normal((m, q)))[0]
    for _ in range(PROBE_STEPS):
        Q = np.linalg.qr(B.T @ (B @ Q))[0]
    BQ = B @ Q
    theta = np.linalg.eigvalsh(BQ.T @ BQ)[::-1]
    return theta / theta[0] if theta[0] > 0.0 else None


def resolvable(theta, k):
    """Whether the probe's values ``theta`` (:func:`probe`) put the k-th eigenvalue within the
    float32 Gram's reach: at least ``PROBE_MARGIN * LEVEL_MIN`` of the largest."""
    return theta is not None and theta[k - 1] >= PROBE_MARGIN * LEVEL_MIN


def falls(theta, k):
    """Whether the probe's values still fall after the k-th, by at least ``TAIL_DROP`` of it
    down to the last one: where ``"auto"`` expects mixed precision to pay.

    Over a flat stretch around k the refinement needs a wide span and many correction steps
    and costs about what the float32 pass saves (noise-like data: the probe's values at the
    edge of its noise bulk drop by 0.19-0.33), or cannot resolve the answer at all (a flat
    cluster across k: 0.20-0.29); fast-decaying, low-rank and clustered spectra drop by
    0.8-1, a slow power law by 0.40-0.54 (the zoo at 3000 x 120 to 100000 x 1000).
    """
    return theta is not None and theta[k - 1] - theta[-1] >= TAIL_DROP * theta[k - 1]


def exact_product(data, V, uncentered=False):
    """The solvers' Gram times ``V`` in float64, ``Xs.T @ Xs @ V`` (``Xs @ Xs.T @ V`` for the
    sample Gram; ``Xs`` the centered, scaled X): one pass over X.

    The pass is split into spans of samples (of features for the sample Gram), run on
    :func:`fastlae._threads.run_blocks`' threads (about ``SPANS_PER_WORKER`` each), each
    thread adding its spans' parts (:func:`~fastlae._kernels.operator.span_centered`: blocks
    of :func:`fastlae._operator.span_block` centered in float64 and multiplied twice while
    they stay in L2, no GIL held) to its own
    partial sum; the partials are added in a fixed order. With ``uncentered`` (float64 data
    with features as columns whose mean is small enough, see :func:`uncentered_pass`) the
    products take views of X's rows and the mean is taken out of their results.

    Parameters
    ----------
    data : Data
        With its mean set.
    V : ndarray of shape (m, r), float64
        ``m = data.m``.
    uncentered : bool

    Returns
    -------
    Y : ndarray of shape (m, r), float64
    """
    A, d = data.A, data.m
    axis = data.gram_axis        # the Gram's rows run along this axis of A
    span = A.shape[1 - axis]
    block = span_block(d, axis)
    workers = pass_workers(data, span, block)
    chunk = block * max(1, -(-span // (SPANS_PER_WORKER * workers * block)))
    V = np.ascontiguousarray(V, dtype=np.float64)
    state = {}

    def start(workers, chunk):
        state["Y"] = np.zeros((workers, d, V.shape[1]))
        state["bufs"] = [None if uncentered else np.empty(block * d) for _ in range(workers)]
        data.activity.start("refinement pass", -(-span // chunk))

    def body(t, s0, s1):
        if uncentered:
            part = span_uncentered(A, data.mean, data.inv, block, data.stop, V, s0, s1)
        else:
            part = span_centered(A, data.mean, data.feat_axis, data.inv, axis, block,
                                 state["bufs"][t], data.stop, V, s0, s1)
        state["Y"][t] += part
        data.activity.advance()

    run_blocks(data, span, workers, chunk, span, start, body)
    return state["Y"].sum(axis=0)


def uncentered_pass(data, trace, tol):
    """Whether :func:`exact_product` may skip centering: features as columns of the array
    (views of its rows) and :meth:`fastlae._data.Data.uncentered`."""
    return data.feat_axis == 1 and data.gram == "features" and data.uncentered(trace, tol)


def _ritz(apply, V):
    """Rayleigh-Ritz of the operator ``apply`` on ``span(V)`` (orthonormal V): Ritz values
    (descending), vectors, their images and residuals."""
    Y = apply(V)
    w, Z = ritz_rotation(V, Y)
    V, Y = V @ Z, Y @ Z
    return w, V, Y, Y - V * w


def _correction(apply, V, w, R, target, k):
    """Solve ``(w_i - (I-P) A (I-P)) x_i = r_i`` for ``x_i`` orthogonal to V (``P = V V^T``,
    ``A`` applied by ``apply``), column by column with a shared product per step (conjugate
    gradients: the operator is positive definite there when ``w_i`` lies above the rest of
    A's spectrum; a column where it is not stops), until the residuals of the first k
    columns are at most ``target`` (the others, closer to the rest of the spectrum, converge
    slower and only widen the span)."""
    def project(B):
        return B - V @ (V.T @ B)

    X = np.zeros_like(R)
    res = project(R)
    P = res.copy()
    rs = np.einsum("ij,ij->j", res, res)
    tiny = np.finfo(float).tiny
    active = np.ones(R.shape[1], dtype=bool)
    for _ in range(CG_MAX):
        if np.sqrt(rs[:k].max()) <= target:
            break
        AP = w * P - project(apply(P))
        curvature = np.einsum("ij,ij->j", P, AP)
        # a column whose curvature is not positive (w_i within the rest of the spectrum: a
        # span far from converged) keeps its correction so far and stops (truncated CG)
        active &= curvature > tiny
        alpha = np.where(active, rs / np.where(active, curvature, 1.0), 0.0)
        X += P * alpha
        res -= AP * alpha
        rs_new = np.where(active, np.einsum("ij,ij->j", res, res), 0.0)
        P = res + P * (rs_new / np.maximum(rs, tiny))
        rs = rs_new
    return X


def refinement_width(theta, k):
    """``(r, gap)``: the width of the refined span and the gap that its refinement sees, from
    the float32 Gram's Ritz values ``theta`` (descending, ``q > k`` of them).

    The top-k Ritz vectors converge like ``||E|| / (theta_k - theta_{r+1})`` per step, and the
    correction equations of the k-th are conditioned like ``theta_k / (theta_k -
    theta_{r+1})``: r is the smallest width whose gap ``theta_k - theta_{r+1}`` is at least
    ``GAP_WANT`` of ``theta_k``, else the widest available. ``gap`` is relative to
    ``theta_1``.
    """
    gaps = theta[k - 1] - theta[k:]
    wide = np.flatnonzero(gaps >= GAP_WANT * theta[k - 1])
    i = int(wide[0]) if wide.size else gaps.shape[0] - 1
    return k + i, float(gaps[i] / theta[0])


def refine(data, C, basis, k, tol, apply=None):
    """Top-k eigenpairs of the float64 feature Gram from the float32 one (module text), or
    from any Gram whose error is small against the gap (a sparse Gram whose implicit
    centering cancelled digits: ``apply`` then gives the exact products).

    Parameters
    ----------
    data : Data
        The data X (feature Gram, mean set).
    C : ndarray of shape (d, d), float64
        The float32 Gram (:func:`fastlae._gram.form_gram` with ``single``).
    basis : ndarray of shape (d, q), orthonormal, ``q > k``
        A span the solver trained on C.
    k : int
    tol : float
    apply : callable or None
        ``apply(B)``: the exact Gram times B (None: :func:`exact_product`, one pass over X).

    Returns
    -------
    Refined or None
        None when the float32 Gram does not resolve the answer (the caller then forms the
        float64 Gram).
    """
    if apply is None:
        uncentered = uncentered_pass(data, float(np.trace(C)), tol)

        def apply(B):
            return exact_product(data, B, uncentered)

    theta, V, _, _ = _ritz(lambda B: C @ B, np.ascontiguousarray(basis))
    if theta.shape[0] <= k or theta[0] <= 0.0 or theta[k - 1] < LEVEL_MIN * theta[0]:
        return None
    r, gap = refinement_width(theta, k)
    if gap < GAP_MIN:
        return None
    V = V[:, :r]
    # the float32 Ritz value after the span stands for the rest of the spectrum in the error
    # bounds of component_errors (like eigh's (k+1)-th eigenvalue on the float64 path)
    beyond = max(theta[r], 0.0)

    def with_beyond(w):   # the span's Ritz values, then the float32 one after it
        w = np.maximum(w, 0.0)
        return np.append(w, min(beyond, w[-1]))

    for passes in range(1, MAX_PASSES + 1):
        data.check_stop()
        w, V, Y, R = _ritz(apply, V)
        top = w[0]
        res = np.linalg.norm(R, axis=0) / top
        EV = Y - C @ V
        error = np.linalg.norm(EV, 2)   # the float32 Gram's error on the span
        if error > FACTOR_MAX * gap * theta[0]:
            return None
        eta = UNSEEN * error
        if res[:k].max() <= tol:
            return Refined(w[:k], V[:, :k], res[:k], with_beyond(w), "data", passes,
                           Y[:, :k], np.zeros(k))
        VtEV = V.T @ EV
        V0 = V

        def corrected(B, V0=V0, EV=EV, VtEV=VtEV):
            VtB = V0.T @ B
            return C @ B + EV @ VtB + V0 @ (EV.T @ B) - V0 @ (VtEV @ VtB)

        Vn = V
        for step in range(INNER_MAX + 1):
            wn, Vn, Yn, Rn = _ritz(corrected, Vn)
            rt = np.linalg.norm(Rn, axis=0) / wn[0]
            if rt[:k].max() <= 0.1 * tol or step == INNER_MAX:
                break
            X = _correction(corrected, Vn, wn, Rn, 1e-3 * tol * wn[0], k)
            Vn = np.linalg.qr(Vn + X)[0]
        unseen = eta * np.linalg.norm(Vn - V0 @ (V0.T @ Vn), axis=0) / wn[0]
        est = rt + unseen
        if est[:k].max() <= tol:
            return Refined(np.maximum(wn[:k], 0.0), Vn[:, :k], est[:k], with_beyond(wn),
                           "corrected", passes, Yn[:, :k], unseen[:k])
        V = Vn
    return None


def feature_pairs(op, refined, k):
    """The feature-space :class:`~fastlae._certify.Pairs` for refined pairs of the sample Gram
    (wide data), or None (the caller forms the float64 Gram).

    :func:`fastlae._certify.feature_pair_from_samples` maps ``[u_i, G u_i]`` to features by
    one pass over X, with ``G u_i`` the refinement's products (``refined.products``: the
    float64 pass's, or the corrected Gram's; the float32 Gram's would put its rounding into
    the certificate); the Ritz pairs on the mapped span then have residuals measured against
    the data, or against the corrected Gram. In the second case the part the corrected Gram
    does not see, ``delta_i = (G - Gt) u_i`` with ``||delta_i|| <= unseen_i theta_1``, reaches
    the feature residual of ``w_i = Xs^T u_i / sqrt(theta_i)`` as ``Xs^T delta_i /
    sqrt(theta_i)``, at most ``sqrt(lambda_1 / theta_k)`` times it, relative; that bound,
    with ``lambda_1`` estimated by ``theta_1 (1 + res_1)``, is added to every residual. The
    span's Ritz values below the k-th come from the refinement.
    """
    pairs = feature_pair_from_samples(op, refined.vecs, k, refined.products, refined.ritz[k:])
    if pairs is None:
        return None
    unseen = float(refined.unseen.max())
    if unseen > 0.0:
        th = refined.theta
        pairs.res = pairs.res + np.sqrt(th[0] * (1.0 + refined.res[0]) / th[k - 1]) * unseen
    pairs.certificate = refined.certificate
    return pairs


@dataclass
class Declined:
    """An attempt that did not finish, after spending ``n_iter`` updates and ``seconds``:
    mixed precision that did not apply, or a sparse run by passes that gave up
    (:func:`fastlae._solve.run`); the caller goes on with the float64 Gram."""

    n_iter: int = 0
    seconds: float = 0.0


def wanted(data, plan, request, threads):
    """Whether this call forms its Gram in float32 (see :func:`fastlae.pca`'s ``precision``)."""
    if request.precision == "double" or plan.matrix_free or not isinstance(data, ArrayData):
        return False
    if request.precision == "mixed":
        return True
    return request.solver in ("auto", "als_tied", "eigh") and request.lam is None \
        and single_saves(max(data.n, data.d), data.m, request.k, threads)


def solve(data, request, plan):
    """The mixed-precision path: :class:`~fastlae._train.Solved`, or :class:`Declined`.

    The probe (:func:`probe`) decides whether float32 can resolve the answer (and, for
    ``"auto"``, whether it pays); the Gram is formed in float32, the solver trains on it to
    ``SOLVE_TOL`` and :func:`refine` finishes in float64 (:func:`feature_pairs` for the sample
    Gram). BLAS stays at one thread from the probe to the end of the refinement: the probe
    and the solve on the small Gram cost little either way, and OpenBLAS threads left
    spinning by a threaded call would take a core from the next pass's workers (measured:
    0.085 s instead of 0.05 s for the refinement pass at 100000 x 500).
    """
    threads = blas_threads()
    if not wanted(data, plan, request, threads):
        return Declined()
    if threads > 1 and data.in_caller(_blas.limit_to_one):
        data.held_threads = threads
    try:
        return _solve(data, request, plan, time.perf_counter())
    finally:
        release(data)


def release(data):
    """End the single-threaded BLAS of the mixed path (idempotent)."""
    if data.held_threads:
        data.in_caller(_blas.restore)
        data.held_threads = 0


def _solve(data, request, plan, t0):
    k, tol = request.k, request.tol
    seen = probe(data, k, np.random.default_rng(0))
    if not resolvable(seen, k) or not (request.precision == "mixed" or falls(seen, k)
                                       or data.gram == "samples"):
        return Declined(0, time.perf_counter() - t0)
    formed = form_gram(data, single=True)
    if formed is None:
        return Declined(0, time.perf_counter() - t0)
    C, trace = formed
    op = Operator(data, C)
    op.use_uncentered(tol)   # the sample Gram's mapping to features
    V.check_finite(data.A, data.mean)
    if trace == 0.0:
        return Declined(0, time.perf_counter() - t0)
    t_gram = time.perf_counter() - t0
    # the float32 Gram resolves the answer to about 1e-7: train to that, then refine; the
    # refinement needs a span wider than k (eigh: as wide as the autoencoder's)
    r = latent_width(request, plan.solver, op) if REGISTRY[plan.solver].ITERATIVE \
        else default_latent("als_tied", k, data.m)
    budget = budget_of(request, plan)
    run = train(op, request, plan, plan.solver, r, trace, budget, tol=max(tol, SOLVE_TOL),
                handover_width=r, in_gram=True)
    t_refine = -time.perf_counter()
    refined = refine(data, run.op.C, run.trained.basis, k, tol)
    t_refine += time.perf_counter()
    if refined is None:
        return Declined(run.n_iter, time.perf_counter() - t0)
    pairs, t_cert = Pairs(refined.theta, refined.vecs, refined.res, refined.ritz,
                          refined.certificate), run.t_cert
    if data.gram == "samples":   # the feature vectors and residuals: one more pass
        release(data)              # (threaded BLAS)
        t_cert -= time.perf_counter()
        pairs = feature_pairs(run.op, refined, k)
        t_cert += time.perf_counter()
        if pairs is None:
            return Declined(run.n_iter, time.perf_counter() - t0)
    return Solved(run.name, run.module, False, run.trained, pairs, run.n_iter, budget, trace,
                  run.op.m, t_gram + run.t_gram, t_cert, t_refine, "mixed")
