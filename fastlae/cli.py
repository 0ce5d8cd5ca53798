"""The ``fastlae`` command: ``demo``, ``pca``, ``bench``, ``warmup``, ``paper``.

Errors are one line on stderr and exit status 2, checked before any work where possible.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

from . import __version__
from . import _errors as E
from . import _io
from .solvers import PRECISIONS, SOLVERS


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
    from . import _validation as V

    V.check_k(k, min(n, d))
    X = decaying(n, d, random_state=0)
    print(f"fastlae demo: X is {n} x {d} (singular values ~ 1/i, noise 0.01, mean 0.5), k={k}")
    _compile_notice(args)
    pca(X[:64, :16], 2)  # load the compiled kernels before timing

    def lapack():   # on the smaller Gram: X.T @ X, or X @ X.T for wide data
        Xc = X - X.mean(axis=0)
        if d <= n:
            w, V = eigh(Xc.T @ Xc, subset_by_index=[d - k, d - 1])
            return w[::-1] / (n - 1), V[:, ::-1]
        w, U = eigh(Xc @ Xc.T, subset_by_index=[n - k, n - 1])
        V = Xc.T @ (U / np.sqrt(w))
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
    print(f"LAPACK (centered copy, {'X.T @ X' if d <= n else 'X @ X.T'}, eigh subset): "
          f"{np.median(t_lapack):.3f} s; "
          f"agreement: max eigenvalue error / largest = {eig_err:.1e}, "
          f"subspace sine = {sin:.1e}")
    return 0 if eig_err < 1e-8 else 1


def _compile_notice(args):
    from ._warmup import cold

    if not getattr(args, "quiet", False) and cold():
        print(E.COMPILING, file=sys.stderr, flush=True)


def cmd_pca(args):
    from . import pca

    outputs = [(args.output, "-o")] + ([(args.transform, "--transform")] if args.transform
                                       else [])
    _io.check_outputs(outputs, args.input)   # nothing is overwritten that is read or written
    X, names, labels, shape = _read_input(args)
    # the arguments are checked before the compile notice and the work
    from . import _validation as V

    if len(shape) == 2:
        V.check_k(args.k, min(shape))
    V.check_tol(args.tol)
    V.check_random_state(args.seed)
    _compile_notice(args)
    r = pca(X, args.k, solver=args.solver, tol=args.tol, random_state=args.seed,
            precision=args.precision, progress=not args.quiet, verbose=args.verbose)
    if args.output.lower().endswith(".npy"):
        warnings.warn(E.NPY_COMPONENTS_ONLY.format(path=args.output), UserWarning)
    files = [(args.output, _io.result_writer(args.output, r, names))]
    if args.transform:   # the scores before anything is written; both files or neither
        scores = _io.project(X, r.mean, r.components)
        files.append((args.transform, _io.scores_writer(args.transform, scores, labels)))
    _io.write_all(files)
    if not args.quiet:
        print(_table(r))
        print(f"solver: {r.solver}, converged: {r.converged}; wrote {args.output}"
              + (f" and {args.transform}" if args.transform else ""))
    return 0


def cmd_transform(args):
    _io.check_outputs([(args.output, "-o")], args.input)
    saved = _io.read_result(args.components)
    X, _, labels, shape = _read_input(args)
    if len(shape) != 2 or shape[1] != saved["components"].shape[1]:
        raise ValueError(E.TRANSFORM_WIDTH.format(path=args.input, got=shape[-1],
                                                  want=saved["components"].shape[1],
                                                  components=args.components))
    scores = _io.project(X, saved["mean"], saved["components"])
    _io.write_all([(args.output, _io.scores_writer(args.output, scores, labels))])
    if not args.quiet:
        print(f"wrote {args.output}: {shape[0]} x {scores.shape[1]} scores")
    return 0


def _read_input(args):
    """``(X, names, labels, shape)`` of the command's input: a ``.npy`` path stays a path
    (read in place or block by block, never loaded whole)."""
    if args.input.lower().endswith(".npy"):
        from ._stream import NpyFile

        return args.input, None, None, NpyFile(args.input).shape   # a broken file fails here
    X, names, labels = _io.read_matrix(args.input, delimiter=args.delimiter,
                                       header=args.header, index=args.index)
    return X, names, labels, np.shape(X)


def cmd_warmup(args):
    from ._warmup import warmup

    if not args.quiet:
        print("fastlae: compiling (or loading) every kernel ...", file=sys.stderr, flush=True)
    seconds = warmup()
    if not args.quiet:
        print(f"fastlae: kernels ready ({seconds:.1f} s)")
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
    if args.plot:   # before the run, not after it
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ImportError(E.NO_MATPLOTLIB)
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


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions; options state their defaults in their own help."""


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit status 2, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    p = _Parser(
        prog="fastlae", formatter_class=_Formatter,
        description="Principal components by training a regularized linear autoencoder.",
        epilog="example: fastlae pca data.csv -k 10 -o components.csv --transform scores.csv")
    p.add_argument("--version", action="version", version=f"fastlae {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_demo_parser, _pca_parser, _bench_parser, _other_parsers):
        add(sub)
    return p


def _demo_parser(sub):
    d = sub.add_parser("demo", formatter_class=_Formatter,
                       help="fastlae.pca on built-in data, against LAPACK",
                       description="Run fastlae.pca on fastlae.datasets.decaying data and "
                                   "compare time and answer with LAPACK on the Gram matrix.",
                       epilog="example: fastlae demo --n-samples 20000 --n-features 300 -k 5")
    d.add_argument("--n-samples", type=_positive, default=100_000,
                   help="rows of the data (default: 100000)")
    d.add_argument("--n-features", type=_positive, default=500,
                   help="columns of the data (default: 500)")
    d.add_argument("-k", type=_positive, default=10, help="number of components (default: 10)")
    d.set_defaults(func=cmd_demo)


def _pca_parser(sub):
    c = sub.add_parser(
        "pca", formatter_class=_Formatter, help="principal components of a data file",
        description="Principal components of the matrix in INPUT (rows are samples): .npy, "
                    ".npz (the array named X, or the only one), .csv or .tsv, or - for stdin. "
                    "Writes the components to -o: .npz (every result array with the mean and "
                    "the column names), .csv/.tsv (one row per component: its name, explained "
                    "variance, ratio, then one column per feature; a last row 'mean') or .npy "
                    "(the components only). Text input: " + _TEXT_INPUT,
        epilog="example: fastlae pca data.csv -k 10 -o components.csv --transform scores.csv")
    c.add_argument("input", help="data file, or - for stdin")
    c.add_argument("-k", type=int, required=True, help="number of components")
    c.add_argument("-o", "--output", required=True,
                   help="where the components go (.npz, .csv, .tsv or .npy)")
    c.add_argument("--transform", metavar="FILE", default=None,
                   help="also write the projected data, n_samples x k (.npy, .npz, .csv, .tsv; "
                        "text keeps the input's row labels)")
    c.add_argument("--solver", default="auto", choices=SOLVERS,
                   help="autoencoder solver, or eigh for LAPACK, see fastlae.pca (default: auto)")
    c.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="the Gram in float64 (double), or in float32 refined to float64 "
                        "accuracy by a float64 pass over the data (mixed); auto picks mixed "
                        "where it is modelled faster, see fastlae.pca (default: auto)")
    c.add_argument("--tol", type=float, default=1e-10,
                   help="largest relative residual of the certificate (default: 1e-10)")
    c.add_argument("--seed", type=int, default=None,
                   help="seed of the initial weights (default: a fixed one)")
    _text_options(c)
    c.add_argument("--quiet", action="store_true",
                   help="print nothing but errors and warnings (no table, no progress line)")
    c.add_argument("--verbose", action="store_true",
                   help="say what ran: the Gram, the solver, updates, residuals, timings")
    c.set_defaults(func=cmd_pca)

    t = sub.add_parser(
        "transform", formatter_class=_Formatter,
        help="project data with saved components",
        description="Project the data in INPUT (as for fastlae pca) onto the components a "
                    "fastlae pca run saved (.npz or .csv/.tsv, which hold the mean): "
                    "(X - mean) @ components.T, written to -o. Text input: " + _TEXT_INPUT,
        epilog="example: fastlae transform new.csv --components components.csv -o scores.csv")
    t.add_argument("input", help="data file, or - for stdin")
    t.add_argument("--components", required=True, metavar="FILE",
                   help="the components file of fastlae pca -o (.npz, .csv or .tsv)")
    t.add_argument("-o", "--output", required=True,
                   help="where the scores go (.npy, .npz, .csv, .tsv)")
    _text_options(t)
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.set_defaults(func=cmd_transform)


_TEXT_INPUT = ("a header row is detected (a row of names, pandas' numbered columns, numbers "
               "over decimals), and a first column of row labels (pandas' index); a file "
               "that may be read either way is refused, naming the flag that decides. The "
               "values are parsed by pandas where it is installed, else by NumPy.")


def _text_options(c):
    c.add_argument("--delimiter", default=None,
                   help="field delimiter of text input (default: detected; tab for .tsv)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--header", dest="header", action="store_true", default=None,
                   help="the first row of text input holds column names")
    g.add_argument("--no-header", dest="header", action="store_false",
                   help="the first row of text input is data (default: detected)")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--index", dest="index", action="store_true", default=None,
                   help="the first column of text input holds row labels (left out of X, kept "
                        "in the scores)")
    g.add_argument("--no-index", dest="index", action="store_false",
                   help="the first column of text input is a feature (default: detected)")


def _bench_parser(sub):
    b = sub.add_parser(
        "bench", formatter_class=_Formatter,
        help="time fastlae against LAPACK and scikit-learn on this machine",
        description="Time fastlae.pca against a bare Gram product, LAPACK on the Gram and "
                    "scikit-learn's PCA solvers (those installed) on fastlae.datasets.decaying "
                    "data, in interleaved rounds; print one table per shape with medians, "
                    "ratios to fastlae and accuracy against LAPACK, and a summary.",
        epilog="example: fastlae bench --quick --json bench.json")
    b.add_argument("--quick", action="store_true",
                   help="three small shapes, 3 repeats: under a minute on 2 cores")
    b.add_argument("--shape", type=int, nargs="+", metavar="N D K",
                   help="shapes to run instead, as n_samples n_features k (repeated triples)")
    b.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="data type of the matrices (default: float64)")
    b.add_argument("--threads", type=_positive, default=None,
                   help="limit BLAS and fastlae to this many threads (default: all)")
    b.add_argument("--reps", type=_positive, default=None,
                   help="repeats per method (default: 5, or 3 with --quick)")
    b.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    b.add_argument("--plot", metavar="FILE",
                   help="also draw the ratios as a PNG bar chart (needs matplotlib)")
    b.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    b.set_defaults(func=cmd_bench)


def _other_parsers(sub):
    w = sub.add_parser("warmup", formatter_class=_Formatter,
                       help="compile the kernels ahead of time (for images and CI caches)",
                       description="Compile, or load from the cache, every kernel fastlae "
                                   "uses, so that no later first call waits for compilation.",
                       epilog="example: fastlae warmup")
    w.add_argument("--quiet", action="store_true", help="print nothing")
    w.set_defaults(func=cmd_warmup)

    f = sub.add_parser("paper", formatter_class=_Formatter,
                       help="reproduce the paper's Figures 1, 3, 4 and 5 as PNGs",
                       description="Train the paper's autoencoders on its data (20 x 20, "
                                   "singular values 1..20) and write its Figures 1, 3, 4 and "
                                   "5 (needs matplotlib).",
                       epilog="example: fastlae paper --out figures")
    f.add_argument("--out", required=True, help="output directory (created if missing)")
    f.add_argument("--seed", type=int, default=0,
                   help="seed of the data and the weights (default: 0)")
    f.set_defaults(func=cmd_paper)


def main(argv=None):
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:   # --help, --version, or a usage error (status 2)
        return done.code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _warning_line
            return args.func(args)
    except BrokenPipeError:   # stdout closed by its reader (| head, | true): files are written
        _quiet_stdout()
        return 0
    except MemoryError as err:
        print(f"fastlae: error: {E.NO_MEMORY.format(err=err or 'allocation failed')}",
              file=sys.stderr)
        return 2
    except (ValueError, TypeError, ImportError, OSError) as err:
        print(f"fastlae: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlae: interrupted", file=sys.stderr)
        return 130


def _warning_line(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line, like errors: no file, line number or source."""
    print(f"fastlae: warning: {message}", file=sys.stderr)


def _quiet_stdout():
    """Point stdout at /dev/null, so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _positive(text):
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
