"""Block widths of block Krylov in memory: whole calls of ``fastlae.pca`` at each width.

Sets ``fastlae.solvers.krylov.MEMORY_BLOCK``, the width of products computed in memory:
``free`` runs square-ish dense data (matrix-free products with X; slow power laws at k 40,
where a narrower block hands over to the formed Gram earlier), ``gram`` the formed Gram
(Krylov as the exact solver on 20000 x 2000, k 50, and after the hand-over of a flat
spectrum), ``plans`` the shapes (n 1000-200000, d 256-6000, k 5-50) where a width changes
the plan of ``"auto"`` (``fastlae.solvers.choose``, whose cost model prices Krylov at the
block width), decaying and i^-0.5. Each case runs every width in turn, ``--reps`` times (interleaved: the same noise
for all), and prints the medians, the products taken, and each width's time over the
default's; the last line is the geometric mean of those ratios over the cases.

    python scripts/bench_block.py [--reps 3] [--widths 6,8,10]
                                  [--parts free,gram,plans]
"""
import argparse
import time
import warnings

import numpy as np

import fastlae
import fastlae.solvers.krylov as krylov
from fastlae import datasets


def power_law(n, d, a):
    return datasets.with_spectrum(n, d, np.arange(1, min(n, d) + 1) ** -a, mean=0.5,
                                  random_state=0)


def make(name, n, d, k):
    if name == "decaying":
        return datasets.decaying(n, d, random_state=0)
    if name.startswith("i^-"):
        return power_law(n, d, float(name[3:]))
    if name == "iid Gaussian":
        return np.random.default_rng(0).standard_normal((n, d))
    return datasets.zoo(name, n, d, k, random_state=0)


FREE = [((n, d), name, k) for n, d in ((4000, 4000), (3000, 5000), (8000, 3000))
        for name in ("decaying", "i^-0.8", "i^-0.5", "cluster_at_k", "rank_at_k")
        for k in (10, 20, 40)] + [((4000, 4000), f"i^-{a}", 40) for a in (0.25, 0.35, 0.45)]
GRAM = [((20000, 2000), "decaying", 50), ((20000, 2000), "cluster_at_k", 50),
        ((20000, 2000), "i^-0.5", 20), ((4000, 4000), "iid Gaussian", 10),
        ((4000, 4000), "iid Gaussian", 20)]
PARTS = {"free": FREE, "gram": GRAM}
GRID = [(n, d, k)
        for n in (1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 20000, 50000, 200000)
        for d in (256, 500, 1000, 2000, 3000, 4000, 5000, 6000) for k in (5, 10, 20, 30, 50)
        if k < min(n, d)]
TIMED_BYTES = 1 << 30


def changed_plans(widths):
    """The cases of GRID whose plan (solver, matrix-free) differs at some width (timed where
    X takes at most TIMED_BYTES)."""
    from fastlae.solvers import choose

    default, found, changed = krylov.MEMORY_BLOCK, [], 0
    try:
        for n, d, k in GRID:
            seen = set()
            for b in widths:
                krylov.MEMORY_BLOCK = b
                plan = choose(n, d, k, "auto")
                seen.add((plan.solver, plan.matrix_free))
            if len(seen) > 1:
                changed += 1
                if 8 * n * d <= TIMED_BYTES:
                    found += [((n, d), name, k) for name in ("decaying", "i^-0.5")]
    finally:
        krylov.MEMORY_BLOCK = default
    print(f"plans that change with the width: {changed} of {len(GRID)} shapes "
          f"({len(found) // 2} timed)")
    return found


def run_part(cases, widths, reps):
    default = krylov.MEMORY_BLOCK
    ratios = []
    print("| data, k | " + " | ".join(f"b {b}: s (products)" for b in widths)
          + " | " + " | ".join(f"b {b} / b {default}" for b in widths if b != default) + " |")
    try:
        for (n, d), name, k in cases:
            X = make(name, n, d, k)
            fastlae.pca(X, k)   # compiled, pages touched
            times = {b: [] for b in widths}
            seen = {}
            for _ in range(reps):
                for b in widths:
                    krylov.MEMORY_BLOCK = b
                    t = time.perf_counter()
                    r = fastlae.pca(X, k)
                    times[b].append(time.perf_counter() - t)
                    seen[b] = (r.n_iter, r.solver, r.matrix_free, r.converged)
            krylov.MEMORY_BLOCK = default
            t = {b: float(np.median(v)) for b, v in times.items()}
            ratio = [t[b] / t[default] for b in widths if b != default]
            ratios.append(ratio)
            cells = [f"{t[b]:.3f} ({seen[b][0]}{'' if seen[b][3] else ', NOT certified'}"
                     f"{'' if seen[b][1] == 'krylov' else ', ' + seen[b][1]})" for b in widths]
            path = "matrix-free" if seen[default][2] else "formed Gram"
            print(f"| {n} x {d} {name}, k {k} ({path}) | " + " | ".join(cells) + " | "
                  + " | ".join(f"{x:.2f}" for x in ratio) + " |", flush=True)
    finally:
        krylov.MEMORY_BLOCK = default
    mean = np.exp(np.log(np.array(ratios)).mean(axis=0))
    print(f"geometric mean over {len(ratios)} cases: "
          + ", ".join(f"b {b} / b {default} {x:.2f}"
                      for b, x in zip([b for b in widths if b != default], mean)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--widths", default="6,8,10")
    ap.add_argument("--parts", default="free,gram")
    args = ap.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]
    warnings.simplefilter("ignore")
    for part in args.parts.split(","):
        widths = sorted(set(widths) | {krylov.MEMORY_BLOCK})
        cases = changed_plans(widths) if part == "plans" else PARTS[part]
        if cases:
            run_part(cases, widths, args.reps)


if __name__ == "__main__":
    main()
