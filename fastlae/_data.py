"""The one data contract: what every solver and certificate reads of the data.

:class:`Data` is the base: sizes, the Gram the solvers see (the d x d feature Gram ``Xc.T @
Xc``, or for wide in-memory data the n x n sample Gram ``Xc @ Xc.T``: same non-zero
eigenvalues, components recovered as ``Xc.T u / s``), the feature means, the power-of-two
scale, the stop flag and the progress of the call. Three kinds of data stand behind it, one
constructor each:

* :class:`ArrayData`: an array in memory (:func:`fastlae._validation.check_X`); the Gram is
  formed from it (:mod:`fastlae._gram`) or applied from it block by block
  (:mod:`fastlae._operator`).
* :class:`GramData`: the Gram formed already, by one pass over row blocks
  (:mod:`fastlae._stream`, :mod:`fastlae._dask`) or by the sparse kernel
  (:mod:`fastlae._sparse`).
* :class:`PassData`: data too wide for a formed Gram: the statistics of one pass, and the Gram
  applied by further passes (:mod:`fastlae.solvers.krylov`).

The last two read the data again through a *products* object (``products.times(data, V,
tol, what)``: ``Xc.T (Xc V)`` scaled), or cannot (a one-shot stream, a partial fit's sums: None).
Which kind an input becomes is decided in one place, :func:`fastlae._inputs.open_data`.
All Gram arithmetic is float64, also for float32 input.
"""
import numpy as np

from ._kernels.passes import feature_stats
from ._progress import Activity
from ._threads import Cancelled

# Samples of the provisional center (the shift of the one-pass statistics and Gram).
HEAD = 256
# The largest tolerated cancellation n (mean - shift)^2 / C_jj of a one-pass statistic (it costs
# about log10 of it in digits), and the range of scaled magnitudes that keeps every square and
# sum of squares finite and normal.
KAPPA_MAX = 1e3
SAFE_MAX = 2.0 ** 64
SAFE_MIN = 2.0 ** -64
# Passes over X skip centering where their rounding (uncentered_rounding) is at most
# UNCENTERED * tol (the matrix-free solvers then finish with centered passes where their
# target lies below that bound, see fastlae.solvers.als_tied).
UNCENTERED = 1e-2


def block_length(other, elements):
    """Rows (or columns) per block so that a block holds about ``elements`` values, given the
    length ``other`` of the other side (between 16 and 65536)."""
    return int(max(16, min(elements // max(other, 1), 1 << 16)))


def pow2_at_least(x):
    """The power of two at or above ``x``, at least ``2**-1021`` so that its inverse is finite
    (subnormal data); 1 for 0, inf for inf, NaN for NaN: the one scale rule of every path
    (dividing by it is exact)."""
    if not x > 0.0:
        return 1.0 if x == 0.0 else float(x)
    return max(float(2.0 ** np.frexp(x)[1]), 2.0 ** -1021) if np.isfinite(x) else float(x)


def uncentered_rounding(m, n, mean, trace):
    """The relative rounding of products with the uncentered data: ``eps sqrt(1 + m n |mean|^2
    / trace)``.

    Products with ``X`` instead of ``Xc`` round relative to ``|X| |Xc|`` instead of
    ``|Xc|^2``: about ``eps sqrt(1 + n |mean|^2 / lambda_1)`` relative to the largest
    eigenvalue, and ``lambda_1 >= trace / m``. The one bound behind every pass that skips
    centering (see :meth:`Data.uncentered_error`).

    Parameters
    ----------
    m, n : int
        The Gram's size and the number of samples.
    mean : ndarray of shape (d,)
        The feature means, in the units of ``trace``.
    trace : float
        The Gram's trace; inf is returned where it is not positive.
    """
    if not trace > 0.0:
        return np.inf
    ratio = m * n * float(np.sum(mean * mean)) / trace   # no BLAS: its threads would spin
    return float(np.finfo(float).eps * np.sqrt(1.0 + ratio))


class Data:
    """What every solver and certificate reads of the data (the base of the three kinds).

    Attributes
    ----------
    n, d : int
        Samples and features of X.
    gram : {"features", "samples"}
        The Gram matrix the solvers see.
    m : int
        Its size.
    feat_axis, gram_axis : int
        The axis of the stored array its features (the Gram's rows) run along; 1 where no
        array is kept.
    mean : ndarray of shape (d,), float64, or None until a pass computed it
    scale : float
        A power of two; the solvers see ``Gram(Xc) / scale**2``, so neither overflow nor
        underflow can happen for data between about 1e-150 and 1e150. ``inv = 1 / scale``.
    C : ndarray of shape (m, m), float64, or None
        The formed Gram (scaled), where a pass formed it already (:class:`GramData`).
    by_passes : bool
        No Gram is formed: the solver applies it by ``products`` (:class:`PassData`).
    products : object or None
        ``products.times(data, V, tol, what)`` is ``Xc.T (Xc V)`` (scaled) by one pass over the
        data, ``products.rounding(data, tol)`` a bound on its error beyond float64's (relative
        to the largest eigenvalue; the certificate adds it); None where the data cannot be read
        again. Optional: ``OWN_THREADS`` (its passes run fastlae's own threads: a run of many
        holds BLAS at one thread), ``BLOCK`` (columns per product of a run by passes),
        ``EXACT_GRAM`` (the formed Gram certifies the answer, no pass over the data), and for a
        sample Gram ``to_features(data, U)`` (and by passes ``times_samples(data, U)``).
    fallback : callable or None
        See :class:`GramData`.
    formed : callable or None
        A :class:`PassData` whose Gram can be formed in memory: returns the
        :class:`GramData` of the same data (forming it), for :func:`fastlae._solve.run`
        where the solver needs a formed Gram or where the run by passes gives up.
    dtype, out_dtype : numpy.dtype
        The dtype of the values read, and of the results.
    stop : ndarray of shape (1,), int64
        Cancellation flag, set to 1 from another thread; read between blocks and updates.
    in_caller : callable
        Runs a function in the thread that may set BLAS thread limits (see
        :func:`fastlae._threads.interruptible`).
    held_threads : int
        While this call holds BLAS at one thread across several passes (see
        :func:`fastlae._threads.run_blocks`): the thread count BLAS had before; 0 otherwise.
    activity : fastlae._progress.Activity
        What the call is doing, for a progress line read from another thread.
    seconds : float
        Of the pass that built it (``PCAResult.timings["gram"]``).
    """

    gram = "features"
    feat_axis = gram_axis = 1
    by_passes = False
    read_bound = True
    C = None
    products = None
    fallback = None
    formed = None

    def __init__(self, n, d, stop=None, in_caller=None, activity=None, dtype=None,
                 out_dtype=None):
        self.n, self.d = n, d
        self.m = d
        self.mean = None
        self.scale = self.inv = 1.0
        self.total = None   # scaled trace from a statistics pass, when exact enough
        self.stop = np.zeros(1, dtype=np.int64) if stop is None else stop
        self.in_caller = (lambda fn: fn()) if in_caller is None else in_caller
        self.held_threads = 0
        self.activity = Activity() if activity is None else activity
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.out_dtype = self.dtype if out_dtype is None else np.dtype(out_dtype)
        self.seconds = 0.0

    def set_scale(self, biggest):
        """Scale by the power of two at or above ``biggest`` (1 for zero data)."""
        self.scale = pow2_at_least(biggest) if np.isfinite(biggest) else 1.0
        self.inv = 1.0 / self.scale

    def check_stop(self):
        """Raise :class:`~fastlae._threads.Cancelled` once :attr:`stop` is set."""
        if self.stop[0]:
            raise Cancelled

    def uncentered_error(self, trace):
        """:func:`uncentered_rounding` of this data (relative to the Gram of trace ``trace``),
        or inf where products must center: magnitudes outside ``[SAFE_MIN, SAFE_MAX]``
        (unscaled products could leave the normal range)."""
        if self.mean is None or not SAFE_MIN <= self.scale <= SAFE_MAX:
            return np.inf
        return uncentered_rounding(self.m, self.n, self.mean * self.inv, trace)

    def uncentered(self, trace, tol):
        """Whether passes over X may skip centering for ``tol``: the one rule, rounding at
        most ``UNCENTERED * tol``."""
        return self.uncentered_error(trace) <= UNCENTERED * tol

    def data_residuals(self, vecs, theta, tol):
        """``||Xc.T (Xc v) - theta v|| / theta_1`` (scaled) by one more pass over the data,
        or None where it cannot be read again."""
        if self.products is None:
            return None
        CV = self.products.times(self, vecs, tol, "certificate pass")
        self.check_stop()
        top = theta[0] if theta[0] > 0 else 1.0
        return np.linalg.norm(CV - vecs * theta, axis=0) / top \
            + self.products.rounding(self, tol)

    def times(self, V, tol):
        """``Xc.T (Xc V)`` (scaled) by one pass (:attr:`products`)."""
        out = self.products.times(self, V, tol, "pass")
        self.check_stop()
        return out


class ArrayData(Data):
    """An array in memory.

    Parameters
    ----------
    A : ndarray of shape (p, q), C-contiguous float32/float64
        ``X`` (``feat_axis=1``) or ``X.T`` (``feat_axis=0``), see
        :func:`fastlae._validation.check_X`.
    feat_axis : int
    stop, in_caller, activity, out_dtype
        As :class:`Data`.
    """

    def __init__(self, A, feat_axis, stop=None, in_caller=None, activity=None, out_dtype=None):
        p, q = A.shape
        n, d = (p, q) if feat_axis == 1 else (q, p)
        super().__init__(n, d, stop, in_caller, activity, A.dtype, out_dtype)
        self.A = A
        self.feat_axis = feat_axis
        self.use_gram("features" if self.n >= self.d else "samples")

    def use_gram(self, gram):
        """Make ``gram`` the solvers' Gram: ``"features"`` (``Xc.T Xc``, m = d) or
        ``"samples"`` (``Xc Xc.T``, m = n); ``m`` and ``gram_axis`` follow. The smaller one
        by default."""
        self.gram = gram
        self.m = self.d if gram == "features" else self.n
        self.gram_axis = self.feat_axis if gram == "features" else 1 - self.feat_axis

    def uncentered_error(self, trace):
        if self.A.dtype != np.float64:
            return np.inf
        return super().uncentered_error(trace)

    def stats(self):
        """The exact feature means, power-of-two scale and total variance, by one pass (idempotent).

        The total variance comes from sums of squares around the provisional center; when the
        correction to the exact mean would cancel more than ``KAPPA_MAX`` allows, or a square
        overflowed, :attr:`total` stays None and the trace takes a centered pass instead.
        """
        if self.mean is None:
            shift = self.provisional_center()
            self.mean, maxabs, sumsq = feature_stats(self.A, self.feat_axis, shift)
            self.set_scale(2.0 * maxabs)  # |a - mean| <= 2 max|a|
            with np.errstate(over="ignore", invalid="ignore"):
                dev = self.n * float(np.sum((self.mean - shift) ** 2))
                total = sumsq - dev
                if np.isfinite(sumsq) and total > 0.0 and dev <= KAPPA_MAX * total:
                    self.total = total * self.inv * self.inv
        return self

    def provisional_center(self):
        """Mean of the first (up to ``HEAD``) samples: the shift of the one-pass statistics."""
        A = self.A
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: check_finite reports it
            if self.feat_axis == 1:
                shift = A[: min(A.shape[0], HEAD)].mean(axis=0, dtype=np.float64)
            else:
                shift = A[:, : min(A.shape[1], HEAD)].mean(axis=1, dtype=np.float64)
        return np.ascontiguousarray(shift)


class GramData(Data):
    """Data whose Gram is formed already: the feature Gram, or the sample Gram of wide data.

    Parameters
    ----------
    n, d : int
    mean : ndarray of shape (d,)
    scale : float
        The power of two ``C`` is scaled by.
    C : ndarray of shape (m, m), float64, or None
        ``Xc.T @ Xc / scale**2`` (``Xc @ Xc.T / scale**2`` for ``gram="samples"``),
        symmetric; None where the caller sets it (and ``trace``) once the data are built.
    products : object or None
        See :class:`Data`; with ``gram="samples"`` it also maps sample vectors to features
        (``products.to_features(data, U)``, one pass).
    gram : {"features", "samples"}
    **kw
        ``stop``, ``in_caller``, ``activity``, ``dtype``, ``out_dtype`` of :class:`Data`.

    Attributes
    ----------
    fallback : callable or None
        Returns the :class:`PassData` of the same data, for :func:`fastlae._solve.run` to
        solve by passes where the answer from the formed Gram is not certified against the
        data (a sample Gram whose implicit centering cancelled digits).
    """

    def __init__(self, n, d, mean, scale, C, products=None, gram="features", **kw):
        super().__init__(n, d, **kw)
        self.gram = gram
        self.m = n if gram == "samples" else d
        self.mean, self.scale, self.inv = mean, scale, 1.0 / scale
        self.C, self.products = C, products
        self.trace = None if C is None else float(np.trace(C))


class PassData(Data):
    """Data too wide for a formed Gram: the statistics of one pass; the Gram is applied by
    ``products`` (one pass each).

    Parameters
    ----------
    n, d, mean, scale
        As :class:`GramData`.
    trace : float
        The scaled trace of the feature Gram (:class:`GramData` has it too).
    products : object
    read_bound : bool
        Whether a pass costs its reading whatever its width (files, dask: wide Krylov blocks
        are free), or in proportion to its columns (in memory).
    gram : {"features", "samples"}
        The Gram the solver iterates on: with ``"samples"`` (sparse data with fewer samples than
        features) its vectors have n entries, and ``products`` also multiplies by the sample
        Gram and maps to features (``times_samples``, ``to_features``).
    **kw
        As :class:`GramData`.
    """

    by_passes = True

    def __init__(self, n, d, mean, scale, trace, products, read_bound=True, gram="features",
                 **kw):
        super().__init__(n, d, **kw)
        self.gram = gram
        self.m = n if gram == "samples" else d
        self.mean, self.scale, self.inv = mean, scale, 1.0 / scale
        self.trace, self.products, self.read_bound = trace, products, read_bound

    def times(self, V, tol):
        """The solvers' Gram times ``V`` by one pass: the feature Gram, or with
        ``gram="samples"`` the sample Gram ``Xc Xc.T`` (``products.times_samples``)."""
        if self.gram == "features":
            return super().times(V, tol)
        out = self.products.times_samples(self, V)
        self.check_stop()
        return out
