"""``eigh``'s float32 reduction refined in float64 against LAPACK's float64 eigh.

On the centered Gram of zoo matrices (2m samples, m features) and of the flat sparse
benchmark matrix, times (interleaved, medians of ``--reps``) ``scipy.linalg.eigh(C,
subset_by_index=...)`` for the top k + 1 pairs and :func:`fastlae.solvers.eigh.refined`
(tol 1e-10, as ``eigh.solve`` calls it), and prints their ratio, the
largest residual ``||C v - theta v|| / theta_1`` of the refined top k, and its sine to
LAPACK's top k where the gap at k allows::

    python scripts/bench_eigh.py [--sizes 2000,2500,3000,4000] [-k 10,30] [--reps 3]

``--calls`` times whole ``fastlae.pca(X, 10)`` calls instead, with the refinement on and off
(``SINGLE_MIN`` out of reach) in turn, on ``--shapes`` (by default shapes whose flat spectra
end in eigh on a Gram of 3000 or 2500 rows; decaying ones, which do not, check the noise).
"""
import argparse
import time

import numpy as np
import scipy.linalg

from fastlae import datasets
from fastlae.solvers import eigh as eigh_solver
from fastlae.solvers import krylov

SPECTRA = ["gaussian", "decaying", "power_law", "cluster_at_k", "flat_tail", "rank_below_k",
           "large_mean"]


def centered_gram(X):
    Xc = X - X.mean(axis=0)
    return np.ascontiguousarray(Xc.T @ Xc)


def sparse_gram(n, m):
    X = datasets.sparse(n, m, 0.005, flat=True)
    mu = np.asarray(X.mean(axis=0)).ravel()
    return np.ascontiguousarray((X.T @ X).toarray() - n * np.outer(mu, mu))


def row(label, C, k, reps):
    m, q = C.shape[0], k + 1
    lapack, ours, V = [], [], None
    for _ in range(reps):
        t = time.perf_counter()
        w, U = scipy.linalg.eigh(C, subset_by_index=[m - q, m - 1], check_finite=False)
        lapack.append(time.perf_counter() - t)
        t = time.perf_counter()
        V = eigh_solver.refined(C, q, k, 1e-10)
        ours.append(time.perf_counter() - t)
    a, b = float(np.median(ours)), float(np.median(lapack))
    if V is None:
        print(f"| {label} | {m} | {k} | {b:.3f} | {a:.3f} | {a / b:.2f} | declined | |",
              flush=True)
        return
    w, U = w[::-1], U[:, ::-1]
    Vk = V[:, :k]
    theta = np.einsum("ij,ij->j", Vk, C @ Vk)
    res = np.linalg.norm(C @ Vk - Vk * theta, axis=0).max() / theta[0]
    gap = (w[k - 1] - w[k]) / w[0]
    sine = np.linalg.norm(Vk - U[:, :k] @ (U[:, :k].T @ Vk), 2)
    sine = f"{sine:.0e}" if gap >= krylov.GAP_MIN else f"(gap {gap:.0e})"
    print(f"| {label} | {m} | {k} | {b:.3f} | {a:.3f} | {a / b:.2f} | {res:.0e} | {sine} |",
          flush=True)


def calls(reps, shapes):
    import warnings

    import fastlae

    warnings.simplefilter("ignore")
    on = eigh_solver.SINGLE_MIN
    print("| data | k | refinement on (s) | off (s) | ratio | ran |")
    print("|---|---|---|---|---|---|")
    for n, d in shapes:
        for name in ["gaussian", "flat_tail", "decaying"]:
            X = datasets.zoo(name, n, d, 10)
            fastlae.pca(X, 10)
            times = {True: [], False: []}
            for _ in range(reps):
                for refine in (True, False):
                    eigh_solver.SINGLE_MIN = on if refine else np.iinfo(np.int64).max
                    t = time.perf_counter()
                    r = fastlae.pca(X, 10)
                    times[refine].append(time.perf_counter() - t)
            eigh_solver.SINGLE_MIN = on
            a, b = float(np.median(times[True])), float(np.median(times[False]))
            print(f"| {name} {n} x {d} | 10 | {a:.3f} | {b:.3f} | {a / b:.2f} | {r.solver} |",
                  flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="2000,2500,3000,4000")
    p.add_argument("-k", default="10,30")
    p.add_argument("--spectra", default=",".join(SPECTRA))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--calls", action="store_true")
    p.add_argument("--shapes", default="30000x3000,6000x3000,3000x3000,2500x20000",
                   help="the shapes of --calls")
    args = p.parse_args(argv)
    if args.calls:
        calls(args.reps, [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")])
        return
    ks = [int(k) for k in args.k.split(",")]
    eigh_solver.refined(centered_gram(datasets.zoo("gaussian", 400, 300)), 6, 5, 1e-10)
    print("| Gram | m | k | LAPACK eigh (s) | float32 + refinement (s) | ratio | residual | "
          "sine |")
    print("|---|---|---|---|---|---|---|---|")
    for m in [int(s) for s in args.sizes.split(",")]:
        grams = [(f"sparse {100 * m} x {m} flat", lambda: sparse_gram(100 * m, m))]
        grams += [(name, lambda name=name: centered_gram(datasets.zoo(name, 2 * m, m, 10)))
                  for name in args.spectra.split(",")]
        for label, make in grams:
            C = make()
            for k in ks:
                row(label, C, k, args.reps)


if __name__ == "__main__":
    main()
