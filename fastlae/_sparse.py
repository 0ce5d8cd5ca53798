"""``scipy.sparse`` input, centered implicitly: never densified, no dense copy of X.

The feature Gram of the centered data is ``Xc.T @ Xc = X.T @ X - n m m^T`` (``m`` the feature
means): one sparse product and a rank-one correction, in O(n_features^2) dense memory. The
correction cancels digits only where ``n m_j^2`` is large against the column's centered sum of
squares; the certificate catches that, since it is computed with sparse products from X
itself: ``Xc.T (Xc V) = X.T (X V) - n m (m^T V)``.
"""
import time

import numpy as np

from . import _errors as E
from ._data import SAFE_MAX, SAFE_MIN
from ._stream import Source, StreamData, _pow2_at_least

# The largest dense feature Gram this path forms (bytes).
GRAM_BYTES_MAX = 1 << 31


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
    if d * d * 8 > GRAM_BYTES_MAX:
        raise ValueError(E.SPARSE_WIDE.format(d=d, gb=d * d * 8 / 1e9,
                                              limit=GRAM_BYTES_MAX / 1e9))
    X = X.tocsr()
    out_dtype = np.dtype(np.float64) if X.dtype.kind in "biu" else X.dtype
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.nnz and not np.all(np.isfinite(X.data)):
        what = "NaN" if np.isnan(X.data).any() else "infinity"
        raise ValueError(E.X_NONFINITE.format(what=what))
    return X, out_dtype


class SparseData(StreamData):
    """The formed feature Gram of a sparse X, and the certificate by sparse products."""

    def __init__(self, X, stop, out_dtype):
        t0 = time.perf_counter()
        n, d = X.shape
        # float32 data are multiplied in float64 (one copy of the non-zeros, never dense)
        Xs = X if X.dtype == np.float64 else X.astype(np.float64)
        mean = np.asarray(Xs.mean(axis=0)).ravel()
        biggest = float(np.max(np.abs(Xs.data), initial=0.0)) if Xs.nnz else 0.0
        scale = _pow2_at_least(2.0 * biggest)   # |x - m| <= 2 max|x|
        if not SAFE_MIN <= biggest <= SAFE_MAX and biggest > 0.0:
            Xs = Xs * (1.0 / scale)   # squares would leave the normal range: scale first
            G = (Xs.T @ Xs).toarray()
            self.pre = 1.0
        else:
            G = (Xs.T @ Xs).toarray()
            G *= (1.0 / scale) ** 2
            self.pre = 1.0 / scale
        ms = mean * (1.0 / scale)
        G -= n * np.outer(ms, ms)
        super().__init__(_Sum(n, d, mean, scale, G), _SparseSource(), stop, X.dtype)
        self.out_dtype = out_dtype
        self.Xs = Xs
        self.seconds = time.perf_counter() - t0

    def data_residuals(self, vecs, theta):
        ms = self.mean * self.inv
        CV = (self.Xs.T @ (self.Xs @ vecs)) * self.pre ** 2 - self.n * np.outer(ms, ms @ vecs)
        top = theta[0] if theta[0] > 0 else 1.0
        return np.linalg.norm(CV - vecs * theta, axis=0) / top


class _SparseSource(Source):
    replayable = True
    name = "sparse"


class _Sum:
    """The fields of :class:`fastlae._stream.GramSum` that :class:`StreamData` reads."""

    def __init__(self, n, d, mean, scale, G):
        self.n, self.d, self.mean, self.scale = n, d, mean, scale
        self._G = G

    def gram(self):
        G = self._G
        return np.ascontiguousarray(0.5 * (G + G.T))
