"""fastlae: principal components by training a regularized linear autoencoder.

Kunin et al., "Loss Landscapes of Regularized Linear Autoencoders" (ICML 2019).
"""
from ._errors import CollapseWarning, ConvergenceWarning
from .api import PCAResult, pca

__version__ = "0.1.0"
__all__ = ["pca", "PCAResult", "ConvergenceWarning", "CollapseWarning", "__version__"]
