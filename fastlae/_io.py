"""Files the command line reads and writes: ``.npy``, ``.npz``, delimited text, stdin.

Delimited text is read as people have it: an optional header row (detected when the first
row holds a field that is not a number, or forced with ``header=True/False``; a first
column with an empty header, pandas' index, is left out), any of ``,`` ``;`` tab or space as
delimiter (detected from the first lines unless given; ``.tsv`` means tab). Outputs are
checked against the input and each other before any work (:func:`check_outputs`), written
next to their final names and renamed into place together (:func:`write_all`), so that a
failed run leaves the old files as they were; a new file gets the umask's permissions, a
replaced one keeps its own.
"""
import csv
import io
import os
import stat
import sys
import tempfile

import numpy as np

from . import _errors as E

READABLE = (".npz", ".csv", ".tsv")   # .npy files go to fastlae.pca as paths (block by block)
WRITABLE = (".npz", ".npy", ".csv", ".tsv")
_DELIMITERS = ",;\t "


def read_matrix(path, delimiter=None, header=None):
    """Read X from ``path``: ``.npz``, delimited text, or ``"-"`` (stdin, which may also hold
    ``.npy`` bytes).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    names : list of str or None
        The column names of a header row.
    """
    if path == "-":
        data = sys.stdin.buffer.read()
        if data.startswith(b"\x93NUMPY"):
            return _npy(io.BytesIO(data), "<stdin>"), None
        if data.startswith(b"PK"):
            return _npz(io.BytesIO(data), "<stdin>"), None
        return _text(data.decode("utf-8-sig"), "<stdin>", delimiter, header, ".csv")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in READABLE:
        raise ValueError(E.INPUT_FORMAT.format(path=path, suffix=suffix))
    try:
        if suffix == ".npz":
            return _npz(path, path), None
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as err:
        raise ValueError(E.INPUT_FILE.format(path=path, err=err)) from None
    return _text(text, path, delimiter, header, suffix)


def _npy(source, name):   # stdin only: .npy files are read block by block by fastlae.pca
    try:
        return np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None


def _npz(source, name):
    try:
        with np.load(source, allow_pickle=False) as z:
            keys = list(z.keys())
            if "X" in keys:
                return z["X"]
            if len(keys) != 1:
                raise ValueError(E.NPZ_KEYS.format(path=name, keys=keys))
            return z[keys[0]]
    except (OSError, EOFError) as err:
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None
    except ValueError as err:
        if str(err).startswith(f"{name!r} holds"):
            raise
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None


def _is_number(field):
    try:
        float(field)
        return True
    except ValueError:
        return False


def _text(text, name, delimiter, header, suffix):
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(E.INPUT_FILE.format(path=name, err="no data"))
    if delimiter is None:
        if suffix == ".tsv":
            delimiter = "\t"
        else:
            try:
                delimiter = csv.Sniffer().sniff("\n".join(lines[:20]), _DELIMITERS).delimiter
            except csv.Error:
                delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter, skipinitialspace=True))
    first = rows[0]
    if header is None:
        header = any(field.strip() and not _is_number(field) for field in first)
    names = [field.strip() for field in first] if header else None
    body = rows[1:] if header else rows
    if header and names[0] == "" and len(names) > 1:   # pandas' unnamed index column
        names = names[1:]
        body = [row[1:] for row in body]
        first = first[1:]
    width = len(first)
    for i, row in enumerate(body):
        if len(row) != width:
            raise ValueError(E.INPUT_ROW.format(path=name, row=i + 1 + bool(header),
                                                got=len(row), want=width))
    try:
        X = np.array(body, dtype=np.float64).reshape(len(body), width)
    except ValueError as err:
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None
    return X, names


def _same_file(a, b):
    """Whether paths ``a`` and ``b`` name one file (links and relative paths resolved; hard
    links too where both exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:   # one of them does not exist (yet)
        return False


def check_outputs(outputs, input_path=None):
    """Fail before any work unless every output can be written without losing data.

    ``outputs`` is a list of ``(path, option)``. Refused: an unknown suffix, a missing or
    unwritable directory, an existing directory or read-only file, an output that is the
    input file ``input_path``, and two outputs naming one file.
    """
    for i, (path, what) in enumerate(outputs):
        suffix = os.path.splitext(path)[1].lower()
        if os.path.isdir(path):
            raise ValueError(E.OUTPUT_IS_DIR.format(option=what, path=path))
        if suffix not in WRITABLE:
            raise ValueError(E.OUTPUT_FORMAT.format(option=what, path=path, suffix=suffix))
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ValueError(E.OUTPUT_DIR.format(option=what, path=path, directory=directory))
        if not os.access(directory, os.W_OK):
            raise ValueError(E.OUTPUT_DENIED.format(option=what, path=path,
                                                    directory=directory))
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise ValueError(E.OUTPUT_READONLY.format(option=what, path=path))
        if input_path is not None and input_path != "-" and _same_file(path, input_path):
            raise ValueError(E.OUTPUT_IS_INPUT.format(option=what, path=path))
        for other, other_what in outputs[:i]:
            if _same_file(path, other):
                raise ValueError(E.OUTPUT_TWICE.format(option=what, path=path,
                                                       other=other_what))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_all(files):
    """Write several files so that either all of them are replaced or none is.

    ``files`` is a list of ``(path, write)``: each ``write(fh)`` fills a temporary file next to
    its path; only when every one is written are they renamed into place, each with the mode
    of the file it replaces (a new file gets ``0o666`` less the umask). On any failure (a full
    disk, an interrupt) the temporaries are removed and the old files stay as they were.
    """
    staged = []
    try:
        for path, write in files:
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1], dir=directory)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def array_writer(path, arrays, table, names=None):
    """``write(fh)`` for :func:`write_all`: ``arrays`` (name -> array) to ``.npz``, or
    ``table`` (2-D) to ``.npy`` or delimited text with the column ``names`` as a header
    row."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        return lambda fh: np.savez(fh, **arrays)
    if suffix == ".npy":
        return lambda fh: np.save(fh, table)
    delimiter = "\t" if suffix == ".tsv" else ","

    def write(fh):
        if names is not None:
            text = io.StringIO()
            csv.writer(text, delimiter=delimiter, lineterminator="\n").writerow(names)
            fh.write(text.getvalue().encode())
        np.savetxt(fh, np.atleast_2d(table), fmt="%.17g", delimiter=delimiter)

    return write


def project(X, mean, components, rows=1 << 16):
    """``(X - mean) @ components.T`` in float64, by blocks of rows; ``X`` may be an array or
    the path of a ``.npy`` file (memory-mapped: the scores are n x k, X is never loaded)."""
    if isinstance(X, str):
        X = np.load(X, mmap_mode="r", allow_pickle=False)
    W = np.asarray(components, dtype=np.float64).T
    out = np.empty((X.shape[0], W.shape[1]))
    for r0 in range(0, X.shape[0], rows):
        out[r0:r0 + rows] = (np.asarray(X[r0:r0 + rows], dtype=np.float64) - mean) @ W
    return out
