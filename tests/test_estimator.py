"""fastlae.PCA against sklearn.decomposition.PCA(svd_solver="full"), and sklearn's own checks."""
import pickle

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.decomposition import PCA as SkPCA  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastlae  # noqa: E402
from fastlae.estimator import PCA  # noqa: E402

# Every check runs and passes; scikit-learn itself skips its array-API checks unless
# SCIPY_ARRAY_API=1 (fastlae does not declare array-API support).
@pytest.mark.slow
@parametrize_with_checks([PCA(), PCA(n_components=2), PCA(n_components=0.8, whiten=True),
                          PCA(2, solver="gd"), PCA(2, solver="oja"), PCA(2, solver="als"),
                          PCA(2, solver="eigh", whiten=True)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _datasets():
    rng = np.random.default_rng(0)
    yield "iris", load_iris().data
    yield "wine", StandardScaler().fit_transform(load_wine().data)
    yield "diabetes", load_diabetes().data
    yield "digits", load_digits().data[:400]
    yield "wide", rng.standard_normal((30, 80)) @ np.diag(np.linspace(3, 0.1, 80))
    yield "tall", rng.standard_normal((500, 12)) * np.linspace(4, 0.2, 12) + 5.0


def _sign_align(a, b):
    return a * np.sign(np.sum(a * b, axis=1, keepdims=True))


@pytest.mark.parametrize("name, X", list(_datasets()))
@pytest.mark.parametrize("n_components", [3, 0.9, None])
@pytest.mark.parametrize("whiten", [False, True])
def test_matches_sklearn_full(name, X, n_components, whiten):
    if name == "digits" and n_components is None:
        pytest.skip("digits has constant pixels: the trailing components span a zero-variance "
                    "eigenspace where any orthonormal basis is right")
    ours = PCA(n_components, whiten=whiten).fit(X)
    ref = SkPCA(n_components, whiten=whiten, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    k = ref.n_components_
    ev = ref.explained_variance_
    # components are unique only where eigenvalues are separated from their neighbours
    sep = np.ones(k, dtype=bool)
    full = np.linalg.eigvalsh(np.cov(X.T))[::-1] if X.shape[0] > X.shape[1] else None
    if full is not None:
        gaps = np.abs(np.diff(full))
        left = np.r_[np.inf, gaps][:k]
        right = gaps[:k] if len(gaps) >= k else np.r_[gaps, np.inf][:k]
        sep = np.minimum(left, right) > 1e-6 * full[0]
    else:
        sep[:] = ev > 1e-8 * ev[0]
    np.testing.assert_allclose(ours.components_[sep], ref.components_[sep], atol=1e-7)
    np.testing.assert_allclose(ours.explained_variance_, ev, rtol=1e-7, atol=1e-12 * ev[0])
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-7,
                               atol=1e-10 * ref.singular_values_[0])
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-7,
                               atol=1e-12 * ev[0])
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12, atol=1e-12)
    if sep.all():
        Xt = ours.transform(X)
        np.testing.assert_allclose(Xt, ref.transform(X), rtol=1e-6, atol=1e-7 * np.abs(Xt).max())
        np.testing.assert_allclose(ours.inverse_transform(Xt), ref.inverse_transform(ref.transform(X)),
                                   atol=1e-7 * np.abs(X).max())
    if ref.noise_variance_ > 1e-6 * ev[0]:  # pPCA likelihood is defined
        np.testing.assert_allclose(ours.score(X), ref.score(X), rtol=1e-7)
        np.testing.assert_allclose(ours.get_covariance(), ref.get_covariance(), rtol=1e-6,
                                   atol=1e-9 * ev[0])
        np.testing.assert_allclose(ours.get_precision(), ref.get_precision(), rtol=1e-5,
                                   atol=1e-7 * np.abs(ref.get_precision()).max())


def test_float32_kept_and_close():
    X = load_digits().data[:300].astype(np.float32)
    ours = PCA(5).fit(X)
    ref = SkPCA(5, svd_solver="full").fit(X.astype(np.float64))
    assert ours.components_.dtype == np.float32
    assert ours.transform(X).dtype == np.float32
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-5)


@pytest.mark.slow
def test_pipeline_gridsearch_clone_pickle():
    X, y = load_iris(return_X_y=True)
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(PCA(), LogisticRegression(max_iter=500))
    grid = GridSearchCV(pipe, {"pca__n_components": [1, 2, 3]}, cv=3).fit(X, y)
    assert grid.best_params_["pca__n_components"] in (1, 2, 3)
    est = PCA(2, solver="als_tied").fit(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "components_")


def test_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    data = load_iris(as_frame=True).data
    est = PCA(2).set_output(transform="pandas").fit(data)
    out = est.transform(data)
    assert list(out.columns) == ["pca0", "pca1"]
    assert list(est.feature_names_in_) == list(data.columns)
    np.testing.assert_array_equal(est.get_feature_names_out(), ["pca0", "pca1"])


def test_fastlae_attributes():
    X = load_wine().data
    est = PCA(3, solver="gd").fit(StandardScaler().fit_transform(X))
    assert est.solver_ == "gd" and est.n_iter_ > 0 and est.converged_
    assert est.residuals_.shape == (3,) and np.all(est.residuals_ <= 1e-10)
    assert est.n_samples_ == X.shape[0]


@pytest.mark.parametrize("bad, exc", [(-1, ValueError), (1.5, ValueError), (5, ValueError),
                                      ("two", TypeError), (True, TypeError)])
def test_bad_n_components(bad, exc):
    with pytest.raises(exc, match="n_components="):
        PCA(bad).fit(np.random.default_rng(0).standard_normal((10, 4)))


@pytest.mark.slow
def test_import_fastlae_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, fastlae; fastlae.pca([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]], 1); " \
           "print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert fastlae.PCA is PCA


def test_every_sklearn_argument_is_accepted():
    """Code written for sklearn.decomposition.PCA runs unchanged, with the same answer."""
    X = load_wine().data
    names = sorted(SkPCA().get_params())
    assert set(names) <= set(PCA().get_params())
    for svd_solver in ("auto", "full", "covariance_eigh", "arpack", "randomized"):
        kwargs = dict(n_components=3, copy=False, whiten=True, svd_solver=svd_solver, tol=0.0,
                      iterated_power=4, n_oversamples=5, power_iteration_normalizer="QR",
                      random_state=np.random.RandomState(0))
        ours = PCA(**kwargs).fit(X)
        theirs = SkPCA(**{**kwargs, "random_state": 0}).fit(X)
        np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_,
                                   rtol=1e-7)
        np.testing.assert_allclose(np.abs(ours.transform(X)), np.abs(theirs.transform(X)),
                                   rtol=1e-5, atol=1e-8)
        assert ours.solver_ == ("eigh" if svd_solver in ("full", "covariance_eigh")
                                else ours.solver_)


@pytest.mark.parametrize("name, value, match", [
    ("svd_solver", "lapack", "svd_solver='lapack' is not one of"),
    ("power_iteration_normalizer", "qr", "power_iteration_normalizer='qr' is not one of"),
    ("iterated_power", -1, "iterated_power must be 'auto' or an integer >= 0"),
    ("n_oversamples", 0, "n_oversamples must be an integer >= 1"),
    ("tol", -1.0, "tol must be a finite number >= 0"),
])
def test_bad_sklearn_arguments(name, value, match):
    with pytest.raises(ValueError, match=match):
        PCA(2, **{name: value}).fit(load_iris().data)


@pytest.mark.parametrize("name, X", [(n, x) for n, x in _datasets() if x.shape[0] >= x.shape[1]])
def test_mle_matches_sklearn(name, X):
    ours = PCA("mle").fit(X)
    theirs = SkPCA("mle", svd_solver="full").fit(X)
    assert ours.n_components_ == theirs.n_components_
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, rtol=1e-7)
    assert ours.noise_variance_ == pytest.approx(theirs.noise_variance_, rel=1e-7)


def test_zero_components_and_arpack_none():
    X = load_diabetes().data
    ours, theirs = PCA(0).fit(X), SkPCA(0).fit(X)
    assert ours.components_.shape == theirs.components_.shape == (0, X.shape[1])
    assert ours.noise_variance_ == pytest.approx(theirs.noise_variance_, rel=1e-10)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-10)
    assert PCA(svd_solver="arpack").fit(X).n_components_ == \
        SkPCA(svd_solver="arpack").fit(X).n_components_ == X.shape[1] - 1
    with pytest.raises(ValueError, match="must be between 1 and"):
        PCA(0, svd_solver="randomized").fit(X)


def test_small_fits_take_the_short_path():
    """Problems whose exact solve is cheaper than starting a worker thread run inline on
    LAPACK (what makes GridSearchCV over PCA as fast as with scikit-learn's)."""
    import threading

    seen = []
    original = threading.Thread.start

    def start(self):
        seen.append(self)
        return original(self)

    X = load_digits().data
    threading.Thread.start = start
    try:
        est = PCA(10).fit(X)
    finally:
        threading.Thread.start = original
    assert est.solver_ == "eigh" and seen == []


def _state(est):
    """Everything an estimator holds, comparable: fitted attributes and the partial sums."""
    out = {}
    for key, value in vars(est).items():
        if key == "_gram_sum":
            out[key] = (value.n, value.C.copy(), value.offset.copy(), value.scale)
        else:
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
    return out


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        va, vb = a[key], b[key]
        if isinstance(va, tuple):
            assert all(np.array_equal(x, y) for x, y in zip(va, vb)), key
        elif isinstance(va, np.ndarray):
            assert np.array_equal(va, vb), key
        else:
            assert va == vb or (va != va and vb != vb), key


@pytest.mark.parametrize("bad", ["too few rows", "wrong width", "non-finite", "overflow",
                                 "text"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_failed_call_leaves_the_estimator_as_it_was(bad, method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6))
    est = PCA(5)
    if bad == "too few rows" and method == "partial_fit":
        # partial_fit keeps the sums of too few rows and fits later (tests/test_files.py)
        est.partial_fit(X[:3])
        assert not hasattr(est, "components_")
        return
    est.partial_fit(X[:20]) if method == "partial_fit" else est.fit(X[:20])
    before = _state(est)
    batch = {"too few rows": X[:3], "wrong width": X[:10, :4],
             "non-finite": np.where(np.eye(10, 6) > 0, np.nan, X[:10]),
             "overflow": np.abs(X[:10]) / np.abs(X[:10]).max() * 1.7e308,   # sums overflow
             "text": [["a"] * 6] * 10}[bad]
    if bad == "too few rows" and method == "fit":
        batch = X[:4]   # fit needs n_components rows at once
    with pytest.raises((ValueError, TypeError, OverflowError, FloatingPointError)):
        getattr(est, method)(batch)
    _same(before, _state(est))
    getattr(est, method)(X[20:])   # and it goes on as if the failed call never happened
    ref = PCA(5).fit(X if method == "partial_fit" else X[20:])
    assert est.n_samples_ == ref.n_samples_
    np.testing.assert_allclose(est.mean_, ref.mean_, atol=1e-14)
    np.testing.assert_allclose(est.explained_variance_, ref.explained_variance_, rtol=1e-10)
