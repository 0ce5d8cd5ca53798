"""The paper's statements as functions (Kunin et al., ICML 2019), in fastlae's orientation.

Rows of ``X`` are points: the paper's data matrix is ``X.T`` and its ``X X^T`` is
``C = X.T @ X``. These functions do **not** center X (the paper's Appendix A: an LAE with
biases equals one without biases on centered data; center first if you want that). Encoder
``W1`` is (k, d), decoder ``W2`` is (d, k). Losses are sums, not means, as in the paper.

Everything here is plain NumPy on small matrices: it is the reference the solvers are checked
against, not a fast path.
"""
import numbers

import numpy as np

from . import _errors as E

KINDS = ("unregularized", "product", "sum")


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(E.THEORY_KIND.format(value=kind, allowed=list(KINDS)))
    return kind


def _gram(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(E.X_NDIM.format(ndim=X.ndim))
    return X.T @ X


def loss(X, W1, W2, lam=0.0, kind="sum"):
    """The paper's loss ``||X^T - W2 W1 X^T||_F^2`` plus its regularizer.

    Parameters
    ----------
    X : array_like of shape (n, d)
    W1 : array_like of shape (k, d)
    W2 : array_like of shape (d, k)
    lam : float
    kind : {"unregularized", "product", "sum"}
        ``L``, ``L_pi = L + lam ||W2 W1||^2`` or ``L_sigma = L + lam (||W1||^2 + ||W2||^2)``.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> X = np.diag([3.0, 2.0, 1.0])
    >>> W1, W2 = theory.critical_point(X, 2, 0.5)          # the global minimum
    >>> round(theory.loss(X, W1, W2, 0.5), 6)              # 1 + 2 * 0.5 * 2 - 0.25 * (1/9 + 1/4)
    2.909722
    """
    kind = _kind(kind)
    X, W1, W2 = (np.asarray(a, dtype=np.float64) for a in (X, W1, W2))
    R = X - X @ W1.T @ W2.T
    value = float(np.sum(R * R))
    if kind == "product":
        value += lam * float(np.sum((W2 @ W1) ** 2))
    elif kind == "sum":
        value += lam * float(np.sum(W1 * W1) + np.sum(W2 * W2))
    return value


def grad(X, W1, W2, lam=0.0, kind="sum"):
    """Exact gradients ``(dL/dW1, dL/dW2)`` of :func:`loss` (factor 2 included).

    With ``C = X.T @ X``: ``dL/dW1 = 2 W2^T (W2 W1 - I) C`` and ``dL/dW2 = 2 (W2 W1 - I) C W1^T``,
    plus ``2 lam W2^T W2 W1`` and ``2 lam W2 W1 W1^T`` (product) or ``2 lam W1`` and
    ``2 lam W2`` (sum).

    Returns
    -------
    dW1 : ndarray of shape (k, d)
    dW2 : ndarray of shape (d, k)

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> X = np.diag([3.0, 2.0, 1.0])
    >>> W1, W2 = theory.critical_point(X, 2, 0.5, index=[0, 2])   # a saddle
    >>> max(float(np.abs(g).max()) for g in theory.grad(X, W1, W2, 0.5)) < 1e-12
    True
    """
    kind = _kind(kind)
    C = _gram(X)
    W1, W2 = np.asarray(W1, dtype=np.float64), np.asarray(W2, dtype=np.float64)
    E_ = W2 @ W1 - np.eye(C.shape[0])
    dW1 = 2.0 * W2.T @ E_ @ C
    dW2 = 2.0 * E_ @ C @ W1.T
    if kind == "product":
        dW1 += 2.0 * lam * W2.T @ W2 @ W1
        dW2 += 2.0 * lam * W2 @ W1 @ W1.T
    elif kind == "sum":
        dW1 += 2.0 * lam * W1
        dW2 += 2.0 * lam * W2
    return dW1, dW2


def principal(X):
    """Eigenvalues ``s_i^2`` (descending) and eigenvectors ``U`` (columns) of ``C = X.T @ X``."""
    w, U = np.linalg.eigh(_gram(X))
    return w[::-1], U[:, ::-1]


def critical_point(X, k, lam, kind="sum", index=None, O=None, G=None):
    """A point of the Landscape Theorem's critical manifold indexed by ``index``.

    Parameters
    ----------
    X : array_like of shape (n, d)
    k : int
        Latent width.
    lam : float
    kind : {"unregularized", "product", "sum"}
    index : sequence of int or None
        The index set I of principal directions, 0-based, at most k of them, strictly
        increasing. None: the top k (the global minimum). For the sum loss every
        ``s_i^2`` in I must exceed ``lam``.
    O : array_like of shape (k, l) or None
        Orthonormal columns (sum loss). None: the first l columns of the identity.
    G : array_like of shape (k, l) or None
        Independent columns (unregularized and product losses). None: as for ``O``.

    Returns
    -------
    W1 : ndarray of shape (k, d)
    W2 : ndarray of shape (d, k)

    Notes
    -----
    The paper's table, with ``S_I = diag(s_i)``, ``+`` the pseudo-inverse:
    ``L``: ``W2 = U_I G^+``, ``W1 = G U_I^T``;
    ``L_pi``: ``W2 = U_I (I + lam S_I^-2)^{-1/2} G^+``, ``W1 = G (I + lam S_I^-2)^{-1/2} U_I^T``;
    ``L_sigma``: ``W2 = U_I (I - lam S_I^-2)^{1/2} O^T``, ``W1 = W2^T``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> W1, W2 = theory.critical_point(np.diag([3.0, 2.0, 1.0]), 2, 0.5)
    >>> np.allclose(W1, W2.T)                                   # Transpose Theorem
    True
    >>> np.round(np.linalg.svd(W2, compute_uv=False) ** 2, 6)   # 1 - lam / s^2
    array([0.944444, 0.875   ])
    """
    kind = _kind(kind)
    s2, U = principal(X)
    index = list(range(k)) if index is None else [int(i) for i in index]
    l = len(index)
    if l > k or any(b <= a for a, b in zip(index, index[1:])) or (index and (
            index[0] < 0 or index[-1] >= len(s2))):
        raise ValueError(E.THEORY_INDEX.format(index=index, k=k, d=len(s2)))
    UI, sI = U[:, index], s2[index]
    if kind == "sum":
        if np.any(sI <= lam):
            raise ValueError(E.THEORY_COLLAPSED.format(lam=lam, index=index))
        O = np.eye(k)[:, :l] if O is None else np.asarray(O, dtype=np.float64)
        W2 = UI @ np.diag(np.sqrt(1.0 - lam / sI)) @ O.T
        return W2.T.copy(), W2
    G = np.eye(k)[:, :l] if G is None else np.asarray(G, dtype=np.float64)
    shrink = np.ones(l) if kind == "unregularized" else (1.0 + lam / sI) ** -0.5
    W2 = UI @ np.diag(shrink) @ np.linalg.pinv(G)
    W1 = G @ np.diag(shrink) @ UI.T
    return W1, W2


def hessian(X, W1, W2, lam=0.0, kind="sum"):
    """The exact Hessian of :func:`loss` at ``(W1, W2)``, from analytic Hessian-vector products.

    Parameters
    ----------
    X : array_like of shape (n, d)
    W1 : array_like of shape (k, d)
    W2 : array_like of shape (d, k)
    lam : float
    kind : {"unregularized", "product", "sum"}

    Returns
    -------
    ndarray of shape (2 k d, 2 k d)
        Symmetric, in the coordinates ``concatenate([W1.ravel(), W2.ravel()])``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> X = np.diag([3.0, 2.0, 1.0])
    >>> H = theory.hessian(X, *theory.critical_point(X, 2, 0.5), 0.5)
    >>> H.shape, bool(np.linalg.eigvalsh(H).min() > -1e-12)       # a minimum
    ((12, 12), True)
    """
    kind = _kind(kind)
    C = _gram(X)
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    k, d = W1.shape
    H = np.empty((2 * k * d, 2 * k * d))
    for col, e in enumerate(np.eye(2 * k * d)):
        V1, V2 = e[: k * d].reshape(k, d), e[k * d:].reshape(d, k)
        # derivative of grad() along (V1, V2)
        P, dP = W2 @ W1, V2 @ W1 + W2 @ V1          # the product and its derivative
        h1 = 2.0 * (V2.T @ (P @ C) + W2.T @ (dP @ C) - V2.T @ C)
        h2 = 2.0 * (dP @ C @ W1.T + P @ C @ V1.T - C @ V1.T)
        if kind == "sum":
            h1 += 2.0 * lam * V1
            h2 += 2.0 * lam * V2
        elif kind == "product":
            h1 += 2.0 * lam * (V2.T @ P + W2.T @ dP)
            h2 += 2.0 * lam * (dP @ W1.T + P @ V1.T)
        H[:, col] = np.concatenate([h1.ravel(), h2.ravel()])
    return 0.5 * (H + H.T)


def curvature(spectrum, k, index, kind="sum", lam=None):
    """The Curvature Theorem, as measured: ``(descending, flat, ascending)`` at manifold I.

    Parameters
    ----------
    spectrum : array_like of shape (d,), or int
        The eigenvalues ``s_i^2`` of ``C = X.T @ X`` (any order; distinct and positive, as the
        theorems assume). An int ``d`` (the number of features, the paper's m) is accepted
        for the unregularized and product losses, whose counts do not depend on the values.
    k : int
    index : sequence of int
        0-based index set I (increasing, into the eigenvalues in descending order), of size
        l <= k.
    kind : {"unregularized", "product", "sum"}
    lam : float or None
        The penalty; needed for the sum loss, whose count depends on how many eigenvalues lie
        above it.

    Returns
    -------
    descending, flat, ascending : int
        Descending: ``d_I + (k - l) q`` with ``d_I = sum_j (i_j - j)`` and ``q`` the number of
        directions outside I that an unused latent slot can descend along: ``d - l`` for L and
        L_pi, and for L_sigma the ``j`` outside I with ``s_j^2 > lam``. Flat:
        ``k l - l (l + 1) / 2`` for L_sigma, ``2 k l - l^2`` for L and L_pi. The rest of the
        ``2 k d`` are ascending.

    Raises
    ------
    ValueError
        For the sum loss without the spectrum and ``lam``.

    Notes
    -----
    Two corrections to the paper's statement (both measured in ``docs/theory.md``):

    * L and L_pi with ``0 < l < k`` have ``2 k l - l^2`` zero eigenvalues, not ``k l``: every
      ``(W1, W2)`` with ``W2 W1 = U_I U_I^T`` near the point is critical, and besides the
      ``k l`` directions of the ``G`` parametrization the unused latent slots can move within
      ``span(U_I)``.
    * L_sigma: each unused latent slot contributes the eigenvalues ``2 (lam - s_j^2)`` for
      each direction j outside I, descending only where ``s_j^2 > lam``. The paper's
      ``(k - l)(m - l)`` holds when every eigenvalue exceeds lam; in general m is the number of
      eigenvalues above lam.

    Examples
    --------
    >>> from fastlae import theory
    >>> s2 = [9.0, 4.84, 2.56, 1.21, 0.36, 0.09]      # two eigenvalues below lam = 0.5
    >>> theory.curvature(s2, 3, [0], "sum", lam=0.5)
    (6, 2, 28)
    >>> theory.curvature(6, 3, [0], "product")        # d alone is enough for L and L_pi
    (10, 5, 21)
    """
    kind = _kind(kind)
    index = [int(i) for i in index]
    l = len(index)
    if isinstance(spectrum, numbers.Integral):
        if kind == "sum":
            raise ValueError(E.THEORY_CURVATURE_SUM)
        d = int(spectrum)
        outside = d - l
    else:
        s2 = np.sort(np.asarray(spectrum, dtype=np.float64))[::-1]
        d = s2.shape[0]
        if kind == "sum":
            if lam is None:
                raise ValueError(E.THEORY_CURVATURE_SUM)
            rest = np.delete(s2, index)
            outside = int(np.sum(rest > lam))
        else:
            outside = d - l
    if l > k or any(b <= a for a, b in zip(index, index[1:])) or (index and (
            index[0] < 0 or index[-1] >= d)):
        raise ValueError(E.THEORY_INDEX.format(index=index, k=k, d=d))
    d_I = sum(i - j for j, i in enumerate(index))
    descending = d_I + (k - l) * outside
    flat = k * l - l * (l + 1) // 2 if kind == "sum" else 2 * k * l - l * l
    return descending, flat, 2 * k * d - descending - flat


def ppca_from_lae(W2, lam):
    """pPCA's MAP loading ``W0`` from a sum-loss critical decoder, noise variance ``lam``.

    Theorem 3.1: ``W2 = U_I (I - lam S_I^-2)^{1/2} O^T`` and the pPCA critical point
    ``W0 = U_I (S_I^2 - lam I)^{1/2} O^T`` share ``U_I`` and ``O``; from the decoder's SVD
    ``W2 = P diag(tau) Q^T``, ``s^2 = lam / (1 - tau^2)`` and
    ``W0 = P diag(tau sqrt(lam / (1 - tau^2))) Q^T``. Units are the paper's: the model
    covariance ``W0 W0^T + lam I`` describes ``C = X.T @ X`` (a sum over points); divide
    ``W0`` by ``sqrt(n)`` and ``lam`` by ``n`` for the per-point covariance ``C / n``.

    Parameters
    ----------
    W2 : array_like of shape (d, k)
    lam : float, > 0

    Returns
    -------
    ndarray of shape (d, k)

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> X = np.diag([3.0, 2.0, 1.0])
    >>> W0 = theory.ppca_from_lae(theory.critical_point(X, 2, 0.5)[1], 0.5)
    >>> np.round(np.linalg.svd(W0, compute_uv=False) ** 2, 6)    # s^2 - lam
    array([8.5, 3.5])
    """
    if not isinstance(lam, numbers.Real) or not lam > 0:
        raise ValueError(E.LAM.format(value=lam))
    P, tau, Qt = np.linalg.svd(np.asarray(W2, dtype=np.float64), full_matrices=False)
    alive = tau > 1e-12
    factor = np.zeros_like(tau)
    factor[alive] = tau[alive] * np.sqrt(lam / (1.0 - tau[alive] ** 2))
    return (P * factor) @ Qt


def ppca_nll(X, W0, sigma2):
    """pPCA negative log-likelihood in the paper's units.

    ``0.5 (d ln(2 pi) + ln det M + tr(M^-1 C))`` with ``M = W0 W0^T + sigma2 I`` and
    ``C = X.T @ X``; for one scalar point this is the paper's
    ``0.5 (ln(2 pi) + ln(w0^2 + sigma^2) + x^2 (w0^2 + sigma^2)^-1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlae import theory
    >>> round(float(theory.ppca_nll(np.array([[2.0]]), np.array([[1.0]]), 1.0)), 6)
    2.265512
    """
    C = _gram(X)
    W0 = np.asarray(W0, dtype=np.float64)
    M = W0 @ W0.T + sigma2 * np.eye(C.shape[0])
    sign, logdet = np.linalg.slogdet(M)
    return 0.5 * (C.shape[0] * np.log(2 * np.pi) + logdet + np.trace(np.linalg.solve(M, C)))


def ppca_grad(X, W0, sigma2):
    """Gradient of :func:`ppca_nll` with respect to ``W0``: ``M^-1 W0 - M^-1 C M^-1 W0``."""
    C = _gram(X)
    W0 = np.asarray(W0, dtype=np.float64)
    M = W0 @ W0.T + sigma2 * np.eye(C.shape[0])
    MiW = np.linalg.solve(M, W0)
    return MiW - np.linalg.solve(M, C @ MiW)
