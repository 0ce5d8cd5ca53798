"""Each bad input gets the documented exception and message."""
import numpy as np
import pytest

import fastlae

X = np.random.default_rng(0).standard_normal((20, 5))

BAD = [
    (np.zeros(5), {}, ValueError, "ndim=1"),
    (np.zeros((2, 3, 4)), {}, ValueError, "ndim=3"),
    (np.zeros((0, 5)), {}, ValueError, r"shape \(0, 5\)"),
    (np.zeros((5, 0)), {}, ValueError, r"shape \(5, 0\)"),
    (np.array([[1.0, np.nan], [2.0, 3.0]]), {"k": 1}, ValueError, "contains NaN"),
    (np.array([[1.0, np.inf], [2.0, 3.0]], dtype=np.float32), {"k": 1}, ValueError,
     "contains infinity"),
    (np.asfortranarray(np.where(np.eye(6) > 0, np.nan, 1.0)), {"k": 1}, ValueError,
     "contains NaN"),
    (np.where(np.arange(40).reshape(2, 20) == 7, -np.inf, 1.0), {"k": 1}, ValueError,
     "contains infinity"),
    (np.full((4, 3), 1e308), {"k": 1}, ValueError, "overflows float64"),
    (np.ones((3, 3), dtype=complex), {}, TypeError, "complex"),
    (np.array([["a", "b"], ["c", "d"]]), {"k": 1}, TypeError, "dtype <U1"),
    (np.ones((3, 3), dtype=object), {}, TypeError, "dtype object"),
    ([[1.0, 2.0], [3.0]], {"k": 1}, ValueError, "np.asarray"),
    (X, {"k": 0}, ValueError, r"k=0 is out of range.*\[1, 5\]"),
    (X, {"k": 6}, ValueError, r"k=6 is out of range"),
    (X, {"k": 2.0}, TypeError, "k must be an integer"),
    (X, {"k": True}, TypeError, "k must be an integer"),
    (X, {"solver": "svd"}, ValueError, "solver='svd' is not one of"),
    (X, {"tol": 0.0}, ValueError, "tol must be a finite number > 0, got 0.0"),
    (X, {"tol": float("nan")}, ValueError, "tol must be"),
    (X, {"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
    (X, {"max_iter": 2.5}, ValueError, "max_iter must be a positive integer"),
    (X, {"lam": -1.0}, ValueError, "lam must be a finite number >= 0"),
    (X, {"lam": float("inf")}, ValueError, "lam must be a finite number >= 0"),
    (X, {"n_latent": 1}, ValueError, r"n_latent=1 is out of range"),
    (X, {"n_threads": 0}, ValueError, "n_threads must be a positive integer"),
    (X, {"random_state": -3}, ValueError, "random_state must be None"),
    (X, {"random_state": "seed"}, ValueError, "random_state must be None"),
]


@pytest.mark.parametrize("data, kwargs, exc, match", BAD)
def test_bad_input(data, kwargs, exc, match):
    kwargs = {"k": 2, **kwargs}
    k = kwargs.pop("k")
    with pytest.raises(exc, match=match):
        fastlae.pca(data, k, **kwargs)
