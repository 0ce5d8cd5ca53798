"""``fastlae.pca`` and its result: validate, plan, train the autoencoder, certify."""
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from . import _errors as E
from . import _blas, _dask, _mixed, _sparse, _stream
from . import _validation as V
from ._blas import blas_threads
from ._certify import certify, component_errors, ritz_with_rest
from ._data import Data
from ._gram import form_gram
from ._operator import Operator
from ._progress import Progress
from ._kernels.monitor import GAVE_UP, new_history
from ._threads import blas_limit, interruptible
from .solvers import PRECISIONS, REGISTRY, SOLVERS, Plan, Trained, choose, default_latent, \
    estimated_seconds, exact_plan, krylov, single_saves

# Calls modelled to take less than this run in the caller's thread (see pca).
INLINE_SECONDS = 0.01
LOG = logging.getLogger("fastlae")


@dataclass
class PCAResult:
    """Top-k principal components of X and how they were obtained.

    Attributes
    ----------
    components : ndarray of shape (k, n_features)
        Orthonormal rows, in descending order of variance; the sign of each row makes its
        largest-magnitude entry positive (scikit-learn's ``svd_flip(u_based_decision=False)``).
    explained_variance : ndarray of shape (k,)
        Eigenvalues of the sample covariance ``Xc.T @ Xc / (n_samples - 1)``, descending.
    explained_variance_ratio : ndarray of shape (k,)
        ``explained_variance`` over the total variance (0 where the total is 0).
    singular_values : ndarray of shape (k,)
        Singular values of the centered X.
    mean : ndarray of shape (n_features,)
    total_variance : float
        Trace of the sample covariance (the sum of all its eigenvalues).
    solver : str
        The solver that ran (``"auto"`` is resolved).
    matrix_free : bool
        True when the solver iterated on X directly instead of a formed Gram matrix.
    n_iter : int
        Updates of the autoencoder (passes over X when ``matrix_free``). For ``"auto"`` that
        switched to ``"eigh"`` (see :func:`fastlae.solvers.choose`), the updates it spent
        before switching; 0 for ``"eigh"`` chosen up front.
    converged : bool
        Whether every residual is at most ``tol``.
    residuals : ndarray of shape (k,)
        ``||C v_i - theta_i v_i|| / theta_1`` with ``C = Xc.T @ Xc``: a certificate. Each
        ``theta_i`` is within ``residuals[i] * theta_1`` of an eigenvalue of C. With
        ``certificate == "corrected"`` each includes an estimate of the float32 Gram's error
        outside the refined span (see ``certificate``).
    component_errors : ndarray of shape (k,)
        A bound on the sine of the angle between each component and its exact eigenvector:
        ``residuals[i] * theta_1 / delta_i``, with ``delta_i`` the distance from ``theta_i``
        to the nearest other Ritz value on the trained span (Davis-Kahan), capped at 1. Near
        1 for a component that is not determined (an eigenvalue repeated within the top k,
        or beyond the numerical rank).
    lam : float
        The regularization used, in units of the eigenvalues of ``Xc.T @ Xc``.
    encoder, decoder : ndarray of shape (r, m) and (m, r), or None
        The trained weights on the Gram matrix the solver used (m = n_features when
        n_samples >= n_features, else m = n_samples), for data divided by ``scale``. None for
        ``"eigh"``.
    scale : float
        Power of two the data were divided by before training.
    gram : str
        ``"features"`` or ``"samples"``: which Gram matrix the solver trained on.
    certificate : str
        What the residuals were measured against: ``"data"`` (products with the centered X,
        the matrix-free path, the mixed-precision path when its float64 pass certified the
        answer, and sources read block by block that can be read again), ``"gram"`` (the
        formed Gram matrix; its own rounding, about ``n eps ||X||^2``, is not seen) or
        ``"corrected"`` (mixed precision: the float32 Gram corrected on the refined span by
        a float64 pass over X, plus an estimate of the float32 error outside that span; see
        :mod:`fastlae._mixed`). A one-shot stream can only certify its accumulated Gram: pass
        a callable returning the blocks for a certificate against the data.
    precision : str
        ``"double"`` (the Gram formed in float64) or ``"mixed"`` (formed in float32 and
        refined by float64 passes over X; ``encoder`` and ``decoder`` are then the weights
        trained on the float32 Gram).
    timings : dict
        Seconds spent in ``"gram"`` (data passes that form the Gram or its statistics),
        ``"solve"``, ``"refine"`` (mixed precision: the float64 passes and corrections) and
        ``"certify"``.
    """

    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    singular_values: np.ndarray
    mean: np.ndarray
    total_variance: float
    solver: str
    matrix_free: bool
    n_iter: int
    converged: bool
    residuals: np.ndarray
    component_errors: np.ndarray
    lam: float
    encoder: object = None
    decoder: object = None
    scale: float = 1.0
    gram: str = "features"
    certificate: str = "gram"
    precision: str = "double"
    timings: dict = field(default_factory=dict)

    def __repr__(self):
        k, d = self.components.shape
        ratio = np.asarray(self.explained_variance_ratio, dtype=np.float64)
        shown = " ".join(f"{v:.3g}" for v in ratio[:5]) + (" ..." if k > 5 else "")
        return (f"PCAResult(k={k}, n_features={d}, solver={self.solver!r}"
                f"{', matrix-free' if self.matrix_free else ''}"
                f"{', mixed precision' if self.precision == 'mixed' else ''}"
                f", n_iter={self.n_iter}, "
                f"converged={self.converged}, largest residual {self.residuals.max():.1e},\n"
                f"          explained_variance_ratio=[{shown}] (sum {ratio.sum():.4g}))")


class _Zero:
    """Stands in for the Operator of data whose centered values are all zero (trace 0): the
    feature Gram is zero, so :func:`~fastlae._certify.certify` works in feature space."""

    def __init__(self, data, matrix_free):
        self.data = SimpleNamespace(gram="features")
        self.m = data.d
        self.matrix_free = matrix_free

    def apply_features(self, V):
        return np.zeros_like(V)


def pca(X, k, *, solver="auto", lam=None, tol=1e-10, max_iter=None, n_latent=None,
        random_state=None, n_threads=None, precision="auto", progress=False, verbose=False):
    """Top-k principal components of X by training a regularized linear autoencoder.

    Follows Kunin et al., "Loss Landscapes of Regularized Linear Autoencoders" (ICML 2019):
    with L2 penalty ``lam`` on encoder and decoder, every critical point is symmetric and the
    decoder's left singular vectors are the principal directions. The Gram matrix of the
    centered data is formed once (or, for square-ish X and small k, applied from X block by
    block), the autoencoder is trained on it, and the result is certified by a Rayleigh-Ritz
    step with residuals.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features), or row blocks of it
        Rows are points; never modified. In memory: a NumPy array, anything ``np.asarray``
        takes, a pandas frame. Integers of up to 16 bits and bool become float32, wider
        integers float64. Read block by block, in memory of one block plus O(n_features^2)
        (:mod:`fastlae._stream`): a path to a ``.npy`` file, an ``np.memmap`` (or
        ``np.load(..., mmap_mode="r")``), any iterable of 2-D row blocks (a generator, a
        list of arrays; read once), or a callable returning such an iterable (called once
        per pass, so that the certificate can read the data again). A ``scipy.sparse`` matrix
        or array (CSR, CSC, COO, ...) is centered implicitly, never densified
        (:mod:`fastlae._sparse`). A ``dask.array`` has its Gram formed
        chunk by chunk on the workers and merged on the cluster (:mod:`fastlae._dask`).
    k : int
        Number of components, ``1 <= k <= min(n_samples, n_features)``.
    solver : {"auto", "gd", "oja", "als", "als_tied", "krylov", "eigh"}, default="auto"
        ``"gd"``: the paper's Algorithm 1 (untied gradient descent); ``"oja"``: tied weights
        (regularized Oja); ``"als"``: untied alternating exact solves; ``"als_tied"``: tied
        exact solves (a regularized subspace iteration); ``"krylov"``: block Lanczos, the
        tied update keeping every iterate (:mod:`fastlae.solvers.krylov`; ``n_latent`` is
        its block width); ``"eigh"``: LAPACK on the Gram.
        ``"auto"`` follows :func:`fastlae.solvers.choose`.
    lam : float or None, default=None
        L2 penalty, in units of the eigenvalues ``s_i^2`` of ``Xc.T @ Xc``. Directions with
        ``s_i^2 <= lam`` collapse (Landscape Theorem): an explicit ``lam`` that collapses any of
        the k components gives a :class:`~fastlae.CollapseWarning`. None lets the solver
        choose: ``"als"``, ``"als_tied"``: ``m * eps * trace(Xc.T @ Xc)``, which collapses only
        directions of numerically zero variance; ``"gd"``, ``"oja"``: half a lower bound on
        ``s_k^2`` from a few power steps (a vanishing penalty leaves gradient descent crawling
        along the loss's near-symmetry ``W2 -> W2 G^-1``, ``W1 -> G W1``). ``r.lam`` reports it.
    tol : float, default=1e-10
        Stop when every relative residual ``||C v - theta v|| / theta_1`` is at most ``tol``.
        The attainable floor is about 1e-15. With an explicit ``lam`` the solvers also train
        the weights to a stationary point (relative update at most ``tol``), so ``encoder`` and
        ``decoder`` are the critical point the theorems describe; their singular values
        converge like ``|1 - 2 lam / s_i^2|`` per update for ``"als_tied"``, slowly when ``lam``
        is tiny.
    max_iter : int or None
        Update limit; None uses the solver's default (gd, oja: 100000; als: 2000;
        als_tied: 1000).
    n_latent : int or None
        Latent width r, ``k <= r <= min(n_samples, n_features)``. None: ``k + max(10, k)``
        capped at ``min(n_samples, n_features)`` (``k`` for ``"eigh"``).
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Seeds the initial weights. None uses a fixed seed, so results are reproducible.
    n_threads : int or None
        BLAS threads for this call (restored afterwards); None leaves them as set.
        The Gram pass runs one thread per BLAS thread, each with a single-threaded BLAS (see
        :mod:`fastlae._blas`).
    precision : {"auto", "double", "mixed"}, default="auto"
        ``"double"``: the Gram is formed in float64 (also for float32 input). ``"mixed"``:
        formed in float32 (SSYRK: about twice the float64 rate), the solver trains on it, and
        one or two float64 passes over X refine the answer to the same accuracy and
        certificate tolerance (:mod:`fastlae._mixed`). Where the float32 Gram cannot resolve
        the answer (seen by a probe of the first rows: a k-th eigenvalue below about 1e-4 of
        the largest; or after the pass: no gap after the k-th that it resolves) the float64
        Gram is formed instead (``r.precision`` says which ran). Applies to the formed Gram
        of in-memory data, the feature Gram and (wide data) the sample Gram; the matrix-free
        path, streams and sparse data run in double. ``"auto"``: mixed where the solver is
        ``"auto"``, ``"als_tied"`` or ``"eigh"``, ``lam`` is None, the cost model
        (:func:`fastlae.solvers.single_saves`) predicts a gain and, for the feature Gram, the
        probe sees the spectrum still fall after the k-th value (noise-like data stay in
        double: there the refinement costs what float32 saves; on the small sample Gram of
        wide data it costs little).

    progress : bool, default=False
        Show a progress line on stderr (the Gram pass's blocks, the solver's updates and
        residual) while the call runs, where stderr is an interactive terminal.
    verbose : bool, default=False
        Print what the call did (the plan, the path taken, updates, residuals, timings) to
        stderr. The same lines always go to the ``logging`` logger ``"fastlae"`` at level
        INFO.

    Returns
    -------
    PCAResult

    Warns
    -----
    ConvergenceWarning
        If ``max_iter`` ran out before the certificate reached ``tol``.
    CollapseWarning
        If an explicit ``lam`` collapses some of the k components.
    RankWarning
        If X has fewer than k directions of variance above the rounding level of its Gram
        matrix (the rest of the components are then an orthonormal completion).

    Examples
    --------
    >>> import numpy as np
    >>> import fastlae
    >>> X = fastlae.datasets.decaying(2000, 50, random_state=0)
    >>> r = fastlae.pca(X, 3)
    >>> r.components.shape, r.converged
    ((3, 50), True)
    >>> bool(r.residuals.max() <= 1e-10), bool(r.component_errors.max() < 1e-6)
    (True, True)
    >>> Xc = X - X.mean(axis=0)
    >>> w = np.linalg.eigvalsh(Xc.T @ Xc)[::-1][:3] / (len(X) - 1)
    >>> np.allclose(r.explained_variance, w, rtol=1e-12)
    True
    """
    X = V.plain(X)
    if precision == "auto" and (isinstance(X, (str, bytes, os.PathLike))
                                or isinstance(X, np.memmap)):
        precision = "double"   # read in place: two passes over the file, no refinement pass
    distributed, sparse = _dask.is_dask(X), _sparse.is_sparse(X)
    source = None if sparse or distributed else _stream.source_of(X)
    if distributed or sparse:
        A, out_dtype = (_dask.check_dask if distributed else _sparse.check_sparse)(X)
        n, d = A.shape
    elif source is None:
        A, feat_axis, out_dtype = V.check_X(_stream.memmap_of_path(X))
        n, d = A.shape if feat_axis == 1 else A.shape[::-1]
    if source is None:
        k = V.check_k(k, min(n, d))
        n_latent = V.check_n_latent(n_latent, k, min(n, d))
    else:   # unless a file header gave the shape, the ranges are checked after the pass
        top = min(source.shape) if source.shape is not None else None
        k = V.check_k(k, top)
        if n_latent is not None:
            V.check_n_latent(n_latent, k, top)
    solver = V.check_solver(solver, SOLVERS)
    lam_user = V.check_lam(lam)
    tol = V.check_tol(tol)
    max_iter = V.check_max_iter(max_iter)
    rng = V.check_random_state(random_state)
    n_threads = V.check_n_threads(n_threads)
    precision = V.check_precision(precision, PRECISIONS)

    box = {}

    def work(stop, in_caller):
        if distributed or sparse:
            kind = (_dask if distributed else _sparse).data_class(A)
            box["data"] = data = kind(A, stop, out_dtype)
            k_, latent, dtype = k, n_latent, out_dtype
        elif source is None:
            box["data"] = data = Data(A, feat_axis, stop, in_caller)
            k_, latent, dtype = k, n_latent, out_dtype
        else:
            data = _stream.accumulate(source, stop, box, in_caller)
            k_ = V.check_k(k, min(data.n, data.d))
            latent = V.check_n_latent(n_latent, k_, min(data.n, data.d))
            dtype = data.out_dtype
        return _pca(data, k_, solver, lam_user, tol, max_iter, latent, rng, dtype, precision)

    shape = f"{n} x {d}" if source is None else f"{source.name}"
    line = Progress(f"fastlae.pca {shape}, k={k}:", enabled=None if progress else False)

    def tick():
        if "data" in box:
            line(*_activity(box["data"]))

    with blas_limit(n_threads):
        try:
            short = source is None and not (sparse or distributed) \
                and estimated_seconds(n, d, k)["eigh"] < INLINE_SECONDS
            if short and solver in ("auto", "eigh"):
                # a call this short runs in the caller's thread: starting a worker (so that
                # Ctrl-C can interrupt a long call) would cost more than the call; "auto"
                # bounds its autoencoder by the cost of the exact path, a named solver with
                # its max_iter does not, so it keeps the worker
                result, warned = work(np.zeros(1, dtype=np.int64), None)
            else:
                result, warned = interruptible(work, tick)
        finally:
            line.close()
    _report(result, box["data"], k, verbose)
    for message, category in warned:
        warnings.warn(message, category, stacklevel=2)
    return result


def pca_of_sum(acc, k, *, solver="auto", lam=None, tol=1e-10, max_iter=None,
               random_state=None, n_threads=None):
    """:func:`pca` of the rows summed in ``acc`` (a :class:`fastlae._stream.GramSum`), for
    :meth:`fastlae.PCA.partial_fit`; certified against the accumulated Gram."""
    k = V.check_k(k, min(acc.n, acc.d))
    solver = V.check_solver(solver, SOLVERS)
    lam_user, tol = V.check_lam(lam), V.check_tol(tol)
    max_iter = V.check_max_iter(max_iter)
    rng = V.check_random_state(random_state)
    dtype = acc.dtype

    def work(stop, in_caller):
        data = _stream.StreamData(acc, _stream.Source(), stop, dtype)
        return _pca(data, k, solver, lam_user, tol, max_iter, None, rng, dtype, "double")

    with blas_limit(V.check_n_threads(n_threads)):
        result, warned = interruptible(work)
    for message, category in warned:
        warnings.warn(message, category, stacklevel=3)
    return result


def _activity(data):
    """``(done, total, text)`` of what the call is doing, for its progress line."""
    what, done, total = data.activity
    hist = data.hist
    if hist is not None and what not in ("Gram pass", "refinement pass", "starting"):
        count = int(hist[0, 0])
        if count:
            it, logres = hist[count]
            return 0, 0, f"{what}: {int(it)} updates, residual {np.exp(logres):.1e}"
        return 0, 0, f"{what}: starting"
    return done, total, what


_AGAINST = {"data": "the data", "gram": "the formed Gram",
            "corrected": "the corrected float32 Gram"}


def _report(r, data, k, verbose):
    """What the call did, to the ``fastlae`` logger (and stderr with ``verbose``)."""
    if not (verbose or LOG.isEnabledFor(logging.INFO)):
        return
    t = r.timings
    dtype = data.dtype if isinstance(data, _stream.StreamData) else data.A.dtype
    lines = [f"X {data.n} x {data.d} {dtype}, k={k}: the {r.gram} Gram "
             f"({'applied from X' if r.matrix_free else 'formed'}"
             f"{' in float32, refined in float64' if r.precision == 'mixed' else ''}), "
             f"solver {r.solver}, "
             f"{r.n_iter} updates",
             f"gram {t.get('gram', 0):.3f} s, solve {t.get('solve', 0):.3f} s, "
             f"{'refine %.3f s, ' % t['refine'] if t.get('refine') else ''}"
             f"certify {t.get('certify', 0):.3f} s",
             f"{'converged' if r.converged else 'NOT converged'}: largest residual "
             f"{r.residuals.max():.1e} (against {_AGAINST[r.certificate]}), largest component "
             f"error {r.component_errors.max():.1e}"]
    for text in lines:
        LOG.info(text)
        if verbose:
            print(f"fastlae: {text}", file=sys.stderr)


@dataclass
class _Solved:
    """What a solve hands to :func:`_pca`'s result: the solver that ran, its trained weights,
    the certified Ritz pairs and the seconds of its parts."""

    name: str
    module: object
    matrix_free: bool
    trained: Trained
    theta: np.ndarray
    vecs: np.ndarray
    res: np.ndarray
    ritz: np.ndarray
    n_iter: int
    budget: int
    trace: float
    m: int
    certificate: str
    t_gram: float = 0.0
    t_cert: float = 0.0
    t_refine: float = 0.0
    precision: str = "double"


def _solve_by_passes(data, k, lam_user, tol, max_iter, n_latent, rng):
    """Data too wide for a formed Gram: block Krylov (:mod:`fastlae.solvers.krylov`) with one
    pass over the source per product, certified by the stored products."""
    lam_floor = data.m * np.finfo(float).eps * data.trace
    lam = lam_user / data.scale ** 2 if lam_user is not None else lam_floor
    b = n_latent if n_latent is not None else \
        krylov.default_block(k, data.m, read_bound=data.read_bound)
    budget = max_iter if max_iter is not None else krylov.DEFAULT_MAX_ITER
    data.hist, data.activity = new_history(), ["krylov by passes", 0, 0]
    result = krylov.run(lambda Q: data.times(Q, tol), data.m, k, b, tol, budget, rng,
                        check_stop=data.check_stop, report=krylov.recorder(data.hist))
    trained = krylov.trained_from(result, lam)
    q = len(result.theta)   # the top Ritz pairs (see krylov.trained_from)
    theta, vecs, res, ritz = ritz_with_rest(result.vecs[:, :q], result.G_vecs[:, :q], k,
                                            trained.rest)
    return _Solved("krylov", krylov, True, trained, theta, vecs, res, ritz, trained.n_iter,
                   budget, data.trace, data.m, "data")


def _mixed_wanted(precision, data, plan, solver_name, lam_user, k, threads):
    """Whether this call forms its Gram in float32 (see :func:`pca`'s ``precision``)."""
    if precision == "double" or plan.matrix_free or not isinstance(data, Data):
        return False
    if precision == "mixed":
        return True
    return solver_name in ("auto", "als_tied", "eigh") and lam_user is None \
        and single_saves(max(data.n, data.d), data.m, k, threads)


def _train(op, data, plan, name, module, k, r, lam_scaled, lam_floor, tol, wtol, budget, rng,
           handover_width, in_gram=False):
    """Train ``module`` on ``op`` and certify (continuing with a stricter internal tolerance
    while the exact certificate disagrees with the solver's own check); ``"auto"`` may hand
    over to ``eigh`` (forming the Gram if it was not), which then computes
    ``handover_width`` (+1) eigenpairs. ``in_gram``: certify in the solvers' own Gram (see
    :func:`fastlae._certify.certify`). Returns ``(name, module, op, trained, (theta, vecs,
    res, ritz), n_iter, t_gram, t_cert)``."""
    check_tol, init, lam_run = tol, None, lam_scaled
    n_iter, t_gram, t_cert = 0, 0.0, 0.0
    while True:
        trained = module.solve(op, k, r, lam_run, lam_floor, check_tol, wtol,
                               budget - n_iter, rng, init=init, patience=plan.patience)
        data.check_stop()
        n_iter += trained.n_iter
        if trained.status == GAVE_UP:   # "auto": the exact path is cheaper from here
            if op.matrix_free:
                t_again = time.perf_counter()
                op = Operator(data, form_gram(data)[0])
                t_gram += time.perf_counter() - t_again
            # a Krylov run that gave up met a spectrum where more products would not pay
            nxt = Plan("eigh") if name == "krylov" else exact_plan(data.n, data.d, k)
            if nxt.solver == "krylov":   # from the span reached so far
                name, module = "krylov", krylov
                trained = krylov.solve(op, k, default_latent(name, k, op.m), lam_run,
                                       lam_floor, tol, wtol, nxt.budget, rng,
                                       init=(trained.W1, trained.basis),
                                       patience=nxt.patience)
                n_iter += trained.n_iter
                nxt = nxt if trained.status == GAVE_UP else None
            if nxt is not None:   # LAPACK's full answer on the formed Gram
                name, module = "eigh", REGISTRY["eigh"]
                trained = module.solve(op, k, handover_width, lam_run, lam_floor, tol, wtol,
                                       1, rng)
        t_cert -= time.perf_counter()
        pairs = certify(op, trained, k, in_gram)
        t_cert += time.perf_counter()
        if not module.ITERATIVE or pairs[2].max() <= tol or n_iter >= budget \
                or check_tol <= 1e-16:
            return name, module, op, trained, pairs, n_iter, t_gram, t_cert
        check_tol *= 1e-2
        init, lam_run = (trained.W1, trained.W2), trained.lam


def _release(data):
    """End the single-threaded BLAS of the mixed path (idempotent)."""
    if data.held_threads:
        data.in_caller(_blas.restore)
        data.held_threads = 0


def _solve(data, k, solver_name, lam_user, tol, max_iter, n_latent, rng, precision="double"):
    """Plan, form the Gram (or not), train, certify: the in-memory and formed-Gram paths.

    With mixed precision the Gram is formed in float32, the solver trains on it to
    ``_mixed.SOLVE_TOL`` and :func:`fastlae._mixed.refine` finishes in float64; where that
    does not apply the float64 Gram is formed and the call goes on as in double precision.
    BLAS stays at one thread from the probe (:func:`fastlae._mixed.probe`) to the end of the
    refinement: the probe and the solve on the small Gram cost little either way, and OpenBLAS
    threads left spinning by a threaded call would take a core from the next pass's workers
    (measured: 0.085 s instead of 0.05 s for the refinement pass at 100000 x 500).
    """
    try:
        return _solve_with(data, k, solver_name, lam_user, tol, max_iter, n_latent, rng,
                           precision)
    finally:
        _release(data)


def _solve_with(data, k, solver_name, lam_user, tol, max_iter, n_latent, rng, precision):
    t0 = time.perf_counter()
    streamed = isinstance(data, _stream.StreamData)   # its Gram is formed already
    plan = choose(data.n, data.d, k, solver_name, formed=True) if streamed else \
        choose(data.n, data.d, k, solver_name)
    name, module = plan.solver, REGISTRY[plan.solver]
    threads = blas_threads()
    mixed = not streamed and _mixed_wanted(precision, data, plan, solver_name, lam_user, k,
                                           threads)
    if mixed and threads > 1 and data.in_caller(_blas.limit_to_one):
        data.held_threads = threads   # from the probe on: no threaded call leaves spinners
    if mixed:   # the spectrum of the first rows: is float32 in reach, and (auto) does it pay?
        seen = _mixed.probe(data, k, np.random.default_rng(0))
        mixed = _mixed.resolvable(seen, k) and (precision == "mixed" or _mixed.falls(seen, k)
                                                 or data.gram == "samples")
    C_single = _mixed.form_gram_single(data) if mixed else None
    if C_single is not None:
        C, trace = C_single, float(np.trace(C_single))
        op = Operator(data, C)
    else:
        _release(data)
        if plan.matrix_free:
            op = Operator(data)
            trace = op.trace()
        else:
            C, trace = (data.C, float(np.trace(data.C))) if streamed else form_gram(data)
            op = Operator(data, C)
    if not streamed:
        op.use_uncentered(tol)   # passes over X skip centering where exact enough
        V.check_finite(data.A, data.mean)
    t_gram = time.perf_counter() - t0

    lam_floor = data.m * np.finfo(float).eps * trace
    lam_scaled = (lam_user / data.scale ** 2) if lam_user is not None else None
    r = n_latent if n_latent is not None and module.ITERATIVE else \
        default_latent(name, k, data.m)
    budget = plan.budget if plan.budget is not None else \
        max_iter if max_iter is not None else module.DEFAULT_MAX_ITER

    # With an explicit lam the user studies the trained autoencoder: train it to a stationary
    # point too (relative weight update <= tol), not only until the components are certified.
    wtol = tol if lam_user is not None else 0.0
    if trace == 0.0:  # every sample equals the mean: any orthonormal basis is exact
        trained = Trained(np.eye(data.d)[:, :k], 0, 0.0,
                          0.0 if lam_scaled is None else lam_scaled)
        theta, vecs, res, ritz = certify(_Zero(data, op.matrix_free), trained, k)
        return _Solved(name, module, op.matrix_free, trained, theta, vecs, res, ritz, 0,
                       budget, trace, op.m, "data" if op.matrix_free else "gram", t_gram)
    n_iter, t_refine = 0, 0.0
    if C_single is not None:
        # the float32 Gram resolves the answer to about 1e-7: train to that, then refine; the
        # refinement needs a span wider than k (eigh: as wide as the autoencoder's)
        r_single = r if module.ITERATIVE else default_latent("als_tied", k, data.m)
        name, module, op, trained, _, n_iter, t_more, t_cert = _train(
            op, data, plan, name, module, k, r_single, lam_scaled, lam_floor,
            max(tol, _mixed.SOLVE_TOL), wtol, budget, rng, r_single, in_gram=True)
        t_refine = -time.perf_counter()
        refined = _mixed.refine(data, op.C, trained.basis, k, tol)
        t_refine += time.perf_counter()
        pairs = None if refined is None else \
            (refined.theta, refined.vecs, refined.res, refined.ritz, refined.certificate)
        if pairs is not None and data.gram == "samples":
            # the feature vectors and their residuals: one more pass (threaded BLAS)
            _release(data)
            t_cert -= time.perf_counter()
            pairs = _mixed.feature_pairs(op, refined, k)
            t_cert += time.perf_counter()
        if pairs is not None:
            theta, vecs, res, ritz, certificate = pairs
            return _Solved(name, module, False, trained, theta, vecs, res, ritz, n_iter,
                           budget, trace, op.m, certificate, t_gram + t_more, t_cert,
                           t_refine, "mixed")
        # the float32 Gram does not resolve the answer: form it in float64 and start over
        _release(data)
        t_again = time.perf_counter()
        C, trace = form_gram(data)
        op = Operator(data, C)
        op.use_uncentered(tol)
        t_gram += t_more + time.perf_counter() - t_again
        name, module = plan.solver, REGISTRY[plan.solver]
        lam_floor = data.m * np.finfo(float).eps * trace
    name, module, op, trained, pairs, more, t_more, t_cert_more = _train(
        op, data, plan, name, module, k, r, lam_scaled, lam_floor, tol, wtol,
        budget - n_iter if plan.budget is not None else budget, rng, k)
    n_iter += more
    theta, vecs, res, ritz = pairs
    t_gram += t_more
    t_cert = t_cert_more
    certificate = "data" if op.matrix_free else "gram"
    if streamed:   # a source that can be read again certifies against the data
        t_again = time.perf_counter()
        again = data.data_residuals(vecs, theta, tol)
        t_cert += time.perf_counter() - t_again
        if again is not None:
            res, certificate = again, "data"
    return _Solved(name, module, op.matrix_free, trained, theta, vecs, res, ritz, n_iter,
                   budget, trace, op.m, certificate, t_gram, t_cert, t_refine)


def _pca(data, k, solver_name, lam_user, tol, max_iter, n_latent, rng, out_dtype, precision):
    """The body of :func:`pca` on validated input; returns ``(PCAResult, warnings)``."""
    warned = []
    t0 = time.perf_counter()
    if getattr(data, "by_passes", False):   # too wide for a formed Gram
        run = _solve_by_passes(data, k, lam_user, tol, max_iter, n_latent, rng)
    else:
        run = _solve(data, k, solver_name, lam_user, tol, max_iter, n_latent, rng, precision)
    seconds = time.perf_counter() - t0
    name, module, trained, n_iter, budget = run.name, run.module, run.trained, run.n_iter, \
        run.budget
    theta, vecs, res, ritz = run.theta, run.vecs, run.res, run.ritz
    # the Gram is in units of scale^2; a quantity beyond float64's range in data units (the
    # variances of data near 1e-200 or 1e200) comes out as 0 or inf, every other one exact
    with np.errstate(over="ignore", under="ignore"):
        s2 = np.float64(data.scale) ** 2
    trace = run.trace
    lam_floor = data.m * np.finfo(float).eps * trace

    converged = bool(res.max() <= tol)
    if module.ITERATIVE:
        lost = int(np.sum(theta <= trained.lam))
        if lam_user is not None and lost:
            warned.append((E.COLLAPSED.format(lam=lam_user, lost=lost, k=k, first=k - lost + 1),
                           E.CollapseWarning))
        if not converged and n_iter >= budget:
            warned.append((E.NOT_CONVERGED.format(solver=name, max_iter=budget, res=res.max(),
                                                  tol=tol), E.ConvergenceWarning))
    # whatever the path, an uncertified answer warns (max_iter's text where that ended it)
    if not converged and not any(c is E.ConvergenceWarning for _, c in warned):
        warned.append((E.NOT_CERTIFIED.format(solver=name, res=res.max(), tol=tol,
                                              certificate=run.certificate),
                       E.ConvergenceWarning))
    # numerical rank: eigenvalues at or below the default penalty m eps trace(C) are rounding
    # noise of the Gram (and collapse in the autoencoder, Landscape Theorem)
    rank = int(np.sum(theta > lam_floor))
    if rank < k:
        text = E.RANK_DEFICIENT if rank else E.RANK_ZERO
        warned.append((text.format(rank=rank, k=k, first=rank + 1, floor=lam_floor * s2),
                       E.RankWarning))
        theta = np.where(theta > lam_floor, theta, 0.0)   # within their error: zero variance
    errors = component_errors(res, ritz, ritz.shape[0] == run.m)

    components = vecs.T
    # svd_flip(u_based_decision=False): largest-magnitude entry of each component positive
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(k), idx])
    signs[signs == 0] = 1.0
    components = components * signs[:, None]

    n = data.n
    with np.errstate(over="ignore", under="ignore"):
        explained_variance = theta / max(n - 1, 1) * s2
        total_variance = float(trace / max(n - 1, 1) * s2)
        lam_out = float(trained.lam * s2)
    ratio = theta / trace if trace > 0 else np.zeros(k)   # scale-free: in the Gram's units
    singular_values = np.sqrt(theta) * data.scale
    dtype = out_dtype
    result = PCAResult(
        components=np.ascontiguousarray(components, dtype=dtype),
        explained_variance=explained_variance.astype(dtype),
        explained_variance_ratio=ratio.astype(dtype),
        singular_values=singular_values.astype(dtype),
        mean=data.mean.astype(dtype),
        total_variance=total_variance,
        solver=name,
        matrix_free=run.matrix_free,
        n_iter=n_iter,
        converged=converged,
        residuals=res,
        component_errors=errors,
        lam=lam_out,
        encoder=trained.W1,
        decoder=trained.W2,
        scale=data.scale,
        gram=data.gram,
        certificate=run.certificate,
        precision=run.precision,
        timings={"gram": run.t_gram + getattr(data, "seconds", 0.0),
                 "solve": seconds - run.t_gram - run.t_cert - run.t_refine,
                 "refine": run.t_refine, "certify": run.t_cert},
    )
    return result, warned
