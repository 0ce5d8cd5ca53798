"""Start-up cost with a warm JIT cache: import + a small first call, fastlae against scikit-learn.

Usage::

    python scripts/bench_startup.py --reps 5

Each sample is a fresh interpreter; the script warms fastlae's cache once first. Prints the
medians and their ratio (the hardening target is fastlae / scikit-learn <= 1.5).
"""
import argparse
import subprocess
import sys

import numpy as np

SMALL = "X = np.random.default_rng(0).standard_normal((300, 20))"
FASTLAE = ("import time; t = time.perf_counter(); import numpy as np, fastlae; "
           f"{SMALL}; fastlae.pca(X, 3); print(time.perf_counter() - t)")
SKLEARN = ("import time; t = time.perf_counter(); import numpy as np, sklearn.decomposition; "
           f"{SMALL}; sklearn.decomposition.PCA(3).fit(X); print(time.perf_counter() - t)")


def sample(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
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
