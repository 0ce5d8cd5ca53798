"""The validated data matrix: its orientation, which Gram the solvers see, its statistics.

:class:`Data` holds the array :func:`fastlae._validation.check_X` returned and decides which
Gram matrix the solvers see: the d x d feature Gram ``Xc.T @ Xc`` when ``n_samples >=
n_features``, else the n x n sample Gram ``Xc @ Xc.T`` (same non-zero eigenvalues;
components are recovered as ``Xc.T u / s``). All Gram arithmetic is float64, also for
float32 input. Forming the Gram is :mod:`fastlae._gram`; applying it, :mod:`fastlae._operator`.
"""
import numpy as np

from ._kernels.passes import feature_stats
from ._threads import Cancelled

# Samples of the provisional center (the shift of the one-pass statistics and Gram).
HEAD = 256
# The largest tolerated cancellation n (mean - shift)^2 / C_jj of a one-pass statistic (it costs
# about log10 of it in digits), and the range of scaled magnitudes that keeps every square and
# sum of squares finite and normal.
KAPPA_MAX = 1e3
SAFE_MAX = 2.0 ** 64
SAFE_MIN = 2.0 ** -64


def block_length(other, elements):
    """Rows (or columns) per block so that a block holds about ``elements`` values, given the
    length ``other`` of the other side (between 16 and 65536)."""
    return int(max(16, min(elements // max(other, 1), 1 << 16)))


class Data:
    """Centered, scaled view of the data.

    Parameters
    ----------
    A : ndarray of shape (p, q), C-contiguous float32/float64
        ``X`` (``feat_axis=1``) or ``X.T`` (``feat_axis=0``), see
        :func:`fastlae._validation.check_X`.
    feat_axis : int
    stop : ndarray of shape (1,), int64, or None
        Cancellation flag, set to 1 from another thread; read between blocks and updates.
    in_caller : callable or None
        Runs a function in the thread that may set BLAS thread limits (see
        :func:`fastlae._threads.interruptible`).

    Attributes
    ----------
    n, d : int
        Samples and features of X.
    gram : {"features", "samples"}
        The Gram matrix the solvers see.
    m : int
        Its size.
    gram_axis : int
        The axis of ``A`` its rows run along (see :mod:`fastlae._kernels`).
    mean : ndarray of shape (d,), float64, or None until a pass computed it
    scale : float
        A power of two; the solvers see ``Gram(Xc) / scale**2``, so neither overflow nor
        underflow can happen for data between about 1e-150 and 1e150. ``inv = 1 / scale``.
    """

    def __init__(self, A, feat_axis, stop=None, in_caller=None):
        self.A = A
        self.feat_axis = feat_axis
        p, q = A.shape
        self.n, self.d = (p, q) if feat_axis == 1 else (q, p)
        self.gram = "features" if self.n >= self.d else "samples"
        self.m = self.d if self.gram == "features" else self.n
        self.gram_axis = feat_axis if self.gram == "features" else 1 - feat_axis
        self.mean = None
        self.stop = np.zeros(1, dtype=np.int64) if stop is None else stop
        self.in_caller = (lambda fn: fn()) if in_caller is None else in_caller
        # While this call holds BLAS at one thread across several passes (see
        # fastlae._gram.run_blocks): the thread count BLAS had before; 0 otherwise
        self.held_threads = 0
        self.scale = self.inv = 1.0
        self.total = None   # scaled trace from the statistics pass, when exact enough
        # what the call is doing, for a progress line read from another thread: a phase name
        # and its counts (blocks of a pass), or the solver's history (see Operator.history)
        self.activity = ["starting", 0, 0]
        self.hist = None

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

    def set_scale(self, biggest):
        """Scale by the power of two at or above ``biggest`` (1 for zero data)."""
        self.scale = 1.0 if biggest == 0.0 else float(2.0 ** np.frexp(biggest)[1])
        self.inv = 1.0 / self.scale

    def check_stop(self):
        """Raise :class:`~fastlae._threads.Cancelled` once :attr:`stop` is set."""
        if self.stop[0]:
            raise Cancelled
