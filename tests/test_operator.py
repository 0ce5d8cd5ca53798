"""Products with the data (fastlae._operator, fastlae._kernels): the kernels' GEMM, the
matrix-free spans and the mapping of sample vectors to features."""

import numba as nb
import numpy as np
import pytest

import fastlae._gram as g
from fastlae._data import ArrayData
from fastlae._kernels.blas import gemm
from fastlae._validation import check_X


@nb.njit(cache=False)
def _gemm(A, B, C, trans_a, trans_b, beta):
    gemm(A, B, C, trans_a, trans_b, beta)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_kernel_gemm(dtype, trans_a, trans_b, beta, rng):
    """The kernels' GEMM: ``C = op(A) op(B) + beta C`` on C-ordered arrays, as NumPy."""
    m, k, n = 7, 5, 3
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.standard_normal((m, n)).astype(dtype)
    if beta == 0.0:
        C[0, 0] = np.nan   # beta = 0 overwrites, NaN included
    ref = (A.T if trans_a else A) @ (B.T if trans_b else B)
    if beta != 0.0:
        ref = ref + beta * C
    _gemm(A, B, C, trans_a, trans_b, beta)
    tol = 1e-14 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(C, ref, rtol=tol, atol=tol)


def test_kernel_gemm_takes_c_ordered_arrays_only(rng):
    A = np.asfortranarray(rng.standard_normal((4, 4)))
    with pytest.raises(nb.core.errors.TypingError, match="C-contiguous"):
        _gemm(A, A, np.zeros((4, 4)), False, False, 0.0)


@pytest.mark.parametrize("order, uncentered", [("C", False), ("F", False), ("C", True)])
def test_gram_spans_add_up_to_the_product(order, uncentered, rng):
    """The span kernels of threaded passes: their parts over any split of the samples sum to
    ``Xs.T @ Xs @ V``, centered in a buffer or from uncentered views (features as columns)."""
    from fastlae._kernels.operator import span_centered, span_uncentered

    X = np.asarray(5.0 + rng.standard_normal((90, 12)), order=order)
    A, feat_axis, _ = check_X(X)
    data = ArrayData(A, feat_axis).stats()
    V = rng.standard_normal((12, 4))
    Xs = (X - X.mean(axis=0)) * data.inv
    ref = Xs.T @ (Xs @ V)
    stop = np.zeros(1, dtype=np.int64)
    block = 8
    parts = []
    for s0, s1 in [(0, 13), (13, 50), (50, 90)]:
        if uncentered:
            parts.append(span_uncentered(A, data.mean, data.inv, block, stop, V, s0, s1))
        else:
            parts.append(span_centered(A, data.mean, feat_axis, data.inv, feat_axis, block,
                                       np.empty(block * 12), stop, V, s0, s1))
    np.testing.assert_allclose(sum(parts), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("shape", [(30, 500), (500, 30), (64, 64)])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 3])
def test_mapping_to_features(shape, order, dtype, threads, rng, monkeypatch):
    """Operator.to_features: Xc.T @ U / scale by blocks of features, on 1 or 3 threads."""
    import fastlae._blas as blas_module
    import fastlae._operator as operator_module
    from fastlae._data import ArrayData
    from fastlae._operator import Operator
    from fastlae._validation import check_X

    monkeypatch.setattr(operator_module, "MAP_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr("fastlae._threads.blas_threads", lambda: threads)
    monkeypatch.setattr(blas_module, "limit_to_one", lambda: True)
    monkeypatch.setattr(blas_module, "restore", lambda: None)
    X = np.asarray(3.0 + rng.standard_normal(shape), dtype=dtype, order=order)
    A, feat_axis, _ = check_X(X)
    data = ArrayData(A, feat_axis)
    data.stats()
    U = rng.standard_normal((shape[0], 7))
    out = Operator(data).to_features(U)
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    ref = (Xc * data.inv).T @ U
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("shape", [(30, 500), (500, 30)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_mapping_to_features_uncentered(shape, order, rng, monkeypatch):
    """The uncentered mapping (X.T @ U minus the mean's part, in chunks of A's rows) equals
    Xc.T @ U / scale within its rounding bound, for both layouts."""
    import fastlae._operator as operator_module
    from fastlae._data import ArrayData
    from fastlae._operator import Operator
    from fastlae._data import uncentered_rounding
    from fastlae._validation import check_X

    monkeypatch.setattr(operator_module, "MAP_CHUNK_ELEMENTS", 256)   # several chunks
    X = np.asarray(3.0 + rng.standard_normal(shape), order=order)
    data = ArrayData(*check_X(X)[:2])
    data.stats()
    op = Operator(data)
    op.uncentered_map = True
    U = rng.standard_normal((shape[0], 7))
    out = op.to_features(U)
    Xc = X - X.mean(axis=0)
    ref = (Xc * data.inv).T @ U
    bound = uncentered_rounding(data.m, data.n, data.mean * data.inv, np.sum(Xc ** 2) * data.inv ** 2)
    assert bound < 1e-13
    np.testing.assert_allclose(out, ref, rtol=0, atol=100 * bound * np.abs(ref).max())


@pytest.mark.parametrize("mean, dtype, tol, uncentered", [
    (3.0, np.float64, 1e-10, True),
    (1e6, np.float64, 1e-10, False),    # the mean would cancel digits the tolerance needs
    (3.0, np.float64, 1e-15, False),    # the tolerance is below the rounding bound
    (3.0, np.float32, 1e-6, False),     # products in float32 would round to float32
])
def test_uncentered_mapping_only_where_exact_enough(mean, dtype, tol, uncentered, rng):
    """A formed sample Gram maps to features uncentered exactly when its rounding bound is
    below UNCENTERED * tol; the matrix-free operator is not offered anything there."""
    from fastlae._operator import Operator

    X = np.asarray(mean + rng.standard_normal((30, 400)), dtype=dtype)
    data = ArrayData(*check_X(X)[:2])
    C, _ = g.form_gram(data)
    op = Operator(data, C)
    assert op.use_uncentered(tol) is uncentered
    assert op.uncentered_map is uncentered and op.uncentered_error is None


@pytest.mark.parametrize("shape, order, uncentered", [
    ((203, 40), "C", False), ((203, 40), "F", False), ((203, 40), "C", True),   # row blocks
    ((40, 203), "C", False), ((40, 203), "F", False)])                           # columns
@pytest.mark.parametrize("threads", [1, 3])
def test_krylov_products_in_cache_sized_blocks(shape, order, uncentered, threads, rng,
                                               monkeypatch):
    """Operator.krylov_products, matrix-free: the Gram's product over spans of A on 3 threads
    (BLAS held at one) in blocks of SPAN_BLOCK_MIN rows or columns that do not divide the
    spans, and on one thread, centered in buffers or from uncentered views."""
    import fastlae._blas as blas_module
    import fastlae._operator as operator_module
    from fastlae._kernels.operator import apply_span
    from fastlae._operator import Operator

    monkeypatch.setattr(operator_module, "SPAN_BLOCK_ELEMENTS", 64)   # the smallest blocks
    monkeypatch.setattr("fastlae._threads.blas_threads", lambda: threads)
    monkeypatch.setattr(blas_module, "limit_to_one", lambda: True)
    monkeypatch.setattr(blas_module, "restore", lambda: None)
    X = np.asarray(3.0 + rng.standard_normal(shape), order=order)
    data = ArrayData(*check_X(X)[:2]).stats()
    op = Operator(data)
    assert op.use_uncentered(1e-10 if uncentered else 0.0) is uncentered
    Xs = (X - X.mean(axis=0)) * data.inv
    G = Xs.T @ Xs if data.gram == "features" else Xs @ Xs.T
    Q = rng.standard_normal((op.m, 6))
    used = []

    def spy(o, V, s0, s1):
        used.append(o.block)
        return apply_span(o, V, s0, s1)

    monkeypatch.setattr(operator_module, "apply_span", spy)
    with op.krylov_products(1e-10 if uncentered else 0.0) as apply:
        out = apply(Q)
    ref = G @ Q
    bound = 1e-12 if uncentered else 1e-13
    np.testing.assert_allclose(out, ref, rtol=0, atol=bound * np.abs(ref).max())
    if threads == 3:   # three spans, in the smallest blocks
        assert used == [operator_module.SPAN_BLOCK_MIN[data.gram_axis]] * 3
