"""Gram-pass time against the block size, interleaved with a bare ``X.T @ X``.

Usage::

    python benchmarks/bench_gram_block.py --shape 200000x256 --reps 13

Every round times the one-pass Gram (``Problem.form_gram``) once per ``GRAM_BLOCK_ELEMENTS``
candidate and a bare NumPy ``X.T @ X``, in an order that rotates every round, each after a
0.3 s pause. Medians, and their ratio to the bare product's.
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
    p.add_argument("--reps", type=int, default=13)
    p.add_argument("--sizes", type=int, nargs="+", default=[18, 19, 20, 21],
                   help="log2 of the block size in elements")
    args = p.parse_args(argv)
    n, d = (int(v) for v in args.shape.split("x"))
    X = decaying(n, d, random_state=0)
    fastlae.pca(X[:500, :20], 3)
    original = g.GRAM_BLOCK_ELEMENTS

    def gram():
        t0 = time.perf_counter()
        g.Problem(*check_X(X)).form_gram()
        return time.perf_counter() - t0

    names = [f"2^{e}" for e in args.sizes] + ["bare X.T @ X"]
    times = {name: [] for name in names}
    try:
        for rep in range(args.reps):
            for name in names[rep % len(names):] + names[: rep % len(names)]:
                time.sleep(0.3)
                if name.startswith("bare"):
                    t0 = time.perf_counter()
                    X.T @ X
                    times[name].append(time.perf_counter() - t0)
                else:
                    g.GRAM_BLOCK_ELEMENTS = 1 << int(name[2:])
                    times[name].append(gram())
    finally:
        g.GRAM_BLOCK_ELEMENTS = original
    bare = np.median(times["bare X.T @ X"])
    print("| block elements | median s | / bare X.T @ X |")
    print("|---|---|---|")
    for name in names:
        print(f"| {name} | {np.median(times[name]):.3f} | {np.median(times[name]) / bare:.2f} |")


if __name__ == "__main__":
    main()
