"""Every kind of input :func:`fastlae.pca` takes, told apart in one place.

:func:`describe` checks X as far as that needs no pass over it (shape, dtype, the first
values of a file) and returns an :class:`Input`; :meth:`Input.open` then builds the
:class:`~fastlae._data.Data` the solvers read, in the worker thread, with one constructor per
kind: an array in memory, a ``scipy.sparse`` matrix, a ``dask.array``, row blocks (files,
memory maps, iterables, callables) and the running sums of :meth:`fastlae.PCA.partial_fit`.
"""
import os
from dataclasses import dataclass

import numpy as np

from . import _dask, _sparse, _stream
from . import _errors as E
from . import _validation as V
from ._data import ArrayData


@dataclass
class Input:
    """A checked input, not yet read.

    Attributes
    ----------
    kind : {"array", "sparse", "dask", "rows", "sums"}
    X : object
        What :meth:`open` reads: the checked array (``A`` of
        :func:`fastlae._validation.check_X`, the CSR matrix, the dask array), the
        :class:`fastlae._stream.Source` of row blocks, or the :class:`fastlae._stream.GramSum`.
    shape : tuple of int or None
        ``(n_samples, n_features)`` where known before a pass (row blocks: a file header).
    feat_axis : int
        For ``"array"``: the axis of ``X`` the features run along.
    out_dtype : numpy.dtype or None
        The dtype of the results (for row blocks, known after the pass).
    name : str
        How a progress line names the data.
    reread_costly : bool
        A file or memory map whose passes after the first may read the disk (read by row
        blocks, or :func:`fastlae._stream.reread_costly`). ``"auto"`` precision stays double
        there (mixed precision's refinement would be one more pass).
    stamp : tuple or None
        ``(path, size, modification time)`` of the file behind a path or memory map, taken
        before any pass (see :meth:`check_unchanged`).
    """

    kind: str
    X: object
    shape: tuple = None
    feat_axis: int = 1
    out_dtype: object = None
    name: str = ""
    reread_costly: bool = False
    stamp: tuple = None

    def open(self, stop, in_caller, activity):
        """The :class:`~fastlae._data.Data` of this input (a pass over it for every kind but
        ``"array"``)."""
        if self.kind == "array":
            return ArrayData(self.X, self.feat_axis, stop, in_caller, activity, self.out_dtype)
        if self.kind == "sparse":
            return _sparse.open_sparse(self.X, self.out_dtype, stop, in_caller, activity)
        if self.kind == "dask":
            return _dask.open_dask(self.X, self.out_dtype, stop, in_caller, activity)
        if self.kind == "rows":
            return _stream.accumulate(self.X, stop, activity, in_caller)
        acc = self.X   # "sums": certified against the accumulated Gram
        return _stream.of_sums(acc, stop=stop, in_caller=in_caller, activity=activity,
                               dtype=acc.dtype, out_dtype=acc.dtype)


    def check_unchanged(self):
        """Raise ``ValueError`` if the file behind the input was written since :func:`describe`
        (a pass over a memory map cannot see it otherwise)."""
        if self.stamp is not None and _stamp(self.stamp[0]) != self.stamp:
            raise ValueError(E.FILE_CHANGED.format(path=self.stamp[0]))


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return (path, None, None)
    return (path, st.st_size, st.st_mtime_ns)


def describe(X):
    """The :class:`Input` of ``X`` (see :func:`fastlae.pca` for what is accepted)."""
    X = V.plain(X)
    opened = _describe(X)
    path = os.fsdecode(X) if isinstance(X, (str, bytes, os.PathLike)) else \
        getattr(X, "filename", None) if isinstance(X, np.memmap) else None
    if path is not None:
        opened.stamp = _stamp(path)
    return opened


def _describe(X):
    if isinstance(X, _stream.GramSum):
        return Input("sums", X, (X.n, X.d), out_dtype=X.dtype, name="sums")
    if _dask.is_dask(X):
        A, out_dtype = _dask.check_dask(X)
        return Input("dask", A, A.shape, out_dtype=out_dtype, name="%d x %d" % A.shape)
    if _sparse.is_sparse(X):
        A, out_dtype = _sparse.check_sparse(X)
        return Input("sparse", A, A.shape, out_dtype=out_dtype, name="%d x %d" % A.shape)
    from_file = isinstance(X, (str, bytes, os.PathLike, np.memmap))
    source = _stream.source_of(X)
    if source is not None:
        return Input("rows", source, source.shape, name=source.name, reread_costly=from_file)
    A, feat_axis, out_dtype = V.check_X(_stream.memmap_of_path(X))
    shape = A.shape if feat_axis == 1 else A.shape[::-1]
    return Input("array", A, shape, feat_axis, out_dtype, f"{shape[0]} x {shape[1]}",
                 from_file and _stream.reread_costly(shape, A.dtype))
