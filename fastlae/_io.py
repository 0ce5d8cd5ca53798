"""Files the command line reads and writes: ``.npy``, ``.npz``, delimited text, stdin.

Delimited text is read by :mod:`fastlae._csv` (headers, pandas' index, the delimiter; pandas'
or NumPy's C parser). ``.npy`` and ``.npz`` headers are checked against the bytes there before
anything is allocated. Outputs are
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
import zipfile

import numpy as np

from . import _csv
from . import _errors as E

READABLE = (".npz", ".csv", ".tsv")   # .npy files go to fastlae.pca as paths (block by block)
WRITABLE = (".npz", ".npy", ".csv", ".tsv")


def read_matrix(path, delimiter=None, header=None, index=None):
    """Read X from ``path``: ``.npz``, delimited text (:mod:`fastlae._csv`), or ``"-"``
    (stdin, which may also hold ``.npy`` or ``.npz`` bytes).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    names : list of str or None
        The column names of a header row.
    labels : tuple or None
        ``(row labels, their column's name)`` from a first column of labels.
    """
    if path == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise ValueError(E.STDIN_CLOSED)
        data = sys.stdin.buffer.read()
        if data.startswith(b"\x93NUMPY"):
            return _npy(data, "<stdin>"), None, None
        if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):   # a zip file's signatures
            return _npz(io.BytesIO(data), "<stdin>"), None, None
        return _csv.read(data, "<stdin>", delimiter, header, index, ".csv")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in READABLE:
        raise ValueError(E.INPUT_FORMAT.format(path=path, suffix=suffix))
    try:
        if suffix == ".npz":
            return _npz(path, path), None, None
        return _csv.read(path, path, delimiter, header, index, suffix)
    except OSError as err:
        raise ValueError(E.INPUT_FILE.format(path=path, err=err)) from None


def _checked_header(fh, name, have, what):
    """Read a ``.npy`` header from ``fh`` and refuse one that claims more bytes than ``have``
    (before anything is allocated)."""
    version = np.lib.format.read_magic(fh)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read(fh)
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if need > have:
        raise ValueError(E.INPUT_TOO_LARGE.format(path=name, shape=shape, gib=need / 2 ** 30,
                                                  what=what, have=have))


def _npy(data, name):   # stdin only: .npy files are read block by block by fastlae.pca
    try:
        _checked_header(io.BytesIO(data), name, len(data), "input")
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        if str(err).startswith("cannot read"):
            raise
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None


def _npz(source, name):
    try:
        with zipfile.ZipFile(source) as zf:
            members = {m.filename[:-4] if m.filename.endswith(".npy") else m.filename: m
                       for m in zf.infolist()}
            keys = list(members)
            if "X" not in keys and len(keys) != 1:
                raise ValueError(E.NPZ_KEYS.format(path=name, keys=keys))
            member = members["X" if "X" in keys else keys[0]]
            with zf.open(member) as fh:
                _checked_header(fh, name, member.file_size, "archive member")
            with zf.open(member) as fh:
                return np.lib.format.read_array(fh, allow_pickle=False)
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None
    except ValueError as err:
        if str(err).startswith((f"{name!r} holds", "cannot read")):
            raise
        raise ValueError(E.INPUT_FILE.format(path=name, err=err)) from None


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
            try:
                fd, tmp = tempfile.mkstemp(suffix=os.path.splitext(path)[1], dir=directory)
            except OSError as err:   # the error names the output, not a temporary name
                raise ValueError(E.OUTPUT_WRITE.format(path=path, err=err.strerror)) from None
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


def result_writer(path, r, names=None):
    """``write(fh)`` for :func:`write_all`: a :class:`fastlae.PCAResult` as ``.npz`` (every
    array, the mean and the feature names), ``.npy`` (the components) or delimited text (a
    row per component: its name, explained variance, ratio and loadings; a last row
    ``mean``), which :func:`read_result` reads back."""
    suffix = os.path.splitext(path)[1].lower()
    d = r.components.shape[1]
    if suffix == ".npz":
        arrays = dict(components=r.components, explained_variance=r.explained_variance,
                      explained_variance_ratio=r.explained_variance_ratio,
                      singular_values=r.singular_values, mean=r.mean, residuals=r.residuals,
                      component_errors=r.component_errors)
        if names is not None:
            arrays["feature_names"] = np.array(names)
        return lambda fh: np.savez(fh, **arrays)
    if suffix == ".npy":
        return lambda fh: np.save(fh, r.components)
    header = ["", "explained_variance", "explained_variance_ratio"] + (
        list(names) if names is not None else [f"x{j}" for j in range(d)])
    rows = [[f"PC{i + 1}", ev, ratio, *row] for i, (ev, ratio, row) in enumerate(
        zip(r.explained_variance, r.explained_variance_ratio, r.components))]
    rows.append(["mean", "", "", *r.mean])
    return _text_writer(suffix, header, rows)


def scores_writer(path, scores, labels=None):
    """``write(fh)`` for :func:`write_all`: the scores (n x k) as ``.npz`` (with the row
    labels), ``.npy`` or delimited text (the row labels first, where the input had them)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        arrays = {"scores": scores}
        if labels is not None:
            arrays["labels"] = np.asarray(labels[0])
        return lambda fh: np.savez(fh, **arrays)
    if suffix == ".npy":
        return lambda fh: np.save(fh, scores)
    pcs = [f"PC{i + 1}" for i in range(scores.shape[1])]
    if labels is None:
        return _text_writer(suffix, pcs, scores)
    return _text_writer(suffix, [labels[1]] + pcs,
                        ([label, *row] for label, row in zip(labels[0], scores)))


def _text_writer(suffix, header, rows):
    delimiter = "\t" if suffix == ".tsv" else ","

    def write(fh):
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        out = csv.writer(text, delimiter=delimiter, lineterminator="\n")
        out.writerow(header)
        for row in rows:
            out.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v
                          for v in row])
        text.flush()
        text.detach()

    return write


def read_result(path):
    """``{"components": (k, d), "mean": (d,)}`` from a file :func:`result_writer` wrote."""
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "components" not in z or "mean" not in z:
                    raise ValueError("it holds no 'components' and 'mean' arrays")
                return {"components": z["components"], "mean": z["mean"]}
        if suffix not in (".csv", ".tsv"):
            raise ValueError(f"unsupported file type {suffix!r}")
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        body = {row[0]: row[3:] for row in rows[1:] if row}
        pcs = sorted((key for key in body if key.startswith("PC")), key=lambda s: int(s[2:]))
        if "mean" not in body or not pcs:
            raise ValueError("it has no rows 'PC1', ... and 'mean'")
        return {"components": np.array([body[key] for key in pcs], dtype=np.float64),
                "mean": np.array(body["mean"], dtype=np.float64)}
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(E.COMPONENTS_FILE.format(path=path, err=err)) from None


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
