"""Solver registry and the documented ``"auto"`` rule.

Every solver module exposes
``solve(prob, k, r, lam, lam_floor, tol, wtol, max_iter, rng, matrix_free, init=None)``
returning a :class:`~fastlae.solvers._common.Trained`, plus ``DEFAULT_MAX_ITER``.
A new solver is one kernel module under ``fastlae/_kernels`` and one module here.
"""
from . import als, als_tied, eigh, gd, oja

REGISTRY = {"gd": gd, "oja": oja, "als": als, "als_tied": als_tied, "eigh": eigh}

# Solvers that can iterate without forming the Gram matrix (one pass over X per update).
MATRIX_FREE = {"gd", "oja", "als_tied"}

# Cost model of the "auto" rule, calibrated with benchmarks/bench_pca.py and
# benchmarks/bench_auto.py on the project machine (2 cores, AVX-512, OpenBLAS; float64):
UPDATES = 12          # als_tied updates to tol=1e-10 with momentum and r = 2k (measured 10-14)
SYRK_FLOPS = 1.6e11   # forming the Gram: 2 n m^2 flops at this rate
PASS_FLOPS = 5.8e10   # one matrix-free update, 4 n d r flops (two narrow GEMMs over X)
GEMM_FLOPS = 2.0e10   # one update on the formed Gram, 2 m^2 r flops (reads all of C)
EIGH_FLOPS = 3.5e10   # LAPACK eigh with a subset: (4/3) m^3 flops of tridiagonalization
EIGH_OVERHEAD = 5e-3  # seconds of fixed cost in eigh (workspace queries, small m)
EIGH_MARGIN = 0.9     # eigh must be modelled 10% faster: near-ties go to the autoencoder


def default_latent(solver, k, m):
    """Latent width r: k plus oversampling for the subspace-type solvers (capped at m)."""
    if solver == "eigh":
        return k
    return min(m, k + max(10, k))


def estimated_seconds(n, d, k):
    """Modelled seconds of the three ways ``"auto"`` can go, on the project machine.

    Returns a dict with keys ``"free"`` (als_tied, matrix-free), ``"als_tied"`` and ``"eigh"``
    (both on the formed Gram).
    """
    m, big = min(n, d), max(n, d)
    r = default_latent("als_tied", k, m)
    gram = 2.0 * big * m * m / SYRK_FLOPS
    return {
        "free": UPDATES * 4.0 * n * d * r / PASS_FLOPS,
        "als_tied": gram + UPDATES * 2.0 * m * m * r / GEMM_FLOPS,
        "eigh": gram + (4.0 / 3.0) * m ** 3 / EIGH_FLOPS + EIGH_OVERHEAD,
    }


def choose(n, d, k, explicit):
    """Pick ``(solver, matrix_free)``.

    ``solver="auto"`` takes the cheapest of :func:`estimated_seconds`: als_tied matrix-free
    (square-ish X, small k: each update is one pass over X and the Gram is never formed),
    als_tied on the formed Gram (small k relative to its size), or LAPACK's eigh on the formed
    Gram (k above roughly m / 60, where a tridiagonalization beats a dozen products with C;
    only when modelled at least 10% faster, so near-ties train the autoencoder).
    ``r.solver`` and ``r.matrix_free`` report the choice. An explicitly named solver runs on the
    formed Gram, except ``als_tied``, which takes the cheaper of its two modes.
    """
    cost = estimated_seconds(n, d, k)
    if explicit == "auto":
        free = cost["free"] < cost["als_tied"]
        lae = cost["free"] if free else cost["als_tied"]
        if cost["eigh"] < EIGH_MARGIN * lae:
            return "eigh", False
        return "als_tied", free
    if explicit == "als_tied":
        return "als_tied", cost["free"] < cost["als_tied"]
    return explicit, False
