"""Data that arrive in row blocks: chunk streams, ``.npy`` files, memory maps, partial fits.

The feature Gram ``Xc.T @ Xc`` is a sum over samples, so one pass over row blocks forms it
exactly, in O(n_features^2) memory whatever the number of rows. Each block contributes its row
count, its mean and the Gram of its rows centered around that mean (one SYRK); :class:`GramSum`
merges them with the running sums by the pairwise update of Chan, Golub and LeVeque::

    C = C_a + C_b + (n_a n_b / (n_a + n_b)) (mean_b - mean_a)(mean_b - mean_a)^T

which never subtracts two large sums, so a large mean, or means that drift from block to
block, cost no precision. Magnitudes are kept in range by a power-of-two scale (exact), raised
as larger blocks arrive. :func:`accumulate` returns it as a :class:`fastlae._data.GramData`: the solvers and the
certificate work on the formed Gram.

A source that can be read again (a callable returning the blocks, a file, a memory map) gets
a second pass for the certificate: the residuals are then those of the data, ``||Xc.T (Xc v)
- theta v||``, not only of the accumulated Gram (``PCAResult.certificate``).
"""
import collections.abc
import mmap
from concurrent.futures import ThreadPoolExecutor
import os
import queue
import threading
import time

import numpy as np

from . import _errors as E
from scipy.linalg.blas import dsyr as _syr

from ._blas import blas_threads, limit_to_one, restore, syrk_update
from ._kernels.operator import GramOperator, apply_span
from ._kernels.passes import center_block_exact
from ._operator import _EMPTY_BUF, span_block
from ._data import GramData, PassData, block_length, pow2_at_least
from ._threads import Cancelled, one_blas_thread, run_spans
from ._validation import as_float, plain_array

# Values per block read from files and memory maps (32 MB of float64), and per chunk that
# GramSum centers and multiplies at a time (4 MB: in cache).
FILE_BLOCK_ELEMENTS = 1 << 22
# Files and memory maps are read one block ahead of the pass, on a thread (see read_ahead):
# the block being read, the one waiting and the one the pass works on, in that many buffers.
AHEAD_BUFFERS = 3
CHUNK_ELEMENTS = 1 << 19
# Rows per thread below which a block is summed by one thread (see _Workers).
SPLIT_ROWS = 256
# Above this many features the d x d Gram (8 d^2 bytes: 2 GiB here) is not formed: a source
# that can be read again is solved by passes (memory O(d r + block)), a one-shot stream refused.
GRAM_FEATURES_MAX = 16384
# Files and memory maps of float values taking at most this share of the physical memory are
# read in place as arrays (see in_place); larger ones by row blocks (AHEAD_BUFFERS of memory).
IN_PLACE_MEMORY = 0.25


class GramSum:
    """Running count, mean and centered feature Gram of row blocks.

    Everything is kept relative to a shift, the first block's mean (as rounded): blocks are
    shifted, centered around their own mean (exact to rounding, since the shifted values are
    small) and merged by the pairwise update. A mean far from zero then costs no digits: only
    deviations from the shift are ever summed.

    Attributes
    ----------
    n : int
        Rows so far.
    shift : ndarray of shape (d,), float64, or None before the first row
    offset : ndarray of shape (d,), float64
        ``mean - shift``.
    C : ndarray of shape (d, d), float64, F-ordered
        ``sum (x - mean)(x - mean)^T / scale**2``, upper triangle (see :meth:`gram`).
    scale : float
        A power of two at or above the largest centered magnitude seen.
    """

    def __init__(self, d, full=True):
        self.d = d
        self.n = 0
        self.shift = None
        self.offset = np.zeros(d)
        # full=False keeps only the diagonal (the statistics pass of data too wide for a Gram)
        self.C = np.zeros((d, d), order="F") if full else np.zeros(d)
        self.scale = 1.0
        self.dtype = None
        self._buf = None

    def __getstate__(self):   # sent to and from dask workers without the scratch buffer
        state = dict(self.__dict__)
        state["_buf"] = None
        return state

    @property
    def mean(self):
        return self.offset.copy() if self.shift is None else self.shift + self.offset

    def _rescale(self, scale):
        if scale > self.scale:
            self.C *= (self.scale / scale) ** 2
            self.scale = scale

    def add(self, B):
        """Add the rows of ``B`` (C-contiguous float32/float64 of shape (rows, d), finite), in
        chunks of about ``CHUNK_ELEMENTS`` values, so that centering and SYRK work in cache."""
        step = max(1, CHUNK_ELEMENTS // B.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: see accumulate
            for r0 in range(0, B.shape[0], step):
                self._add(B[r0:r0 + step])

    def _add(self, B):
        nb, d = B.shape
        if self.shift is None:
            self.shift = B.mean(axis=0, dtype=np.float64)
        if self._buf is None or self._buf.shape[1] < B.size:   # reused: no page faults
            self._buf = np.empty((2, B.size))
        Bs = self._buf[0, : B.size].reshape(B.shape)
        Bc = self._buf[1, : B.size].reshape(B.shape)
        np.subtract(B, self.shift, out=Bs, dtype=np.float64)   # small numbers from here
        mu = np.empty(d)
        # the block's exact mean (of the shifted values: no digits lost) into mu, and the
        # block centered around it and scaled into Bc, in two passes
        big = center_block_exact(Bs, 0, nb, 0, d, mu, 1, 1.0 / self.scale, Bc)
        if self.n == 0 and 0.0 < 2.0 * big < 0.5 * self.scale:
            # the first rows set the scale downwards too (data near 1e-200: squares in range)
            self.scale = pow2_at_least(2.0 * big)
            big = center_block_exact(Bs, 0, nb, 0, d, mu, 1, 1.0 / self.scale, Bc)
        if 2.0 * big > self.scale:   # |b - mu| <= 2 max|b|: keep the squares in range
            old = self.scale
            self._rescale(pow2_at_least(2.0 * big))
            Bc *= old / self.scale
        if self.C.ndim == 2:
            syrk_update(Bc, self.C, 1)
        else:
            self.C += np.einsum("ij,ij->j", Bc, Bc)
        self._merge_means(nb, mu)

    def _rank_one(self, v, w):
        """``C += w v v^T`` on the upper triangle (BLAS syr)."""
        self.C = _syr(w, v, lower=0, a=self.C, overwrite_a=1)

    def merge(self, other):
        """Add another :class:`GramSum` (of other rows of the same features) into this one."""
        if other.n == 0:
            return self
        if self.n == 0:
            self.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v)
                                  for k, v in other.__dict__.items()})
            return self
        self._rescale(other.scale)
        self.C += other.C * (other.scale / self.scale) ** 2
        # the other's mean relative to this shift: shifts of nearby means subtract exactly
        self._merge_means(other.n, (other.shift - self.shift) + other.offset)
        return self

    def _merge_means(self, nb, mu):
        """Merge ``nb`` rows of mean ``shift + mu`` (their Gram already added)."""
        if self.n:
            delta = (mu - self.offset) * (1.0 / self.scale)
            w = self.n * nb / (self.n + nb)
            # where the mean moved further than the scale, rescale before the update
            big = float(np.max(np.abs(delta))) * np.sqrt(w)
            if big > 1.0:
                self._rescale(self.scale * pow2_at_least(big))
                delta = (mu - self.offset) * (1.0 / self.scale)
            if self.C.ndim == 2:
                self._rank_one(delta, w)
            else:
                self.C += w * delta * delta
            self.offset = self.offset + (mu - self.offset) * (nb / (self.n + nb))
        else:
            self.offset = np.array(mu, dtype=np.float64)
        self.n += nb

    def finite(self):
        """Whether the sums stayed finite (data whose sums overflow float64 do not)."""
        return bool(np.isfinite(self.scale) and np.all(np.isfinite(self.C))
                    and np.all(np.isfinite(self.offset)))

    def gram(self):
        """The symmetric scaled Gram (C-contiguous)."""
        C = np.triu(self.C)
        C += np.triu(C, 1).T
        return np.ascontiguousarray(C)


def check_block(B, index, d, dtype, extent=None):
    """A row block as a C-contiguous float32/float64 array, or an error naming the block.
    ``extent``, a list, gets the block's largest ``|x|`` appended."""
    try:
        arr = plain_array(B)
    except (ValueError, TypeError) as err:
        raise ValueError(E.BLOCK_NOT_ARRAY.format(index=index, err=err)) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(E.BLOCK_DTYPE.format(index=index, dtype=arr.dtype))
    if arr.ndim != 2:
        raise ValueError(E.BLOCK_NDIM.format(index=index, shape=arr.shape))
    if d is not None and arr.shape[1] != d:
        raise ValueError(E.BLOCK_WIDTH.format(index=index, got=arr.shape[1], d=d))
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(E.BLOCK_MIX.format(index=index, dtype=arr.dtype, first=dtype))
    arr = np.ascontiguousarray(as_float(arr))
    if arr.size:
        low, high = float(arr.min()), float(arr.max())
        if extent is not None:
            extent.append(max(-low, high))
        if not (np.isfinite(low) and np.isfinite(high)):
            what = "NaN" if np.isnan(arr).any() else "infinity"
            raise ValueError(E.BLOCK_NONFINITE.format(index=index, what=what))
    return arr


# ------------------------------------------------------------------------------------ sources

class Source:
    """Row blocks of X. ``blocks()`` yields them (again, when ``replayable``); ``rows`` is
    the number of rows when known (for a progress bar)."""

    replayable = False
    ahead = False   # blocks() may run on another thread, one block ahead (read_ahead)
    rows = None
    shape = None   # (n_samples, n_features) where known before reading
    name = "stream"

    def blocks(self):
        raise NotImplementedError


class OneShot(Source):
    """Any iterable of row blocks, read once."""

    def __init__(self, iterable):
        self._it = iter(iterable)
        self._used = False

    def blocks(self):
        if self._used:
            raise RuntimeError("a one-shot stream is read once")   # pragma: no cover
        self._used = True
        return self._it


class Replay(Source):
    """A callable that returns a fresh iterable of the same row blocks at each call."""

    replayable = True
    name = "callable's blocks"

    def __init__(self, make):
        self._make = make

    def blocks(self):
        return iter(self._make())


class MemmapRows(Source):
    """Row blocks of a C-ordered memory map (``np.memmap``, ``np.load(mmap_mode="r")``), copied
    into ``AHEAD_BUFFERS`` buffers in turn; pages already read are released, so resident
    memory stays those blocks."""

    replayable = True
    ahead = True
    name = "memory map"

    def __init__(self, X):
        self.X = X
        self.rows, self.shape = X.shape[0], X.shape
        self.step = block_length(X.shape[1], FILE_BLOCK_ELEMENTS)

    def blocks(self):
        X = self.X
        # only a read-only map is released: a copy-on-write map ("c") would lose its changes
        handle = getattr(X, "_mmap", None) if getattr(X, "mode", None) == "r" else None
        bufs = [np.empty((min(self.step, X.shape[0]), X.shape[1]), dtype=X.dtype)
                for _ in range(AHEAD_BUFFERS)]
        for index, r0 in enumerate(range(0, X.shape[0], self.step)):
            part = X[r0:r0 + self.step]
            view = bufs[index % AHEAD_BUFFERS][:part.shape[0]]
            np.copyto(view, part)
            _release(handle)
            yield view


def _release(handle):
    """Drop the pages of a memory map from this process's resident set (they stay in the page
    cache): reading a file through a map would otherwise keep all of it resident."""
    if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
        try:
            handle.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):   # closed map or a platform that refuses: harmless
            pass


class NpyFile(Source):
    """Row blocks of a C-ordered ``.npy`` file, read with ``readinto`` into ``AHEAD_BUFFERS``
    buffers in turn."""

    replayable = True
    ahead = True
    name = "file"

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read(fh)
                self.offset = fh.tell()
                size = os.fstat(fh.fileno()).st_size
        except (OSError, ValueError) as err:
            raise ValueError(E.INPUT_FILE.format(path=path, err=err)) from None
        if size < self.offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise ValueError(E.INPUT_FILE.format(path=path, err=E.FILE_SHORT))
        if len(shape) != 2:
            raise ValueError(E.X_NDIM.format(ndim=len(shape)))
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise TypeError(E.X_DTYPE.format(dtype=dtype))
        if shape[0] == 0 or shape[1] == 0:
            raise ValueError(E.X_EMPTY.format(shape=shape))
        self.shape, self.fortran, self.dtype = shape, fortran, dtype
        self.rows = shape[0]
        self.step = block_length(shape[1], FILE_BLOCK_ELEMENTS)

    def blocks(self):
        n, d = self.shape
        bufs = [np.empty((min(self.step, n), d), dtype=self.dtype) for _ in range(AHEAD_BUFFERS)]
        with open(self.path, "rb", buffering=0) as fh:
            fh.seek(self.offset)
            for index, r0 in enumerate(range(0, n, self.step)):
                rows = min(self.step, n - r0)
                view = bufs[index % AHEAD_BUFFERS][:rows]
                raw, got = memoryview(view).cast("B"), 0
                while got < view.nbytes:
                    more = fh.readinto(raw[got:])
                    if not more:
                        raise ValueError(E.INPUT_FILE.format(path=self.path, err=E.FILE_SHORT))
                    got += more
                yield view


def source_of(X):
    """The :class:`Source` for ``X``, or None when ``X`` is an in-memory array-like."""
    if isinstance(X, (str, bytes, os.PathLike)):
        path = os.fsdecode(X)
        if os.path.splitext(path)[1].lower() != ".npy":
            raise TypeError(E.X_PATH.format(path=path))
        src = NpyFile(path)
        # rows strided on disk, or data read in place (see in_place): map the file and let
        # the array path read it
        if src.fortran or in_place(src.shape, src.dtype):
            return None
        return src
    if isinstance(X, np.memmap):
        return MemmapRows(X) if X.ndim == 2 and X.flags.c_contiguous and X.size \
            and not in_place(X.shape, X.dtype) else None
    if isinstance(X, np.ndarray) or hasattr(X, "__array__") or _is_sparse_or_frame(X):
        return None
    if callable(X):
        return Replay(X)
    if isinstance(X, (list, tuple)):   # of 2-D blocks (arrays, frames), read as often as needed
        if X and all(getattr(b, "ndim", None) == 2 for b in X):
            return Replay(lambda: X)
        return None
    if isinstance(X, collections.abc.Iterable):
        return OneShot(X)
    return None


def in_place(shape, dtype):
    """Whether a file or memory map is read in place by the array path, as an array in memory
    is, instead of by row blocks:

    * data that fit in memory (:func:`fits_memory`): the call makes the plan and the passes
      of the array in memory (matrix-free products where they pay, else the Gram in one
      pass);
    * wide data (fewer samples than features) whose n x n sample Gram takes at most as much
      memory as the largest feature Gram formed from row blocks (``GRAM_FEATURES_MAX``). Two
      passes over the file then give the exact answer, where row blocks would need a pass per
      product.
    """
    n, d = shape
    return (d > n and n <= GRAM_FEATURES_MAX) or fits_memory(shape, dtype)


def fits_memory(shape, dtype):
    """Whether a file or memory map fits in memory: float32 or float64 values (native byte
    order: nothing to convert) taking at most ``IN_PLACE_MEMORY`` of the physical memory
    (:func:`physical_memory`), with at most ``GRAM_FEATURES_MAX`` features (the array path
    may form their Gram, as row blocks would). Its pages then stay in the page cache from one
    pass to the next."""
    n, d = shape
    dtype = np.dtype(dtype)
    return dtype in (np.dtype(np.float32), np.dtype(np.float64)) and d <= GRAM_FEATURES_MAX \
        and n * d * dtype.itemsize <= IN_PLACE_MEMORY * physical_memory()


def reread_costly(shape, dtype):
    """Whether passes after the first over a file or memory map read in place may read the
    disk: it does not fit in memory (:func:`fits_memory`), or it is wide and read in place,
    where two passes give the answer (see :func:`in_place`)."""
    n, d = shape
    return d > n or not fits_memory(shape, dtype)


# The memory limits of the process's control group: cgroup v2, then v1 (a number; "max" or a
# value near 2^63 means none).
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def physical_memory():
    """The machine's physical memory in bytes, or the memory limit of the process's control
    group (``CGROUP_LIMITS``) where that is smaller; 0 where neither can be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):   # no sysconf (Windows)
        return 0
    for path in CGROUP_LIMITS:
        try:
            with open(path) as fh:
                limit = fh.read().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return max(int(total), 0)


def _is_sparse_or_frame(X):
    """Sparse and dask arrays (and frames, which have ``__array__``) are not row-block
    sources; a pandas chunk reader (``read_csv(chunksize=...)``) is one."""
    module = type(X).__module__
    return module.startswith(("scipy.sparse", "dask"))


def memmap_of_path(X):
    """``X`` as a read-only memory map when it is a path to a ``.npy`` file read in place (see
    :func:`source_of`)."""
    if isinstance(X, (str, bytes, os.PathLike)):
        path = os.fsdecode(X)
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(E.INPUT_FILE.format(path=path, err=err)) from None
    return X


# ------------------------------------------------------------------------------- the passes

class Fingerprint:
    """What one pass over a source read: its rows and the weighted sums ``X^T w`` (``w_i`` in
    ``[0.5, 1.5]``, a fixed function of the row's index), and on the first pass each feature's
    sum of squares, which bounds their rounding. Two passes over the same rows agree to
    rounding whatever their blocks; a changed entry, row or row count shows (:meth:`check`).
    One or two vector products per block: 0.09 s of a 0.56 s call on a 200000 x 256 ``.npy``
    file read by row blocks.

    Parameters
    ----------
    d : int
    bound : bool
        Also sum the squares (the first pass, the reference of the others).
    start : int
        The index of the first row it sees (dask: a chunk's offset).
    """

    def __init__(self, d=None, bound=False, start=0):
        self.start, self.rows, self.bound = start, 0, bound
        self.z = self.sumsq = None
        if d is not None:
            self._alloc(d)

    def _alloc(self, d):
        self.z = np.zeros(d)
        self.sumsq = np.zeros(d) if self.bound else None

    def add(self, B):
        """Add the rows of block ``B`` (the next rows of the source; the first sets d where
        the constructor had none)."""
        if self.z is None:
            self._alloc(B.shape[1])
        i0 = self.start + self.rows
        w = 1.0 + 0.5 * np.sin(0.7548776662466927 * np.arange(i0, i0 + B.shape[0]))
        with np.errstate(over="ignore", invalid="ignore"):
            self.z += w @ B
            if self.sumsq is not None:
                self.sumsq += np.einsum("ij,ij->j", B, B, dtype=np.float64)
        self.rows += B.shape[0]
        return self

    def merge(self, other):
        """The fingerprint of these rows and ``other``'s (dask: chunks summed apart, each
        weighted by its own rows' indices)."""
        out = Fingerprint(len(self.z), self.sumsq is not None, min(self.start, other.start))
        out.rows, out.z = self.rows + other.rows, self.z + other.z
        if out.sumsq is not None:
            out.sumsq = self.sumsq + other.sumsq
        return out

    def check(self, first, index, name):
        """Raise ``ValueError`` unless this pass read what ``first`` did: the same row count,
        and each weighted sum within its worst-case rounding ``16 eps n sum_i |w_i x_ij| <=
        24 eps n^1.5 ||x_j||`` of the first's (a column whose squares overflow float64,
        values beyond about 1e150, is compared by its rows only)."""
        if self.rows != first.rows:
            detail = E.SOURCE_ROWS.format(rows=self.rows, first=first.rows)
        else:
            tol = 24.0 * np.finfo(float).eps * first.rows ** 1.5 * np.sqrt(first.sumsq)
            bad = np.flatnonzero(~(np.abs(self.z - first.z) <= tol) & np.isfinite(tol))
            if not bad.size:
                return
            j = int(bad[0])
            detail = E.SOURCE_VALUES.format(j=j, got=self.z[j], first=first.z[j], tol=tol[j])
        raise ValueError(E.SOURCE_CHANGED.format(index=index, name=name, detail=detail))


class SourceProducts:
    """``Xc.T (Xc V)`` (scaled) by one pass over a :class:`Source` that can be read again (the
    ``products`` of :class:`fastlae._data.Data`)."""

    def __init__(self, source, first):
        self.source, self.first, self.passes = source, first, 1

    def times(self, data, V, tol, what="pass"):
        """``Xc.T (Xc V)`` (scaled) by one pass over the source.

        Each block goes through the matrix-free products of an array in memory, its rows split
        into one span per BLAS thread (BLAS held at one thread for the pass), in blocks that
        stay in the core's cache (:func:`fastlae._operator.span_block`;
        :func:`~fastlae._kernels.operator.apply_span` on the block): centered copies, or
        where the mean is small enough against the spread for ``tol``
        (:meth:`fastlae._data.Data.uncentered`) and the block is float64, none: ``T = B V -
        1 (m^T V)`` and ``B^T T - m (1^T T)``, which round like the centered products within
        ``eps sqrt(1 + n |m|^2 / lambda_1)``.
        """
        uncentered = data.uncentered(data.trace, tol)
        V = np.ascontiguousarray(V, dtype=np.float64)
        out = np.zeros((data.d, V.shape[1]))
        seen = Fingerprint(data.d)
        rows = span_block(data.d, 1)
        with one_blas_thread(data):   # where it cannot hold, one worker on threaded BLAS
            workers = max(1, data.held_threads)
            bufs = [np.empty(rows * data.d) for _ in range(workers)]
            for B in _rows(self.source, data.stop, data.activity, what, seen=seen):
                plain = uncentered and B.dtype == np.float64   # an empty buffer: uncentered
                ops = [GramOperator(B, data.mean, 1, data.inv, 1, rows,
                                    _EMPTY_BUF if plain else buf, data.stop) for buf in bufs]
                parts = [None] * workers

                def body(t, s0, s1):
                    parts[t] = apply_span(ops[t], V, s0, s1)

                run_spans(body, B.shape[0], -(-B.shape[0] // workers), workers,
                          data.check_stop, "fastlae-pass")
                for part in parts:   # in the threads' order: the sum does not depend on timing
                    if part is not None:
                        out += part
        data.check_stop()
        self.passes += 1
        seen.check(self.first, self.passes, self.source.name)
        return out


    def rounding(self, data, tol):
        """The relative error of :meth:`times` beyond float64's: the uncentered products'
        bound where they are used."""
        return data.uncentered_error(data.trace) if data.uncentered(data.trace, tol) else 0.0


class _Raised:
    def __init__(self, err):
        self.err = err


_END = object()


def read_ahead(blocks, stop):
    """The items of the generator ``blocks``, produced on a thread one item ahead of the
    caller: a file's next block is read (the thread waits in the read, GIL released) while the
    pass works on this one, so that a pass over a file not in the page cache costs about the
    larger of reading and working instead of their sum. The producer's exception is raised
    here in its place; leaving the loop early (or ``stop`` set) stops the producer at its next
    item, and ``blocks`` is closed on its thread.

    An item stays untouched until the caller asks for the second item after it: the sources
    that set ``ahead`` yield views of ``AHEAD_BUFFERS`` (3) buffers in turn (one being read,
    one waiting in the queue, one the caller holds).
    """
    waiting = queue.Queue(maxsize=AHEAD_BUFFERS - 2)
    closed = threading.Event()

    def put(item):
        while not (closed.is_set() or stop[0]):
            try:
                waiting.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for item in blocks:
                if not put(item):
                    return
            put(_END)
        except BaseException as err:   # re-raised in the caller's thread
            put(_Raised(err))
        finally:
            blocks.close()

    thread = threading.Thread(target=produce, daemon=True, name="fastlae-read")
    thread.start()
    try:
        while True:
            try:
                item = waiting.get(timeout=0.05)
            except queue.Empty:
                if stop[0]:
                    raise Cancelled from None
                continue
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.err
            yield item
    finally:
        closed.set()
        thread.join()


def _rows(source, stop, activity, what, extent=None, with_dtype=False, seen=None):
    """The validated blocks of ``source`` (:func:`check_block`), with progress in ``activity``
    (and each block's original dtype with ``with_dtype``); ``extent``, a list, keeps the
    largest ``|x|``, and the :class:`Fingerprint` ``seen`` adds every block. Sources that set
    ``ahead`` are read, checked and fingerprinted on the thread of :func:`read_ahead`, while
    the pass works on the block before."""
    t0, done = time.perf_counter(), 0
    extent = [0.0] if extent is None else extent
    total = source.rows or 0
    checked = _checked(source.blocks(), extent, seen, close=source.ahead)
    for B, original in read_ahead(checked, stop) if source.ahead else checked:
        if stop[0]:
            raise Cancelled
        done += B.shape[0]
        rate = done / max(time.perf_counter() - t0, 1e-9)
        activity.start(f"{what}: {done:,} rows, {rate:,.0f} rows/s", total)
        activity.advance(done)
        yield (B, original) if with_dtype else B


def _checked(blocks, extent, seen, close):
    """``(B, original dtype)`` for each of ``blocks``: B as :func:`check_block` returns it,
    added to the :class:`Fingerprint` ``seen`` (None: not kept). ``close``: close ``blocks``
    (a source's own generator, not a user's iterable) when done or left."""
    d = dtype = None
    try:
        for index, block in enumerate(blocks):
            original = np.asarray(block).dtype if hasattr(block, "dtype") else None
            B = check_block(block, index, d, dtype, extent)
            extent[:] = [max(extent)]   # the largest |x| so far
            if d is None:
                d, dtype = B.shape[1], original if original is not None else B.dtype
            if seen is not None and B.shape[0]:
                seen.add(B)
            yield B, original if original is not None else B.dtype
    finally:
        if close:
            blocks.close()


def of_sums(acc, products=None, **kw):
    """The :class:`~fastlae._data.GramData` of the rows summed in ``acc`` (a :class:`GramSum`
    with its full Gram; ``products`` where the rows can be read again), or the
    :class:`~fastlae._data.PassData` of its statistics (diagonal only)."""
    if acc.C.ndim == 2:
        return GramData(acc.n, acc.d, acc.mean, acc.scale, acc.gram(), products, **kw)
    return PassData(acc.n, acc.d, acc.mean, acc.scale, float(np.sum(acc.C)), products, **kw)


class _Workers:
    """Sums of row blocks on every BLAS thread: each block's rows are split into one slice per
    thread, each thread adds its slice to its own :class:`GramSum` (single-threaded SYRK, the
    GIL released), and the sums are merged in a fixed order at the end, so the result does
    not depend on thread timing. Blocks too small to split go to the first sum whole."""

    def __init__(self, d, full, in_caller):
        self.parts = [GramSum(d, full)]
        self.pool, self.in_caller = None, in_caller
        threads = blas_threads()
        if threads > 1 and in_caller(limit_to_one):
            self.parts += [GramSum(d, full) for _ in range(threads - 1)]
            self.pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="fastlae-stream")

    def add(self, B):
        T, rows = len(self.parts), B.shape[0]
        if T == 1 or rows < T * SPLIT_ROWS:
            self.parts[0].add(B)
            return
        step = -(-rows // T)
        jobs = [self.pool.submit(self.parts[t].add, B[t * step:(t + 1) * step])
                for t in range(1, T) if t * step < rows]
        self.parts[0].add(B[:step])
        for job in jobs:
            job.result()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
            self.in_caller(restore)
            self.pool = None

    def total(self):
        acc = self.parts[0]
        for part in self.parts[1:]:
            acc.merge(part)
        return acc


def accumulate(source, stop, activity, in_caller=None):
    """One pass over ``source``: the :class:`~fastlae._data.GramData` of its accumulated Gram,
    or for data with more than ``GRAM_FEATURES_MAX`` features (a source that can be read again)
    the :class:`~fastlae._data.PassData` of a statistics pass. ``in_caller`` runs a function in
    the thread that may set BLAS limits (see :func:`fastlae._threads.interruptible`)."""
    t0 = time.perf_counter()
    in_caller = (lambda fn: fn()) if in_caller is None else in_caller
    workers, dtype, out_dtype, extent = None, None, None, [0.0]
    seen = Fingerprint(bound=True) if source.replayable else None
    try:
        for B, original in _rows(source, stop, activity, "Gram pass", extent, True, seen):
            if workers is None:
                wide = B.shape[1] > GRAM_FEATURES_MAX
                if wide and not source.replayable:
                    raise ValueError(E.STREAM_WIDE.format(d=B.shape[1], max=GRAM_FEATURES_MAX))
                workers, dtype = _Workers(B.shape[1], not wide, in_caller), B.dtype
                out_dtype = np.dtype(np.float64) if original.kind in "biu" else B.dtype
            if B.shape[0]:
                workers.add(B)
    finally:
        if workers is not None:
            workers.close()
    acc = None if workers is None else workers.total()
    if acc is None or acc.n == 0:
        raise ValueError(E.STREAM_EMPTY)
    if not acc.finite():
        raise ValueError(E.X_OVERFLOW.format(maxabs=extent[0]))
    products = SourceProducts(source, seen) if source.replayable else None
    out = of_sums(acc, products, stop=stop, in_caller=in_caller, activity=activity,
                  dtype=dtype, out_dtype=out_dtype)
    out.seconds = time.perf_counter() - t0
    activity.start("solving")
    return out
