"""``eigh``'s float32 reduction refined in float64 (fastlae.solvers.eigh) against LAPACK."""
import numpy as np
import pytest
import scipy.linalg

import fastlae
from fastlae import datasets
from fastlae._kernels.tridiagonal import shifted_solves
from fastlae.solvers import eigh as eigh_solver
from fastlae.solvers import krylov

from naive import sin_angle

SPECTRA = ["decaying", "power_law", "gaussian", "cluster_at_k", "flat_tail", "rank_below_k",
           "rank_at_k", "duplicated_onehot", "pixels"]


def _gram(name, n=600, m=300, k=5, seed=1):
    X = datasets.zoo(name, n, m, k, random_state=seed)
    Xc = X - X.mean(axis=0)
    return np.ascontiguousarray(Xc.T @ Xc)


def test_shifted_solves_match_lapack():
    rng = np.random.default_rng(0)
    n = 200
    d, e = rng.standard_normal(n), rng.standard_normal(n - 1)
    w = scipy.linalg.eigvalsh_tridiagonal(d, e)
    # shifts where elimination pivots (small diagonal), near an eigenvalue and far from all
    shifts = np.array([0.0, w[-1] + 1e-6, w[0] - 3.0, d[0], 0.5 * (w[10] + w[11])])
    B = rng.standard_normal((len(shifts), n))
    X = B.copy()
    shifted_solves(d, e, shifts, X)
    for j, s in enumerate(shifts):
        bands = np.zeros((3, n))
        bands[0, 1:], bands[1], bands[2, :-1] = e, d - s, e
        want = scipy.linalg.solve_banded((1, 1), bands, B[j])
        np.testing.assert_allclose(X[j], want, rtol=1e-9 * np.abs(want).max() / np.abs(
            want).min(), atol=1e-10 * np.abs(want).max())


def test_shifted_solve_at_an_exact_eigenvalue_is_finite_and_points_along_its_vector():
    d, e = np.array([2.0, 2.0]), np.array([1.0])   # eigenvalues 1 and 3
    X = np.array([[1.0, 0.5]])
    shifted_solves(d, e, np.array([3.0]), X)   # T - 3 I is singular: a zero pivot
    assert np.all(np.isfinite(X)) and np.abs(X).max() > 1e10
    v = X[0] / np.linalg.norm(X[0])
    assert abs(abs(v @ np.array([1.0, 1.0])) / np.sqrt(2.0) - 1.0) < 1e-12


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("name", SPECTRA)
def test_refined_against_lapack(name, order):
    k, tol = 5, 1e-10
    C = _gram(name, k=k)
    m, q = C.shape[0], k + 1
    V = eigh_solver.refined(np.asarray(C, order=order), q, k, tol)
    assert V is not None and V.shape == (m, q)
    assert np.abs(V.T @ V - np.eye(q)).max() < 1e-13
    w, U = scipy.linalg.eigh(C)
    w, U = w[::-1], U[:, ::-1]
    theta = np.einsum("ij,ij->j", V, C @ V)
    res = np.linalg.norm(C @ V[:, :k] - V[:, :k] * theta[:k], axis=0) / theta[0]
    assert res.max() <= krylov.target(w, k, tol)
    np.testing.assert_allclose(theta[:k], w[:k], rtol=0, atol=1e-12 * w[0])
    gap = (w[k - 1] - w[k]) / w[0]
    if gap >= krylov.GAP_MIN:
        assert sin_angle(U[:, :k], V[:, :k].T) < 1e-9


def test_refined_declines_where_its_steps_fall_short_or_float32_cannot_hold_the_gram(
        monkeypatch):
    C = _gram("gaussian")
    assert eigh_solver.refined(C * 1e40, 6, 5, 1e-10) is None   # beyond float32's range
    assert eigh_solver.refined(C * 1e-40, 6, 5, 1e-10) is None
    monkeypatch.setattr(eigh_solver, "STEPS", 0)   # the float32 start alone is not enough
    assert eigh_solver.refined(C, 6, 5, 1e-10) is None


def test_refined_settles_for_the_calls_target_where_its_steps_stall(monkeypatch):
    C = _gram("flat_tail")   # no gap at k: the target is tol itself
    monkeypatch.setattr(eigh_solver, "MARGIN", 1e-6)   # an aim float64 cannot reach
    V = eigh_solver.refined(C, 6, 5, 1e-10)
    assert V is not None
    theta = np.einsum("ij,ij->j", V, C @ V)
    res = np.linalg.norm(C @ V[:, :5] - V[:, :5] * theta[:5], axis=0) / theta[0]
    assert res.max() <= eigh_solver.SETTLE * 1e-10
    monkeypatch.setattr(eigh_solver, "SETTLE", 1e-9)   # nothing to settle for
    assert eigh_solver.refined(C, 6, 5, 1e-10) is None


@pytest.mark.parametrize("solver", ["eigh", "auto"])
@pytest.mark.parametrize("precision", ["auto", "double"])
def test_large_grams_reduce_in_float32_unless_double(solver, precision, monkeypatch):
    calls = []
    refined = eigh_solver.refined

    def spy(C, q, k, tol):
        out = refined(C, q, k, tol)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(eigh_solver, "refined", spy)
    monkeypatch.setattr(eigh_solver, "SINGLE_MIN", 200)
    monkeypatch.setattr(eigh_solver, "SINGLE_ROWS", 10)
    X = datasets.zoo("gaussian", 800, 300, 5, random_state=3)
    r = fastlae.pca(X, 5, solver=solver, precision=precision)
    assert r.solver == "eigh"   # "auto": a flat spectrum
    assert calls == ([True] if precision == "auto" else [])
    Xc = X - X.mean(axis=0)
    w, U = np.linalg.eigh(Xc.T @ Xc)
    assert r.converged and r.residuals.max() <= 1e-10
    assert sin_angle(U[:, ::-1][:, :5], r.components) < 1e-9
    # a wider request than SINGLE_ROWS allows runs LAPACK's eigh alone
    calls.clear()
    fastlae.pca(X, 40, solver=solver, precision=precision)
    assert calls == []
    # where the refinement declines, LAPACK's eigh answers
    monkeypatch.setattr(eigh_solver, "STEPS", 0)
    r = fastlae.pca(X, 5, solver=solver, precision=precision)
    assert calls == ([False] if precision == "auto" else [])
    assert r.converged and sin_angle(U[:, ::-1][:, :5], r.components) < 1e-9
