"""The block Krylov engine (fastlae.solvers.krylov) against LAPACK on every path it serves."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastlae
from fastlae import datasets
from fastlae.solvers import krylov

from naive import reference, sin_angle

K = 5
SPECTRA = ["decaying", "power_law", "gaussian", "cluster_at_k", "flat_tail", "rank_below_k"]


def _check(r, X, k=K):
    """Certified, eigenvalues to 1e-12 of the largest, and the subspace to 1e-9 where the
    gap at k allows (LAPACK on the centered data as reference)."""
    w, V, _, _ = reference(np.asarray(X, dtype=np.float64), k)
    assert r.converged and r.residuals.max() <= 1e-10
    np.testing.assert_allclose(r.explained_variance * (X.shape[0] - 1), w, rtol=0,
                               atol=1e-11 * w[0])
    full = np.linalg.eigvalsh(np.cov(np.asarray(X, dtype=np.float64).T))[::-1]
    if full[k - 1] - full[k] > krylov.GAP_MIN * full[0] and full[k - 1] > 1e-10 * full[0]:
        assert sin_angle(V, r.components) < 1e-9


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlae.RankWarning)
        return fn()


@pytest.mark.parametrize("name", SPECTRA)
def test_engine_on_a_formed_gram_against_lapack(name):
    X = datasets.zoo(name, 400, 300, K, random_state=1)
    Xc = X - X.mean(axis=0)
    G = Xc.T @ Xc
    out = krylov.run(lambda Q: G @ Q, 300, K, 4, 1e-10, 300, np.random.default_rng(0))
    w = np.linalg.eigvalsh(G)[::-1]
    assert out.converged and out.passes < 100
    np.testing.assert_allclose(out.theta, w[:K], rtol=0, atol=1e-11 * w[0])
    # the certificate is the true residual of the returned vectors
    true = np.linalg.norm(G @ out.vecs[:, :K] - out.vecs[:, :K] * out.theta, axis=0) / w[0]
    np.testing.assert_allclose(out.res, true, rtol=1e-3, atol=1e-15)
    # the returned basis is orthonormal to rounding level
    p = out.vecs.shape[1]
    assert np.abs(out.vecs.T @ out.vecs - np.eye(p)).max() <= 1e-13


def test_restart_keeps_the_answer():
    X = datasets.zoo("power_law", 500, 400, K, random_state=2)
    Xc = X - X.mean(axis=0)
    G = Xc.T @ Xc
    wide = krylov.run(lambda Q: G @ Q, 400, K, 5, 1e-10, 300, np.random.default_rng(0))
    tight = krylov.run(lambda Q: G @ Q, 400, K, 5, 1e-10, 300, np.random.default_rng(0),
                       cap=K + 10)   # restarts after every other product
    assert wide.converged and tight.converged
    np.testing.assert_allclose(tight.theta, wide.theta, rtol=1e-12)
    assert tight.passes >= wide.passes


def test_start_from_the_ritz_vectors_of_a_shorter_run():
    """A run started from the Ritz vectors of another (as at the hand-over from matrix-free
    Krylov to the formed Gram): their residuals lie in one block's directions, fewer than the
    start's columns, and the next block must take those directions, not the first columns of
    the residual; the run then gains from its start instead of stalling near the start's
    residuals."""
    X = datasets.zoo("power_law", 600, 500, 10, random_state=1)
    Xc = X - X.mean(axis=0)
    G = Xc.T @ Xc
    first = krylov.run(lambda Q: G @ Q, 500, 10, 5, 1e-10, 8, np.random.default_rng(0))
    assert not first.converged and first.vecs.shape[1] == 20
    fresh = krylov.run(lambda Q: G @ Q, 500, 10, 5, 1e-10, 100, np.random.default_rng(1))
    out = krylov.run(lambda Q: G @ Q, 500, 10, 5, 1e-10, 100, np.random.default_rng(1),
                     start=first.vecs)
    assert out.converged and fresh.converged and out.passes < fresh.passes
    w = np.linalg.eigvalsh(G)[::-1]
    true = np.linalg.norm(G @ out.vecs[:, :10] - out.vecs[:, :10] * out.theta, axis=0) / w[0]
    assert true.max() <= 1e-12
    np.testing.assert_allclose(out.theta, w[:10], rtol=0, atol=1e-12 * w[0])


def test_a_run_gives_up_where_its_ritz_values_and_its_rate_agree():
    """krylov.hopeless: after a slow start (the residual falling 20% per product: about 70
    more to 1e-10 at that rate) a run goes on where its Ritz values show a gap that Krylov closes in
    a few products, and gives up where they are flat as well; never before PATIENT_PASSES."""
    from fastlae._kernels.monitor import new_history

    hist = new_history()
    report = krylov.recorder(hist)
    for p in range(1, 13):
        report(p, 1e-2 * 0.8 ** p)
    worst = 1e-2 * 0.8 ** 12
    k, b = 10, 10
    gap = 1.0 / np.arange(1, 41)   # theta_k / theta_{k+b} = 2: a few steps
    flat = 1.0 - 1e-4 * np.arange(40)
    assert krylov.ritz_steps(gap, k, b, worst, 1e-10) < 20 < krylov.ritz_steps(flat, k, b,
                                                                            worst, 1e-10)
    assert not krylov.hopeless(hist, 12, worst, gap, k, b, 1e-10, 20)
    assert krylov.hopeless(hist, 12, worst, flat, k, b, 1e-10, 20)
    assert not krylov.hopeless(hist, krylov.PATIENT_PASSES - 1, worst, flat, k, b, 1e-10, 20)


def test_cluster_residuals_bound_every_rotation_of_a_cluster():
    res = np.array([3e-11, 4e-11, 1e-11, 2e-11])
    theta = np.array([9.0, 5.0, 5.0 * (1 + 1e-12), 1.0])
    np.testing.assert_allclose(krylov._cluster_residuals(res, theta),
                               [3e-11, np.hypot(4e-11, 1e-11), np.hypot(4e-11, 1e-11), 2e-11])
    # a rotation of the two equal values' Ritz vectors has residuals up to that norm
    rng = np.random.default_rng(0)
    G = np.diag([9.0, 5.0, 5.0, 1.0, 0.5])
    V = np.eye(5)[:, :4] + 1e-6 * rng.standard_normal((5, 4))
    V = np.linalg.qr(V)[0]
    w, Z = np.linalg.eigh(V.T @ G @ V)
    V = V @ Z[:, ::-1]
    R = G @ V - V * w[::-1]
    c = np.cos(0.7)
    rotated = c * R[:, 1] + np.sqrt(1 - c * c) * R[:, 2]
    near = krylov._cluster_residuals(np.linalg.norm(R, axis=0), np.sort(w)[::-1])
    assert np.linalg.norm(rotated) <= near[1] * (1 + 1e-12)


def test_a_cluster_straddling_k_is_certified_by_one_run(monkeypatch):
    """The run stops where the certificate's Rayleigh-Ritz step, which may rotate the
    cluster's Ritz pairs, agrees: one run, no second one at a stricter tolerance (the
    residuals of the run alone: 14 products, two runs)."""
    X = datasets.zoo("cluster_at_k", 1700, 1600, K, random_state=1)
    runs = []
    run = krylov.run
    monkeypatch.setattr(krylov, "run", lambda *a, **kw: runs.append(1) or run(*a, **kw))
    r = _quiet(lambda: fastlae.pca(X, K, solver="krylov"))
    assert r.solver == "krylov" and r.matrix_free and len(runs) == 1 and r.n_iter <= 10
    _check(r, X)


def test_block_rules():
    assert krylov.default_block(20, 4000) == krylov.MEMORY_BLOCK
    assert krylov.default_block(2, 4000) == 2 or krylov.default_block(2, 4000) == 4
    assert krylov.default_block(10, 100000, read_bound=True) == 20
    assert krylov.default_block(10, 7) == 7
    assert krylov.default_cap(10, 10, 10 ** 9) >= 30   # memory bound, never below k + 2b
    assert krylov.default_cap(5, 4, 4000) == krylov.CAP_MIN   # narrow blocks, small k
    assert krylov.default_cap(5, 4, 30) == 30


def test_width_model():
    """block_width: a measured width or k, between 4 and max(4, k), at most m; narrower
    where X's products dominate a step (a large X) than where the step's own work does."""
    for m, elements in ((4000, 16_000_000), (1000, 2_000_000), (300, 120_000)):
        for k in (1, 3, 5, 8, 10, 20, 40):
            b = krylov.block_width(k, m, elements)
            assert 4 <= b <= max(4, k) and (b == k or b in krylov.PRODUCT_WIDTHS)
    assert krylov.block_width(5, 3, 9) == 3
    assert krylov.block_width(20, 6, 36) == 6
    assert krylov.block_width(20, 4000, 16_000_000) < krylov.block_width(20, 300, 120_000)
    assert krylov.relative_products(20, 10) < krylov.relative_products(20, 4)
    assert krylov.relative_products(10, 10) == krylov.relative_products(10, 20)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("free", [True, False])
def test_runs_in_memory_take_the_width_model_and_scale_budgets(order, free, monkeypatch):
    """Matrix-free runs on X by rows take block_width; by columns and on a formed Gram,
    default_block. "auto"'s budget (products at default_block's width) is scaled by
    relative_products to the run's width."""
    import fastlae.api as api
    from fastlae.solvers import Plan

    X = np.asarray(datasets.decaying(1500, 1200, random_state=0), order=order)
    seen = []
    run = krylov.run
    monkeypatch.setattr(krylov, "run", lambda apply, m, k, block, tol, max_passes, *a, **kw:
                        seen.append((block, max_passes)) or run(apply, m, k, block, tol,
                                                                max_passes, *a, **kw))
    r = _quiet(lambda: api._pca(X, 10, plan=Plan("krylov", free, 28, 1.0), precision="double"))
    block, budget = seen[0]
    rows = free and order == "C"
    assert block == (krylov.block_width(10, 1200, 1500 * 1200) if rows
                     else krylov.default_block(10, 1200))
    scale = krylov.relative_products(10, block) / krylov.relative_products(10, 10)
    assert budget == int(np.ceil(28 * scale))
    assert not rows or block < 10   # the model's width differs here: the scaling is seen
    _check(r, X, 10)


@pytest.mark.parametrize("name", SPECTRA)
@pytest.mark.parametrize("order", ["C", "F"])
def test_matrix_free_dense(name, order):
    # square enough that products with X cost less than forming the Gram (solvers' model)
    X = np.asarray(datasets.zoo(name, 1700, 1600, K, random_state=3), order=order)
    r = _quiet(lambda: fastlae.pca(X, K, solver="krylov"))
    assert r.solver == "krylov" and r.matrix_free and r.certificate == "data"
    _check(r, X)


@pytest.mark.parametrize("name", SPECTRA)
@pytest.mark.parametrize("order", ["C", "F"])
def test_matrix_free_wide(name, order, monkeypatch):
    """Wide data under "auto" (matrix-free Krylov, which gives up on flat spectra and hands
    over to the formed sample Gram) against LAPACK. Held by rows (C order), the run takes the
    feature Gram (its products read X's rows) and goes back to the sample Gram to hand over;
    held by columns, the sample Gram's products read X's columns as rows and it keeps it."""
    from fastlae._data import ArrayData

    sides, use_gram = [], ArrayData.use_gram
    monkeypatch.setattr(ArrayData, "use_gram",
                        lambda self, gram: sides.append(gram) or use_gram(self, gram))
    X = np.asarray(datasets.zoo(name, 1600, 1700, K, random_state=3), order=order)
    r = _quiet(lambda: fastlae.pca(X, K))
    _check(r, X)
    handed_over = not r.matrix_free
    assert handed_over == (name in ("gaussian", "flat_tail"))
    if order == "C":
        assert sides == ["samples", "features"] + (["samples"] if handed_over else [])
    else:
        assert sides == ["samples"]


def test_auto_runs_krylov_matrix_free_on_square_data():
    X = datasets.decaying(2000, 2000, random_state=4)
    r = fastlae.pca(X, 10)
    assert r.solver == "krylov" and r.matrix_free
    assert r.n_iter <= 30   # products, each one pass over X
    _check(r, X, 10)


def test_float32_input():
    X = datasets.decaying(800, 700, random_state=5).astype(np.float32)
    r = fastlae.pca(X, K, solver="krylov")
    assert r.components.dtype == np.float32 and r.converged
    w, V, _, _ = reference(X.astype(np.float64), K)   # the data as given, in float64
    np.testing.assert_allclose(r.explained_variance * (X.shape[0] - 1), w, rtol=1e-6)
    assert sin_angle(V, r.components.astype(np.float64)) < 1e-6   # float32 output


@pytest.mark.parametrize("dots", [False, True])
@pytest.mark.parametrize("name", SPECTRA)
def test_formed_gram(name, dots, monkeypatch):
    """On every spectrum, with BLAS's products and with the dot products that Grams and
    bases beyond the cache take (the Gram's on one thread per core, BLAS held at one)."""
    import fastlae._operator as O

    calls = []
    if dots:
        kernel = O.rows_dot
        monkeypatch.setattr(O, "DOT_ROWS_MIN", 0)
        monkeypatch.setattr(O, "rows_dot", lambda *args: calls.append(args[3:]) or kernel(*args))
        monkeypatch.setattr(krylov, "DOT_ELEMENTS", 0)
        monkeypatch.setattr(krylov, "product", _no_basis_gemm(krylov.product))
    X = datasets.zoo(name, 3000, 200, K, random_state=6)
    r = _quiet(lambda: fastlae.pca(X, K, solver="krylov", precision="double"))
    assert r.solver == "krylov" and not r.matrix_free
    _check(r, X)
    assert len(calls) >= r.n_iter if dots else not calls


def _no_basis_gemm(product):
    """``krylov.product`` that refuses the basis projections ``Vs @ X`` (not transposed,
    s x m times m x j): with ``DOT_ELEMENTS = 0`` the dot products take them all."""

    def checked(A, B, trans_a, trans_b):
        assert trans_a or trans_b or A.shape[0] >= B.shape[0], "a basis projection went to BLAS"
        return product(A, B, trans_a, trans_b)

    return checked


@pytest.mark.parametrize("b", [1, 3, 4, 5, 6, 9, 10, 12, 31])
@pytest.mark.parametrize("p, m", [(1, 1), (5, 5), (13, 40), (66, 7)])
def test_rows_dot_matches_gemm(p, m, b):
    """Every row block (four rows, or the last one to three) and column group (five, or
    single columns) of the kernel against NumPy, on square and oblong matrices, over two spans
    that split the rows (one boundary inside a block of four); rows outside a call's span are
    left alone."""
    from fastlae._kernels.dots import rows_dot

    rng = np.random.default_rng(p * 1000 + m * 10 + b)
    C = rng.standard_normal((p, m))
    Qt = rng.standard_normal((b, m))
    expect = Qt @ C.T
    out = np.full((b, p), np.nan)
    cut = min(p, 6)
    rows_dot(C, Qt, out, 0, cut)
    assert np.all(np.isnan(out[:, cut:]))
    rows_dot(C, Qt, out, cut, p)
    np.testing.assert_allclose(out, expect, rtol=0, atol=1e-13 * np.abs(expect).max())


@pytest.mark.parametrize("name", SPECTRA)
def test_sparse_formed_and_by_products(name, monkeypatch):
    X = np.asarray(datasets.zoo(name, 1500, 80, K, random_state=7), dtype=np.float64)
    X[np.abs(X) < np.quantile(np.abs(X), 0.5)] = 0.0   # half the entries zero
    S = sp.csr_matrix(X)
    _check(_quiet(lambda: fastlae.pca(S, K)), X)
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 60)
    r = _quiet(lambda: fastlae.pca(S, K))
    assert r.solver == "krylov" and r.matrix_free and r.certificate == "data"
    _check(r, X)


@pytest.mark.parametrize("name", SPECTRA)
def test_sparse_by_passes_forms_the_gram_where_it_gives_up(name, monkeypatch):
    """Above GRAM_ALWAYS features (lowered here) sparse data whose Gram may be formed run by
    passes first; a flat spectrum makes the run give up after PATIENT_PASSES products and the
    Gram is formed then (eigh at this size). A solver that needs the Gram forms it at once."""
    monkeypatch.setattr("fastlae._sparse.GRAM_ALWAYS", 100)
    X = np.asarray(datasets.zoo(name, 3000, 300, K, random_state=7), dtype=np.float64)
    X[np.abs(X) < np.quantile(np.abs(X), 0.5)] = 0.0
    S = sp.csr_matrix(X)
    r = _quiet(lambda: fastlae.pca(S, K))
    _check(r, X)
    if name in ("gaussian", "flat_tail"):
        assert r.solver == "eigh" and not r.matrix_free
        assert krylov.PATIENT_PASSES <= r.n_iter <= 2 * krylov.PATIENT_PASSES
    else:
        assert r.solver == "krylov" and r.matrix_free and r.n_iter <= 25
    r = _quiet(lambda: fastlae.pca(S, K, solver="eigh"))
    assert r.solver == "eigh" and not r.matrix_free
    _check(r, X)


@pytest.mark.parametrize("name", SPECTRA)
def test_wide_sparse_by_the_sample_gram(name, monkeypatch):
    from fastlae._sparse import Products

    X = np.asarray(datasets.zoo(name, 120, 1500, K, random_state=12), dtype=np.float64)
    X[np.abs(X) < np.quantile(np.abs(X), 0.6)] = 0.0   # 60% of the entries zero
    X[:, ::7] += 3.0 * (X[:, ::7] != 0)   # columns with a mean well away from zero
    S = sp.csr_matrix(X)
    calls = {"rows": 0, "transposed": 0}
    for method, key in (("times_rows", "rows"), ("times_transposed", "transposed")):
        def counted(self, T, *args, _orig=getattr(Products, method), _key=key, **kw):
            calls[_key] += 1
            return _orig(self, T, *args, **kw)
        monkeypatch.setattr(Products, method, counted)
    r = _quiet(lambda: fastlae.pca(S, K))
    assert r.gram == "samples" and not r.matrix_free and r.certificate == "data"
    _check(r, X)
    # besides the Gram (a product with the transpose): the means' product X m, the map of the
    # answer to features, and the certificate's pass (two products)
    assert calls["rows"] + calls["transposed"] <= 4


@pytest.mark.parametrize("name", SPECTRA)
def test_wide_sparse_by_passes_on_the_sample_side(name, monkeypatch):
    monkeypatch.setattr("fastlae._sparse.GRAM_ALWAYS", 0)   # no Gram formed: by passes
    monkeypatch.setattr("fastlae._sparse.GRAM_PER_NONZERO", 0)
    X = np.asarray(datasets.zoo(name, 150, 1200, K, random_state=14), dtype=np.float64)
    X[np.abs(X) < np.quantile(np.abs(X), 0.5)] = 0.0
    X[:, ::5] += 2.0 * (X[:, ::5] != 0)
    r = _quiet(lambda: fastlae.pca(sp.csr_matrix(X), K))
    assert r.gram == "samples" and r.matrix_free and r.solver == "krylov"
    assert r.certificate == "data"
    _check(r, X)


def test_wide_sparse_falls_back_to_passes_when_the_gram_is_off(monkeypatch):
    from fastlae._sparse import Products

    X = np.asarray(datasets.zoo("decaying", 100, 900, K, random_state=13), dtype=np.float64)
    X[np.abs(X) < np.quantile(np.abs(X), 0.5)] = 0.0
    exact = Products.sample_gram

    def off(self, data):   # a sample Gram wrong in its 7th digit
        G = exact(self, data)
        return G + 1e-7 * np.abs(G).max() * np.eye(G.shape[0])[::-1]

    monkeypatch.setattr(Products, "sample_gram", off)
    r = _quiet(lambda: fastlae.pca(sp.csr_matrix(X), K))
    assert r.solver == "krylov" and r.matrix_free and r.certificate == "data"
    assert r.gram == "samples"
    _check(r, X)


@pytest.mark.parametrize("method", ["tiles", "narrow tiles", "rows"])
@pytest.mark.parametrize("layout", ["random", "empty rows and columns", "unsorted", "dense rows"])
def test_sparse_gram_kernel_matches_scipy(layout, method, monkeypatch):
    from fastlae._sparse import Products

    if method == "narrow tiles":   # 7 bands of 64 columns (the last one narrower)
        monkeypatch.setattr("fastlae._sparse.TILE_WIDTH", 64)
    monkeypatch.setattr("fastlae._sparse.TILE_VISITS", 0.0 if method == "rows" else np.inf)

    S = sp.random(3000, 400, density=0.02, format="csr", random_state=8)
    if layout == "empty rows and columns":
        S = sp.diags((np.arange(3000) % 3 != 0).astype(float)) @ S @ sp.diags(
            (np.arange(400) % 5 != 0).astype(float))
        S = sp.csr_matrix(S)
        S.data[::7] = 0.0   # explicit zeros stay stored
    elif layout == "unsorted":
        S = sp.csr_matrix(S)
        for i in range(S.shape[0]):   # reverse each row's entries
            a, b = S.indptr[i], S.indptr[i + 1]
            S.indices[a:b] = S.indices[a:b][::-1].copy()
            S.data[a:b] = S.data[a:b][::-1].copy()
        S.has_sorted_indices = False
    elif layout == "dense rows":
        S = sp.csr_matrix(sp.vstack([S, sp.csr_matrix(np.ones((3, 400)))]))
    P = Products(S, 1.0, np.zeros(1, dtype=np.int64))
    G = (S.T @ S).toarray()
    np.testing.assert_allclose(P.gram(), G, rtol=0, atol=1e-13 * np.abs(G).max())
    u = np.random.default_rng(1).standard_normal(400)
    np.testing.assert_allclose(P.gram(0.5, u), 0.5 * G - np.outer(u, u), rtol=0,
                               atol=1e-13 * np.abs(G).max())
    V = np.random.default_rng(0).standard_normal((400, 7))
    np.testing.assert_allclose(P.times_transposed(P.times_rows(V)), S.T @ (S @ V), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("passes", ["one pass", "two passes"])
@pytest.mark.parametrize("shape", [(2000, 300), (120, 900)])
def test_sparse_centered_products_match_dense(shape, passes, monkeypatch):
    """The products by passes, ``Xc.T (Xc V)`` and on wide data ``Xc (Xc.T U)``, in one pass
    over the non-zeros and in two (the rule's choice when V leaves the cache), against the
    dense centered matrix, at widths around the kernels' groups of four columns."""
    from fastlae._data import PassData
    from fastlae._sparse import Products, _scaled

    if passes == "two passes":
        monkeypatch.setattr("fastlae._sparse.ONE_PASS_BYTES", 0)
    n, d = shape
    S = sp.random(n, d, density=0.05, format="csr", random_state=4)
    S.data += 3.0   # means well away from zero
    stop = np.zeros(1, dtype=np.int64)
    Xs, mean, scale, pre, centered = _scaled(S, stop)
    P = Products(Xs, pre, stop, columns=n < d)
    data = PassData(n, d, mean, scale, float(centered.sum()), P, read_bound=False)
    Xc = (S.toarray() - mean) / scale
    rng = np.random.default_rng(5)
    for b in (1, 3, 4, 6, 9):
        V, U = rng.standard_normal((d, b)), rng.standard_normal((n, b))
        for got, want in ((P.times(data, V), Xc.T @ (Xc @ V)),
                          (P.times_samples(data, U), Xc @ (Xc.T @ U))):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


@pytest.mark.parametrize("name", SPECTRA)
def test_callable_by_passes_counts_its_passes(name, monkeypatch):
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 60)
    X = np.asarray(datasets.zoo(name, 1200, 150, K, random_state=9), dtype=np.float64)
    reads = [0]

    def blocks():
        reads[0] += 1
        return (X[i:i + 300] for i in range(0, len(X), 300))

    r = _quiet(lambda: fastlae.pca(blocks, K))
    assert r.solver == "krylov" and r.certificate == "data"
    assert reads[0] == r.n_iter + 1   # the statistics pass and one per product, no more
    if name in ("decaying", "power_law"):
        assert r.n_iter <= 15
    _check(r, X)


def test_dask_by_passes(monkeypatch):
    """Each product a distributed pass, each chunk centered in slices of rows (64 here, the
    last one shorter)."""
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 60)
    monkeypatch.setattr("fastlae._dask.SLICE_ELEMENTS", 120 * 64)
    X = datasets.zoo("cluster_at_k", 1000, 120, K, random_state=10)
    r = fastlae.pca(da.from_array(X, chunks=(250, 120)), K)
    assert r.solver == "krylov" and r.matrix_free
    _check(r, X)


@pytest.mark.parametrize("name", ["decaying", "gaussian", "cluster_at_k", "rank_below_k"])
def test_wide_dask_by_the_sample_gram(name, monkeypatch):
    da = pytest.importorskip("dask.array")
    from fastlae._dask import ColumnProducts

    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 300)
    X = datasets.zoo(name, 150, 1000, K, random_state=15) + 5.0
    passes = []
    to_features = ColumnProducts.to_features

    def counted(self, data, U):
        out = to_features(self, data, U)
        passes.append(self.passes)
        return out

    monkeypatch.setattr(ColumnProducts, "to_features", counted)
    r = _quiet(lambda: fastlae.pca(da.from_array(X, chunks=(50, 400)), K))
    assert r.gram == "samples" and not r.matrix_free and r.certificate == "gram"
    _check(r, X)
    np.testing.assert_allclose(r.mean, X.mean(axis=0), rtol=1e-14)
    # the Gram, then the map of the answer to features; where the mapped basis is not
    # orthonormal (data of rank below k), the feature Gram's product on its span (two more)
    assert passes[0] == 2 and (passes == [2] or name == "rank_below_k")
    assert len(passes) <= 2 and passes[-1] <= 4


def test_wide_dask_chunks_summed_in_slices(monkeypatch):
    """Column chunks centered and summed in several slices each (a slice of 64 columns here),
    float32 and integer chunks included: the same answer as the data in memory."""
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 300)
    monkeypatch.setattr("fastlae._dask.SLICE_ELEMENTS", 150 * 64)
    X = datasets.zoo("decaying", 150, 1000, K, random_state=16) + 5.0
    for data in (X, np.round(100 * X).astype(np.int32)):
        r = _quiet(lambda: fastlae.pca(da.from_array(data, chunks=(150, 300)), K))
        assert r.gram == "samples" and r.certificate == "gram"
        _check(r, np.asarray(data, dtype=np.float64))
    X32 = X.astype(np.float32)
    r = fastlae.pca(da.from_array(X32, chunks=(150, 300)), K)
    assert r.components.dtype == np.float32 and r.converged
    w, V, _, _ = reference(X32.astype(np.float64), K)   # the data as given, in float64
    np.testing.assert_allclose(r.explained_variance * (X.shape[0] - 1), w, rtol=1e-6)
    assert sin_angle(V, r.components.astype(np.float64)) < 1e-6   # float32 output


def test_wide_dask_chunks_kept_and_blas_at_one_thread_in_threaded_tasks(monkeypatch):
    """Chunks of whole columns are read as they come (wider than the rechunking width here),
    chunks that split the rows are rechunked to whole columns; on dask's threaded scheduler
    each chunk's SYRK runs with BLAS at one thread (one per task, side by side), with BLAS
    restored after the call, and on the synchronous scheduler with BLAS as it was (threaded
    SYRKs one at a time)."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    import fastlae._dask as D
    from fastlae._blas import blas_threads, controllable

    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 300)
    monkeypatch.setattr(D, "COLUMN_CHUNK_BYTES", 150 * 8 * 100)   # 100 columns
    X = datasets.zoo("decaying", 150, 1000, K, random_state=17) + 5.0
    whole = da.from_array(X, chunks=(150, 400))
    assert D.check_dask(whole)[0].chunks == whole.chunks
    split = D.check_dask(da.from_array(X, chunks=(50, 400)))[0]
    assert split.chunks == ((150,), (100,) * 10)

    seen = []
    part = D._column_part

    def recorded(*args):
        seen.append((blas_threads(), D._syrk_turn() is D._SYRK_LOCK))
        return part(*args)

    monkeypatch.setattr(D, "_column_part", recorded)
    before = blas_threads()
    for scheduler, inside in (("threads", 1), ("sync", before)):
        seen.clear()
        with dask.config.set(scheduler=scheduler):
            r = _quiet(lambda: fastlae.pca(whole, K))
        _check(r, X)
        assert len(seen) == 3 and blas_threads() == before
        if before > 1 and controllable():   # one SYRK at a time only on threaded BLAS
            assert set(seen) == {(inside, inside > 1)}


def test_wide_file_is_read_in_place(tmp_path):
    X = datasets.decaying(150, 900, random_state=11)
    path = tmp_path / "wide.npy"
    np.save(path, X)
    for source in (str(path), np.load(path, mmap_mode="r")):
        r = fastlae.pca(source, K)
        assert r.gram == "samples" and not r.matrix_free and r.precision == "double"
        _check(r, X)


def test_formed_gram_flat_spectrum_hands_over_to_eigh():
    """On a formed Gram above KRYLOV_MIN features "auto" starts with Krylov on a budget and
    hands over to LAPACK when its rate predicts more products than eigh costs."""
    from fastlae.solvers import exact_plan

    X = np.random.default_rng(5).standard_normal((3000, 1200))
    plan = exact_plan(3000, 1200, 10)
    assert plan.solver == "krylov" and plan.budget is not None
    r = _quiet(lambda: fastlae.pca(lambda: [X[:1700], X[1700:]], 10))
    assert r.solver == "eigh" and r.n_iter <= plan.budget
    _check(r, X, 10)


def test_matrix_free_krylov_that_gives_up_goes_on_on_the_formed_gram(monkeypatch):
    """A flat spectrum makes matrix-free Krylov give up; on a Gram large enough
    (:func:`fastlae.solvers.flat_plan`: 4000 features, not 2000) Krylov goes on from the span
    it reached on the formed Gram, where products are cheap, instead of a full eigh."""
    import fastlae.api as api
    from fastlae.solvers import Plan, flat_plan

    assert flat_plan(4000, 4000, 20).solver == "krylov"
    assert flat_plan(3000, 2000, 10).solver == "eigh"
    monkeypatch.setattr("fastlae._train.flat_plan",   # the 4000-feature plan at test size
                        lambda n, d, k: Plan("krylov", False, 220, float("inf")))
    X = np.random.default_rng(6).standard_normal((1500, 1200))
    r = _quiet(lambda: api._pca(X, 10, plan=Plan("krylov", True, 28, 1.0)))
    assert r.solver == "krylov" and not r.matrix_free and r.converged and r.n_iter > 12
    _check(r, X, 10)
