"""What the solvers iterate on: the centered, scaled Gram applied to a block of vectors.

:class:`Operator` wraps :class:`~fastlae._data.Data` (an :class:`~fastlae._data.ArrayData`
where no Gram is formed) and, when it is formed, the Gram matrix
(:func:`fastlae._gram.form_gram`); without it the products are taken from X block by block
(matrix-free: one pass over X per product). The solver kernels receive
:meth:`Operator.kernel_op`, a :class:`~fastlae._kernels.operator.GramOperator`.
"""
import contextlib

import numpy as np

from ._data import UNCENTERED, block_length
from ._threads import one_blas_thread, pass_workers, run_blocks, run_spans
from ._kernels.operator import (FormedGram, GramOperator, apply_gram, apply_span, map_span,
                                map_uncentered)
from ._kernels.dots import rows_dot
from ._kernels.passes import center_block
from ._kernels.blas import product

# A formed Gram times at most this many columns is computed as (Q^T C)^T: OpenBLAS then
# streams C instead of packing it. Measured, 2 cores, C Q / (Q^T C)^T at 10 columns: m 2000
# 1.08, 4000 1.24, 5000 1.37, 8000 1.58; at 20 columns: m 4000 0.84, 5000 1.03.
NARROW_COLUMNS = 10
# A Krylov run's products with a formed Gram of at least DOT_ROWS_MIN rows (a C beyond the
# cache, read from memory each time) and at most DOT_COLUMNS_MAX columns are the dot
# products of :func:`~fastlae._kernels.dots.rows_dot`, on one thread per core
# over contiguous spans of rows. Measured, 2 cores, against the better of OpenBLAS's C Q and
# (Q^T C)^T (scripts/bench_krylov.py --only products --reps 5), at 4, 10, 20 and 30 columns:
# m 3000 1.03, 0.77, 0.86, 0.88; m 4000 0.75, 0.64, 0.76, 0.82; m 6000 0.79, 0.62, 0.77,
# 0.88. Below, C fits the 32 MB L3 and BLAS wins as often as not (m 2000: 0.64-1.45 over
# widths and runs; m 1000 and below slower).
DOT_ROWS_MIN = 2500
DOT_COLUMNS_MAX = 32

# Elements (float64) per block of a matrix-free pass: with a centered copy of each block, and
# over uncentered views of A's rows (see scripts/bench_gram_block.py and docs/design.md).
OPERATOR_BLOCK_ELEMENTS = 1 << 20
UNCENTERED_BLOCK_ELEMENTS = 1 << 21
# Values per block of the pass mapping sample vectors to features (Operator.to_features), and
# the spans of blocks each thread takes (one compiled call each).
MAP_BLOCK_ELEMENTS = 1 << 17
MAP_SPANS_PER_WORKER = 4
# Elements of X per BLAS call of the uncentered mapping (the stop flag is read between them).
MAP_CHUNK_ELEMENTS = 1 << 25
# Blocks of the threaded passes on single-threaded BLAS (the Krylov products below, the
# float64 pass of fastlae._mixed; one span of A per core): about SPAN_BLOCK_ELEMENTS values
# (512 KB: the block stays in the core's L2 between its centered copy and its two products),
# whole multiples of SPAN_BLOCK_ALIGN rows or columns, at least SPAN_BLOCK_MIN[gram_axis] of
# them (column blocks read strided pieces of A's rows: short ones waste the cache lines).
# Measured, 2 cores, ms per Krylov product at 10 columns (4 columns), blocks of 8 / 16 / 32 /
# 64 rows or columns / 2^20 values: 4000 x 4000 centered 14.3 / 13.9 / 17.0 / 17.9 / 21.8
# (12.1 / 11.3 / 10.5 / 15.9 / 21.5), uncentered 13.7 / 14.3 / 17.9 / 18.4 / 21.1 (views of
# 2^21 values); 6000 x 3000 18.9 / 18.1 / 16.3 / 22.7 / 23.9; 8000 x 8000 61 / 82 / 74 / 80 /
# 100; column blocks of 2000 x 10000 74.6 / 39.4 / 28.1 / 31.0 / 36.9 (58.3 / 33.0 / 17.8 /
# 21.1 / 26.1), of 4000 x 12000 177 / 105 / 80 / 82 / 99 (medians of 3); one thread's float64
# pass over 100000 x 1000, 10 columns: 0.17 s in blocks of 2^16 values, 0.32 s of 2^19.
SPAN_BLOCK_ELEMENTS = 1 << 16
SPAN_BLOCK_ALIGN = 8
SPAN_BLOCK_MIN = (32, 8)
_EMPTY = np.zeros((0, 0))
_EMPTY_BUF = np.zeros(0)


def span_block(other, gram_axis):
    """Rows of A (columns where ``gram_axis`` is 0) per block of a pass on single-threaded
    BLAS, given the length ``other`` of A's other side: about ``SPAN_BLOCK_ELEMENTS`` values,
    whole multiples of ``SPAN_BLOCK_ALIGN``, at least ``SPAN_BLOCK_MIN[gram_axis]``."""
    align = SPAN_BLOCK_ALIGN
    return max(SPAN_BLOCK_MIN[gram_axis], SPAN_BLOCK_ELEMENTS // max(other, 1) // align * align)


class Operator:
    """The solvers' Gram operator.

    Parameters
    ----------
    data : Data
    C : ndarray of shape (m, m), float64, or None
        The formed Gram; None for matrix-free products.

    Attributes
    ----------
    m : int
        The Gram's size.
    matrix_free : bool
    uncentered_error : float or None
        The relative rounding bound of the uncentered matrix-free products, when
        :meth:`use_uncentered` offered them.
    uncentered_map : bool
        Whether :meth:`to_features` maps by products with the uncentered X (set by
        :meth:`use_uncentered` for a formed sample Gram).
    solver_cache : dict
        Per-problem precomputations of the solvers (``als``'s tridiagonal form), reused when
        :func:`fastlae.pca` continues a run.
    single_reduction : bool
        Whether ``eigh`` may reduce the formed Gram in float32 and refine in float64 (see
        :mod:`fastlae.solvers.eigh`; ``Request.single_reduction``).
    """

    def __init__(self, data, C=None):
        self.data = data
        self.C = _EMPTY if C is None else C
        self.matrix_free = C is None
        self.m = data.m
        self.stop = data.stop
        self.uncentered_error = None
        self.uncentered_map = False
        self.solver_cache = {}
        self.single_reduction = False
        self._bufs = {}

    def use_uncentered(self, tol):
        """Skip the centered copies of X's blocks where that is exact enough for ``tol``;
        returns whether it does.

        Uncentered products round within :func:`fastlae._data.uncentered_rounding` of the
        centered ones; they are used where :meth:`fastlae._data.Data.uncentered` allows.
        Matrix-free (features as columns): the solvers' products
        (:func:`fastlae._kernels.operator.span_uncentered`), and the bound is kept in
        :attr:`uncentered_error`: a solver aiming below it finishes with centered passes
        (``kernel_op(centered=True)``). A formed sample Gram: the certificate's mapping to
        features (:meth:`to_features`, :attr:`uncentered_map`).
        """
        data = self.data.stats() if self.matrix_free else self.data
        self.uncentered_error, self.uncentered_map = None, False
        if self.matrix_free:
            if data.feat_axis != 1 or data.gram != "features" or data.total is None:
                return False
            error = data.uncentered_error(data.total)
            if error <= UNCENTERED * tol:
                self.uncentered_error = error
            return self.uncentered_error is not None
        if data.gram == "samples":
            self.uncentered_map = data.uncentered(float(np.trace(self.C)), tol)
        return self.uncentered_map

    def history(self, solver):
        """A fresh history buffer for a solver kernel (:func:`fastlae._kernels.monitor.verdict`
        fills it), kept where a progress line can read the updates and the residual."""
        return self.data.activity.history(solver)

    @contextlib.contextmanager
    def krylov_products(self, tol):
        """``apply(Q)`` for the run of a solver driven from Python: the solvers' Gram times
        ``Q`` (m x j).

        On the formed Gram, one GEMM, for at most ``NARROW_COLUMNS`` columns as ``(Q^T C)^T``
        (C is symmetric). Matrix-free, by uncentered passes where :meth:`use_uncentered`
        found them exact enough for ``tol`` (their rounding is then at most
        ``UNCENTERED * tol``), centered ones otherwise. Where A holds at least two blocks of
        :func:`span_block` per BLAS thread, BLAS is held at one thread for the run
        (:func:`~fastlae._threads.one_blas_thread`) and each product splits A into one
        contiguous span per thread, taken in those blocks (they stay in the core's cache),
        each thread with its own block buffer, the parts summed in a fixed order; otherwise
        one pass on threaded BLAS in the blocks of :meth:`kernel_op`."""
        if not self.matrix_free:
            yield from self._formed_products()
            return
        op = self.kernel_op(centered=self.uncentered_error is None)
        data = self.data
        span = data.A.shape[1 - data.gram_axis]
        other = data.A.shape[op.gram_axis]   # a block's length across the span
        small = span_block(other, op.gram_axis)
        if pass_workers(data, span, small) < 2:
            yield lambda Q: apply_gram(op, np.ascontiguousarray(Q))
            return
        with one_blas_thread(data):   # where it cannot hold, one worker on threaded BLAS
            workers = 1
            if data.held_threads:
                workers = pass_workers(data, span, small)
                op = op._replace(block=small, buf=op.buf if op.buf.shape[0] == 0 else
                                 np.empty(small * other))
            ops = [op] + [op._replace(buf=np.empty_like(op.buf)) for _ in range(workers - 1)]
            size = -(-span // workers)

            def apply(Q):
                Q = np.ascontiguousarray(Q)
                parts = [None] * workers

                def body(t, s0, s1):
                    parts[t] = apply_span(ops[t], Q, s0, s1)

                run_spans(body, span, size, workers, data.check_stop, "fastlae-krylov")
                out = parts[0]
                for part in parts[1:]:
                    out += part
                return out

            yield apply

    def _formed_products(self):
        """The body of :meth:`krylov_products` on the formed Gram: BLAS, or for a Gram beyond
        the cache (``DOT_ROWS_MIN``) the row dot products on one thread per core, with BLAS
        held at one thread for the run (its spinning workers would take those cores; where it
        cannot be held, BLAS's own threaded GEMM)."""
        C, data = self.C, self.data

        def blas(Q):
            if Q.shape[1] <= NARROW_COLUMNS:
                return np.ascontiguousarray(product(Q, C, True, False).T)
            return product(C, Q, False, False)

        # rows_dot reads rows: C itself, or C.T (the same matrix) where C is F-ordered
        rows = C if C.flags.c_contiguous else C.T if C.T.flags.c_contiguous else None
        if self.m < DOT_ROWS_MIN or rows is None:
            yield blas
            return
        with one_blas_thread(data):
            if not data.held_threads:   # BLAS could not be held (or has one thread): its GEMM
                yield blas
                return
            workers = data.held_threads
            size = -(-self.m // (4 * workers)) * 4   # rows per thread, whole blocks of four

            def apply(Q):
                if Q.shape[1] > DOT_COLUMNS_MAX:
                    return blas(Q)
                Qt = np.ascontiguousarray(Q.T)
                out = np.empty_like(Qt)
                run_spans(lambda t, s0, s1: rows_dot(rows, Qt, out, s0, s1), self.m,
                          size, workers, data.check_stop, "fastlae-krylov")
                return out.T

            yield apply

    def _buf(self, gram_axis):
        """``(block, buf)`` of the passes along ``gram_axis``: rows (or columns) of A per block
        and scratch space for one centered block."""
        if gram_axis not in self._bufs:
            other = self.data.A.shape[gram_axis]
            block = block_length(other, OPERATOR_BLOCK_ELEMENTS)
            self._bufs[gram_axis] = (block, np.empty(block * other))
        return self._bufs[gram_axis]

    def kernel_op(self, centered=False):
        """The :class:`~fastlae._kernels.operator.GramOperator` the kernels take.

        Matrix-free after :meth:`use_uncentered` offered it, and unless ``centered``, its
        buffer is empty: the kernels then multiply views of A's rows (blocks of
        ``UNCENTERED_BLOCK_ELEMENTS``).
        """
        data = self.data
        if not self.matrix_free:
            return FormedGram(self.C, data.stop)
        if self.uncentered_error is not None and not centered:
            block, buf = block_length(data.A.shape[1], UNCENTERED_BLOCK_ELEMENTS), _EMPTY_BUF
        else:
            block, buf = self._buf(data.gram_axis)
        return GramOperator(data.A, data.mean, data.feat_axis, data.inv, data.gram_axis,
                            block, buf, data.stop)

    def apply(self, V):
        """The solvers' Gram times ``V`` (m x r)."""
        return apply_gram(self.kernel_op(centered=True), np.ascontiguousarray(V))

    def trace(self):
        """Trace of the solvers' Gram (scaled): from the formed Gram or the statistics pass,
        else by one centered blocked pass."""
        if not self.matrix_free:
            return float(np.trace(self.C))
        data = self.data.stats()
        if data.total is not None:
            return data.total
        total = 0.0
        A, (p, q) = data.A, data.A.shape
        block, buf = self._buf(1)   # row blocks
        for r0 in range(0, p, block):
            data.check_stop()
            r1 = min(p, r0 + block)
            B = buf[: (r1 - r0) * q].reshape(r1 - r0, q)
            center_block(A, r0, r1, 0, q, data.mean, data.feat_axis, data.inv, B)
            total += float(np.einsum("ij,ij->", B, B))
        return total

    def to_features(self, U):
        """Map sample-space vectors ``U`` (n x r) to ``Xc.T @ U / scale`` (d x r): one pass.

        With :attr:`uncentered_map`: ``X.T @ U - mean (1^T U)`` by threaded BLAS calls on X
        itself, chunks of about ``MAP_CHUNK_ELEMENTS`` values
        (:func:`~fastlae._kernels.operator.map_uncentered`; no copy of X is made). Otherwise
        the features are split into spans, about ``MAP_SPANS_PER_WORKER`` per thread of
        :func:`fastlae._threads.run_blocks`; each span is one compiled call
        (:func:`~fastlae._kernels.operator.map_span`: blocks of ``MAP_BLOCK_ELEMENTS`` values
        centered into a buffer that stays in cache and multiplied by ``U``, no GIL held) that
        writes its own rows of the result.
        """
        data = self.data
        n, d = data.n, data.d
        U = np.ascontiguousarray(U, dtype=np.float64)
        if getattr(data, "A", None) is None:   # a formed sample Gram of data kept elsewhere
            return data.products.to_features(data, U)
        if self.uncentered_map:
            out = map_uncentered(data.A, data.mean, data.feat_axis, data.inv,
                                 block_length(data.A.shape[1], MAP_CHUNK_ELEMENTS), data.stop, U)
            data.check_stop()   # the kernel stops early when the flag is set
            return out
        out = np.empty((d, U.shape[1]))
        block = block_length(n, MAP_BLOCK_ELEMENTS)
        workers = pass_workers(data, d, block)
        span = block * max(1, -(-d // (MAP_SPANS_PER_WORKER * workers * block)))
        bufs = {}

        def start(workers, span):
            bufs.update({t: np.empty(block * n) for t in range(workers)})

        def body(t, f0, f1):
            map_span(data.A, data.mean, data.feat_axis, data.inv, block, bufs[t], data.stop,
                     U, out, f0, f1)

        run_blocks(data, d, workers, span, d, start, body)
        return out

    def apply_features(self, V):
        """The feature Gram ``Xc.T @ Xc / scale**2`` times ``V`` (d x r), whichever is formed."""
        data = self.data
        if data.gram == "features":
            return self.apply(V)
        if getattr(data, "A", None) is None:
            return data.products.times(data, np.ascontiguousarray(V), None, "pass")
        op = GramOperator(data.A, data.mean, data.feat_axis, data.inv, data.feat_axis,
                          *self._buf(data.feat_axis), data.stop)
        return apply_gram(op, np.ascontiguousarray(V))
