"""Compilation flags shared by every kernel (one place, as stumpy does).

``fastmath`` is limited to contraction and reassociation-free flags so that NaN and inf keep
their IEEE meaning; ``cache=True`` writes compiled code next to the sources (or to
``NUMBA_CACHE_DIR``) so that only the first process on a machine pays for compilation.
"""
JIT = {"cache": True, "nogil": True, "fastmath": {"contract", "arcp", "nsz"}}
# The dot products of rows with a few vectors (dots.rows_dot): reassociation
# lets LLVM keep each sum in vector lanes (added up at the end), which is what makes them run
# near the CPU's multiply-add rate. The order of each sum is fixed by the code and the CPU's
# vector width, never by threads or timing.
JIT_DOTS = dict(JIT, fastmath=JIT["fastmath"] | {"reassoc"})
