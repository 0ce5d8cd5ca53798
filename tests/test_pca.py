"""Every solver against LAPACK on several spectra, dtypes, shapes and memory layouts."""
import numpy as np
import pytest

import fastlae
from fastlae._data import ArrayData
from fastlae._kernels.operator import apply_gram
from fastlae._operator import Operator
from fastlae.solvers import Plan
from naive import SPECTRA, reference, sin_angle, spectrum_data

SOLVERS = ["auto", "gd", "oja", "als", "als_tied", "eigh"]


def assert_matches(X, k, r, tol_eig=1e-8, tol_var=1e-10, tol_sin=1e-6):
    w, V, total, C = reference(X, k)
    n = X.shape[0]
    comps = np.asarray(r.components, dtype=np.float64)
    assert comps.shape == (k, X.shape[1])
    np.testing.assert_allclose(comps @ comps.T, np.eye(k), atol=50 * tol_eig)
    ev = np.asarray(r.explained_variance, dtype=np.float64) * max(n - 1, 1)
    assert np.all(np.diff(ev) <= 1e-12 * max(ev[0], 1e-300))
    assert np.max(np.abs(ev - w)) <= tol_eig * max(w[0], 1e-300)
    captured = np.trace(comps @ C @ comps.T)
    assert abs(captured - w.sum()) <= tol_var * max(total, 1e-300)
    gaps = np.abs(np.diff(w)) / max(w[0], 1e-300)
    if k < min(X.shape) - 1:
        w_next = reference(X, k + 1)[0][-1]
        if (w[-1] - w_next) / w[0] > 1e-3:
            assert sin_angle(V, comps) <= tol_sin
    # the certificate is what it claims to be
    res = np.linalg.norm(C @ comps.T - comps.T * ev, axis=0) / w[0]
    np.testing.assert_allclose(res, r.residuals, atol=100 * tol_eig)
    return gaps


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("spectrum", list(SPECTRA))
def test_solvers_match_lapack(solver, spectrum, rng):
    n, d, k = 120, 30, 4
    X = spectrum_data(n, d, SPECTRA[spectrum](d), rng, mean=3.0)
    r = fastlae.pca(X, k, solver=solver)
    assert r.converged
    assert_matches(X, k, r)


@pytest.mark.parametrize("solver", SOLVERS)
def test_wide_data_uses_sample_gram(solver, rng):
    n, d, k = 25, 80, 5
    X = spectrum_data(n, d, SPECTRA["slow"](n), rng, mean=-1.0)
    r = fastlae.pca(X, k, solver=solver)
    assert r.gram == "samples"
    assert_matches(X, k, r)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_dtypes_and_layouts(dtype, layout, rng):
    X64 = spectrum_data(200, 24, SPECTRA["fast"](24), rng, mean=2.0)
    big = np.zeros((400, 48), dtype=dtype)
    if layout == "C":
        X = np.ascontiguousarray(X64, dtype=dtype)
    elif layout == "F":
        X = np.asfortranarray(X64, dtype=dtype)
    else:
        big[::2, ::2] = X64
        X = big[::2, ::2]
    before = X.copy()
    r = fastlae.pca(X, 3)
    np.testing.assert_array_equal(X, before)  # input never modified
    assert r.components.dtype == dtype
    if dtype == np.float32:  # exact float64 arithmetic on the float32 data, float32 output
        assert_matches(X, 3, r, tol_eig=1e-6, tol_var=1e-6, tol_sin=1e-5)
    else:
        assert_matches(X, 3, r)


@pytest.mark.parametrize("kind", [bool, np.int32, np.int64])
def test_integer_and_bool_input(kind, rng):
    X = (rng.standard_normal((60, 10)) > 0) if kind is bool else rng.integers(-9, 9, (60, 10))
    X = X.astype(kind)
    r = fastlae.pca(X, 3)
    assert r.components.dtype == np.float64
    assert_matches(X.astype(float), 3, r)


def test_read_only_and_list_input(rng):
    X = rng.standard_normal((50, 8))
    X.setflags(write=False)
    r1 = fastlae.pca(X, 2)
    r2 = fastlae.pca(X.tolist(), 2)
    np.testing.assert_allclose(r1.components, r2.components, atol=1e-12)


def test_signs_follow_sklearn_convention(rng):
    X = spectrum_data(100, 12, SPECTRA["fast"](12), rng)
    r = fastlae.pca(X, 4)
    idx = np.argmax(np.abs(r.components), axis=1)
    assert np.all(r.components[np.arange(4), idx] > 0)


def test_derived_quantities(rng):
    X = spectrum_data(90, 15, SPECTRA["slow"](15), rng, mean=1.5)
    r = fastlae.pca(X, 3)
    w, _, total, _ = reference(X, 3)
    np.testing.assert_allclose(r.mean, X.mean(axis=0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.singular_values, np.sqrt(w), rtol=1e-9)
    np.testing.assert_allclose(r.explained_variance, w / (X.shape[0] - 1), rtol=1e-9)
    np.testing.assert_allclose(r.explained_variance_ratio, w / total, rtol=1e-9)


@pytest.mark.parametrize("solver", ["als_tied", "als", "oja", "eigh"])
def test_rank_deficient_and_constant_columns(solver, rng):
    X = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 12))
    X[:, 5] = 7.0  # a constant column
    r = fastlae.pca(X, 6, solver=solver)
    assert np.all(np.isfinite(r.components))
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(6), atol=1e-8)
    w, _, _, _ = reference(X, 6)
    np.testing.assert_allclose(r.explained_variance * 39, w, atol=1e-8 * w[0])
    assert np.all(r.explained_variance[3:] <= 1e-10 * r.explained_variance[0])


def test_k_equal_min_dimension(rng):
    X = rng.standard_normal((6, 9))
    r = fastlae.pca(X, 6)
    assert np.all(np.isfinite(r.components))
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(6), atol=1e-8)
    assert r.explained_variance[-1] <= 1e-10 * r.explained_variance[0]  # centered: rank 5


def test_oversampled_latent_gives_same_answer(rng):
    X = spectrum_data(150, 30, SPECTRA["slow"](30), rng)
    a = fastlae.pca(X, 3, solver="als_tied", n_latent=3)
    b = fastlae.pca(X, 3, solver="als_tied", n_latent=20)
    assert b.n_iter < a.n_iter
    np.testing.assert_allclose(a.components, b.components, atol=1e-7)


def test_same_random_state_is_bit_identical(rng):
    X = spectrum_data(80, 20, SPECTRA["slow"](20), rng)
    a = fastlae.pca(X, 3, solver="oja", random_state=7)
    b = fastlae.pca(X, 3, solver="oja", random_state=7)
    np.testing.assert_array_equal(a.components, b.components)


def test_matrix_free_matches_gram(rng, monkeypatch):
    import fastlae.api

    X = spectrum_data(60, 50, SPECTRA["slow"](50), rng, mean=1e3)
    ref = fastlae.pca(X, 4, solver="eigh")
    r = fastlae.api._pca(X, 4, plan=Plan("als_tied", True))
    assert r.matrix_free
    np.testing.assert_allclose(r.explained_variance, ref.explained_variance, rtol=1e-9)
    np.testing.assert_allclose(np.abs(r.components @ ref.components.T), np.eye(4), atol=1e-7)


def test_large_mean_does_not_cancel(rng):
    X = spectrum_data(200, 10, SPECTRA["fast"](10), rng, mean=1e6)
    r = fastlae.pca(X, 3)
    w, _, _, _ = reference(X - X.mean(axis=0), 3)
    np.testing.assert_allclose(r.explained_variance * 199, w, rtol=1e-8)


@pytest.mark.parametrize("scale", [1e150, 1e-150])
def test_extreme_scales(scale, rng):
    X0 = spectrum_data(50, 8, SPECTRA["fast"](8), rng)
    r0 = fastlae.pca(X0, 3)
    r = fastlae.pca(X0 * scale, 3)
    assert np.all(np.isfinite(r.explained_variance)) and np.all(r.explained_variance > 0)
    np.testing.assert_allclose(r.explained_variance / scale**2, r0.explained_variance,
                               rtol=1e-10)
    np.testing.assert_allclose(r.components, r0.components, atol=1e-10)


def test_single_row():
    r = fastlae.pca(np.array([[1.0, 2.0, 3.0]]), 1)
    assert np.all(np.isfinite(r.components)) and r.explained_variance[0] == 0
    np.testing.assert_allclose(np.linalg.norm(r.components), 1.0)


def test_max_iter_exhausted_warns(rng):
    X = spectrum_data(100, 30, SPECTRA["slow"](30), rng)
    with pytest.warns(fastlae.ConvergenceWarning, match="stopped after max_iter=3"):
        r = fastlae.pca(X, 5, solver="gd", max_iter=3)
    assert not r.converged and np.all(np.isfinite(r.components))


def test_large_explicit_lam_warns_and_stays_finite(rng):
    X = spectrum_data(100, 12, np.array([9.0, 4.0, 1.0, 0.5] + [0.01] * 8), rng)
    with pytest.warns(fastlae.CollapseWarning, match="collapses 2 of the k=4"):
        r = fastlae.pca(X, 4, solver="als_tied", lam=2.0, max_iter=200)
    assert np.all(np.isfinite(r.components)) and np.all(np.isfinite(r.explained_variance))
    w, _, _, _ = reference(X, 2)
    np.testing.assert_allclose(r.explained_variance[:2] * 99, w, rtol=1e-8)


def test_n_threads_is_restored(rng):
    import numba
    from threadpoolctl import threadpool_info

    before = numba.get_num_threads(), [i["num_threads"] for i in threadpool_info()]
    X = spectrum_data(100, 20, SPECTRA["slow"](20), rng)
    a = fastlae.pca(X, 3, n_threads=1)
    b = fastlae.pca(X, 3, n_threads=2)
    assert (numba.get_num_threads(), [i["num_threads"] for i in threadpool_info()]) == before
    np.testing.assert_allclose(a.components, b.components, atol=1e-12)


def test_one_pass_gram_equals_two_pass(rng, monkeypatch):
    import fastlae._gram as g

    X = spectrum_data(600, 12, SPECTRA["slow"](12), rng, mean=50.0)
    X = X[np.argsort(X[:, 0])]  # sorted: the first block's mean is far from the mean
    one = ArrayData(X, 1)
    C1, _ = g.form_gram(one)
    monkeypatch.setattr(g, "KAPPA_MAX", 0.0)  # forces the exact-mean second pass
    two = ArrayData(X, 1)
    C2, _ = g.form_gram(two)
    np.testing.assert_allclose(one.mean, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(two.mean, X.mean(axis=0), rtol=1e-13)
    C_one, C_two = C1 * one.scale ** 2, C2 * two.scale ** 2
    np.testing.assert_allclose(C_one, C_two, rtol=1e-11, atol=1e-11 * np.abs(C_two).max())


@pytest.mark.parametrize("order", ["C", "F"])
def test_scale_fallback_when_first_block_is_tiny(order):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1200, 6))
    X[:300] *= 1e-30  # the provisional scale from the first block would overflow the squares
    X = np.asarray(X, order=order)
    import fastlae._gram as g
    from fastlae._validation import check_X

    assert g.one_pass_features(ArrayData(*check_X(X)[:2])) is None  # the fallback does run
    r = fastlae.pca(X, 2)
    w, V, _, _ = reference(X, 2)
    np.testing.assert_allclose(r.explained_variance * 1199, w, rtol=1e-10)


@pytest.mark.parametrize("order", ["C", "F"])
def test_scale_fallback_when_first_block_is_constant(order):
    rng = np.random.default_rng(4)
    X = np.zeros((1200, 6))
    X[300:] = 1e-150 * rng.standard_normal((900, 6))  # provisional scale 1: squares near underflow
    X = np.asarray(X, order=order)
    import fastlae._gram as g
    from fastlae._validation import check_X

    assert g.one_pass_features(ArrayData(*check_X(X)[:2])) is None  # the fallback does run
    r = fastlae.pca(X, 2)
    w, V, _, _ = reference(X * 1e150, 2)
    np.testing.assert_allclose(r.explained_variance * 1199, w * 1e-300, rtol=1e-10)
    assert np.linalg.norm(V - r.components.T @ (r.components @ V), 2) < 1e-8


@pytest.mark.parametrize("mean, factor, order, dtype, tol, uncentered", [
    (0.5, 1.0, "C", np.float64, 1e-10, True),
    (1e6, 1.0, "C", np.float64, 1e-10, False),    # a large mean would cancel uncentered
    (0.5, 1.0, "C", np.float64, 1e-15, False),    # the tolerance is below its rounding bound
    (0.5, 1.0, "F", np.float64, 1e-10, False),    # features are rows of the validated array
    (0.5, 1.0, "C", np.float32, 1e-5, False),     # float32 products would round to float32
    (0.5, 1e100, "C", np.float64, 1e-10, False),  # unscaled products could overflow
])
def test_matrix_free_operators(mean, factor, order, dtype, tol, uncentered, rng, monkeypatch):
    import fastlae.api
    from fastlae._validation import check_X

    X = spectrum_data(90, 40, SPECTRA["slow"](40), rng, mean=mean) * factor
    X = np.asarray(X, order=order, dtype=dtype)
    data = ArrayData(*check_X(X)[:2])
    op = Operator(data)
    assert op.use_uncentered(tol) is uncentered
    # the operator the solvers see equals the centered Gram (scaled) times V
    V = rng.standard_normal((40, 6))
    Xc = X.astype(np.float64) - X.astype(np.float64).mean(axis=0)
    want = Xc.T @ (Xc @ V) / data.scale ** 2
    got = apply_gram(op.kernel_op(), V)
    assert np.abs(got - want).max() <= 1e-13 * np.abs(want).max()  # float64 also for float32
    # and the trace from the statistics pass is the centered one
    np.testing.assert_allclose(op.trace() * data.scale ** 2, np.sum(Xc ** 2), rtol=1e-12)
    r = fastlae.api._pca(X, 4, plan=Plan("als_tied", True), tol=max(tol, 1e-10))
    assert r.matrix_free and r.converged
    if factor != 1.0:  # the reference's squares would overflow: compare at unit scale
        w, V, _, _ = reference(X / factor, 4)
        np.testing.assert_allclose(r.explained_variance / factor ** 2 * 89, w, rtol=1e-9)
        assert sin_angle(V, r.components) < 1e-6
    elif dtype == np.float64:
        assert_matches(X, 4, r)


def test_statistics_trace_falls_back_when_it_would_cancel(rng):
    X = rng.standard_normal((300000, 3))
    X[:256] += 1e4  # the provisional center (the first 256 rows) is far from the mean
    data = ArrayData(X, 1).stats()
    assert data.total is None  # n |mean - shift|^2 > KAPPA_MAX * trace: the centered pass runs
    Xc = X - X.mean(axis=0)
    np.testing.assert_allclose(Operator(data).trace() * data.scale ** 2, np.sum(Xc ** 2),
                               rtol=1e-12)


@pytest.mark.parametrize("order", ["C", "F"])
def test_matrix_free_on_the_sample_gram(order, rng, monkeypatch):
    import fastlae.api

    X = np.asarray(spectrum_data(40, 90, SPECTRA["slow"](40), rng, mean=2.0), order=order)
    r = fastlae.api._pca(X, 4, plan=Plan("als_tied", True))
    assert r.matrix_free and r.gram == "samples" and r.converged
    assert_matches(X, 4, r)


@pytest.mark.parametrize("solver", ["gd", "oja", "als", "als_tied"])
def test_solvers_continue_from_given_weights(solver, rng):
    # fastlae.pca continues a solver from its last weights when the exact certificate is
    # stricter than the solver's own check: a continued run must not start over
    import fastlae._gram as g
    from fastlae.solvers import REGISTRY

    X = spectrum_data(200, 30, SPECTRA["fast"](30), rng, mean=1.0)
    data = ArrayData(X, 1)
    C, trace = g.form_gram(data)
    op = Operator(data, C)
    module = REGISTRY[solver]
    floor = 30 * np.finfo(float).eps * trace

    def run(tol, init=None, lam=None):
        return module.solve(op, 3, 6, lam, floor, tol, 0.0, 100_000, np.random.default_rng(0),
                            init=init)

    cold = run(1e-10)
    rough = run(1e-4)
    warm = run(1e-10, init=(rough.W1, rough.W2), lam=rough.lam)
    assert warm.check <= 1e-10
    assert warm.n_iter < cold.n_iter


@pytest.mark.parametrize("solver", ["gd", "oja"])
def test_gradient_solvers_stop_once_certified(solver, rng):
    # with the default lam only the certificate decides (no stationarity test): a run must
    # end when it is certified, not at max_iter
    X = spectrum_data(200, 30, SPECTRA["fast"](30), rng, mean=1.0)
    r = fastlae.pca(X, 3, solver=solver)
    assert r.converged and r.n_iter < 5000


def _record_sample_pairs(monkeypatch):
    import fastlae._certify as cert

    used = []
    original = cert.feature_pair_from_samples
    monkeypatch.setattr(cert, "feature_pair_from_samples",
                        lambda *a: used.append(original(*a)) or used[-1])
    return used


@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("mean", [3.0, 1e7])   # mapped uncentered, and centered
def test_wide_certificate_from_the_sample_gram(spectrum, order, mean, rng, monkeypatch):
    """Wide data: the feature basis and its Gram product come from one pass over X with the
    formed sample Gram; the certificate still equals the true residual."""
    used = _record_sample_pairs(monkeypatch)
    n, d, k = 40, 300, 5
    X = np.asarray(spectrum_data(n, d, SPECTRA[spectrum](n), rng, mean=mean), order=order)
    r = fastlae.pca(X, k, solver="eigh" if spectrum == "repeated" else "auto")
    assert r.gram == "samples" and used and used[-1] is not None
    assert_matches(X, k, r)
    w, _, _, C = reference(X, k)
    ev = r.explained_variance * (n - 1)
    res = np.linalg.norm(C @ r.components.T - r.components.T * ev, axis=0) / w[0]
    np.testing.assert_allclose(r.residuals, res, rtol=0, atol=1e-12)


def test_wide_certificate_falls_back_when_wanted_directions_vanish(rng, monkeypatch):
    used = _record_sample_pairs(monkeypatch)
    n, d, k = 30, 200, 5
    X = rng.standard_normal((n, 3)) @ rng.standard_normal((3, d)) + 1.0   # rank 3 < k
    r = fastlae.pca(X, k)
    assert used and used[-1] is None   # fewer than k directions kept: the two-pass route
    w, V, _, _ = reference(X, 3)
    np.testing.assert_allclose(r.explained_variance[:3] * (n - 1), w, rtol=1e-10)
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(k), atol=1e-12)
    assert np.all(np.isfinite(r.components)) and np.all(r.explained_variance[3:] < 1e-12 * w[0])
