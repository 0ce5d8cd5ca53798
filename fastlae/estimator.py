"""``fastlae.PCA``: a scikit-learn drop-in for ``sklearn.decomposition.PCA`` on top of :func:`fastlae.pca`.

Needs scikit-learn (``pip install 'fastlae[sklearn]'``); ``import fastlae`` does not import it.
The probabilistic-PCA methods (``get_covariance``, ``get_precision``, ``score_samples``,
``score``) follow scikit-learn's ``_BasePCA`` formulas (BSD-3-Clause) so that both libraries give
the same numbers.
"""
import numbers

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.extmath import fast_logdet
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _errors as E
from .api import pca


class PCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis by a regularized linear autoencoder.

    Same interface and, to about 1e-7 relative, the same numbers as
    ``sklearn.decomposition.PCA(svd_solver="full")``, computed by :func:`fastlae.pca`: the Gram
    matrix of the centered data is formed once (or applied block by block) and a linear
    autoencoder with L2 penalty ``lam`` on both factors is trained on it. By the Landscape
    Theorem of Kunin et al. (ICML 2019) the decoder's left singular vectors are the principal
    directions; the result carries a residual certificate (``residuals_``).

    The probabilistic side (``score``, ``score_samples``, ``get_covariance``,
    ``get_precision``, ``noise_variance_``) is Tipping and Bishop's probabilistic PCA. Theorem 3.1
    of the paper is the bridge: the critical points of the sum-regularized LAE with
    ``lam = sigma^2`` coincide with those of pPCA with noise variance ``sigma^2``, whose maximum
    likelihood noise variance is the mean of the discarded eigenvalues (``noise_variance_``).

    Parameters
    ----------
    n_components : int, float or None, default=None
        int: number of components, in ``[1, min(n_samples, n_features)]``. float in (0, 1):
        the smallest number of components whose explained variance ratio exceeds it (computed,
        like scikit-learn's ``"full"`` solver, from all ``min(n_samples, n_features)``
        eigenvalues). None: all ``min(n_samples, n_features)``.
    solver : {"auto", "gd", "oja", "als", "als_tied", "eigh"}, default="auto"
        See :func:`fastlae.pca`.
    lam : float or None, default=None
        L2 penalty of the autoencoder, see :func:`fastlae.pca`.
    whiten : bool, default=False
        Scale the projections to unit variance.
    tol : float, default=1e-10
        Residual tolerance of the certificate.
    max_iter : int or None, default=None
        Update limit (None: the solver's default).
    random_state : None, int or numpy.random.Generator, default=None
        Seeds the initial weights (None: a fixed seed).
    n_threads : int or None, default=None
        Threads for this fit (restored afterwards).

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
    n_iter_ : int
        Autoencoder updates (0 for the LAPACK reference, or when the random initial latent
        already spans the data).
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

    def __init__(self, n_components=None, *, solver="auto", lam=None, whiten=False, tol=1e-10,
                 max_iter=None, random_state=None, n_threads=None):
        self.n_components = n_components
        self.solver = solver
        self.lam = lam
        self.whiten = whiten
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _k(self, n, d):
        """Number of components to compute, and the fraction to cut at (or None)."""
        nc, top = self.n_components, min(n, d)
        if nc is None:
            return top, None
        if isinstance(nc, numbers.Real) and not isinstance(nc, numbers.Integral):
            if not 0.0 < nc < 1.0:
                raise ValueError(E.N_COMPONENTS.format(value=nc, max=top))
            return top, float(nc)
        if isinstance(nc, (bool, np.bool_)) or not isinstance(nc, numbers.Integral):
            raise TypeError(E.N_COMPONENTS.format(value=nc, max=top))
        if not 1 <= nc <= top:
            raise ValueError(E.N_COMPONENTS.format(value=nc, max=top))
        return int(nc), None

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
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        n, d = X.shape
        k, fraction = self._k(n, d)
        r = pca(X, k, solver=self.solver, lam=self.lam, tol=self.tol, max_iter=self.max_iter,
                random_state=self.random_state, n_threads=self.n_threads)
        keep = k
        if fraction is not None:
            ratio = np.cumsum(np.asarray(r.explained_variance_ratio, dtype=np.float64))
            keep = int(np.searchsorted(ratio, fraction, side="right")) + 1
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
        self.n_iter_ = r.n_iter
        self.converged_ = r.converged
        self.residuals_ = r.residuals[:keep]
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
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
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
        if self.n_components_ == 0:  # pragma: no cover - n_components_ >= 1 here
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
