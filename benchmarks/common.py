"""Data, the LAPACK reference, the methods and the accuracy metrics the suite shares.

Self-contained on purpose: it uses only fastlae's public API (``fastlae.pca`` and
``fastlae.datasets.decaying``), so that asv can run it against older versions.

Data (deterministic, no downloads):

* ``decaying``: ``fastlae.datasets.decaying`` (singular values ~ 1/i, noise 0.01, mean 0.5);
* ``gaussian``: iid N(0, 1), a flat noise-like spectrum;
* ``low_rank``: rank 30 with singular values geometric from 10 to 1 (times sqrt(n)), mean 1,
  plus noise 1e-9.
"""
import os

import numpy as np

import fastlae

try:   # imported once here, where asv's forkserver loads the suite, not in every benchmark
    import sklearn.decomposition  # noqa: F401
    import sklearn.utils.extmath  # noqa: F401
except ImportError:   # pragma: no cover - the scikit-learn methods then fail in setup
    pass

# Methods. "/float32" runs on the float32 copy of the data; the others on float64.
FASTLAE = ["auto", "auto/float32", "double", "mixed", "mixed/float32", "als_tied", "eigh"]
SKLEARN = ["covariance_eigh", "arpack", "randomized", "randomized_svd"]
LAPACK = ["scipy_eigh", "scipy_svd"]
FLOOR = ["bare", "bare/float32"]
# Accuracy is tracked for fastlae's default and the peers users would compare it with: LAPACK's
# and ARPACK's answers are exact to rounding (timing them is what matters), fastlae's named
# solvers certify to the same tolerance as its default, randomized_svd is PCA's randomized.
ACCURACY = ["auto", "auto/float32", "mixed", "mixed/float32", "covariance_eigh", "randomized"]
# Peak memory: fastlae's default against the peers people would pick instead.
MEMORY = ["auto", "covariance_eigh", "randomized"]


def make(kind, n, d, seed=0):
    """One data matrix of the suite (float64, C-ordered)."""
    if kind == "decaying":
        return fastlae.datasets.decaying(n, d, random_state=seed)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal((n, d))
    if kind == "low_rank":
        q = 30
        U = rng.standard_normal((n, q))
        U -= U.mean(axis=0)
        U, _ = np.linalg.qr(U)
        V, _ = np.linalg.qr(rng.standard_normal((d, q)))
        X = (U * (np.geomspace(10.0, 1.0, q) * np.sqrt(n))) @ V.T + 1.0
        X += 1e-9 * rng.standard_normal((n, d))
        return X
    raise ValueError(kind)


def reference(X, k):
    """LAPACK's top-k eigenpairs of the exact centered Gram (float64): ``(w, V)`` with ``w``
    the sample covariance's eigenvalues, descending, and ``V`` (d, k) the directions."""
    from scipy.linalg import eigh

    Xc = X - X.mean(axis=0)
    n, d = X.shape
    if n >= d:
        w, V = eigh(Xc.T @ Xc, subset_by_index=[d - k, d - 1])
    else:
        w, U = eigh(Xc @ Xc.T, subset_by_index=[n - k, n - 1])
        V = Xc.T @ U
        V /= np.linalg.norm(V, axis=0)
    return w[::-1] / (n - 1), V[:, ::-1]


def metrics(ref, components, explained_variance, total):
    """``{"eig": largest relative eigenvalue error, "sine": subspace sine, "deficit": relative
    captured-variance deficit}`` of a top-k answer."""
    w, V = ref
    ev = np.asarray(explained_variance, dtype=np.float64)
    Q = np.asarray(components, dtype=np.float64).T
    sine = float(np.linalg.norm(V - Q @ (Q.T @ V), 2))
    return {"eig": float(np.max(np.abs(ev - w)) / w[0]), "sine": sine,
            "deficit": float(max(0.0, w.sum() - ev.sum()) / total)}


def applies(method, shape):
    """Whether ``method`` is sensible on ``(n, d)``."""
    n, d = shape
    name = method.split("/")[0]
    if name == "covariance_eigh":
        return n >= d and d <= 4000
    if name == "scipy_svd":
        return n * d * min(n, d) <= 1e10
    if name in ("gd", "oja"):
        return min(n, d) <= 500
    return True


def run(method, X, k):
    """Run ``method``; returns ``(components, explained_variance, updates)`` (updates None
    where the method has none), or None for the bare Gram product."""
    name = method.split("/")[0]
    if name == "bare":
        X.T @ X if X.shape[0] >= X.shape[1] else X @ X.T
        return None
    if name in ("auto", "als_tied", "eigh", "gd", "oja"):
        r = fastlae.pca(X, k, solver=name)
        return r.components, r.explained_variance, r.n_iter
    if name in ("double", "mixed"):   # fastlae's default solver with the Gram's precision fixed
        try:
            r = fastlae.pca(X, k, precision=name)
        except TypeError:
            raise NotImplementedError("this version has no precision argument") from None
        return r.components, r.explained_variance, r.n_iter
    if name in ("covariance_eigh", "arpack", "randomized"):
        from sklearn.decomposition import PCA

        p = PCA(k, svd_solver=name, random_state=0).fit(X)
        return p.components_, p.explained_variance_, getattr(p, "n_iter_", None)
    if name == "randomized_svd":
        from sklearn.utils.extmath import randomized_svd

        Xc = X - X.mean(axis=0)
        _, s, Vt = randomized_svd(Xc, k, random_state=0)
        return Vt, s ** 2 / (X.shape[0] - 1), None
    if name == "scipy_eigh":
        w, V = reference(X, k)
        return V.T, w, None
    if name == "scipy_svd":
        from scipy.linalg import svd

        _, s, Vt = svd(X - X.mean(axis=0), full_matrices=False)
        return Vt[:k], s[:k] ** 2 / (X.shape[0] - 1), None
    raise ValueError(method)


def data_for(method, X64):
    return np.ascontiguousarray(X64, dtype=np.float32) if method.endswith("/float32") else X64


def data(kind, n, d):
    """What a timing class's ``setup_cache`` returns: the path of the matrix, saved as ``.npy``
    in the cache's working directory (asv keeps it for the benchmarks that share the cache;
    they map it read-only, so no benchmark pays for unpickling a copy)."""
    path = os.path.abspath(f"{kind}-{n}x{d}.npy")
    np.save(path, make(kind, n, d))
    return path


def load(path, method):
    """The matrix a benchmark runs ``method`` on: the saved float64 data mapped read-only, or a
    float32 copy for the ``/float32`` methods."""
    X = np.load(path, mmap_mode="r")
    return np.ascontiguousarray(X, dtype=np.float32) if method.endswith("/float32") else X


def accuracy(kind, n, d, k, methods=ACCURACY):
    """What an accuracy class's ``setup_cache`` returns: the accuracy and update count of each
    of ``methods`` (that applies) from one run each, against LAPACK; no data, so that the
    track benchmarks load a small cache."""
    X = make(kind, n, d)
    ref = reference(X, k)
    total = float(np.sum((X - X.mean(axis=0)) ** 2) / (n - 1))
    out = {}
    for method in methods:
        if not applies(method, (n, d)):
            continue
        try:
            result = run(method, data_for(method, X), k)
        except NotImplementedError:   # an older version without the method
            continue
        m = metrics(ref, result[0], result[1], total)
        m["updates"] = result[2]
        out[method] = m
    return out
