"""fastlae on a many-core machine: the shapes of the performance issue, thread scaling, and
where the time of each call goes.

Usage::

    python scripts/bench_cores.py                  # every shape, all cores, then scaling
    python scripts/bench_cores.py --quick          # three shapes, 1 repeat
    python scripts/bench_cores.py --json out.json
    python scripts/bench_cores.py --shapes 1,5 --profile   # two shapes, profiles of the default

For each shape (``fastlae.datasets.decaying`` data, float64 unless the shape says float32):
medians of interleaved repeats of the bare Gram product (``X.T @ X``, or ``X @ X.T`` for wide
data), ``fastlae.pca`` (auto, with its ``timings``: the Gram pass, the solve, the certificate),
``fastlae.pca(precision="double")``, ``fastlae.pca(solver="eigh", precision="double")``
(LAPACK on the float64 Gram) and ``solver="als_tied"`` (the autoencoder), scikit-learn's
``PCA(svd_solver="covariance_eigh")`` (tall shapes), and each answer's subspace sine to
LAPACK's. Then fastlae (with its ``timings``) and the bare product at 1, 2, 4, 8 and 16
threads on three shapes (threadpoolctl limits, ``n_threads``). ``--profile`` adds the 25 most expensive functions of one ``fastlae.pca`` call
per shape (cProfile: the calling thread only, compiled kernels as one entry each).
"""
import argparse
import cProfile
import io
import json
import pstats
import os
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import fastlae
from fastlae.bench import interleaved, machine, reference, sine
from fastlae.datasets import decaying

SHAPES = [(200_000, 256, 10, "float64"), (200_000, 1000, 20, "float64"),
          (200_000, 1000, 20, "float32"), (20_000, 2000, 50, "float64"),
          (4000, 4000, 20, "float64"), (2000, 200_000, 10, "float64")]
QUICK = [(200_000, 1000, 20, "float64"), (20_000, 2000, 50, "float64"),
         (2000, 200_000, 10, "float64")]
SCALING = [(200_000, 1000, 20), (20_000, 2000, 50), (2000, 200_000, 10)]


def _bare(X):
    return (lambda: X.T @ X) if X.shape[0] >= X.shape[1] else (lambda: X @ X.T)


def _profile(f):
    """cProfile of ``f()`` with fastlae's work run in the calling thread (it runs in a worker
    thread otherwise, which cProfile does not see)."""
    import fastlae.api

    def inline(work, tick=None):
        return work(np.zeros(1, dtype=np.int64), lambda fn: fn())

    prof, saved = cProfile.Profile(), fastlae.api.interruptible
    fastlae.api.interruptible = inline
    try:
        prof.enable()
        f()
        prof.disable()
    finally:
        fastlae.api.interruptible = saved
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def one_shape(n, d, k, dtype, reps, profile=False, pause=0.3):
    X = decaying(n, d, random_state=0, dtype=np.dtype(dtype).type)
    ref = reference(X.astype(np.float64) if X.dtype != np.float64 else X, k)
    methods = {"bare": _bare(X), "auto": lambda: fastlae.pca(X, k),
               "double": lambda: fastlae.pca(X, k, precision="double"),
               "eigh": lambda: fastlae.pca(X, k, solver="eigh",
                                           precision="double"),
               "als_tied": lambda: fastlae.pca(X, k, solver="als_tied",
                                               precision="double")}
    if n >= d:
        from sklearn.decomposition import PCA

        methods["covariance_eigh"] = lambda: PCA(k, svd_solver="covariance_eigh").fit(X)
    for f in methods.values():   # compile and warm up, untimed
        if f is not methods["bare"] or n * d < 5e8:
            f()
    times, last = interleaved(methods, reps, pause=pause)
    row = {"shape": [n, d, k, dtype], "median": {m: float(np.median(t)) for m, t in times.items()}}
    if profile:
        row["profile"] = _profile(methods["auto"])
    auto = last["auto"]
    row["auto_solver"] = auto.solver + (" matrix-free" if auto.matrix_free else "") + \
        f" {auto.precision}"
    row["auto_timings"] = {key: float(v) for key, v in auto.timings.items()}
    row["sine"] = {"auto": sine(ref[1], auto.components),
                   "eigh": sine(ref[1], last["eigh"].components)}
    if "covariance_eigh" in last:
        row["sine"]["covariance_eigh"] = sine(ref[1], last["covariance_eigh"].components_)
    return row


def scaling(n, d, k, reps, counts=(1, 2, 4, 8, 16), pause=0.3):
    X = decaying(n, d, random_state=0)
    out = {}
    for threads in counts:
        if threads > os.cpu_count():
            break
        with threadpool_limits(threads):
            methods = {"bare": _bare(X), "auto": lambda: fastlae.pca(X, k, n_threads=threads)}
            times, last = interleaved(methods, reps, pause=pause)
        out[threads] = {m: float(np.median(t)) for m, t in times.items()}
        out[threads]["auto_timings"] = {key: float(v) for key, v in last["auto"].timings.items()}
    return {"shape": [n, d, k], "threads": out}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--shapes", help="comma-separated indices into SHAPES (default: all)")
    p.add_argument("--scaling-reps", type=int, default=None,
                   help="repeats per thread count (default: --reps)")
    p.add_argument("--threads", default="1,2,4,8,16", help="thread counts of the scaling runs")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--pause", type=float, default=0.3,
                   help="seconds between calls (OpenBLAS threads spin for a while after one)")
    p.add_argument("--json")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    fastlae.pca(decaying(3000, 60), 3)
    print(f"cores: {os.cpu_count()}; first call (compiles on a fresh cache): "
          f"{time.perf_counter() - t0:.1f} s; {machine()}", flush=True)
    rows = []
    shapes = QUICK if args.quick else SHAPES
    if args.shapes:
        shapes = [SHAPES[int(i)] for i in args.shapes.split(",")]
    for n, d, k, dtype in shapes:
        row = one_shape(n, d, k, dtype, 1 if args.quick else args.reps, args.profile,
                        args.pause)
        rows.append(row)
        m, t = row["median"], row["auto_timings"]
        peer = f", covariance_eigh {m['covariance_eigh']:.3f}" if "covariance_eigh" in m else ""
        print(f"{n} x {d} k={k} {dtype}: bare {m['bare']:.3f}, auto {m['auto']:.3f} "
              f"({row['auto_solver']}; gram {t['gram']:.3f}, solve {t['solve']:.3f}, certify "
              f"{t['certify']:.3f}), eigh {m['eigh']:.3f}{peer}; auto/bare "
              f"{m['auto'] / m['bare']:.2f}; double {m['double']:.3f}, "
              f"als_tied {m['als_tied']:.3f}; "
              f"sine {row['sine']}",
              flush=True)
        if args.profile:
            print(row["profile"], flush=True)
    scal = []
    if not args.no_scaling:
        for n, d, k in SCALING:
            reps = args.scaling_reps or (1 if args.quick else args.reps)
            s = scaling(n, d, k, reps, [int(t) for t in args.threads.split(",")], args.pause)
            scal.append(s)
            line = ", ".join(f"{th}: {v['auto']:.3f} / {v['bare']:.3f} (" + " ".join(
                f"{key} {t:.3f}" for key, t in v["auto_timings"].items()) + ")"
                for th, v in s["threads"].items())
            print(f"scaling {n} x {d} (threads: auto / bare): {line}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cores": os.cpu_count(), "shapes": rows, "scaling": scal}, fh, indent=1)


if __name__ == "__main__":
    main()
