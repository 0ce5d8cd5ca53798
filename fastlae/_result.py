"""The result of :func:`fastlae.pca`: :class:`PCAResult`, assembled from a path's
:class:`~fastlae._train.Solved` in data units, with the warnings it calls for."""
import logging
import sys
from dataclasses import dataclass, field

import numpy as np

from . import _errors as E
from ._certify import component_errors
from ._train import lam_floor

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
        :mod:`fastlae._mixed`; also a sparse Gram whose implicit centering cancelled digits,
        corrected by sparse products). Sparse residuals include a bound on the rounding of
        the implicit centering. A one-shot stream can only certify its accumulated Gram: pass
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

    def transform(self, X):
        """Project X onto the components: ``(X - mean) @ components.T``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, k), in the components' dtype
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.components.shape[1]:
            raise ValueError(E.TRANSFORM_SHAPE.format(shape=X.shape,
                                                      d=self.components.shape[1]))
        dtype = np.result_type(self.components.dtype, np.float32)
        return (np.asarray(X, dtype=dtype) - self.mean) @ self.components.T

    def inverse_transform(self, Z):
        """Map scores back to the data space: ``Z @ components + mean`` (the projection of
        X onto the components' affine span, for ``Z = transform(X)``).

        Parameters
        ----------
        Z : array_like of shape (n_samples, k)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.components.shape[0]:
            raise ValueError(E.TRANSFORM_SHAPE.format(shape=Z.shape,
                                                      d=self.components.shape[0]))
        return Z @ self.components + self.mean

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


def assemble(data, solved, request, seconds):
    """The :class:`PCAResult` of ``solved`` on ``data`` (``seconds``: the whole solve) and the
    warnings it calls for, as ``(result, [(message, category), ...])``."""
    k, tol, p = request.k, request.tol, solved.pairs
    warned = _warnings(solved, request)
    # the Gram is in units of scale^2, applied as two factors (scale^2 itself overflows from
    # scale 2^512 on, where the variance may still be finite); a quantity beyond float64's
    # range in data units (the variances of data near 1e-200 or 1e200) comes out as 0 or
    # inf, every other one exact
    scale = np.float64(data.scale)

    def unscaled(v):
        with np.errstate(over="ignore", under="ignore"):
            return v * scale * scale

    trace, floor = solved.trace, lam_floor(data.m, solved.trace)
    # numerical rank: eigenvalues at or below the default penalty m eps trace(C) are rounding
    # noise of the Gram (and collapse in the autoencoder, Landscape Theorem)
    theta = p.theta
    rank = int(np.sum(theta > floor))
    if rank < k:
        text = E.RANK_DEFICIENT if rank else E.RANK_ZERO
        warned.append((text.format(rank=rank, k=k, first=rank + 1, floor=unscaled(floor)),
                       E.RankWarning))
        theta = np.where(theta > floor, theta, 0.0)   # within their error: zero variance
    errors = component_errors(p.res, p.ritz, p.ritz.shape[0] == solved.m)
    n, dtype = data.n, data.out_dtype
    explained_variance = unscaled(theta / max(n - 1, 1))
    total_variance = float(unscaled(trace / max(n - 1, 1)))
    lam_out = float(unscaled(solved.trained.lam))
    ratio = theta / trace if trace > 0 else np.zeros(k)   # scale-free: in the Gram's units
    result = PCAResult(
        components=np.ascontiguousarray(_flipped(p.vecs.T), dtype=dtype),
        explained_variance=explained_variance.astype(dtype),
        explained_variance_ratio=ratio.astype(dtype),
        singular_values=(np.sqrt(theta) * data.scale).astype(dtype),
        mean=data.mean.astype(dtype),
        total_variance=total_variance,
        solver=solved.name,
        matrix_free=solved.matrix_free,
        n_iter=solved.n_iter,
        converged=bool(p.res.max() <= tol),
        residuals=p.res,
        component_errors=errors,
        lam=lam_out,
        encoder=solved.trained.W1,
        decoder=solved.trained.W2,
        scale=data.scale,
        gram=data.gram,
        certificate=p.certificate,
        precision=solved.precision,
        timings={"gram": solved.t_gram + data.seconds,
                 "solve": seconds - solved.t_gram - solved.t_cert - solved.t_refine,
                 "refine": solved.t_refine, "certify": solved.t_cert},
    )
    return result, warned


def _warnings(solved, request):
    """Collapse and convergence warnings: whatever the path, an uncertified answer warns
    (with ``max_iter``'s text where that ended it)."""
    warned, p, k, tol = [], solved.pairs, request.k, request.tol
    converged = bool(p.res.max() <= tol)
    if solved.module.ITERATIVE:
        lost = int(np.sum(p.theta <= solved.trained.lam))
        if request.lam is not None and lost:
            warned.append((E.COLLAPSED.format(lam=request.lam, lost=lost, k=k,
                                              first=k - lost + 1), E.CollapseWarning))
        if not converged and solved.n_iter >= solved.budget:
            warned.append((E.NOT_CONVERGED.format(solver=solved.name, max_iter=solved.budget,
                                                  res=p.res.max(), tol=tol),
                           E.ConvergenceWarning))
    if not converged and not any(c is E.ConvergenceWarning for _, c in warned):
        warned.append((E.NOT_CERTIFIED.format(solver=solved.name, res=p.res.max(), tol=tol,
                                              certificate=p.certificate),
                       E.ConvergenceWarning))
    return warned


def _flipped(components):
    """``svd_flip(u_based_decision=False)``: each row's largest-magnitude entry positive."""
    k = components.shape[0]
    idx = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(k), idx])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


_AGAINST = {"data": "the data", "gram": "the formed Gram",
            "corrected": "the corrected float32 Gram"}


def report(r, data, k, verbose):
    """What the call did, to the ``fastlae`` logger (and stderr with ``verbose``)."""
    if not (verbose or LOG.isEnabledFor(logging.INFO)):
        return
    t = r.timings
    dtype = data.dtype
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
