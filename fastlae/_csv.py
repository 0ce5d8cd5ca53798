"""Delimited text (CSV, TSV) as people and pandas write it, read by a parser made for it.

The layout comes from the first ``HEAD_LINES`` lines, read with Python's ``csv`` module:

* the delimiter (``,`` ``;`` tab or space; ``.tsv`` means tab);
* a header row: one with a field that is not a number; a first field that is empty
  (pandas' unnamed index); or a row of integers over columns of decimals, or pandas' default
  column names ``0, 1, ..., d-1`` (a header of numbers: years, wavelengths, ids). A row of
  integers in arithmetic progression over integer data is ambiguous: refused, naming
  ``--header`` / ``--no-header``;
* row labels in the first column (pandas' index): under an empty header field, or of values
  that are not numbers, or under a name where every other header is a number. A first column
  of increasing integers (``0, 1, 2, ...``, or ids, like pandas' index) under a name among
  names, or without a header, is ambiguous: refused, naming ``--index`` / ``--no-index``.

The body is then parsed in C: by pandas where it is installed (``pandas.read_csv``), else by
NumPy (``numpy.loadtxt``); :func:`parser` says which. Errors name the file, the line and the
column, and what to do.
"""
import csv
import io
import re
import sys
from dataclasses import dataclass

import numpy as np

from . import _errors as E

HEAD_LINES = 64
_DELIMITERS = ",;\t "
_INTEGER = re.compile(r"^[+-]?\d+$")


def parser():
    """``"pandas"`` where pandas is installed (its C parser reads the body), else ``"numpy"``."""
    import importlib.util

    return "pandas" if importlib.util.find_spec("pandas") is not None else "numpy"


@dataclass
class Layout:
    """How a delimited file is laid out (see the module text)."""

    delimiter: str
    header: bool
    index: bool
    width: int
    names: list = None
    index_name: str = None


def read(raw, name, delimiter=None, header=None, index=None, suffix=".csv"):
    """Read a delimited file.

    Parameters
    ----------
    raw : bytes or str
        The file's contents (stdin), or its path (read by the parser in its own blocks: the
        file is never held whole as text).
    name : str
        How errors name the file.
    delimiter : str or None
        None: detected (tab for ``.tsv``).
    header, index : bool or None
        Whether the first row holds column names, and the first column row labels; None:
        detected (ambiguous files are refused, naming the flag).
    suffix : str

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    names : list of str or None
        Column names (of the features) from a header row.
    labels : ndarray of str or None
        Row labels from the first column, and ``index_name``, its header (or "").
    """
    text_head, encoding = _head(_first_bytes(raw), name)
    rows = _rows(text_head, name, delimiter, suffix)
    layout = _layout(rows, name, delimiter or rows.delimiter, header, index)
    parse = _pandas if parser() == "pandas" else _numpy
    try:
        X, labels = parse(raw, layout, encoding)
    except (ValueError, IndexError, TypeError) as err:
        raise _locate(raw, encoding, layout, name, err) from None
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(E.INPUT_FILE.format(path=name, err="no data"))
    return X, layout.names, (None if labels is None else (labels, layout.index_name or ""))


def _first_bytes(raw, size=1 << 20):
    if isinstance(raw, bytes):
        return raw[:size]
    with open(raw, "rb") as fh:
        return fh.read(size)


def _source(raw):
    """What the parsers read: the path, or the bytes as a file."""
    return io.BytesIO(raw) if isinstance(raw, bytes) else raw


def _lines(raw, encoding):
    """The file's lines as text, lazily (the error path)."""
    if isinstance(raw, bytes):
        yield from raw.decode(encoding, errors="replace").splitlines()
        return
    with open(raw, encoding=encoding, errors="replace", newline="") as fh:
        for line in fh:
            yield line.rstrip("\r\n")


def _head(raw, name):
    """The first lines as text, and the file's encoding (UTF-8, or UTF-16 by its byte-order
    mark)."""
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    cut = raw[: 1 << 20]
    try:
        text = cut.decode(encoding, errors="strict")
    except UnicodeDecodeError as err:
        if err.start < len(cut) - 4:   # not only a character cut at the 1 MiB mark
            raise ValueError(E.INPUT_ENCODING.format(path=name, err=err)) from None
        text = cut[: err.start].decode(encoding)
    return text, encoding


class _Rows(list):
    delimiter = ","


def _rows(text, name, delimiter, suffix):
    """The first ``HEAD_LINES`` non-empty rows, split (and the delimiter found)."""
    lines = [line for line in text.splitlines() if line.strip()][:HEAD_LINES]
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
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)   # a long field is the parser's to judge, not the sniff's
    try:
        out = _Rows([f.strip() for f in row] for row in csv.reader(
            lines, delimiter=delimiter, skipinitialspace=True))
    finally:
        csv.field_size_limit(limit)
    out.delimiter = delimiter
    return out


def _number(field):
    try:
        float(field)
        return True
    except ValueError:
        return False


def _progression(fields):
    """Whether integer fields step evenly (pandas' 0..d-1, years, wavelengths)."""
    if len(fields) < 2 or not all(_INTEGER.match(f) for f in fields):
        return False
    values = np.array([int(f) for f in fields])
    steps = np.diff(values)
    return bool(steps[0] != 0 and np.all(steps == steps[0]))


def _layout(rows, name, delimiter, header, index):
    first, body = rows[0], rows[1:]
    if header is None:
        header = _is_header(first, body, name)
    names = first if header else None
    data = body if header else list(rows)
    if not data:
        raise ValueError(E.INPUT_FILE.format(path=name, err="no data rows"))
    if index is None:
        index = _is_index(names, data, name)
    width = len(first)
    index_name = None
    if index:
        index_name = names[0] if names else None
        names = names[1:] if names else None
    return Layout(delimiter, header, index, width, names, index_name)


def _is_header(first, body, name):
    if len(first) > 1 and first[0] == "":
        return True   # pandas' unnamed index over named columns
    if any(not _number(f) for f in first):
        return True
    if not body or not all(_INTEGER.match(f) for f in first):
        return False   # a row of decimals is data
    cells = [f for row in body for f in row[1:]]
    if not all(_INTEGER.match(f) for f in cells if f):
        return True    # integers over columns of decimals: a header of numbers
    if first == [str(j) for j in range(len(first))]:
        return True    # pandas' default column names over integer data
    if _progression(first) and not any(_progression(row) for row in body):
        raise ValueError(E.INPUT_HEADER_AMBIGUOUS.format(path=name, row=",".join(first[:6])))
    return False


def _is_index(names, data, name):
    column = [row[0] for row in data if row]
    if names is not None and names[0] == "" and len(names) > 1:
        return True
    if len(data[0]) > 1 and all(column) and not any(_number(f) for f in column) \
            and all(_number(f) for row in data for f in row[1:] if f):
        return True    # labels: no value of the first column is a number
    if names is not None and len(names) > 1 and not _number(names[0]) \
            and all(_number(f) for f in names[1:]):
        return True    # a named index over pandas' numbered columns
    counts = len(column) > 2 and all(_INTEGER.match(f) for f in column) and \
        bool(np.all(np.diff([int(f) for f in column]) > 0))
    if counts and len(data[0]) > 1:
        raise ValueError(E.INPUT_INDEX_AMBIGUOUS.format(
            path=name, column=(names[0] if names else "1"), values=", ".join(column[:3])))
    return False


def _pandas(raw, layout, encoding):
    import pandas as pd

    # inferred column dtypes (int64, float64) and no NA markers: the C parser's fast path
    # (a float64 dtype or skipinitialspace cost 20-30% more; it skips spaces before numbers)
    frame = pd.read_csv(_source(raw), sep=layout.delimiter, header=None,
                        skiprows=_skip(raw, encoding) + int(layout.header),
                        index_col=0 if layout.index else None,
                        dtype={0: str} if layout.index else None, skip_blank_lines=True,
                        encoding=encoding, engine="c", na_filter=False)
    X = frame.to_numpy(dtype=np.float64)
    if X.shape[1] != layout.width - int(layout.index):
        raise ValueError(f"{X.shape[1]} columns")
    labels = frame.index.to_numpy(dtype=str) if layout.index else None
    return np.ascontiguousarray(X), labels


def _numpy(raw, layout, encoding):
    delimiter = None if layout.delimiter == " " else layout.delimiter
    skip = _skip(raw, encoding) + int(layout.header)
    first = int(layout.index)
    X = np.loadtxt(_source(raw), delimiter=delimiter, skiprows=skip, dtype=np.float64, ndmin=2,
                   usecols=range(first, layout.width), quotechar='"', comments=None,
                   encoding=encoding)
    labels = None
    if layout.index:
        labels = np.loadtxt(_source(raw), delimiter=delimiter, skiprows=skip, dtype=str,
                            ndmin=1, usecols=0, quotechar='"', comments=None,
                            encoding=encoding)
    return X, labels


def _skip(raw, encoding):
    """Blank lines before the first row (the parsers count them as rows to skip)."""
    skip = 0
    for line in _lines(raw, encoding):
        if line.strip():
            break
        skip += 1
    return skip


def _locate(raw, encoding, layout, name, err):
    """The first row or field the parser refused, as an error naming line and column."""
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        seen = 0
        for number, line in enumerate(_lines(raw, encoding), 1):
            if not line.strip():
                continue
            seen += 1
            if seen == 1 and layout.header:
                continue
            row = next(csv.reader([line], delimiter=layout.delimiter, skipinitialspace=True))
            if len(row) != layout.width:
                return ValueError(E.INPUT_ROW.format(path=name, row=number, got=len(row),
                                                     want=layout.width))
            for column, field in enumerate(row[int(layout.index):], 1 + int(layout.index)):
                if not _number(field.strip()):
                    return ValueError(E.INPUT_FIELD.format(path=name, line=number,
                                                           column=column, value=field[:40]))
    finally:
        csv.field_size_limit(limit)
    return ValueError(E.INPUT_FILE.format(path=name, err=err))
