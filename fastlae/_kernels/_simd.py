"""Four float64 columns of a row as one vector, for the sparse kernels' gathers and scatters.

Numba compiles ``a0 += v * V[j, c]`` over four columns to four scalar loads and fused
multiply-adds (LLVM does not combine them: the sums are separate values and the stores of a
scatter may alias its loads). These intrinsics load the four contiguous values of
``M[j, col:col + 4]`` as one ``<4 x double>`` and apply one vector fused multiply-add, lane by
lane the same arithmetic as the scalar code (the results are identical). Measured, one
thread, both products of 200000 x 5000 at 0.5% by ``rows_gram_times`` at 4 columns: 10.9 ms
against 16.0 ms scalar. LLVM lowers the vector to what the CPU has (two 2-wide operations
without AVX; a multiply and an add without FMA, as for the scalar code).

Each takes or returns the four values as a ``UniTuple(float64, 4)``; ``M`` is a C-contiguous
2-D float64 array with at least ``col + 4`` columns and ``j`` a valid row (not checked).
Numba's cache keys a kernel on its own source file only: after a change here, clear the
cached kernels that use these (``fastlae/_kernels/__pycache__``).
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

_F64 = ir.DoubleType()
_VEC = ir.VectorType(_F64, 4)
_I32 = ir.IntType(32)
_LANES = (0, 1, 2, 3)
_QUAD = types.UniTuple(types.float64, 4)


def _row_pointer(context, builder, arytype, ary, row, rowtype, col, coltype):
    """A ``<4 x double>*`` to ``M[row, col]`` (``M`` C-contiguous)."""
    a = context.make_array(arytype)(context, builder, ary)
    width = cgutils.unpack_tuple(builder, a.shape, 2)[1]
    row = context.cast(builder, row, rowtype, types.intp)
    col = context.cast(builder, col, coltype, types.intp)
    offset = builder.add(builder.mul(row, width), col)
    return builder.bitcast(builder.gep(a.data, [offset]), _VEC.as_pointer())


def _vector(builder, quad):
    v = ir.Constant(_VEC, ir.Undefined)
    for q in _LANES:
        v = builder.insert_element(v, builder.extract_value(quad, q), ir.Constant(_I32, q))
    return v


def _splat(builder, x):
    v = builder.insert_element(ir.Constant(_VEC, ir.Undefined), x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, 4), [0, 0, 0, 0]))


def _fma(builder, a, b, c):
    """``a * b + c`` fused where the CPU has FMA, else a multiply and an add (``fmuladd``,
    what the kernels' ``contract`` flag lets LLVM do with the scalar code)."""
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                        "llvm.fmuladd.v4f64")
    return builder.call(fn, [a, b, c])


def _check(M, quad):
    return isinstance(M, types.Array) and M.ndim == 2 and M.dtype == types.float64 \
        and M.layout == "C" and quad == _QUAD


@intrinsic
def fma4(typingctx, acc, x, M, j, col):
    """``acc + x * M[j, col:col + 4]`` (a UniTuple of four float64)."""
    if not _check(M, acc):
        return None
    sig = _QUAD(acc, x, M, j, col)

    def codegen(context, builder, signature, args):
        acc_, x_, M_, j_, col_ = args
        ptr = _row_pointer(context, builder, signature.args[2], M_, j_, signature.args[3],
                           col_, signature.args[4])
        x_ = context.cast(builder, x_, signature.args[1], types.float64)
        out = _fma(builder, _splat(builder, x_), builder.load(ptr, align=8),
                   _vector(builder, acc_))
        return context.make_tuple(builder, _QUAD, [
            builder.extract_element(out, ir.Constant(_I32, q)) for q in _LANES])

    return sig, codegen


@intrinsic
def add4(typingctx, M, j, col, x, t):
    """``M[j, col:col + 4] += x * t`` (t a UniTuple of four float64)."""
    if not _check(M, t):
        return None
    sig = types.void(M, j, col, x, t)

    def codegen(context, builder, signature, args):
        M_, j_, col_, x_, t_ = args
        ptr = _row_pointer(context, builder, signature.args[0], M_, j_, signature.args[1],
                           col_, signature.args[2])
        x_ = context.cast(builder, x_, signature.args[3], types.float64)
        builder.store(_fma(builder, _splat(builder, x_), _vector(builder, t_),
                           builder.load(ptr, align=8)), ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen
