"""``.npy`` files and memory maps against the same call in memory and scikit-learn's ARPACK.

A float file or map that fits in memory (``fastlae._stream.in_place``) is read in place by the
array path; ``rows`` times the same path read by row blocks, as a file beyond memory is
(``IN_PLACE_MEMORY = 0``). Each case writes its matrix to a temporary ``.npy`` file (in the page
cache once written); calls are interleaved, medians of ``--reps``.

    python scripts/bench_files.py [--reps 3] [--cases square,tall,mid,zoo,float32]
"""
import argparse
import os
import tempfile
import time
import warnings

import numpy as np

import fastlae
import fastlae._stream as stream
from fastlae import datasets


def power_law(n, d, a, seed=0):
    return datasets.with_spectrum(n, d, np.arange(1, min(n, d) + 1) ** -a, mean=0.5,
                                  random_state=seed)


CASES = {
    "square": [("4000 x 4000 decaying", lambda: datasets.decaying(4000, 4000, random_state=0), 20),
               ("4000 x 4000 i^-0.5", lambda: power_law(4000, 4000, 0.5), 20),
               ("4000 x 4000 gaussian",
                lambda: np.random.default_rng(0).standard_normal((4000, 4000)), 20),
               ("5000 x 3000 i^-0.8", lambda: power_law(5000, 3000, 0.8), 10)],
    "tall": [("100000 x 300 decaying", lambda: datasets.decaying(100000, 300, random_state=0), 10),
             ("100000 x 1000 decaying",
              lambda: datasets.decaying(100000, 1000, random_state=0), 20),
             ("200000 x 256 gaussian",
              lambda: np.random.default_rng(1).standard_normal((200000, 256)), 10)],
    "mid": [("20000 x 2000 decaying", lambda: datasets.decaying(20000, 2000, random_state=0), 10),
            ("20000 x 2000 cluster_at_k",
             lambda: datasets.zoo("cluster_at_k", 20000, 2000, 10, random_state=0), 10)],
    "zoo": [("4000 x 4000 flat_tail",
             lambda: datasets.zoo("flat_tail", 4000, 4000, 20, random_state=0), 20),
            ("4000 x 4000 rank_at_k",
             lambda: datasets.zoo("rank_at_k", 4000, 4000, 20, random_state=0), 20),
            ("20000 x 2000 flat_tail",
             lambda: datasets.zoo("flat_tail", 20000, 2000, 10, random_state=0), 10)],
    "float32": [("4000 x 4000 decaying float32",
                 lambda: datasets.decaying(4000, 4000, random_state=0).astype(np.float32), 20),
                ("100000 x 300 decaying float32",
                 lambda: datasets.decaying(100000, 300, random_state=0).astype(np.float32), 10)],
}


def main(argv=None):
    from sklearn.decomposition import PCA

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    print("| data, k | memory (s) | path | memory map | by rows | ARPACK on the map | "
          "path / memory | path / ARPACK | by rows / path |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        for group in args.cases.split(","):
            for name, make, k in CASES[group]:
                X = make()
                np.save(path, X)
                M = np.load(path, mmap_mode="r")

                def rows():
                    saved, stream.IN_PLACE_MEMORY = stream.IN_PLACE_MEMORY, 0.0
                    try:
                        return fastlae.pca(path, k)
                    finally:
                        stream.IN_PLACE_MEMORY = saved

                calls = {"memory": lambda: fastlae.pca(X, k), "path": lambda: fastlae.pca(path, k),
                         "map": lambda: fastlae.pca(M, k), "rows": rows,
                         "arpack": lambda: PCA(k, svd_solver="arpack", random_state=0).fit(M)}
                for fn in calls.values():
                    fn()   # compiled, file in the page cache
                times = {key: [] for key in calls}
                for _ in range(args.reps):
                    for key, fn in calls.items():
                        t = time.perf_counter()
                        fn()
                        times[key].append(time.perf_counter() - t)
                t = {key: float(np.median(v)) for key, v in times.items()}
                print(f"| {name}, k {k} | {t['memory']:.3f} | {t['path']:.3f} | {t['map']:.3f} | "
                      f"{t['rows']:.3f} | {t['arpack']:.3f} | {t['path'] / t['memory']:.2f} | "
                      f"{t['path'] / t['arpack']:.2f} | {t['rows'] / t['path']:.2f} |", flush=True)
                del M


if __name__ == "__main__":
    main()
