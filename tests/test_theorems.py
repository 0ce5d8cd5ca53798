"""The paper's facts, checked on what the LAE solvers actually trained."""
import numpy as np
import pytest

import fastlae
from naive import reference, spectrum_data


@pytest.mark.parametrize("solver", ["gd", "oja", "als", "als_tied"])
def test_transpose_and_landscape_theorems(solver, rng):
    spectrum = np.array([20.0, 12.0, 8.0, 5.0, 3.0, 1.0, 0.5, 0.2])
    X = spectrum_data(100, 8, spectrum, rng)
    lam = 1.0
    r = fastlae.pca(X, 3, solver=solver, lam=lam, n_latent=4, tol=1e-12)
    W1, W2 = r.encoder, r.decoder
    # Transpose Theorem: the encoder equals the decoder transposed at the minimum
    assert np.linalg.norm(W1 - W2.T) <= 1e-6 * np.linalg.norm(W2)
    # Landscape Theorem: tau_i^2 = 1 - lam / s_i^2 on the data as the solver saw it
    tau = np.linalg.svd(W2, compute_uv=False)
    s2 = reference(X, 4)[0] / r.scale ** 2
    np.testing.assert_allclose(tau ** 2, 1.0 - (lam / r.scale ** 2) / s2, atol=1e-6)
    # ... and its left singular vectors are the principal directions
    P = np.linalg.svd(W2, full_matrices=False)[0][:, :3]
    np.testing.assert_allclose(np.abs(P.T @ r.components.T), np.eye(3), atol=1e-6)
    # eigenvalues from the decoder, lam / (1 - tau^2), agree with the Rayleigh quotients
    np.testing.assert_allclose(lam / (1 - tau[:3] ** 2), r.singular_values ** 2, rtol=1e-5)
