"""Compiling the kernels ahead of time, and telling whether a first call will compile.

Numba compiles each kernel once per machine and caches it (``cache=True``); the first call of
a fresh installation waits for that. :func:`warmup` runs small problems through every path
(float32 and float64, both memory orders, both Gram matrices, every solver, formed and
matrix-free operators, both precisions) so that a container image or a CI cache can hold the
result.
"""
import os
import time
import warnings

import numpy as np


def cold():
    """Whether the cache lacks kernels of the default path (a first call would compile)."""
    from ._kernels import als_tied, passes

    # kernels that Python calls (a kernel compiled as another's callee has no index of its own)
    for kernel in (passes.center_block_ones, passes.fold_lower_symmetric, als_tied.run):
        cache = getattr(kernel, "_cache", None)
        index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
        if index is None or not os.path.exists(index):
            return True
    return False


def warmup():
    """Compile (or load) every kernel the public entry points use; returns the seconds taken."""
    from . import api, pca
    from .datasets import decaying
    from .solvers import Plan

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (np.float64, np.float32):
            for n, d in ((3000, 60), (60, 400)):   # the feature and the sample Gram
                X = decaying(n, d, dtype=dtype)
                for order in ("C", "F"):
                    Xo = np.asarray(X, order=order)
                    for solver in ("auto", "eigh", "als_tied", "als", "gd", "oja"):
                        pca(Xo, 3, solver=solver, max_iter=50 if solver in ("gd", "oja")
                            else None)
                    pca(Xo, 3, precision="mixed")   # the float32 Gram
                    for free in (False, True):   # the budgeted and matrix-free paths
                        api._pca(Xo, 3, plan=Plan("als_tied", free, 60, 1e9))
        # wide data whose mean forbids the uncentered mapping to features
        pca(decaying(60, 400, mean=1e9), 3)
        _sparse_paths()
        # the Krylov products of formed Grams beyond the cache (thousands of features)
        from ._kernels.dots import rows_dot

        rows_dot(np.eye(8), np.ones((6, 8)), np.empty((6, 8)), 0, 8)
        # eigh's float32 reduction refined in float64 (large Grams: solvers.eigh.SINGLE_MIN)
        from ._kernels.tridiagonal import shifted_solves

        shifted_solves(np.ones(4), np.ones(3), np.zeros(2), np.ones((2, 4)))
        from .training import train

        train(decaying(40, 6), 2, 0.5, epochs=2)
    return time.perf_counter() - t0


def _sparse_paths():
    """The kernels of sparse input: the feature and the sample Gram (by tiles and by rows),
    and the products of runs by passes over X's rows and over its columns (which only data
    beyond ``GRAM_ALWAYS`` features or samples reach, so they are called here directly)."""
    import scipy.sparse as sp

    from . import pca
    from ._data import PassData
    from ._sparse import Products, _scaled

    for dtype in (np.float64, np.float32):
        for density in (0.2, 0.01):   # tiles, and rows too sparse for them
            S = sp.random(400, 60, density=density, format="csr", dtype=dtype, random_state=0)
            pca(S, 3)
            pca(sp.csr_matrix(S.T), 3)
    rng = np.random.default_rng(0)
    for n, d in ((400, 60), (60, 400)):
        stop = np.zeros(1, dtype=np.int64)
        Xs, mean, scale, pre, centered = _scaled(
            sp.random(n, d, density=0.2, format="csr", random_state=0), stop)
        products = Products(Xs, pre, stop, columns=n < d)
        data = PassData(n, d, mean, scale, float(centered.sum()), products, read_bound=False,
                        stop=stop)
        for b in (4, 10):
            products.times(data, rng.standard_normal((d, b)))
            products.times_samples(data, rng.standard_normal((n, b)))
