"""Micro-benchmarks of the hot kernels (pytest-benchmark), on demand::

    python -m pytest benchmarks/micro --benchmark-only
    python -m pytest benchmarks/micro --benchmark-only --benchmark-save=base
    python -m pytest benchmarks/micro --benchmark-only --benchmark-compare=0001 \\
        --benchmark-compare-fail=median:10%

In the default test run (``python -m pytest``) each runs once with benchmarking disabled, so
that none can rot. Sizes are those of one block or one update at the README's shapes.
"""
import numpy as np
import pytest

from fastlae._blas import syrk_update
from fastlae._certify import certify
from fastlae._data import ArrayData
from fastlae._gram import form_gram
from fastlae._kernels import als_tied
from fastlae._kernels.monitor import new_history
from fastlae._kernels.operator import apply_gram
from fastlae._kernels.passes import center_block, center_block_ones
from fastlae._operator import Operator
from fastlae.datasets import decaying
from fastlae.solvers import REGISTRY


@pytest.fixture(scope="module")
def tall():
    """One worker block of the Gram pass at d = 1000 (512 samples), and its data."""
    X = decaying(4096, 1000, random_state=0)
    return X, X[:256].mean(axis=0)


@pytest.fixture(scope="module")
def gram():
    data = ArrayData(decaying(20000, 1000, random_state=0), 1)
    C, _ = form_gram(data)
    return Operator(data, C)


@pytest.fixture(scope="module")
def square():
    data = ArrayData(decaying(4000, 4000, random_state=0), 1)
    op = Operator(data)
    op.use_uncentered(1e-10)
    op.trace()
    return op


def test_center_block(benchmark, tall):
    X, shift = tall
    out = np.empty((512, 1000))
    benchmark(center_block, X, 0, 512, 0, 1000, shift, 1, 0.5, out)
    np.testing.assert_allclose(out, (X[:512] - shift) * 0.5)


def test_gram_block(benchmark, tall):
    """Centering one block with its column of ones, then its single-threaded SYRK."""
    X, shift = tall
    buf = np.empty((512, 1001))
    C = np.zeros((1001, 1001), order="F")

    def block():
        center_block_ones(X, 0, 512, 0, 1000, shift, 1, 1.0, buf)
        syrk_update(buf, C, 1)

    benchmark(block)
    assert C[1000, 1000] > 0   # the sample count, accumulated


def test_solver_update_on_the_gram(benchmark, gram):
    """One als_tied update (product with C, r x r solves, the check) at d = 1000, r = 40."""
    W = np.linalg.qr(np.random.default_rng(0).standard_normal((1000, 40)))[0]

    def update():
        return als_tied.run(gram.kernel_op(), W, 0.0, 20, 1e-30, 0.0, 0.0, 1, 1, True, 0.0,
                            new_history())

    out = benchmark(update)
    assert out[2] == 1


def test_matrix_free_pass(benchmark, square):
    """One pass over a 4000 x 4000 X for 40 columns (uncentered views)."""
    V = np.random.default_rng(0).standard_normal((4000, 40))
    out = benchmark(apply_gram, square.kernel_op(), V)
    assert out.shape == (4000, 40)


def test_certificate(benchmark, gram):
    """The final Rayleigh-Ritz step and residuals from a trained decoder (d = 1000, r = 40)."""
    trained = REGISTRY["als_tied"].solve(gram, 20, 40, None, 0.0, 1e-10, 0.0, 100,
                                         np.random.default_rng(0))
    pairs = benchmark(certify, gram, trained, 20)
    assert pairs.res.max() <= 1e-10
