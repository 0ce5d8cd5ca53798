"""Numba kernels. Validated, C-contiguous float32/float64 arrays in; no defaults, no callables.

Modules: ``passes`` (the data passes: statistics, centering, summing partial Grams),
``operator`` (the Gram operator the solvers iterate on, and the span kernels of threaded
passes), ``blas`` (``gemm``: BLAS from kernels), ``ritz`` (the cheap convergence check from
Rayleigh-Ritz on the solvers' own products), ``monitor`` (the shared stop test), one module per solver (``gd``, ``oja``,
``als``, ``als_tied``) and ``train`` (the research training loop).

Conventions shared by every kernel module:

* ``A`` is the data matrix as stored: C-contiguous, features along axis 1 (``feat_axis=1``, the
  data were passed C-ordered) or along axis 0 (``feat_axis=0``, ``A`` is the transpose of an
  F-ordered input). ``mean`` has one entry per feature and ``inv`` is a power of two, so
  centering and scaling, ``(a - mean) * inv``, are exact apart from the subtraction.
* ``gram_axis`` is the axis of ``A`` that the Gram's rows run along: 1 for the Gram of A's
  columns (``Ac.T @ Ac``), 0 for the Gram of its rows. The feature Gram of C-ordered data and
  the sample Gram of F-ordered data both have ``gram_axis = 1``.
* ``C`` is a symmetric Gram matrix (float64). A zero-size ``C`` means "no explicit Gram: apply the
  operator block by block from ``A``" (matrix-free mode); see :func:`operator.apply_gram`.
* Every kernel is serial and ``nogil``; parallelism comes from BLAS (and, for the passes over
  X, from Python threads each calling a single-threaded BLAS or a span kernel). OpenBLAS
  worker threads keep spinning for a while after a call, and a Numba parallel region started
  then fights them for the cores; Numba's OpenMP layer is also not fork-safe. Concurrent calls from several Python
  threads are safe because no kernel shares state.
"""
