"""Forming the Gram (fastlae._gram): threaded partial Grams by GIL-free SYRK, the one-pass
feature and sample Grams and their fallbacks."""

import numpy as np
import pytest

import fastlae
import fastlae._blas as blas
import fastlae._gram as g
from fastlae._data import ArrayData
from fastlae._kernels.passes import fold_lower_symmetric, sum_lower_symmetric
from fastlae._validation import check_X
from naive import SPECTRA, blas_counts, reference, spectrum_data


def _reference_gram(X, center, inv, ones, features):
    Xc = (np.asarray(X, dtype=np.float64) - center) * inv
    if ones:
        Xc = np.hstack([Xc, np.ones((Xc.shape[0], 1))])
    return Xc.T @ Xc if features else Xc @ Xc.T


@pytest.mark.parametrize("shape", [(300, 7), (7, 300)])   # feature Gram, sample Gram
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ones", [False, True])
def test_threaded_gram_matches_numpy(shape, order, dtype, ones, small_blocks, rng):
    X = np.asarray(3.0 + rng.standard_normal(shape), dtype=dtype, order=order)
    data = ArrayData(*check_X(X)[:2])
    features = data.gram == "features"
    if ones and not features:
        pytest.skip("the one-pass Gram with a sample of ones is a feature Gram")
    span = data.A.shape[0] if data.gram_axis == 1 else data.A.shape[1]
    assert g.gram_workers(span, data.m + ones, data.A.nbytes)[0] == 3
    center = X[:5].mean(axis=0, dtype=np.float64)
    data.inv = 0.25
    G = g.gram_around(data, center, ones=ones)
    ref = _reference_gram(X, center, 0.25, ones, features)
    assert G.flags.c_contiguous and G.shape == ref.shape
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(G, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_threaded_gram_is_reproducible_and_matches_one_thread(small_blocks, rng, monkeypatch):
    X = 1.0 + rng.standard_normal((1000, 40))
    center = X.mean(axis=0)
    runs = [g.gram_around(ArrayData(X, 1), center) for _ in range(3)]
    for G in runs[1:]:   # fixed block-to-thread deal and summation order: bit for bit
        np.testing.assert_array_equal(G, runs[0])
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: 1)
    assert g.gram_workers(1000, 40, X.nbytes)[0] == 1
    one = g.gram_around(ArrayData(X, 1), center)
    np.testing.assert_allclose(runs[0], one, rtol=0, atol=1e-13 * np.abs(one).max())


def test_gram_workers_rule(monkeypatch):
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: 4)
    block = max(g.WORKER_BLOCK_MIN, g.WORKER_BLOCK_ELEMENTS // 100)
    assert g.gram_workers(8 * block, 100, 10 ** 9) == (4, block)
    assert g.gram_workers(6 * block, 100, 10 ** 9) == (3, block)   # two blocks per worker at least
    assert g.gram_workers(3 * block, 100, 10 ** 9)[0] == 1
    m = 3000   # 72 MB per partial: 3 fit into PARTIAL_BYTES (256 MiB) for small data
    assert g.gram_workers(10 ** 6, m, 0)[0] == 3
    assert g.gram_workers(10 ** 6, m, 10 ** 10)[0] == 4            # or half of X, if more
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: 1)
    assert g.gram_workers(10 ** 6, 100, 10 ** 9)[0] == 1


@pytest.mark.parametrize("shape", [(2000, 30), (30, 2000)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_pca_through_threaded_gram(shape, order, small_blocks, rng):
    n, d = shape
    X = np.asarray(spectrum_data(n, d, SPECTRA["fast"](min(n, d)), rng, mean=100.0), order=order)
    before = blas_counts()
    r = fastlae.pca(X, 5)
    assert blas_counts() == before
    w, V, _, _ = reference(X, 5)
    np.testing.assert_allclose(r.explained_variance * (n - 1), w, rtol=1e-10)
    assert np.linalg.norm(V - r.components.T @ (r.components @ V), 2) < 1e-8


@pytest.mark.parametrize("m", [1, 63, 64, 130])
@pytest.mark.parametrize("T", [1, 3])
def test_sum_lower_symmetric(m, T, rng):
    P = rng.standard_normal((T, m, m))
    S = sum_lower_symmetric(P)
    L = np.tril(P.sum(axis=0))
    np.testing.assert_allclose(S, L + np.tril(L, -1).T, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("m", [1, 63, 64, 130])
@pytest.mark.parametrize("T", [0, 1, 3])
def test_fold_lower_symmetric_is_the_sum_in_place(m, T, rng):
    """The partials folded into the first, added in their order (bitwise), whatever the first
    holds above its diagonal."""
    S = rng.standard_normal((m, m))
    P = rng.standard_normal((T, m, m))
    L = S.copy()
    for t in range(T):
        L = L + P[t]
    L = np.tril(L)
    expect = L + np.tril(L, -1).T
    S[np.triu_indices(m, 1)] = np.nan   # never read
    fold_lower_symmetric(S, P)
    np.testing.assert_array_equal(S, expect)


@pytest.mark.parametrize("gram_axis", [1, 0])
def test_syrk_update_adds_upper_triangle(gram_axis, rng):
    B = rng.standard_normal((50, 8) if gram_axis == 1 else (8, 50))
    C0 = np.asfortranarray(rng.standard_normal((8, 8)))
    C = C0.copy(order="F")
    blas.syrk_update(B, C, gram_axis)
    ref = C0 + (B.T @ B if gram_axis == 1 else B @ B.T)
    iu = np.triu_indices(8)
    np.testing.assert_allclose(C[iu], ref[iu], rtol=1e-14)
    il = np.tril_indices(8, -1)
    np.testing.assert_array_equal(C[il], C0[il])   # the lower triangle is not touched


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 3])
def test_sample_gram_in_one_pass(order, dtype, threads, small_blocks, rng, monkeypatch):
    """Wide data: blocks of whole features are centered around their exact means, so the
    sample Gram needs no statistics pass; it equals the two-pass Gram."""
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: threads)
    X = np.asarray(1e3 + rng.standard_normal((20, 700)), dtype=dtype, order=order)
    one = ArrayData(*check_X(X)[:2])
    C1 = g.one_pass_samples(one)
    assert C1 is not None
    two = ArrayData(*check_X(X)[:2]).stats()      # the mean known first: the two-pass route
    C2, _ = g.form_gram(two)
    np.testing.assert_allclose(one.mean, X.mean(axis=0, dtype=np.float64), rtol=1e-15)
    G1, G2 = C1 * one.scale ** 2, C2 * two.scale ** 2
    np.testing.assert_allclose(G1, G2, rtol=0, atol=1e-12 * np.abs(G2).max())
    ref = _reference_gram(X, X.mean(axis=0, dtype=np.float64), 1.0, False, False)
    np.testing.assert_allclose(G1, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("head, rest", [(1e-30, 1.0), (0.0, 1e-150)])
def test_sample_gram_scale_fallback(head, rest, rng):
    """The scale comes from the first features; far-off magnitudes later take the two-pass
    route (squares could have over- or underflowed)."""
    X = rest * rng.standard_normal((20, 700))
    X[:, :256] = head * rng.standard_normal((20, 256))
    assert g.one_pass_samples(ArrayData(*check_X(X)[:2])) is None
    r = fastlae.pca(X, 3)
    w, V, _, _ = reference(X / rest, 3)
    np.testing.assert_allclose(r.explained_variance * 19 / rest ** 2, w, rtol=1e-10)


def test_sample_gram_one_pass_reports_nan_late_in_x(rng):
    X = rng.standard_normal((20, 700))
    X[7, 650] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastlae.pca(X, 3)
