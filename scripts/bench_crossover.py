"""``"auto"`` on square-ish data against its two plans and ARPACK, across spectra.

For each spectrum of ``fastlae.datasets.zoo`` and each shape, times (best of ``--reps``)
matrix-free block Krylov (``Plan("krylov", True, ...)``, handing over to the Gram as
``"auto"`` would), the autoencoder on the formed Gram (``Plan("als_tied", False, ...)``),
``"auto"`` itself and scikit-learn's ARPACK, k 10, and prints what each ran::

    python scripts/bench_crossover.py --spectra decaying,gaussian,power_law,cluster_at_k
"""
import argparse
import time
import warnings

import fastlae.api as api
from fastlae.datasets import zoo
from fastlae.solvers import Plan, choose

SHAPES = [(2000, 1000), (4000, 1000), (6000, 1000), (3000, 1500), (6000, 1500), (3000, 2000),
          (6000, 2000)]


def best(fn, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        r = fn()
        out.append(time.perf_counter() - t)
    return min(out), r


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spectra", default="decaying,gaussian,power_law,cluster_at_k")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    from sklearn.decomposition import PCA

    warnings.simplefilter("ignore")
    k = args.k
    print("| spectrum | n x d | plan | krylov free | als_tied formed | auto | arpack | "
          "auto / arpack |")
    print("|---|---|---|---|---|---|---|---|")
    for spec in args.spectra.split(","):
        for n, d in SHAPES:
            X = zoo(spec, n, d, k=k, random_state=0)
            api._pca(X[:100, :40], 3)
            cells = []
            for plan in (Plan("krylov", True, 28, 1.0), Plan("als_tied", False, 60, 40.0), None):
                t, r = best(lambda: api._pca(X, k, plan=plan), args.reps)
                cells.append(f"{t:.3f} ({r.solver}, {r.n_iter})")
            t_auto = float(cells[2].split()[0])
            t_arpack, _ = best(lambda: PCA(k, svd_solver="arpack", random_state=0).fit(X),
                               args.reps)
            plan = choose(n, d, k, "auto")
            print(f"| {spec} | {n} x {d} | {plan.solver}/{'free' if plan.matrix_free else 'gram'}"
                  f" | {' | '.join(cells)} | {t_arpack:.3f} | {t_auto / t_arpack:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
