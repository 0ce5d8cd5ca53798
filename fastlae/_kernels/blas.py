"""GEMM for the kernels that call BLAS in a loop: Numba's own BLAS entry point, called directly.

``np.dot`` in a kernel compiles a generic implementation for every combination of layouts
and dtypes it meets (the matrix-free Gram products took about 8 s to compile); :func:`gemm`
calls the same routine (``numba_xxgemm``, which reaches SciPy's ``cython_blas``) with the
layout fixed to C-contiguous, so each use compiles to one call. Cacheable: no ctypes pointers
or other dynamic globals.
"""
import numba as nb
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload
from numba.np.linalg import ensure_blas

from ._config import JIT

ensure_blas()


def _xxgemm(dtype):
    p = types.CPointer(dtype)
    sig = types.intc(types.char, types.char, types.char, types.intp, types.intp, types.intp,
                     p, p, types.intp, p, types.intp, p, p, types.intp)
    return types.ExternalFunction("numba_xxgemm", sig)


# BLAS's type letter ("d", "s") and transpose flags ("N", "T") as the chars numba_xxgemm takes
_GEMM = {types.float64: (_xxgemm(types.float64), 100),
         types.float32: (_xxgemm(types.float32), 115)}
_N, _T = 78, 84


@intrinsic
def _data(typingctx, arr):
    """The data pointer of an array."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data

    return sig, codegen


def gemm(A, B, C, trans_a, trans_b, beta):
    """``C = op(A) @ op(B) + beta * C`` (``op`` transposes where ``trans_a``/``trans_b``).

    Kernels only (no Python implementation). All three arrays are C-contiguous 2-D arrays of
    one dtype (float32 or float64) with matching shapes; nothing is checked.
    """
    raise NotImplementedError("fastlae._kernels.blas.gemm runs inside compiled kernels only")


@overload(gemm, jit_options=JIT)
def _gemm_typed(A, B, C, trans_a, trans_b, beta):
    for arr in (A, B, C):   # checked when a kernel compiles, free at run time
        if not isinstance(arr, types.Array) or arr.ndim != 2 or arr.layout != "C" \
                or arr.dtype != A.dtype or A.dtype not in _GEMM:
            raise TypingError("gemm takes C-contiguous 2-D arrays of one float dtype")
    fn, kind = _GEMM[A.dtype]
    dtype = A.dtype

    def impl(A, B, C, trans_a, trans_b, beta):
        # column-major BLAS sees each C-ordered array transposed: C^T = op(B)^T op(A)^T
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        if m == 0 or n == 0:
            return
        scalars = np.empty(2, dtype=dtype)
        scalars[0] = 1.0
        scalars[1] = beta
        fn(kind, _T if trans_b else _N, _T if trans_a else _N, n, m, k, _data(scalars),
           _data(B), max(B.shape[1], 1), _data(A), max(A.shape[1], 1), _data(scalars[1:]),
           _data(C), n)

    return impl


@nb.njit(**JIT)
def product(A, B, trans_a, trans_b):
    """``op(A) @ op(B)`` as a new C-contiguous array (:func:`gemm`'s conventions)."""
    m = A.shape[1] if trans_a else A.shape[0]
    n = B.shape[0] if trans_b else B.shape[1]
    C = np.empty((m, n), dtype=A.dtype)
    gemm(A, B, C, trans_a, trans_b, 0.0)
    return C
