"""Compilation flags shared by every kernel (one place, as stumpy does).

``fastmath`` is limited to contraction and reassociation-free flags so that NaN and inf keep
their IEEE meaning; ``cache=True`` writes compiled code next to the sources (or to
``NUMBA_CACHE_DIR``) so that only the first process on a machine pays for compilation.
"""
JIT = {"cache": True, "nogil": True, "fastmath": {"contract", "arcp", "nsz"}}
