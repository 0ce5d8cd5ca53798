"""``fastlae.train``: the paper's training experiments as a function (research use)."""
from dataclasses import dataclass

import numpy as np

from . import _errors as E
from . import _validation as V
from ._kernels import train as K
from ._threads import interruptible
from .theory import KINDS

LOSSES = {kind: code for code, kind in enumerate(KINDS)}   # the kernel's codes
OPTIMIZERS = {"sgd": 0, "adam": 1}
REGS = ("uniform", "non_uniform")


@dataclass
class TrainResult:
    """Trained weights and their history.

    Attributes
    ----------
    W1 : ndarray of shape (k, n_features)
    W2 : ndarray of shape (n_features, k)
    history : dict
        ``"epoch"`` (r,), ``"loss"`` (r,) the full-data loss, ``"transpose_gap"`` (r,)
        ``||W1 - W2^T||_F^2``, ``"singular_values"`` (r, k) of the decoder, at the recorded
        epochs (0, record_every, ..., and the last).
    lam : ndarray of shape (k,)
        The per-latent penalties used (all equal for ``reg="uniform"``).
    """

    W1: np.ndarray
    W2: np.ndarray
    history: dict
    lam: np.ndarray


def _choice(value, allowed, name):
    if value not in allowed:
        raise ValueError(E.TRAIN_CHOICE.format(name=name, value=value, allowed=list(allowed)))
    return value


def train(X, k, lam, *, loss="sum", tied=False, optimizer="adam", lr=0.05, decay=0.1,
          epochs=4000, batch_size=None, reg="uniform", rag=False, center=False,
          random_state=None, record_every=1):
    """Train a linear autoencoder on X by first-order optimization, as in the paper's Section 5.

    The defaults are the paper's experiment: Adam, learning rate ``lr / (1 + decay t)`` (t
    counts updates), full batch, 4000 epochs, N(0, 0.05^2) initialization, the summed loss
    ``||X^T - W2 W1 X^T||_F^2`` plus the regularizer of ``loss``.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Rows are points (the paper's data matrix is ``X.T``).
    k : int
        Latent width.
    lam : float
        Penalty (>= 0). With ``reg="non_uniform"`` latent i gets ``lam * (i + 1) / k``
        (distinct penalties order the minimum and align it with the axes, Bao et al. 2020).
    loss : {"sum", "product", "unregularized"}
    tied : bool
        Train one matrix ``W2`` with ``W1 = W2^T``.
    optimizer : {"adam", "sgd"}
    lr, decay : float
        Learning rate and its decay ``lr / (1 + decay t)``.
    epochs : int
    batch_size : int or None
        Minibatch size (rows drawn in a fresh permutation each epoch); None: full batch.
    reg : {"uniform", "non_uniform"}
        ``"non_uniform"`` needs ``loss="sum"``.
    rag : bool
        Add the rotation-augmented gradient of Bao et al. (2020).
    center : bool
        Subtract the column means first (the paper's experiment does not; Appendix A).
    random_state : None, int or numpy.random.Generator
    record_every : int
        History stride in epochs.

    Returns
    -------
    TrainResult

    Examples
    --------
    >>> import numpy as np
    >>> import fastlae
    >>> X = np.diag([4.0, 3.0, 2.0, 1.0])
    >>> r = fastlae.train(X, 2, 1.0, epochs=3000)            # the sum loss, Adam
    >>> bool(r.history["transpose_gap"][-1] < 1e-6)          # Transpose Theorem
    True
    >>> np.round(np.linalg.svd(r.W2, compute_uv=False) ** 2, 4)   # 1 - lam / s^2
    array([0.9375, 0.8889])
    """
    A, feat_axis, _ = V.check_X(X)
    Xf = np.ascontiguousarray(A if feat_axis == 1 else A.T, dtype=np.float64)
    n, d = Xf.shape
    k = V.check_int(k, E.TRAIN_K, 1, d, type_message=E.K_TYPE, max=d)
    lam = V.check_lam(lam)
    if lam is None:
        raise ValueError(E.LAM.format(value=lam))
    kind = LOSSES[_choice(loss, LOSSES, "loss")]
    opt = OPTIMIZERS[_choice(optimizer, OPTIMIZERS, "optimizer")]
    _choice(reg, REGS, "reg")
    if reg == "non_uniform" and loss != "sum":
        raise ValueError(E.TRAIN_NON_UNIFORM.format(loss=loss))
    for name, value in (("lr", lr), ("decay", decay)):
        if not np.isfinite(value) or value < 0 or (name == "lr" and value == 0):
            raise ValueError(E.TRAIN_RATE.format(name=name, value=value))
    epochs = V.check_int(epochs, E.TRAIN_INT.replace("{name}", "epochs"), 0)
    record_every = V.check_int(record_every, E.TRAIN_INT.replace("{name}", "record_every"), 1)
    batch = n if batch_size is None else V.check_int(
        batch_size, E.TRAIN_INT.replace("{name}", "batch_size"), 1)
    rng = V.check_random_state(random_state)
    if not np.all(np.isfinite(Xf)):
        V.check_finite(Xf, np.full(1, np.nan))
    if center:
        Xf = Xf - Xf.mean(axis=0)
    lam_vec = np.full(k, lam) if reg == "uniform" else lam * np.arange(1, k + 1) / k
    W1 = 0.05 * rng.standard_normal((k, d))
    W2 = W1.T.copy() if tied else 0.05 * rng.standard_normal((d, k))
    C = Xf.T @ Xf
    rows = epochs // record_every + 2
    rec_loss, rec_gap, rec_sv = np.zeros(rows), np.zeros(rows), np.zeros((rows, k))
    seed = int(rng.integers(0, 2**31 - 1))
    used = interruptible(lambda stop, _: K.run(
        Xf, C, W1, W2, lam_vec, kind, bool(tied), opt, float(lr), float(decay), epochs,
        min(batch, n), bool(rag), record_every, seed, rec_loss, rec_gap, rec_sv, stop))
    ep = np.r_[np.arange(0, epochs + 1, record_every), epochs]
    ep = np.unique(ep)[:used]
    history = {"epoch": ep, "loss": rec_loss[:used], "transpose_gap": rec_gap[:used],
               "singular_values": rec_sv[:used]}
    return TrainResult(W1, W2, history, lam_vec)
