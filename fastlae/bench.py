"""``fastlae bench``: fastlae against the tools people use, measured on this machine.

Every method runs on the same ``fastlae.datasets.decaying`` matrix, in interleaved rounds
(:func:`interleaved`): each method once per round, in an order that rotates every round, after a
short pause, so that no method always follows the same peer and a busy machine spreads its
noise over all of them. Reported are medians, their ratio to fastlae's default, and the
accuracy of each method's top-k eigenpairs against LAPACK on the exact centered Gram
(float64): the largest eigenvalue error relative to the largest eigenvalue, and the sine of
the largest principal angle between the top-k subspaces.

The helpers here (:func:`interleaved`, :func:`reference`, :func:`accuracy`, :func:`machine`)
also serve the measurement scripts in ``scripts/``.
"""
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

# Shapes (n_samples, n_features, k) of dense arrays in memory, then the other inputs:
# ("sparse", n, d, k, density), a CSR matrix (fastlae.datasets.sparse), and ("file", n, d, k),
# a .npy file of decaying data read by fastlae.pca from its path. QUICK finishes in about a
# minute on 2 cores.
SHAPES = [(200000, 256, 10), (100000, 1000, 20), (20000, 2000, 50), (4000, 4000, 20),
          (1000, 100000, 10), ("sparse", 200000, 5000, 10, 0.005), ("file", 1000, 100000, 10)]
QUICK_SHAPES = [(50000, 200, 10), (3000, 1500, 10), (500, 20000, 10),
                ("sparse", 50000, 2000, 10, 0.005), ("file", 500, 20000, 10)]
PAUSE = 0.3


def machine():
    """What the numbers were measured on: CPU count, BLAS libraries and library versions."""
    import scipy
    from threadpoolctl import threadpool_info

    from . import __version__

    blas = sorted({f"{i.get('internal_api')} ({i.get('num_threads')} threads)"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    info = {"cpus": os.cpu_count(), "blas": blas, "python": sys.version.split()[0],
            "fastlae": __version__, "numpy": np.__version__, "scipy": scipy.__version__}
    try:
        import sklearn
        info["scikit-learn"] = sklearn.__version__
    except ImportError:
        pass
    return info


def interleaved(methods, reps, pause=PAUSE, progress=None):
    """Time each of ``methods`` (name -> callable of no argument) ``reps`` times, interleaved.

    Parameters
    ----------
    methods : dict
    reps : int
    pause : float
        Seconds to sleep before each call (NumPy and SciPy each bundle an OpenBLAS whose idle
        workers spin for a while after a call).
    progress : callable or None
        Called with ``(done, total, name)`` before each call.

    Returns
    -------
    times : dict
        name -> list of seconds.
    last : dict
        name -> what the method returned on its last call.
    """
    order = list(methods.items())
    times = {name: [] for name in methods}
    last = {}
    total, done = reps * len(order), 0
    for rep in range(reps):
        shift = rep % len(order)
        for name, f in order[shift:] + order[:shift]:
            if progress is not None:
                progress(done, total, name)
            time.sleep(pause)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                last[name] = f()
                times[name].append(time.perf_counter() - t0)
            done += 1
    return times, last


def reference(X, k):
    """LAPACK's top-k eigenpairs of the exact centered Gram, in float64.

    Returns
    -------
    w : ndarray of shape (k,)
        Eigenvalues of the sample covariance ``Xc.T @ Xc / (n - 1)``, descending.
    V : ndarray of shape (n_features, k)
        The principal directions, as columns.
    """
    from scipy.linalg import eigh

    Xf = np.asarray(X, dtype=np.float64)
    Xc = Xf - Xf.mean(axis=0)
    n, d = Xf.shape
    if n >= d:
        w, V = eigh(Xc.T @ Xc, subset_by_index=[d - k, d - 1])
    else:
        w, U = eigh(Xc @ Xc.T, subset_by_index=[n - k, n - 1])
        V = Xc.T @ U
        V /= np.linalg.norm(V, axis=0)
    return w[::-1] / max(n - 1, 1), np.ascontiguousarray(V[:, ::-1])


def sine(V, components):
    """Sine of the largest principal angle between span(V) and the rows of ``components``."""
    Q = np.asarray(components, dtype=np.float64).T
    return float(np.linalg.norm(V - Q @ (Q.T @ V), 2))


def accuracy(ref, components, explained_variance):
    """``(largest relative eigenvalue error, sine)`` of a top-k answer against :func:`reference`."""
    w, V = ref
    ev = np.asarray(explained_variance, dtype=np.float64)
    return float(np.max(np.abs(ev - w)) / w[0]), sine(V, components)


def methods(X, k, with_peers=True, path=None):
    """name -> (callable of no argument returning ``(components, explained_variance)`` or
    ``(components, explained_variance, products)``, or None, note). The bare Gram product
    returns None (it is a floor, not an answer). A sparse X gets fastlae, SciPy's ``eigsh``
    on the implicitly centered covariance and scikit-learn's ARPACK; a ``path`` (X saved
    there) gets fastlae on the file and on X in memory, and ARPACK on the loaded file."""
    from . import pca

    if path is not None or _is_sparse(X):
        return _other_methods(X, k, with_peers, path)

    tall = X.shape[0] >= X.shape[1]
    out = {
        "fastlae auto": (lambda: _fl(pca(X, k)), ""),
        "fastlae eigh": (lambda: _fl(pca(X, k, solver="eigh", precision="double")),
                         "LAPACK on the float64 Gram"),
        "bare Gram product": ((lambda: X.T @ X) if tall else (lambda: X @ X.T),
                              "X.T @ X" if tall else "X @ X.T, wide data"),
        "Gram + scipy eigh": (lambda: _gram_eigh(X, k), "centered Gram, eigh(subset_by_index)"),
    }
    notes = []
    PCA = _sklearn_pca(notes) if with_peers else None
    if PCA is not None:
        solvers = (["covariance_eigh"] if tall else []) + ["arpack", "randomized"]
        for s in solvers:
            out[f"sklearn {s}"] = (
                lambda s=s: _sk(PCA(k, svd_solver=s, random_state=0).fit(X)), "")
        if not tall:
            notes.append("sklearn covariance_eigh is skipped on wide data (it forms the "
                         "d x d covariance)")
    return out, notes


def _sklearn_pca(notes):
    """scikit-learn's ``PCA``, or None (and a note) where it is not installed."""
    try:
        from sklearn.decomposition import PCA
    except ImportError:
        notes.append("scikit-learn is not installed: its solvers are skipped "
                     "(pip install scikit-learn)")
        return None
    return PCA


def _fl(r):
    products = r.n_iter if r.solver == "krylov" or r.matrix_free else None
    return r.components, r.explained_variance, products


def _is_sparse(X):
    return type(X).__module__.startswith("scipy.sparse")


def _other_methods(X, k, with_peers, path):
    from . import pca

    if path is not None:
        out = {"fastlae auto": (lambda: _fl(pca(path, k)), "fastlae.pca on the .npy path"),
               "fastlae in memory": (lambda: _fl(pca(X, k)), "the same data as an array")}
        data = lambda: np.load(path)   # noqa: E731  (ARPACK needs the array: loading counts)
    else:
        out = {"fastlae auto": (lambda: _fl(pca(X, k)), "CSR, centered implicitly"),
               "scipy eigsh": (lambda: _eigsh(X, k), "centered covariance operator")}
        data = lambda: X   # noqa: E731
    notes = []
    PCA = _sklearn_pca(notes) if with_peers else None
    if PCA is not None:
        out["sklearn arpack"] = (
            lambda: _sk(PCA(k, svd_solver="arpack", random_state=0).fit(data())),
            "loads the file" if path is not None else "")
    return out, notes


def _eigsh(X, k):
    """SciPy's ARPACK on the implicitly centered covariance of a sparse X, counting its
    products with the covariance."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n, d = X.shape
    mean = np.asarray(X.mean(axis=0)).ravel()
    count = [0]

    def mv(v):
        count[0] += 1
        t = X @ np.ravel(v) - mean @ np.ravel(v)
        return X.T @ t - mean * t.sum()

    w, V = eigsh(LinearOperator((d, d), matvec=mv, dtype=np.float64), k=k)
    order = np.argsort(w)[::-1]
    return V[:, order].T, w[order] / max(n - 1, 1), count[0]


def _sparse_reference(X, k):
    """LAPACK's top-k eigenpairs of the centered Gram of a sparse X (formed densely: d x d)."""
    from scipy.linalg import eigh

    n, d = X.shape
    mean = np.asarray(X.mean(axis=0)).ravel()
    C = (X.T @ X).toarray() - n * np.outer(mean, mean)
    w, V = eigh(C, subset_by_index=[d - k, d - 1])
    return w[::-1] / max(n - 1, 1), np.ascontiguousarray(V[:, ::-1])


def _sk(p):
    return p.components_, p.explained_variance_


def _gram_eigh(X, k):
    w, V = reference(X, k)
    return V.T, w


def run(shapes, dtype=np.float64, reps=3, threads=None, with_peers=True, progress=None,
        pause=PAUSE):
    """Measure every method on every shape; returns a JSON-ready dict.

    Parameters
    ----------
    shapes : sequence of (n_samples, n_features, k), ("sparse", n, d, k, density) or
        ("file", n, d, k)
        Dense arrays in memory, CSR matrices (:func:`fastlae.datasets.sparse`), ``.npy``
        files of decaying data (see ``SHAPES``).
    dtype : {numpy.float32, numpy.float64}
        Of the dense arrays and files.
    reps : int
        Repeats per method (medians are reported).
    threads : int or None
        Limit BLAS (and fastlae's Gram pass) to this many threads.
    with_peers : bool
        Include scikit-learn's solvers where it is installed.
    progress : callable or None
        ``progress(done, total, label)``.
    pause : float
        Seconds of rest before each timed call (see :func:`interleaved`).
    """
    from threadpoolctl import threadpool_limits

    from . import pca
    from .datasets import decaying, sparse

    result = {"machine": machine(), "dtype": np.dtype(dtype).name, "reps": reps,
              "threads": threads, "shapes": []}
    total = len(shapes)
    with threadpool_limits(limits=threads) if threads else contextlib.nullcontext():
        pca(np.random.default_rng(0).random((300, 20)), 3)   # load the compiled kernels
        for i, shape in enumerate(shapes):
            kind, n, d, k, density = _case(shape)
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "X.npy") if kind == "file" else None
                if kind == "sparse":
                    X = sparse(n, d, density, random_state=0)
                    ref = _sparse_reference(X, k)
                else:
                    X = decaying(n, d, random_state=0, dtype=dtype)
                    ref = reference(X, k)
                if path is not None:
                    np.save(path, X)
                calls, notes = methods(X, k, with_peers, path)
                rows = _measure(calls, ref, reps, pause, progress, i, total,
                                f"{kind + ' ' if kind != 'dense' else ''}{n} x {d}")
            entry = {"n_samples": n, "n_features": d, "k": k, "rows": rows, "notes": notes}
            if kind != "dense":
                entry["kind"] = kind
            if density is not None:
                entry["density"] = density
            result["shapes"].append(entry)
    return result


def _case(shape):
    """``(kind, n, d, k, density)`` of an entry of ``SHAPES``."""
    if isinstance(shape[0], str):
        kind, n, d, k = shape[:4]
        return kind, int(n), int(d), int(k), (float(shape[4]) if kind == "sparse" else None)
    n, d, k = shape
    return "dense", int(n), int(d), int(k), None


def _measure(calls, ref, reps, pause, progress, i, total, label):
    """The rows of one shape: medians, ratios to fastlae's default, accuracy, products."""
    fns = {name: f for name, (f, _) in calls.items()}

    def step(done, count, name):
        if progress is not None:
            progress(i * count + done, total * count, f"{label}: {name}")

    for f in fns.values():   # warm: caches loaded, kernels compiled
        f()
    times, last = interleaved(fns, reps, pause=pause, progress=step)
    ours = float(np.median(times["fastlae auto"]))
    rows = []
    for name, ts in times.items():
        med = float(np.median(ts))
        row = {"method": name, "seconds": med, "ratio": med / ours, "eig_error": None,
               "sine": None, "products": None, "note": calls[name][1]}
        if last[name] is not None and not name.startswith("bare"):
            row["eig_error"], row["sine"] = accuracy(ref, *last[name][:2])
            row["products"] = last[name][2] if len(last[name]) > 2 else None
        rows.append(row)
    return rows


def format_tables(result):
    """One table per shape: method, seconds, ratio to fastlae's default, accuracy."""
    m = result["machine"]
    lines = [f"# {m['cpus']} CPUs; BLAS {', '.join(m['blas'])}; fastlae {m['fastlae']}, numpy "
             f"{m['numpy']}, scipy {m['scipy']}"
             + (f", scikit-learn {m['scikit-learn']}" if "scikit-learn" in m else "")
             + f"; {result['dtype']}, medians of {result['reps']}"
             + (f", {result['threads']} threads" if result["threads"] else "")]
    for shape in result["shapes"]:
        lines += ["", f"## {_label(shape)}, k = {shape['k']}", "",
                  "| method | seconds | / fastlae auto | eigenvalue error | sine | products | "
                  "note |", "|---|---|---|---|---|---|---|"]
        for row in shape["rows"]:
            eig = "-" if row["eig_error"] is None else f"{row['eig_error']:.1e}"
            sin = "-" if row["sine"] is None else f"{row['sine']:.1e}"
            products = "-" if row.get("products") is None else str(row["products"])
            lines.append(f"| {row['method']} | {row['seconds']:.3f} | {row['ratio']:.2f} | "
                         f"{eig} | {sin} | {products} | {row['note']} |")
        lines += [f"({note})" for note in shape["notes"]]
    return "\n".join(lines)


def format_summary(result):
    """One row per shape: fastlae's default (and what it ran), LAPACK on the Gram, the bare
    Gram product and the fastest scikit-learn solver, with ratios to fastlae and sines."""
    lines = ["| X, k | fastlae auto | fastlae eigh | bare Gram product | fastest scikit-learn "
             "solver |", "|---|---|---|---|---|"]
    for shape in result["shapes"]:
        rows = {row["method"]: row for row in shape["rows"]}
        auto = rows["fastlae auto"]

        def cell(row):
            if row is None:
                return "-"
            sin = "" if row["sine"] is None else f", sin {row['sine']:.0e}"
            return f"{row['seconds']:.3f} ({row['ratio']:.2f}x{sin})"

        peers = [r for name, r in rows.items() if name.startswith("sklearn")]
        best = min(peers, key=lambda r: r["seconds"]) if peers else None
        label = "" if best is None else best["method"].replace("sklearn ", "") + " "
        lines.append(f"| {_label(shape)}, {shape['k']} | "
                     f"{auto['seconds']:.3f} (sin {auto['sine']:.0e}) | "
                     f"{cell(rows.get('fastlae eigh'))} | {cell(rows.get('bare Gram product'))} "
                     f"| {label}{cell(best)} |")
    return "\n".join(lines)


def _label(shape):
    """``n x d``, with the kind of input where it is not a dense array."""
    kind = shape.get("kind")
    text = f"{shape['n_samples']} x {shape['n_features']}"
    if kind == "sparse":
        return f"sparse {text} ({100 * shape['density']:.2g}%)"
    return f"{kind} {text}" if kind else text


def write_json(result, path):
    with open(path, "w") as fh:
        json.dump(result, fh, indent=1)


def plot(result, path):
    """A bar chart of every method's time over fastlae's default, one group per shape."""
    from . import _errors as E

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(E.NO_MATPLOTLIB) from None
    shapes = result["shapes"]
    names = list(dict.fromkeys(row["method"] for s in shapes for row in s["rows"]))
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(shapes)), 4))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        ratios = [next((r["ratio"] for r in s["rows"] if r["method"] == name), np.nan)
                  for s in shapes]
        ax.bar(np.arange(len(shapes)) + j * width, ratios, width, label=name)
    ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2)
    ax.set_xticklabels([f"{_label(s)}\nk = {s['k']}" for s in shapes], fontsize=7)
    ax.set_yscale("log")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("seconds / fastlae auto")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
