"""Deterministic synthetic data (no downloads): the demo's, the tests' and the benchmarks'.

:func:`decaying` is the fast-decaying spectrum of the performance table; :func:`zoo` builds
the spectrum zoo every speed and accuracy claim is checked across (see ``ZOO``).
"""
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


def sparse(n_samples, n_features, density, *, flat=False, random_state=0):
    """A ``scipy.sparse`` CSR matrix with about ``density`` of its entries non-zero:
    uniform(0, 1) values at uniform positions (duplicates summed), the columns scaled by
    ``j^-0.5`` (a slowly decaying spectrum) unless ``flat``. float64."""
    import scipy.sparse as sp

    rng = np.random.default_rng(random_state)
    nnz = int(n_samples * n_features * density)
    S = sp.csr_matrix((rng.uniform(0.0, 1.0, nnz), (rng.integers(0, n_samples, nnz),
                                                  rng.integers(0, n_features, nnz))),
                      shape=(n_samples, n_features))
    S.sum_duplicates()
    if not flat:
        S = (S @ sp.diags(np.arange(1, n_features + 1) ** -0.5)).tocsr()
    return S


def with_spectrum(n_samples, n_features, singular_values, *, noise=0.0, mean=0.0,
                  random_state=0, dtype=np.float64):
    """``X = U diag(s) V^T + noise * N(0, 1) + mean`` with Haar-random orthonormal U, V.

    ``U``'s columns are centered first, so that without noise the singular values of the
    centered X are exactly ``singular_values`` (zero beyond them).

    Parameters
    ----------
    singular_values : array_like of shape (q,), q <= min(n_samples, n_features) - 1

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    rng = np.random.default_rng(random_state)
    s = np.asarray(singular_values, dtype=np.float64)
    q = s.shape[0]
    U = rng.standard_normal((n_samples, q))
    U -= U.mean(axis=0)
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(rng.standard_normal((n_features, q)))
    X = (U * s) @ V.T
    if noise:
        X += noise * rng.standard_normal((n_samples, n_features))
    X += mean
    return X.astype(dtype, copy=False)


def _low_rank(rank, noise):
    def make(n, d, k, rng, dtype):
        q = min(rank, min(n, d) - 1)
        s = np.geomspace(10.0, 1.0, q) * np.sqrt(n)
        return with_spectrum(n, d, s, noise=noise, mean=1.0, random_state=rng, dtype=dtype)
    return make


def _iid(draw):
    def make(n, d, k, rng, dtype):
        X = draw(rng, (n, d))
        return X if dtype is None else X.astype(dtype)
    return make


def _pixels(n, d, k, rng, dtype):
    X = rng.integers(0, 256, (n, d), dtype=np.uint8)
    X[:, : max(1, d // 10)] = 0          # a dark border: constant columns
    return X if dtype is None else X.astype(dtype)


def _duplicated(n, d, k, rng, dtype):
    half = max(2, d // 2)
    base = rng.standard_normal((n, half)) * np.linspace(3.0, 0.5, half)
    X = np.empty((n, d))
    X[:, :half] = base
    cats = rng.integers(0, max(2, (d - half) // 2), n)
    X[:, half:] = base[:, : d - half]            # duplicated columns
    width = (d - half) // 2
    if width:                                    # and a one-hot block
        X[:, half: half + width] = np.eye(width)[cats % width]
    return X.astype(dtype)


def _clustered(n, d, k, rng, dtype):
    # distinct values above k - 2, four equal ones straddling k, a decaying tail
    m = min(n, d) - 1
    head = np.linspace(20.0, 12.0, max(k - 2, 0))
    tail = 6.0 / np.arange(1, max(m - len(head) - 4, 0) + 1)
    s2 = np.concatenate([head, np.full(4, 8.0), tail])[:m]
    return with_spectrum(n, d, np.sqrt(s2 * n), mean=-3.0, random_state=rng, dtype=dtype)


def _flat_tail(n, d, k, rng, dtype):
    m = min(n, d) - 1
    s2 = np.concatenate([[10.0, 8.0, 6.0], np.full(max(m - 3, 0), 1.0)])[:m]
    return with_spectrum(n, d, np.sqrt(s2 * n), noise=1e-3, random_state=rng, dtype=dtype)


def _power_law(n, d, k, rng, dtype):
    m = min(n, d) - 1
    s = np.arange(1, m + 1, dtype=float) ** -0.25 * np.sqrt(n)
    return with_spectrum(n, d, s, mean=0.5, random_state=rng, dtype=dtype)


def _large_mean(n, d, k, rng, dtype):
    m = min(n, d) - 1
    s = 2.0 ** -np.arange(m, dtype=float) * np.sqrt(n)
    return with_spectrum(n, d, s, noise=1e-6, mean=1e6, random_state=rng, dtype=dtype)


def _decaying(n, d, k, rng, dtype):
    return decaying(n, d, random_state=rng, dtype=dtype)


# name: (generator, description). Ranks are relative to k and to the default latent width
# r = k + max(10, k) (fastlae.solvers.default_latent): "between" lies in (k, r).
ZOO = {
    "gaussian": (_iid(lambda g, s: g.standard_normal(s)), "iid N(0, 1): a flat, noise-like spectrum"),
    "uniform": (_iid(lambda g, s: g.uniform(0.0, 1.0, s)), "iid U(0, 1), mean 0.5"),
    "student_t": (_iid(lambda g, s: g.standard_t(3.0, s)), "iid Student t (3 degrees): heavy tails"),
    "poisson": (_iid(lambda g, s: g.poisson(3.0, s).astype(np.int64)), "iid Poisson(3) counts, int64"),
    "pixels": (_pixels, "uniform uint8 0..255 with a tenth of the columns constant (a border)"),
    "rank_below_k": (lambda n, d, k, g, t: _low_rank(max(1, k - 2), 0.0)(n, d, k, g, t),
                     "exact rank k - 2, singular values geometric 10..1, mean 1"),
    "rank_at_k": (lambda n, d, k, g, t: _low_rank(k, 1e-9)(n, d, k, g, t),
                  "rank k plus noise 1e-9"),
    "rank_between": (lambda n, d, k, g, t: _low_rank(k + max(10, k) // 2, 1e-6)(n, d, k, g, t),
                     "rank between k and r, plus noise 1e-6"),
    "rank_above_r": (lambda n, d, k, g, t: _low_rank(k + max(10, k) + 5, 0.0)(n, d, k, g, t),
                     "exact rank r + 5"),
    "duplicated_onehot": (_duplicated, "duplicated columns and a one-hot block"),
    "cluster_at_k": (_clustered, "four equal eigenvalues at k - 1 .. k + 2, mean -3"),
    "flat_tail": (_flat_tail, "eigenvalues 10, 8, 6, then a flat tail of 1s, noise 1e-3"),
    "power_law": (_power_law, "slow decay: singular values i^-0.25"),
    "large_mean": (_large_mean, "halving singular values, mean 1e6 (1e6 times the spread)"),
    "decaying": (_decaying, "fastlae.datasets.decaying: singular values 1 / i, noise 0.01"),
}


def zoo(name, n_samples, n_features, k=5, *, random_state=0, dtype=np.float64):
    """One matrix of the spectrum zoo: see ``ZOO`` for the names and what each holds.

    Parameters
    ----------
    name : str
        A key of ``ZOO``.
    n_samples, n_features : int
    k : int
        The number of components the matrix is meant for (the low-rank and clustered
        spectra are placed relative to it).
    random_state : int or numpy.random.Generator
    dtype : dtype or None
        None keeps the generator's own dtype (int64 for ``"poisson"``, uint8 for
        ``"pixels"``).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    """
    if name not in ZOO:
        raise ValueError(f"name={name!r} is not one of {sorted(ZOO)}")
    rng = np.random.default_rng(random_state)
    make = ZOO[name][0]
    X = make(n_samples, n_features, k, rng, dtype)
    return X if dtype is None else np.asarray(X, dtype=dtype)
