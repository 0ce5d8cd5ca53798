"""Calibrate the ``"auto"`` rule: measured seconds of each way it can go, next to the model.

Usage::

    python scripts/bench_auto.py --shapes 20000x1000x20 6000x2000x10

For each shape, every candidate (als_tied matrix-free, als_tied on the Gram, eigh on the Gram)
runs ``--reps`` times interleaved (:func:`fastlae.bench.interleaved`), each to the end (no budget); the table
shows medians, the model of :func:`fastlae.solvers.estimated_seconds`, the updates taken, and
which way "auto" plans.
"""
import argparse

import numpy as np

import fastlae
import fastlae.api
from fastlae.datasets import decaying
from fastlae.solvers import Plan, choose, estimated_seconds
from fastlae.bench import interleaved, machine


def forced(X, k, solver, matrix_free):
    return fastlae.api._pca(X, k, plan=Plan(solver, matrix_free))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=["200000x256x10", "100000x1000x20",
                                                   "20000x2000x50", "4000x4000x20",
                                                   "6000x2000x10", "20000x1000x50"])
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    print(machine())
    fastlae.pca(np.random.default_rng(0).random((200, 20)), 3)
    ways = {"free": ("als_tied", True), "als_tied": ("als_tied", False), "eigh": ("eigh", False)}
    print("| shape | way | measured s | model s | updates |")
    print("|---|---|---|---|---|")
    for shape in args.shapes:
        n, d, k = (int(v) for v in shape.split("x"))
        X = decaying(n, d, random_state=0)
        model = estimated_seconds(n, d, k)
        methods = {w: (lambda s=s, f=f: forced(X, k, s, f)) for w, (s, f) in ways.items()}
        times, last = interleaved(methods, args.reps)
        t = {name: float(np.median(ts)) for name, ts in times.items()}
        pick = choose(n, d, k, "auto")
        for w in ways:
            mark = " (auto)" if ways[w] == (pick.solver, pick.matrix_free) else ""
            print(f"| {shape} | {w}{mark} | {t[w]:.3f} | {model[w]:.3f} | {last[w].n_iter} |",
                  flush=True)


if __name__ == "__main__":
    main()
