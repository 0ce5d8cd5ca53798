"""Deterministic synthetic data (no downloads): the demo's and the benchmarks' matrices."""
import numpy as np


def decaying(n_samples, n_features, *, decay=1.0, noise=0.01, mean=0.5, random_state=0,
             dtype=np.float64):
    """Low-noise data whose singular values decay like ``i ** -decay``.

    ``X = U diag(s) V^T * sqrt(n) + noise * N(0, 1) + mean`` with Haar-random ``U`` and ``V``
    on a rank of ``min(n_samples, n_features, 400)`` and ``s_i = i ** -decay``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    rng = np.random.default_rng(random_state)
    rank = min(n_samples, n_features, 400)
    U, _ = np.linalg.qr(rng.standard_normal((n_samples, rank)))
    V, _ = np.linalg.qr(rng.standard_normal((n_features, rank)))
    s = np.arange(1, rank + 1, dtype=float) ** -decay * np.sqrt(n_samples)
    X = (U * s) @ V.T
    X += noise * rng.standard_normal((n_samples, n_features))
    X += mean
    return X.astype(dtype, copy=False)
