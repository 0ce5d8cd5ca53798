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
from ._stream import GramSum, Source, StreamData, check_block, init_passes


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


def _chunk_sum(block, index, d, dtype, full=True):
    acc = GramSum(d, full=full)
    B = check_block(block, index, d, dtype)
    if B.shape[0]:
        acc.add(B)
    return acc


def _merge(a, b):
    return a.merge(b)


def _cert_part(block, mean, inv, vecs):
    Bc = np.subtract(block, mean, dtype=np.float64)
    Bc *= inv
    return Bc.T @ (Bc @ vecs)


def _tree(parts, combine):
    import dask

    while len(parts) > 1:
        pairs = [dask.delayed(combine)(parts[i], parts[i + 1])
                 for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def _add(a, b):
    return a + b


def _summed(X, full):
    """The row chunks of X as delayed blocks, and their :class:`GramSum` merged on the cluster
    (``full=False``: the diagonal only)."""
    import dask

    blocks = list(X.to_delayed()[:, 0])
    parts = [dask.delayed(_chunk_sum)(b, i, X.shape[1], X.dtype, full)
             for i, b in enumerate(blocks)]
    acc = _tree(parts, _merge).compute()
    if not acc.finite():
        raise ValueError(E.X_OVERFLOW.format(maxabs=float(abs(X).max().compute())))
    return blocks, acc


class DaskData(StreamData):
    """The Gram of a dask array, summed on the cluster; the certificate by a second pass."""

    def __init__(self, X, stop, out_dtype):
        t0 = time.perf_counter()
        self.blocks, acc = _summed(X, True)
        super().__init__(acc, _DaskSource(), stop, np.dtype(X.dtype))
        self.out_dtype = out_dtype
        self.seconds = time.perf_counter() - t0

    def times(self, V, tol=None, what=None):
        """``Xc.T (Xc V)`` (scaled), summed over the chunks on the cluster."""
        import dask

        parts = [dask.delayed(_cert_part)(b, self.mean, self.inv, V) for b in self.blocks]
        return _tree(parts, _add).compute()


class _DaskSource(Source):
    replayable = True
    name = "dask array"


class DaskWide(DaskData):
    """A dask array with more than ``GRAM_FEATURES_MAX`` features: the statistics summed on the
    cluster, then the Gram applied by distributed passes (:mod:`fastlae.solvers.krylov`)."""

    by_passes = True
    read_bound = True   # a pass is a distributed map: its cost barely depends on the block

    def __init__(self, X, stop, out_dtype):
        t0 = time.perf_counter()
        self.blocks, acc = _summed(X, False)
        init_passes(self, acc.n, acc.d, acc.mean, acc.scale, float(np.sum(acc.C)),
                    _DaskSource(), stop, np.dtype(X.dtype))
        self.out_dtype = out_dtype
        self.seconds = time.perf_counter() - t0


def data_class(X):
    """:class:`DaskData` (formed Gram) or, for more features, :class:`DaskWide`."""
    import fastlae._stream as stream   # read at call time: tests lower the limit

    return DaskWide if X.shape[1] > stream.GRAM_FEATURES_MAX else DaskData
