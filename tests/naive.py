"""Plain NumPy/LAPACK references for the tests (no fastlae code)."""
import numpy as np
from scipy.linalg import eigh


def reference(X, k):
    """Top-k (eigenvalues of Xc.T Xc, eigenvectors as columns, total) by LAPACK on float64."""
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    C = Xc.T @ Xc
    w, V = eigh(C)
    return w[::-1][:k], V[:, ::-1][:, :k], float(np.trace(C)), C


def spectrum_data(n, d, spectrum, rng, mean=0.0):
    """X = U diag(sqrt(spectrum)) V^T (centered exactly) + mean, with Haar U, V."""
    m = min(n, d)
    s = np.zeros(m)
    s[: len(spectrum)] = np.sqrt(spectrum)[:m]
    U, _ = np.linalg.qr(rng.standard_normal((n, m)))
    U -= U.mean(axis=0)  # keep the columns centered so the spectrum is the covariance's
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(rng.standard_normal((d, m)))
    return (U * s) @ V.T + mean


def sin_angle(V, components):
    """Sine of the largest principal angle between span(V) and the rows of ``components``."""
    Q = np.asarray(components, dtype=np.float64).T
    return np.linalg.norm(V - Q @ (Q.T @ V), 2)


SPECTRA = {
    "fast": lambda m: 2.0 ** -np.arange(m, dtype=float),
    "slow": lambda m: 1.0 / np.arange(1, m + 1, dtype=float),
    "flat_tail": lambda m: np.concatenate([[10, 8, 6, 5, 4], np.full(m - 5, 0.5)]),
    "repeated": lambda m: np.concatenate([[5, 5, 5, 3, 3], 1.0 / np.arange(2, m - 3)]),
}


def blas_counts():
    """The thread count of every loaded BLAS library (to check that a call restored them)."""
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
