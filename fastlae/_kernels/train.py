"""Training loop of :func:`fastlae.train`: the paper's losses, Adam or SGD, on a Gram matrix.

One call runs every epoch; minibatches (``batch < n``) form each batch's Gram ``X_b^T X_b``
from the rows of ``X`` in a per-epoch permutation. Integer codes (no callables, so the kernel
caches): ``kind`` 0 unregularized, 1 product, 2 sum; ``opt`` 0 SGD, 1 Adam.
"""
import numpy as np
import numba as nb

from ._config import JIT


@nb.njit(**JIT)
def _grads(C, W1, W2, lam, kind, rag):
    """Gradients in factored form, O(d^2 k): ``P1 = C W1^T``, ``P2 = C W2``,
    ``dW1 = 2 ((W2^T W2) P1^T - P2^T)``, ``dW2 = 2 (W2 (W1 P1) - P1)``."""
    P1 = np.dot(C, np.ascontiguousarray(W1.T))
    P2 = np.dot(C, W2)
    A = np.dot(W2.T, W2)
    M = np.dot(W1, P1)  # W1 C W1^T
    g1 = 2.0 * (np.dot(A, np.ascontiguousarray(P1.T)) - P2.T)
    g2 = 2.0 * (np.dot(W2, M) - P1)
    if kind == 1:
        lm = lam.mean()  # the product loss has one penalty
        g1 += 2.0 * lm * np.dot(A, W1)
        g2 += 2.0 * lm * np.dot(W2, np.dot(W1, np.ascontiguousarray(W1.T)))
    elif kind == 2:
        for a in range(W1.shape[0]):
            g1[a] += 2.0 * lam[a] * W1[a]
            g2[:, a] += 2.0 * lam[a] * W2[:, a]
    if rag:
        # rotation-augmented gradient (Bao et al. 2020): Gamma = (triu1(M) - triu1(M)^T) / 2
        k = M.shape[0]
        Gam = np.zeros((k, k))
        for a in range(k):
            for b in range(a + 1, k):
                Gam[a, b] = 0.5 * M[a, b]
                Gam[b, a] = -0.5 * M[a, b]
        g1 -= np.dot(Gam, W1)
        g2 -= np.dot(W2, Gam.T)
    return g1, g2


@nb.njit(**JIT)
def full_loss(C, W1, W2, lam, kind):
    """The paper's summed loss on the Gram ``C``, in factored form (O(d^2 k))."""
    P1 = np.dot(C, np.ascontiguousarray(W1.T))
    P2 = np.dot(C, W2)
    A = np.dot(W2.T, W2)
    value = np.trace(C) - 2.0 * np.trace(np.dot(W1, P2)) + np.sum(A * np.dot(W1, P1))
    if kind == 1:
        value += lam.mean() * np.sum(A * np.dot(W1, np.ascontiguousarray(W1.T)))
    elif kind == 2:
        for a in range(W1.shape[0]):
            value += lam[a] * (np.sum(W1[a] ** 2) + np.sum(W2[:, a] ** 2))
    return value


@nb.njit(**JIT)
def run(X, C, W1, W2, lam, kind, tied, opt, lr, decay, epochs, batch, rag, record_every,
        perm_seed, rec_loss, rec_gap, rec_sv, stop):
    """Train in place; fills ``rec_*`` at epochs 0, record_every, ... and the last epoch.

    Returns the number of recorded rows; stops early when ``stop[0]`` becomes non-zero.
    """
    n = X.shape[0]
    k, d = W1.shape
    m1, v1 = np.zeros_like(W1), np.zeros_like(W1)
    m2, v2 = np.zeros_like(W2), np.zeros_like(W2)
    b1, b2, eps = 0.9, 0.999, 1e-7
    np.random.seed(perm_seed)
    step = 0
    row = 0
    for epoch in range(epochs + 1):
        if epoch % record_every == 0 or epoch == epochs:
            rec_loss[row] = full_loss(C, W1, W2, lam, kind)
            rec_gap[row] = np.sum((W1 - W2.T) ** 2)
            rec_sv[row] = np.linalg.svd(W2, full_matrices=False)[1]
            row += 1
        if epoch == epochs or stop[0] != 0:
            break
        order = np.random.permutation(n) if batch < n else np.arange(n)
        for start in range(0, n, batch):
            if batch < n:
                idx = order[start:min(n, start + batch)]
                Xb = np.ascontiguousarray(X[idx])
                Cb = np.dot(Xb.T, Xb)
            else:
                Cb = C
            g1, g2 = _grads(Cb, W1, W2, lam, kind, rag)
            if tied:  # W1 = W2^T: the gradient with respect to the shared W
                g2 = g2 + g1.T
                g1 = g2.T.copy()
            rate = lr / (1.0 + decay * step)
            step += 1
            if opt == 1:
                m1 = b1 * m1 + (1 - b1) * g1
                v1 = b2 * v1 + (1 - b2) * g1 * g1
                m2 = b1 * m2 + (1 - b1) * g2
                v2 = b2 * v2 + (1 - b2) * g2 * g2
                c1 = 1.0 - b1 ** step
                c2 = 1.0 - b2 ** step
                W1 -= rate * (m1 / c1) / (np.sqrt(v1 / c2) + eps)
                W2 -= rate * (m2 / c1) / (np.sqrt(v2 / c2) + eps)
            else:
                W1 -= rate * g1
                W2 -= rate * g2
            if tied:
                W1[:] = W2.T
    return row
