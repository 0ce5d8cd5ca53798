"""The paper's figures (Section 5): the numbers behind each, and optional matplotlib renderings.

Data: ``X`` is 20 x 20 with singular values 1..20 and Haar-random singular vectors; the
experiments use ``k = lam = 10``, Adam with learning rate 0.05 decayed as ``lr / (1 + 0.1 t)``,
full batch, 4000 epochs and N(0, 0.05^2) initialization (:func:`fastlae.train`'s defaults).
The ``figure*_data`` functions need only NumPy; ``write_figures`` needs matplotlib
(``pip install 'fastlae[paper]'``).
"""
import os

import numpy as np

from . import _errors as E
from .theory import KINDS
from .training import train



def paper_data(random_state=0):
    """The 20 x 20 matrix of Section 5 (rows are points): singular values 1..20."""
    rng = np.random.default_rng(random_state)
    U, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    V, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    return (U * np.arange(1.0, 21.0)) @ V.T


def figure1_data(x2=4.0, lam=1.0, lim=2.5, num=201):
    """Figure 1: the scalar landscapes ``L, L_pi, L_sigma`` over ``(w1, w2)`` for ``x^2 = x2``.

    Returns
    -------
    w1, w2 : ndarray of shape (num, num)
    surfaces : dict of ndarray of shape (num, num), keyed by loss name
    """
    w = np.linspace(-lim, lim, num)
    w1, w2 = np.meshgrid(w, w)
    base = x2 * (1.0 - w1 * w2) ** 2
    return w1, w2, {"unregularized": base, "product": base + lam * (w1 * w2) ** 2,
                    "sum": base + lam * (w1 ** 2 + w2 ** 2)}


def figure3_data(X, k=10, lam=10.0, epochs=4000, random_state=0):
    """Figure 3: ``||W1 - W2^T||_F^2`` over training for each loss.

    Returns
    -------
    dict
        loss name -> :class:`~fastlae.training.TrainResult`.
    """
    return {loss: train(X, k, lam, loss=loss, epochs=epochs, random_state=random_state)
            for loss in KINDS}


def figure4_data(X, W1, W2):
    """Figure 4: ``[[U^T U, U^T U*], [V*^T U, V*^T U*]]``.

    ``U`` are the principal directions of X (the paper's left singular vectors of its X, our
    right singular vectors), ``U*``/``V*`` the left/right singular vectors of ``W* = W2 W1``.
    Near-identity blocks (up to sign) mean the trained product is aligned with the principal
    directions (sum loss).
    """
    _, _, Vt = np.linalg.svd(np.asarray(X, dtype=np.float64))
    U = Vt.T
    Us, _, Vst = np.linalg.svd(np.asarray(W2) @ np.asarray(W1))
    Vs = Vst.T
    return np.block([[U.T @ U, U.T @ Us], [Vs.T @ U, Vs.T @ Us]])


def figure5_data(X, lams=(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0), k=10, epochs=4000,
                 random_state=0):
    """Figure 5: ``(s_i^2, tau_i^2)`` of trained sum-loss decoders for several ``lam``.

    Returns
    -------
    list of (lam, s2, tau2)
        ``s2`` the top-k squared singular values of X, ``tau2`` the trained decoder's squared
        singular values; the theory is ``tau^2 = max(0, 1 - lam / s^2)``.
    """
    s2 = np.linalg.svd(np.asarray(X, dtype=np.float64), compute_uv=False)[:k] ** 2
    out = []
    for lam in lams:
        r = train(X, k, lam, loss="sum", epochs=epochs, random_state=random_state,
                  record_every=epochs)
        out.append((lam, s2, np.linalg.svd(r.W2, compute_uv=False) ** 2))
    return out


def write_figures(out_dir, random_state=0):
    """Render Figures 1, 3, 4 and 5 as PNGs into ``out_dir``; returns their paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(E.NO_MATPLOTLIB) from None
    os.makedirs(out_dir, exist_ok=True)
    X = paper_data(random_state)
    paths = []

    w1, w2, surf = figure1_data()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, (name, z) in zip(axes, surf.items()):
        ax.contourf(w1, w2, np.log1p(z), levels=40, cmap="viridis")
        ax.set_title(f"{name} loss, x^2 = 4, lambda = 1")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
    paths.append(_save(fig, out_dir, "figure1.png"))

    runs = figure3_data(X, random_state=random_state)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, r in runs.items():
        ax.semilogy(r.history["epoch"], np.maximum(r.history["transpose_gap"], 1e-30),
                    label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("||W1 - W2^T||_F^2")
    ax.set_title("Figure 3: only the sum loss becomes symmetric")
    ax.legend()
    paths.append(_save(fig, out_dir, "figure3.png"))

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
    for ax, (name, r) in zip(axes, runs.items()):
        im = ax.imshow(figure4_data(X, r.W1, r.W2), cmap="RdBu", vmin=-1, vmax=1)
        ax.set_title(name)
    fig.suptitle("Figure 4: [U'U, U'U*; V*'U, V*'U*] after training (U: principal directions, "
                 "U*, V*: singular vectors of W2 W1)")
    fig.colorbar(im, ax=axes, shrink=0.8)
    paths.append(_save(fig, out_dir, "figure4.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    s = np.linspace(1.0, 400.0, 400)
    for lam, s2, tau2 in figure5_data(X, random_state=random_state):
        line, = ax.plot(s, np.maximum(0.0, 1.0 - lam / s), lw=1)
        ax.scatter(s2, tau2, s=12, color=line.get_color(), label=f"lambda = {lam:g}")
    ax.set_xlabel("s_i^2")
    ax.set_ylabel("tau_i^2")
    ax.set_title("Figure 5: trained tau^2 against 1 - lambda / s^2")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # clear of the curves
    paths.append(_save(fig, out_dir, "figure5.png"))
    return paths


def _save(fig, out_dir, name):
    import matplotlib.pyplot as plt

    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
