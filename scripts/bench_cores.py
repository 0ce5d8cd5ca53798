"""fastlae on a many-core machine: the shapes of the performance issue, thread scaling, and
where the time of each call goes.

Usage::

    python scripts/bench_cores.py                  # every shape, all cores, then scaling
    python scripts/bench_cores.py --quick          # three shapes, 1 repeat
    python scripts/bench_cores.py --json out.json

For each shape (``fastlae.datasets.decaying`` data, float64 unless the shape says float32):
medians of interleaved repeats of the bare Gram product (``X.T @ X``, or ``X @ X.T`` for wide
data), ``fastlae.pca`` (auto, with its ``timings``: the Gram pass, the solve, the certificate),
``fastlae.pca(solver="eigh", precision="double")`` and scikit-learn's
``PCA(svd_solver="covariance_eigh")`` (tall shapes), and each answer's subspace sine to LAPACK's. Then fastlae and the bare product at 1,
2, 4, 8 and 16 threads on two shapes (threadpoolctl limits, ``n_threads``).
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import fastlae
from fastlae.bench import interleaved, reference, sine
from fastlae.datasets import decaying

SHAPES = [(200_000, 256, 10, "float64"), (200_000, 1000, 20, "float64"),
          (200_000, 1000, 20, "float32"), (20_000, 2000, 50, "float64"),
          (4000, 4000, 20, "float64"), (2000, 200_000, 10, "float64")]
QUICK = [(200_000, 1000, 20, "float64"), (20_000, 2000, 50, "float64"),
         (2000, 200_000, 10, "float64")]
SCALING = [(200_000, 1000, 20), (2000, 200_000, 10)]


def _bare(X):
    return (lambda: X.T @ X) if X.shape[0] >= X.shape[1] else (lambda: X @ X.T)


def one_shape(n, d, k, dtype, reps):
    X = decaying(n, d, random_state=0, dtype=np.dtype(dtype).type)
    ref = reference(X.astype(np.float64) if X.dtype != np.float64 else X, k)
    methods = {"bare": _bare(X), "auto": lambda: fastlae.pca(X, k),
               "eigh": lambda: fastlae.pca(X, k, solver="eigh",
                                           precision="double")}
    if n >= d:
        from sklearn.decomposition import PCA

        methods["covariance_eigh"] = lambda: PCA(k, svd_solver="covariance_eigh").fit(X)
    for f in methods.values():   # compile and warm up, untimed
        if f is not methods["bare"] or n * d < 5e8:
            f()
    times, last = interleaved(methods, reps, pause=0.05)
    row = {"shape": [n, d, k, dtype], "median": {m: float(np.median(t)) for m, t in times.items()}}
    auto = last["auto"]
    row["auto_solver"] = auto.solver + (" matrix-free" if auto.matrix_free else "")
    row["auto_timings"] = {key: float(v) for key, v in auto.timings.items()}
    row["sine"] = {"auto": sine(ref[1], auto.components),
                   "eigh": sine(ref[1], last["eigh"].components)}
    if "covariance_eigh" in last:
        row["sine"]["covariance_eigh"] = sine(ref[1], last["covariance_eigh"].components_)
    return row


def scaling(n, d, k, reps):
    X = decaying(n, d, random_state=0)
    out = {}
    for threads in (1, 2, 4, 8, 16):
        if threads > os.cpu_count():
            break
        with threadpool_limits(threads):
            methods = {"bare": _bare(X), "auto": lambda: fastlae.pca(X, k, n_threads=threads)}
            times, _ = interleaved(methods, reps, pause=0.05)
        out[threads] = {m: float(np.median(t)) for m, t in times.items()}
    return {"shape": [n, d, k], "threads": out}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--json")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    fastlae.pca(decaying(3000, 60), 3)
    print(f"cores: {os.cpu_count()}; first call (compiles on a fresh cache): "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    rows = []
    for n, d, k, dtype in (QUICK if args.quick else SHAPES):
        row = one_shape(n, d, k, dtype, 1 if args.quick else args.reps)
        rows.append(row)
        m, t = row["median"], row["auto_timings"]
        peer = f", covariance_eigh {m['covariance_eigh']:.3f}" if "covariance_eigh" in m else ""
        print(f"{n} x {d} k={k} {dtype}: bare {m['bare']:.3f}, auto {m['auto']:.3f} "
              f"({row['auto_solver']}; gram {t['gram']:.3f}, solve {t['solve']:.3f}, certify "
              f"{t['certify']:.3f}), eigh {m['eigh']:.3f}{peer}; auto/bare "
              f"{m['auto'] / m['bare']:.2f}; sine {row['sine']}", flush=True)
    scal = []
    if not args.no_scaling:
        for n, d, k in SCALING:
            s = scaling(n, d, k, 1 if args.quick else args.reps)
            scal.append(s)
            line = ", ".join(f"{th}: {v['auto']:.3f} / {v['bare']:.3f}"
                             for th, v in s["threads"].items())
            print(f"scaling {n} x {d} (threads: auto / bare): {line}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cores": os.cpu_count(), "shapes": rows, "scaling": scal}, fh, indent=1)


if __name__ == "__main__":
    main()
