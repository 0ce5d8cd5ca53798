"""``dask.array`` input: the Gram formed chunk by chunk on the workers, the small solve here.

Each row chunk (all columns; column-chunked arrays are rechunked to whole rows) becomes a
:class:`fastlae._stream.GramSum` on the worker that holds it, with fastlae's own kernels; the
sums are merged pairwise in a tree on the cluster (the exact merge of :mod:`fastlae._stream`),
and only the merged n_features x n_features Gram comes back. The certificate is a second
distributed pass, ``sum over chunks of Bc.T (Bc V)``. Memory per worker: its chunks (as dask
schedules them) plus one float64 copy of the chunk being summed and two n_features^2 Grams.
Wide arrays (more than ``GRAM_FEATURES_MAX`` features, at most that many samples) are summed
by chunks of whole columns instead (rechunked where a chunk splits the rows): each column
chunk, centered by its own means, adds its
``Bc Bc^T`` to the n x n sample Gram (one distributed pass, merged in a tree, each partial
scaled by its own power of two), the solve runs here, and the answer is mapped to features by
one more pass (:class:`ColumnProducts`).
dask is an optional extra (``pip install dask[distributed]``); the computation runs on
whatever scheduler is active (a ``dask.distributed.Client``, else dask's default), with BLAS
held at one thread on dask's threaded scheduler (:func:`_compute`).
"""
import contextlib
import operator
import threading
import time

import numpy as np

from . import _errors as E
from ._blas import blas_threads, controllable, syrk_update
from ._data import GramData, pow2_at_least
from ._kernels.passes import center_block, exact_means
from ._stream import Fingerprint, GramSum, check_block, of_sums
from ._threads import blas_at_one
from ._validation import as_float


def is_dask(X):
    return type(X).__module__.startswith("dask") and hasattr(X, "to_delayed") \
        and hasattr(X, "chunks")


def check_dask(X):
    """X with whole rows per chunk, checked (shape and dtype: no data read)."""
    if X.ndim != 2:
        raise ValueError(E.X_NDIM.format(ndim=X.ndim))
    if any(np.isnan(s) for s in X.shape):
        raise ValueError(E.DASK_UNKNOWN.format(shape=X.shape))
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(E.X_EMPTY.format(shape=X.shape))
    if X.dtype.kind not in "biuf":
        raise TypeError(E.X_DTYPE.format(dtype=X.dtype))
    if by_columns(X.shape):   # whole columns per chunk: kept as they come, else rechunked
        if len(X.chunks[0]) > 1:
            X = X.rechunk({0: -1, 1: max(1, COLUMN_CHUNK_BYTES // (8 * X.shape[0]))})
    elif len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    out_dtype = np.dtype(np.float64) if X.dtype.kind in "biu" else np.dtype(X.dtype)
    return X, out_dtype


# Bytes of the column chunks a wide array split across its rows is rechunked to (its sample
# Gram part is n x n on top); chunks of whole columns are read as they come (rechunking them
# copies every chunk once per pass: 0.65 s a pass at 1000 x 100000).
COLUMN_CHUNK_BYTES = 64 << 20
# Entries of the centered slices a column chunk is summed and mapped in.
SLICE_ELEMENTS = 1 << 20


def by_columns(shape):
    """Whether a dask array of this shape is summed by column chunks into its sample Gram:
    more features than a feature Gram takes, and at most that many samples."""
    import fastlae._stream as stream   # read at call time: tests lower the limit

    n, d = shape
    return d > stream.GRAM_FEATURES_MAX and n <= stream.GRAM_FEATURES_MAX


# One SYRK at a time in a process whose BLAS runs several threads (or may: a BLAS whose threads
# cannot be counted or limited), as SciPy's dsyrk, which holds the GIL, would run them: side by
# side they oversubscribe the cores (measured 3.4x slower on 2 cores). Where BLAS runs one
# thread (dask's threaded scheduler under _compute, or workers so configured) the tasks' SYRKs
# run side by side, one per core.
_SYRK_LOCK = threading.Lock()


def _syrk_turn():
    """The lock a chunk's SYRKs take (:data:`_SYRK_LOCK`), or none where BLAS runs one
    thread."""
    return _SYRK_LOCK if not controllable() or blas_threads() > 1 else contextlib.nullcontext()


def _column_part(block, index, n, dtype, start):
    """A column chunk's centered sample Gram ``Bc Bc^T / s^2`` (s: a power of two at or above
    its largest ``|x|``), s, its means (with its first column's index) and the
    :class:`Fingerprint` of its columns: the exact means by one read of the chunk, then
    slices of it centered into one buffer (:func:`_centered_slices`) and added by SYRK
    (:func:`fastlae._blas.syrk_update`, GIL released: on dask's threaded scheduler, where
    :func:`_compute` holds BLAS at one thread, one SYRK per core side by side; on threaded
    BLAS one at a time, :func:`_syrk_turn`)."""
    extent = []
    B = check_block(block, index, None, dtype, extent)
    if B.shape[0] != n:   # whole columns (check_dask rechunked them so)
        raise ValueError(E.DASK_CHUNK_ROWS.format(index=index, got=B.shape[0], n=n))
    w = B.shape[1]
    top = extent[0] if extent else 0.0
    s = pow2_at_least(top) if top > 0.0 else 1.0
    mean = np.empty(w)
    exact_means(B, 0, n, 0, w, mean, 1)
    G = np.zeros((n, n), order="F")
    turn = _syrk_turn()
    for c0, c1, Bc in _centered_slices(B, mean, 1.0 / s):   # the upper triangle, in place
        with turn:
            syrk_update(Bc, G, 0)
    G += np.triu(G, 1).T
    G = G.T   # the same symmetric matrix, C-ordered
    seen = Fingerprint(n, True, start).add(B.T)   # its columns as the rows of X^T
    return G, s, [(start, mean)], seen


def _centered_slices(B, mean, inv, axis=1):
    """``(i0, i1, Bc)`` over slices of B's columns (``axis=1``, ``Bc = (B[:, i0:i1] -
    mean[i0:i1]) * inv``) or rows (``axis=0``, ``Bc = (B[i0:i1] - mean) * inv``) of about
    ``SLICE_ELEMENTS`` entries, each written into the same float64 buffer (valid until the
    next slice). B C-contiguous float32/float64."""
    n, w = B.shape
    across = w if axis == 0 else n   # entries of a slice per row or column in it
    span = n if axis == 0 else w
    step = max(1, SLICE_ELEMENTS // max(across, 1))
    buf = np.empty(across * min(step, span))
    for i0 in range(0, span, step):
        i1 = min(span, i0 + step)
        if axis == 0:
            Bc = buf[:(i1 - i0) * w].reshape(i1 - i0, w)
            center_block(B, i0, i1, 0, w, mean, 1, inv, Bc)
        else:
            Bc = buf[:n * (i1 - i0)].reshape(n, i1 - i0)
            center_block(B, 0, n, i0, i1, mean, 1, inv, Bc)
        yield i0, i1, Bc


def _merge_columns(a, b):
    """Two partial sample Grams at their common (larger) scale: exact, powers of two."""
    s = max(a[1], b[1])
    G = a[0] * (a[1] / s) ** 2
    G += b[0] * (b[1] / s) ** 2
    return G, s, a[2] + b[2], a[3].merge(b[3])


def _read(block):
    """A chunk as the kernels read it: C-contiguous float32/float64 (as check_block read it;
    no copy where it is already so)."""
    return np.ascontiguousarray(as_float(np.asarray(block)))


def _map_part(block, mean, inv, U, start, n):
    """A column chunk's rows of ``Xc^T U`` (scaled) and its fingerprint."""
    B = _read(block)
    out = np.empty((B.shape[1], U.shape[1]))
    for c0, c1, Bc in _centered_slices(B, mean, inv):
        np.matmul(Bc.T, U, out=out[c0:c1])
    return out, Fingerprint(n, False, start).add(B.T)


def _rows_part(block, mean, inv, V):
    """A column chunk's share of ``Xc V`` (scaled), summed over slices of its columns."""
    B = _read(block)
    out = np.zeros((B.shape[0], V.shape[1]))
    for c0, c1, Bc in _centered_slices(B, mean, inv):
        out += Bc @ V[c0:c1]
    return out


def _chunk_sum(block, index, d, dtype, full, start):
    """The chunk's :class:`GramSum` and :class:`Fingerprint` (rows from ``start``)."""
    acc = GramSum(d, full=full)
    B = check_block(block, index, d, dtype)
    if B.shape[0]:
        with _syrk_turn() if full else contextlib.nullcontext():   # its SYRKs
            acc.add(B)
    return acc, Fingerprint(d, True, start).add(B)


def _merge(a, b):
    return a[0].merge(b[0]), a[1].merge(b[1])


def _cert_part(block, mean, inv, vecs, start):
    """A row chunk's share of ``Xc.T (Xc vecs)`` (scaled), summed over slices of its rows,
    and its fingerprint."""
    B = _read(block)
    out = np.zeros((B.shape[1], vecs.shape[1]))
    for r0, r1, Bc in _centered_slices(B, mean, inv, axis=0):
        out += Bc.T @ (Bc @ vecs)
    return out, Fingerprint(len(mean), False, start).add(B)


def _pairwise(parts, combine):
    """``parts`` combined pairwise in a tree (neighbours first, an odd one carried up)."""
    while len(parts) > 1:
        parts = [combine(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)] \
            + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _tree(parts, combine):
    """:func:`_pairwise` on the cluster: each combination a delayed task."""
    import dask

    return _pairwise(parts, dask.delayed(combine))


def _compute(in_caller, *objs):
    """``dask.compute(*objs)``, with BLAS held at one thread (:func:`blas_at_one`) where dask's
    threaded scheduler runs the tasks, in this process and one per core: each task's SYRK or
    GEMM then runs on its own core, as the in-memory Gram pass runs one single-threaded SYRK
    per core (:mod:`fastlae._blas`), where threaded BLAS calls side by side oversubscribe the
    cores (concurrent threaded SYRKs measured 3.4x slower on 2 cores)."""
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    here = get_scheduler(collections=list(objs)) is dask.threaded.get
    with blas_at_one(in_caller) if here else contextlib.nullcontext():
        return dask.compute(*objs)


def _add(a, b):
    return a[0] + b[0], a[1].merge(b[1])


def _summed(X, full, in_caller):
    """The row chunks of X as delayed blocks, and their :class:`GramSum` merged on the cluster
    (``full=False``: the diagonal only)."""
    import dask

    blocks = list(X.to_delayed()[:, 0])
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
    parts = [dask.delayed(_chunk_sum)(b, i, X.shape[1], X.dtype, full, int(starts[i]))
             for i, b in enumerate(blocks)]
    (acc, seen), = _compute(in_caller, _tree(parts, _merge))
    if not acc.finite():
        raise ValueError(E.X_OVERFLOW.format(maxabs=float(abs(X).max().compute())))
    return blocks, starts, acc, seen


class Products:
    """``Xc.T (Xc V)`` (scaled), summed over the row chunks on the cluster: the ``products``
    of :class:`fastlae._data.Data`."""

    def __init__(self, blocks, starts, first):
        self.blocks, self.starts, self.first, self.passes = blocks, starts, first, 1

    def times(self, data, V, tol=None, what=None):
        import dask

        parts = [dask.delayed(_cert_part)(b, data.mean, data.inv, V, int(s))
                 for b, s in zip(self.blocks, self.starts)]
        (out, seen), = _compute(data.in_caller, _tree(parts, _add))
        self.passes += 1
        seen.check(self.first, self.passes, "dask array")
        return out

    def rounding(self, data, tol):
        """Each chunk is centered before its products: float64's rounding only."""
        return 0.0


class ColumnProducts:
    """The ``products`` of a wide dask array summed by column chunks: ``to_features`` (one
    distributed pass, each chunk its own rows of ``Xc^T U``) and the feature Gram's product
    (two: ``T = Xc V``, summed over chunks, then ``Xc^T T``; for a caller that asks)."""

    # The sample Gram is summed from exactly centered chunks: it certifies the answer (as for
    # arrays and files read in place), with no further pass
    EXACT_GRAM = True

    def __init__(self, blocks, starts, first):
        self.blocks, self.starts, self.first, self.passes = blocks, starts, first, 1

    def _slices(self, data):
        ends = list(self.starts[1:]) + [data.d]
        return [slice(int(a), int(b)) for a, b in zip(self.starts, ends)]

    def to_features(self, data, U):
        import dask

        U = np.ascontiguousarray(U, dtype=np.float64)
        parts = [dask.delayed(_map_part)(b, data.mean[sl], data.inv, U, int(sl.start), data.n)
                 for b, sl in zip(self.blocks, self._slices(data))]
        done = _compute(data.in_caller, *parts)
        # merged in the first pass's tree order: the same rounding, so unchanged data agree
        # exactly (tiny data have no rounding allowance, their squares underflow)
        seen = _pairwise([part[1] for part in done], Fingerprint.merge)
        self.passes += 1
        seen.check(self.first, self.passes, "dask array")
        return np.vstack([part[0] for part in done])

    def times(self, data, V, tol=None, what=None):
        import dask

        V = np.ascontiguousarray(V, dtype=np.float64)
        parts = [dask.delayed(_rows_part)(b, data.mean[sl], data.inv, V[sl])
                 for b, sl in zip(self.blocks, self._slices(data))]
        T, = _compute(data.in_caller, _tree(parts, operator.add))
        self.passes += 1
        return self.to_features(data, T)

    def rounding(self, data, tol):
        """Each chunk is centered before its products: float64's rounding only."""
        return 0.0


def _open_columns(X, out_dtype, stop, in_caller, activity):
    """The sample Gram of a wide dask array chunked by whole columns (:func:`by_columns`)."""
    import dask

    n, d = X.shape
    blocks = list(X.to_delayed()[0, :])
    starts = np.concatenate([[0], np.cumsum(X.chunks[1])[:-1]]).astype(int)
    parts = [dask.delayed(_column_part)(b, i, n, X.dtype, int(starts[i]))
             for i, b in enumerate(blocks)]
    (G, s, means, seen), = _compute(in_caller, _tree(parts, _merge_columns))
    if not np.all(np.isfinite(G)):
        raise ValueError(E.X_OVERFLOW.format(maxabs=float(abs(X).max().compute())))
    mean = np.concatenate([m for _, m in sorted(means, key=lambda p: p[0])])
    return GramData(n, d, mean, s, G, ColumnProducts(blocks, starts, seen), gram="samples",
                    stop=stop, in_caller=in_caller, activity=activity, dtype=X.dtype,
                    out_dtype=out_dtype)


def open_dask(X, out_dtype, stop, in_caller, activity):
    """The data of a checked dask array (:func:`check_dask`): its Gram summed on the cluster
    (:class:`~fastlae._data.GramData`), or with more than ``GRAM_FEATURES_MAX`` features the
    statistics summed there and the Gram applied by distributed passes
    (:class:`~fastlae._data.PassData`: a pass is a distributed map, its cost barely depends
    on the block)."""
    import fastlae._stream as stream   # read at call time: tests lower the limit

    t0 = time.perf_counter()
    activity.start("dask Gram")
    if by_columns(X.shape):
        data = _open_columns(X, out_dtype, stop, in_caller, activity)
        data.seconds = time.perf_counter() - t0
        return data
    blocks, starts, acc, seen = _summed(X, X.shape[1] <= stream.GRAM_FEATURES_MAX,
                                        in_caller)
    data = of_sums(acc, Products(blocks, starts, seen), stop=stop, in_caller=in_caller,
                   activity=activity, dtype=X.dtype, out_dtype=out_dtype)
    data.seconds = time.perf_counter() - t0
    return data
