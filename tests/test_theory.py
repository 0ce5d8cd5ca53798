"""fastlae.theory against finite differences, numerical Hessians and the paper's statements."""
import itertools

import numpy as np
import pytest

from fastlae import theory

KINDS = ["unregularized", "product", "sum"]


@pytest.fixture
def X():
    # distinct singular values, as the Landscape Theorem assumes
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((12, 4)))
    V, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    return (U * np.array([4.0, 3.0, 2.0, 1.5])) @ V.T


def _flat(W1, W2):
    return np.concatenate([W1.ravel(), W2.ravel()])


def _split(v, k, d):
    return v[: k * d].reshape(k, d), v[k * d:].reshape(d, k)


@pytest.mark.parametrize("kind", KINDS)
def test_grad_matches_finite_differences(X, kind):
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((2, 4)), rng.standard_normal((4, 2))
    g = _flat(*theory.grad(X, W1, W2, lam=0.7, kind=kind))
    v, h = _flat(W1, W2), 1e-6
    num = np.array([(theory.loss(X, *_split(v + h * e, 2, 4), lam=0.7, kind=kind)
                     - theory.loss(X, *_split(v - h * e, 2, 4), lam=0.7, kind=kind)) / (2 * h)
                    for e in np.eye(v.size)])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-6)


def _hessian(X, W1, W2, lam, kind):
    k, d = W1.shape
    v, h = _flat(W1, W2), 1e-5
    cols = []
    for e in np.eye(v.size):
        gp = _flat(*theory.grad(X, *_split(v + h * e, k, d), lam=lam, kind=kind))
        gm = _flat(*theory.grad(X, *_split(v - h * e, k, d), lam=lam, kind=kind))
        cols.append((gp - gm) / (2 * h))
    H = np.array(cols)
    return 0.5 * (H + H.T)


INDEX_SETS = [(0, 1), (0, 2), (1, 3), (2, 3), (0,), (3,), ()]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", INDEX_SETS)
def test_critical_points_and_curvature_theorem(X, kind, index):
    k, d, lam = 2, 4, 0.5
    rng = np.random.default_rng(2)
    l = len(index)
    if kind == "sum":
        O = np.linalg.qr(rng.standard_normal((k, k)))[0][:, :l]
        W1, W2 = theory.critical_point(X, k, lam, kind, index=index, O=O)
        np.testing.assert_allclose(W1, W2.T)  # Transpose Theorem
    else:
        G = rng.standard_normal((k, l))
        W1, W2 = theory.critical_point(X, k, lam, kind, index=index, G=G)
    for g in theory.grad(X, W1, W2, lam=lam, kind=kind):
        np.testing.assert_allclose(g, 0.0, atol=1e-10)
    eig = np.linalg.eigvalsh(_hessian(X, W1, W2, lam, kind))
    scale = np.abs(eig).max()
    counts = (int(np.sum(eig < -1e-6 * scale)), int(np.sum(np.abs(eig) <= 1e-6 * scale)),
              int(np.sum(eig > 1e-6 * scale)))
    assert counts == theory.curvature(d, k, index, kind)


def test_global_minimum_is_lowest(X):
    lam = 0.5
    best = theory.loss(X, *theory.critical_point(X, 2, lam), lam=lam)
    for index in itertools.combinations(range(4), 2):
        other = theory.loss(X, *theory.critical_point(X, 2, lam, index=index), lam=lam)
        assert best <= other + 1e-12


def test_landscape_theorem_singular_values(X):
    lam = 1.0
    W1, W2 = theory.critical_point(X, 3, lam)
    s2, _ = theory.principal(X)
    tau = np.linalg.svd(W2, compute_uv=False)
    np.testing.assert_allclose(tau ** 2, 1 - lam / s2[:3])


def test_scalar_case_figure_1():
    X = np.array([[2.0]])  # x^2 = 4
    for lam in [1.0, 3.0]:
        W1, W2 = theory.critical_point(X, 1, lam)
        assert W1[0, 0] == pytest.approx(W2[0, 0])
        assert W1[0, 0] * W2[0, 0] == pytest.approx(1 - lam / 4)
    with pytest.raises(ValueError, match="collapse"):
        theory.critical_point(X, 1, 5.0)  # lam > x^2: only the origin remains


def test_ppca_bridge_theorem_3_1(X):
    lam = 0.8
    W1, W2 = theory.critical_point(X, 2, lam)
    W0 = theory.ppca_from_lae(W2, lam)
    s2, U = theory.principal(X)
    np.testing.assert_allclose(W0 @ W0.T, U[:, :2] @ np.diag(s2[:2] - lam) @ U[:, :2].T,
                               atol=1e-10)
    np.testing.assert_allclose(theory.ppca_grad(X, W0, lam), 0.0, atol=1e-10)
    # the MAP beats a perturbed loading
    assert theory.ppca_nll(X, W0, lam) < theory.ppca_nll(X, W0 * 1.05, lam)


def test_ppca_scalar_formula():
    x, w0, s2 = 1.7, 0.6, 0.3
    expected = 0.5 * (np.log(2 * np.pi) + np.log(w0 ** 2 + s2) + x ** 2 / (w0 ** 2 + s2))
    assert theory.ppca_nll([[x]], [[w0]], s2) == pytest.approx(expected)


@pytest.mark.parametrize("call, match", [
    (lambda X: theory.loss(X, np.eye(2, 4), np.eye(4, 2), kind="mean"), "kind='mean'"),
    (lambda X: theory.critical_point(X, 2, 0.1, index=[1, 0]), "strictly increasing"),
    (lambda X: theory.critical_point(X, 1, 0.1, index=[0, 1]), "at most k=1"),
    (lambda X: theory.ppca_from_lae(np.eye(4, 2), 0.0), "lam must be"),
])
def test_theory_errors(X, call, match):
    with pytest.raises(ValueError, match=match):
        call(X)
