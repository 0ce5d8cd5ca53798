"""Gram-pass time by configuration (threads, block size), interleaved with a bare ``X.T @ X``.

Usage::

    python benchmarks/bench_gram_block.py --shape 200000x256 --reps 9

Configurations: ``workers 2^e`` is the default pass (one thread per BLAS thread, each with
its own partial Gram and a single-threaded SYRK) with ``WORKER_BLOCK_ELEMENTS = 2^e``;
``one thread`` is the single-thread loop on threaded BLAS (what runs where BLAS cannot be
limited to one thread, with ``GRAM_BLOCK_ELEMENTS`` blocks). Every round times each once and a
bare NumPy ``X.T @ X``, in an order that rotates every round, each after a 0.3 s pause.
Medians, their ratio to the bare product's median, and the range of that ratio.
"""
import argparse
import time

import numpy as np

import fastlae
import fastlae._gram as g
from fastlae._validation import check_X
from fastlae.datasets import decaying


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--shape", default="200000x256")
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--sizes", type=int, nargs="+", default=[19, 20, 21],
                   help="log2 of the workers' block size in elements")
    args = p.parse_args(argv)
    n, d = (int(v) for v in args.shape.split("x"))
    X = decaying(n, d, random_state=0)
    fastlae.pca(X[:500, :20], 3)
    original = g.WORKER_BLOCK_ELEMENTS, g.blas_threads

    def gram(name):
        if name == "one thread":
            g.blas_threads = lambda: 1
        else:
            g.WORKER_BLOCK_ELEMENTS = 1 << int(name.split("^")[1])
        try:
            t0 = time.perf_counter()
            g.Problem(*check_X(X)).form_gram()
            return time.perf_counter() - t0
        finally:
            g.WORKER_BLOCK_ELEMENTS, g.blas_threads = original

    names = [f"workers 2^{e}" for e in args.sizes] + ["one thread", "bare X.T @ X"]
    times = {name: [] for name in names}
    for rep in range(args.reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            time.sleep(0.3)
            if name.startswith("bare"):
                t0 = time.perf_counter()
                X.T @ X
                times[name].append(time.perf_counter() - t0)
            else:
                times[name].append(gram(name))
    bare = np.median(times["bare X.T @ X"])
    print(f"{args.shape}: workers = {g.gram_workers(n, d + 1, X.nbytes)[0]}")
    print("| configuration | median s | / bare X.T @ X | min-max / bare |")
    print("|---|---|---|---|")
    for name in names:
        t = np.array(times[name])
        print(f"| {name} | {np.median(t):.3f} | {np.median(t) / bare:.2f} | "
              f"{t.min() / bare:.2f}-{t.max() / bare:.2f} |")


if __name__ == "__main__":
    main()
