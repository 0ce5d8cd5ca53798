"""The threads of a call (fastlae._threads, fastlae._blas): errors and Ctrl-C from worker
threads, the stop flag, and the BLAS thread limit held once and restored."""
import threading

import numpy as np
import pytest

import fastlae
import fastlae._blas as blas
import fastlae._gram as g
from fastlae._data import ArrayData
from fastlae._threads import Cancelled
from naive import SPECTRA, blas_counts, reference, spectrum_data


def test_worker_error_reaches_the_caller_and_blas_is_restored(small_blocks, rng, monkeypatch):
    def failing(B, C, gram_axis):   # fails in a worker thread, not in the caller's
        if threading.current_thread().name == "fastlae-pass-2":
            raise RuntimeError("injected")
        blas.syrk_update(B, C, gram_axis)

    monkeypatch.setattr(g, "syrk_update", failing)
    before = blas_counts()
    X = rng.standard_normal((1000, 20))
    with pytest.raises(RuntimeError, match="injected"):
        g.gram_around(ArrayData(X, 1), X.mean(axis=0))
    assert blas_counts() == before


def test_stop_flag_cancels_every_worker(small_blocks, rng):
    X = rng.standard_normal((1000, 20))
    data = ArrayData(X, 1)
    data.stop[0] = 1
    with pytest.raises(Cancelled):
        g.gram_around(data, X.mean(axis=0))


def test_no_workers_when_scipys_blas_cannot_be_limited(monkeypatch):
    monkeypatch.setattr(blas, "_controllable", False)   # Accelerate, say
    assert blas.blas_threads() == 1
    assert g.gram_workers(10 ** 6, 100, 10 ** 9)[0] == 1


@pytest.mark.skipif(not blas.controllable(), reason="threadpoolctl cannot limit SciPy's BLAS here")
def test_limit_to_one_is_held_once_and_restored():
    before = blas_counts()
    assert max(before) == blas.blas_threads()
    assert blas.limit_to_one()
    try:
        assert blas_counts() == [1] * len(before)
        assert not blas.limit_to_one()   # a second holder would restore too early
    finally:
        blas.restore()
    assert blas_counts() == before


def _in_thread(fn):
    box = {}
    t = threading.Thread(target=lambda: box.update(value=fn()))
    t.start()
    t.join()
    return box["value"]


@pytest.mark.skipif(max(blas_counts() or [1]) < 2, reason="BLAS runs one thread already")
def test_threaded_gram_when_another_thread_controls_blas_limits(small_blocks, rng, monkeypatch):
    """threadpoolctl lets only the first live thread that set OpenBLAS limits set them again:
    pca sets them from its caller's thread, and falls back to one thread on threaded BLAS
    (same result, no oversubscription) where even that thread may not."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):   # the main thread may now control
        pass
    X = spectrum_data(2000, 30, SPECTRA["fast"](30), rng, mean=10.0)
    w, V, _, _ = reference(X, 5)
    used = []
    limit = blas.limit_to_one
    monkeypatch.setattr(blas, "limit_to_one", lambda: used.append(limit()) or used[-1])
    before = blas_counts()
    for r in [fastlae.pca(X, 5), _in_thread(lambda: fastlae.pca(X, 5))]:
        np.testing.assert_allclose(r.explained_variance * 1999, w, rtol=1e-10)
        assert np.linalg.norm(V - r.components.T @ (r.components @ V), 2) < 1e-8
        assert blas_counts() == before
    assert used[0] is True   # from the main thread
    assert len(used) == 2    # the other thread ran too (whether it could limit depends on
    # threadpoolctl's version and on which thread set OpenBLAS limits first in this process)


def test_interrupted_caller_still_serves_the_worker(rng):
    """A request from the worker after Ctrl-C is still served, so the worker can wind down."""
    from fastlae._threads import interruptible

    import _thread
    import time

    log = []

    def work(stop, in_caller):
        time.sleep(0.2)
        _thread.interrupt_main()          # Ctrl-C arrives in the caller while it polls
        while not stop[0]:
            pass
        log.append(in_caller(lambda: threading.current_thread().name))
        return 1

    with pytest.raises(KeyboardInterrupt):
        interruptible(work)
    assert log == [threading.current_thread().name]


def test_ctrl_c_during_the_threaded_gram_restores_blas(small_blocks, rng, monkeypatch):
    import _thread
    import time

    from fastlae._threads import interruptible

    seen = set()

    def slow(B, C, gram_axis):
        seen.add(blas.blas_threads())
        time.sleep(0.005)
        blas.syrk_update(B, C, gram_axis)

    monkeypatch.setattr(g, "syrk_update", slow)
    X = rng.standard_normal((12000, 20))   # 750 blocks of 16 samples: over 1.2 s on 3 workers
    before = blas_counts()

    def work(stop, in_caller):
        return g.form_gram(ArrayData(X, 1, stop, in_caller))

    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        interruptible(work)
    assert time.perf_counter() - t0 < 0.8   # stopped between blocks, not at the end
    timer.join()
    assert seen == {1}                      # BLAS ran single-threaded during the pass
    assert blas_counts() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("fastlae-")]


@pytest.mark.skipif(not blas.controllable() or blas.blas_threads() < 2,
                    reason="no BLAS threads to hold here")
def test_sparse_passes_hold_blas_from_the_callers_thread(monkeypatch):
    """A sparse run by passes holds BLAS at one thread through the caller's thread, like every
    other path: a limit set from the worker is ignored once another thread set one (a dense
    call before it), and OpenBLAS's spinning threads then took the sparse kernels' cores."""
    import scipy.sparse as sp

    calls = []
    limit = blas.limit_to_one

    def spy():
        held = limit()
        calls.append((threading.current_thread() is threading.main_thread(), held))
        return held

    monkeypatch.setattr(blas, "limit_to_one", spy)
    monkeypatch.setattr("fastlae._stream.GRAM_FEATURES_MAX", 60)   # 80 features: by passes
    rng = np.random.default_rng(3)
    fastlae.pca(rng.standard_normal((3000, 200)), 5)   # a dense call first
    X = rng.standard_normal((3000, 80))
    X[np.abs(X) < 1.0] = 0.0
    calls.clear()
    r = fastlae.pca(sp.csr_matrix(X), 5)
    assert r.matrix_free and calls and all(main and held for main, held in calls)
