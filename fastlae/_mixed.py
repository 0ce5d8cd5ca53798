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
from dataclasses import dataclass

import numpy as np

from ._data import HEAD, SAFE_MAX, SAFE_MIN, block_length
from ._gram import gram_around, pass_workers, run_blocks
from ._kernels.operator import span_centered, span_uncentered
from ._certify import feature_pair_from_samples, ritz_with_rest
from ._operator import UNCENTERED, uncentered_rounding

# One-pass corrections to the mean may cancel at most a digit of float32's seven.
KAPPA_SINGLE = 10.0
# The scaled root mean square of the largest feature must lie in [2^-40, 2^40]: every square
# of a value then stays a normal float32 (its sum is checked for overflow).
SINGLE_RANGE = 2.0 ** 40
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
# Elements of X per block of the float64 pass: a centered block stays in L2 between its two
# narrow GEMMs (measured on the project machine: 64K elements 0.17 s, 512K 0.32 s for one
# thread's pass over 100000 x 1000 with r = 10). Each thread takes about SPANS_PER_WORKER
# spans of blocks, one compiled call each (a Python call per block held the GIL often enough
# to stall 16 threads).
PASS_BLOCK_ELEMENTS = 1 << 16
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
        B *= 2.0 ** -np.frexp(big)[1]
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


def form_gram_single(data):
    """The solvers' Gram formed in float32 (one pass), as float64, or None.

    The sample Gram (wide data): :func:`_sample_gram_single`. The feature Gram:
    Blocks are shifted by a provisional center (the mean of the first ``HEAD`` samples),
    rounded to float32 and summed by SSYRK; each feature's sum and sum of squares come exactly
    (float64) from the same pass, so the mean, the diagonal and the trace are exact and only
    the off-diagonal entries carry float32 rounding. Returns None (the caller takes the
    float64 path) when the mean correction would cancel more than ``KAPPA_SINGLE`` allows or
    magnitudes leave float32's safe range. Sets ``data.mean`` when it succeeds.
    """
    if data.gram == "samples":
        return _sample_gram_single(data)
    A, n = data.A, data.n
    shift = data.provisional_center()
    # overflow and NaN make the checks below fail (the caller's check_finite names them)
    with np.errstate(over="ignore", invalid="ignore"):
        if data.feat_axis == 1:
            first = A[: min(A.shape[0], HEAD)] - shift
        else:
            first = A[:, : min(A.shape[1], HEAD)] - shift[:, None]
        data.set_scale(float(np.max(np.abs(first))))
        G, sums, sumsq = gram_around(data, shift, single=True)
        msh = sums / n          # (mean - shift) * inv
        top = float(np.max(sumsq))
        np.fill_diagonal(G, sumsq)
        G -= n * np.outer(msh, msh)
        diag = np.diag(G)
        with np.errstate(divide="ignore"):
            kappa = np.where(msh != 0.0, n * msh * msh / np.where(diag > 0, diag, 0.0), 0.0)
        safe = n * SINGLE_RANGE ** -2 <= top <= n * SINGLE_RANGE ** 2
        if not safe or not np.all(np.isfinite(G)) or np.any(~(kappa <= KAPPA_SINGLE)):
            data.set_scale(1.0)
            return None
    data.mean = shift + msh * data.scale
    return G


def _sample_gram_single(data):
    """The sample Gram in float32 (one pass), as float64, or None: blocks of whole features
    are centered around their exact means
    (:func:`~fastlae._kernels.passes.center_block_exact_sums`), rounded to float32 and summed
    by SSYRK, each sample's sum of squares coming exactly
    (float64) from the same pass, so the diagonal and the trace are exact. Returns None (the
    float64 path) when magnitudes leave float32's safe range (or for NaN). Sets ``data.mean``.
    """
    A = data.A
    head = A[:, : min(A.shape[1], HEAD)] if data.feat_axis == 1 else A[: min(A.shape[0], HEAD)]
    with np.errstate(over="ignore", invalid="ignore"):
        data.set_scale(2.0 * float(np.max(np.abs(head))))   # |a - mean| <= 2 max|a|
        mean = np.empty(data.d)
        G, big, sumsq = gram_around(data, mean, exact=True, single=True)
        b = 2.0 * big * data.inv
        top = float(np.max(sumsq))
        safe = b <= SINGLE_RANGE and data.d * SINGLE_RANGE ** -2 <= top
        if not safe or not np.all(np.isfinite(G)) or not np.isfinite(top):
            data.set_scale(1.0)
            return None
        np.fill_diagonal(G, sumsq)
    data.mean = mean
    return G


def exact_product(data, V, uncentered=False):
    """The solvers' Gram times ``V`` in float64, ``Xs.T @ Xs @ V`` (``Xs @ Xs.T @ V`` for the
    sample Gram; ``Xs`` the centered, scaled X): one pass over X.

    The pass is split into spans of samples (of features for the sample Gram), run on
    :func:`fastlae._gram.run_blocks`' threads (about ``SPANS_PER_WORKER`` each), each
    thread adding its spans' parts (:func:`~fastlae._kernels.operator.span_centered`: blocks
    of ``PASS_BLOCK_ELEMENTS`` centered in float64 and multiplied twice while they stay in
    L2, no GIL held) to its own
    partial sum; the partials are added in a fixed order. With ``uncentered`` (float64 data
    with features as columns whose mean is small enough, see :func:`uncentered_ok`) the
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
    block = block_length(d, PASS_BLOCK_ELEMENTS)
    workers = pass_workers(data, span, block)
    chunk = block * max(1, -(-span // (SPANS_PER_WORKER * workers * block)))
    V = np.ascontiguousarray(V, dtype=np.float64)
    state = {}

    def start(workers, chunk):
        state["Y"] = np.zeros((workers, d, V.shape[1]))
        state["bufs"] = [None if uncentered else np.empty(block * d) for _ in range(workers)]
        data.activity = ["refinement pass", 0, -(-span // chunk)]

    def body(t, s0, s1):
        if uncentered:
            part = span_uncentered(A, data.mean, data.inv, block, data.stop, V, s0, s1)
        else:
            part = span_centered(A, data.mean, data.feat_axis, data.inv, axis, block,
                                 state["bufs"][t], data.stop, V, s0, s1)
        state["Y"][t] += part
        data.activity[1] += 1

    run_blocks(data, span, workers, chunk, span, start, body)
    return state["Y"].sum(axis=0)


def uncentered_ok(data, trace, tol):
    """Whether :func:`exact_product` may skip centering: float64 data with features as columns
    whose scale keeps the unscaled products finite and normal, and the rounding of the
    uncentered products (:func:`fastlae._operator.uncentered_rounding`) at most
    ``UNCENTERED * tol``."""
    if data.A.dtype != np.float64 or data.feat_axis != 1 or data.gram != "features" \
            or not SAFE_MIN <= data.scale <= SAFE_MAX:
        return False
    return uncentered_rounding(data.d, data.n, data.mean * data.inv, trace) <= UNCENTERED * tol


def _ritz(apply, V):
    """Rayleigh-Ritz of the operator ``apply`` on ``span(V)`` (orthonormal V): Ritz values
    (descending), vectors, their images and residuals."""
    Y = apply(V)
    H = V.T @ Y
    w, Z = np.linalg.eigh(0.5 * (H + H.T))
    w, Z = w[::-1], Z[:, ::-1]
    V, Y = V @ Z, Y @ Z
    return w, V, Y, Y - V * w


def _correction(apply, V, w, R, target, k):
    """Solve ``(w_i - (I-P) A (I-P)) x_i = r_i`` for ``x_i`` orthogonal to V (``P = V V^T``,
    ``A`` applied by ``apply``), column by column with a shared product per step (conjugate
    gradients: the operator is positive definite there when ``w_i`` lies above the rest of
    A's spectrum), until the residuals of the first k columns are at most ``target`` (the
    others, closer to the rest of the spectrum, converge slower and only widen the span)."""
    def project(B):
        return B - V @ (V.T @ B)

    X = np.zeros_like(R)
    res = project(R)
    P = res.copy()
    rs = np.einsum("ij,ij->j", res, res)
    tiny = np.finfo(float).tiny
    for _ in range(CG_MAX):
        if np.sqrt(rs[:k].max()) <= target:
            break
        AP = w * P - project(apply(P))
        alpha = rs / np.maximum(np.einsum("ij,ij->j", P, AP), tiny)
        X += P * alpha
        res -= AP * alpha
        rs_new = np.einsum("ij,ij->j", res, res)
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


def refine(data, C, basis, k, tol):
    """Top-k eigenpairs of the float64 feature Gram from the float32 one (module text).

    Parameters
    ----------
    data : Data
        The data X (feature Gram, mean set).
    C : ndarray of shape (d, d), float64
        The float32 Gram from :func:`form_gram_single`.
    basis : ndarray of shape (d, q), orthonormal, ``q > k``
        A span the solver trained on C.
    k : int
    tol : float

    Returns
    -------
    Refined or None
        None when the float32 Gram does not resolve the answer (the caller then forms the
        float64 Gram).
    """
    uncentered = uncentered_ok(data, float(np.trace(C)), tol)
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
        w, V, Y, R = _ritz(lambda B: exact_product(data, B, uncentered), V)
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
    """The feature-space answer for refined pairs of the sample Gram (wide data):
    ``(theta, vecs, res, ritz, certificate)``, or None (the caller forms the float64 Gram).

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
    found = feature_pair_from_samples(op, refined.vecs, k, refined.products)
    if found is None:
        return None
    theta, vecs, res, ritz = ritz_with_rest(found[0], found[1], k, refined.ritz[k:])
    unseen = float(refined.unseen.max())
    if unseen > 0.0:
        th = refined.theta
        res = res + np.sqrt(th[0] * (1.0 + refined.res[0]) / th[k - 1]) * unseen
    return theta, vecs, res, ritz, refined.certificate
