"""fastlae: principal components by training a regularized linear autoencoder.

Kunin et al., "Loss Landscapes of Regularized Linear Autoencoders" (ICML 2019).
"""
from . import _errors
from ._errors import CollapseWarning, ConvergenceWarning, RankWarning
from . import datasets, theory
from .api import PCAResult, pca
from .training import TrainResult, train

__version__ = "0.1.0"
__all__ = ["pca", "PCA", "PCAResult", "datasets", "theory", "train", "TrainResult", "ConvergenceWarning", "CollapseWarning",
           "RankWarning", "__version__"]


def __getattr__(name):
    # scikit-learn is an optional extra: import the estimator (and sklearn) on first use only
    if name == "PCA":
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise ImportError(_errors.NO_SKLEARN) from None
        from .estimator import PCA

        return PCA
    raise AttributeError(f"module 'fastlae' has no attribute {name!r}")
