"""Forming the solvers' Gram matrix: one pass over X (two where one would lose precision).

The pass is blocked and parallel over blocks: one Python thread per BLAS thread, each
centering its own blocks into its own buffer and adding them to its own partial Gram with a
single-threaded SYRK that releases the GIL (:mod:`fastlae._blas`), so that centering overlaps
the other threads' products; the partials are summed in a fixed order. Block sizes and the
measurements behind them: ``docs/design.md`` and ``scripts/bench_gram_block.py``.
"""

import numpy as np

from ._blas import blas_threads, syrk_update
from ._data import HEAD, KAPPA_MAX, SAFE_MAX, SAFE_MIN, block_length
from ._threads import run_blocks
from ._kernels.passes import (center_block, center_block_exact, center_block_exact_sums,
                              center_block_ones, center_block_sums, fold_lower_symmetric,
                              sum_lower_symmetric)

# A worker's block: WORKER_BLOCK_ELEMENTS (it stays in L2/L3 so SYRK runs near peak), but at
# least WORKER_BLOCK_MIN samples; the partials (one m x m matrix per worker) may take
# PARTIAL_BYTES or half of X's size, whichever is more.
WORKER_BLOCK_ELEMENTS = 1 << 19
WORKER_BLOCK_MIN = 512
PARTIAL_BYTES = 1 << 28
# Elements per block of the single-thread loop on threaded BLAS: few, large calls, since every
# call synchronizes BLAS's threads and a busy machine stretches each synchronization.
GRAM_BLOCK_ELEMENTS = 1 << 21
# Forming in float32 (single): one-pass corrections to the mean may cancel at most a digit of
# float32's seven, and the scaled root mean square of the largest feature must lie in
# [2^-40, 2^40], where every square of a value stays a normal float32.
KAPPA_SINGLE = 10.0
SINGLE_RANGE = 2.0 ** 40


def gram_workers(span, m, nbytes, threads=0):
    """``(workers, block)`` for a Gram pass over ``span`` samples (or features) of an m x m Gram
    from data of ``nbytes`` bytes: the thread count and the samples per block. More than one
    worker when each gets at least two blocks and their partials fit. ``threads``: the
    threads to use (0: as many as BLAS would use now)."""
    block = max(WORKER_BLOCK_MIN, WORKER_BLOCK_ELEMENTS // m)
    fit = max(PARTIAL_BYTES, nbytes // 2) // (8 * m * m)
    workers = min(threads or blas_threads(), span // (2 * block), fit)
    if workers > 1:
        return int(workers), int(block)
    return 1, block_length(m, GRAM_BLOCK_ELEMENTS)


def form_gram(data, single=False):
    """Form the solvers' Gram matrix (m x m, float64) and set ``data.mean`` and its scale.

    The feature Gram is formed in one pass over X (:func:`one_pass_features`), the sample Gram
    too (:func:`one_pass_samples`). In double precision, where either would lose precision the
    Gram is formed again around the exact mean from :meth:`ArrayData.stats
    <fastlae._data.ArrayData.stats>` (a second pass). With ``single`` the products are rounded
    to float32 and summed by SSYRK (about twice the float64 rate; :mod:`fastlae._mixed`
    refines the answer): the means, the diagonal and the trace come exactly (float64) from the
    same pass, and None is returned where float32 would lose more (the caller forms the
    float64 Gram).

    Returns
    -------
    C : ndarray of shape (m, m), float64
    trace : float
        Its trace: the total (scaled) variance times ``n - 1``.
    """
    # overflow and NaN are handled below (fallback) and by the caller (check_finite)
    with np.errstate(over="ignore", invalid="ignore"):
        if data.mean is None or single:
            one_pass = one_pass_features if data.gram == "features" else one_pass_samples
            C = one_pass(data, single)
            if C is not None:
                return C, float(np.trace(C))
            if single:
                return None
    data.stats()
    C = gram_around(data, data.mean)
    return C, float(np.trace(C))


def one_pass_features(data, single=False):
    """The feature Gram in one pass, or None when the second pass must run.

    Blocks are centered around a provisional center (the mean of the first ``HEAD`` samples).
    In double precision each is extended by a sample of ones, so the same SYRK also yields the
    feature sums; with ``single`` the sums and sums of squares come in float64 from the same
    pass (:func:`~fastlae._kernels.passes.center_block_sums`) and replace the diagonal. The
    exact mean is put in afterwards as the rank-one correction ``C = C' - n m m^T`` with ``m =
    mean - shift``. That correction cancels digits only when ``n m_j^2`` is large against
    ``C_jj``; above ``KAPPA_MAX`` (``KAPPA_SINGLE``: data sorted along a feature, say), or when
    the provisional scale let the largest feature's root mean square leave ``[SAFE_MIN,
    SAFE_MAX]`` (``SINGLE_RANGE``: squares could have overflowed or underflowed; also when the
    data are constant), returns None. Sets ``data.mean`` when it succeeds.
    """
    A, n, d = data.A, data.n, data.d
    shift = data.provisional_center()
    if data.feat_axis == 1:
        first = A[: min(A.shape[0], HEAD)] - shift
    else:
        first = A[:, : min(A.shape[1], HEAD)] - shift[:, None]
    data.set_scale(float(np.max(np.abs(first))))
    if single:
        C, sums, sumsq = gram_around(data, shift, single=True)
        msh = sums / n          # (mean - shift) * inv
        top = float(np.max(sumsq))
        np.fill_diagonal(C, sumsq)
        kappa_max, low, high = KAPPA_SINGLE, SINGLE_RANGE ** -2, SINGLE_RANGE ** 2
    else:
        G = gram_around(data, shift, ones=True)
        msh = G[:d, d] / n
        C = G[:d, :d]
        top = float(np.max(np.diag(C)))
        kappa_max, low, high = KAPPA_MAX, SAFE_MIN ** 2, SAFE_MAX ** 2
    # the largest feature's root mean square bounds the largest scaled magnitude b:
    # rms <= b <= sqrt(n) rms, so a range on it keeps every square normal
    C -= n * np.outer(msh, msh)
    diag = np.diag(C)
    with np.errstate(divide="ignore"):
        kappa = np.where(msh != 0.0, n * msh * msh / np.where(diag > 0, diag, 0.0), 0.0)
    if not n * low <= top <= n * high or not np.all(np.isfinite(C)) \
            or np.any(~(kappa <= kappa_max)):
        data.set_scale(1.0)
        return None
    data.mean = shift + msh * data.scale
    return np.ascontiguousarray(C)


def one_pass_samples(data, single=False):
    """The sample Gram in one pass, or None when the second pass must run.

    Each block holds every sample of its features, so it is centered around their exact means
    (:func:`~fastlae._kernels.passes.center_block_exact`) and no statistics pass comes first;
    with ``single`` each sample's sum of squares comes in float64 from the same pass and
    replaces the diagonal. The scale comes from the largest magnitude of the first ``HEAD``
    features; when the largest over all of X then lies outside ``[SAFE_MIN, SAFE_MAX]``
    (float32's ``SINGLE_RANGE``) in scaled units (squares could have overflowed or underflowed;
    also for NaN), returns None. Sets ``data.mean`` when it succeeds.
    """
    A = data.A
    head = A[:, : min(A.shape[1], HEAD)] if data.feat_axis == 1 else A[: min(A.shape[0], HEAD)]
    data.set_scale(2.0 * float(np.max(np.abs(head))))   # |a - mean| <= 2 max|a|
    mean = np.empty(data.d)
    if single:
        G, big, sumsq = gram_around(data, mean, exact=True, single=True)
        top = float(np.max(sumsq))
        safe = 2.0 * big * data.inv <= SINGLE_RANGE and np.isfinite(top) \
            and data.d * SINGLE_RANGE ** -2 <= top
        np.fill_diagonal(G, sumsq)
    else:
        G, big = gram_around(data, mean, exact=True)
        safe = SAFE_MIN <= 2.0 * big * data.inv <= SAFE_MAX
    if not safe or not np.all(np.isfinite(G)):
        data.set_scale(1.0)
        return None
    data.mean = mean
    return G


def gram_around(data, center, ones=False, exact=False, single=False):
    """Sum of ``B.T B`` (or ``B B.T``) over the blocks ``B = (A - center) * inv``.

    With ``ones`` each block gets an extra sample of ones (:func:`center_block_ones`), so
    the result has one more row and column: the feature sums and, in the corner, n.
    With ``exact`` (sample Gram: every block holds all samples of its features) each block
    is centered around its features' exact means, which :func:`center_block_exact` writes
    into ``center``. With ``single`` the blocks are rounded to float32 and summed by SSYRK into
    float32 partials (:mod:`fastlae._mixed`), and each feature's sum and sum of squares of
    ``B`` are accumulated in float64 alongside (:func:`center_block_sums`; with ``exact`` as
    well, each sample's sum of squares: :func:`center_block_exact_sums`). Returns the
    symmetric Gram (float64), with ``exact`` also the largest ``|a|``, with ``single`` also
    the sums (not with ``exact``) and the sums of squares.

    The blocks run on :func:`run_blocks`' threads, each adding its blocks to its own partial
    Gram with a single-threaded SYRK; the partials are summed in a fixed order, so results
    do not depend on thread timing.
    """
    A, (p, q) = data.A, data.A.shape
    axis = data.gram_axis
    m = data.m + ones
    span = p if axis == 1 else q   # blocks of A's rows for the Gram of its columns
    workers, block = gram_workers(span, m, A.nbytes, data.held_threads)
    fill = center_block_exact if exact else center_block_ones if ones else center_block
    dtype = np.float32 if single else np.float64
    bigs = np.zeros(workers)
    sums = np.zeros((workers, data.d)) if single and not exact else None
    sumsq = np.zeros((workers, data.n if exact else data.d)) if single else None
    first = rest = bufs = None
    data.activity.start("Gram pass")

    def start(workers, block):
        nonlocal first, rest, bufs
        # the partials (transposed: F-ordered, upper triangle): rest[t], or in float64 first
        # and rest[t - 1], the first its own array that the others are folded into (it
        # becomes the Gram; they can be freed)
        if single:
            rest = np.zeros((workers, m, m), dtype=dtype)
        else:
            first, rest = np.zeros((m, m)), np.zeros((workers - 1, m, m))
        bufs = [np.empty(block * m, dtype=dtype) for _ in range(workers)]
        data.activity.start("Gram pass", -(-span // block))

    def partial(t):
        return rest[t] if first is None else first if t == 0 else rest[t - 1]

    def body(t, s0, s1):
        buf = bufs[t]
        if axis == 1:   # row block: C += B.T @ B
            B = buf[: (s1 - s0) * m].reshape(s1 - s0, m)
            r0, r1, c0, c1 = s0, s1, 0, q
        else:              # column block: C += B @ B.T
            B = buf[: m * (s1 - s0)].reshape(m, s1 - s0)
            r0, r1, c0, c1 = 0, p, s0, s1
        if single and exact:
            big = center_block_exact_sums(A, r0, r1, c0, c1, center, data.feat_axis, data.inv,
                                          B, sumsq[t])
            bigs[t] = max(bigs[t], big)
        elif single:
            center_block_sums(A, r0, r1, c0, c1, center, data.feat_axis, data.inv, B,
                              sums[t], sumsq[t])
        else:
            big = fill(A, r0, r1, c0, c1, center, data.feat_axis, data.inv, B)
            if exact:
                bigs[t] = max(bigs[t], big)
        syrk_update(B, partial(t).T, axis)
        data.activity.advance()

    run_blocks(data, span, workers, block, block_length(m, GRAM_BLOCK_ELEMENTS), start, body)
    if single:
        G = sum_lower_symmetric(rest)
    else:
        G = first
        fold_lower_symmetric(G, rest)
    if single and exact:
        return G, float(bigs.max()), sumsq.sum(axis=0)
    if single:
        return G, sums.sum(axis=0), sumsq.sum(axis=0)
    return (G, float(bigs.max())) if exact else G
