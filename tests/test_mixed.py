"""Mixed precision: the float32 Gram refined by float64 passes agrees with LAPACK in float64.

Every spectrum of the zoo, float64 and float32 input, both memory orders: the answer is either
refined (``r.precision == "mixed"``) or, where the float32 Gram cannot resolve it, formed
again in float64 (``"double"``); either way it agrees with LAPACK on the exact Gram as closely
as the float64 path does, and its reported residuals bound the true ones.
"""
import warnings

import numpy as np
import pytest

import fastlae
import fastlae._mixed as mixed
import fastlae.api
from fastlae.datasets import ZOO, zoo
from fastlae.solvers import single_saves
from naive import reference, sin_angle
from test_zoo import run

K = 5
N, D = 3000, 120
# where the float32 Gram cannot resolve the answer: the k-th eigenvalue is zero (rank below
# k)
FALLS_BACK = {"rank_below_k"}


def check(X, k, r, tol=1e-10):
    """Eigenvalues to 1e-12 of the largest, true residuals within the reported ones and below
    tol, components where the spectrum determines them."""
    Xf = np.asarray(X, dtype=np.float64)
    scale = 2.0 ** np.frexp(np.abs(Xf).max())[1]   # keeps the reference's squares finite
    w, V, _, C = reference(Xf / scale, k + 1)
    top = w[0]
    ev = np.asarray(r.explained_variance, dtype=np.float64) * (Xf.shape[0] - 1) / scale ** 2
    rounding = 2.0 ** -24 * np.abs(w[:k]) if X.dtype == np.float32 else 0.0   # float32 output
    assert np.all(np.abs(ev - w[:k]) <= 1e-12 * top + rounding)
    comps = np.asarray(r.components, dtype=np.float64)
    true = np.linalg.norm(C @ comps.T - comps.T * ev, axis=0) / top
    assert r.converged and r.residuals.max() <= tol
    if X.dtype == np.float64:   # float32 output rounds the components at 6e-8
        assert np.all(true <= r.residuals + 1e-13)
        if (w[k - 1] - w[k]) > 1e-3 * top:
            assert sin_angle(V[:, :k], comps) <= 1e-9
        if np.all(-np.diff(w[: k + 1]) > 1e-3 * top):   # every component is determined
            assert r.component_errors.max() <= 1e-6
            cos = np.sum(V[:, :k] * comps.T, axis=0)
            sines = np.linalg.norm(V[:, :k] - comps.T * cos, axis=0)
            assert np.all(sines <= r.component_errors + 1e-12)
    np.testing.assert_allclose(r.mean, Xf.mean(axis=0), rtol=1e-6 if X.dtype == np.float32
                               else 1e-12, atol=1e-12 * np.abs(Xf).max())


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("name", list(ZOO))
def test_mixed_on_the_zoo(name, order):
    X = np.asarray(zoo(name, N, D, k=K), order=order)
    r, warned = run(X, K, precision="mixed")
    assert r.precision == ("double" if name in FALLS_BACK else "mixed")
    assert warned == ([fastlae.RankWarning] if name == "rank_below_k" else [])
    if r.precision == "mixed":
        assert r.certificate in ("data", "corrected")
        check(X, K, r)
    else:   # the float64 path after all
        assert r.certificate == "gram"
        if name != "rank_below_k":
            check(X, K, r)


@pytest.mark.parametrize("name", ["decaying", "gaussian", "pixels", "cluster_at_k"])
def test_float32_input_refines_to_the_float64_answer(name):
    X = zoo(name, N, D, k=K, dtype=np.float32)
    r = fastlae.pca(X, K, precision="mixed")
    assert r.precision == "mixed" and r.components.dtype == np.float32
    check(X, K, r)
    # no less accurate than the float64 path on the same float32 values
    d = fastlae.pca(X, K, precision="double")
    w = reference(X.astype(np.float64), K)[0]
    err = np.abs(np.asarray(r.explained_variance, np.float64) * (N - 1) - w).max()
    err_double = np.abs(np.asarray(d.explained_variance, np.float64) * (N - 1) - w).max()
    assert err <= 2.0 * err_double + 1e-12 * w[0]


def test_tighter_tolerance_and_the_certificate():
    X = zoo("power_law", N, D, k=K)
    r = fastlae.pca(X, K, precision="mixed", tol=1e-13)
    assert r.precision == "mixed"
    check(X, K, r, tol=1e-13)
    # a pass that certifies directly says so: with a tolerance above the float32 level the
    # trained span's exact residuals already pass
    loose = fastlae.pca(X, K, precision="mixed", tol=1e-5)
    assert loose.precision == "mixed" and loose.certificate == "data"
    assert loose.residuals.max() <= 1e-5


def test_the_refinement_itself_from_a_float32_span(rng):
    """refine() from the float32 Gram's eigenvectors: one pass, exact to rounding."""
    from fastlae._data import ArrayData

    X = zoo("decaying", N, D, k=K)
    data = ArrayData(X, 1)
    C32 = mixed.form_gram(data, single=True)[0]
    _, B = np.linalg.eigh(C32)
    out = mixed.refine(data, C32, np.ascontiguousarray(B[:, ::-1][:, :20]), K, 1e-10)
    assert out is not None and out.passes == 1
    Xs = (X - X.mean(axis=0)) / data.scale
    C = Xs.T @ Xs
    np.testing.assert_allclose(C32.diagonal(), C.diagonal(), rtol=1e-13)
    assert np.abs(C32 - C).max() > 1e-9 * np.abs(C).max()   # it really is float32
    w = np.linalg.eigvalsh(C)[::-1][:K]
    np.testing.assert_allclose(out.theta, w, rtol=1e-13)
    Y = mixed.exact_product(data, out.vecs)
    np.testing.assert_allclose(Y, C @ out.vecs, atol=1e-12 * w[0])
    unc = mixed.exact_product(data, out.vecs, uncentered=True)
    np.testing.assert_allclose(unc, C @ out.vecs, atol=1e-11 * w[0])


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 3])
def test_exact_pass_over_threads_and_spans(order, dtype, threads, rng, monkeypatch):
    """The float64 pass split into spans of small blocks on 1 or 3 threads (each thread a
    compiled call per span) gives Xs.T Xs V, centered and (C order, float64) uncentered."""
    import fastlae._blas as blas_module
    from fastlae._data import ArrayData
    from fastlae._validation import check_X

    monkeypatch.setattr("fastlae._operator.SPAN_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr("fastlae._threads.blas_threads", lambda: threads)
    monkeypatch.setattr(blas_module, "limit_to_one", lambda: True)
    monkeypatch.setattr(blas_module, "restore", lambda: None)
    X = np.asarray(2.0 + rng.standard_normal((500, 9)), dtype=dtype, order=order)
    A, feat_axis, _ = check_X(X)
    data = ArrayData(A, feat_axis).stats()
    V = rng.standard_normal((9, 4))
    Xs = (X.astype(np.float64) - X.astype(np.float64).mean(axis=0)) * data.inv
    ref = Xs.T @ (Xs @ V)
    tol = 1e-12 * np.abs(ref).max()
    np.testing.assert_allclose(mixed.exact_product(data, V), ref, rtol=0, atol=tol)
    if mixed.uncentered_pass(data, float(np.trace(Xs.T @ Xs)), 1e-10):
        assert order == "C" and dtype == np.float64
        np.testing.assert_allclose(mixed.exact_product(data, V, uncentered=True), ref,
                                   rtol=0, atol=tol)


def test_auto_leaves_data_flat_around_k_in_double(monkeypatch):
    """Over a flat stretch around k the refinement costs what the float32 pass saves, or
    cannot resolve the answer: "auto" keeps float64 there, an explicit "mixed" is honoured
    (and falls back where it must)."""
    monkeypatch.setattr(mixed, "single_saves", lambda *args: True)
    assert fastlae.pca(zoo("flat_tail", N, D, k=K), K).precision == "double"
    for name in ("gaussian", "pixels", "uniform"):
        X = zoo(name, N, D, k=K)
        assert fastlae.pca(X, K).precision == "double"
        assert fastlae.pca(X, K, precision="mixed").precision == "mixed"
    for name in ("decaying", "power_law", "cluster_at_k", "rank_at_k"):
        assert fastlae.pca(zoo(name, N, D, k=K), K).precision == "mixed"


def test_auto_precision_of_files(monkeypatch, tmp_path):
    """A tall file that fits in memory takes the precision of the array in memory (its
    refinement pass reads the page cache); a wide one read in place (two passes give the
    answer) and one beyond memory stay in float64."""
    monkeypatch.setattr(mixed, "single_saves", lambda *args: True)
    X = zoo("decaying", N, D, k=K)
    np.save(tmp_path / "tall.npy", X)
    np.save(tmp_path / "wide.npy", np.ascontiguousarray(X[:100]))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(X))
    assert fastlae.pca(X, K).precision == "mixed"
    for source in (str(tmp_path / "tall.npy"), np.load(tmp_path / "tall.npy", mmap_mode="r"),
                   str(tmp_path / "fortran.npy")):
        r = fastlae.pca(source, K)
        assert r.precision == "mixed"
        check(X, K, r)
    assert fastlae.pca(str(tmp_path / "wide.npy"), K).precision == "double"
    monkeypatch.setattr("fastlae._stream.IN_PLACE_MEMORY", 0.0)   # beyond memory
    assert fastlae.pca(str(tmp_path / "fortran.npy"), K).precision == "double"   # in place
    assert fastlae.pca(str(tmp_path / "tall.npy"), K).precision == "double"   # by row blocks


def test_auto_precision_follows_the_cost_model(monkeypatch):
    # large and tall: mixed; small, narrow, or k large against d: double
    assert single_saves(100_000, 1000, 10) and single_saves(200_000, 1000, 20)
    assert single_saves(100_000, 1000, 10, threads=16)
    assert not single_saves(50_000, 500, 10) and not single_saves(20_000, 1000, 10)
    assert not single_saves(200_000, 256, 10)
    assert not single_saves(20_000, 2000, 50)
    assert not single_saves(400, 40, 5)
    X = zoo("decaying", 6000, 400, k=5)
    assert fastlae.pca(X, 5).precision == "double"
    monkeypatch.setattr(mixed, "single_saves", lambda *args: True)
    assert fastlae.pca(X, 5).precision == "mixed"
    assert fastlae.pca(X, 5, precision="double").precision == "double"
    # an explicit lam studies the trained weights: double, unless asked
    assert fastlae.pca(X, 5, lam=1.0).precision == "double"
    assert fastlae.pca(X, 5, solver="oja").precision == "double"
    # wide data: the sample Gram, in float32 too (see test_mixed_on_wide_data)
    assert fastlae.pca(X[:200], 5).precision == "mixed"


def test_paths_that_stay_double():
    X = zoo("decaying", 100, 400, k=K)
    stream = [X[:50], X[50:]]   # a stream's Gram is formed as it arrives
    assert fastlae.pca(stream, K, precision="mixed").precision == "double"


WN, WD = 100, 1000   # wide: the sample Gram


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("name", list(ZOO))
def test_mixed_on_wide_data(name, order):
    """The float32 sample Gram, refined by float64 passes, mapped to features by one more:
    every spectrum agrees with LAPACK and its residuals bound the true feature residuals."""
    X = np.asarray(zoo(name, WN, WD, k=K), order=order)
    r, warned = run(X, K, precision="mixed")
    assert r.gram == "samples"
    assert r.precision == ("double" if name in FALLS_BACK else "mixed")
    assert warned == ([fastlae.RankWarning] if name == "rank_below_k" else [])
    if r.precision == "mixed":
        assert r.certificate in ("data", "corrected")
    check(X, K, r)


@pytest.mark.parametrize("name", ["decaying", "gaussian", "cluster_at_k"])
def test_mixed_on_wide_float32_input(name):
    X = zoo(name, WN, WD, k=K).astype(np.float32)
    r = fastlae.pca(X, K, precision="mixed")
    assert r.gram == "samples" and r.precision == "mixed"
    check(X, K, r)


def test_auto_takes_wide_data_flat_around_k_to_mixed(monkeypatch):
    """On wide data the refinement works on the small sample Gram, so "auto" does not keep
    a flat spectrum in float64 (as it does on tall data): where the cost model says the
    float32 pass pays, it runs."""
    monkeypatch.setattr(mixed, "single_saves", lambda *args: True)
    for name in ("gaussian", "decaying"):
        r = fastlae.pca(zoo(name, WN, WD, k=K), K)
        assert r.gram == "samples" and r.precision == "mixed"


def test_named_solvers_and_lam_train_on_the_float32_gram():
    X = zoo("decaying", N, D, k=K)
    for solver in ("eigh", "als_tied", "als"):
        r = fastlae.pca(X, K, solver=solver, precision="mixed")
        assert r.precision == "mixed" and r.solver == solver
        check(X, K, r)
    r = fastlae.pca(X, K, solver="als_tied", lam=1e-3, precision="mixed")
    assert r.precision == "mixed" and r.encoder is not None
    check(X, K, r)


@pytest.mark.parametrize("wide", [False, True])
def test_nonfinite_and_huge_values(wide):
    n, d = (WN, WD) if wide else (N, D)
    X = zoo("decaying", n, d, k=K)
    X[5, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fastlae.pca(X, K, precision="mixed")
    X[5, 7] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        fastlae.pca(X, K, precision="mixed")
    Y = zoo("decaying", n, d, k=K) * 1e100   # scaled by a power of two: refined as usual
    r = fastlae.pca(Y, K, precision="mixed")
    assert r.precision == "mixed"
    check(Y, K, r)
    # a sample (a feature of wide data) far beyond the first ones' scale: its squares
    # overflow float32
    if wide:
        Y[:, -1] *= 1e20
    else:
        Y[-1] *= 1e20
    with pytest.warns(fastlae.RankWarning):   # and it is all the variance there is
        r = fastlae.pca(Y, K, precision="mixed")
    assert r.precision == "double"
    check(Y, K, r)


@pytest.mark.parametrize("value", ["single", None, 32, "Mixed"])
def test_precision_is_validated(value):
    X = zoo("decaying", 100, 10)
    with pytest.raises(ValueError, match="precision=.* is not one of"):
        fastlae.pca(X, 2, precision=value)


def test_estimator_and_cli_take_precision(tmp_path):
    pytest.importorskip("sklearn")
    X = zoo("decaying", N, D, k=K)
    est = fastlae.PCA(K, precision="mixed").fit(X)
    assert est.precision_ == "mixed"
    ref = fastlae.PCA(K, precision="double").fit(X)
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-12)
    with pytest.raises(ValueError, match="precision"):
        fastlae.PCA(K, precision="half").fit(X)


def test_blas_threads_are_restored_after_the_mixed_path(monkeypatch):
    """The mixed path holds BLAS at one thread from the float32 pass to the end of the
    refinement; the caller's thread counts come back, also when the refinement falls back
    or fails."""
    from threadpoolctl import threadpool_info

    def counts():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = counts()
    X = zoo("decaying", N, D, k=K)
    assert fastlae.pca(X, K, precision="mixed").precision == "mixed"
    assert counts() == before
    with pytest.warns(fastlae.RankWarning):
        r = fastlae.pca(zoo("rank_below_k", N, D, k=K), K, precision="mixed")
    assert r.precision == "double"   # fell back
    assert counts() == before

    def failing(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(mixed, "exact_product", failing)
    with pytest.raises(RuntimeError, match="injected"):
        fastlae.pca(X, K, precision="mixed")
    assert counts() == before


def test_the_probe_sends_unresolvable_spectra_to_double_before_the_float32_pass(monkeypatch):
    """A k-th eigenvalue below float32's resolution is seen by the probe of the first rows:
    no float32 Gram is formed for nothing."""
    from fastlae._data import ArrayData

    def seen(name, k=K):
        return mixed.probe(ArrayData(zoo(name, N, D, k=k), 1), k, np.random.default_rng(0))

    assert mixed.resolvable(seen("decaying"), K) and mixed.falls(seen("decaying"), K)
    assert mixed.resolvable(seen("gaussian"), K) and not mixed.falls(seen("gaussian"), K)
    assert mixed.resolvable(seen("flat_tail"), K) and not mixed.falls(seen("flat_tail"), K)
    assert not mixed.resolvable(seen("rank_below_k"), K)
    assert not mixed.resolvable(seen("large_mean", 12), 12)   # 4^-i: the 12th is 2e-7
    wide_range = zoo("large_mean", N, D, k=12)

    def not_called(data, single=False):
        raise AssertionError("the float32 Gram was formed")

    monkeypatch.setattr(mixed, "form_gram", not_called)
    r = fastlae.pca(wide_range, 12, precision="mixed")
    assert r.precision == "double"
    check(wide_range, 12, r)


@pytest.mark.parametrize("seed", range(4))
def test_the_refinement_from_a_span_far_from_converged(seed):
    """refine() from a random span (Ritz values inside the rest of the spectrum, where the
    correction equations are indefinite): a certified answer or None, never a failure."""
    from fastlae._data import ArrayData

    X = zoo("decaying", N, D, k=K)
    data = ArrayData(X, 1)
    C32 = mixed.form_gram(data, single=True)[0]
    basis = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, 2 * K)))[0]
    out = mixed.refine(data, C32, np.ascontiguousarray(basis), K, 1e-10)
    if out is not None:
        Xs = (X - X.mean(axis=0)) / data.scale
        C = Xs.T @ Xs
        w = np.linalg.eigvalsh(C)[::-1]
        true = np.linalg.norm(C @ out.vecs - out.vecs * out.theta, axis=0) / w[0]
        assert np.all(true <= out.res + 1e-13) and out.res.max() <= 1e-10


@pytest.mark.parametrize("solver", ["gd", "oja", "krylov"])
def test_named_solvers_stopped_early_on_the_float32_gram(solver):
    """A solver stopped far from converged by max_iter: the refinement certifies, or declines
    and the answer is the float64 path's, with its warning."""
    X = zoo("decaying", N, D, k=K)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fastlae.pca(X, K, solver=solver, max_iter=1, precision="mixed")
    if r.converged:
        check(X, K, r)
    else:
        assert r.precision == "double"
        assert any(issubclass(w.category, fastlae.ConvergenceWarning) for w in caught)
