"""Speed and accuracy of fastlae.pca against the tools users pick today, in one process.

Usage::

    python benchmarks/bench_pca.py                 # the four shapes of shared/notes/anchors.md
    python benchmarks/bench_pca.py --shapes 20000x300x10 --reps 5

Every timed call runs ``--reps`` times, interleaved with its peers in an order that rotates
every round, and the median is reported together with its ratio to a bare ``X.T @ X``
measured in the same rounds (the machines are shared and noisy: compare ratios, not absolute
times).
Accuracy is against LAPACK ``eigh`` of the exact covariance: ``sin`` is the sine of the largest
principal angle between the top-k subspaces, ``eig`` the largest error of the top-k eigenvalues
relative to the largest.
"""
import argparse
import sys
import time
import warnings

import numpy as np
from scipy.linalg import eigh

import fastlae
from fastlae.datasets import decaying

PAUSE = 0.3
ANCHORS = ["200000x256x10", "100000x1000x20", "20000x2000x50", "4000x4000x20"]


def reference(X, k):
    Xc = X - X.mean(axis=0)
    if X.shape[0] >= X.shape[1]:
        C = Xc.T @ Xc
        w, V = eigh(C, subset_by_index=[C.shape[0] - k, C.shape[0] - 1])
        return w[::-1] / (X.shape[0] - 1), V[:, ::-1]
    G = Xc @ Xc.T
    w, U = eigh(G, subset_by_index=[G.shape[0] - k, G.shape[0] - 1])
    V = Xc.T @ U[:, ::-1]
    return w[::-1] / (X.shape[0] - 1), V / np.linalg.norm(V, axis=0)


def accuracy(ref, comps, ev):
    w, V = ref
    Q = np.asarray(comps, dtype=float).T
    sin = np.linalg.norm(V - Q @ (Q.T @ V), 2)
    return sin, np.max(np.abs(np.asarray(ev) - w)) / w[0]


def candidates(k, with_sklearn, slow):
    c = {
        "bare X.T@X": lambda X: (X.T @ X, None),
        "fastlae auto": lambda X: _fl(X, k, "auto"),
        "fastlae als_tied": lambda X: _fl(X, k, "als_tied"),
        "fastlae eigh": lambda X: _fl(X, k, "eigh"),
        "Gram+scipy eigh": lambda X: _gram_eigh(X, k),
    }
    if with_sklearn:
        for solver in ["covariance_eigh", "randomized", "arpack"] + (["full"] if slow else []):
            c[f"sklearn {solver}"] = lambda X, s=solver: _sk(X, k, s)
    return c


def _fl(X, k, solver):
    r = fastlae.pca(X, k, solver=solver)
    return r, (r.components, r.explained_variance, f"{r.solver}{'/free' if r.matrix_free else ''}"
               f" it={r.n_iter}")


def _gram_eigh(X, k):
    Xc = X - X.mean(axis=0)
    C = Xc.T @ Xc
    w, V = eigh(C, subset_by_index=[C.shape[0] - k, C.shape[0] - 1])
    return w, (V[:, ::-1].T, w[::-1] / (X.shape[0] - 1), "")


def _sk(X, k, solver):
    from sklearn.decomposition import PCA

    p = PCA(k, svd_solver=solver, random_state=0).fit(X)
    return p, (p.components_, p.explained_variance_, "")


def run_shape(n, d, k, reps, with_sklearn, slow, out):
    X = decaying(n, d, random_state=0)
    ref = reference(X, k)
    cands = candidates(k, with_sklearn, slow and n * d <= 4000 * 4000)
    _fl(X[:200, :20], 3, "auto")  # compiled kernels loaded before timing
    times = {name: [] for name in cands}
    results = {}
    order = list(cands.items())
    for rep in range(reps):
        # rotate the order every round, so that no method is always timed right after the
        # same peer (a peer's large temporaries or spinning BLAS threads can slow the next)
        for name, f in order[rep % len(order):] + order[: rep % len(order)]:
            # numpy and scipy each bundle an OpenBLAS whose idle workers spin for a while
            # after a call; a pause keeps one peer's spinning threads out of the next timing
            time.sleep(PAUSE)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                _, info = f(X)
                times[name].append(time.perf_counter() - t0)
            results[name] = info
    bare = np.median(times["bare X.T@X"])
    t_sum = min(_timeit(lambda: X.sum(axis=0)) for _ in range(3))
    print(f"\n### {n} x {d}, k = {k} (bare X.T@X median {bare:.3f} s, X.sum(0) {t_sum:.3f} s)",
          file=out)
    print("| method | median s | / bare X.T@X | sin | eig | note |", file=out)
    print("|---|---|---|---|---|---|", file=out)
    for name, ts in times.items():
        med = np.median(ts)
        info = results[name]
        if info is None:
            acc = "| - | -"
            note = ""
        else:
            sin, eig = accuracy(ref, info[0], info[1])
            acc = f"| {sin:.1e} | {eig:.1e}"
            note = info[2]
        print(f"| {name} | {med:.3f} | {med / bare:.2f} {acc} | {note} |", file=out)
    out.flush()


def _timeit(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", nargs="*", default=ANCHORS, help="NxDxK")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--slow", action="store_true", help="also sklearn's full SVD")
    args = p.parse_args(argv)
    try:
        import sklearn  # noqa: F401
        with_sklearn = not args.no_sklearn
    except ImportError:
        with_sklearn = False
    from threadpoolctl import threadpool_info
    print(f"fastlae {fastlae.__version__}, numpy {np.__version__}, BLAS "
          f"{[(i['internal_api'], i['num_threads']) for i in threadpool_info()]}")
    for shape in args.shapes:
        n, d, k = (int(v) for v in shape.split("x"))
        run_shape(n, d, k, args.reps, with_sklearn, args.slow, sys.stdout)


if __name__ == "__main__":
    main()
