"""scikit-learn's own PCA tests, run against ``fastlae.PCA``.

Every test function of the installed ``sklearn/decomposition/tests/test_pca.py`` is collected
here with the module's ``PCA`` (and its Minka helpers) replaced by fastlae's. Where fastlae
deliberately differs, the test is marked as an expected failure, strictly (a test that starts
to pass fails here, so this table stays true), with the reason.
"""
import numpy as np
import pytest

pytest.importorskip("sklearn")
sk = pytest.importorskip("sklearn.decomposition.tests.test_pca",
                         reason="this scikit-learn was installed without its tests")

from fastlae import estimator  # noqa: E402

# test name (or name[parameters] prefix) -> why fastlae differs from scikit-learn there
DIFFERENT = {
    "test_sparse_pca_solver_error": (
        "scikit-learn refuses sparse input with svd_solver 'full' and 'randomized'; fastlae "
        "centers it implicitly whatever svd_solver says"),
    "test_pca_validation[arpack": (
        "scikit-learn's ARPACK cannot compute min(n_samples, n_features) components and "
        "refuses; fastlae computes them"),
    "test_pca_validation[auto": (
        "the message names svd_solver='auto', the value passed; scikit-learn names the solver "
        "its size heuristic picked"),
    "test_n_components_mle_error": (
        "scikit-learn refuses n_components='mle' with svd_solver 'arpack' or 'randomized'; "
        "fastlae computes the whole spectrum whatever svd_solver says"),
    "test_pca_svd_solver_auto": (
        "checks scikit-learn's private _fit_svd_solver, its choice among its own solvers"),
    "test_pca_array_api": "fastlae.PCA does not declare array-API support",
    "test_pca_mle_array_api": "fastlae.PCA does not declare array-API support",
    "test_array_api": "fastlae.PCA does not declare array-API support",
}

for _name in dir(sk):
    if _name.startswith("test_"):
        globals()[_name] = getattr(sk, _name)


@pytest.fixture(autouse=True)
def _fastlae_pca(request, monkeypatch):
    for prefix, reason in DIFFERENT.items():
        if request.node.name.startswith(prefix):
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    monkeypatch.setattr(sk, "PCA", estimator.PCA)
    monkeypatch.setattr(sk, "_assess_dimension", estimator._assess_dimension)
    monkeypatch.setattr(sk, "_infer_dimension", estimator._infer_dimension)


@pytest.fixture
def global_random_seed():
    """scikit-learn's default seed for the tests that take one (its conftest is not ours)."""
    return 42


@pytest.fixture
def global_dtype():
    return np.float64
