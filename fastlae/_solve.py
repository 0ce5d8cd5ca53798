"""Solving a :func:`fastlae.pca` call: one path for each way the Gram is reached.

:func:`run` is the body of the call in its worker thread: open the input, solve, assemble the
result. :func:`solve` picks the path, as scikit-learn's ``_fit`` picks ``_fit_full`` or
``_fit_truncated``:

* data too wide for a formed Gram: block Krylov by passes (:func:`_by_passes`);
* in-memory data where float32 pays: mixed precision (:func:`fastlae._mixed.solve`), which may
  decline;
* otherwise double precision (:func:`_double`): the Gram formed (or formed already by the
  pass that read the data) or applied from X matrix-free, as the plan says.
"""
import contextlib
import time
from dataclasses import dataclass, replace

import numpy as np

from . import _mixed
from . import _validation as V
from ._certify import Pairs, feature_pair_from_samples, rayleigh_ritz, ritz_with_rest
from ._gram import form_gram
from ._operator import Operator
from ._result import assemble
from ._threads import one_blas_thread
from ._train import Solved, Trained, budget_of, lam_floor, latent_width, train
from .solvers import REGISTRY, WASTE, choose, estimated_seconds, flat_plan, krylov, \
    krylov_passes
from .solvers._common import orthonormal


# Matrix-free Krylov on wide data held by rows (C order) takes the feature Gram, whose
# products read X's rows, up to FEATURES_FREE_MAX features: the sample Gram's read column
# blocks of X, strided, and its answer takes a further pass to features. Measured, 2 cores,
# k 10, calls on the feature / the sample Gram (medians of 3, interleaved): 2500 x 4000
# 0.69 (decaying) and 0.73 (singular values i^-0.5), 3000 x 5000 0.62 and 0.79, 2000 x 10000
# 0.68 and 0.80; per product at 10 columns, 1000 x 20000: 24.9 ms against 20.2 (a basis of
# 20000-long vectors). A hand-over to the formed Gram goes back to the sample Gram.
FEATURES_FREE_MAX = 10000


@dataclass
class Outcome:
    """A finished call: the result, the warnings it calls for (``(message, category)``) and
    the data it read (for the report)."""

    result: object
    warned: list
    data: object


def run(opened, request, plan, activity, stop, in_caller):
    """Open the input (:meth:`fastlae._inputs.Input.open`), solve and assemble: the
    :class:`Outcome`. ``plan`` overrides :func:`fastlae.solvers.choose` (None: the rule)."""
    data = opened.open(stop, in_caller, activity)
    if opened.shape is None:   # row blocks without a header: the ranges known now
        top = min(data.n, data.d)
        request = replace(request, k=V.check_k(request.k, top),
                          n_latent=V.check_n_latent(request.n_latent, request.k, top))
    t0 = time.perf_counter()
    if data.formed is not None and request.solver not in ("auto", "krylov"):
        data = data.formed()   # the solver needs the Gram
    solved = solve(data, request, plan)
    if isinstance(solved, _mixed.Declined):   # by passes gave up: a flat spectrum
        data = data.formed()
        solved = solve(data, request, flat_plan(data.n, data.d, request.k), tried=solved)
    if data.fallback is not None and not solved.pairs.res.max() <= request.tol:
        data = data.fallback()   # the formed Gram's answer is not the data's: by passes
        solved = _by_passes(data, request)
    opened.check_unchanged()
    result, warned = assemble(data, solved, request, time.perf_counter() - t0)
    return Outcome(result, warned, data)


def solve(data, request, plan=None, tried=None):
    """The :class:`~fastlae._train.Solved` of ``request`` on ``data``; by passes with a Gram
    that can be formed (``data.formed``), the :class:`~fastlae._mixed.Declined` of a run that
    gave up. ``tried``: what an earlier attempt spent (no mixed precision then)."""
    if data.by_passes:
        return _by_passes(data, request)
    if plan is None:
        plan = choose(data.n, data.d, request.k, request.solver, formed=data.C is not None)
    if tried is None:
        tried = _mixed.solve(data, request, plan)
    if isinstance(tried, Solved):
        return tried
    return _double(data, request, plan, tried)


def _double(data, request, plan, tried):
    """The Gram in float64: formed already, formed here, or applied from X (matrix-free);
    ``tried``: what a declined mixed-precision attempt spent (:class:`fastlae._mixed.Declined`).
    A source that can be read again certifies against the data by one more pass."""
    t0 = time.perf_counter()
    if data.C is not None:
        op, trace = Operator(data, data.C), data.trace
    else:
        if plan.matrix_free:
            if plan.solver == "krylov" and data.gram == "samples" and data.gram_axis == 0 \
                    and data.d <= FEATURES_FREE_MAX:
                data.use_gram("features")
            op = Operator(data)
            trace = op.trace()
        else:
            C, trace = form_gram(data)
            op = Operator(data, C)
        op.use_uncentered(request.tol)   # passes over X skip centering where exact enough
        V.check_finite(data.A, data.mean)
    t_gram = time.perf_counter() - t0 + tried.seconds
    budget = budget_of(request, plan)
    if trace == 0.0:   # every sample equals the mean: any orthonormal basis is exact
        return _zero(data, request, plan, op, budget, t_gram)
    run = train(op, request, plan, plan.solver, latent_width(request, plan.solver, op),
                trace, budget - tried.n_iter if plan.budget is not None else budget)
    pairs, t_cert = run.pairs, run.t_cert
    pairs.certificate = "data" if run.op.matrix_free else "gram"
    if data.C is not None and not getattr(data.products, "EXACT_GRAM", False):
        t_cert -= time.perf_counter()
        pairs = _against_data(data, request, run, pairs)
        t_cert += time.perf_counter()
    return Solved(run.name, run.module, run.op.matrix_free, run.trained, pairs,
                  run.n_iter + tried.n_iter, budget, trace, run.op.m, t_gram + run.t_gram,
                  t_cert)


def _against_data(data, request, run, pairs):
    """The pairs of a formed :class:`~fastlae._data.GramData` certified against the data where
    it can be read again. Where the formed Gram certified them and the data do not (a sparse
    Gram whose implicit centering cancelled digits), :func:`fastlae._mixed.refine` corrects
    the trained span with the data's products."""
    tol = request.tol
    again = data.data_residuals(pairs.vecs, pairs.theta, tol)
    if again is None:
        return pairs
    formed_ok = pairs.res.max() <= tol
    pairs.res, pairs.certificate = again, "data"
    if again.max() <= tol or not formed_ok or run.trained.basis.shape[1] <= request.k \
            or data.gram == "samples":   # refine corrects a formed feature Gram
        return pairs
    refined = _mixed.refine(data, data.C, run.trained.basis, request.k, tol,
                            apply=lambda B: data.times(B, tol))
    if refined is None:
        return pairs
    return Pairs(refined.theta, refined.vecs, refined.res + data.products.rounding(data, tol),
                 refined.ritz, refined.certificate)


def _pass_budget(data, k, b, per_pass):
    """Products a run by passes may take before it forms the Gram instead (``data.formed``):
    those that cost ``WASTE`` of the formed path, at ``per_pass`` seconds each (measured by the
    run), and at least twice the usual :func:`~fastlae.solvers.krylov_passes`. The formed
    path is modelled by its ``eigh`` on the m x m Gram, which a flat spectrum ends with (0.5-11
    s at 2000-5000 features); forming a sparse Gram costs a fraction of that (0.1-0.3 s
    measured, 2 cores, scripts/bench_krylov.py)."""
    cost = estimated_seconds(data.m, data.m, k)
    return max(2.0 * krylov_passes(k, b), WASTE * (cost["eigh"] - cost["gram"]) / per_pass)


def _sample_pairs(data, result, k, q, rest):
    """The feature :class:`Pairs` of a Krylov run on the sample Gram by passes: its Ritz
    vectors and their stored products mapped by one pass
    (:func:`fastlae._certify.feature_pair_from_samples`), or, where the mapped basis is not
    orthonormal, the mapped span's Rayleigh-Ritz step with one more pass (both through the
    :class:`~fastlae._operator.Operator`, which hands them to the data's products)."""
    op = Operator(data)
    found = feature_pair_from_samples(op, result.vecs[:, :q], k, result.G_vecs[:, :q], rest)
    if found is not None:
        return found
    basis = orthonormal(op.to_features(result.vecs[:, :q]))
    return rayleigh_ritz(basis, op.apply_features(basis), k)


def _zero(data, request, plan, op, budget, t_gram):
    """Data whose centered values are all zero: the Gram is zero, the first k unit vectors
    are exact eigenvectors."""
    k, lam = request.k, request.lam_scaled(data.scale)
    trained = Trained(np.eye(data.d)[:, :k], 0, 0.0, 0.0 if lam is None else lam)
    zeros = np.zeros(k)
    pairs = Pairs(zeros, trained.basis, zeros.copy(), zeros.copy(),
                  "data" if op.matrix_free else "gram")
    return Solved(plan.solver, REGISTRY[plan.solver], op.matrix_free, trained, pairs, 0,
                  budget, 0.0, data.d, t_gram)


def _by_passes(data, request):
    """Data too wide for a formed Gram, or whose products cost less than forming it: block
    Krylov (:mod:`fastlae.solvers.krylov`) with one pass over the data per product, certified
    by the stored products. Its block is the products' ``BLOCK`` where they set one (sparse),
    and BLAS stays at one thread meanwhile where their passes run their own threads
    (``OWN_THREADS``). With ``data.formed`` and ``"auto"``, the run gives up (returns
    :class:`~fastlae._mixed.Declined`) once its Ritz values and its observed rate predict
    more products than :func:`_pass_budget` allows (:func:`fastlae.solvers.krylov.hopeless`)."""
    k, tol = request.k, request.tol
    floor = lam_floor(data.m, data.trace)
    lam = request.lam_scaled(data.scale)
    b = request.n_latent if request.n_latent is not None else \
        min(krylov.default_block(k, data.m, read_bound=data.read_bound),
            getattr(data.products, "BLOCK", data.m))
    budget = request.max_iter if request.max_iter is not None else krylov.DEFAULT_MAX_ITER
    hist = data.activity.history("krylov by passes")
    own = getattr(data.products, "OWN_THREADS", False)
    gave_up, t0 = [], time.perf_counter()

    def give_up(passes, worst, w):
        if passes < krylov.PATIENT_PASSES:
            return False
        allowed = _pass_budget(data, k, b, (time.perf_counter() - t0) / passes)
        if krylov.hopeless(hist, passes, worst, w, k, b, tol, min(allowed, budget) - passes):
            gave_up.append(passes)
        return bool(gave_up)

    patient = data.formed is not None and request.solver == "auto"
    with one_blas_thread(data) if own else contextlib.nullcontext():
        result = krylov.run(lambda Q: data.times(Q, tol), data.m, k, b, tol, budget,
                            request.rng, check_stop=data.check_stop,
                            report=krylov.recorder(hist), give_up=give_up if patient else None)
    if gave_up:
        return _mixed.Declined(result.passes)
    trained = krylov.trained_from(result, floor if lam is None else lam)
    q = len(result.theta)   # the top Ritz pairs (see krylov.trained_from)
    if data.gram == "samples":   # to features by one more pass, with their Gram products
        pairs = _sample_pairs(data, result, k, q, trained.rest)
    else:
        pairs = ritz_with_rest(result.vecs[:, :q], result.G_vecs[:, :q], k, trained.rest)
    pairs.res = pairs.res + data.products.rounding(data, tol)
    pairs.certificate = "data"
    return Solved("krylov", krylov, True, trained, pairs, trained.n_iter, budget, data.trace,
                  data.m)
