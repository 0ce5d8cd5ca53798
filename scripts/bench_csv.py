"""``fastlae pca`` on a large CSV against ``pandas.read_csv`` followed by ``fastlae.pca``.

Writes a CSV of n x d float64 values as pandas writes them (``to_csv(index=False)``), then
runs, interleaved, each command in a fresh process and reports its wall time and peak resident
memory (the child's ``ru_maxrss``), median of the repeats, and the ratios::

    python scripts/bench_csv.py --n 200000 --d 100 --reps 3
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

PEER = ("import sys, pandas as pd, fastlae; "
        "X = pd.read_csv(sys.argv[1]).to_numpy(); fastlae.pca(X, int(sys.argv[2]))")
MEASURE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
           "subprocess.run(sys.argv[1:], check=True); "
           "print(time.perf_counter() - t, "
           "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measured(cmd):
    """``(seconds, peak MB)`` of ``cmd`` in a fresh child of a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]) / 1024


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--d", type=int, default=100)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args(argv)
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.csv")
        rng = np.random.default_rng(0)
        X = rng.standard_normal((args.n, args.d)) * np.linspace(3.0, 0.1, args.d) + 2.0
        pd.DataFrame(X, columns=[f"f{j}" for j in range(args.d)]).to_csv(path, index=False)
        del X
        size = os.path.getsize(path) / 2 ** 20
        fastlae_cmd = [os.path.join(os.path.dirname(sys.executable), "fastlae"), "pca", path,
                       "-k", str(args.k), "-o", os.path.join(tmp, "c.npz"), "--quiet"]
        peer_cmd = [sys.executable, "-c", PEER, path, str(args.k)]
        ours, theirs = [], []
        for _ in range(args.reps):
            ours.append(measured(fastlae_cmd))
            theirs.append(measured(peer_cmd))
            time.sleep(0.2)
    t_o, m_o = np.median(ours, axis=0)
    t_p, m_p = np.median(theirs, axis=0)
    print(f"CSV {args.n} x {args.d} ({size:.0f} MB), k={args.k}, median of {args.reps}")
    print(f"fastlae pca:                 {t_o:.2f} s, peak {m_o:.0f} MB")
    print(f"pandas.read_csv + pca:       {t_p:.2f} s, peak {m_p:.0f} MB")
    print(f"ratio: time {t_o / t_p:.2f}x, memory {m_o / m_p:.2f}x")


if __name__ == "__main__":
    main()
