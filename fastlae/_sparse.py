"""``scipy.sparse`` input, centered implicitly: never densified, no dense copy of X.

The feature Gram of the centered data is ``Xc.T @ Xc = X.T @ X - n m m^T`` (``m`` the feature
means): the sparse product by fastlae's own kernels (threads over tiles or rows of the Gram, the
work of the non-zeros' multiply-adds; :meth:`Products.gram`) and a rank-one correction applied
while the triangle is mirrored, in O(n_features^2) dense memory (a
:class:`fastlae._data.GramData`). The
correction cancels digits only where ``n m_j^2`` is large against the column's centered sum of
squares; the certificate catches that, since it is computed with sparse products from X
itself: ``Xc.T (Xc V) = X.T (X V) - n m (m^T V)``. With more than
:data:`fastlae._stream.GRAM_FEATURES_MAX` features no Gram is formed: the solver applies it by
those products (a :class:`fastlae._data.PassData`, :mod:`fastlae.solvers.krylov`).
"""
import time

import numpy as np

from . import _errors as E
from ._blas import blas_threads
from ._threads import Cancelled, run_spans
from ._data import SAFE_MAX, SAFE_MIN, GramData, PassData, pow2_at_least, uncentered_rounding
from ._kernels.sparse import (band_counts, centered_squares, column_positions, column_sums,
                              gram_rows, gram_tile, rows_gram_times, rows_times,
                              rows_transposed_times, split_bands, symmetrize_rows)

# The largest n mean^2 / (centered sum of squares) of a column that implicit centering takes:
# it loses about log10 of it in digits (1e6: the Gram keeps 10 of 16).
SPARSE_KAPPA_MAX = 1e6
# The certificate's residuals include ROUNDING_FACTOR times the implicit centering's rounding
# bound (see Products.rounding).
ROUNDING_FACTOR = 4.0


def is_sparse(X):
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "tocsr")


def check_sparse(X):
    """X as CSR with float32/float64 data, checked (shape, dtype, finite values)."""
    if X.ndim != 2:
        raise ValueError(E.X_NDIM.format(ndim=X.ndim))
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(E.X_EMPTY.format(shape=X.shape))
    if X.dtype.kind not in "biuf":
        raise TypeError(E.X_DTYPE.format(dtype=X.dtype))
    X = X.tocsr()
    out_dtype = np.dtype(np.float64) if X.dtype.kind in "biu" else X.dtype
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.nnz and not np.all(np.isfinite(X.data)):
        what = "NaN" if np.isnan(X.data).any() else "infinity"
        raise ValueError(E.X_NONFINITE.format(what=what))
    return X, out_dtype


def _scaled(X, stop):
    """``(Xs, mean, scale, pre, centered)``: X with float64 values (float32 data are multiplied in
    float64: one copy of the non-zeros, never dense; duplicate entries summed, in a copy), its
    feature means, the power of two at or above its centered magnitudes, and the factor
    products of Xs still need (``1 / scale``, or 1 where Xs itself was scaled because squares
    would leave the normal range), and each column's centered sum of squares (divided by
    ``scale**2``). Two threaded reads of the non-zeros (:func:`_column_stats`)."""
    Xs = X if X.dtype == np.float64 else X.astype(np.float64)
    n, d = Xs.shape
    total, nnz, biggest, twice = _column_stats(Xs, stop)
    if twice:   # duplicate entries: summed in a copy, as SciPy's products would
        Xs = Xs.copy() if Xs is X else Xs
        Xs.sum_duplicates()
        total, nnz, biggest, twice = _column_stats(Xs, stop)
    mean = total / n
    scale = pow2_at_least(2.0 * biggest)   # |x - m| <= 2 max|x|
    # each column's centered sum of squares without cancellation, in units of scale (in
    # range at any magnitude): the non-zeros' deviations plus (n - nnz) zeros at distance
    # |mean|; the rank-one correction -n m m^T cancels about log10(n m^2 / that) digits,
    # refused above SPARSE_KAPPA_MAX
    inv = 1.0 / scale
    ms = mean * inv
    centered, = summed(n, [(d,)], stop, lambda r0, r1, out: centered_squares(
        Xs.indptr, Xs.indices, Xs.data, ms, inv, r0, r1, out))
    centered += (n - nnz) * ms ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(ms != 0.0, n * ms ** 2 / centered, 0.0)
    if np.any(kappa > SPARSE_KAPPA_MAX):
        j = int(np.argmax(kappa))
        raise ValueError(E.SPARSE_MEAN.format(j=j, mean=mean[j],
                                              std=np.sqrt(centered[j] / n) * scale,
                                              digits=f"{np.log10(kappa[j]):.0f}"
                                              if np.isfinite(kappa[j]) else "all its"))
    if not SAFE_MIN <= biggest <= SAFE_MAX and biggest > 0.0:
        return Xs * (1.0 / scale), mean, scale, 1.0, centered
    return Xs, mean, scale, 1.0 / scale, centered


def _column_stats(Xs, stop):
    """``(sums, entries, largest, twice)`` of a CSR ``Xs``: each column's sum and stored
    entries, the largest magnitude, and whether a row stores a column twice
    (:func:`~fastlae._kernels.sparse.column_sums`, threads over spans of rows)."""
    d = Xs.shape[1]
    parts = partials(Xs.shape[0], lambda: [np.zeros(d), np.zeros(d), np.zeros(2),
                                           np.full(d, -1, dtype=np.int64)], stop,
                     lambda r0, r1, total, count, flags, last: column_sums(
                         Xs.indptr, Xs.indices, Xs.data, r0, r1, total, count, last, flags))
    total, count = (sum(part[i] for part in parts) for i in range(2))
    largest = max(float(part[2][0]) for part in parts)
    return total, count, largest, any(part[2][1] for part in parts)


# Spans per thread (dealt round-robin: the rows of the Gram's upper triangle shrink), each at
# least SPAN_ROWS rows (of the Gram, of X, of X.T): one compiled call each.
SPANS_PER_WORKER = 16
SPAN_ROWS = 64
# The Gram by tiles (gram_tile) of at most TILE_WIDTH^2 entries (2 MiB: in cache), at least
# TILES_PER_WORKER of them per thread, where a tile's visits to the rows of X cost little
# against its multiply-adds: n_samples * tiles <= TILE_VISITS * multiply-adds. Otherwise (rows
# with few entries per band of columns) by rows of the Gram (gram_rows). Measured, 2 cores,
# Products.gram tiles / rows: 200000 x 5000 at 0.5% 0.48, 300000 x 3000 at 0.5% 0.40, 60000 x
# 2000 at 4% 0.43 (visits 0.003-0.18 per multiply-add); one thread, 100000 x 16000 at 0.2%:
# 3.2 (0.97 visits per multiply-add).
TILE_WIDTH = 512
TILES_PER_WORKER = 2
TILE_VISITS = 0.25
# The m x m Gram (m = min(n_samples, n_features): the sample Gram of wide data) is formed at
# once where m <= GRAM_ALWAYS (its eigh costs little). Up to GRAM_FEATURES_MAX, where m^2 <=
# GRAM_PER_NONZERO * nnz, the run starts by sparse passes and forms the Gram only where it
# gives up (a flat spectrum; see fastlae._solve._pass_budget): on decaying spectra about 21
# products of 4 columns cost less than the Gram and its own products (measured, 2 cores, k
# 10, one run on a loaded machine: 200000 x 5000 at 0.5%, 0.28-0.37 s against 0.63-1.04 s
# formed; 300000 x 3000 flat: 1.8-2.2 s, 12 products then eigh, against 1.5-1.8 s formed).
# Beyond, by passes only: the Gram's entries, written once and read by every product, cost
# about as much as 16 passes over the non-zeros (10000 x 50000 at 0.2%, m^2 = 100 nnz: 1.9 s
# formed against 0.32 s by passes).
GRAM_ALWAYS = 2048
GRAM_PER_NONZERO = 16
# Both products of Xc.T (Xc V) run in one pass over the non-zeros (rows_gram_times) where V
# takes at most ONE_PASS_BYTES: the rows of V read and of the result written then share the
# cache (measured, 2 cores with BLAS at one thread as in a run, 200000 rows, 4 columns,
# Products.times one pass / two, medians of 9: V of 156 and 312 KB 0.68-0.69; 625 KB 1.07;
# 1.25 and 2.5 MB 0.94-0.95).
ONE_PASS_BYTES = 1 << 19


def threaded(kernel, span, stop, size=None, threads=0):
    """Run ``kernel(t, s0, s1)`` over ``range(span)`` in spans dealt round-robin to threads
    ``t = 0, 1, ...``, one per BLAS thread (``threads`` where BLAS is held at one, see
    :func:`fastlae._threads.one_blas_thread`; the kernels hold no GIL); a set ``stop`` flag
    cancels between spans (:class:`fastlae._threads.Cancelled`), and the first error of any
    thread is raised here. Spans of ``size`` (default: at least ``SPAN_ROWS``, about
    ``SPANS_PER_WORKER`` per thread)."""
    threads = threads or blas_threads()
    if size is None:
        workers = max(1, min(threads, span // SPAN_ROWS))
        size = max(SPAN_ROWS, -(-span // (workers * SPANS_PER_WORKER)))
    else:
        workers = max(1, min(threads, -(-span // size)))

    def check():
        if stop[0]:
            raise Cancelled

    run_spans(kernel, span, size, workers, check, "fastlae-sparse")


def tile_bands(n, d, madds, workers):
    """Bands of columns for :func:`~fastlae._kernels.sparse.gram_tile` (``bands * (bands + 1)
    / 2`` tiles of the upper triangle), or 0 where forming the Gram by rows costs less."""
    bands = max(-(-d // TILE_WIDTH), 1)
    while workers > 1 and bands * (bands + 1) // 2 < TILES_PER_WORKER * workers \
            and bands < d:
        bands += 1
    return bands if n * bands * (bands + 1) / 2 <= TILE_VISITS * madds else 0


class Products:
    """Threaded products with a CSR matrix ``Xs`` (scaled values times ``pre``), its transpose
    and its Gram; the ``products`` of :class:`fastlae._data.Data`. Its passes run their own
    threads (``OWN_THREADS``: a run of many holds BLAS at one thread meanwhile)."""

    OWN_THREADS = True
    # Columns per product of the runs by passes: each non-zero reads a row of V, which leaves
    # the cache beyond 4 columns, and the kernels sum 4 columns at a time in registers.
    # Measured (2 cores, k 10, the call with blocks of 2/3/4/6/8, medians of 3): 200000 x 40000
    # at 0.05%, 0.70/0.91/0.75/0.89/0.92 s (22 products of 4 columns, the solve 31 ms a
    # product with the orthogonalization of 40000-long vectors); 200000 x 5000 at 0.5%,
    # 0.37/0.38/0.21/0.38/0.32 s (21 products of 4 columns, the solve 9 ms a product; 16 of
    # 8 columns at 18 ms).
    BLOCK = 4

    def __init__(self, Xs, pre, stop, columns=False):
        self.csr = Xs   # sorted by gram() where it is not: the products take any order
        self.pre, self.stop = pre, stop
        # X's columns as the rows of a CSR copy of X.T (12 bytes per non-zero), kept for wide
        # data: its products then run over the longer side, and the short side's vectors
        # stay in cache (measured, one thread, 2000 x 100000 at 1%: 2.4-3.0x faster at 4-20
        # columns; 10000 x 50000 at 0.2%: 1.2-2.5x; tall 200000 x 40000: 1.1-2.6x slower)
        self.csc = self.csr.T.tocsr() if columns else None
        self._unit = None   # ones of length n, for the centering's corrections

    def gram(self, s=1.0, u=None, w=None):
        """``s X.T @ X - u w^T - w u^T`` (dense, symmetric; ``u`` and ``w`` of shape (d,),
        zero when None; ``w`` defaults to ``u / 2``, which subtracts ``u u^T``): the
        upper triangle by tiles (:func:`~fastlae._kernels.sparse.gram_tile`, on a copy of the
        entries split into bands of columns) or by rows of the Gram
        (:func:`~fastlae._kernels.sparse.gram_rows`, with a column index of two integers per
        non-zero), as :func:`tile_bands` chooses; then scaled, corrected and mirrored in one
        pass. The index lives only during the call. X's column indices are sorted first
        (once, in a copy, where they are not)."""
        if not self.csr.has_sorted_indices:
            self.csr = self.csr.sorted_indices()
        a = self.csr
        n, d = a.shape
        u = np.zeros(d) if u is None else np.ascontiguousarray(u, dtype=np.float64)
        w = 0.5 * u if w is None else np.ascontiguousarray(w, dtype=np.float64)
        counts = np.diff(a.indptr)
        madds = float(np.sum(counts * (counts + 1.0)) / 2.0)
        bands = tile_bands(n, d, madds, blas_threads())
        if bands:
            width = -(-d // bands)
            bptr, bcols, bvals = self._bands(width, bands)
            tiles = [(i, j) for i in range(bands) for j in range(i, bands)]
            tiles.sort(key=lambda t: t[0] == t[1])   # the full tiles first
            G = np.zeros((d, d))

            def tile(t, t0, t1):
                for i, j in tiles[t0:t1]:
                    gram_tile(bptr, bcols, bvals, width, i, j, self.stop, G)

            threaded(tile, len(tiles), self.stop, size=1)
        else:
            c_ptr = np.empty(d + 1, dtype=np.int64)
            c_rows = np.empty(a.nnz, dtype=a.indices.dtype)
            c_pos = np.empty(a.nnz, dtype=np.int64)
            column_positions(a.indptr, a.indices, d, c_ptr, c_rows, c_pos)
            G = np.empty((d, d))
            threaded(lambda t, j0, j1: gram_rows(c_ptr, c_rows, c_pos, a.indptr, a.indices,
                                              a.data, j0, j1, self.stop, G), d, self.stop)
        threaded(lambda t, j0, j1: symmetrize_rows(G, s, u, w, j0, j1), d, self.stop)
        return G

    def _bands(self, width, bands):
        """X split into ``bands`` bands of ``width`` columns
        (:func:`~fastlae._kernels.sparse.split_bands`), threads over spans of rows: each
        span's entries per band counted first, so that every span knows where to write."""
        a = self.csr
        n = a.shape[0]
        spans = max(1, min(n, 4 * blas_threads()))
        edges = np.linspace(0, n, spans + 1).astype(np.int64)
        counts = np.zeros((spans, bands), dtype=np.int64)

        def count(t, s0, s1):
            for s in range(s0, s1):
                band_counts(a.indptr, a.indices, width, edges[s], edges[s + 1], counts[s])

        threaded(count, spans, self.stop, size=1)
        # band k of span s starts after the bands before k (all spans) and band k of the
        # spans before s
        starts = np.cumsum(counts.T.ravel()).reshape(bands, spans).T - counts
        bptr = np.empty((bands, n + 1), dtype=np.int64)
        bptr[:, n] = np.cumsum(counts.sum(axis=0))
        bcols = np.empty(a.nnz, dtype=a.indices.dtype)
        bvals = np.empty(a.nnz)

        def split(t, s0, s1):
            for s in range(s0, s1):
                split_bands(a.indptr, a.indices, a.data, width, edges[s], edges[s + 1],
                            starts[s].copy(), bptr, bcols, bvals)

        threaded(split, spans, self.stop, size=1)
        return bptr, bcols, bvals

    def times(self, data, V, tol=None, what=None):
        """``Xc.T (Xc V)`` (scaled) by two sparse products, centered between them:
        ``T = Xs V - 1 (m^T V)``, then ``Xs^T T - m (1^T T)``; over X's rows both in one
        threaded pass (:func:`~fastlae._kernels.sparse.rows_gram_times`). Each product rounds
        relative to ``|X| |Xc V|``, not ``|X|^2``: within
        :func:`fastlae._data.uncentered_rounding` of the centered product (:meth:`rounding`),
        where ``X^T X V - n m m^T V`` would lose the square of it."""
        if self.csc is not None or not self._fits(V):
            return self.to_features(data, self.centered_rows(data, V))
        V = np.ascontiguousarray(V, dtype=np.float64)
        ms = data.mean * data.inv
        out, sums = self._both(self.csr, V, self._ones(), ms @ V, data.held_threads)
        out -= np.outer(ms, sums)
        return out

    def centered_rows(self, data, V):
        """``Xc V`` (scaled; V of shape (d, b)): one sparse product, centered in the same
        pass (``- 1 (m^T V)``, m the scaled means)."""
        V = np.ascontiguousarray(V, dtype=np.float64)
        return self.times_rows(V, data.held_threads, self.pre, self._ones(),
                               (data.mean * data.inv) @ V)

    def sample_gram(self, data):
        """The centered sample Gram ``Xc Xc^T`` (scaled; n x n) by the kernels of
        :meth:`gram` on X's transpose (``csc``: wide data hold it):
        ``pre^2 X X^T - a 1^T - 1 a^T + (m.m) 1 1^T`` with ``a = pre X m`` (m the scaled
        means), written as ``- u 1^T - 1 u^T``, ``u = a - (m.m) / 2``."""
        ms = data.mean * data.inv
        a = self.times_rows(np.ascontiguousarray(ms[:, None]), pre=self.pre)[:, 0]
        u = a - 0.5 * float(ms @ ms)
        return Products(self.csc, 1.0, self.stop).gram(self.pre ** 2, u, self._ones())

    def times_samples(self, data, U):
        """``Xc (Xc.T U)`` (scaled; U of shape (n, b)): the sample Gram's product, by the same
        two sparse products in the other order, centered between them; over X's columns
        (``csc``) both in one threaded pass."""
        if self.csc is None or not self._fits(U):
            return self.centered_rows(data, self.to_features(data, U))
        U = np.ascontiguousarray(U, dtype=np.float64)
        ms = data.mean * data.inv
        out, sums = self._both(self.csc, U, ms, self._ones() @ U, data.held_threads)
        out -= sums
        return out

    def to_features(self, data, U):
        """``Xc^T U`` (scaled; U of shape (n, r)): the map of sample-space vectors to features,
        one sparse product, centered after it."""
        U = np.ascontiguousarray(U, dtype=np.float64)
        sums = self._ones() @ U   # a BLAS product: U.sum(axis=0) takes 15x as long at b = 4
        return self.times_transposed(U, data.held_threads, self.pre, data.mean * data.inv,
                                     sums)

    def rounding(self, data, tol=None):
        """The relative error of :meth:`times` against the exact centered product (in units
        of the largest eigenvalue): the implicit centering's
        :func:`~fastlae._data.uncentered_rounding`, times the ``ROUNDING_FACTOR`` measured."""
        return ROUNDING_FACTOR * uncentered_rounding(data.m, data.n, data.mean * data.inv,
                                                     data.trace)

    def times_rows(self, V, threads=0, pre=1.0, u=None, s=None):
        """``pre Xs @ V - u s^T`` (C-contiguous V of shape (d, b); u of shape (n,), s of
        shape (b,), no correction when None): over X's rows, or over its columns where
        ``csc`` holds them (``threads``: see :func:`threaded`)."""
        if self.csc is not None:
            return self._scatter(self.csc, V, threads, pre, u, s)
        return self._gather(self.csr, V, threads, pre, u, s)

    def times_transposed(self, T, threads=0, pre=1.0, u=None, s=None):
        """``pre Xs.T @ T - u s^T`` (T of shape (n, b); u of shape (d,), s of shape (b,)):
        over X's rows, or over its columns where ``csc`` holds them."""
        T = np.ascontiguousarray(T)
        if self.csc is not None:
            return self._gather(self.csc, T, threads, pre, u, s)
        return self._scatter(self.csr, T, threads, pre, u, s)

    def _ones(self):
        if self._unit is None:
            self._unit = np.ones(self.csr.shape[0])
        return self._unit

    def _gather(self, a, V, threads, pre, u, s):
        """``pre a @ V - u s^T`` for a CSR ``a``: threads over spans of its rows, each row's
        sums and its correction written once."""
        rows, b = a.shape[0], V.shape[1]
        u = np.zeros(rows) if u is None else np.ascontiguousarray(u, dtype=np.float64)
        s = np.zeros(b) if s is None else np.ascontiguousarray(s, dtype=np.float64)
        out = np.empty((rows, b))
        threaded(lambda t, r0, r1: rows_times(a.indptr, a.indices, a.data, V, pre, u, s, r0,
                                           r1, self.stop, out), rows, self.stop,
                 threads=threads)
        return out

    @staticmethod
    def _fits(V):
        """Whether both products run in one pass: the block read and the block written
        (each of V's size) stay in cache together."""
        return V.shape[0] * V.shape[1] * 8 <= ONE_PASS_BYTES

    def _both(self, a, V, u, c, threads):
        """``(pre a.T (pre a V - u c^T), u^T (pre a V - u c^T))`` for a CSR ``a``, by
        :func:`~fastlae._kernels.sparse.rows_gram_times` over spans of its rows
        (:meth:`_summed`)."""
        b = V.shape[1]
        out, sums = self._summed(
            a, [(a.shape[1], b), (b,)], threads,
            lambda r0, r1, out, sums: rows_gram_times(a.indptr, a.indices, a.data, V, self.pre,
                                                      u, c, r0, r1, self.stop, out, sums))
        out *= self.pre
        return out, sums

    def _scatter(self, a, T, threads, pre, u, s):
        """``pre a.T @ T - u s^T`` for a CSR ``a`` (:meth:`_summed`), then scaled and
        corrected (the short side: a.T has few rows)."""
        out, = self._summed(
            a, [(a.shape[1], T.shape[1])], threads,
            lambda r0, r1, out: rows_transposed_times(a.indptr, a.indices, a.data, T, r0, r1,
                                                      self.stop, out))
        if pre != 1.0:
            out *= pre
        if u is not None:
            out -= np.outer(u, s)
        return out

    def _summed(self, a, shapes, threads, kernel):
        """:func:`summed` over the rows of ``a``."""
        return summed(a.shape[0], shapes, self.stop, kernel, threads)


def summed(span, shapes, stop, kernel, threads=0):
    """``kernel(r0, r1, *partials)`` over spans of ``range(span)``, each thread into its own
    zeroed partials (of ``shapes``), summed in a fixed order (:func:`partials`)."""
    parts = partials(span, lambda: [np.zeros(shape) for shape in shapes], stop, kernel,
                     threads)
    return [sum(group[1:], group[0].copy()) for group in zip(*parts)]


def partials(span, make, stop, kernel, threads=0):
    """``kernel(r0, r1, *state)`` over spans of ``range(span)`` (:func:`threaded`), each thread
    with its own ``state = make()`` (a list of arrays it adds into); returns the states in the
    order of their threads, so that combining them does not depend on timing (the spans of
    each thread are fixed)."""
    parts = {}

    def run(t, r0, r1):
        if t not in parts:
            parts[t] = make()
        kernel(r0, r1, *parts[t])

    threaded(run, span, stop, threads=threads)
    return [parts[t] for t in sorted(parts)]


def open_sparse(X, out_dtype, stop, in_caller, activity):
    """The data of a checked sparse X (:func:`check_sparse`).

    With m = min(n_samples, n_features): the formed m x m Gram
    (:class:`~fastlae._data.GramData`; the sample Gram where n < d) where m <=
    ``GRAM_ALWAYS``; by sparse products (:class:`~fastlae._data.PassData`, memory O(m r) beyond
    X) where m > ``GRAM_FEATURES_MAX`` or m^2 > ``GRAM_PER_NONZERO`` nnz; in between, by
    products with ``formed`` set, which forms the Gram where the solver needs it or where the
    run by passes gives up (a flat spectrum, see :func:`fastlae._solve.run`)."""
    import fastlae._stream as stream   # read at call time: tests lower the limit

    t0 = time.perf_counter()
    n, d = X.shape
    Xs, mean, scale, pre, centered = _scaled(X, stop)
    products = Products(Xs, pre, stop, columns=n < d)
    kw = dict(stop=stop, in_caller=in_caller, activity=activity, dtype=X.dtype,
              out_dtype=out_dtype)
    trace = float(np.sum(centered))
    opened = time.perf_counter() - t0

    def by_passes():
        data = PassData(n, d, mean, scale, trace, products, read_bound=False,
                        gram="samples" if n < d else "features", **kw)
        data.seconds = opened
        return data

    def formed():
        t1 = time.perf_counter()
        if n < d:   # wide: the n x n sample Gram
            activity.start("sparse sample Gram")
            data = GramData(n, d, mean, scale, None, products, gram="samples", **kw)
            data.C = products.sample_gram(data)
            data.trace = float(np.trace(data.C))
            data.fallback = by_passes
        else:
            activity.start("sparse Gram")
            G = products.gram(pre ** 2, np.sqrt(n) * (mean * (1.0 / scale)))
            data = GramData(n, d, mean, scale, G, products, **kw)
        data.seconds = opened + time.perf_counter() - t1
        return data

    m = min(n, d)
    if m > stream.GRAM_FEATURES_MAX:
        return by_passes()
    if m <= GRAM_ALWAYS:
        return formed()
    data = by_passes()
    if m * m <= GRAM_PER_NONZERO * X.nnz:
        data.formed = formed
    return data
