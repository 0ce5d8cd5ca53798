"""Solver registry and the documented ``"auto"`` rule.

Every solver module exposes ``solve(prob, k, r, lam, tol, max_iter, rng, matrix_free, init)``
returning a :class:`~fastlae.solvers._common.Trained`, plus ``DEFAULT_MAX_ITER``.
A new solver is one kernel module under ``fastlae/_kernels`` and one module here.
"""
from . import als, als_tied, eigh, gd, oja

REGISTRY = {"gd": gd, "oja": oja, "als": als, "als_tied": als_tied, "eigh": eigh}

# Solvers that can iterate without forming the Gram matrix (one pass over X per update).
MATRIX_FREE = {"gd", "oja", "als_tied"}

# Updates als_tied typically needs to reach tol=1e-10 with the default latent width
# (benchmarks/bench_pca.py, spectra decaying like 1/i with a noise floor): used only by the
# cost model below, never as a limit.
EXPECTED_UPDATES = 25


def default_latent(solver, k, m):
    """Latent width r: k plus oversampling for the subspace-type solvers (capped at m)."""
    if solver == "eigh":
        return k
    return min(m, k + max(10, k))


def choose(n, d, k, explicit):
    """Pick ``(solver, matrix_free)``.

    The rule (``solver="auto"``), from ``benchmarks/bench_pca.py`` on the project machine:

    * ``als_tied`` always (it beat ``eigh`` on the formed Gram at every measured shape);
    * matrix-free when the estimated flops of ``EXPECTED_UPDATES`` passes over X,
      ``4 n d r`` each, are below those of forming the Gram (``max(n,d) * min(n,d)^2``) plus
      the same number of updates on it (``2 m^2 r`` each): square-ish X with a small k.

    An explicitly named solver runs on the formed Gram, except that ``als_tied`` follows the
    same matrix-free rule.
    """
    m, big = min(n, d), max(n, d)
    solver = "als_tied" if explicit == "auto" else explicit
    matrix_free = False
    if solver == "als_tied":
        r = default_latent(solver, k, m)
        free = EXPECTED_UPDATES * 4.0 * n * d * r
        gram = float(big) * m * m + EXPECTED_UPDATES * 2.0 * m * m * r
        matrix_free = free < gram
    return solver, matrix_free
