"""Gram-pass time by configuration (threads, block size), interleaved with a bare ``X.T @ X``.

Usage::

    python scripts/bench_gram_block.py --shape 200000x256 --reps 9

Configurations: ``workers 2^e`` is the default pass (one thread per BLAS thread, each with
its own partial Gram and a single-threaded SYRK) with ``WORKER_BLOCK_ELEMENTS = 2^e``;
``one thread`` is the single-thread loop on threaded BLAS (what runs where BLAS cannot be
limited to one thread, with ``GRAM_BLOCK_ELEMENTS`` blocks), timed with a bare NumPy
``X.T @ X`` in interleaved rounds (:func:`fastlae.bench.interleaved`). Medians, their ratio to the bare
product's median, and the range of that ratio.
"""
import argparse

import numpy as np

import fastlae
import fastlae._gram as g
from fastlae._data import ArrayData
from fastlae._validation import check_X
from fastlae.datasets import decaying
from fastlae.bench import interleaved, machine


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
            g.form_gram(ArrayData(*check_X(X)[:2]))
        finally:
            g.WORKER_BLOCK_ELEMENTS, g.blas_threads = original

    methods = {f"workers 2^{e}": (lambda e=e: gram(f"2^{e}")) for e in args.sizes}
    methods["one thread"] = lambda: gram("one thread")
    methods["bare X.T @ X"] = lambda: X.T @ X
    times, _ = interleaved(methods, args.reps)
    bare = np.median(times["bare X.T @ X"])
    print(machine())
    print(f"{args.shape}: workers = {g.gram_workers(n, d + 1, X.nbytes)[0]}")
    print("| configuration | median s | / bare X.T @ X | min-max / bare |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        t = np.array(ts)
        print(f"| {name} | {np.median(t):.3f} | {np.median(t) / bare:.2f} | "
              f"{t.min() / bare:.2f}-{t.max() / bare:.2f} |")


if __name__ == "__main__":
    main()
