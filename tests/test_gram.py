"""The Gram pass's worker threads: partial Grams, GIL-free SYRK and the BLAS thread limit."""
import threading

import numba as nb
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastlae
import fastlae._blas as blas
import fastlae._gram as g
from fastlae._data import ArrayData
from fastlae._kernels.blas import gemm
from fastlae._kernels.passes import sum_lower_symmetric
from fastlae._threads import Cancelled
from fastlae._validation import check_X
from naive import SPECTRA, reference, spectrum_data


def _blas_counts():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 samples and three workers, so that test-sized data take the threaded path."""
    monkeypatch.setattr(g, "WORKER_BLOCK_ELEMENTS", 1)
    monkeypatch.setattr(g, "WORKER_BLOCK_MIN", 16)
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: 3)


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
    before = _blas_counts()
    r = fastlae.pca(X, 5)
    assert _blas_counts() == before
    w, V, _, _ = reference(X, 5)
    np.testing.assert_allclose(r.explained_variance * (n - 1), w, rtol=1e-10)
    assert np.linalg.norm(V - r.components.T @ (r.components @ V), 2) < 1e-8


def test_worker_error_reaches_the_caller_and_blas_is_restored(small_blocks, rng, monkeypatch):
    def failing(B, C, gram_axis):   # fails in a worker thread, not in the caller's
        if threading.current_thread().name == "fastlae-pass-2":
            raise RuntimeError("injected")
        blas.syrk_update(B, C, gram_axis)

    monkeypatch.setattr(g, "syrk_update", failing)
    before = _blas_counts()
    X = rng.standard_normal((1000, 20))
    with pytest.raises(RuntimeError, match="injected"):
        g.gram_around(ArrayData(X, 1), X.mean(axis=0))
    assert _blas_counts() == before


def test_stop_flag_cancels_every_worker(small_blocks, rng):
    X = rng.standard_normal((1000, 20))
    data = ArrayData(X, 1)
    data.stop[0] = 1
    with pytest.raises(Cancelled):
        g.gram_around(data, X.mean(axis=0))


def test_no_workers_when_scipys_blas_cannot_be_limited(monkeypatch):
    monkeypatch.setattr(blas, "_controllable", False)   # Accelerate, say
    assert blas.blas_threads() == 1
    assert g.gram_workers(10 ** 6, 100, 10 ** 9)[0] == 1


@pytest.mark.skipif(not blas.controllable(), reason="threadpoolctl cannot limit SciPy's BLAS here")
def test_limit_to_one_is_held_once_and_restored():
    before = _blas_counts()
    assert max(before) == blas.blas_threads()
    assert blas.limit_to_one()
    try:
        assert _blas_counts() == [1] * len(before)
        assert not blas.limit_to_one()   # a second holder would restore too early
    finally:
        blas.restore()
    assert _blas_counts() == before


def _in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.update(value=fn()))
    t.start()
    t.join()
    return box["value"]


@pytest.mark.skipif(max(_blas_counts() or [1]) < 2, reason="BLAS runs one thread already")
def test_threaded_gram_when_another_thread_controls_blas_limits(small_blocks, rng, monkeypatch):
    """threadpoolctl lets only the first live thread that set OpenBLAS limits set them again:
    pca sets them from its caller's thread, and falls back to one thread on threaded BLAS
    (same result, no oversubscription) where even that thread may not."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):   # the main thread may now control
        pass
    X = spectrum_data(2000, 30, SPECTRA["fast"](30), rng, mean=10.0)
    w, V, _, _ = reference(X, 5)
    used = []
    limit = blas.limit_to_one
    monkeypatch.setattr(blas, "limit_to_one", lambda: used.append(limit()) or used[-1])
    before = _blas_counts()
    for r in [fastlae.pca(X, 5), _in_thread(lambda: fastlae.pca(X, 5))]:
        np.testing.assert_allclose(r.explained_variance * 1999, w, rtol=1e-10)
        assert np.linalg.norm(V - r.components.T @ (r.components @ V), 2) < 1e-8
        assert _blas_counts() == before
    assert used[0] is True   # from the main thread
    assert len(used) == 2    # the other thread ran too (whether it could limit depends on
    # threadpoolctl's version and on which thread set OpenBLAS limits first in this process)


def test_interrupted_caller_still_serves_the_worker(rng):
    """A request from the worker after Ctrl-C is still served, so the worker can wind down."""
    from fastlae._threads import interruptible

    import _thread
    import time

    log = []

    def work(stop, in_caller):
        time.sleep(0.2)
        _thread.interrupt_main()          # Ctrl-C arrives in the caller while it polls
        while not stop[0]:
            pass
        log.append(in_caller(lambda: threading.current_thread().name))
        return 1

    with pytest.raises(KeyboardInterrupt):
        interruptible(work)
    assert log == [threading.current_thread().name]


@pytest.mark.parametrize("m", [1, 63, 64, 130])
@pytest.mark.parametrize("T", [1, 3])
def test_sum_lower_symmetric(m, T, rng):
    P = rng.standard_normal((T, m, m))
    S = sum_lower_symmetric(P)
    L = np.tril(P.sum(axis=0))
    np.testing.assert_allclose(S, L + np.tril(L, -1).T, rtol=1e-15, atol=1e-15)


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


def test_ctrl_c_during_the_threaded_gram_restores_blas(small_blocks, rng, monkeypatch):
    import _thread
    import time

    from fastlae._threads import interruptible

    seen = set()

    def slow(B, C, gram_axis):
        seen.add(blas.blas_threads())
        time.sleep(0.005)
        blas.syrk_update(B, C, gram_axis)

    monkeypatch.setattr(g, "syrk_update", slow)
    X = rng.standard_normal((12000, 20))   # 750 blocks of 16 samples: over 1.2 s on 3 workers
    before = _blas_counts()

    def work(stop, in_caller):
        return g.form_gram(ArrayData(X, 1, stop, in_caller))

    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        interruptible(work)
    assert time.perf_counter() - t0 < 0.8   # stopped between blocks, not at the end
    timer.join()
    assert seen == {1}                      # BLAS ran single-threaded during the pass
    assert _blas_counts() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("fastlae-")]


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
