"""Start-up cost with a warm JIT cache: import + a small first call, fastlae against scikit-learn.

Usage::

    python scripts/bench_startup.py --reps 5
    python scripts/bench_startup.py --cold      # first calls in fresh caches, by path

Each sample is a fresh interpreter; the script warms fastlae's cache once first. Prints the
medians and their ratio (the hardening target is fastlae / scikit-learn <= 1.5).

``--cold`` times, for each path of ``fastlae.pca``, the first call in a fresh interpreter with
an empty ``NUMBA_CACHE_DIR`` (what a new environment pays before its first result; the data
are made before the clock starts).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

SMALL = "X = np.random.default_rng(0).standard_normal((300, 20))"
FASTLAE = ("import time; t = time.perf_counter(); import numpy as np, fastlae; "
           f"{SMALL}; fastlae.pca(X, 3); print(time.perf_counter() - t)")
SKLEARN = ("import time; t = time.perf_counter(); import numpy as np, sklearn.decomposition; "
           f"{SMALL}; sklearn.decomposition.PCA(3).fit(X); print(time.perf_counter() - t)")


# (label, data expression, pca arguments) of each path's first call
COLD = [("LAPACK, 300 x 20", "rng.standard_normal((300, 20))", "3"),
        ("formed feature Gram, 100000 x 300", "decaying(100000, 300)", "10"),
        ("float32 input, 100000 x 300", "decaying(100000, 300, dtype=np.float32)", "10"),
        ("mixed precision, 100000 x 300", "decaying(100000, 300)", "10, precision='mixed'"),
        ("wide (sample Gram), 500 x 20000", "decaying(500, 20000)", "10"),
        ("wide, mixed precision, 500 x 20000", "decaying(500, 20000)", "10, precision='mixed'"),
        ("matrix-free, 4000 x 4000", "decaying(4000, 4000)", "20")]


def sample(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def cold():
    for label, data, args in COLD:
        code = ("import time; import numpy as np, fastlae; from fastlae.datasets import decaying; "
                f"rng = np.random.default_rng(0); X = {data}; t = time.perf_counter(); "
                f"fastlae.pca(X, {args}); print(time.perf_counter() - t)")
        with tempfile.TemporaryDirectory() as cache:
            seconds = sample(code, dict(os.environ, NUMBA_CACHE_DIR=cache))
        print(f"first call, {label}: {seconds:.1f} s", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--cold", action="store_true", help="first calls in fresh caches, by path")
    args = p.parse_args(argv)
    if args.cold:
        cold()
        return
    sample(FASTLAE)  # compiles into the cache if it is cold
    ours, theirs = [], []
    for _ in range(args.reps):
        ours.append(sample(FASTLAE))
        theirs.append(sample(SKLEARN))
    a, b = np.median(ours), np.median(theirs)
    print(f"fastlae import + pca(300 x 20, k=3): {a:.3f} s; sklearn import + PCA fit: {b:.3f} s; "
          f"ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
