"""Gram-pass time against the block size, alone and right after a NumPy product.

Usage::

    python benchmarks/bench_gram_block.py --shape 200000x256 --reps 5

For each ``GRAM_BLOCK_ELEMENTS`` candidate the one-pass Gram (``Problem.form_gram``) runs
``--reps`` times back to back ("alone") and ``--reps`` times each 50 ms after a NumPy
``X.T @ X`` ("after numpy": NumPy's OpenBLAS workers are still spinning then). Medians.
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
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[18, 19, 20, 21, 22],
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

    try:
        print("| block elements | alone s | after numpy s |")
        print("|---|---|---|")
        for e in args.sizes:
            g.GRAM_BLOCK_ELEMENTS = 1 << e
            alone = [gram() for _ in range(args.reps)]
            after = []
            for _ in range(args.reps):
                X.T @ X
                time.sleep(0.05)
                after.append(gram())
            print(f"| 2^{e} | {np.median(alone):.3f} | {np.median(after):.3f} |", flush=True)
    finally:
        g.GRAM_BLOCK_ELEMENTS = original
    t = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        X.T @ X
        t.append(time.perf_counter() - t0)
    print(f"bare X.T @ X: {np.median(t):.3f} s")


if __name__ == "__main__":
    main()
