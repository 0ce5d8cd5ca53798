"""Updates the gradient solvers need, against the spectrum: what is inherent to Algorithm 1.

Usage::

    python scripts/bench_descent.py

Gradient descent with a stable fixed step (about ``1 / (2 theta_1)``) moves the k-th direction
by about ``step * (theta_k - theta_{k+1})`` per update, so reaching a residual ``tol`` takes
about ``theta_1 / (theta_k - theta_{k+1}) * ln(1 / tol)`` updates (the "predicted" column),
whether the data are low rank or not. Each row is one matrix ``fastlae.datasets.with_spectrum``
(2000 x 150, singular values geometric from ``top`` to 1 over ``rank`` values, then zero or a
flat tail), k = 10.
"""
import numpy as np

import fastlae
from fastlae.datasets import with_spectrum

ROWS = [  # (top singular value, rank, tail singular value)
    (100.0, 13, 0.0),
    (100.0, 13, 0.3),
    (10.0, 13, 0.0),
    (10.0, 13, 0.3),
    (3.0, 13, 0.0),
    (100.0, 40, 0.0),
]


def main():
    n, d, k, tol = 2000, 150, 10, 1e-10
    print("| top / last singular value | rank | tail | theta_1 / (theta_k - theta_k+1) | "
          "predicted | gd updates | oja updates | als_tied updates |")
    print("|---|---|---|---|---|---|---|---|")
    for top, rank, tail in ROWS:
        s = np.geomspace(top, 1.0, rank)
        if tail:
            s = np.concatenate([s, np.full(d - rank - 1, tail)])
        X = with_spectrum(n, d, s * np.sqrt(n), random_state=0)
        theta = s ** 2
        ratio = theta[0] / (theta[k - 1] - theta[k])
        counts = [fastlae.pca(X, k, solver=sv, max_iter=10 ** 6).n_iter
                  for sv in ("gd", "oja", "als_tied")]
        print(f"| {top:g} | {rank} | {tail:g} | {ratio:.0f} | {ratio * np.log(1 / tol):.0f} | "
              + " | ".join(str(c) for c in counts) + " |", flush=True)


if __name__ == "__main__":
    main()
