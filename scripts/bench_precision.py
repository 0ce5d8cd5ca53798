"""Mixed precision against the float64 floor: the targets of the performance issue, on any machine.

Usage::

    python scripts/bench_precision.py               # targets, then the zoo
    python scripts/bench_precision.py --reps 7 --json out.json
    python scripts/bench_precision.py --skip-zoo      # or --only-zoo

Part 1, the tall shapes (``fastlae.datasets.decaying``, k = 10): medians of interleaved repeats
of a bare float64 ``X.T @ X`` (and a float32 one), scikit-learn's ``PCA(svd_solver="covariance_eigh")``,
``fastlae.pca`` with ``precision="double"`` and with the default (``"auto"``), on float64 X;
then ``fastlae.pca`` on the same data rounded to float32, against fastlae's own float64-input
time, with its accuracy against LAPACK on the float32 values in float64 (largest eigenvalue
error relative to the largest eigenvalue, subspace sine).

Part 2, the other shapes of the issue: fastlae's default against its bare Gram product.

Part 3, the spectrum zoo (``fastlae.datasets.zoo``) at 100000 x 1000, k = 10 (a shape where
the default takes mixed precision): which precision the default ran, its time against
``precision="double"``, and its accuracy against LAPACK.
"""
import argparse
import json

import numpy as np

import fastlae
from fastlae.bench import accuracy, interleaved, machine, reference
from fastlae.datasets import ZOO, decaying, zoo

TALL = [(200_000, 256, 10), (100_000, 1000, 10)]
OTHER = [(20_000, 2000, 50), (1000, 100_000, 10), (4000, 4000, 20)]
ZOO_SHAPE = (100_000, 1000, 10)


def _median(times):
    return {name: float(np.median(t)) for name, t in times.items()}


def tall(n, d, k, reps):
    from sklearn.decomposition import PCA

    X = decaying(n, d, random_state=0)
    X32 = X.astype(np.float32)
    methods = {"bare": lambda: X.T @ X,
               "bare_f32": lambda: X32.T @ X32,
               "covariance_eigh": lambda: PCA(k, svd_solver="covariance_eigh").fit(X),
               "double": lambda: fastlae.pca(X, k, precision="double"),
               "auto": lambda: fastlae.pca(X, k),
               "auto_f32": lambda: fastlae.pca(X32, k),
               "double_f32": lambda: fastlae.pca(X32, k, precision="double")}
    for f in methods.values():   # compile and warm up, untimed
        f()
    times, last = interleaved(methods, reps)
    t = _median(times)
    ref32 = reference(X32.astype(np.float64), k)
    auto32 = last["auto_f32"]
    row = {"shape": [n, d, k], "median": t,
           "auto_precision": last["auto"].precision,
           "auto_f32_precision": auto32.precision,
           "accuracy_f64": accuracy(reference(X, k), last["auto"].components,
                                    last["auto"].explained_variance),
           "accuracy_f32": accuracy(ref32, auto32.components, auto32.explained_variance),
           "accuracy_f32_double": accuracy(ref32, last["double_f32"].components,
                                           last["double_f32"].explained_variance)}
    print(f"{n} x {d}, k={k}: bare X.T@X {t['bare']:.3f} s, covariance_eigh "
          f"{t['covariance_eigh']:.3f} s, fastlae double {t['double']:.3f} s, "
          f"fastlae auto {t['auto']:.3f} s ({row['auto_precision']})")
    print(f"  auto / covariance_eigh {t['auto'] / t['covariance_eigh']:.2f}x (target <= 0.6), "
          f"auto / bare {t['auto'] / t['bare']:.2f}x (target <= 0.75), "
          f"accuracy: eigenvalues {row['accuracy_f64'][0]:.1e}, sine {row['accuracy_f64'][1]:.1e}")
    print(f"  bare float32 X.T@X {t['bare_f32']:.3f} s = {t['bare_f32'] / t['bare']:.2f}x the "
          "float64 one (the floor of a float32 Gram pass)")
    print(f"  float32 input: {t['auto_f32']:.3f} s ({row['auto_f32_precision']}) = "
          f"{t['auto_f32'] / t['auto']:.2f}x fastlae's float64-input time (target <= 0.55); "
          f"double on float32 {t['double_f32']:.3f} s; accuracy against LAPACK on its values: "
          f"eigenvalues {row['accuracy_f32'][0]:.1e}, sine {row['accuracy_f32'][1]:.1e} "
          f"(double: {row['accuracy_f32_double'][0]:.1e}, {row['accuracy_f32_double'][1]:.1e}; "
          f"target 2e-8, 4e-8)")
    return row


def other(n, d, k, reps):
    X = decaying(n, d, random_state=0)
    methods = {"bare": (lambda: X.T @ X) if n >= d else (lambda: X @ X.T),
               "auto": lambda: fastlae.pca(X, k)}
    for f in methods.values():
        f()
    times, last = interleaved(methods, reps)
    t = _median(times)
    r = last["auto"]
    print(f"{n} x {d}, k={k}: bare {'X.T@X' if n >= d else 'X@X.T'} {t['bare']:.3f} s, "
          f"fastlae {t['auto']:.3f} s = {t['auto'] / t['bare']:.2f}x ({r.solver}"
          f"{' matrix-free' if r.matrix_free else ''}, {r.precision})")
    return {"shape": [n, d, k], "median": t, "solver": r.solver, "precision": r.precision}


def spectra(reps):
    n, d, k = ZOO_SHAPE
    rows = []
    for name in ZOO:
        X = zoo(name, n, d, k)
        methods = {"double": lambda: fastlae.pca(X, k, precision="double"),
                   "auto": lambda: fastlae.pca(X, k)}
        for f in methods.values():
            f()
        times, last = interleaved(methods, reps)
        t = _median(times)
        ref = reference(X, k)
        r = last["auto"]
        ev, sin = accuracy(ref, r.components, r.explained_variance)
        rows.append({"name": name, "median": t, "precision": r.precision,
                     "certificate": r.certificate, "residual": float(r.residuals.max()),
                     "eigenvalues": ev, "sine": sin})
        print(f"  {name:18s} {r.precision:6s} {r.certificate:9s} auto/double "
              f"{t['auto'] / t['double']:.2f}x  residual {r.residuals.max():.1e}  eigenvalues "
              f"{ev:.1e}  sine {sin:.1e}")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip-zoo", action="store_true")
    ap.add_argument("--only-zoo", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = {"machine": machine(), "tall": [], "other": [], "zoo": []}
    print(out["machine"])
    for shape in [] if args.only_zoo else TALL:
        out["tall"].append(tall(*shape, args.reps))
    for shape in [] if args.only_zoo else OTHER:
        out["other"].append(other(*shape, args.reps))
    if not args.skip_zoo:
        print(f"zoo at {ZOO_SHAPE[0]} x {ZOO_SHAPE[1]}, k={ZOO_SHAPE[2]} (sine is meaningless "
              "where an eigenvalue repeats across k):")
        out["zoo"] = spectra(args.reps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
