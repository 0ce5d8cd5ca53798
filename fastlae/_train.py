"""Training on the Gram operator and certifying, shared by every path that forms or applies it.

:func:`train` runs a validated call (:class:`fastlae._validation.Request`) one solver on an
:class:`~fastlae._operator.Operator` until the certificate agrees, handing over to the exact
path where ``"auto"``'s budget says so; :class:`Solved` is what a path hands to the result.
"""
import time
from dataclasses import dataclass

import numpy as np

from ._certify import Pairs, certify
from ._gram import form_gram
from ._kernels.monitor import GAVE_UP
from ._operator import Operator
from .solvers import (FLAT_CAP_BLOCKS, REGISTRY, Trained, default_latent, exact_plan,
                      flat_plan, krylov)


def lam_floor(m, trace):
    """The default penalty ``m eps trace``: it collapses only directions of numerically zero
    variance (the rounding level of an m x m Gram of trace ``trace``)."""
    return m * np.finfo(float).eps * trace


@dataclass
class Solved:
    """What a path hands to :func:`fastlae._result.assemble`: the solver that ran, its trained
    weights, the certified Ritz pairs and the seconds of its parts."""

    name: str
    module: object
    matrix_free: bool
    trained: Trained
    pairs: Pairs
    n_iter: int
    budget: int
    trace: float
    m: int
    t_gram: float = 0.0
    t_cert: float = 0.0
    t_refine: float = 0.0
    precision: str = "double"


@dataclass
class Run:
    """What :func:`train` hands back: the solver that finished (after any hand-over), the
    operator it ended on (formed if a hand-over formed it), its weights and certified pairs,
    the updates spent and the seconds of forming and certifying."""

    name: str
    module: object
    op: Operator
    trained: Trained
    pairs: Pairs
    n_iter: int
    t_gram: float
    t_cert: float


def train(op, request, plan, name, r, trace, budget, tol=None, handover_width=None,
          in_gram=False):
    """Train solver ``name`` on ``op`` and certify, continuing with a stricter internal
    tolerance while the exact certificate disagrees with the solver's own check.

    Parameters
    ----------
    op : Operator
    request : fastlae._validation.Request
    plan : fastlae.solvers.Plan
        ``plan.patience`` lets ``"auto"`` give up: it then hands over to the exact path
        (:func:`~fastlae.solvers.exact_plan`: block Krylov on the formed Gram, then ``eigh``),
        forming the Gram if it was not.
    name : str
        The solver to start with.
    r : int
        Its latent width.
    trace : float
        The trace of ``op``'s Gram (the default penalty's level).
    budget : int
        Updates it may take.
    tol : float or None
        The target (``request.tol`` when None).
    handover_width : int or None
        Eigenpairs (+1) an ``eigh`` hand-over computes (``request.k`` when None).
    in_gram : bool
        Certify in the solvers' own Gram (see :func:`fastlae._certify.certify`).

    Returns
    -------
    Run
    """
    data, k = op.data, request.k
    tol = request.tol if tol is None else tol
    floor = lam_floor(data.m, trace)
    check_tol, init, lam_run = tol, None, request.lam_scaled(data.scale)
    module, n_iter, t_gram, t_cert = REGISTRY[name], 0, 0.0, 0.0
    op.single_reduction = request.single_reduction
    while True:
        trained = module.solve(op, k, r, lam_run, floor, check_tol, request.wtol,
                               budget - n_iter, request.rng, init=init, patience=plan.patience)
        data.check_stop()
        n_iter += trained.n_iter
        if trained.status == GAVE_UP:   # "auto": the exact path is cheaper from here
            start = trained.W1, trained.basis
            if op.matrix_free:
                t_gram -= time.perf_counter()
                if data.gram == "features" and data.n < data.d:   # see _solve._double
                    data.use_gram("samples")
                    start = None   # the span reached is in the other space
                op = Operator(data, form_gram(data)[0])
                op.single_reduction = request.single_reduction
                t_gram += time.perf_counter()
            name, trained, more = _hand_over(op, request, name, trained, lam_run, floor,
                                             handover_width or k, start)
            module, n_iter = REGISTRY[name], n_iter + more
        t_cert -= time.perf_counter()
        pairs = certify(op, trained, k, in_gram)
        t_cert += time.perf_counter()
        if not module.ITERATIVE or pairs.res.max() <= tol or n_iter >= budget \
                or check_tol <= 1e-16:
            return Run(name, module, op, trained, pairs, n_iter, t_gram, t_cert)
        check_tol *= 1e-2
        init, lam_run = (trained.W1, trained.W2), trained.lam


def _hand_over(op, request, name, trained, lam, floor, width, start):
    """The exact path after ``name`` gave up on the formed Gram ``op``: block Krylov from the
    span reached so far (``start``: the ``(W1, basis)`` of the run that gave up, None for a
    fresh start; after matrix-free Krylov gave up, only on Grams large enough for
    :func:`~fastlae.solvers.flat_plan`), then LAPACK's full answer where that gives up too.
    Returns ``(name, trained, updates)``."""
    k, tol, more = request.k, request.tol, 0
    n, d = op.data.n, op.data.d
    nxt = flat_plan(n, d, k) if name == "krylov" else exact_plan(n, d, k)
    if nxt.solver == "krylov":
        flat = name == "krylov"   # matrix-free Krylov gave up: a flat spectrum
        name = "krylov"
        trained = krylov.solve(op, k, default_latent(name, k, op.m), lam, floor, tol,
                               request.wtol, nxt.budget, request.rng,
                               init=start, patience=nxt.patience,
                               cap_blocks=FLAT_CAP_BLOCKS if flat else None)
        more = trained.n_iter
        if trained.status != GAVE_UP:
            return name, trained, more
    trained = REGISTRY["eigh"].solve(op, k, width, lam, floor, tol, request.wtol, 1,
                                     request.rng)
    return "eigh", trained, more


def latent_width(request, name, op):
    """The latent width of solver ``name`` on ``op``: the user's ``n_latent`` for an
    iterative solver, else for ``"krylov"`` the block of least modelled cost on op's products
    (:func:`fastlae.solvers.krylov.block_for`), else
    :func:`fastlae.solvers.default_latent`."""
    if request.n_latent is not None and REGISTRY[name].ITERATIVE:
        return request.n_latent
    if name == "krylov":
        return krylov.block_for(op, request.k)
    return default_latent(name, request.k, op.m)


def budget_of(request, plan):
    """Updates the plan's solver may take: the plan's budget (``"auto"``), else ``max_iter``,
    else the solver's default."""
    if plan.budget is not None:
        return plan.budget
    if request.max_iter is not None:
        return request.max_iter
    return REGISTRY[plan.solver].DEFAULT_MAX_ITER
