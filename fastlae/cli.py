"""Command line: ``fastlae demo``, ``fastlae pca INPUT -k K -o OUT.npz``, ``fastlae paper``,
``fastlae bench``."""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

from . import _errors as E


def _load(path):
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".npy", ".npz", ".csv"):
        raise ValueError(E.INPUT_FORMAT.format(path=path, suffix=suffix))
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                if "X" in keys:
                    return z["X"]
                if len(keys) != 1:
                    raise ValueError(E.NPZ_KEYS.format(path=path, keys=keys))
                return z[keys[0]]
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        if isinstance(err, ValueError) and str(err).startswith(f"{path!r} holds"):
            raise
        raise ValueError(E.INPUT_FILE.format(path=path, err=err)) from None


def _save_atomic(path, **arrays):
    """Write an .npz next to ``path`` and rename it into place: never a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _table(r):
    lines = ["  #   explained variance   ratio       cumulative   residual"]
    cum = np.cumsum(r.explained_variance_ratio)
    for i, (ev, ra, c, res) in enumerate(zip(r.explained_variance, r.explained_variance_ratio,
                                             cum, r.residuals)):
        lines.append(f"{i + 1:3d}   {ev:18.10g}   {ra:9.6f}   {c:10.6f}   {res:8.1e}")
    return "\n".join(lines)


def cmd_demo(args):
    from scipy.linalg import eigh

    from . import pca
    from .datasets import decaying

    n, d, k = args.n_samples, args.n_features, args.k
    X = decaying(n, d, random_state=0)
    print(f"fastlae demo: X is {n} x {d} (singular values ~ 1/i, noise 0.01, mean 0.5), k={k}")
    pca(X[:64, :16], 2)  # load the compiled kernels before timing

    def lapack():
        Xc = X - X.mean(axis=0)
        w, V = eigh(Xc.T @ Xc, subset_by_index=[d - k, d - 1])
        return w[::-1] / (n - 1), V[:, ::-1]

    # median of 3 runs each: single runs on a shared machine vary by tens of percent
    t_ours, t_lapack = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        r = pca(X, k)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        w, V = lapack()
        t_lapack.append(time.perf_counter() - t0)
    print(_table(r))
    print(f"solver: {r.solver} ({'matrix-free' if r.matrix_free else 'on the Gram matrix'}), "
          f"{r.n_iter} updates, converged: {r.converged}, time: {np.median(t_ours):.3f} s "
          f"(median of 3)")
    eig_err = np.max(np.abs(r.explained_variance - w)) / w[0]
    sin = np.linalg.norm(V - r.components.T @ (r.components @ V), 2)
    print(f"LAPACK (centered copy, X.T @ X, eigh subset): {np.median(t_lapack):.3f} s; "
          f"agreement: max eigenvalue error / largest = {eig_err:.1e}, "
          f"subspace sine = {sin:.1e}")
    return 0 if eig_err < 1e-8 else 1


def cmd_pca(args):
    from . import pca

    X = _load(args.input)
    r = pca(X, args.k, solver=args.solver, tol=args.tol, random_state=args.seed)
    _save_atomic(args.output, components=r.components,
                 explained_variance=r.explained_variance,
                 explained_variance_ratio=r.explained_variance_ratio,
                 singular_values=r.singular_values, mean=r.mean, residuals=r.residuals)
    print(_table(r))
    print(f"solver: {r.solver}, converged: {r.converged}; wrote {args.output}")
    return 0


def cmd_paper(args):
    from .paper import write_figures

    for path in write_figures(args.out, random_state=args.seed):
        print(f"wrote {path}")
    return 0


def cmd_bench(args):
    from . import bench
    from ._progress import Progress

    if args.shape:
        shapes = [tuple(args.shape[i:i + 3]) for i in range(0, len(args.shape), 3)]
    else:
        shapes = bench.QUICK_SHAPES if args.quick else bench.SHAPES
    reps = args.reps if args.reps is not None else (3 if args.quick else 5)
    progress = Progress("fastlae bench", enabled=None if not args.quiet else False)
    try:
        result = bench.run(shapes, dtype=np.dtype(args.dtype).type, reps=reps,
                           threads=args.threads, progress=progress,
                           pause=0.1 if args.quick else bench.PAUSE)
    finally:
        progress.close()
    print(bench.format_tables(result))
    print()
    print(bench.format_summary(result))
    if args.json:
        bench.write_json(result, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        print(f"wrote {bench.plot(result, args.plot)}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="fastlae", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run fastlae.pca on a built-in dataset and compare with LAPACK")
    d.add_argument("--n-samples", type=int, default=100_000)
    d.add_argument("--n-features", type=int, default=500)
    d.add_argument("-k", type=int, default=10)
    d.set_defaults(func=cmd_demo)
    c = sub.add_parser("pca", help="principal components of a .npy, .npz or .csv matrix")
    c.add_argument("input")
    c.add_argument("-k", type=int, required=True)
    c.add_argument("-o", "--output", required=True, help="output .npz")
    c.add_argument("--solver", default="auto")
    c.add_argument("--tol", type=float, default=1e-10)
    c.add_argument("--seed", type=int, default=None)
    c.set_defaults(func=cmd_pca)
    f = sub.add_parser("paper", help="reproduce the paper's Figures 1, 3, 4 and 5 as PNGs")
    f.add_argument("--out", required=True, help="output directory")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_paper)
    b = sub.add_parser(
        "bench", help="time fastlae against LAPACK and scikit-learn on this machine",
        description="Time fastlae.pca against a bare Gram product, LAPACK on the Gram and "
                    "scikit-learn's PCA solvers (those that are installed) on "
                    "fastlae.datasets.decaying data, in interleaved rounds; print one table "
                    "per shape with medians, ratios to fastlae and accuracy against LAPACK.",
        epilog="example: fastlae bench --quick --json bench.json")
    b.add_argument("--quick", action="store_true",
                   help="three small shapes, 3 repeats: under a minute on 2 cores")
    b.add_argument("--shape", type=int, nargs="+", metavar="N D K",
                   help="shapes to run instead, as n_samples n_features k (repeatable triples)")
    b.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="data type of the matrices (default: float64)")
    b.add_argument("--threads", type=int, default=None,
                   help="limit BLAS and fastlae to this many threads (default: all)")
    b.add_argument("--reps", type=int, default=None,
                   help="repeats per method (default: 5, or 3 with --quick)")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--plot", metavar="FILE",
                   help="also draw the ratios as a PNG bar chart (needs matplotlib)")
    b.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, ImportError) as err:
        print(f"fastlae: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
