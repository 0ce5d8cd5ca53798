"""The paths that iterate on products (block Krylov) against the peers their users pick.

* ``Sparse`` / ``SparseWide``: ``scipy.sparse`` CSR data (a few thousand features at 0.5%
  non-zeros, the feature Gram formed; 40000 features at 0.05%, by products) against
  scikit-learn's ``PCA(svd_solver="arpack")`` and SciPy's ``eigsh`` / ``svds`` on the
  implicitly centered operator.
* ``WideFile``: a 1000 x 100000 ``.npy`` file (the sample Gram, two passes) against the same
  call on the array in memory and scikit-learn's ARPACK on it.
* ``Passes``: passes over the data (products with the Gram) of fastlae's Krylov paths against
  the matrix-vector products ARPACK's ``eigsh`` takes on the same operator to machine
  precision (scikit-learn's tolerance), a tracked count, not a time.

Only public API is used (``fastlae.pca``, ``fastlae.datasets``), as in :mod:`.common`.
"""
import numpy as np

import fastlae

from . import common


def sparse(n, d, density, flat, seed=0):
    """:func:`fastlae.datasets.sparse`."""
    return fastlae.datasets.sparse(n, d, density, flat=flat, random_state=seed)


def covariance_operator(X, count=None):
    """The implicitly centered Gram of X as a SciPy ``LinearOperator`` (counting products in
    ``count[0]``)."""
    from scipy.sparse.linalg import LinearOperator

    mean = np.asarray(X.mean(axis=0)).ravel()

    def mv(v):
        if count is not None:
            count[0] += 1
        v = np.ravel(v)
        t = X @ v - mean @ v
        return X.T @ t - mean * t.sum()

    d = X.shape[1]
    return LinearOperator((d, d), matvec=mv, dtype=np.float64)


def centered_operator(X):
    """The implicitly centered X as a ``LinearOperator`` (for ``svds``)."""
    from scipy.sparse.linalg import LinearOperator

    mean = np.asarray(X.mean(axis=0)).ravel()
    n, d = X.shape
    return LinearOperator(
        (n, d), dtype=np.float64,
        matvec=lambda v: X @ np.ravel(v) - mean @ np.ravel(v),
        rmatvec=lambda u: X.T @ np.ravel(u) - mean * np.sum(u))


def run(method, X, k):
    """Run one method of this module on X (sparse, dense or a path)."""
    from scipy.sparse.linalg import eigsh, svds

    if method.startswith("fastlae"):
        return fastlae.pca(X, k)
    if method == "arpack":
        from sklearn.decomposition import PCA

        return PCA(k, svd_solver="arpack", random_state=0).fit(X)
    v0 = np.random.default_rng(0).uniform(-1.0, 1.0, X.shape[1])
    if method == "eigsh":
        return eigsh(covariance_operator(X), k=k, tol=0, v0=v0)
    if method == "svds":
        return svds(centered_operator(X), k=k, tol=0, v0=v0)
    raise ValueError(method)


class _Timed:
    """Time of each method on one matrix built in ``setup_cache``."""

    param_names = ["method"]
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0
    timeout = 900
    k = 10

    def setup(self, X, method):
        # a path (WideFile): read by fastlae/file itself, loaded into memory for the others
        self.X = np.load(X) if isinstance(X, str) and method != "fastlae/file" else X
        if method.startswith("fastlae"):   # compiled kernels loaded before timing
            run(method, self.X, self.k)

    def time_pca(self, X, method):
        run(method, self.X, self.k)


class Sparse(_Timed):
    params = [["fastlae", "arpack", "eigsh", "svds"]]

    def setup_cache(self):
        return sparse(200000, 5000, 0.005, flat=False)


class SparseFlat(_Timed):
    params = [["fastlae", "arpack", "eigsh"]]

    def setup_cache(self):
        return sparse(300000, 3000, 0.005, flat=True)


class SparseWide(_Timed):
    params = [["fastlae", "arpack", "eigsh"]]

    def setup_cache(self):
        return sparse(200000, 40000, 0.0005, flat=False)


class SparseFewSamples(_Timed):
    """Fewer samples than features: fastlae's sparse sample Gram."""
    params = [["fastlae", "arpack", "eigsh"]]

    def setup_cache(self):
        return sparse(2000, 100000, 0.01, flat=False)


class WideFile(_Timed):
    params = [["fastlae/file", "fastlae/memory", "arpack"]]

    def setup_cache(self):
        return common.data("decaying", 1000, 100000)


class Passes:
    """Passes over the data of fastlae's Krylov paths, and ARPACK's products on the same
    operator (``eigsh``, tol=0): square dense data (matrix-free), sparse data by products,
    and a source read by passes (a callable of row blocks, more features than a Gram)."""

    param_names = ["case", "method"]
    params = [["square", "sparse_wide", "by_passes", "by_passes_flat"], ["fastlae", "eigsh"]]
    timeout = 1800
    k = 10

    def setup_cache(self):
        cases = {
            "square": common.make("decaying", 4000, 4000),
            "sparse_wide": sparse(200000, 40000, 0.0005, flat=False),
            "by_passes": fastlae.datasets.decaying(4000, 21000),
            "by_passes_flat": fastlae.datasets.zoo("cluster_at_k", 4000, 21000, self.k),
        }
        out = {}
        for case, X in cases.items():
            if case.startswith("by_passes"):
                X = np.ascontiguousarray(X)
                blocks = [X[i:i + 500] for i in range(0, len(X), 500)]
                ours = fastlae.pca(lambda: blocks, self.k).n_iter
            else:
                ours = fastlae.pca(X, self.k).n_iter
            count = [0]
            from scipy.sparse.linalg import eigsh

            eigsh(covariance_operator(X, count), k=self.k, tol=0,
                  v0=np.random.default_rng(0).uniform(-1.0, 1.0, X.shape[1]))
            out[case] = {"fastlae": ours, "eigsh": count[0]}
        return out

    def track_passes(self, cache, case, method):
        return cache[case][method]

    track_passes.unit = "passes"

