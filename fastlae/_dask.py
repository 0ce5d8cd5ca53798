"""``dask.array`` input: the Gram formed chunk by chunk on the workers, the small solve here.

Each row chunk (all columns; column-chunked arrays are rechunked to whole rows) becomes a
:class:`fastlae._stream.GramSum` on the worker that holds it, with fastlae's own kernels; the
sums are merged pairwise in a tree on the cluster (the exact merge of :mod:`fastlae._stream`),
and only the merged n_features x n_features Gram comes back. The certificate is a second
distributed pass, ``sum over chunks of Bc.T (Bc V)``. Memory per worker: its chunks (as dask
schedules them) plus one float64 copy of the chunk being summed and two n_features^2 Grams.
dask is an optional extra (``pip install dask[distributed]``); the computation runs on
whatever scheduler is active (a ``dask.distributed.Client``, else dask's default).
"""
import time

import numpy as np

from . import _errors as E
from ._stream import Fingerprint, GramSum, check_block, of_sums


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
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    out_dtype = np.dtype(np.float64) if X.dtype.kind in "biu" else np.dtype(X.dtype)
    return X, out_dtype


def _chunk_sum(block, index, d, dtype, full, start):
    """The chunk's :class:`GramSum` and :class:`Fingerprint` (rows from ``start``)."""
    acc = GramSum(d, full=full)
    B = check_block(block, index, d, dtype)
    if B.shape[0]:
        acc.add(B)
    return acc, Fingerprint(d, True, start).add(B)


def _merge(a, b):
    return a[0].merge(b[0]), a[1].merge(b[1])


def _cert_part(block, mean, inv, vecs, start):
    Bc = np.subtract(block, mean, dtype=np.float64)
    Bc *= inv
    return Bc.T @ (Bc @ vecs), Fingerprint(len(mean), False, start).add(np.asarray(block))


def _tree(parts, combine):
    import dask

    while len(parts) > 1:
        pairs = [dask.delayed(combine)(parts[i], parts[i + 1])
                 for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _add(a, b):
    return a[0] + b[0], a[1].merge(b[1])


def _summed(X, full):
    """The row chunks of X as delayed blocks, and their :class:`GramSum` merged on the cluster
    (``full=False``: the diagonal only)."""
    import dask

    blocks = list(X.to_delayed()[:, 0])
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
    parts = [dask.delayed(_chunk_sum)(b, i, X.shape[1], X.dtype, full, int(starts[i]))
             for i, b in enumerate(blocks)]
    acc, seen = _tree(parts, _merge).compute()
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
        out, seen = _tree(parts, _add).compute()
        self.passes += 1
        seen.check(self.first, self.passes, "dask array")
        return out

    def rounding(self, data, tol):
        """Each chunk is centered before its products: float64's rounding only."""
        return 0.0


def open_dask(X, out_dtype, stop, activity):
    """The data of a checked dask array (:func:`check_dask`): its Gram summed on the cluster
    (:class:`~fastlae._data.GramData`), or with more than ``GRAM_FEATURES_MAX`` features the
    statistics summed there and the Gram applied by distributed passes
    (:class:`~fastlae._data.PassData`: a pass is a distributed map, its cost barely depends
    on the block)."""
    import fastlae._stream as stream   # read at call time: tests lower the limit

    t0 = time.perf_counter()
    activity.start("dask Gram")
    blocks, starts, acc, seen = _summed(X, X.shape[1] <= stream.GRAM_FEATURES_MAX)
    data = of_sums(acc, Products(blocks, starts, seen), stop=stop, activity=activity, dtype=X.dtype,
                   out_dtype=out_dtype)
    data.seconds = time.perf_counter() - t0
    return data
