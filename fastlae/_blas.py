"""A SYRK that releases the GIL, and the BLAS thread controls around it.

The one-pass Gram (:func:`fastlae._gram.form_gram`) runs one worker thread per BLAS
thread, each centering its own blocks and adding them into its own partial Gram with a
single-threaded SYRK. ``scipy.linalg.blas.dsyrk`` holds the GIL for the whole call, so the
workers call SciPy's BLAS (``scipy.linalg.cython_blas``, the library ``scipy.linalg`` itself
uses) through ``ctypes``, which releases it. Single-threaded SYRK calls side by side beat one
threaded SYRK on few cores (docs/design.md; ``scripts/bench_gram_block.py`` times the pass
both ways).
"""
import ctypes
import threading

from numba.extending import get_cython_function_address

_P = ctypes.c_void_p
_SYRK = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, _P, _P, _P, _P, _P, _P, _P, _P)
_dsyrk = _SYRK(get_cython_function_address("scipy.linalg.cython_blas", "dsyrk"))
_ssyrk = _SYRK(get_cython_function_address("scipy.linalg.cython_blas", "ssyrk"))
_ONE = ctypes.c_double(1.0)
_ONE32 = ctypes.c_float(1.0)
_controller = None
_controllable = None
_lock = threading.Lock()
_limiter = None   # the threadpoolctl limiter of limit_to_one, which restores the original counts


def syrk_update(B, C, gram_axis):
    """``C += B.T @ B`` (``gram_axis == 1``, the Gram of B's columns) or ``C += B @ B.T``
    (``gram_axis == 0``), upper triangle only, GIL released.

    No checks (callers pass arrays they allocated): ``B`` is C-contiguous of shape
    (rows, m) when ``gram_axis == 1`` else (m, cols); ``C`` is F-contiguous of shape (m, m),
    of B's dtype: float64 (DSYRK) or float32 (SSYRK, the single-precision Gram of
    :mod:`fastlae._mixed`).
    Only the upper triangle of ``C`` is read and written.
    """
    if gram_axis == 1:   # column-major B is B.T (m x rows, ld m): C += B.T (B.T).T
        m, k = B.shape[1], B.shape[0]
        trans, lda = b"N", m
    else:         # column-major B is B.T (cols x m, ld cols): C += (B.T).T B.T
        m, k = B.shape[0], B.shape[1]
        trans, lda = b"T", k
    n_, k_, lda_ = ctypes.c_int(m), ctypes.c_int(k), ctypes.c_int(lda)
    syrk, one = (_dsyrk, _ONE) if B.dtype.itemsize == 8 else (_ssyrk, _ONE32)
    syrk(b"U", trans, ctypes.byref(n_), ctypes.byref(k_), ctypes.byref(one), _P(B.ctypes.data),
         ctypes.byref(lda_), ctypes.byref(one), _P(C.ctypes.data), ctypes.byref(n_))


def _blas_controllers():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()  # about 1 ms: scans the loaded libraries once
    return _controller.select(user_api="blas")


def controllable():
    """Whether threadpoolctl can set SciPy's BLAS (the one :func:`syrk_update` calls) to one
    thread: its build's BLAS is OpenBLAS, MKL, BLIS or FlexiBLAS and threadpoolctl found a
    library of that kind. Not so for Accelerate (SciPy's macOS arm64 wheels), say, whose
    threads nobody can limit: the Gram pass must not run a worker per core on top of them."""
    global _controllable
    if _controllable is None:
        try:
            import scipy

            name = scipy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"].lower()
        except Exception:   # older SciPy or an unusual build: do not guess
            name = ""
        apis = {lib.internal_api for lib in _blas_controllers().lib_controllers}
        _controllable = any(key in name and key in apis
                            for key in ("openblas", "mkl", "blis", "flexiblas"))
    return _controllable


def blas_threads():
    """The number of threads BLAS would use now (the largest over the loaded BLAS libraries);
    this honours ``OPENBLAS_NUM_THREADS``, threadpoolctl limits and ``pca(n_threads=...)``.
    1 when SciPy's BLAS is not :func:`controllable`."""
    if not controllable():
        return 1
    counts = [lib.num_threads for lib in _blas_controllers().lib_controllers]
    return max(counts) if counts else 1


def limit_to_one():
    """Set every loaded BLAS library to one thread, process wide; returns whether that holds.

    Call :func:`restore` from the same thread afterwards when it returned True. Returns False,
    changing nothing, when another call holds the limit already or when the limit did not
    take: threadpoolctl (3.8, the version tested) ignores OpenBLAS limits set by any thread but
    the one live thread that set them first, so a caller must use the threaded BLAS instead.
    """
    global _limiter
    with _lock:
        if _limiter is not None:
            return False
        limiter = _blas_controllers().limit(limits=1, user_api="blas")
        if blas_threads() != 1:
            limiter.restore_original_limits()
            return False
        _limiter = limiter
        return True


def restore():
    """Undo :func:`limit_to_one` (from the thread that called it)."""
    global _limiter
    with _lock:
        _limiter.restore_original_limits()
        _limiter = None
