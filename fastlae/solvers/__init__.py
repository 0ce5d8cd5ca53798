"""Solver registry and the documented ``"auto"`` rule.

Every solver module exposes
``solve(op, k, r, lam, lam_floor, tol, wtol, max_iter, rng, init=None, patience=0.0)``
(``op`` an :class:`~fastlae._operator.Operator`) returning a
:class:`~fastlae.solvers._common.Trained`, and declares what :func:`fastlae.pca` needs to
know of it: ``DEFAULT_MAX_ITER`` and ``ITERATIVE`` (False for a direct solver: no latent
oversampling, no updates, no continued runs, no convergence or collapse warnings). A new
solver is one kernel module under ``fastlae/_kernels`` and one module here, added to
``REGISTRY``.
"""
from dataclasses import dataclass

from . import als, als_tied, eigh, gd, krylov, oja
from ._common import Trained

REGISTRY = {"gd": gd, "oja": oja, "als": als, "als_tied": als_tied, "krylov": krylov,
            "eigh": eigh}
# What ``solver=`` accepts: "auto" and every registered solver; ``precision=``, these.
SOLVERS = ("auto",) + tuple(REGISTRY)
PRECISIONS = ("auto", "double", "mixed")
__all__ = ["PRECISIONS", "REGISTRY", "SOLVERS", "Plan", "Trained", "budgets", "choose",
           "default_latent", "estimated_seconds", "exact_plan", "exact_solver", "flat_plan",
           "krylov_passes", "single_saves"]

# Cost model of the "auto" rule, calibrated with scripts/bench_auto.py on the project
# machine (2 cores, AVX-512, OpenBLAS; float64). Rates in flop/s, times in seconds.
UPDATES = 14          # als_tied updates to its target on fast-decaying spectra (r = 2k, momentum;
                      # 13-15 measured at 1000-2000 features)
SYRK_FLOPS = 1.6e11   # forming the Gram: 2 n m^2 flops, and per block of GRAM_BLOCK_ROWS
GRAM_BLOCK_ROWS = 512   # samples its worker reads and writes its m x m partial (16 m^2 bytes)
PASS_FLOPS = 4.3e10   # one matrix-free update: 4 n d r flops (two narrow GEMMs over X)
GEMM_FLOPS = 2.2e10   # one update on the formed Gram: 2 m^2 r flops (reads all of C; measured
                      # 1.7-6.6 ms per update at m = 1000-2000, r = 20, with its small work)
EIGH_FLOPS = 2.5e10   # LAPACK eigh with a subset: (4/3) m^3 flops of tridiagonalization
EIGH_OVERHEAD = 5e-3  # fixed cost of eigh (workspace queries, small m)
# Beyond EIGH_CACHE_M features eigh's rate falls like (m / EIGH_CACHE_M)^-EIGH_SLOWDOWN
# (measured with a subset of 20: 0.47 s at 2000, 1.7 s at 3000, 5-6 s at 4000, 11 s at 5000).
EIGH_CACHE_M = 2500
EIGH_SLOWDOWN = 0.8
SMALL_SECONDS = 2.5e-9  # per r^3 of an update's r x r work (eigh, inverse, Ritz check)
UPDATE_OVERHEAD = 8e-5  # fixed cost of one update (kernel calls, small products)
EIGH_MARGIN = 0.9     # eigh must be modelled 10% faster: near-ties go to the autoencoder
# Mixed precision (fastlae._mixed), fitted to Gram passes over n x d float64 data on the
# project machine (d of 256 to 2000; scripts/bench_precision.py): a pass costs
# n d^2 / RATE + n d * ELEMENT seconds, in float64 (the "double" constants) and in float32
# (the "single" ones: SSYRK's rate, and centering into float32 with exact sums). The
# refinement is one float64 pass with REFINE_EXTRA columns beyond k at REFINE_PASS_FLOPS,
# about REFINE_PRODUCTS single-threaded products of the d x d Gram with as many columns at
# REFINE_GEMM_FLOPS, and REFINE_OVERHEAD seconds (the probe, and wide spans and many
# products: the cost on spectra that fall slowly after k). "auto" takes mixed precision when
# the modelled saving of the float32 pass exceeds the refinement (and fastlae._mixed.probe
# allows it). The passes were fitted on FIT_THREADS threads and run
# (threads / FIT_THREADS) ** THREAD_EXPONENT times faster on more (measured on 16 cores: the
# Gram passes and a bare X.T @ X 3.4-4.5 times faster than on 2, scripts/bench_cores.py); the
# in-memory work runs on one thread at any count.
DOUBLE_RATE, DOUBLE_ELEMENT = 1.47e11, 1.34e-9
SINGLE_RATE, SINGLE_ELEMENT = 2.8e11, 1.0e-9
REFINE_EXTRA = 5
REFINE_PASS_FLOPS = 6.0e10
REFINE_PRODUCTS = 40
REFINE_GEMM_FLOPS = 3.0e10
REFINE_OVERHEAD = 0.03
FIT_THREADS = 2
THREAD_EXPONENT = 0.6   # 16 threads: 3.5x
# Block Krylov (fastlae.solvers.krylov): products to its target with a block of b columns
# (9-14 on decaying spectra and slow power laws, scripts/bench_krylov.py). A step costs its
# product (a narrow product reads all of the Gram, or X twice, at MEMORY_BYTES_PER_S at
# least) and 10 m s b flops of orthogonalization and Ritz steps over the s ~ 3/4 of its
# stored columns, at ORTHO_FLOPS (measured per step on formed Grams of 2000-5000 features,
# k 10-50, block 10: 9-52 ms).
KRYLOV_PASSES = 14
# ... for k up to 2.3 blocks; beyond, about KRYLOV_PASSES (1 + k / b) / 3.3 (block 10:
# k 10: 10-11 products, k 20: 15, k 50: 24-26 on decaying spectra, 2000-20000 samples)
KRYLOV_OVERHEAD = 6e-4   # fixed cost of a step (its small eigh, BLAS calls, Python), m = 13-50
MEMORY_BYTES_PER_S = 9.0e9   # narrow products measured at 8-10 GB/s (1000-4000 features)
# Steps measure 1.5-4 ms beyond their product at 1000-4000 features, k 10-50 (the rate that
# fits is about 5.5e9). At that rate
# "auto" would take Krylov on 19 of 320 shapes (n 1000-200000, d 256-6000, k 5-50) where it
# takes eigh or the autoencoder on the formed Gram: 0.59-0.93x the time on the zoo's
# decaying spectrum, but 1.03-1.98x on its gaussian and power_law spectra (8 of those shapes,
# best of 3), so the model keeps the slower rate, which prices the give-up on flat spectra.
ORTHO_FLOPS = 2.4e9
# Below this Gram size LAPACK's eigh (under 50 ms) stays the exact solver on a formed Gram: it
# resolves every gap, where Krylov stops at the residual float64 products attain.
KRYLOV_MIN = 1000
# Products block Krylov takes on a flat spectrum (where a matrix-free run gave up), measured
# 83-98 on the formed Gram of the iid Gaussian 4000 x 4000, k 20, blocks of 10, from random
# starts (138-144 with the default cap; see krylov.ROOM).
FLAT_PASSES = 110
# ... with k + FLAT_CAP_BLOCKS b stored columns (k + 14 b: 83, k + 10 b: 97-98; k + 18 b:
# 79-80 at a larger eigh and orthogonalization per step; more columns by default cost
# orthogonalization on the fast spectra the default serves: sparse 200000 x 40000 5-7% slower)
FLAT_CAP_BLOCKS = 14
# "auto" may spend at most WASTE times the modelled cost of the exact path (Gram + eigh) on
# autoencoder updates before switching to that path: the worst case is then 1 + WASTE times it.
WASTE = 0.25
# Krylov on a formed Gram may spend this fraction of eigh's modelled solve before handing over
# to it.
EXACT_WASTE = 0.5


@dataclass(frozen=True)
class Plan:
    """How :func:`fastlae.pca` runs: which solver, on what, and when to give up.

    Attributes
    ----------
    solver : str
        A key of ``REGISTRY``.
    matrix_free : bool
        Iterate on X directly (one pass per update) instead of a formed Gram matrix.
    budget : int or None
        ``"auto"`` only: the update budget. None: the solver runs to its ``max_iter``.
    patience : float
        ``"auto"`` only: what switching to ``eigh`` on the Gram (formed then, if it was not)
        costs, in updates. The autoencoder switches as soon as its observed rate predicts it
        needs more updates than that (see :func:`fastlae._kernels.monitor.verdict`); Krylov
        takes any positive value as leave to switch (``inf``: only at its budget, see
        :func:`fastlae.solvers.krylov.solve`).
    """

    solver: str
    matrix_free: bool = False
    budget: object = None
    patience: float = 0.0


def default_latent(solver, k, m):
    """Latent width r: k plus oversampling for the iterative solvers (capped at m), k else;
    for ``"krylov"`` the block width the cost model prices
    (:func:`fastlae.solvers.krylov.default_block`; a run in memory takes
    :func:`fastlae.solvers.krylov.block_for`'s)."""
    if solver == "krylov":
        return krylov.default_block(k, m)
    if not REGISTRY[solver].ITERATIVE:
        return k
    return min(m, k + max(10, k))


def estimated_seconds(n, d, k):
    """Modelled seconds of the ways ``"auto"`` can go, on the project machine.

    Returns a dict: ``"free"`` (als_tied matrix-free, ``UPDATES`` passes), ``"als_tied"`` and
    ``"eigh"`` (both including the Gram), ``"krylov_free"`` and ``"krylov_gram"`` (block
    Krylov, ``"krylov_passes"`` products, matrix-free or including the Gram), and the pieces
    ``"gram"``, ``"pass"`` (one matrix-free update), ``"update"`` (one update on the formed
    Gram), ``"krylov_step"`` (one Krylov step on the formed Gram) and ``"krylov_passes"``
    (:func:`krylov_passes` of the call).
    """
    m, big = min(n, d), max(n, d)
    r = default_latent("als_tied", k, m)
    small = SMALL_SECONDS * r ** 3 + UPDATE_OVERHEAD
    gram = 2.0 * big * m * m / SYRK_FLOPS \
        + (big / GRAM_BLOCK_ROWS) * 16.0 * m * m / MEMORY_BYTES_PER_S
    one_pass = 4.0 * n * d * r / PASS_FLOPS + small
    update = 2.0 * m * m * r / GEMM_FLOPS + small
    b = krylov.default_block(k, m)
    passes = krylov_passes(k, b)
    ortho = 10.0 * m * 0.75 * krylov.default_cap(k, b, m) * b / ORTHO_FLOPS + KRYLOV_OVERHEAD
    free_step = max(4.0 * n * d * b / PASS_FLOPS, 16.0 * n * d / MEMORY_BYTES_PER_S) + ortho
    gram_step = max(2.0 * m * m * b / GEMM_FLOPS, 8.0 * m * m / MEMORY_BYTES_PER_S) + ortho
    return {
        "gram": gram,
        "pass": one_pass,
        "update": update,
        "free": UPDATES * one_pass,
        "als_tied": gram + UPDATES * update,
        "eigh": gram + (4.0 / 3.0) * m ** 3 / EIGH_FLOPS
        * max(1.0, m / EIGH_CACHE_M) ** EIGH_SLOWDOWN + EIGH_OVERHEAD,
        "krylov_step": gram_step,
        "krylov_passes": passes,
        "krylov_free": passes * free_step,
        "krylov_gram": gram + passes * gram_step,
    }


def krylov_passes(k, b):
    """Products block Krylov of block ``b`` is modelled to take to its target for k
    components (``KRYLOV_PASSES``, more where k is several blocks)."""
    return KRYLOV_PASSES * max(1.0, (1.0 + k / b) / 3.3)


def exact_solver(n, d, k, cost=None):
    """The solver ``"auto"`` finishes with on a formed Gram when the autoencoder would be
    slow (and hands over to): LAPACK's ``"eigh"``, or, for Grams larger than ``KRYLOV_MIN``,
    ``"krylov"`` where its modelled products cost less than a full eigendecomposition (at
    2000 features eigh takes 0.4 s). ``cost``: :func:`estimated_seconds` of the call, where
    the caller has it."""
    cost = estimated_seconds(n, d, k) if cost is None else cost
    return "krylov" if min(n, d) > KRYLOV_MIN and cost["krylov_gram"] < cost["eigh"] \
        else "eigh"


def exact_plan(n, d, k):
    """The :class:`Plan` of :func:`exact_solver` on a formed Gram. Krylov there runs with a
    budget of products worth ``EXACT_WASTE`` of eigh's solve (at least ``2 KRYLOV_PASSES``)
    and hands over to eigh at that budget (a flat spectrum), not earlier: its products are
    cheap against eigh, and the rate of its first steps is no guide (on 20000 x 2000, k 50,
    the residual stalls near 1e-5 for 12 products, then falls 5x per product: 26 in all)."""
    cost = estimated_seconds(n, d, k)
    if exact_solver(n, d, k, cost) == "eigh":
        return Plan("eigh")
    solve = cost["eigh"] - cost["gram"]
    budget = max(int(2 * cost["krylov_passes"]), int(EXACT_WASTE * solve / cost["krylov_step"]))
    return Plan("krylov", False, budget, float("inf"))


def flat_plan(n, d, k):
    """The :class:`Plan` on the formed Gram after matrix-free Krylov gave up (a flat spectrum):
    Krylov on the Gram from the span reached, where ``FLAT_PASSES`` of its products are
    modelled cheaper than eigh's solve (large Grams: 4000 features), with a budget of twice
    that and a hand-over to eigh at the budget; else eigh."""
    cost = estimated_seconds(n, d, k)
    if min(n, d) <= KRYLOV_MIN or FLAT_PASSES * cost["krylov_step"] \
            >= EIGH_MARGIN * (cost["eigh"] - cost["gram"]):
        return Plan("eigh")
    return Plan("krylov", False, 2 * FLAT_PASSES, float("inf"))


def single_saves(n, d, k, threads=FIT_THREADS):
    """Whether forming the feature Gram in float32 and refining by a float64 pass over X
    (``precision="mixed"``) is modelled faster than the float64 Gram on ``threads`` threads
    (constants above)."""
    speedup = (max(threads, 1) / FIT_THREADS) ** THREAD_EXPONENT
    saving = (n * d * d * (1.0 / DOUBLE_RATE - 1.0 / SINGLE_RATE)
              + n * d * (DOUBLE_ELEMENT - SINGLE_ELEMENT)) / speedup
    r = k + REFINE_EXTRA
    refine = 4.0 * n * d * r / REFINE_PASS_FLOPS / speedup \
        + REFINE_PRODUCTS * 2.0 * d * d * r / REFINE_GEMM_FLOPS + REFINE_OVERHEAD
    return saving > refine


def budgets(n, d, k):
    """``(free, gram)``: the update budgets of ``"auto"``'s matrix-free and Gram paths.

    Each is the number of updates that costs ``WASTE`` times the modelled exact path.
    """
    cost = estimated_seconds(n, d, k)
    waste = WASTE * cost[exact_solver(n, d, k, cost).replace("krylov", "krylov_gram")]
    return int(waste / cost["pass"]), int(waste / cost["update"])


def choose(n, d, k, explicit, formed=False):
    """The :class:`Plan` for a call.

    ``solver="auto"`` takes the cheapest of :func:`estimated_seconds` among: als_tied on the
    formed Gram (where its budget, :func:`budgets`, holds ``UPDATES`` updates), block Krylov
    matrix-free (square-ish X: each product is one pass over X and the Gram is never formed;
    where its usual products cost less than the exact path), and the exact path on the formed
    Gram, :func:`exact_plan` (taken when modelled at least 10% faster). The iterative plans
    hand over to the exact path, or from Krylov to eigh, as soon as their observed
    convergence rate (and for Krylov its Ritz values too, :func:`krylov.hopeless`) predicts
    that finishing would cost more than that (a flat spectrum), and in any case at their
    budget. ``r.solver`` and ``r.matrix_free`` report what ran.
    An explicitly named solver runs to its ``max_iter``: on the formed Gram, except
    ``als_tied`` and ``krylov``, which take the cheaper of their two modes. With ``formed``
    (a Gram accumulated from row blocks) every plan works on the formed Gram.
    """
    cost = estimated_seconds(n, d, k)
    if explicit == "auto" and formed:   # the Gram is there: only the solve counts
        return exact_plan(n, d, k)
    if explicit == "auto":
        _, gram_budget = budgets(n, d, k)
        exact = exact_solver(n, d, k, cost)
        exact_cost = cost["krylov_gram" if exact == "krylov" else "eigh"]
        solve = exact_cost - cost["gram"]   # the exact solver once the Gram is formed
        options = []
        if gram_budget >= UPDATES:
            options.append((cost["als_tied"], Plan("als_tied", False, gram_budget,
                                                   solve / cost["update"])))
        # matrix-free Krylov where its usual KRYLOV_PASSES cost less than the exact path:
        # WASTE of eigh in products (at least twice the usual), then a hand-over to eigh,
        # which its Ritz values and observed rate trigger earlier on a flat spectrum
        passes = cost["krylov_passes"]
        free_budget = max(int(2 * passes), int(WASTE * cost["eigh"] / (cost["krylov_free"]
                                                                       / passes)))
        if not formed and cost["krylov_free"] < exact_cost:
            options.append((cost["krylov_free"], Plan("krylov", True, free_budget, 1.0)))
        if not options or exact_cost < EIGH_MARGIN * min(c for c, _ in options):
            return exact_plan(n, d, k)
        return min(options, key=lambda o: o[0])[1]
    if explicit == "als_tied":
        return Plan("als_tied", not formed and cost["free"] < cost["als_tied"])
    if explicit == "krylov":
        return Plan("krylov", not formed and cost["krylov_free"] < cost["krylov_gram"])
    return Plan(explicit)
