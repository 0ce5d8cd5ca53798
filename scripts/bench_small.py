"""Small fits, where set-up dominates: fastlae.PCA against scikit-learn's PCA.

Usage::

    python scripts/bench_small.py --reps 9

Times, interleaved (medians), a fit on digits (1797 x 64, k=10), on iris (150 x 4, k=2), on
wine (178 x 13, n_components=0.9) and a GridSearchCV over a StandardScaler + PCA + logistic
regression pipeline on digits (5 folds x 4 values of n_components); prints each median and the
ratio fastlae / scikit-learn. Each call follows a pause of ``fastlae.bench.PAUSE``: NumPy and
SciPy each bundle an OpenBLAS whose idle threads spin for a while after a call, and without the
pause whichever library runs next pays for the other's spinning (both calls then take 2-4x
their time alone).
"""
import argparse
import warnings

import numpy as np
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.decomposition import PCA as SkPCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastlae import PCA
from fastlae.bench import PAUSE, interleaved


def grid(cls, X, y):
    pipe = make_pipeline(StandardScaler(), cls(), LogisticRegression(max_iter=200))
    search = GridSearchCV(pipe, {"pca__n_components": [5, 10, 20, 30]}, cv=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=9)
    args = p.parse_args(argv)
    digits, iris, wine = load_digits(), load_iris().data, load_wine().data
    cases = {
        "digits fit, k=10": lambda cls: lambda: cls(10).fit(digits.data),
        "iris fit, k=2": lambda cls: lambda: cls(2).fit(iris),
        "wine fit, 0.9": lambda cls: lambda: cls(0.9).fit(wine),
        "GridSearchCV, digits": lambda cls: lambda: grid(cls, digits.data, digits.target),
    }
    for name, make in cases.items():
        make(PCA)(), make(SkPCA)()   # warm both (fastlae's kernels load from the cache)
        reps = max(3, args.reps // 3) if name.startswith("Grid") else args.reps
        times, _ = interleaved({"fastlae": make(PCA), "sklearn": make(SkPCA)}, reps,
                               pause=PAUSE)
        ours, theirs = np.median(times["fastlae"]), np.median(times["sklearn"])
        print(f"{name:22s} fastlae {ours * 1e3:9.2f} ms   scikit-learn {theirs * 1e3:9.2f} ms   "
              f"ratio {ours / theirs:5.2f}")


if __name__ == "__main__":
    main()
