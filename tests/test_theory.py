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


def _fd_hessian(X, W1, W2, lam, kind):
    k, d = W1.shape
    v, h = _flat(W1, W2), 1e-5
    cols = []
    for e in np.eye(v.size):
        gp = _flat(*theory.grad(X, *_split(v + h * e, k, d), lam=lam, kind=kind))
        gm = _flat(*theory.grad(X, *_split(v - h * e, k, d), lam=lam, kind=kind))
        cols.append((gp - gm) / (2 * h))
    H = np.array(cols)
    return 0.5 * (H + H.T)


def _counts(H, rel=1e-8):
    """(negative, zero, positive) eigenvalues, zero meaning below ``rel`` times the largest."""
    eig = np.linalg.eigvalsh(H)
    scale = np.abs(eig).max()
    return (int(np.sum(eig < -rel * scale)), int(np.sum(np.abs(eig) <= rel * scale)),
            int(np.sum(eig > rel * scale)))


def _with_spectrum(s2, rng, n=12):
    d = len(s2)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (U * np.sqrt(s2)) @ V.T


@pytest.mark.parametrize("kind", KINDS)
def test_exact_hessian_matches_finite_differences(X, kind):
    rng = np.random.default_rng(3)
    W1, W2 = rng.standard_normal((2, 4)), rng.standard_normal((4, 2))
    H = theory.hessian(X, W1, W2, lam=0.7, kind=kind)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, _fd_hessian(X, W1, W2, 0.7, kind), rtol=1e-6, atol=1e-5)


INDEX_SETS = [(0, 1), (0, 2), (1, 3), (2, 3), (0,), (3,), ()]


def _critical(X, k, lam, kind, index, rng):
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
    return W1, W2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", INDEX_SETS)
def test_critical_points_and_curvature_theorem(X, kind, index):
    # every eigenvalue (16, 9, 4, 2.25) above lam: the paper's setting
    k, lam = 2, 0.5
    W1, W2 = _critical(X, k, lam, kind, index, np.random.default_rng(2))
    H = theory.hessian(X, W1, W2, lam, kind)
    s2 = np.linalg.eigvalsh(X.T @ X)
    assert _counts(H) == theory.curvature(s2, k, index, kind, lam=lam)
    assert _counts(_fd_hessian(X, W1, W2, lam, kind), rel=1e-6) == _counts(H)
    if kind != "sum":   # their counts do not depend on the values: d alone is enough
        assert _counts(H) == theory.curvature(4, k, index, kind)


# the spectrum of the report that found the sum-loss correction: two eigenvalues below lam
BELOW = np.array([9.0, 4.84, 2.56, 1.21, 0.36, 0.09])
BELOW_SETS = [(), (0,), (0, 1), (0, 2), (0, 1, 2), (1,), (2,), (1, 3), (0, 3), (3,)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("index", BELOW_SETS + [(4,), (2, 5), (0, 4, 5)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_curvature_with_eigenvalues_below_lam(kind, index, seed):
    k, lam = 3, 0.5
    rng = np.random.default_rng(seed)
    X = _with_spectrum(BELOW, rng)
    if kind == "sum" and np.any(BELOW[list(index)] <= lam):
        pytest.skip("the sum loss has no critical point using a direction below lam")
    W1, W2 = _critical(X, k, lam, kind, index, rng)
    assert _counts(theory.hessian(X, W1, W2, lam, kind)) == \
        theory.curvature(BELOW, k, index, kind, lam=lam)


def test_sum_curvature_table_of_the_report():
    # (descending, flat, ascending) for L_sigma, m = 6, k = 3, lam = 0.5
    table = {(): (12, 0, 24), (0,): (6, 2, 28), (0, 1): (2, 3, 31), (0, 2): (3, 3, 30),
             (0, 1, 2): (0, 3, 33)}
    for index, counts in table.items():
        assert theory.curvature(BELOW, 3, index, "sum", lam=0.5) == counts
    # the paper's formula holds as written when every eigenvalue exceeds lam
    assert theory.curvature(BELOW, 3, (0,), "sum", lam=0.05) == (10, 2, 24)


def test_sum_curvature_needs_the_spectrum():
    with pytest.raises(ValueError, match="pass the spectrum"):
        theory.curvature(6, 3, (0,), "sum")
    with pytest.raises(ValueError, match="pass the spectrum"):
        theory.curvature(BELOW, 3, (0,), "sum")
    with pytest.raises(ValueError, match="index="):
        theory.curvature(BELOW, 3, (0, 9), "product")


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
