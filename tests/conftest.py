import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 samples and three workers, so that test-sized data take the threaded
    Gram pass."""
    monkeypatch.setattr("fastlae._gram.WORKER_BLOCK_ELEMENTS", 1)
    monkeypatch.setattr("fastlae._gram.WORKER_BLOCK_MIN", 16)
    monkeypatch.setattr("fastlae._gram.blas_threads", lambda: 3)


@pytest.fixture
def by_rows(monkeypatch):
    """Files and memory maps read by row blocks, as those beyond memory are (test-sized ones
    are read in place, see fastlae._stream.in_place)."""
    monkeypatch.setattr("fastlae._stream.IN_PLACE_MEMORY", 0.0)
