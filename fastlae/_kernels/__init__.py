"""Numba kernels. Validated, C-contiguous float32/float64 arrays in; no defaults, no callables.

Conventions shared by every kernel module:

* ``A`` is the data matrix as stored: C-contiguous, features along axis 1 (``feat_axis=1``, the
  data were passed C-ordered) or along axis 0 (``feat_axis=0``, ``A`` is the transpose of an
  F-ordered input). ``mean`` has one entry per feature and ``inv`` is a power of two, so
  centering and scaling, ``(a - mean) * inv``, are exact apart from the subtraction.
* ``C`` is a symmetric Gram matrix (float64). A zero-size ``C`` means "no explicit Gram: apply the
  operator block by block from ``A``" (matrix-free mode); see :func:`ops.apply_gram`.
* Every kernel is serial and ``nogil``; parallelism comes from BLAS. OpenBLAS worker threads
  keep spinning for a while after a call, and a Numba parallel region started then fights them
  for the cores (we measured an 8x slowdown of the blocked Gram when the centering kernel was
  parallel); Numba's OpenMP layer is also not fork-safe. Concurrent calls from several Python
  threads are safe because no kernel shares state.
"""
