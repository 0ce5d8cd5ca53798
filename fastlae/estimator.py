"""``fastlae.PCA``: a scikit-learn drop-in for ``sklearn.decomposition.PCA`` on top of :func:`fastlae.pca`.

Needs scikit-learn (``pip install scikit-learn``); ``import fastlae`` does not import it.
The probabilistic-PCA methods (``get_covariance``, ``get_precision``, ``score_samples``,
``score``) follow scikit-learn's ``_BasePCA`` formulas (BSD-3-Clause) so that both libraries give
the same numbers.
"""
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.extmath import fast_logdet
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _errors as E
from .api import pca

SVD_SOLVERS = ("auto", "full", "covariance_eigh", "arpack", "randomized")
NORMALIZERS = ("auto", "QR", "LU", "none")
DEFAULT_TOL = 1e-10
SPARSE = ["csr", "csc"]   # scipy.sparse input: fit and transform center it implicitly


def _is_int(value, low):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis by a regularized linear autoencoder.

    Same interface and, to about 1e-7 relative, the same numbers as
    ``sklearn.decomposition.PCA(svd_solver="full")``, computed by :func:`fastlae.pca`: the Gram
    matrix of the centered data is formed once (or applied block by block) and a linear
    autoencoder with L2 penalty ``lam`` on both factors is trained on it. By the Landscape
    Theorem of Kunin et al. (ICML 2019) the decoder's left singular vectors are the principal
    directions; the result carries a residual certificate (``residuals_``).

    ``fit``, ``partial_fit`` (exact incremental fitting on batches of rows) and ``transform``
    accept dense arrays, pandas frames and ``scipy.sparse`` CSR/CSC matrices (centered
    implicitly, never densified).

    The probabilistic side (``score``, ``score_samples``, ``get_covariance``,
    ``get_precision``, ``noise_variance_``) is Tipping and Bishop's probabilistic PCA. Theorem 3.1
    of the paper is the bridge: the critical points of the sum-regularized LAE with
    ``lam = sigma^2`` coincide with those of pPCA with noise variance ``sigma^2``, whose maximum
    likelihood noise variance is the mean of the discarded eigenvalues (``noise_variance_``).

    Parameters
    ----------
    n_components : int, float, "mle" or None, default=None
        int: number of components, in ``[0, min(n_samples, n_features)]`` (``[1, ...]`` with
        ``svd_solver`` "arpack" or "randomized", as in scikit-learn; 0 fits only the mean and
        the noise variance). float in (0, 1): the smallest number of components whose
        explained variance ratio exceeds it (computed, like scikit-learn's ``"full"`` solver,
        from all ``min(n_samples, n_features)`` eigenvalues). ``"mle"``: Minka's
        maximum-likelihood dimension (needs ``n_samples >= n_features``; all eigenvalues are
        computed). None: all ``min(n_samples, n_features)``, or one less with ``svd_solver=
        "arpack"`` (scikit-learn's rule).
    copy : bool, default=True
        Accepted for scikit-learn compatibility: fastlae never modifies X, so no copy is made
        either way.
    whiten : bool, default=False
        Scale the projections to unit variance.
    svd_solver : {"auto", "full", "covariance_eigh", "arpack", "randomized"}, default="auto"
        scikit-learn's solver choice. Every value gives the exact answer here: ``"full"`` and
        ``"covariance_eigh"`` take LAPACK on the Gram matrix (``solver="eigh"``), the others
        fastlae's ``"auto"``. Used only while ``solver`` is ``"auto"``.
    tol : float, default=0.0
        Residual tolerance of the certificate (see :func:`fastlae.pca`); 0.0, scikit-learn's
        default ("as precise as the solver can"), means fastlae's default, 1e-10.
    iterated_power : int >= 0 or "auto", default="auto"
    n_oversamples : int >= 1, default=10
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        scikit-learn's randomized-SVD settings: validated as scikit-learn does and otherwise
        without effect, since fastlae's answer is exact.
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState, default=None
        Seeds the initial weights (None: a fixed seed).
    solver : {"auto", "gd", "oja", "als", "als_tied", "eigh"}, default="auto"
        fastlae's solver, see :func:`fastlae.pca`.
    lam : float or None, default=None
        L2 penalty of the autoencoder, see :func:`fastlae.pca`.
    max_iter : int or None, default=None
        Update limit (None: the solver's default).
    n_threads : int or None, default=None
        Threads for this fit (restored afterwards).
    precision : {"auto", "double", "mixed"}, default="auto"
        The Gram in float64, or in float32 refined to float64 accuracy, see
        :func:`fastlae.pca` (``fit``; ``partial_fit`` sums its batches in float64).

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features_in_)
    explained_variance_ : ndarray of shape (n_components_,)
    explained_variance_ratio_ : ndarray of shape (n_components_,)
    singular_values_ : ndarray of shape (n_components_,)
    mean_ : ndarray of shape (n_features_in_,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names (a pandas DataFrame).
    noise_variance_ : float
        Mean of the ``min(n_samples, n_features) - n_components_`` discarded eigenvalues.
    solver_ : str
        The solver that ran.
    precision_ : str
        ``"double"`` or ``"mixed"``: how the Gram was formed (see ``precision``).
    n_iter_ : int
        Iterations over the data, at least 1 (as for scikit-learn's solvers that may finish
        without iterating): the solver's updates or products (``fastlae.PCAResult.n_iter``),
        or 1 where none ran (the LAPACK reference, a random initial latent that already spans
        the data, ``n_components=0``): the one pass that formed the Gram.
    converged_ : bool
    residuals_ : ndarray of shape (n_components_,)
        ``||C v - theta v|| / theta_1`` for each component (``C = Xc.T @ Xc``).

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import PCA
    >>> from fastlae.datasets import decaying
    >>> X = decaying(500, 20, random_state=0)
    >>> pca = PCA(n_components=0.9).fit(X)
    >>> pca.n_components_, pca.converged_
    (5, True)
    >>> pca.transform(X).shape
    (500, 5)
    """

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto",
                 tol=0.0, iterated_power="auto", n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, solver="auto", lam=None,
                 max_iter=None, n_threads=None, precision="auto"):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.solver = solver
        self.lam = lam
        self.max_iter = max_iter
        self.n_threads = n_threads
        self.precision = precision

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags

    def _k(self, n, d):
        """Number of components to compute, and how to cut: None, a float fraction or "mle".

        The range of an integer follows scikit-learn's for the same ``svd_solver``: 0 is a
        valid number of components except for "arpack" and "randomized", and None means
        ``min(n_samples, n_features) - 1`` for "arpack" (scikit-learn's ARPACK cannot compute
        them all; fastlae can, so ``n_components=min(n_samples, n_features)`` is accepted).
        """
        nc, top = self.n_components, min(n, d)
        low = 1 if self.svd_solver in ("arpack", "randomized") else 0
        invalid = E.N_COMPONENTS.format(value=nc, low=low, max=top, svd_solver=self.svd_solver)
        if nc is None:
            return (top - 1 if self.svd_solver == "arpack" and top > 1 else top), None
        if isinstance(nc, str):
            if nc != "mle":   # the only string accepted
                raise TypeError(invalid)
            if n < d:
                raise ValueError(E.MLE_WIDE.format(n=n, d=d))
            return top, "mle"
        if isinstance(nc, numbers.Real) and not isinstance(nc, numbers.Integral):
            if not 0.0 < nc < 1.0:
                raise ValueError(invalid)
            return top, float(nc)
        if isinstance(nc, (bool, np.bool_)) or not isinstance(nc, numbers.Integral):
            raise TypeError(invalid)
        if not low <= nc <= top:
            raise ValueError(invalid)
        return int(nc), None

    def _check_sklearn_params(self):
        """Validate scikit-learn's own parameters; returns ``(solver, tol)`` for fastlae."""
        if self.svd_solver not in SVD_SOLVERS:
            raise ValueError(E.SK_CHOICE.format(name="svd_solver", value=self.svd_solver,
                                                allowed=list(SVD_SOLVERS)))
        if self.power_iteration_normalizer not in NORMALIZERS:
            raise ValueError(E.SK_CHOICE.format(name="power_iteration_normalizer",
                                                value=self.power_iteration_normalizer,
                                                allowed=list(NORMALIZERS)))
        if not (self.iterated_power == "auto" or _is_int(self.iterated_power, 0)):
            raise ValueError(E.SK_ITERATED_POWER.format(value=self.iterated_power))
        if not _is_int(self.n_oversamples, 1):
            raise ValueError(E.SK_OVERSAMPLES.format(value=self.n_oversamples))
        if not isinstance(self.copy, (bool, np.bool_)):
            raise TypeError(E.SK_BOOL.format(name="copy", value=self.copy))
        if not isinstance(self.tol, numbers.Real) or isinstance(self.tol, bool) \
                or not self.tol >= 0:
            raise ValueError(E.SK_TOL.format(value=self.tol))
        solver = self.solver
        if solver == "auto" and self.svd_solver in ("full", "covariance_eigh"):
            solver = "eigh"
        return solver, (float(self.tol) if self.tol > 0 else DEFAULT_TOL)

    def fit(self, X, y=None):
        """Fit the model to X.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        return self._atomically(self._fit, X)

    def __sklearn_is_fitted__(self):
        """Fitted once components exist (``partial_fit`` may hold sums of too few rows)."""
        return "components_" in self.__dict__

    def _atomically(self, fit, X):
        """``fit(X)``; a failure (an error, an interrupt) leaves the estimator exactly as it
        was before the call."""
        state = dict(self.__dict__)
        try:
            return fit(X)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit(self, X):
        solver, tol = self._check_sklearn_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1,
                          accept_sparse=SPARSE)
        self.__dict__.pop("_gram_sum", None)   # fit starts afresh; partial_fit sums from here
        n, d = X.shape
        k, cut = self._k(n, d)
        if k == 0:
            return self._fit_none(X)
        return self._store(lambda k, solver: pca(
            X, k, solver=solver, lam=self.lam, tol=tol, max_iter=self.max_iter,
            random_state=self.random_state, n_threads=self.n_threads,
            precision=self.precision), n, d, k, cut, solver)

    def partial_fit(self, X, y=None):
        """Add the rows of X to those seen so far and fit the model to all of them, exactly.

        scikit-learn's incremental convention (``IncrementalPCA``): call ``partial_fit`` on
        successive batches; after each call the fitted attributes are those ``fit`` would give
        on all rows so far. Unlike ``IncrementalPCA``'s, the answer is exact: the batches'
        counts, means and centered Gram matrices are merged exactly (memory O(n_features^2),
        see :mod:`fastlae._stream`) and each call solves on the merged Gram, certified against
        it. ``fit`` discards the sums. A batch may have any number of rows: while fewer
        rows than an integer ``n_components`` have been seen, the batch is only added to the
        sums and the estimator stays unfitted (``transform`` raises ``NotFittedError``); the
        components are fitted by the first call that completes enough rows. Sparse batches
        (CSR, CSC) are summed in dense slices of rows. A call that fails (a batch refused,
        an interrupt) leaves the estimator and its sums as they were.

        Parameters
        ----------
        X : array_like or sparse matrix of shape (n_batch, n_features)
        y : ignored

        Returns
        -------
        self
        """
        return self._atomically(self._partial_fit, X)

    def _partial_fit(self, X):
        """:meth:`partial_fit` on a copy of the sums, kept only when the fit succeeds."""
        import copy

        from ._stream import CHUNK_ELEMENTS, GramSum

        solver, tol = self._check_sklearn_params()
        first = "_gram_sum" not in self.__dict__
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1,
                          reset=first, accept_sparse=SPARSE)
        if first:
            acc = GramSum(X.shape[1])
            acc.dtype = X.dtype
        else:
            acc = copy.deepcopy(self._gram_sum)
        if X.dtype != acc.dtype:   # a float64 batch after float32 ones: the sums are float64
            acc.dtype = np.dtype(np.float64)
        step = max(1, CHUNK_ELEMENTS // X.shape[1]) if sp.issparse(X) else X.shape[0]
        for r0 in range(0, X.shape[0], step):
            rows = X[r0:r0 + step]
            acc.add(np.ascontiguousarray(rows.toarray() if sp.issparse(rows) else rows))
        if not acc.finite():   # the sums overflowed: refused, and undone by _atomically
            raise ValueError(E.X_OVERFLOW.format(maxabs=float(abs(X).max())))
        n, d = acc.n, acc.d
        nc = self.n_components
        if isinstance(nc, numbers.Integral) and not isinstance(nc, (bool, np.bool_)) \
                and n < nc <= d:   # too few rows yet: keep the sums, fit later
            self._gram_sum = acc
            return self
        k, cut = self._k(n, d)
        if k == 0:
            raise ValueError(E.PARTIAL_ZERO)
        self._store(lambda k, solver: pca(
            acc, k, solver=solver, lam=self.lam, tol=tol, max_iter=self.max_iter,
            random_state=self.random_state, n_threads=self.n_threads), n, d, k, cut, solver)
        self._gram_sum = acc
        return self

    def _store(self, run, n, d, k, cut, solver):
        """Run ``run(k, solver)`` (a :class:`fastlae.PCAResult`) and set the fitted attributes."""
        if cut == "mle":
            solver = "eigh"   # Minka's criterion needs the whole spectrum
        with warnings.catch_warnings():
            if cut is not None or self.n_components is None:
                # the whole spectrum is computed to choose from: zero-variance components of
                # rank-deficient data are expected there, as in scikit-learn
                warnings.simplefilter("ignore", E.RankWarning)
            r = run(k, solver)
        keep = k
        if cut == "mle":
            keep = max(1, _infer_dimension(np.asarray(r.explained_variance, dtype=np.float64),
                                           n))
        elif cut is not None:
            ratio = np.cumsum(np.asarray(r.explained_variance_ratio, dtype=np.float64))
            keep = int(np.searchsorted(ratio, cut, side="right")) + 1
            keep = min(keep, k)
        top = min(n, d)
        total = r.total_variance
        self.n_samples_ = n
        self.n_components_ = keep
        self.components_ = r.components[:keep]
        self.explained_variance_ = r.explained_variance[:keep]
        self.explained_variance_ratio_ = r.explained_variance_ratio[:keep]
        self.singular_values_ = r.singular_values[:keep]
        self.mean_ = r.mean
        rest = total - float(np.sum(r.explained_variance[:keep], dtype=np.float64))
        self.noise_variance_ = float(max(rest, 0.0) / (top - keep)) if keep < top else 0.0
        self.solver_ = r.solver
        self.precision_ = r.precision
        self.n_iter_ = max(1, r.n_iter)   # a direct solve: the pass that formed the Gram
        self.converged_ = r.converged
        self.residuals_ = r.residuals[:keep]
        return self

    def _fit_none(self, X):
        """``n_components=0``: the mean, and all the variance as noise (scikit-learn's
        probabilistic model with no components)."""
        n, d = X.shape
        if sp.issparse(X):
            self.mean_ = np.asarray(X.mean(axis=0)).ravel().astype(X.dtype)
            m = self.mean_.astype(np.float64)
            total = (float(X.multiply(X).sum(dtype=np.float64)) - n * float(m @ m)) / max(n - 1, 1)
        else:
            self.mean_ = X.mean(axis=0)
            Xc = X - self.mean_
            total = float(np.einsum("ij,ij->", Xc, Xc, dtype=np.float64)) / max(n - 1, 1)
        self.n_samples_ = n
        self.n_components_ = 0
        self.components_ = np.empty((0, d), dtype=X.dtype)
        for name in ("explained_variance_", "explained_variance_ratio_", "singular_values_",
                     "residuals_"):
            setattr(self, name, np.empty(0, dtype=X.dtype))
        self.noise_variance_ = total / min(n, d)
        self.solver_, self.n_iter_, self.converged_ = "none", 1, True   # the statistics pass
        return self

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def transform(self, X):
        """Project X on the principal components.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False,
                          accept_sparse=SPARSE)
        if sp.issparse(X):   # centered implicitly: (X - mean) W = X W - mean W
            Xt = np.asarray(X @ self.components_.T) - self.mean_ @ self.components_.T
        else:
            Xt = (X - self.mean_) @ self.components_.T
        if self.whiten:
            scale = np.sqrt(self.explained_variance_)
            scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
            Xt /= scale
        return Xt

    def fit_transform(self, X, y=None):
        """Fit the model and return the projections of X."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """Map projections back to the feature space.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_components_)

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        X = np.asarray(X)
        if self.whiten:
            return X @ (np.sqrt(self.explained_variance_)[:, None] * self.components_) + self.mean_
        return X @ self.components_ + self.mean_

    def get_covariance(self):
        """Model covariance ``components_.T @ diag(ev - noise) @ components_ + noise * I``.

        Returns
        -------
        ndarray of shape (n_features_in_, n_features_in_)
        """
        check_is_fitted(self)
        components, diff = self._pppca_factors()
        cov = (components.T * diff) @ components
        cov.flat[:: len(cov) + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Inverse of :meth:`get_covariance`, by the matrix inversion lemma.

        Returns
        -------
        ndarray of shape (n_features_in_, n_features_in_)
        """
        check_is_fitted(self)
        n_features = self.components_.shape[1]
        if self.n_components_ == 0:
            return np.eye(n_features) / self.noise_variance_
        if np.isclose(self.noise_variance_, 0.0, atol=0.0):
            return linalg.inv(self.get_covariance())
        components, diff = self._pppca_factors()
        precision = components @ components.T / self.noise_variance_
        with np.errstate(divide="ignore"):
            precision.flat[:: len(precision) + 1] += 1.0 / diff
        precision = components.T @ linalg.inv(precision) @ components
        precision /= -(self.noise_variance_ ** 2)
        precision.flat[:: len(precision) + 1] += 1.0 / self.noise_variance_
        return precision

    def _pppca_factors(self):
        components = self.components_
        ev = self.explained_variance_
        if self.whiten:
            components = components * np.sqrt(ev[:, None])
        diff = np.where(ev > self.noise_variance_, ev - self.noise_variance_, 0.0)
        return components, diff

    def score_samples(self, X):
        """Log-likelihood of each sample under the probabilistic PCA model.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Xr = X - self.mean_
        precision = self.get_precision()
        log_like = -0.5 * (Xr * (Xr @ precision)).sum(axis=1)
        log_like -= 0.5 * (X.shape[1] * np.log(2.0 * np.pi) - fast_logdet(precision))
        return log_like

    def score(self, X, y=None):
        """Average log-likelihood of the samples under the probabilistic PCA model."""
        return float(np.mean(self.score_samples(X)))


def _assess_dimension(spectrum, rank, n_samples):
    """Log-likelihood of a rank-``rank`` model of data with eigenvalues ``spectrum`` (Minka,
    "Automatic choice of dimensionality for PCA", NIPS 2000), as scikit-learn computes it
    (BSD-3-Clause), so that ``n_components="mle"`` picks the same dimension."""
    from math import lgamma, log, pi

    d = spectrum.shape[0]
    if not 1 <= rank < d:
        raise ValueError(E.MLE_RANK.format(rank=rank, d=d))
    eps = 1e-15
    if spectrum[rank - 1] < eps:
        return -np.inf
    pu = -rank * log(2.0)
    for i in range(1, rank + 1):
        pu += lgamma((d - i + 1) / 2.0) - log(pi) * (d - i + 1) / 2.0
    pl = -np.sum(np.log(spectrum[:rank])) * n_samples / 2.0
    v = max(eps, np.sum(spectrum[rank:]) / (d - rank))
    pv = -log(v) * n_samples * (d - rank) / 2.0
    m = d * rank - rank * (rank + 1.0) / 2.0
    pp = log(2.0 * pi) * (m + rank) / 2.0
    tail = spectrum.copy()
    tail[rank:] = v
    pa = 0.0
    for i in range(rank):
        j = np.arange(i + 1, d)
        pa += np.sum(np.log((spectrum[i] - spectrum[j]) * (1.0 / tail[j] - 1.0 / tail[i]))
                     + log(n_samples))
    return pu + pl + pv + pp - pa / 2.0 - rank * log(n_samples) / 2.0


def _infer_dimension(spectrum, n_samples):
    """The rank in ``[1, len(spectrum) - 1]`` of largest :func:`_assess_dimension`."""
    ll = np.full(spectrum.shape[0], -np.inf)
    for rank in range(1, spectrum.shape[0]):
        ll[rank] = _assess_dimension(spectrum, rank, n_samples)
    return int(np.argmax(ll))
