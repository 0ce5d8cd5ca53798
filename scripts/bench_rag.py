"""Epochs to align the decoder with the principal directions: non-uniform penalties, with and
without the rotation-augmented gradient (Bao et al. 2020), as k grows.

Usage::

    python scripts/bench_rag.py --ks 5 20 50 --epochs 3000

Data: ``fastlae.datasets.decaying(3000, 1000, decay=0.25)`` (distinct singular values
~ i^-0.25, so the top 50 eigenvalues span a factor of 7 and plain gradient steps reach them all),
centered and scaled to top eigenvalue 1.
Training: sum loss, ``reg="non_uniform"``, lam = half the k-th eigenvalue of ``Xc.T Xc``,
Adam with a constant learning rate. Alignment error: ``max |(|V_k^T W2n| - I)|`` with ``W2n``
the decoder's normalized columns; reported is the first epoch count of the doubling schedule
50, 100, ..., ``--epochs`` whose run ends below ``--target`` (or "> epochs").
"""
import argparse
import time

import numpy as np

import fastlae
from fastlae.datasets import decaying


def misalignment(V, W2):
    cols = W2 / np.linalg.norm(W2, axis=0)
    return np.abs(np.abs(V.T @ cols) - np.eye(W2.shape[1])).max()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ks", type=int, nargs="+", default=[5, 20, 50])
    p.add_argument("--epochs", type=int, default=3200)
    p.add_argument("--target", type=float, default=1e-2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--decay", type=float, default=0.25,
                   help="singular values ~ i^-decay (0.25: the 50th eigenvalue is 0.14 of the top)")
    args = p.parse_args(argv)
    X = decaying(3000, 1000, decay=args.decay, random_state=0)
    X = X - X.mean(axis=0)
    w, U = np.linalg.eigh(X.T @ X)
    w, U = w[::-1], U[:, ::-1]
    X = X / np.sqrt(w[0])  # top eigenvalue 1: one learning rate for every k
    w = w / w[0]
    print("| k | rag | epochs to alignment < target | final misalignment | seconds |")
    print("|---|---|---|---|---|")
    schedule = [e for e in (50, 100, 200, 400, 800, 1600, 3200, 6400) if e <= args.epochs]
    for k in args.ks:
        for rag in (False, True):
            t0 = time.perf_counter()
            reached, err = None, np.inf
            for epochs in schedule:  # fresh runs of doubling length: resolution factor 2
                r = fastlae.train(X, k, 0.5 * w[k - 1], reg="non_uniform", rag=rag,
                                  epochs=epochs, lr=args.lr, decay=0.0,
                                  record_every=epochs, random_state=0)
                err = misalignment(U[:, :k], r.W2)
                if err < args.target:
                    reached = epochs
                    break
            secs = time.perf_counter() - t0
            print(f"| {k} | {rag} | {reached if reached else '> %d' % schedule[-1]} | "
                  f"{err:.1e} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
