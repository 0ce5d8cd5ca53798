"""Speed and accuracy of fastlae.pca against the tools users pick today, in one process.

Usage::

    python scripts/bench_pca.py                    # the performance table of the README
    python scripts/bench_pca.py --shapes 20000x300x10 --reps 5

For each shape (``fastlae.datasets.decaying`` data), every method runs ``--reps`` times
interleaved with its peers (scripts/timing.py); the table gives medians in seconds, each
fastlae time also as a ratio to the bare Gram product (``X.T @ X``, or ``X @ X.T`` for wide
data) measured in the same rounds, and the sine of the largest principal angle between each
method's top-k subspace and LAPACK's (``eigh`` of the exact centered Gram, float64). Peers:
scikit-learn's ``PCA`` with ``covariance_eigh`` (tall data), ``arpack`` and ``randomized``
(``--slow`` adds ``full``) where scikit-learn is installed.
"""
import argparse

import numpy as np

import fastlae
from fastlae.datasets import decaying
from timing import interleaved, lapack_reference, machine, median, sine

SHAPES = ["200000x256x10", "100000x1000x20", "20000x2000x50", "4000x4000x20",
          "1000x100000x10"]


def methods(X, k, sklearn_solvers):
    tall = X.shape[0] >= X.shape[1]
    out = {"bare": (lambda: X.T @ X) if tall else (lambda: X @ X.T),
           "auto": lambda: fastlae.pca(X, k),
           "eigh": lambda: fastlae.pca(X, k, solver="eigh")}
    if sklearn_solvers:
        from sklearn.decomposition import PCA

        for s in sklearn_solvers:
            if s == "covariance_eigh" and not tall:
                continue   # it forms the d x d covariance
            out[s] = lambda s=s: PCA(k, svd_solver=s, random_state=0).fit(X)
    return out


def components(result):
    return getattr(result, "components_", getattr(result, "components", None))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", nargs="*", default=SHAPES, help="NxDxK")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--no-sklearn", action="store_true")
    p.add_argument("--slow", action="store_true", help="also scikit-learn's full SVD")
    args = p.parse_args(argv)
    solvers = []
    if not args.no_sklearn:
        try:
            import sklearn  # noqa: F401
            solvers = ["covariance_eigh", "arpack", "randomized"] + (["full"] if args.slow else [])
        except ImportError:
            pass
    print(machine())
    fastlae.pca(np.random.default_rng(0).random((300, 20)), 3)
    head = ["X, k", "bare Gram product", "fastlae auto", "fastlae eigh"] + solvers
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for shape in args.shapes:
        n, d, k = (int(v) for v in shape.split("x"))
        X = decaying(n, d, random_state=0)
        V = lapack_reference(X, k)
        m = methods(X, k, solvers)
        for f in m.values():   # compiled kernels loaded, caches warm
            f()
        times, last = interleaved(m, args.reps)
        t = median(times)
        r = last["auto"]
        cells = [f"{n} x {d}, {k}", f"{t['bare']:.3f}",
                 f"{t['auto']:.3f} = {t['auto'] / t['bare']:.2f}x ({r.solver}"
                 f"{' matrix-free' if r.matrix_free else ''}, {r.n_iter} updates, "
                 f"sin {sine(V, r.components):.0e})",
                 f"{t['eigh']:.3f} = {t['eigh'] / t['bare']:.2f}x"]
        for s in solvers:
            if s in t:
                cells.append(f"{t[s]:.3f} (sin {sine(V, components(last[s])):.0e})")
            else:
                cells.append("-")
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
