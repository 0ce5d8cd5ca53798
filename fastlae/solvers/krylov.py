"""``"krylov"``: block Lanczos with full reorthogonalization and thick restarts.

The tied exact update of the autoencoder (:mod:`fastlae.solvers.als_tied`) replaces its
weights by ``G W`` (times an r x r matrix): a subspace iteration that keeps only its last
iterate. Keeping every iterate instead gives the block Krylov space ``span{W, G W, G^2 W,
...}``, on which the Rayleigh-Ritz step finds the top-k eigenpairs in far fewer products:
the k-th direction converges like a Chebyshev polynomial of the spectrum, not like the
power ``(lambda_{r+1} / lambda_k)^t``. It is the engine of every path where a product with
the Gram costs a pass over the data (matrix-free dense data, files, callables, dask and
sparse input) and of the formed Gram where LAPACK's full eigendecomposition costs more than
a few products.

Each step multiplies one block of ``b`` orthonormal columns by the Gram (one pass), stores
the block and its product, orthogonalizes the product against everything stored (classical
Gram-Schmidt, twice) to form the next block, and takes a Rayleigh-Ritz step on all stored
columns. The residuals ``||G v - theta v|| / theta_1`` of the top k Ritz pairs come from the
stored products themselves, so the certificate needs no further pass. When the stored
columns reach the cap (memory ``2 m cap`` floats), the basis is compressed to its top Ritz
vectors and their products (a thick restart: the pending next block stays orthogonal to it,
so the Krylov relation carries on). A next block that lost rank (an exhausted Krylov space:
data of rank below the basis, an invariant subspace) is completed by random directions.

All arithmetic is BLAS-3 on the stored blocks (the kernels' :func:`~fastlae._kernels.blas.
product`, SciPy's BLAS) and LAPACK on the small projected matrix; the loop itself runs a few
dozen times per call and is Python (measured: under 1 ms per step beyond its BLAS calls).
"""
import numpy as np
import scipy.linalg

from .._kernels.blas import product
from .._kernels.dots import rows_dot
from .._kernels.monitor import DONE, GAVE_UP, LIMIT, predicted_updates
from ._common import Trained, random_orthonormal

ITERATIVE = True
# Products (passes) when max_iter is not given.
DEFAULT_MAX_ITER = 300
# A run whose residuals are certified (<= tol) but cannot meet the subspace target tol * gap
# (a gap at k at rounding level, a cluster straddling k) stops once the largest residual has
# not halved in this many steps.
STALL = 6
# Stored columns: at least this many blocks beyond k before a restart, and at least
# CAP_MIN columns (narrow blocks and small k: on flat spectra and a flat tail straddling k,
# a thick restart that keeps few columns discards the cluster's directions found so far;
# 400 x 300 zoo, k 5, block 4, six start blocks: flat_tail 66-127 products at k + 6 b = 29
# columns, 47-64 at 48; iid Gaussian 53-58, 41-44), and at most MEMORY_BYTES for the basis
# and its products together.
CAP_BLOCKS = 6
CAP_MIN = 48
MEMORY_BYTES = 1 << 30
# A next-block column whose norm after orthogonalization is below this (relative to the
# largest Ritz value) carries no new direction and is replaced by a random one.
BREAKDOWN = 1e-12
# A next block whose columns are within this of orthogonal to the stored span (largest
# |V^T Q|) takes no third projection: after two, on 3000 x 3000 iid Gaussian, decaying and
# flat-tail Grams, the largest was 1e-16 to 3e-15 (a third brings it to 1e-16), and only
# blocks that lost rank came out further (1e-2; their lost columns are replaced).
ORTHOGONAL = 16 * np.finfo(float).eps
# Ritz values within this of each other (relative to the largest) count as one cluster when
# the run checks its residuals (see _cluster_residuals).
CLUSTER = 1e-8
# Residuals at or below this relative level are at the floor of float64 products.
FLOOR = 1e-15
# The subspace target tol * gap is raised to ATTAINABLE, the residual float64 products reach
# in a few steps; a relative gap at k below GAP_MIN cannot be resolved to sines of 1e-9 at
# that residual, and the run then stops at residuals of tol, as for a cluster straddling k.
ATTAINABLE = 1e-14
GAP_MIN = 1e-5
# "auto"'s runs give up no earlier than this many products: the rate of the first steps
# predicts too many (Krylov's convergence accelerates as the polynomial degree grows; on
# 4000 x 4000 with singular values i^-0.5 the prediction after 6 products exceeded 21 more,
# and 20 in all sufficed).
PATIENT_PASSES = 12
# Ritz vectors returned beyond the k wanted (at most k of them).
EXTRA = 10
# A thick restart keeps the top Ritz vectors up to ROOM blocks (and at least a quarter of
# the cap, ROOM_SHARE) short of the cap, so that the steps between restarts fill that room.
# Each restart rebuilds the basis and its products (two m x cap x keep products: on a 4000 x
# 4000 Gram at cap 120, 3 ms each, a third of a product with the Gram), and fewer restarts
# also keep the Krylov polynomials of higher degree: iid Gaussian 4000 x 4000, k 20, block
# 10, two start blocks, cap 120: 107-108 products with room for 2 blocks, 97-98 for 3, 93-95
# for 4; cap 80: 153-155, 138-144, 151-153; cap 160: 85-86 for 3 blocks, 83 for 4, 81-82
# for 5 (each step's orthogonalization grows with the cap). Decaying and i^-0.5 spectra and
# the sparse shapes of scripts/bench_krylov.py take the same products with room for 2 and 3
# blocks (one more with 4).
ROOM = 3
ROOM_SHARE = 0.25


# The basis times a block (V^T X, s x j) by dot products (:func:`fastlae._kernels.dots.
# rows_dot`) where the basis holds at least DOT_ELEMENTS values (2 MB: beyond the core's
# cache), else by BLAS (smaller problems also skip compiling the kernel, about 0.7 s once per
# machine). Measured, one thread, V^T X in ms (BLAS / dots, the transposed copy of X
# included): m 4000, s 160, j 10: 0.55-0.63 / 0.25; m 3000, s 150, j 10: 0.41 / 0.19; m
# 10000, s 48, j 4: 0.31 / 0.21; m 40000: 1.6-2.0 / 1.1; within the cache, m 2000, s 100,
# j 10: 0.18 / 0.09, m 5000, s 48, j 4: 0.048 / 0.10.
DOT_ELEMENTS = 1 << 18


# Block width at which "auto"'s cost model prices Krylov in memory (fastlae.solvers.
# estimated_seconds, its budgets and give-up rule are calibrated at this width); a run in
# memory takes the width of least modelled cost (block_for) and scales those budgets by
# relative_products.
MEMORY_BLOCK = 10
# The width model of runs in memory. Products to the target at block b, relative:
# 1 + PRODUCTS_SLOPE k / min(b, k). Measured (scripts/bench_block.py, 48 matrix-free calls on
# 4000 x 4000, 3000 x 5000 and 8000 x 3000 with five spectra, geometric means of products
# over those at b 10): k 20, b 4 / 6 / 8 / 12 / 16 / 20: 1.64 / 1.33 / 1.12 / 0.95 / 0.85 /
# 0.75 (model 1.71 / 1.32 / 1.12 / 0.92 / 0.82 / 0.76); k 40: 1.88 / 1.39 / 1.15 / 0.94 /
# 0.79 / 0.71 (1.96 / 1.43 / 1.16 / 0.89 / 0.76 / 0.68); k 10: 1.48 / 1.25 / 1.16 / 1 / 1 / 1.
PRODUCTS_SLOPE = 0.45
# One product with X in memory by blocks of rows (C order, matrix-free: the span kernels
# over GEMM) at block b, relative to b 8, at the widths measured (scripts/bench_block.py
# --parts products: 4000 x 4000, 8000 x 2000, 3000 x 3000 and 20000 x 500, 2 cores, medians
# of 15, medians of three runs); at b 8 a product takes about PRODUCT_SECONDS per element
# of X (5.6e-10 to 9.1e-10). Products by columns (F order) and with a formed Gram keep
# default_block's width: there the model's widths (6-20 in F order, 5-15 on the Gram) took
# 0.70-1.23x and 0.97-1.06x the time of blocks of 10 (12 F-ordered calls, geometric mean
# 1.00; 4 formed-Gram calls).
PRODUCT_WIDTHS = (1, 4, 5, 6, 8, 10, 12, 15, 16, 20, 24, 30, 40)
PRODUCT_COST = (0.5, 0.71, 0.86, 0.87, 1.0, 1.27, 1.34, 1.7, 1.8, 2.0, 2.3, 2.7, 3.6)
PRODUCT_SECONDS = 7.3e-10
# Seconds of a step beyond its product (orthogonalization, Rayleigh-Ritz, residuals), with s
# of the stored columns (3/4 of the cap): STEP_SECONDS + m b (STEP_COLUMN + STEP_STORED s).
# Measured per step at 1000-4000 features, k 10-40, b 4-20: 1.0-8.5 ms (a hook around the
# products of krylov.run).
STEP_SECONDS = 6e-4
STEP_COLUMN = 8.4e-8
STEP_STORED = 1.04e-10


def default_block(k, m, read_bound=False):
    """Block width: ``min(k, MEMORY_BLOCK)`` (at least 4) where products are computed in
    memory (the width "auto"'s cost model prices), ``k + max(10, k)`` where reading the
    data dominates a pass (files, callables, dask: a pass costs the same at any width and
    only their number counts). At most m."""
    b = k + max(10, k) if read_bound else max(min(k, MEMORY_BLOCK), min(k, 4), 4)
    return int(min(m, b))


def relative_products(k, b):
    """Products to the target at block ``b`` (an int or an array of them), relative:
    ``1 + PRODUCTS_SLOPE k / min(b, k)``."""
    return 1.0 + PRODUCTS_SLOPE * k / np.minimum(b, k)


def block_width(k, m, elements):
    """The block of least modelled seconds for a matrix-free run on X by rows: of the
    widths measured (``PRODUCT_WIDTHS``) and k itself, those between 4 and ``max(4, k)`` (a
    block beyond k takes no fewer products) and at most m, the width where
    :func:`relative_products` times a step's seconds (its product over ``elements`` values
    of X, ``PRODUCT_COST``, and the step's own work) is least. Widths between those
    measured are left out: a product's cost steps with the kernels' tiles (calls at 7
    columns took 0.84-1.01x the time of 8 at k 20).

    Parameters
    ----------
    k : int
    m : int
        Rows of the Gram (the basis length).
    elements : int
        Values of X (n d).
    """
    if m < 4:
        return int(m)
    widths = np.union1d(PRODUCT_WIDTHS, [k])
    widths = widths[(widths >= 4) & (widths <= max(4, k)) & (widths <= m)]   # 4 at least
    product = PRODUCT_SECONDS * elements * np.interp(widths, PRODUCT_WIDTHS, PRODUCT_COST)
    stored = 0.75 * np.array([default_cap(k, b, m) for b in widths])
    step = product + STEP_SECONDS + m * widths * (STEP_COLUMN + STEP_STORED * stored)
    return int(widths[np.argmin(step * relative_products(k, widths))])


def block_for(op, k):
    """The block of a run in memory on ``op`` (a :class:`~fastlae._operator.Operator`):
    :func:`block_width` for matrix-free products with X by rows, :func:`default_block`
    otherwise (products by columns, a formed Gram)."""
    data = op.data
    if op.matrix_free and data.gram_axis == 1:
        return block_width(k, op.m, data.n * data.d)
    return default_block(k, op.m)


def default_cap(k, b, m, blocks=None):
    """Stored columns: ``k + blocks b`` (``CAP_BLOCKS`` when None) and at least ``CAP_MIN``,
    within ``MEMORY_BYTES`` and m."""
    cap = max(k + (CAP_BLOCKS if blocks is None else blocks) * b, CAP_MIN)
    cap = min(cap, max(k + 2 * b, MEMORY_BYTES // (16 * max(m, 1))))
    return int(min(m, cap))


class Result:
    """The outcome of :func:`run`.

    Attributes
    ----------
    theta : ndarray of shape (k,)
        Top-k Ritz values, descending.
    vecs : ndarray of shape (m, p)
        The top p >= k Ritz vectors (orthonormal; up to ``EXTRA`` beyond k where the basis
        holds them).
    G_vecs : ndarray of shape (m, p)
        The Gram times ``vecs``, from the stored products.
    res : ndarray of shape (k,)
        ``||G v_i - theta_i v_i|| / theta_1``.
    ritz : ndarray of shape (s,)
        Every Ritz value on the stored basis, descending.
    passes : int
        Products with the Gram (each one pass over the data on the matrix-free paths).
    converged : bool
        Whether the stopping rule was met before ``max_passes``.
    """

    def __init__(self, theta, vecs, G_vecs, res, ritz, passes, converged):
        self.theta, self.vecs, self.G_vecs, self.res = theta, vecs, G_vecs, res
        self.ritz, self.passes, self.converged = ritz, passes, converged


def run(apply, m, k, block, tol, max_passes, rng, cap=None, start=None, check_stop=None,
        report=None, give_up=None):
    """Top-k eigenpairs of a symmetric positive semidefinite Gram ``G`` by block Lanczos.

    Parameters
    ----------
    apply : callable
        ``apply(Q)`` returns ``G @ Q`` for ``Q`` of shape (m, j), C-contiguous float64
        (j <= block): one pass over the data on the matrix-free paths.
    m, k, block : int
        The Gram's size, eigenpairs wanted, columns per product.
    tol : float
        Stop when every residual is at most ``tol * min(1, gap)`` (``gap`` the relative
        distance from the k-th Ritz value to the next, raised to ``ATTAINABLE``; ``tol``
        where the gap is below ``GAP_MIN``), at most ``FLOOR``, or at most ``tol`` without
        halving in ``STALL`` steps; pairs of values within ``CLUSTER`` are checked together
        (:func:`_cluster_residuals`).
    max_passes : int
    rng : numpy.random.Generator
        Draws the start block (unless ``start``) and directions that replace a lost rank.
    cap : int or None
        Stored columns before a restart (:func:`default_cap` when None).
    start : ndarray of shape (m, j) or None
        Columns to start from (orthonormalized here), e.g. the span of an earlier run.
    check_stop : callable or None
        Called before each pass (raises to cancel).
    report : callable or None
        ``report(passes, largest_residual)`` after each step.
    give_up : callable or None
        ``give_up(passes, largest_residual, ritz_values)``: True ends the run unconverged
        (``"auto"``'s prediction that finishing would cost more than another path).

    Returns
    -------
    Result
    """
    b = int(min(block, m))
    cap = default_cap(k, b, m) if cap is None else int(min(cap, m))
    cap = max(cap, min(m, k + b))
    # the basis and its products stored as rows (cap x m): the first s rows are contiguous, so
    # every product reads them in place (a copy of the columns took 0.9 ms a step at 4000 x 110)
    Vt = np.empty((cap, m))
    GVt = np.empty((cap, m))
    H = np.zeros((cap, cap))
    Q = random_orthonormal(rng, m, b) if start is None else _orthonormal(start)
    s, passes, history = 0, 0, []
    while True:
        if check_stop is not None:
            check_stop()
        j = Q.shape[1]
        GQ = np.ascontiguousarray(apply(Q), dtype=np.float64)
        passes += 1
        Vt[s:s + j], GVt[s:s + j] = Q.T, GQ.T
        Vs = Vt[:s + j]   # V^T, (s + j) x m
        C = _project(Vs, GQ)   # the new columns of V^T G V
        H[:s + j, s:s + j] = C
        H[s:s + j, :s] = C[:s].T
        D = H[s:s + j, s:s + j]
        H[s:s + j, s:s + j] = 0.5 * (D + D.T)
        s += j
        # divide and conquer: 120 x 120 in 1.0 ms against 1.5 for the default (MRRR)
        w, Z = scipy.linalg.eigh(H[:s, :s], check_finite=False, driver="evd")
        w, Z = w[::-1], np.ascontiguousarray(Z[:, ::-1])
        top = w[0] if w[0] > 0.0 else 1.0
        # the next block: the part of G Q outside the stored span (classical Gram-Schmidt,
        # twice), R = Q_next B; then G V = V H + Q_next B E^T (E the last block's rows), so
        # the residual of a Ritz pair (theta, V z) is ||B z_last|| without touching V
        R = GQ - product(Vs, C, True, False)
        R -= product(Vs, _project(Vs, R), True, False)
        j_next = min(b, m - s)
        Q, B = _next_block(R, Vs, top, rng, j_next)
        q = min(k, s)
        est = np.linalg.norm(B @ Z[s - j:s, :q], axis=0) / top
        worst = float(est.max())
        history.append(worst)
        if report is not None:
            report(passes, worst)
        done = _stopped(history, w, q, k, s, m, tol)
        quit = not done and give_up is not None and give_up(passes, worst, w)
        if done or quit or passes >= max_passes or s >= m:
            # the certificate: residuals from the stored products themselves
            Zq = np.ascontiguousarray(Z[:, :q])
            res = np.linalg.norm(product(GVt[:s], Zq, True, False)
                                 - product(Vs, Zq, True, False) * w[:q], axis=0) / top
            history[-1] = float(_cluster_residuals(res, w[:q]).max())
            if _stopped(history, w, q, k, s, m, tol) or quit or passes >= max_passes \
                    or s >= m:
                break
        if s + j_next > cap:   # thick restart: keep the top Ritz vectors and their products
            room = max(ROOM * j_next, int(ROOM_SHARE * cap))
            keep = min(max(min(k + b, cap - j_next), cap - room, k), s)
            Zp = np.ascontiguousarray(Z[:, :keep])
            Vt[:keep] = product(Zp, Vs, True, False)
            GVt[:keep] = product(Zp, GVt[:s], True, False)
            H[:keep, :keep] = np.diag(w[:keep])
            H[:keep, keep:] = 0.0
            H[keep:, :keep] = 0.0
            s = keep
    converged = _stopped(history, w, q, k, s, m, tol)
    # the returned span: the top k Ritz vectors and up to EXTRA more, whose values give the
    # components' error bounds their gaps (and mixed precision a span to refine)
    p = min(s, k + min(EXTRA, k))
    Zp = np.ascontiguousarray(Z[:, :p])
    Y = product(Vs, Zp, True, False)
    GY = product(GVt[:s], Zp, True, False)
    return Result(w[:q], Y, GY, res, w, passes, converged)


def _cluster_residuals(res, theta):
    """The residuals ``res`` of Ritz pairs with values ``theta``, each raised to the root sum
    of squares of those of its cluster (values within ``CLUSTER`` of each other, relative to
    the largest): the certificate's Rayleigh-Ritz step on the k returned vectors may rotate
    pairs of (nearly) equal values, and a rotated pair's residual can reach that norm
    (4000 x 4000 zoo cluster_at_k, k 20: 8.9e-11 from the stored products, 1.01e-10 in the
    certificate, and a second run of 10 products to 2e-13)."""
    top = theta[0] if theta[0] > 0.0 else 1.0
    near = np.abs(theta[:, None] - theta[None, :]) <= CLUSTER * top
    return np.sqrt(near.astype(np.float64) @ (res * res))


def _stopped(history, w, q, k, s, m, tol):
    """The stopping rule of :func:`run` on the residual history (the last entry current)."""
    if q < k:
        return False
    worst = history[-1]
    goal = target(w, k, tol) if s > k else max(tol, ATTAINABLE)
    if worst <= goal or worst <= FLOOR:
        return True
    return worst <= tol and len(history) > STALL \
        and min(history[-STALL:]) > 0.5 * min(history[:-STALL])


def target(w, k, tol):
    """The residual :func:`run` stops at, from the Ritz values ``w`` (descending; at least
    k + 1 of them): ``tol`` times the relative gap at k, raised to ``ATTAINABLE``; below
    ``GAP_MIN`` the top-k subspace is not determined to the sines tol asks for at any
    residual float64 reaches (``sin <= res / gap``), and the certificate alone is the
    target."""
    top = w[0] if w[0] > 0.0 else 1.0
    gap = (w[k - 1] - w[k]) / top
    return max(tol * min(1.0, gap), ATTAINABLE) if gap >= GAP_MIN else tol


def ritz_steps(w, k, b, worst, tol):
    """Steps block Lanczos of block b is predicted to need from the largest residual
    ``worst`` to its :func:`target`, from the Ritz values ``w``: the error of the k-th
    direction falls like ``exp(-2 j sqrt(gamma))`` with ``gamma = theta_k / theta_{k+b} - 1``
    (a Chebyshev polynomial of degree j on the spectrum below ``theta_{k+b}``, its spread
    taken as all of ``[0, theta_{k+b}]``). Early Ritz values overstate the gap, so the count
    errs low; 0 where the basis holds fewer than k + b values."""
    if len(w) < k + b or w[k + b - 1] <= 0.0:
        return 0.0
    gamma = w[k - 1] / w[k + b - 1] - 1.0
    if gamma <= 0.0:
        return np.inf
    return max(0.0, np.log(worst / target(w, k, tol)) / (2.0 * np.sqrt(gamma)))


def hopeless(hist, passes, worst, w, k, b, tol, left, subspace=False,
             patient=PATIENT_PASSES):
    """Whether a run of block ``b`` should give up with ``left`` products to go: from
    ``patient`` products on, where both its Ritz values ``w`` (:func:`ritz_steps`)
    and the rate its history ``hist`` has seen
    (:func:`fastlae._kernels.monitor.predicted_updates`, to ``tol``, or with ``subspace`` to
    the subspace :func:`target`) predict more. Either alone errs: the rate of the first
    steps ignores that Krylov accelerates (4000 x 4000, singular values i^-0.25, k 20: the
    rate predicted more than the 36 products left after 12, and 29 in all sufficed; 20000 x
    2000, k 50, on the formed Gram: the residual stalls near 1e-5 for 12 products, then
    falls about 5x per product), and early Ritz values overstate the gap."""
    return passes >= patient and ritz_steps(w, k, b, worst, tol) > left \
        and predicted_updates(hist, passes, worst, target(w, k, tol) if subspace else tol) \
        > left


def _project(Vs, X):
    """``Vs @ X`` (s x j) for the stored basis ``Vs`` (s x m, C-contiguous) and a block X
    (m x j, C-contiguous): dot products or BLAS (``DOT_ELEMENTS``)."""
    s, j = Vs.shape[0], X.shape[1]
    if Vs.size < DOT_ELEMENTS:
        return product(Vs, X, False, False)
    out = np.empty((j, s))
    rows_dot(Vs, np.ascontiguousarray(X.T), out, 0, s)
    return np.ascontiguousarray(out.T)


def _orthonormal(Y):
    Q = scipy.linalg.qr(np.asarray(Y, dtype=np.float64), mode="economic",
                        check_finite=False)[0]
    return np.ascontiguousarray(Q)


def _next_block(R, Vs, top, rng, j):
    """``(Q, B)``: j orthonormal columns (C-contiguous) and the weights ``B`` of R's
    directions, ``R = P B`` (``R`` of shape (m, r), already orthogonal to the stored basis,
    whose columns are the rows of ``Vs``, s x m; ``P`` the r directions of R by weight, of
    which Q holds the first j). Directions that carry less than ``BREAKDOWN * top`` are
    replaced by random ones, orthogonal to the basis and the rest.

    The directions come from the SVD of R's triangular factor (rank-revealing), not from its
    columns in order: where R has lower rank than its columns (the residuals of Ritz vectors
    that a run of block b handed over all lie in b directions), the first j columns of a
    plain QR can miss most of R, and the Krylov relation ``G V = V H + Q B E^T`` would then
    no longer hold (measured: a run from the 20 Ritz vectors of a block-5 run on the
    i^-0.25 zoo spectrum, 2000 x 1500, k 10, stalled at residuals of 1e-5)."""
    m = R.shape[0]
    Q, B = scipy.linalg.qr(R, mode="economic", check_finite=False)
    U, weight, Wt = scipy.linalg.svd(B, full_matrices=False, check_finite=False)
    Q = product(np.ascontiguousarray(Q), np.ascontiguousarray(U), False, False)
    B = weight[:, None] * Wt
    # directions normalized from a small remainder carry the rounding of G Q magnified: where
    # that left them further than ORTHOGONAL from orthogonal to the stored span, one more
    # projection restores orthogonality to rounding level
    E = _project(Vs, Q)
    if not np.max(np.abs(E), initial=0.0) <= ORTHOGONAL:
        Q -= product(Vs, E, True, False)
        Q = scipy.linalg.qr(Q, mode="economic", check_finite=False)[0]
    if j < Q.shape[1]:
        Q = Q[:, :j]
    if Q.shape[1] < j:
        Q = np.hstack([Q, np.zeros((m, j - Q.shape[1]))])
    carried = np.zeros(j)
    carried[:min(j, len(weight))] = weight[:j]
    lost = carried <= BREAKDOWN * top
    if np.any(lost):
        good = np.ascontiguousarray(Q[:, ~lost])
        fill = rng.standard_normal((m, int(lost.sum())))
        for _ in range(2):   # twice is enough (Kahan-Parlett)
            fill -= product(Vs, _project(Vs, fill), True, False)
            if good.shape[1]:
                fill -= product(good, product(good, fill, True, False), False, False)
        Q = np.hstack([good, _orthonormal(fill)])
    return np.ascontiguousarray(Q), B


def recorder(hist):
    """``report(step, residual)`` for :func:`run` that records each step in a history buffer
    of :func:`fastlae._kernels.monitor.new_history` (where a progress line reads it)."""

    def report(step, residual):
        count = min(int(hist[0, 0]) + 1, hist.shape[0] - 1)
        hist[0, 0] = count
        hist[count] = step, np.log(max(residual, 1e-300))

    return report


def trained_from(result, lam):
    """A :class:`~fastlae.solvers._common.Trained` for :func:`fastlae.pca`: the Ritz vectors
    as basis (all of them: a hand-over starts from their span), and the top k as the tied
    autoencoder's critical point for penalty ``lam``
    (``W2 = V (I - lam / Theta)^{1/2}``, Landscape Theorem), with ``G W2`` from the stored
    products, so the certificate takes no further pass."""
    q = min(len(result.theta), result.vecs.shape[1])
    theta = np.maximum(result.ritz[:q], 0.0)
    gain = np.sqrt(np.maximum(1.0 - lam / np.maximum(theta, lam), 0.0)) if lam > 0.0 \
        else np.ones_like(theta)
    # the top Ritz pairs only: a Rayleigh-Ritz step that also took the less converged ones
    # beyond k would mix them into a cluster straddling k (equal Ritz values) and raise the
    # residuals of the certified pairs
    W2 = np.ascontiguousarray(result.vecs[:, :q] * gain)
    GW2 = np.ascontiguousarray(result.G_vecs[:, :q] * gain)
    status = DONE if result.converged else LIMIT
    return Trained(np.ascontiguousarray(result.vecs), result.passes, float(result.res.max()),
                   lam, W2.T.copy(), W2, GW2 if np.all(gain > 0.0) else None, status=status,
                   rest=result.ritz[q:])


def solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0,
          cap_blocks=None):
    """The solver interface of :mod:`fastlae.solvers` on an
    :class:`~fastlae._operator.Operator`: ``r`` is the block width (:func:`block_for`
    unless the caller set it), ``max_iter`` the most products, ``init`` an earlier ``(W1,
    W2)`` to start from (its decoder's columns). With ``patience > 0`` (``"auto"``, whose
    ``max_iter`` and ``PATIENT_PASSES`` count products at :func:`default_block`'s width and
    are scaled to r's by :func:`relative_products`) a run that used up ``max_iter`` reports
    ``GAVE_UP`` and :func:`fastlae.pca` hands over to eigh; it gives up earlier where
    :func:`hopeless` says so, its rate taken to ``tol`` with a finite ``patience`` (the
    matrix-free plan, which then forms the Gram) and to the subspace :func:`target` with
    ``inf`` (a formed Gram): giving up early saves the products a flat spectrum would spend
    before eigh (sparse 300000 x 3000, flat: 12 instead of 54).
    ``cap_blocks``: stored columns ``k + cap_blocks r`` (:func:`default_cap`)."""
    lam = lam_floor if lam is None else lam
    start = None if init is None else init[1]
    hist = op.history("krylov")
    report = recorder(hist)
    give_up = None
    if patience > 0.0:   # the rate to tol matrix-free, to the subspace target on a Gram
        # "auto"'s budget and patience count products at the width its model prices
        scale = relative_products(k, r) / relative_products(k, default_block(k, op.m))
        max_iter = int(np.ceil(max_iter * scale))
        patient = int(np.ceil(PATIENT_PASSES * scale))

        def give_up(passes, worst, w):
            return hopeless(hist, passes, worst, w, k, r, tol, max_iter - passes,
                            subspace=patience == np.inf, patient=patient)

    cap = None if cap_blocks is None else default_cap(k, r, op.m, cap_blocks)
    with op.krylov_products(tol) as apply:
        result = run(apply, op.m, k, r, tol, max_iter, rng, cap=cap, start=start,
                     check_stop=op.data.check_stop, report=report, give_up=give_up)
    trained = trained_from(result, lam)
    if patience > 0.0 and not result.converged:   # "auto": hand over to the formed Gram
        trained.status = GAVE_UP
    return trained
