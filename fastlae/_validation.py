"""Input checks for the public entry points: each runs once, in Python, before any kernel.

The kernels receive what these functions return (C-contiguous float32/float64 arrays, plain
ints and floats) and never validate anything themselves.
"""
import numbers
import operator
from dataclasses import dataclass

import numpy as np

from . import _errors as E


def plain(X):
    """``X`` as what the entry points dispatch on: a ``memoryview``, ``np.matrix`` or masked
    array without masked entries becomes a plain ndarray (a view, no copy); a masked array
    with masked entries is refused, naming the first."""
    if isinstance(X, memoryview):
        return np.asarray(X)
    if isinstance(X, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(X)
        if mask.any():
            where = np.argwhere(mask)[0]
            row, col = (int(where[0]), int(where[1])) if len(where) > 1 else (int(where[0]), 0)
            raise ValueError(E.X_MASKED.format(count=int(mask.sum()), row=row, col=col))
        return np.asarray(X.data)
    if isinstance(X, np.matrix):
        return np.asarray(X)
    return X


def as_float(arr):
    """A bool, integer or float array as the float32 or float64 the kernels read (no copy
    where it is one): integers of up to 16 bits and float16 as float32 (exact), wider
    integers and longdouble as float64."""
    if arr.dtype in (np.float32, np.float64):
        return arr
    if arr.dtype.kind in "biu":   # every integer of up to 16 bits is exact in float32
        return arr.astype(np.float32 if arr.dtype.itemsize <= 2 else np.float64)
    return arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)


def check_X(X):
    """Validate the data matrix without copying it when it can be used as it is.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Real data. bool and integers of up to 16 bits are converted to float32 (exactly, at
        half the memory of float64), wider integers to float64, float16 to float32.

    Returns
    -------
    A : ndarray, C-contiguous, float32 or float64
        ``X`` itself when it is C-contiguous float32/float64, ``X.T`` when it is F-contiguous
        (a view: no copy), otherwise a C-contiguous copy.
    feat_axis : int
        The axis of ``A`` that holds the features: 1, or 0 when ``A`` is ``X.T``.
    out_dtype : numpy.dtype
        The dtype of the results: float64 for bool and integer data, else ``A.dtype``.
    """
    if isinstance(X, np.ndarray):
        arr = X
    else:
        try:
            arr = _from_pandas(X) if _is_pandas(X) else np.asarray(X)
        except (ValueError, TypeError) as err:  # ragged lists and the like
            raise ValueError(E.X_NOT_ARRAY.format(err=err)) from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(E.X_DTYPE.format(dtype=arr.dtype))
    if arr.ndim != 2:
        raise ValueError(E.X_NDIM.format(ndim=arr.ndim))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(E.X_EMPTY.format(shape=arr.shape))
    out_dtype = np.dtype(np.float64) if kind in "biu" else None
    arr = as_float(arr)
    # NaN and inf are detected from the first data pass (see check_finite), not by a pass here
    out_dtype = arr.dtype if out_dtype is None else out_dtype
    if arr.flags.c_contiguous:
        return arr, 1, out_dtype
    if arr.flags.f_contiguous:
        return arr.T, 0, out_dtype
    return np.ascontiguousarray(arr), 1, out_dtype


def _is_pandas(X):
    return type(X).__module__.startswith("pandas") and hasattr(X, "to_numpy")


def plain_array(X):
    """``X`` as an ndarray: pandas frames by :func:`_from_pandas` (mixed column dtypes become
    float64), anything else by ``np.asarray``."""
    return _from_pandas(X) if _is_pandas(X) else np.asarray(X)


def _from_pandas(X):
    """A pandas frame or series as a real array: nullable extension dtypes (``Float64``,
    ``Int64``, ``boolean``) and mixed column dtypes convert to float64, missing values as NaN,
    which the data pass reports."""
    dtypes = getattr(X, "dtypes", None)
    kinds = [getattr(X, "dtype", None)] if dtypes is None else list(dtypes)
    if kinds and all(getattr(t, "kind", "O") in "biuf" for t in kinds):
        # one NumPy dtype for every column: as it is; mixed (float, int and bool columns) or
        # extension dtypes: float64
        same = all(isinstance(t, np.dtype) for t in kinds) and len(set(kinds)) == 1
        return X.to_numpy() if same else X.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(X)


def check_finite(A, mean):
    """Raise if X holds NaN or inf; called when the data pass produced a non-finite mean.

    The first pass over X (the one-pass Gram or the statistics pass) sums every value, so a
    finite mean proves a finite X and this full check runs only when something is wrong.
    """
    if np.all(np.isfinite(mean)):
        return
    if np.isnan(A).any():
        raise ValueError(E.X_NONFINITE.format(what="NaN"))
    if not np.isfinite(A).all():
        raise ValueError(E.X_NONFINITE.format(what="infinity"))
    raise ValueError(E.X_OVERFLOW.format(maxabs=float(np.abs(A).max())))


def check_int(value, message, low=1, high=None, type_message=None, **fmt):
    """Return ``value`` as an int in [low, high], else raise with ``message``.

    bool is rejected (it is an int subclass but never a meaningful count). A value that is not
    an integer raises ``TypeError`` with ``type_message`` when one is given; otherwise a
    non-integral number raises ``ValueError`` and anything else ``TypeError``, both with
    ``message``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if type_message is not None:
            raise TypeError(type_message.format(value=value, type=type(value).__name__))
        raise (TypeError if not isinstance(value, numbers.Number) else ValueError)(
            message.format(value=value, **fmt))
    value = operator.index(value)
    if value < low or (high is not None and value > high):
        raise ValueError(message.format(value=value, **fmt))
    return value


def check_k(k, max_k):
    """``k`` as an int in ``[1, max_k]`` (``max_k`` None: not yet known, only ``k >= 1``)."""
    return check_int(k, E.K_RANGE if max_k is not None else E.K_POSITIVE, 1, max_k,
                     type_message=E.K_TYPE, max=max_k)


def check_solver(solver, allowed):
    """``solver`` if it is one of ``allowed`` (:data:`fastlae.solvers.SOLVERS`)."""
    if not isinstance(solver, str) or solver not in allowed:
        raise ValueError(E.SOLVER.format(value=solver, allowed=list(allowed)))
    return solver


def check_precision(precision, allowed):
    """``precision`` if it is one of ``allowed`` (:data:`fastlae.solvers.PRECISIONS`)."""
    if not isinstance(precision, str) or precision not in allowed:
        raise ValueError(E.PRECISION.format(value=precision, allowed=list(allowed)))
    return precision


def _finite_number(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and np.isfinite(value))


def check_tol(tol):
    if not _finite_number(tol) or tol <= 0:
        raise ValueError(E.TOL.format(value=tol))
    return float(tol)


def check_max_iter(max_iter):
    if max_iter is None:
        return None
    return check_int(max_iter, E.MAX_ITER, 1)


def check_lam(lam):
    if lam is None:
        return None
    if not _finite_number(lam) or lam < 0:
        raise ValueError(E.LAM.format(value=lam))
    return float(lam)


def check_n_latent(n_latent, k, max_k):
    if n_latent is None:
        return None
    return check_int(n_latent, E.N_LATENT, k, max_k, k=k, max=max_k)


def check_n_threads(n_threads):
    if n_threads is None:
        return None
    return check_int(n_threads, E.N_THREADS, 1)


def check_random_state(random_state):
    """Return a ``numpy.random.Generator``; never touches the global NumPy state (a
    ``RandomState`` passed in advances by one draw, the seed of the Generator)."""
    if random_state is None:
        return np.random.default_rng(0)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
            and random_state >= 0):
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.RandomState):   # scikit-learn's convention
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(E.RANDOM_STATE.format(value=random_state))


@dataclass(frozen=True)
class Request:
    """A validated :func:`fastlae.pca` call: what to compute and how.

    Attributes
    ----------
    k : int
    solver : str
    lam : float or None
        The user's penalty, in data units (None: the solver's default).
    tol : float
    max_iter : int or None
    n_latent : int or None
    rng : numpy.random.Generator
    precision : {"auto", "double", "mixed"}
        Of the Gram pass (``"auto"`` becomes ``"double"`` for files and memory maps).
    single_reduction : bool
        Whether ``eigh`` may reduce a large Gram in float32 and refine it in float64
        (:mod:`fastlae.solvers.eigh`): the user's precision is not ``"double"``.
    """

    k: int
    solver: str = "auto"
    lam: float = None
    tol: float = 1e-10
    max_iter: int = None
    n_latent: int = None
    rng: object = None
    precision: str = "double"
    single_reduction: bool = False

    @property
    def wtol(self):
        """The weights' stationarity target: with an explicit ``lam`` the user studies the
        trained autoencoder, so it is trained to a stationary point too (relative weight
        update at most ``tol``), not only until the components are certified."""
        return self.tol if self.lam is not None else 0.0

    def lam_scaled(self, scale):
        """The user's penalty in the units of the scaled Gram, or None."""
        return None if self.lam is None else self.lam / scale / scale   # scale^2 may overflow


def check_request(shape, reread_costly, k, solver="auto", lam=None, tol=1e-10,
                  max_iter=None, n_latent=None, random_state=None, precision="auto"):
    """The :class:`Request` of a :func:`fastlae.pca` call on an input of ``shape`` (None:
    known after its pass); ``reread_costly``: a file whose passes after the first may read
    the disk (:class:`fastlae._inputs.Input`), where ``"auto"`` precision stays double (a
    refinement pass would read the file again)."""
    from .solvers import PRECISIONS, SOLVERS

    top = min(shape) if shape is not None else None
    k = check_k(k, top)
    precision = check_precision(precision, PRECISIONS)
    return Request(k, check_solver(solver, SOLVERS), check_lam(lam), check_tol(tol),
                   check_max_iter(max_iter), check_n_latent(n_latent, k, top),
                   check_random_state(random_state),
                   "double" if precision == "auto" and reread_costly else precision,
                   precision != "double")
