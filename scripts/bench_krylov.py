"""fastlae's block Krylov paths against the peer a user of each path would pick.

Square dense data (matrix-free) and sparse data against scikit-learn's ARPACK
(``PCA(svd_solver="arpack")``), a wide ``.npy`` file against the same call on the array in
memory, and data read by passes (a callable of row blocks with more features than
``GRAM_FEATURES_MAX``) against the matrix-vector products ARPACK's ``eigsh`` needs on the
same covariance operator. Ratios are taken within one run (interleaved, medians).

    python scripts/bench_krylov.py [--reps 3] [--only square,sparse,file,passes,tall,products]

``products`` times one Krylov product with a formed Gram as a run takes it (the row dot
products beyond ``fastlae._operator.DOT_ROWS_MIN`` rows) against the better of OpenBLAS's
``C Q`` and ``(Q^T C)^T`` at the same BLAS threads.
"""
import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np
from scipy.sparse.linalg import eigsh

import fastlae
from fastlae import datasets

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.bench_krylov import covariance_operator, sparse as sparse_data  # noqa: E402


def power_law(n, d, a, seed=0):
    return datasets.with_spectrum(n, d, np.arange(1, min(n, d) + 1) ** -a, mean=0.5,
                                  random_state=seed)


def timed(fn, reps):
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def arpack_products(X, k):
    """Matrix-vector products of ``eigsh`` on the covariance operator of X (implicit
    centering), to scikit-learn's ARPACK tolerance (machine precision)."""
    count = [0]
    eigsh(covariance_operator(X, count), k=k, tol=0,
          v0=np.random.default_rng(0).uniform(-1, 1, X.shape[1]))
    return count[0]


def compare(name, X, k, reps, peer="arpack"):
    from sklearn.decomposition import PCA

    def ours():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fastlae.pca(X, k)

    def theirs():
        return PCA(k, svd_solver="arpack", random_state=0).fit(X)

    ours()   # compiled and warm
    t_ours, t_peer = [], []
    r = p = None
    for _ in range(reps):
        t, r = timed(ours, 1)
        t_ours.append(t)
        t, p = timed(theirs, 1)
        t_peer.append(t)
    a, b = float(np.median(t_ours)), float(np.median(t_peer))
    P = p.components_
    sine = np.linalg.norm(r.components.T - P.T @ (P @ r.components.T), 2)
    print(f"| {name}, k {k} | {a:.3f} ({r.solver}{', matrix-free' if r.matrix_free else ''}, "
          f"{r.n_iter} products, res {r.residuals.max():.0e}, {'certified' if r.converged else 'NOT certified'}) "
          f"| {b:.3f} | {a / b:.2f} | {sine:.0e} |", flush=True)


def square(reps):
    n = d = 4000
    for label, X in [("decaying", datasets.decaying(n, d)), ("i^-0.8", power_law(n, d, 0.8)),
                     ("i^-0.5", power_law(n, d, 0.5)),
                     ("iid Gaussian", np.random.default_rng(0).standard_normal((n, d)))]:
        compare(f"{n} x {d} {label}", X, 20, reps)


def sparse(reps):
    compare("sparse 200000 x 5000 0.5% decaying", sparse_data(200000, 5000, 0.005, False), 10,
            reps)
    compare("sparse 300000 x 3000 0.5% flat", sparse_data(300000, 3000, 0.005, True), 10, reps)
    compare("sparse 200000 x 40000 0.05% decaying", sparse_data(200000, 40000, 0.0005, False),
            10, reps)
    compare("sparse 2000 x 100000 1% decaying", sparse_data(2000, 100000, 0.01, False), 10, reps)
    compare("sparse 10000 x 50000 0.2% decaying", sparse_data(10000, 50000, 0.002, False), 10,
            reps)


def tall(reps):
    """20000 x 2000, k 50: the whole call against a bare ``X.T @ X``."""
    X = datasets.decaying(20000, 2000)
    fastlae.pca(X, 50)
    t_ours, t_bare = [], []
    for _ in range(reps):
        t, r = timed(lambda: fastlae.pca(X, 50), 1)
        t_ours.append(t)
        t_bare.append(timed(lambda: X.T @ X, 1)[0])
    a, b = np.median(t_ours), np.median(t_bare)
    print(f"| 20000 x 2000 decaying, k 50 | {a:.3f} ({r.solver}, {r.precision}, "
          f"{r.n_iter} products, solve {r.timings['solve']:.3f} s) | bare X.T @ X {b:.3f} "
          f"| {a / b:.2f} |", flush=True)


def wide_file(reps):
    X = datasets.decaying(1000, 100000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "wide.npy")
        np.save(path, X)
        fastlae.pca(path, 10)
        t_mem, t_file = [], []
        for _ in range(reps):
            t_mem.append(timed(lambda: fastlae.pca(X, 10), 1)[0])
            t, r = timed(lambda: fastlae.pca(path, 10), 1)
            t_file.append(t)
        a, b = np.median(t_file), np.median(t_mem)
        print(f"| .npy 1000 x 100000, k 10 | file {a:.3f} ({r.gram} Gram, {r.precision}, "
              f"{r.certificate}) | in memory {b:.3f} | {a / b:.2f} |", flush=True)


def passes(reps):
    import fastlae._stream as stream

    rng = np.random.default_rng(0)
    for label, X in [("decaying", datasets.decaying(4000, 20000 + 1000)),
                     ("flat cluster across k", datasets.zoo("cluster_at_k", 4000, 21000, 10))]:
        X = np.ascontiguousarray(X)
        blocks = [X[i:i + 500] for i in range(0, len(X), 500)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, r = timed(lambda: fastlae.pca(lambda: blocks, 10), 1)
        products = arpack_products(X, 10)
        print(f"| by passes 4000 x {X.shape[1]} {label}, k 10 | {t:.2f} s, {r.n_iter} passes, "
              f"res {r.residuals.max():.0e}, {'certified' if r.converged else 'NOT certified'} "
              f"| ARPACK {products} products | {r.n_iter / products:.2f} |", flush=True)
    del rng, stream


def products(reps):
    from fastlae._data import ArrayData
    from fastlae._operator import Operator
    from fastlae._kernels.blas import product

    rng = np.random.default_rng(0)
    print("| m | columns | run's product (ms) | best BLAS (ms) | ratio |")
    for m in (2000, 3000, 4000, 6000):
        A = rng.standard_normal((m, m))
        C = A + A.T
        del A
        op = Operator(ArrayData(np.empty((m, m)), 1), C)   # the data: only their shape
        for b in (4, 10, 20, 30):
            Q = np.ascontiguousarray(rng.standard_normal((m, b)))
            best = []
            for _ in range(max(reps, 5)):   # interleaved: the same noise for both
                time.sleep(0.3)   # OpenBLAS's threads stop spinning, as within a run
                with op.krylov_products(1e-10) as apply:
                    ours = timed(lambda: apply(Q), 10)[0]
                blas = min(timed(lambda: product(Q, C, True, False).T.copy(), 10)[0],
                           timed(lambda: product(C, Q, False, False), 10)[0])
                best.append((ours, blas))
            a, c = np.median(best, axis=0)
            print(f"| {m} | {b} | {1e3 * a:.2f} | {1e3 * c:.2f} | {a / c:.2f} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="square,sparse,file,passes,tall,products")
    args = ap.parse_args()
    parts = {"square": square, "sparse": sparse, "file": wide_file, "passes": passes,
             "tall": tall, "products": products}
    for name in args.only.split(","):
        parts[name](args.reps)


if __name__ == "__main__":
    main()
