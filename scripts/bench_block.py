"""Block widths of block Krylov in memory: whole calls of ``fastlae.pca`` at each width.

A run in memory takes the width of :func:`fastlae.solvers.krylov.block_for` (``model``: the
width model's least cost for its products); ``default`` takes
:func:`fastlae.solvers.krylov.default_block`'s (``min(k, 10)``, at least 4) and a number
fixes the run's width. ``"auto"``'s plan stays priced at ``krylov.MEMORY_BLOCK``, so every
width runs the same plan.

Parts: ``free`` runs square-ish dense data (matrix-free products with X by rows; slow power
laws at k 40), ``columns`` the same shapes in F order, ``gram`` the formed Gram (Krylov as
the exact solver on 20000 x 2000, k 50, and after the hand-over of a flat spectrum).
``products`` times one product per width (the width model's ``krylov.PRODUCT_COST``).
``plans`` prices the plan at each width instead (``krylov.MEMORY_BLOCK``, which
``fastlae.solvers.choose``'s cost model reads) and times the shapes (n 1000-200000, d
256-6000, k 5-50) where that changes the plan, decaying and i^-0.5.

Each case runs every width in turn, ``--reps`` times (interleaved: the same noise for all),
and prints the medians, the products taken, and each width's time over the first width's;
the last line is the geometric mean of those ratios over the cases.

    python scripts/bench_block.py [--reps 3] [--widths model,default,8]
                                  [--parts free,columns,gram,products,plans]
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
        for k in (5, 10, 20, 40)] + [((4000, 4000), f"i^-{a}", 40) for a in (0.25, 0.35, 0.45)]
GRAM = [((20000, 2000), "decaying", 50), ((20000, 2000), "cluster_at_k", 50),
        ((20000, 2000), "i^-0.5", 20), ((4000, 4000), "iid Gaussian", 10),
        ((4000, 4000), "iid Gaussian", 20)]
COLUMNS = [((4000, 4000), name, k) for name in ("decaying", "i^-0.8", "i^-0.5", "cluster_at_k")
           for k in (10, 20, 40)]
PARTS = {"free": FREE, "columns": COLUMNS, "gram": GRAM}
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


def run_part(cases, widths, reps, order="C", plans=False):
    """Time each case at each width; ``plans``: the widths price the plan (MEMORY_BLOCK)
    instead of fixing the run's block."""
    model, priced = krylov.block_for, krylov.MEMORY_BLOCK
    first, ratios, chosen = widths[0], [], []

    def at(b):
        if plans:
            krylov.MEMORY_BLOCK = b
        elif b == "model":   # the model's width, recorded for the table
            krylov.block_for = lambda op, k: chosen.append(model(op, k)) or chosen[-1]
        elif b == "default":
            krylov.block_for = lambda op, k: krylov.default_block(k, op.m)
        else:
            krylov.block_for = lambda op, k: min(int(b), op.m)

    print("| data, k | " + " | ".join(f"b {b}: s (products)" for b in widths)
          + " | " + " | ".join(f"b {b} / b {first}" for b in widths[1:]) + " |")
    try:
        for (n, d), name, k in cases:
            X = np.asarray(make(name, n, d, k), order=order)
            fastlae.pca(X, k)   # compiled, pages touched
            times = {b: [] for b in widths}
            seen = {}
            chosen.clear()
            for _ in range(reps):
                for b in widths:
                    at(b)
                    t = time.perf_counter()
                    r = fastlae.pca(X, k)
                    times[b].append(time.perf_counter() - t)
                    seen[b] = (r.n_iter, r.solver, r.matrix_free, r.converged)
                    krylov.block_for, krylov.MEMORY_BLOCK = model, priced
            t = {b: float(np.median(v)) for b, v in times.items()}
            ratio = [t[b] / t[first] for b in widths[1:]]
            ratios.append(ratio)
            cells = [f"{t[b]:.3f} ({seen[b][0]}{'' if seen[b][3] else ', NOT certified'}"
                     f"{'' if seen[b][1] == 'krylov' else ', ' + seen[b][1]})" for b in widths]
            path = "matrix-free" if seen[first][2] else "formed Gram"
            if chosen:   # the first run's width (a hand-over's run keeps default_block's)
                path += f", model b {chosen[-1]}"
            print(f"| {n} x {d} {name}, k {k} ({path}) | " + " | ".join(cells) + " | "
                  + " | ".join(f"{x:.2f}" for x in ratio) + " |", flush=True)
    finally:
        krylov.block_for, krylov.MEMORY_BLOCK = model, priced
    mean = np.exp(np.log(np.array(ratios)).mean(axis=0))
    print(f"geometric mean over {len(ratios)} cases: "
          + ", ".join(f"b {b} / b {first} {x:.2f}" for b, x in zip(widths[1:], mean)))


PRODUCT_SHAPES = [((4000, 4000), True, "C"), ((8000, 2000), True, "C"), ((3000, 3000), True, "C"),
                  ((20000, 500), True, "C"), ((4000, 4000), True, "F"), ((4000, 4000), False, "C"),
                  ((3000, 3000), False, "C"), ((2500, 2500), False, "C")]


def products(reps=15):
    """One product of a Krylov run per width (medians of ``reps``), taken from the products
    :func:`krylov.run` is handed (X by rows or columns, or the formed Gram), over b 8."""
    from fastlae import api
    from fastlae.solvers import Plan

    widths = krylov.PRODUCT_WIDTHS
    run, seen = krylov.run, {}

    def timed(apply, m, k, block, *args, **kwargs):
        rng = np.random.default_rng(0)
        for b in widths:
            Q = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((m, b)))[0])
            apply(Q)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                apply(Q)
                ts.append(time.perf_counter() - t)
            seen[b] = float(np.median(ts))
        return run(apply, m, k, block, *args, **kwargs)

    print("| product | b 8: ms | " + " | ".join(f"b {b}" for b in widths) + " |")
    krylov.run = timed
    try:
        for (n, d), free, order in PRODUCT_SHAPES:
            X = np.asarray(datasets.decaying(n, d, random_state=0), order=order)
            api._pca(X, 10, plan=Plan("krylov", free), max_iter=2, precision="double")
            kind = ("X by rows" if order == "C" else "X by columns") if free else "formed Gram"
            print(f"| {n} x {d} {kind} | {1e3 * seen[8]:.2f} | "
                  + " | ".join(f"{seen[b] / seen[8]:.2f}" for b in widths) + " |", flush=True)
    finally:
        krylov.run = run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--widths", default="model,default,8")
    ap.add_argument("--parts", default="free,columns,gram")
    args = ap.parse_args(argv)
    widths = [w if w in ("model", "default") else int(w) for w in args.widths.split(",")]
    warnings.simplefilter("ignore")
    for part in args.parts.split(","):
        if part == "products":
            products()
        elif part == "plans":
            priced = [w for w in widths if w not in ("model", "default")]
            priced = [krylov.MEMORY_BLOCK] + [w for w in priced if w != krylov.MEMORY_BLOCK]
            cases = changed_plans(priced)
            if cases:
                run_part(cases, priced, args.reps, plans=True)
        else:
            run_part(PARTS[part], widths, args.reps, order="F" if part == "columns" else "C")


if __name__ == "__main__":
    main()
