"""Data beyond memory: streams, .npy files, sparse matrices and dask, with peak resident memory.

Usage::

    python scripts/bench_scale.py                 # every part (about 6 minutes on 2 cores)
    python scripts/bench_scale.py --part sparse   # one of: stream, file, sparse, wide, dask,
                                                  # dask-wide

Each measurement runs in a fresh interpreter, whose peak resident memory (``ru_maxrss``) is
reported next to the size of the data it went through.

* ``stream``: ``fastlae.pca`` of a generator of 1.2 GB of float64 row blocks (decaying
  spectrum, 400 features), against the in-memory call on the same rows.
* ``file``: ``fastlae.pca("big.npy", 10)`` on a 2.4 GB file (1,000,000 x 300), by row blocks (as
  a file beyond memory is read; also with the file's pages dropped from the page cache first,
  ``posix_fadvise(POSIX_FADV_DONTNEED)``) and in place, against the time to just read the
  file block by block (the floor) and ``np.load`` + the in-memory call.
* ``sparse``: a 300000 x 3000 CSR matrix at 0.5% density: ``fastlae.pca`` against scikit-learn's
  ``PCA(svd_solver="arpack")`` (centered) and ``TruncatedSVD`` (not centered: another answer,
  timed for reference), with the subspace sine to ARPACK's.
* ``wide``: a 200000 x 40000 CSR matrix (too wide for a formed Gram: solved by passes) against
  ``PCA(svd_solver="arpack")``.
* ``dask``: a ``dask.distributed.LocalCluster`` with 2 worker processes, the array's chunks on
  the workers: ``fastlae.pca(dask_array, 10)`` against the in-memory call on the same data.
* ``dask-wide``: a 1000 x 100000 float64 array (by the sample Gram) on dask's threaded
  scheduler, in row chunks and in column chunks, against the in-memory call.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

PRELUDE = """
import json, os, time, numpy as np, fastlae
def peak_mb():   # VmHWM: the resident peak since the process started or reset_peak()
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM")) / 1024
def reset_peak():   # Linux: writing 5 to clear_refs resets VmHWM to the current resident size
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
def sine(A, B):
    A, B = np.asarray(A, float).T, np.asarray(B, float).T
    return float(np.linalg.norm(A - B @ (B.T @ A), 2))
def agreement(r, m):   # of a result r with the in-memory result m on the same data
    return {"eig_err": float(np.max(np.abs(r.explained_variance - m.explained_variance))
                             / m.explained_variance[0]),
            "sine": sine(r.components, m.components)}
def counts(n, d, density, seed, power):   # random positions (duplicates summed), Poisson
    import scipy.sparse as sp                # counts, column scales decaying like j^-power
    rng = np.random.default_rng(seed)
    nnz = int(n * d * density)
    X = sp.coo_matrix((rng.poisson(2.0, nnz) + 1.0, (rng.integers(0, n, nnz),
                       rng.integers(0, d, nnz))), shape=(n, d)).tocsr()
    return (X @ sp.diags(1.0 / np.arange(1, d + 1) ** power)).tocsr()
fastlae.pca(np.random.default_rng(0).standard_normal((2000, 50)), 3)   # kernels loaded
"""

STREAM = """
from fastlae.datasets import decaying
d, rows, blocks = 400, 2500, 150            # 150 blocks of 2500 x 400 float64: 1.2 GB
base = decaying(rows, d, random_state=0)
def stream():
    for i in range(blocks):                 # each block: the base rows, shifted and rescaled
        yield base * (1.0 + 0.001 * i) + 0.01 * i
reset_peak()
t = time.perf_counter()
for block in stream():
    pass
t_floor = time.perf_counter() - t
t = time.perf_counter(); r = fastlae.pca(stream(), 10); t_stream = time.perf_counter() - t
peak_stream = peak_mb()
out = {"gb": blocks * rows * d * 8 / 1e9, "seconds": t_stream, "peak_mb": peak_stream,
       "floor_seconds": t_floor, "converged": r.converged, "certificate": r.certificate}
if ARGS.get("compare"):
    X = np.concatenate(list(stream()))
    t = time.perf_counter(); m = fastlae.pca(X, 10)
    out["in_memory_seconds"] = time.perf_counter() - t
    t = time.perf_counter(); X.T @ X; out["bare_seconds"] = time.perf_counter() - t
    out.update(agreement(r, m))
print(json.dumps(out))
"""

FILE = """
path = ARGS["path"]
n, d = np.load(path, mmap_mode="r").shape
if ARGS.get("rows"):   # by row blocks, as a file beyond memory is read
    import fastlae._stream
    fastlae._stream.IN_PLACE_MEMORY = 0.0
def drop_cache():   # the file's pages out of the page cache (as for a file beyond memory)
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
def floor():                                 # read every byte once, block by block
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(1 << 25)
        while fh.readinto(buf):
            pass
if ARGS.get("cold"):
    drop_cache()
t = time.perf_counter(); floor(); t_read = time.perf_counter() - t
if ARGS.get("cold"):
    drop_cache()
reset_peak()
t = time.perf_counter(); r = fastlae.pca(path, 10); t_file = time.perf_counter() - t
peak_file = peak_mb()
out = {"gb": n * d * 8 / 1e9, "read_seconds": t_read, "seconds": t_file, "peak_mb": peak_file,
       "gram_seconds": r.timings["gram"], "certify_seconds": r.timings["certify"],
       "converged": r.converged, "certificate": r.certificate}
if ARGS.get("compare"):
    t = time.perf_counter(); X = np.load(path); m = fastlae.pca(X, 10)
    out["load_and_memory_seconds"] = time.perf_counter() - t
    t = time.perf_counter(); X.T @ X; out["bare_seconds"] = time.perf_counter() - t
    out.update(agreement(r, m))
print(json.dumps(out))
"""

SPARSE = """
X = counts(300000, 3000, 0.005, 0, 0.5)
sparse_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6
reset_peak()
before = peak_mb()
which = ARGS["which"]
t = time.perf_counter()
if which == "fastlae":
    r = fastlae.pca(X, 10); comps = r.components; extra = {"converged": r.converged}
elif which == "arpack":
    from sklearn.decomposition import PCA
    p = PCA(10, svd_solver="arpack", random_state=0).fit(X); comps = p.components_; extra = {}
else:
    from sklearn.decomposition import TruncatedSVD
    p = TruncatedSVD(10, algorithm="arpack", random_state=0).fit(X); comps = p.components_
    extra = {}
seconds = time.perf_counter() - t
np.save(ARGS["out"], comps)
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "before_mb": before,
                  "sparse_mb": sparse_mb, **extra}))
"""

DASK = """
import dask.array as da
from dask.distributed import Client, LocalCluster
from fastlae.datasets import decaying
X = decaying(400000, 300, random_state=1)
t = time.perf_counter(); m = fastlae.pca(X, 10); t_mem = time.perf_counter() - t
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    D = da.from_array(X, chunks=(25000, 300)).persist()
    client.run(lambda: __import__("fastlae").pca(np.ones((300, 20)) + np.eye(300, 20), 2))
    times = []
    for _ in range(3):
        t = time.perf_counter(); r = fastlae.pca(D, 10); times.append(time.perf_counter() - t)
print(json.dumps({"in_memory_seconds": t_mem, "dask_seconds": float(np.median(times)),
                  "converged": r.converged, **agreement(r, m)}))
"""

DASK_WIDE = """
import dask, dask.array as da
from fastlae.datasets import decaying
X = decaying(1000, 100000, random_state=0)
m = fastlae.pca(X, 10)
out = {}
with dask.config.set(scheduler="threads"):
    for name, chunks in (("rows", (250, 100000)), ("columns", (1000, 12500))):
        D = da.from_array(X, chunks=chunks)
        fastlae.pca(D, 10)
        td, tm = [], []
        for _ in range(3):   # interleaved with the in-memory call
            t = time.perf_counter(); r = fastlae.pca(D, 10); td.append(time.perf_counter() - t)
            t = time.perf_counter(); fastlae.pca(X, 10); tm.append(time.perf_counter() - t)
        out[name] = {"dask_seconds": float(np.median(td)), "in_memory_seconds":
                     float(np.median(tm)), "certificate": r.certificate, **agreement(r, m)}
print(json.dumps(out))
"""


def run(code, **args):
    script = PRELUDE + f"ARGS = {args!r}\n" + textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_stream():
    s = run(STREAM)
    c = run(STREAM, compare=True)
    print(f"stream: {s['gb']:.2f} GB of blocks in {s['seconds']:.2f} s "
          f"({s['gb'] / s['seconds']:.2f} GB/s; making the blocks alone takes "
          f"{s['floor_seconds']:.2f} s), peak resident {s['peak_mb']:.0f} MB, certificate "
          f"{s['certificate']}, converged {s['converged']}")
    print(f"        the same rows in memory: fastlae.pca {c['in_memory_seconds']:.2f} s, a bare "
          f"X.T @ X {c['bare_seconds']:.2f} s; agreement: eigenvalues {c['eig_err']:.1e}, "
          f"sine {c['sine']:.1e}")


def part_file():
    import numpy as np

    from fastlae.datasets import decaying

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.npy")
        with open(path, "wb") as fh:   # 1,000,000 x 300 float64 written in slices: 2.4 GB
            n, d, step = 1_000_000, 300, 100_000
            np.lib.format.write_array_header_2_0(
                fh, {"descr": "<f8", "fortran_order": False, "shape": (n, d)})
            for i in range(0, n, step):
                fh.write(decaying(step, d, random_state=i).tobytes())
        f = run(FILE, path=path, rows=True)
        g = run(FILE, path=path, rows=True, cold=True)
        p = run(FILE, path=path)
        c = run(FILE, path=path, compare=True)
    print(f"file:   {f['gb']:.2f} GB .npy by row blocks (as beyond memory): fastlae.pca(path) "
          f"{f['seconds']:.2f} s (Gram pass {f['gram_seconds']:.2f} s, certificate pass "
          f"{f['certify_seconds']:.2f} s), reading the file alone {f['read_seconds']:.2f} s: "
          f"{f['seconds'] / f['read_seconds']:.2f}x the floor; peak resident {f['peak_mb']:.0f} "
          f"MB; certificate {f['certificate']}")
    print(f"        the same, its pages dropped from the page cache first: {g['seconds']:.2f} s "
          f"(Gram pass {g['gram_seconds']:.2f} s, certificate pass {g['certify_seconds']:.2f} "
          f"s), reading the file alone {g['read_seconds']:.2f} s: "
          f"{g['seconds'] / g['read_seconds']:.2f}x the floor")
    print(f"        in place (it fits in memory): {p['seconds']:.2f} s; peak resident "
          f"{p['peak_mb']:.0f} MB, the file's mapped pages included; certificate "
          f"{p['certificate']}")
    print(f"        np.load + in memory: {c['load_and_memory_seconds']:.2f} s, a bare X.T @ X "
          f"on the loaded array {c['bare_seconds']:.2f} s; agreement: "
          f"eigenvalues {c['eig_err']:.1e}, sine {c['sine']:.1e}")


def part_sparse():
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        res = {}
        for which in ("fastlae", "arpack", "truncated_svd"):
            res[which] = run(SPARSE, which=which, out=os.path.join(tmp, which + ".npy"))
            res[which]["components"] = np.load(os.path.join(tmp, which + ".npy"))
    A, B = res["fastlae"]["components"].T, res["arpack"]["components"].T
    sin = np.linalg.norm(A - B @ (B.T @ A), 2)
    print(f"sparse: 300000 x 3000 CSR, 0.5% density ({res['fastlae']['sparse_mb']:.0f} MB of "
          f"non-zeros)")
    for which, label in (("fastlae", "fastlae.pca"), ("arpack", "PCA(svd_solver='arpack')"),
                         ("truncated_svd", "TruncatedSVD (uncentered)")):
        r = res[which]
        ratio = r["seconds"] / res["fastlae"]["seconds"]
        print(f"        {label:28s} {r['seconds']:7.2f} s ({ratio:.2f}x), peak resident "
              f"{r['peak_mb']:.0f} MB ({r['peak_mb'] - r['before_mb']:.0f} MB above X and "
              f"the interpreter)")
    print(f"        sine between fastlae's and ARPACK's top-10 subspaces: {sin:.1e}; fastlae "
          f"converged {res['fastlae']['converged']}")


WIDE = """
X = counts(200000, 40000, 0.0005, 1, 0.75)   # too wide for a formed Gram: solved by passes
reset_peak()
before = peak_mb()
t = time.perf_counter()
if ARGS["which"] == "fastlae":
    r = fastlae.pca(X, 10); comps = r.components
    extra = {"passes": r.n_iter, "converged": r.converged, "matrix_free": r.matrix_free}
else:
    from sklearn.decomposition import PCA
    comps = PCA(10, svd_solver="arpack", random_state=0).fit(X).components_; extra = {}
seconds = time.perf_counter() - t
np.save(ARGS["out"], comps)
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "before_mb": before, **extra}))
"""


def part_wide():
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        res = {w: run(WIDE, which=w, out=os.path.join(tmp, w + ".npy"))
               for w in ("fastlae", "arpack")}
        A = np.load(os.path.join(tmp, "fastlae.npy")).T
        B = np.load(os.path.join(tmp, "arpack.npy")).T
    f, a = res["fastlae"], res["arpack"]
    print(f"wide:   200000 x 40000 CSR, 0.05% density: fastlae.pca {f['seconds']:.2f} s "
          f"({f['passes']} passes, matrix-free {f['matrix_free']}, converged {f['converged']}, "
          f"{f['peak_mb'] - f['before_mb']:.0f} MB above X), PCA(svd_solver='arpack') "
          f"{a['seconds']:.2f} s ({a['peak_mb'] - a['before_mb']:.0f} MB above X): "
          f"{f['seconds'] / a['seconds']:.2f}x; subspace sine "
          f"{np.linalg.norm(A - B @ (B.T @ A), 2):.1e}")


def part_dask():
    r = run(DASK)
    print(f"dask:   400000 x 300 on a LocalCluster of 2 worker processes: "
          f"{r['dask_seconds']:.2f} s (median of 3), in memory {r['in_memory_seconds']:.2f} s "
          f"({r['dask_seconds'] / r['in_memory_seconds']:.2f}x); agreement: eigenvalues "
          f"{r['eig_err']:.1e}, sine {r['sine']:.1e}, converged {r['converged']}")


def part_dask_wide():
    r = run(DASK_WIDE)
    for name, what in (("rows", "row chunks of 250, rechunked to columns"),
                       ("columns", "column chunks of 12500")):
        c = r[name]
        print(f"dask wide: 1000 x 100000, {what}, threaded scheduler: {c['dask_seconds']:.2f} s, "
              f"in memory {c['in_memory_seconds']:.2f} s "
              f"({c['dask_seconds'] / c['in_memory_seconds']:.2f}x, medians of 3); "
              f"certificate {c['certificate']}, eigenvalues {c['eig_err']:.1e}, "
              f"sine {c['sine']:.1e}")


PARTS = {"stream": part_stream, "file": part_file, "sparse": part_sparse, "wide": part_wide,
         "dask": part_dask, "dask-wide": part_dask_wide}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=list(PARTS), action="append")
    args = p.parse_args(argv)
    for name in args.part or list(PARTS):
        PARTS[name]()


if __name__ == "__main__":
    main()
