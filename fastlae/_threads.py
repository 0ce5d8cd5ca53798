"""Threads: BLAS limits for one call, a worker thread that Ctrl-C can stop, and the runner of
the threaded passes over blocks.

Every entry point runs its work through :func:`interruptible`: the kernels release the GIL and
poll a stop flag, so the calling thread stays free to receive a KeyboardInterrupt.
"""
import contextlib
import queue
import threading
import time

import numpy as np

from . import _blas
from ._blas import blas_threads


# Seconds between two calls of interruptible's ``tick``, and how long a Ctrl-C waits for the
# worker to wind down before the caller leaves it behind (a user's generator blocked in its
# next block cannot see the stop flag).
TICK = 0.2
ABANDON_SECONDS = 0.8


class Cancelled(Exception):
    """Raised inside the worker thread of :func:`interruptible` after a KeyboardInterrupt."""


@contextlib.contextmanager
def blas_limit(n_threads):
    """Limit BLAS to ``n_threads`` threads for the duration of the block, then restore.

    Only BLAS: no kernel uses Numba's own thread pool, which stays unstarted.
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads):
        yield


@contextlib.contextmanager
def blas_at_one(in_caller):
    """Hold BLAS at one thread for the block where it has more (set from the caller's
    thread through ``in_caller``, see :func:`interruptible`); yields the threads it had, 0
    where nothing changed (held already, or the limit cannot be set)."""
    threads = blas_threads()
    held = threads > 1 and in_caller(_blas.limit_to_one)
    try:
        yield threads if held else 0
    finally:
        if held:
            in_caller(_blas.restore)


@contextlib.contextmanager
def one_blas_thread(data):
    """Hold BLAS at one thread for the block (:func:`blas_at_one`, ``data.in_caller``), with
    the threads it had in ``data.held_threads`` for the passes that run their own threads:
    OpenBLAS's workers, left spinning after a threaded call, would take the cores of the next
    pass (measured: sparse products inside a block Krylov run 1.5-2x slower). Nothing changes
    where the limit is held already or cannot be set."""
    if data.held_threads:
        yield
        return
    with blas_at_one(data.in_caller) as threads:
        data.held_threads = threads
        try:
            yield
        finally:
            data.held_threads = 0


def interruptible(work, tick=None):
    """Run ``work(stop, in_caller)`` in a worker thread so that Ctrl-C interrupts it promptly.

    The kernels release the GIL and read the int64 flag ``stop`` between blocks and updates;
    the calling thread waits in short polls, so a KeyboardInterrupt reaches it within a
    fraction of a second, sets the flag, waits for the worker to wind down and re-raises.
    A worker that has not wound down within ``ABANDON_SECONDS`` (blocked in a user's generator,
    which cannot see the flag) is left behind: the caller undoes the BLAS limit the call
    holds and re-raises; the worker, a daemon thread, ends at the stop flag once the
    generator returns.

    ``in_caller(fn)``, called by the worker, runs ``fn()`` in the calling thread and returns its
    result (or raises its exception) in the worker. The Gram pass sets BLAS thread limits
    through it: threadpoolctl lets only one live thread set OpenBLAS's limits, and that is
    usually the caller's (the main thread, once anything there used ``threadpool_limits``),
    never a fresh worker's.

    ``tick()``, when given, is called by the waiting thread about every 0.2 s (a progress
    line reads the worker's state there).
    """
    stop = np.zeros(1, dtype=np.int64)
    box = {}
    inbox = queue.SimpleQueue()
    closed = []   # non-empty once the caller no longer serves requests

    def in_caller(fn):
        reply, done = {}, threading.Event()
        inbox.put((fn, reply, done))
        while not done.wait(0.05):
            if closed:   # the caller left (a second Ctrl-C)
                raise Cancelled
        if "error" in reply:
            raise reply["error"]
        return reply["value"]

    def target():
        try:
            box["value"] = work(stop, in_caller)
        except Cancelled:
            pass
        except BaseException as err:  # re-raised in the calling thread
            box["error"] = err
        finally:
            inbox.put(None)   # wakes the caller at once (a poll timeout would add 25 ms)

    held = []   # BLAS limits taken for the worker and not yet undone

    def serve(deadline=None):   # until the worker ends (or the deadline passes)
        last = time.monotonic()
        while deadline is None or time.monotonic() < deadline:
            if tick is not None and time.monotonic() - last >= TICK:
                tick()
                last = time.monotonic()
            try:
                item = inbox.get(timeout=0.05)
            except queue.Empty:
                if not worker.is_alive():
                    return
                continue
            if item is None:
                return
            fn, reply, done = item
            try:
                reply["value"] = fn()
                if fn is _blas.limit_to_one and reply["value"]:
                    held.append(fn)
                elif fn is _blas.restore and held:
                    held.pop()
            except BaseException as err:   # a Ctrl-C here reaches the worker in the reply
                reply["error"] = err
            finally:
                done.set()

    worker = threading.Thread(target=target, name="fastlae-worker", daemon=True)
    try:
        worker.start()
        serve()
    except KeyboardInterrupt:
        stop[0] = 1
        # the worker winds down; its last requests (restoring BLAS limits) are served
        serve(time.monotonic() + ABANDON_SECONDS)
        if worker.is_alive() and held:
            closed.append(True)   # from here the worker's requests raise Cancelled
            _blas.restore()
        raise
    finally:
        closed.append(True)
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_spans(body, span, block, workers, check, name):
    """Run ``body(t, s0, s1)`` over the blocks ``[s0, s1)`` of ``range(span)``, block ``s0`` on
    thread ``t = (s0 // block) % workers`` (``t = 0`` this thread, the others named
    ``f"{name}-{t}"``). ``check()`` runs before each block (it raises to cancel); once any
    thread failed the others stop at their next block, and the first error is raised here."""
    errors = []

    def run(t):
        try:
            for s0 in range(t * block, span, workers * block):
                if errors:
                    return
                check()
                body(t, s0, min(span, s0 + block))
        except BaseException as err:   # re-raised by the caller's thread below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(t,), daemon=True, name=f"{name}-{t}")
               for t in range(1, workers)]
    for th in threads:
        th.start()
    run(0)
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def pass_workers(data, span, block):
    """Threads for a pass of GEMMs over ``span`` samples (or features) in blocks of ``block``:
    one per BLAS thread (as many as BLAS had before, while ``data.held_threads`` holds it at
    one), each with at least two blocks."""
    return max(1, min(data.held_threads or blas_threads(), span // (2 * block)))


def run_blocks(data, span, workers, block, serial_block, start, body):
    """Run ``body(t, s0, s1)`` over the blocks ``[s0, s1)`` of ``range(span)`` on ``workers``
    threads, block ``s0`` on thread ``t = (s0 // block) % workers``.

    With more than one worker, BLAS is set to one thread meanwhile, from the caller's thread
    (``data.in_caller``; unless ``data.held_threads`` says the caller holds that limit already),
    and each thread (this one and ``workers - 1`` more) calls its own single-threaded BLAS;
    where that limit cannot be set (:func:`fastlae._blas.limit_to_one`) one thread runs the
    pass on threaded BLAS, in blocks of ``serial_block``. ``start(workers, block)`` is called
    first with the counts that run, to allocate per-thread state. The stop flag is read
    between blocks; the first exception of any thread is raised here.
    """
    own = workers > 1 and not data.held_threads
    if own and not data.in_caller(_blas.limit_to_one):
        workers, block, own = 1, serial_block, False   # BLAS stays threaded
    start(workers, block)
    try:
        run_spans(body, span, block, workers, data.check_stop, "fastlae-pass")
    finally:
        if own:
            data.in_caller(_blas.restore)
