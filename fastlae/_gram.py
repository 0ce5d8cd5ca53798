"""The data pass: feature means, exact power-of-two scaling, and the centered Gram operator.

:class:`Problem` holds the validated data and decides which Gram matrix the solvers see:
the d x d feature Gram ``Xc.T @ Xc`` when ``n_samples >= n_features``, else the n x n sample
Gram ``Xc @ Xc.T`` (same non-zero eigenvalues; components are recovered as ``Xc.T u / s``).
All Gram arithmetic is float64, also for float32 input.
"""
import threading

import numpy as np

from . import _blas
from ._blas import blas_threads, syrk_update
from ._threads import Cancelled
from ._kernels.ops import (apply_data_t, apply_gram, center_block, center_block_exact,
                           center_block_ones, feature_stats, sum_lower_symmetric)

# The Gram pass (Problem._gram_around) runs one worker thread per BLAS thread, each with its
# own partial Gram and single-threaded SYRK (see fastlae._blas), when every worker gets at least
# two blocks and the partials fit PARTIAL_BYTES (or half of X's size, if more); else one
# thread with threaded BLAS. Measured on the project machine with
# benchmarks/bench_gram_block.py (7 interleaved rounds, medians against the bare X.T @ X):
# two workers 0.83x / 0.97x / 1.03x at 200000 x 256 / 100000 x 1000 / 20000 x 2000, the
# single-thread loop 1.11x / 1.15x / 1.10x.
# A worker's block: WORKER_BLOCK_ELEMENTS, but at least WORKER_BLOCK_MIN samples so each SYRK
# call runs near the core's peak. 2^19, 2^20 and 2^21 were within the noise at d = 1000 and
# 2000; 2^19 was best at d = 256 (0.83x against 0.88-0.89x). At d = 2000 blocks of 512 samples
# beat 262 (1.04x against 1.10x in a first prototype).
WORKER_BLOCK_ELEMENTS = 1 << 19
WORKER_BLOCK_MIN = 512
PARTIAL_BYTES = 1 << 28
# Elements (float64) per block of the single-thread Gram loop. Few, large BLAS calls: every call
# synchronizes OpenBLAS's threads, and any other busy thread then (NumPy's own OpenBLAS still
# spinning after the caller's last product, say) stretches the call by a scheduler time slice.
# Session 1 saw 2^18 blocks take 0.72-1.05 s for the 200000 x 256 Gram in some runs against
# 0.26-0.28 s with 2^21. Four interleaved runs of benchmarks/bench_gram_block.py at
# 100000 x 1000 later split two to two between 2^19 (a block that stays in L3; 1.03, 1.17, 1.06,
# 1.27x of the bare product) and 2^21 (1.11, 1.13, 1.13, 1.05x): no winner above the machine's
# noise, so the larger block stays. The matrix-free passes did best with
# 2^20 (centered copies) and 2^21 (uncentered views: 35 ms against 38 ms with 2^19 at
# 4000 x 4000, r = 40).
GRAM_BLOCK_ELEMENTS = 1 << 21
OPERATOR_BLOCK_ELEMENTS = 1 << 20
UNCENTERED_BLOCK_ELEMENTS = 1 << 21
_EMPTY = np.zeros((0, 0))
_EMPTY_BUF = np.zeros(0)
# One-pass Gram (see Problem.form_gram): the largest tolerated cancellation n (mean - shift)^2
# / C_jj (it costs about log10 of it in digits of C_jj), and the range of scaled magnitudes that
# keeps every square and sum of squares finite and normal.
KAPPA_MAX = 1e3
SAFE_MAX = 2.0 ** 64
SAFE_MIN = 2.0 ** -64
# The uncentered matrix-free operator is admitted when its rounding bound is below
# UNCENTERED * tol (the solvers then finish with centered passes where their target lies below
# that bound, see fastlae.solvers.als_tied).
UNCENTERED = 1e-2


def _block(other, elements=OPERATOR_BLOCK_ELEMENTS):
    return int(max(16, min(elements // max(other, 1), 1 << 16)))


def gram_workers(span, m, nbytes):
    """``(workers, block)`` for a Gram pass over ``span`` samples (or features) of an m x m Gram
    from data of ``nbytes`` bytes: the thread count and the samples per block (see
    ``WORKER_BLOCK_ELEMENTS``)."""
    block = max(WORKER_BLOCK_MIN, WORKER_BLOCK_ELEMENTS // m)
    fit = max(PARTIAL_BYTES, nbytes // 2) // (8 * m * m)
    workers = min(blas_threads(), span // (2 * block), fit)
    if workers > 1:
        return int(workers), int(block)
    return 1, _block(m, GRAM_BLOCK_ELEMENTS)


class Problem:
    """Centered, scaled view of the data and the Gram operator the solvers iterate on.

    Parameters
    ----------
    A : ndarray of shape (p, q), C-contiguous float32/float64
        ``X`` or, when ``transposed``, ``X.T`` (see :func:`fastlae._validation.check_X`).
    transposed : bool

    Attributes
    ----------
    n, d : int
        Samples and features of X.
    mean : ndarray of shape (d,), float64
    scale : float
        A power of two; the solvers see ``G = Gram(Xc) / scale**2``, so neither overflow nor
        underflow can happen for data between about 1e-150 and 1e150.
    features : bool
        True when the solvers' Gram is the feature Gram (``m = d``), False for the sample Gram.
    m : int
        Size of the solvers' Gram.
    solver_cache : dict
        Per-problem precomputations of the solvers, reused by a continued run.
    """

    def __init__(self, A, transposed, stop=None, in_caller=None):
        self.A = A
        self.feat_axis = 0 if transposed else 1
        p, q = A.shape
        self.n, self.d = (q, p) if transposed else (p, q)
        self.features = self.n >= self.d
        self.m = self.d if self.features else self.n
        # the solvers' Gram is the Gram of A's columns when it is the feature Gram of an
        # untransposed A, or the sample Gram of a transposed one
        self.of_cols = self.features == (self.feat_axis == 1)
        self.C = _EMPTY
        self.mean = None
        # cancellation flag, set to 1 from another thread; read between blocks and iterations
        self.stop = np.zeros(1, dtype=np.int64) if stop is None else stop
        # runs a function in the thread that may set BLAS thread limits (see _threads.interruptible)
        self.in_caller = (lambda fn: fn()) if in_caller is None else in_caller
        self.scale = self.inv = 1.0
        self._bufs = {}
        self._total = None          # trace from the statistics pass, when exact enough
        self.uncentered_error = None   # see use_uncentered
        self.solver_cache = {}      # als's tridiagonal form, for fastlae.pca's continued runs

    def stats(self):
        """The exact feature means, power-of-two scale and total variance, by one pass (idempotent).

        The total variance comes from sums of squares around the provisional center; when the
        correction to the exact mean would cancel more than ``KAPPA_MAX`` allows, or a square
        overflowed, :meth:`trace` takes a second, centered pass instead.
        """
        if self.mean is None:
            shift = self._provisional_center()
            self.mean, maxabs, sumsq = feature_stats(self.A, self.feat_axis, shift)
            self._set_scale(2.0 * maxabs)  # |a - mean| <= 2 max|a|
            with np.errstate(over="ignore", invalid="ignore"):
                dev = self.n * float(np.sum((self.mean - shift) ** 2))
                total = sumsq - dev
                if np.isfinite(sumsq) and total > 0.0 and dev <= KAPPA_MAX * total:
                    self._total = total * self.inv * self.inv
        return self

    def _provisional_center(self):
        """Mean of the first (up to 256) samples: the shift of the one-pass statistics."""
        A = self.A
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: check_finite reports it
            if self.feat_axis == 1:
                shift = A[: min(A.shape[0], 256)].mean(axis=0, dtype=np.float64)
            else:
                shift = A[:, : min(A.shape[1], 256)].mean(axis=1, dtype=np.float64)
        return np.ascontiguousarray(shift)

    def use_uncentered(self, tol):
        """Offer the matrix-free solvers an operator that skips the centered copy of each block
        when that is exact enough for ``tol``; returns whether it does.

        The uncentered operator (:func:`fastlae._kernels.ops._apply_gram_uncentered`) rounds
        relative to ``|X| |Xc|`` instead of ``|Xc|^2``: a relative error of about
        ``eps sqrt(1 + n |mean|^2 / lambda_1)``. With ``lambda_1 >= trace / m`` it is offered
        when that bound is below ``UNCENTERED * tol`` (float64 data with features as columns,
        magnitudes in the safe range), and the bound is kept in :attr:`uncentered_error`:
        a solver aiming below it finishes with centered passes (``kernel_args(...,
        centered=True)``).
        """
        self.stats()
        self.uncentered_error = None
        if self.A.dtype != np.float64 or self.feat_axis != 1 or not self.of_cols \
                or not self.features or self._total is None \
                or not SAFE_MIN <= self.scale <= SAFE_MAX:
            return False
        ratio = self.m * self.n * float(np.sum(self.mean ** 2)) * self.inv ** 2 / self._total
        error = np.finfo(float).eps * np.sqrt(1.0 + ratio)
        if error <= UNCENTERED * tol:
            self.uncentered_error = float(error)
        return self.uncentered_error is not None

    def _set_scale(self, biggest):
        self.scale = 1.0 if biggest == 0.0 else float(2.0 ** np.frexp(biggest)[1])
        self.inv = 1.0 / self.scale

    # -- blocked passes ------------------------------------------------------------------
    def _buf(self, of_cols):
        """``(block, buf)`` of the operator passes: rows (or columns) of A per block and scratch
        space for one block (the Gram pass allocates its own, one per thread)."""
        if of_cols not in self._bufs:
            other = self.A.shape[1] if of_cols else self.A.shape[0]
            block = _block(other)
            self._bufs[of_cols] = (block, np.empty(block * other))
        return self._bufs[of_cols]

    def form_gram(self):
        """Form the solvers' Gram matrix once (m x m, float64) by blocked SYRK on centered blocks.

        The feature Gram is formed in one pass over X: blocks are centered around a provisional
        center (the mean of the first 256 samples) and extended by a sample of ones, so the
        same SYRK also yields the feature sums; the exact mean is put in afterwards as the
        rank-one correction ``C = C' - n m m^T`` with ``m = mean - shift``. That correction
        cancels digits only when ``n m_j^2`` is large against ``C_jj``; above ``KAPPA_MAX``
        (data sorted along a feature, say), or when the provisional scale let the largest
        feature's root mean square leave ``[SAFE_MIN, SAFE_MAX]`` (squares could have
        overflowed or underflowed; also when the data are constant), the Gram is formed again
        around the exact mean from :meth:`stats` (a second pass). The sample Gram is formed in one
        pass too, see :meth:`_form_sample_gram_one_pass`.

        Returns
        -------
        float
            Its trace: the total (scaled) variance times ``n - 1``.
        """
        # overflow and NaN are handled below (fallback) and by the caller (check_finite)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.mean is None:
                if self.features and self._form_gram_one_pass() or \
                        not self.features and self._form_sample_gram_one_pass():
                    return float(np.trace(self.C))
        self.stats()
        self.C = self._gram_around(self.mean)
        return float(np.trace(self.C))

    def _form_gram_one_pass(self):
        A, n, d = self.A, self.n, self.d
        shift = self._provisional_center()
        if self.feat_axis == 1:
            first = A[: min(A.shape[0], 256)] - shift
        else:
            first = A[:, : min(A.shape[1], 256)] - shift[:, None]
        self._set_scale(float(np.max(np.abs(first))))
        G = self._gram_around(shift, ones=True)
        msh = G[:d, d] / n          # (mean - shift) * inv
        C = G[:d, :d]
        # the largest feature's root mean square bounds the largest scaled magnitude b:
        # rms <= b <= sqrt(n) rms, so [SAFE_MIN, SAFE_MAX] on it keeps every square normal
        top = float(np.max(np.diag(C)))
        C -= n * np.outer(msh, msh)
        diag = np.diag(C)
        with np.errstate(divide="ignore"):
            kappa = np.where(msh != 0.0, n * msh * msh / np.where(diag > 0, diag, 0.0), 0.0)
        if not n * SAFE_MIN ** 2 <= top <= n * SAFE_MAX ** 2 \
                or not np.all(np.isfinite(C)) or np.any(~(kappa <= KAPPA_MAX)):
            return False
        self.mean = shift + msh * self.scale
        self.C = np.ascontiguousarray(C)
        return True

    def _form_sample_gram_one_pass(self):
        """The sample Gram in one pass: each block holds every sample of its features, so it is
        centered around their exact means (:func:`center_block_exact`) and no statistics pass
        comes first. The scale comes from the largest magnitude of the first 256 features; when
        the largest over all of X then lies outside ``[SAFE_MIN, SAFE_MAX]`` in scaled units
        (squares could have overflowed or underflowed; also for NaN), returns False and
        :meth:`form_gram` takes the two-pass route.
        """
        A = self.A
        head = A[:, : min(A.shape[1], 256)] if self.feat_axis == 1 else A[: min(A.shape[0], 256)]
        self._set_scale(2.0 * float(np.max(np.abs(head))))   # |a - mean| <= 2 max|a|
        mean = np.empty(self.d)
        G, big = self._gram_around(mean, exact=True)
        b = 2.0 * big * self.inv
        if not (SAFE_MIN <= b <= SAFE_MAX) or not np.all(np.isfinite(G)):
            return False
        self.mean = mean
        self.C = G
        return True

    def _gram_around(self, center, ones=False, exact=False):
        """Sum of ``B.T B`` (or ``B B.T``) over the blocks ``B = (A - center) * inv``.

        With ``ones`` each block gets an extra sample of ones (:func:`center_block_ones`), so
        the result has one more row and column: the feature sums and, in the corner, n.
        With ``exact`` (sample Gram: every block holds all samples of its features) each block
        is centered around its features' exact means, which :func:`center_block_exact` writes
        into ``center``. Returns the symmetric Gram, and with ``exact`` also the largest
        ``|a|``.

        With ``T = gram_workers(...) > 1`` the blocks are dealt round-robin to ``T`` threads (this
        one and ``T - 1`` more); each centers its blocks into its own buffer and adds them
        to its own partial Gram with a single-threaded SYRK that releases the GIL
        (:mod:`fastlae._blas`), so centering runs in parallel and overlaps the products. The
        partials are summed in a fixed order: results do not depend on thread timing. BLAS is
        set to one thread meanwhile, from the caller's thread (:attr:`in_caller`); where that
        is not possible (:func:`fastlae._blas.limit_to_one`) one thread runs the pass on
        threaded BLAS.
        """
        A, (p, q) = self.A, self.A.shape
        m = self.m + ones
        span = p if self.of_cols else q   # samples (or features) of A to run over
        workers, block = gram_workers(span, m, A.nbytes)
        if workers > 1 and not self.in_caller(_blas.limit_to_one):
            workers, block = 1, _block(m, GRAM_BLOCK_ELEMENTS)   # BLAS stays threaded
        fill = center_block_exact if exact else center_block_ones if ones else center_block
        partials = np.zeros((workers, m, m))   # partials[t].T: F-ordered, upper triangle used
        bigs = np.zeros(workers)
        errors = []

        def run(t):
            try:
                buf = np.empty(block * m)
                for s0 in range(t * block, span, workers * block):
                    if errors:
                        return
                    self.check_stop()
                    s1 = min(span, s0 + block)
                    if self.of_cols:   # row block: C += B.T @ B
                        B = buf[: (s1 - s0) * m].reshape(s1 - s0, m)
                        big = fill(A, s0, s1, 0, q, center, self.feat_axis, self.inv, B)
                    else:              # column block: C += B @ B.T
                        B = buf[: m * (s1 - s0)].reshape(m, s1 - s0)
                        big = fill(A, 0, p, s0, s1, center, self.feat_axis, self.inv, B)
                    if exact:
                        bigs[t] = max(bigs[t], big)
                    syrk_update(B, partials[t].T, self.of_cols)
            except BaseException as err:  # re-raised by the caller's thread below
                errors.append(err)

        if workers == 1:
            run(0)
        else:
            try:
                threads = [threading.Thread(target=run, args=(t,), daemon=True,
                                            name=f"fastlae-gram-{t}") for t in range(1, workers)]
                for th in threads:
                    th.start()
                run(0)
                for th in threads:
                    th.join()
            finally:
                self.in_caller(_blas.restore)
        if errors:
            raise errors[0]
        G = sum_lower_symmetric(partials)
        return (G, float(bigs.max())) if exact else G

    def kernel_args(self, matrix_free, centered=False):
        """Arguments ``(C, A, mean, feat_axis, inv, of_cols, block, buf, stop)`` of the kernels.

        In matrix-free mode after :meth:`use_uncentered` offered it, and unless ``centered``,
        the buffer is empty: the kernels then multiply views of A's rows (blocks of
        ``UNCENTERED_BLOCK_ELEMENTS``).
        """
        if matrix_free and self.uncentered_error is not None and not centered:
            block, buf = _block(self.A.shape[1], UNCENTERED_BLOCK_ELEMENTS), _EMPTY_BUF
        else:
            block, buf = self._buf(self.of_cols)
        C = _EMPTY if matrix_free else self.C
        return (C, self.A, self.mean, self.feat_axis, self.inv, self.of_cols, block, buf,
                self.stop)

    def check_stop(self):
        """Raise :class:`Cancelled` once :attr:`stop` is set (between blocks and solver calls)."""
        if self.stop[0]:
            raise Cancelled

    def apply(self, V, matrix_free):
        """The solvers' Gram times ``V`` (m x r)."""
        return apply_gram(*self.kernel_args(matrix_free), np.ascontiguousarray(V))

    def trace(self):
        """Trace of the solvers' Gram (scaled): from the formed Gram or the statistics pass,
        else by one centered blocked pass."""
        if self.C.shape[0]:
            return float(np.trace(self.C))
        self.stats()
        if self._total is not None:
            return self._total
        total = 0.0
        A, (p, q) = self.A, self.A.shape
        block, buf = self._buf(True)  # row blocks: the matrix-free operator's buffer when of_cols
        for r0 in range(0, p, block):
            self.check_stop()
            r1 = min(p, r0 + block)
            B = buf[: (r1 - r0) * q].reshape(r1 - r0, q)
            center_block(A, r0, r1, 0, q, self.mean, self.feat_axis, self.inv, B)
            total += float(np.einsum("ij,ij->", B, B))
        return total

    def to_features(self, U):
        """Map sample-space vectors ``U`` (n x r) to ``Xc.T @ U / scale`` (d x r)."""
        block, buf = self._buf(not self.of_cols)
        return apply_data_t(self.A, self.mean, self.feat_axis, self.inv, not self.of_cols,
                            block, buf, np.ascontiguousarray(U))

    def apply_features(self, V):
        """The feature Gram ``Xc.T @ Xc / scale**2`` times ``V`` (d x r), whichever Gram is formed."""
        if self.features:
            return self.apply(V, matrix_free=self.C.shape[0] == 0)
        block, buf = self._buf(not self.of_cols)
        return apply_gram(_EMPTY, self.A, self.mean, self.feat_axis, self.inv, not self.of_cols,
                          block, buf, self.stop, np.ascontiguousarray(V))
