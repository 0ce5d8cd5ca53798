"""fastlae.train and the numbers behind the paper's figures."""
import numpy as np
import pytest

import fastlae
from fastlae import paper


@pytest.fixture(scope="module")
def X():
    return paper.paper_data(0)


@pytest.fixture(scope="module")
def runs(X):
    return paper.figure3_data(X)


@pytest.mark.slow
def test_figure3_only_the_sum_loss_becomes_symmetric(runs):
    assert runs["sum"].history["transpose_gap"][-1] < 1e-6
    for loss in ("unregularized", "product"):
        assert runs[loss].history["transpose_gap"][-1] > 1e-2
    # the summed loss decreases over training for every loss
    for r in runs.values():
        assert r.history["loss"][-1] < r.history["loss"][0]


@pytest.mark.slow
def test_landscape_theorem_after_training(X, runs):
    s2 = np.linalg.svd(X, compute_uv=False)[:10] ** 2
    tau = np.linalg.svd(runs["sum"].W2, compute_uv=False)
    np.testing.assert_allclose(tau ** 2, 1 - 10.0 / s2, atol=1e-6)


@pytest.mark.slow
def test_figure4_alignment(X, runs):
    M = paper.figure4_data(X, runs["sum"].W1, runs["sum"].W2)
    d = X.shape[1]
    UtUs, VsUs = M[:d, d:], M[d:, d:]
    np.testing.assert_allclose(np.abs(UtUs[:10, :10]), np.eye(10), atol=1e-3)
    np.testing.assert_allclose(np.abs(VsUs[:10, :10]), np.eye(10), atol=1e-3)  # W* symmetric
    M0 = paper.figure4_data(X, runs["unregularized"].W1, runs["unregularized"].W2)
    assert np.max(np.abs(np.diag(M0[:d, d:])[:10])) < 0.99  # no alignment without lam


@pytest.mark.slow
def test_figure5_tau_squared_matches_theory(X):
    for lam, s2, tau2 in paper.figure5_data(X, lams=(5.0, 20.0, 100.0, 200.0)):
        np.testing.assert_allclose(tau2, np.maximum(0.0, 1.0 - lam / s2), atol=2e-3)


def test_figure1_scalar_minima():
    w1, w2, surf = paper.figure1_data(x2=4.0, lam=1.0, num=401)
    i = np.unravel_index(np.argmin(surf["sum"]), w1.shape)
    assert abs(w1[i] - w2[i]) < 0.03 and abs(w1[i] * w2[i] - (1 - 1.0 / 4.0)) < 0.03


@pytest.mark.slow
def test_tied_minibatch_nonuniform_rag(X):
    r = fastlae.train(X, 4, 10.0, tied=True, epochs=200, batch_size=5, record_every=50)
    np.testing.assert_array_equal(r.W1, r.W2.T)
    assert r.history["epoch"].tolist() == [0, 50, 100, 150, 200]
    assert r.history["loss"][-1] < r.history["loss"][0]
    _, _, Vt = np.linalg.svd(X)

    def misalignment(rag):
        q = fastlae.train(X, 3, 10.0, reg="non_uniform", rag=rag, epochs=3000, lr=0.01,
                          decay=0.0)
        cols = q.W2 / np.linalg.norm(q.W2, axis=0)
        return np.abs(np.abs(Vt[:3] @ cols) - np.eye(3)).max()

    # distinct penalties make each latent column one principal direction, in order; plain
    # gradients get there very slowly (Bao et al. 2020), the rotation-augmented one quickly
    assert misalignment(rag=True) < 1e-4
    assert misalignment(rag=False) > 1e-1


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": "mean"}, "loss='mean' is not one of"),
    ({"optimizer": "lbfgs"}, "optimizer='lbfgs'"),
    ({"reg": "non_uniform", "loss": "product"}, "needs loss='sum'"),
    ({"lr": 0.0}, "lr must be"),
    ({"epochs": -1}, "epochs must be a positive integer"),
    ({"batch_size": 0}, "batch_size must be"),
])
def test_train_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fastlae.train(X, 2, 1.0, **kwargs)


@pytest.mark.slow
def test_cli_paper_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from fastlae import cli

    assert cli.main(["paper", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["figure1.png", "figure3.png", "figure4.png", "figure5.png"]
    assert all((tmp_path / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)


@pytest.mark.parametrize("loss", ["unregularized", "product", "sum"])
def test_recorded_loss_is_the_papers_loss(X, loss):
    from fastlae import theory

    r = fastlae.train(X, 4, 3.0, loss=loss, epochs=0)
    assert r.history["loss"][0] == pytest.approx(theory.loss(X, r.W1, r.W2, 3.0, loss), rel=1e-12)
