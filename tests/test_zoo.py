"""The spectrum zoo: every path certifies and agrees with LAPACK, whatever the spectrum.

``fastlae.datasets.ZOO`` documents each matrix. ``"auto"`` takes LAPACK up front on matrices
this small (an autoencoder's setup would cost more), so its budgeted autoencoder path is also
forced here, on the formed Gram and matrix-free, to check how it finishes or hands over.
"""
import warnings

import numpy as np
import pytest

import fastlae
import fastlae.api
from fastlae.datasets import ZOO, zoo
from fastlae.solvers import Plan, choose
from naive import reference, sin_angle

K = 5
SHAPES = {"tall": (400, 40), "wide": (40, 300), "square": (150, 150)}
RANK_BELOW_K = {"rank_below_k"}


def run(X, k, plan=None, **kw):
    """``fastlae.pca(X, k, **kw)`` (with ``plan`` in place of the "auto" rule) and the classes
    of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fastlae.api._pca(X, k, plan=plan, **kw)
    return r, [type(w.message) for w in caught]


def check_against_lapack(X, k, r, float32=False):
    """Eigenvalues, certificate, orthonormality; components where the spectrum fixes them."""
    Xf = np.asarray(X, dtype=np.float64)
    w, V, total, C = reference(Xf, min(k + 1, min(Xf.shape)))
    n = Xf.shape[0]
    top = max(w[0], 1e-300)
    ev = np.asarray(r.explained_variance, dtype=np.float64) * max(n - 1, 1)
    tol_eig = 1e-6 if float32 else 1e-12
    assert np.max(np.abs(ev - w[:k])) <= tol_eig * top
    comps = np.asarray(r.components, dtype=np.float64)
    np.testing.assert_allclose(comps @ comps.T, np.eye(k), atol=1e-6 if float32 else 1e-12)
    assert r.converged and r.residuals.max() <= 1e-10
    # the certificate is the true residual
    res = np.linalg.norm(C @ comps.T - comps.T * ev, axis=0) / top
    np.testing.assert_allclose(res, r.residuals, atol=1e-6 if float32 else 1e-12)
    if len(w) > k and (w[k - 1] - w[k]) > 1e-3 * top:   # the top-k subspace is determined
        assert sin_angle(V[:, :k], comps) <= (1e-5 if float32 else 1e-9)


def expected_warnings(name):
    return [fastlae.RankWarning] if name in RANK_BELOW_K else []


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("name", list(ZOO))
def test_auto_certifies_on_the_zoo(name, shape):
    X = zoo(name, *SHAPES[shape], k=K)
    r, warned = run(X, K)
    assert warned == expected_warnings(name)
    check_against_lapack(X, K, r)
    plan = choose(*X.shape, K, "auto")
    assert r.n_iter <= (plan.budget or 0)


@pytest.mark.parametrize("name", ["gaussian", "pixels", "poisson", "power_law", "decaying",
                                  "cluster_at_k", "large_mean"])
def test_auto_on_float32_and_integer_data(name):
    X = zoo(name, 300, 30, k=K, dtype=np.float32)
    r, warned = run(X, K)
    assert warned == [] and r.components.dtype == np.float32
    check_against_lapack(X, K, r, float32=True)
    if name in ("pixels", "poisson"):   # integers: computed exactly, returned as float64
        Xi = zoo(name, 300, 30, k=K, dtype=None)
        assert Xi.dtype.kind in "iu"
        ri, warned = run(Xi, K)
        assert warned == [] and ri.components.dtype == np.float64
        check_against_lapack(Xi, K, ri)


@pytest.mark.parametrize("matrix_free", [False, True])
@pytest.mark.parametrize("name", list(ZOO))
def test_budgeted_autoencoder_finishes_or_hands_over(name, matrix_free):
    # the budgeted path "auto" takes on large matrices, forced on small ones: it either
    # certifies within its budget or switches to eigh, never runs past the budget
    budget = 60
    X = zoo(name, 400, 40, k=K)
    r, warned = run(X, K, Plan("als_tied", matrix_free, budget, 1e9))
    assert warned == expected_warnings(name)
    assert r.n_iter <= budget
    assert r.solver in ("als_tied", "eigh")
    if r.solver == "als_tied":
        assert r.matrix_free == matrix_free
    check_against_lapack(X, K, r)


def test_flat_spectrum_hands_over_early():
    # iid noise: subspace iteration would crawl; the observed rate gives it away within a
    # few updates, far below the budget
    X = zoo("gaussian", 4000, 200, k=K)
    r, _ = run(X, K, Plan("als_tied", False, 500, 1e9))
    assert r.solver == "eigh" and 6 <= r.n_iter <= 40
    check_against_lapack(X, K, r)


@pytest.mark.parametrize("matrix_free", [False, True])
def test_fast_spectrum_stays_on_the_autoencoder(matrix_free):
    # matrix-free on this data (mean 0.5): uncentered passes first, centered ones to finish
    X = zoo("decaying", 2000, 80, k=K)
    r, _ = run(X, K, Plan("als_tied", matrix_free, 60, 1e9))
    assert r.solver == "als_tied" and r.matrix_free == matrix_free and r.n_iter <= 30
    check_against_lapack(X, K, r)
    # components as accurate as LAPACK's on the decaying spectrum
    w, V, _, _ = reference(X, K)
    assert sin_angle(V, r.components) <= 1e-10


@pytest.mark.parametrize("solver", ["gd", "oja", "als", "als_tied", "eigh"])
@pytest.mark.parametrize("name", ["rank_below_k", "rank_at_k", "rank_between", "rank_above_r"])
def test_named_solvers_certify_low_rank(solver, name):
    X = zoo(name, 300, 40, k=K)
    r, warned = run(X, K, solver=solver)
    assert warned == expected_warnings(name)
    assert r.solver == solver
    check_against_lapack(X, K, r)


def test_low_rank_between_k_and_r_certifies_quickly():
    # rank 13 between k = 10 and r = 20: the null latent directions collapse at once
    X = fastlae.datasets.with_spectrum(2000, 150, np.geomspace(100, 1, 13) * np.sqrt(2000),
                                       noise=1e-9, random_state=3)
    r, warned = run(X, 10, solver="als_tied")
    assert warned == [] and r.converged and r.n_iter <= 10
    check_against_lapack(X, 10, r)


@pytest.mark.parametrize("solver", ["auto", "gd", "als", "als_tied", "eigh"])
def test_rank_below_k_is_said_and_completed(solver):
    rank, k = 3, 6
    X = fastlae.datasets.with_spectrum(200, 20, [9.0, 5.0, 2.0], mean=4.0, random_state=1)
    with pytest.warns(fastlae.RankWarning, match=r"numerical rank 3 < k=6: components 4\.\.6"):
        r = fastlae.pca(X, k, solver=solver)
    comps = r.components
    np.testing.assert_allclose(comps @ comps.T, np.eye(k), atol=1e-12)
    assert np.all(r.explained_variance[rank:] == 0.0)
    w, V, _, _ = reference(X, rank)
    assert sin_angle(V, comps[:rank]) <= 1e-10
    # the completion is orthogonal to the data's span: it carries no variance
    Xc = X - X.mean(axis=0)
    assert np.linalg.norm(Xc @ comps[rank:].T) <= 1e-10 * np.linalg.norm(Xc)


def test_constant_data_warns_rank_zero():
    with pytest.warns(fastlae.RankWarning, match="no variance"):
        r = fastlae.pca(np.ones((10, 4)), 2)
    np.testing.assert_allclose(r.components @ r.components.T, np.eye(2))


@pytest.mark.parametrize("name, solver", [
    (name, solver) for name in ["decaying", "power_law", "flat_tail", "large_mean"]
    for solver in ["auto", "als_tied", "eigh"]
    if (name, solver) != ("flat_tail", "als_tied")])   # a named als_tied crawls on flat tails
def test_component_errors_bound_the_true_angles(name, solver):
    X = zoo(name, 500, 30, k=K)
    r = fastlae.pca(X, K, solver=solver)
    w, V, _, _ = reference(X, K)
    for i in range(K):
        v = r.components[i]
        sin = np.linalg.norm(v - (v @ V[:, i]) * V[:, i])
        assert sin <= r.component_errors[i] + 1e-14
        assert 0.0 <= r.component_errors[i] <= 1.0


def test_component_errors_flag_repeated_eigenvalues():
    # 5, 5, 5: the first three components are not individually determined
    X = fastlae.datasets.with_spectrum(300, 20, np.sqrt([5.0, 5.0, 5.0, 3.0, 1.0]) * 10,
                                       random_state=2)
    r = fastlae.pca(X, 4, solver="eigh")
    assert np.all(r.component_errors[:3] > 1e-3)
    assert r.component_errors[3] < 1e-10


def test_zoo_names_are_checked():
    with pytest.raises(ValueError, match="is not one of"):
        zoo("nope", 10, 3)


def _feed(residuals, target, tol, max_iter, patience):
    from fastlae._kernels.monitor import GO_ON, new_history, verdict

    hist = new_history()
    for it, res in enumerate(residuals):
        status = verdict(hist, it, res, target, tol, 0.0, 0.0, max_iter, patience)
        if status != GO_ON:
            return it, status
    return len(residuals), GO_ON


def test_monitor_verdicts():
    from fastlae._kernels import monitor as M

    fast = [10.0 ** -i for i in range(20)]
    assert _feed(fast, 1e-12, 1e-10, 100, 1e9) == (12, M.DONE)
    slow = [0.99 ** i for i in range(200)]        # would need ~2700 updates
    it, status = _feed(slow, 1e-12, 1e-10, 100, 1e9)
    assert status == M.GAVE_UP and it == M.MIN_UPDATES
    # a named solver runs on until its max_iter
    assert _feed(slow, 1e-12, 1e-10, 100, 0.0) == (100, M.LIMIT)
    # finishing another way is cheaper than the ~16 more updates the rate predicts
    steady = [0.3 ** i for i in range(40)]
    assert _feed(steady, 1e-20, 1e-10, 100, 10.0) == (M.MIN_UPDATES, M.GAVE_UP)
    assert _feed(steady, 1e-20, 1e-10, 100, 40.0)[1] == M.DONE
    # stuck at a floor below tol but above the target: certified, not run to max_iter
    floor = [10.0 ** -i for i in range(11)] + [1e-11] * 40
    it, status = _feed(floor, 1e-14, 1e-10, 1000, 0.0)
    assert status == M.CERTIFIED and it < 30
    # an oscillating residual is judged by its running minimum
    wobble = [10.0 ** -i * (30.0 if i % 2 else 1.0) for i in range(16)]
    assert _feed(wobble, 1e-12, 1e-10, 100, 1e9)[1] == M.DONE
    # at the budget: uncertified hands over, certified stops
    assert _feed([0.5 ** i for i in range(40)], 1e-30, 1e-10, 20, 1e9)[1] == M.GAVE_UP
    assert _feed([0.1 ** i for i in range(40)], 1e-20, 1e-10, 14, 1e9) == (14, M.LIMIT)
