"""``fastlae.pca``: the front door. Validate the call, tell the input's kind, run the solve in
a worker thread (:mod:`fastlae._solve`), report and warn."""
import functools
import warnings

import numpy as np

from . import _validation as V
from ._inputs import describe
from ._progress import Activity, Progress
from ._result import PCAResult, report
from ._solve import run
from ._threads import blas_limit, interruptible
from .solvers import estimated_seconds

__all__ = ["PCAResult", "pca"]

# Calls modelled to take less than this run in the caller's thread (see pca).
INLINE_SECONDS = 0.01


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
        integers float64. A path to a ``.npy`` file or an ``np.memmap`` (or
        ``np.load(..., mmap_mode="r")``) is read in place as an array where it holds float
        values and fits in a quarter of the memory (a memory map, whose file must not be
        truncated during the call; :func:`fastlae._stream.in_place`). Read block by block,
        in memory of a few blocks plus O(n_features^2) (:mod:`fastlae._stream`): larger files
        and maps, any iterable of 2-D row blocks (a generator, a list of arrays; read once),
        or a callable returning such an iterable (called once per pass, so that the
        certificate can read the data again). A ``scipy.sparse`` matrix or array (CSR, CSC,
        COO, ...) is centered implicitly, never densified (:mod:`fastlae._sparse`). A
        ``dask.array`` has its Gram formed chunk by chunk on the workers and merged on the
        cluster (:mod:`fastlae._dask`). The running sums of :meth:`fastlae.PCA.partial_fit`
        (a :class:`fastlae._stream.GramSum`) are solved as they are, certified against their
        Gram.
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
        of in-memory data (and files read in place), the feature Gram and (wide data) the
        sample Gram; the matrix-free path, streams, files read by blocks and sparse data run
        in double. ``"auto"``: mixed where the solver is ``"auto"``, ``"als_tied"`` or
        ``"eigh"``, ``lam`` is None, the data are not a file whose further passes may read
        the disk (beyond memory, or wide and read in place), the cost model
        (:func:`fastlae.solvers.single_saves`) predicts a gain and, for the feature Gram, the
        probe sees the spectrum still fall after the k-th value (noise-like data stay in
        double: there the refinement costs what float32 saves; on the small sample Gram of
        wide data it costs little). Unless ``"double"``, ``"eigh"`` on a Gram of at least
        2000 rows (``fastlae.solvers.eigh.SINGLE_MIN``; the user's solver or ``"auto"``'s
        hand-over) reduces it to tridiagonal form in float32 and refines the top pairs in
        float64 to the same certificate, falling back to LAPACK's float64 eigh where the
        refinement falls short (:mod:`fastlae.solvers.eigh`).

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
    return _pca(X, k, n_threads, progress, verbose, solver=solver, lam=lam, tol=tol,
                max_iter=max_iter, n_latent=n_latent, random_state=random_state,
                precision=precision)


def _pca(X, k, n_threads=None, progress=False, verbose=False, plan=None, **options):
    """:func:`pca` with its options (``**options``: the keywords of
    :func:`fastlae._validation.check_request`);
    ``plan`` (a :class:`fastlae.solvers.Plan`) overrides the ``"auto"`` rule: the seam for
    tests and benchmarks that need a given path."""
    opened = describe(X)
    request = V.check_request(opened.shape, opened.reread_costly, k, **options)
    n_threads = V.check_n_threads(n_threads)
    activity = Activity()
    work = functools.partial(run, opened, request, plan, activity)
    line = Progress(f"fastlae.pca {opened.name}, k={request.k}:",
                    enabled=None if progress else False)
    with blas_limit(n_threads):
        try:
            # a call this short runs in the caller's thread: starting a worker (so that
            # Ctrl-C can interrupt a long call) would cost more than the call; "auto" bounds
            # its autoencoder by the cost of the exact path, a named solver with its
            # max_iter does not, so it keeps the worker
            if opened.kind == "array" and request.solver in ("auto", "eigh") and \
                    estimated_seconds(*opened.shape, request.k)["eigh"] < INLINE_SECONDS:
                out = work(np.zeros(1, dtype=np.int64), None)
            else:
                out = interruptible(work, lambda: line(*activity.state()))
        finally:
            line.close()
    report(out.result, out.data, request.k, verbose)
    for message, category in out.warned:
        warnings.warn(message, category, stacklevel=3)
    return out.result
