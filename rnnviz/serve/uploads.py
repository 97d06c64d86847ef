"""Bring your own data and model, read defensively: sizes, shapes and contents are checked first.

Data files (x of shape (n, T, F), optional targets y of shape (n, T): 0/1 labels for a
classification model, numbers for a regression model):

* ``.npy`` — the array x;
* ``.npz`` — arrays named ``x`` and optionally ``y``;
* ``.csv`` — one row per sequence and step, header ``sequence,step,x1,...,xF`` and optionally a
  last column ``y``; steps numbered 0..T-1 for every sequence.

Every file is judged by what it declares (``.npy`` headers, zip directories, HDF5 metadata)
before anything is unpacked or allocated, and every failure is an :class:`UploadError` that says
what to change. Refused:

* arrays that are not numbers (object, text, structured dtypes; pickles are never loaded), an x
  outside the bounds (steps, features, at most MAX_SEQUENCES sequences) or larger than
  :func:`max_array_bytes` (the largest x of the bounds as float32), a y that does not match x;
* ``.npz`` archives of more than MAX_NPZ_MEMBERS files, members packed other than stored or
  deflated, or unpacking to more than that array limit;
* CSV that is not UTF-8 (Excel's BOM is dropped), lines over MAX_CSV_LINE characters or cells
  over the csv module's field limit, more feature columns than the bounds or more rows than
  MAX_SEQUENCES x the longest sequence, and sequence or step numbers that are not whole numbers
  from 0 (never truncated).

Models: weights (``.weights.h5`` from ``model.save_weights``) for an architecture rnnviz builds
from a Config — the only model upload allowed in hosted mode. :func:`check_weights_file` lists
the file's datasets with h5py first (a walk of at most MAX_H5_OBJECTS groups and datasets; soft
and external links and external or virtual datasets are refused) and refuses any that is not
floating-point, holds more numbers than the model's largest weight, or makes the file hold more
numbers than the model; only then does Keras read it.

On your own machine only, a whole ``.keras`` model, loaded with ``safe_mode=True`` after
:func:`check_keras_archive`: any layer class exported by ``keras.layers`` (in Functional or
Sequential models) is accepted; refused are the built-in layers that run or load code
(REFUSED_LAYERS: Lambda, TFSMLayer, TorchModuleWrapper, JaxLayer, FlaxLayer), serialized Python
functions, custom objects (a ``registered_name`` or module outside Keras), archives of more than
MAX_KERAS_MEMBERS files or with a member unpacking to more than the upload limit, and weights
declaring more than the upload limit in all.

Regression (``task="regression"``: one number per step, e.g. a temperature) is for whole
``.keras`` models: the weights architecture ends in a sigmoid.

:func:`prepare_upload` does all of it for the app: data, model, a check that they fit together,
and (when targets y came with the data) the model's accuracy against them, or for a regression
its R² against predicting the targets' mean and its error against persistence
(:func:`regression_scores`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import threading
import warnings
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnviz.config import DEFAULT_BOUNDS, Bounds, Config, describe_model
from rnnviz.metrics import (
    Grade,
    accuracy,
    grade_of,
    majority_accuracy,
    mse,
    regression_grade,
    skill,
)
from rnnviz.serve.hosting import Settings

MAX_SEQUENCES = 20_000
MAX_NPZ_MEMBERS = 16  # files in an .npz archive (np.savez writes one per array)
MAX_NPY_HEADER = 65_536  # room for an .npy header on top of the array's bytes
MAX_H5_OBJECTS = 1_000  # groups and datasets in an uploaded HDF5 file (save_weights: ~50)
MAX_OPTIMIZER_COPIES = 4  # optimizer numbers per weight in a .weights.h5 (Adam keeps 2)
MAX_KERAS_MEMBERS = 64  # files in a .keras archive (model.save writes 3, plus any assets)
MAX_CSV_LINE = 10_000  # characters in one CSV line (a row of 23 numbers needs under 1,000)

# Built-in Keras layers refused in a whole-model upload, and why: each runs or loads code.
REFUSED_LAYERS = {
    "Lambda": "can run arbitrary code",
    "TFSMLayer": "loads a TensorFlow SavedModel (which can hold any operation) from a path",
    "TorchModuleWrapper": "unpickles a PyTorch module, which can run arbitrary code",
    "JaxLayer": "wraps arbitrary Python functions",
    "FlaxLayer": "wraps arbitrary Python functions",
}
MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
# What an uploaded per-step model predicts: a probability of 1 (classification) or a number.
TASKS = ("classification", "regression")


class UploadError(ValueError):
    """An upload cannot be used; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class UploadedData:
    x: np.ndarray  # (n, T, F) float32
    y: np.ndarray | None = None  # (n, T) float32 0/1

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.x.shape  # type: ignore[return-value]


def _check_size(name: str, data: bytes, max_mb: float) -> None:
    if len(data) > max_mb * 1024 * 1024:
        raise UploadError(f"{name} is {len(data) / 2**20:.3g} MB; the limit is {max_mb:g} MB")
    if not data:
        raise UploadError(f"{name} is empty")


def _mb(n_bytes: float) -> str:
    mb = n_bytes / 2**20
    return f"{mb:,.0f} MB" if mb >= 1000 else f"{mb:.3g} MB"


def max_array_bytes(bounds: Bounds = DEFAULT_BOUNDS) -> int:
    """Bytes of the largest x the bounds allow, as float32: the most any uploaded array may take."""
    return MAX_SEQUENCES * bounds.seq_len[1] * bounds.n_features[1] * 4


def _check_dtype(what: str, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise UploadError(
            f"{what} holds Python objects (dtype object), which are never loaded: "
            f"save numbers instead, e.g. {what}.astype('float32')"
        )
    if dtype.kind not in "fiub":
        raise UploadError(
            f"{what} has dtype {dtype.str}; it must hold numbers: save {what}.astype('float32')"
        )


def _check_x_shape(shape: tuple[int, ...], bounds: Bounds) -> None:
    if len(shape) != 3:
        raise UploadError(
            f"x must have 3 dimensions (sequences, steps, features), got {tuple(shape)}"
        )
    n, steps, feats = shape
    lo, hi = bounds.seq_len
    if not lo <= steps <= hi:
        raise UploadError(f"x has {steps:,} steps per sequence; allowed {lo} to {hi}")
    lo, hi = bounds.n_features
    if not lo <= feats <= hi:
        raise UploadError(f"x has {feats:,} features; allowed {lo} to {hi}")
    if not 1 <= n <= MAX_SEQUENCES:
        raise UploadError(f"x has {n:,} sequences; allowed 1 to {MAX_SEQUENCES:,}")


def _check_y_shape(shape: tuple[int, ...], x_shape: tuple[int, ...]) -> None:
    n, steps = x_shape[:2]
    if tuple(shape) not in ((n, steps), (n, steps, 1)):
        raise UploadError(f"y must have shape {(n, steps)} to match x, got {tuple(shape)}")


def _read_header(stream, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of an .npy stream; nothing after the header is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(stream)
        else:
            raise ValueError(f".npy format version {version} is not read here (use numpy.save)")
    except (ValueError, EOFError, TypeError, SyntaxError) as exc:
        raise UploadError(f"{what} is not a .npy array (save it with numpy.save): {exc}") from None
    return tuple(shape), dtype


def _check_header(
    what: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    bounds: Bounds,
    x_shape: tuple[int, ...] | None = None,
) -> None:
    """Refuse an array by its header (dtype, shape, bytes) before any of it is allocated."""
    name = "x" if x_shape is None else "y"
    _check_dtype(name, dtype)
    if x_shape is None:
        _check_x_shape(shape, bounds)
    else:
        _check_y_shape(shape, x_shape)
    size = math.prod(shape) * dtype.itemsize
    limit = max_array_bytes(bounds)
    if size > limit:
        raise UploadError(
            f"{name} takes {_mb(size)} as {dtype}; at most {_mb(limit)} are allowed: "
            f"save it as float32 ({name}.astype('float32')) or upload fewer sequences"
        )


def _read_npy(name: str, data: bytes, bounds: Bounds) -> np.ndarray:
    stream = io.BytesIO(data)
    shape, dtype = _read_header(stream, name)
    _check_header(name, shape, dtype, bounds)
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


def _npz_members(name: str, zf: zipfile.ZipFile, bounds: Bounds) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by array name, after checking their number, sizes and packing."""
    infos = zf.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise UploadError(
            f"{name} holds {len(infos):,} files; at most {MAX_NPZ_MEMBERS} are allowed: "
            "save only x (and y) with numpy.savez"
        )
    limit = max_array_bytes(bounds)
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadError(
                f"{name}: member '{info.filename}' is packed with zip method "
                f"{info.compress_type}; save the arrays with numpy.savez or numpy.savez_compressed"
            )
        if info.file_size > limit + MAX_NPY_HEADER:
            raise UploadError(
                f"{name}: member '{info.filename}' unpacks to {_mb(info.file_size)}; at most "
                f"{_mb(limit)} are allowed (the largest x, {MAX_SEQUENCES:,} x "
                f"{bounds.seq_len[1]} x {bounds.n_features[1]} float32 numbers): upload fewer "
                "sequences or save x as float32"
            )
        members[info.filename.removesuffix(".npy")] = info
    return members


def _read_npz(name: str, data: bytes, bounds: Bounds) -> tuple[np.ndarray, np.ndarray | None]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = _npz_members(name, zf, bounds)
        if "x" not in members:
            raise UploadError(f"{name} holds {sorted(members)}; it needs an array named 'x'")
        shapes: dict[str, tuple[int, ...]] = {}
        for key in ("x", "y"):
            if key in members:
                with zf.open(members[key]) as member:
                    shape, dtype = _read_header(member, f"{name}: member '{key}.npy'")
                _check_header(key, shape, dtype, bounds, shapes.get("x"))
                shapes[key] = shape
        arrays = {}
        for key in shapes:
            with zf.open(members[key]) as member:
                arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays["x"], arrays.get("y")


def read_data(
    name: str,
    data: bytes,
    max_mb: float = 20.0,
    bounds: Bounds = DEFAULT_BOUNDS,
    task: str = "classification",
):
    """Parse an uploaded data file into :class:`UploadedData`, or raise UploadError (targets y:
    0/1 labels for ``task`` classification, finite numbers for regression).

    Arrays are refused by their headers (dtype, shape, bytes) before any memory is allocated
    for them; a zip archive is refused by its members' declared sizes before it is unpacked.
    """
    _check_size(name, data, max_mb)
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".npy":
            if data.startswith(b"PK"):  # np.save writes no zip: this is an .npz archive
                raise UploadError(f"{name} is an .npz archive, not one array: name it .npz")
            x, y = _read_npy(name, data, bounds), None
        elif suffix == ".npz":
            if data.startswith(np.lib.format.MAGIC_PREFIX):
                raise UploadError(f"{name} holds a single array (.npy), not an .npz archive")
            x, y = _read_npz(name, data, bounds)
        elif suffix == ".csv":
            x, y = _read_csv(data, bounds)
        else:
            raise UploadError(f"{name}: use a .npy, .npz or .csv file")
    except UploadError:
        raise
    except (ValueError, OSError, EOFError, RuntimeError, zipfile.BadZipFile) as exc:
        raise UploadError(f"{name} could not be read as {suffix}: {exc}") from None
    except MemoryError:  # a last resort: every size is checked before it is allocated
        raise UploadError(f"{name} is too large to read here: upload fewer sequences") from None
    return check_data(x, y, bounds, task)


def check_data(
    x: np.ndarray,
    y: np.ndarray | None,
    bounds: Bounds = DEFAULT_BOUNDS,
    task: str = "classification",
):
    """Validate shapes, types and values; say exactly what is wrong. ``task`` says what y
    holds: 0/1 labels (classification) or finite numbers (regression)."""
    if task not in TASKS:
        raise UploadError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    x = np.asarray(x)
    _check_dtype("x", x.dtype)
    _check_x_shape(x.shape, bounds)
    n, steps, _ = x.shape
    # checked as the float32 the model works in: 1e308 is finite as float64, infinite here
    with np.errstate(over="ignore"):
        x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise UploadError(f"x contains NaN or infinite values (as float32: {_FLOAT32_RANGE})")
    if y is not None:
        y = np.asarray(y)
        _check_y_shape(y.shape, x.shape)
        y = y.reshape(n, steps)
        if task == "regression":
            if y.dtype.kind not in "fiu":
                raise UploadError("y must hold finite numbers (the regression's targets)")
            with np.errstate(over="ignore"):
                y = y.astype(np.float32)
            if not np.isfinite(y).all():
                raise UploadError(
                    "y must hold finite numbers that fit float32, the model's numbers "
                    f"({_FLOAT32_RANGE}): rescale the targets, e.g. to thousands"
                )
        elif y.dtype.kind not in "fiub" or not np.isin(y, (0, 1)).all():
            raise UploadError("y must hold only 0 and 1 (for numbers, choose the regression task)")
        y = y.astype(np.float32)
    return UploadedData(x, y)


_FLOAT32_RANGE = f"every value between ±{float(np.finfo(np.float32).max):.1e}"


def _csv_lines(data: bytes) -> Iterator[str]:
    """The file's lines as text, the BOM that Excel writes dropped; refuses over-long lines before
    the csv module splits them."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    number = 0
    while line := text.readline(MAX_CSV_LINE + 2):
        number += 1
        if len(line.rstrip("\r\n")) > MAX_CSV_LINE:
            raise UploadError(
                f"CSV line {number} is longer than {MAX_CSV_LINE:,} characters; a row holds "
                "only the sequence, the step, the features and y, one number in each cell"
            )
        yield line


def _csv_index(cell: str, what: str, line: int, count: int, unit: str) -> int:
    """A sequence or step number: a whole number from 0 to ``count - 1``."""
    try:
        value = int(cell)
    except ValueError:
        try:
            number = float(cell)
        except ValueError:
            number = math.nan
        value = int(number) if number.is_integer() else -1
    if value < 0:
        raise UploadError(
            f"CSV line {line}: {what} {cell.strip()[:20]!r} must be a whole number 0, 1, 2, ... "
            f"(number the {unit} from 0)"
        )
    if value >= count:
        raise UploadError(
            f"CSV line {line}: {what} {cell.strip()[:20]} is too large: at most {count:,} {unit}, "
            f"numbered 0 to {count - 1:,}"
        )
    return value


def _read_csv(data: bytes, bounds: Bounds) -> tuple[np.ndarray, np.ndarray | None]:
    """x (n, T, F) and y (n, T) or None from a CSV file: through pandas when the file is plainly
    numbers (:func:`_parse_csv_fast`, about ten times faster), else, or on any doubt, through the
    csv module (:func:`_parse_csv`), whose errors name the line and the column. Both give the
    same arrays, bit for bit."""
    fast = _parse_csv_fast(data, bounds)
    if fast is not None:
        return fast
    try:
        return _parse_csv(data, bounds)
    except UnicodeDecodeError:
        raise UploadError(
            "the CSV file is not UTF-8 text: save it as 'CSV UTF-8' (or plain ASCII)"
        ) from None


def _parse_csv(data: bytes, bounds: Bounds) -> tuple[np.ndarray, np.ndarray | None]:
    reader = csv.reader(_csv_lines(data))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        feats, has_y = _csv_columns(header, bounds)
        max_steps = bounds.seq_len[1]
        max_rows = MAX_SEQUENCES * max_steps
        # compact columns, not lists of strings: 4 bytes a number (x ends as float32 anyway)
        seqs, steps = array("i"), array("i")
        values = array("f")  # row after row: the features, then y
        for row in reader:
            line = reader.line_num
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise UploadError(
                    f"CSV line {line} has {len(row)} values; the header has {len(header)}"
                )
            if len(seqs) == max_rows:
                raise UploadError(
                    f"the CSV has more than {max_rows:,} data rows ({MAX_SEQUENCES:,} sequences "
                    f"x {max_steps} steps at most): upload fewer sequences or steps"
                )
            seqs.append(_csv_index(row[0], "sequence", line, MAX_SEQUENCES, "sequences"))
            steps.append(_csv_index(row[1], "step", line, max_steps, "steps"))
            for j, cell in enumerate(row[2:], start=2):
                try:
                    values.append(float(cell))
                except ValueError:
                    raise UploadError(
                        f"CSV line {line}, column '{header[j]}': {cell[:20]!r} is not a number"
                    ) from None
    except csv.Error as exc:
        detail = str(exc)
        if "field limit" in detail:
            detail = (
                f"a cell is longer than {csv.field_size_limit():,} characters; each cell must "
                'hold one number (is a quote " left open?)'
            )
        else:
            detail = f"cannot be read ({detail}); save the file as plain CSV, one number per cell"
        raise UploadError(f"CSV line {reader.line_num} {detail}") from None
    if not seqs:
        raise UploadError("the CSV needs a header row and at least one data row")
    seq = np.frombuffer(seqs, dtype=np.int32)
    step = np.frombuffer(steps, dtype=np.int32)
    table = np.frombuffer(values, dtype=np.float32).reshape(len(seq), -1)
    return _csv_arrays(seq, step, table, feats, has_y)


def _csv_columns(header: list[str], bounds: Bounds) -> tuple[int, bool]:
    """(feature columns, whether y is last) of a CSV header (its cells stripped, lower case)."""
    if header[:2] != ["sequence", "step"] or len(header) < 3:
        raise UploadError("the CSV header must start with: sequence,step,x1,... (optional y last)")
    has_y = header[-1] == "y"
    feats = len(header) - 2 - has_y
    lo, hi = bounds.n_features
    if not lo <= feats <= hi:
        raise UploadError(
            f"the CSV has {feats:,} feature columns; allowed {lo} to {hi} "
            "(header: sequence,step,x1,...,xF and an optional y)"
        )
    return feats, has_y


def _csv_arrays(
    seq: np.ndarray, step: np.ndarray, table: np.ndarray, feats: int, has_y: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """x (n, T, F) and y from the rows' sequence and step numbers (int32, in range) and their
    values (rows, F [+ 1], float32): each (sequence, step) exactly once, in any order."""
    n, n_steps = int(seq.max()) + 1, int(step.max()) + 1
    index = seq * np.int32(n_steps) + step  # < MAX_SEQUENCES x the longest sequence: fits int32
    filled = np.zeros(n * n_steps, dtype=bool)
    filled[index] = True
    if len(seq) != n * n_steps or not filled.all():
        ordered = np.sort(index)
        repeats = np.flatnonzero(ordered[1:] == ordered[:-1])
        if repeats.size:
            bad = int(ordered[repeats[0]])
            found = f"{int(np.count_nonzero(ordered == bad))} rows"
        else:
            bad, found = int(np.flatnonzero(~filled)[0]), "no row"
        raise UploadError(
            "every sequence 0..n-1 needs exactly one row for each step 0..T-1 "
            f"(found {len(seq):,} rows for {n:,} sequences x {n_steps} steps; "
            f"sequence {bad // n_steps}, step {bad % n_steps} has {found})"
        )
    x = np.empty((n * n_steps, feats), dtype=np.float32)
    x[index] = table[:, :feats]
    y = None
    if has_y:
        y = np.empty(n * n_steps, dtype=np.float32)
        y[index] = table[:, feats]
        y = y.reshape(n, n_steps)
    return x.reshape(n, n_steps, feats), y


# The bytes of a data row the pandas path reads: digits, signs, points, exponents, commas and
# line ends. Anything else (quotes, spaces, nan, inf, 1_000, non-ASCII) goes to the csv module.
_PLAIN_CSV = np.zeros(256, dtype=bool)
_PLAIN_CSV[list(b"0123456789+-.eE,\r\n")] = True


def _parse_csv_fast(data: bytes, bounds: Bounds) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The arrays of a CSV file that is plainly numbers, read by ``pandas.read_csv`` (C parser,
    dtypes given; its float parsing rounds as ``float()`` does: tests/test_csv_fast.py fuzzes
    it); None whenever anything is unusual or fails, for :func:`_parse_csv` to read or word the
    error."""
    import pandas as pd

    end = data.find(b"\n")
    if end < 0:
        return None
    try:
        header_text = data[:end].decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        return None
    header = [h.strip().lower() for h in header_text.split(",")]
    try:
        feats, has_y = _csv_columns(header, bounds)
    except UploadError:
        return None
    if '"' in header_text or len(header_text) > MAX_CSV_LINE:
        return None
    body = memoryview(data)[end + 1 :]
    raw = np.frombuffer(body, dtype=np.uint8)
    if not raw.size or not _PLAIN_CSV[raw].all():
        return None
    newlines = np.flatnonzero(raw == ord("\n"))
    returns = np.count_nonzero(raw == ord("\r"))
    if returns and returns != np.count_nonzero((raw[:-1] == ord("\r")) & (raw[1:] == ord("\n"))):
        return None  # a carriage return that does not end a line
    max_steps = bounds.seq_len[1]
    if newlines.size + 1 > MAX_SEQUENCES * max_steps:
        return None  # possibly too many rows: the csv module counts them and says so
    lengths = np.diff(newlines, prepend=-1, append=raw.size) - 1  # each line, its \n left out
    if int(lengths.max()) > MAX_CSV_LINE:
        return None  # a line too long (its end counted): the csv module says which
    # every line holds the header's number of cells, or nothing (a blank line): pandas would
    # take extra leading cells as an index, and fill missing ones
    ends = np.append(newlines, raw.size)
    cells = np.diff(np.searchsorted(np.flatnonzero(raw == ord(",")), ends), prepend=0) + 1
    odd = np.flatnonzero(cells != len(header))
    starts = ends[odd] - lengths[odd]
    blank = (lengths[odd] == 0) | (
        (lengths[odd] == 1) & (raw[np.minimum(starts, raw.size - 1)] == 13)
    )
    if not blank.all():
        return None
    names = list(range(len(header)))
    dtypes = {0: np.int64, 1: np.int64, **{j: np.float64 for j in names[2:]}}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # a failed cast warns before it raises
            frame = pd.read_csv(
                io.BytesIO(body),
                header=None,
                names=names,
                dtype=dtypes,
                engine="c",
                skip_blank_lines=True,
            )
    except (ValueError, TypeError, OverflowError, pd.errors.ParserError):
        return None
    if frame.empty:
        return None
    seq = frame[0].to_numpy()
    step = frame[1].to_numpy()
    table = frame[names[2:]].to_numpy(dtype=np.float64)
    if np.isnan(table).any():  # a missing value (a short row or an empty cell)
        return None
    if seq.min() < 0 or step.min() < 0 or seq.max() >= MAX_SEQUENCES or step.max() >= max_steps:
        return None
    with np.errstate(over="ignore"):  # as array('f'): too large for float32 -> inf
        table = table.astype(np.float32)
    try:
        return _csv_arrays(seq.astype(np.int32), step.astype(np.int32), table, feats, has_y)
    except UploadError:
        return None


@dataclass(frozen=True)
class H5Dataset:
    """What an HDF5 file says about one dataset, read from its metadata (no data is read)."""

    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    chunk: int  # numbers in one stored chunk (0 when not chunked)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def h5_datasets(file, what: str = "the weights file") -> list[H5Dataset]:
    """Every dataset of an open ``h5py.File`` with its shape and dtype, by a bounded walk.

    Refuses files with more than MAX_H5_OBJECTS groups and datasets, any link other than a plain
    (hard) link, and datasets whose data lives outside the file (external or virtual): a file
    from ``model.save_weights`` has a few dozen objects and none of those.
    """
    import h5py

    found: list[H5Dataset] = []
    seen = 0
    todo = [("", file)]
    while todo:
        prefix, group = todo.pop()
        seen += len(group)  # counted before its links are listed
        if seen > MAX_H5_OBJECTS:
            raise UploadError(
                f"{what} holds more than {MAX_H5_OBJECTS:,} groups and datasets; a file from "
                "model.save_weights holds a few dozen: upload the file Keras wrote"
            )
        for name in group:
            path = f"{prefix}{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise UploadError(
                    f"{what} has a {type(link).__name__} at '{path}' (links can point at other "
                    "files on this server): refused. Upload the file model.save_weights wrote"
                )
            obj = group[name]
            if isinstance(obj, h5py.Group):
                todo.append((path + "/", obj))
            elif isinstance(obj, h5py.Dataset):
                if obj.external or obj.is_virtual:
                    raise UploadError(
                        f"{what}: dataset '{path}' keeps its data outside the file (an "
                        "external or virtual dataset): refused. Upload the file "
                        "model.save_weights wrote"
                    )
                if obj.shape is None:
                    raise UploadError(f"{what}: dataset '{path}' has no shape (an empty dataset)")
                chunk = math.prod(obj.chunks) if obj.chunks else 0
                found.append(H5Dataset(path, tuple(obj.shape), obj.dtype, chunk))
    return found


def _read_h5(path: Path, what: str) -> list[H5Dataset]:
    """:func:`h5_datasets` of the HDF5 file at ``path``; UploadError if it cannot be read."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return h5_datasets(file, what)
    except UploadError:
        raise
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise UploadError(
            f"{what} is not an HDF5 file that can be read (Keras writes weights with "
            f"model.save_weights or model.save): {str(exc).strip()[:120]}"
        ) from None


def check_weights_file(path: Path, model, config: Config) -> None:
    """Compare every dataset of a ``.weights.h5`` with the weights of ``model`` before Keras reads
    it: only shapes and dtypes are looked at, so a dataset declared huge is never allocated.

    Each dataset must hold floating-point numbers and at most as many as the model's largest
    weight; all of them together at most as many as the model has. The ``optimizer`` group that
    ``save_weights`` writes after training (never read here) may also hold its integer step
    counter and, at most, MAX_OPTIMIZER_COPIES numbers for each weight.
    """
    datasets = _read_h5(path, "the weights file")
    weights = [(w.path, tuple(w.shape)) for w in model.weights]
    largest = max(weights, key=lambda w: math.prod(w[1]))
    largest_size = math.prod(largest[1])
    total = sum(math.prod(shape) for _, shape in weights)
    misfit = _misfit(config)
    held = {"model": 0, "optimizer": 0}
    for ds in datasets:
        part = "optimizer" if ds.path.startswith("optimizer/") else "model"
        kinds = "fiu" if part == "optimizer" else "f"
        if ds.dtype.kind not in kinds:
            raise UploadError(
                f"{misfit}: the file's dataset '{ds.path}' has dtype {ds.dtype}; weights are "
                "floating-point numbers (float32)"
            )
        if ds.size > largest_size:
            raise UploadError(
                f"{misfit}: the file's dataset '{ds.path}' holds {ds.size:,} numbers (shape "
                f"{ds.shape}), but the largest weight of this architecture holds "
                f"{largest_size:,} (shape {largest[1]}). {_MISFIT_HELP}"
            )
        if ds.chunk > largest_size:
            raise UploadError(
                f"{misfit}: the file's dataset '{ds.path}' is stored in chunks of "
                f"{ds.chunk:,} numbers, more than the largest weight of this architecture "
                f"({largest_size:,}): reading it would unpack them all. {_MISFIT_HELP}"
            )
        held[part] += ds.size
    if held["model"] > total:
        raise UploadError(
            f"{misfit}: the file's weights hold {held['model']:,} numbers in all; this "
            f"architecture has {total:,}. {_MISFIT_HELP}"
        )
    if held["optimizer"] > MAX_OPTIMIZER_COPIES * total + 64:
        raise UploadError(
            f"the weights file's optimizer state holds {held['optimizer']:,} numbers, more than "
            f"{MAX_OPTIMIZER_COPIES} for each of the architecture's {total:,} weights: "
            "upload the file model.save_weights wrote"
        )


_MISFIT_HELP = (
    "Upload the .weights.h5 saved from a model of this architecture, or set the form to the "
    "architecture that saved them"
)


def _misfit(config: Config) -> str:
    return (
        f"these weights do not fit the architecture in the form (units {list(config.units)}, "
        f"head {config.head}, {config.n_features} features)"
    )


def load_weights(data: bytes, config: Config, max_mb: float = 20.0):
    """Build the model of ``config`` and load uploaded ``.weights.h5`` into it (no code runs).

    The file's structure is checked first (:func:`check_weights_file`), so Keras only ever reads
    datasets no larger than the model's own weights.
    """
    from rnnviz.training.model import build_model

    _check_size("the weights file", data, max_mb)
    model = build_model(config)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.weights.h5"
        path.write_bytes(data)
        check_weights_file(path, model, config)
        try:
            model.load_weights(path)
        except Exception as exc:  # h5 parse errors and shape mismatches come in many types
            raise UploadError(f"{_misfit(config)}: {_keras_reason(exc)}. {_MISFIT_HELP}") from None
    return model


def _keras_reason(exc: Exception) -> str:
    """The useful part of Keras's error: which weight has which shape (no weight values)."""
    text = str(exc)
    shapes = re.search(r"variable\.shape=(\(.*?\)), Received: value\.shape=(\(.*?\))", text)
    if shapes:
        where = re.search(r"Target variable: <Variable path=([^,>]+)", text)
        name = f"the weight {where.group(1)}" if where else "a weight"
        return f"{name} has shape {shapes.group(1)}, the file's {shapes.group(2)}"
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _is_builtin_layer(cls: str) -> bool:
    """A class exported by ``keras.layers`` that is a Layer (not a function such as Input)."""
    import keras

    obj = getattr(keras.layers, cls, None)
    return isinstance(obj, type) and issubclass(obj, keras.layers.Layer)


def _check_keras_members(zf: zipfile.ZipFile, limit: int) -> None:
    """A .keras archive's members by their declared sizes, before any is unpacked."""
    infos = zf.infolist()
    if len(infos) > MAX_KERAS_MEMBERS:
        raise UploadError(
            f"the model file holds {len(infos):,} files; a .keras archive from model.save holds "
            f"a few (at most {MAX_KERAS_MEMBERS} are read)"
        )
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UploadError(
                f"the model file's member '{info.filename}' is packed with zip method "
                f"{info.compress_type}; upload the .keras file model.save wrote"
            )
        if info.file_size > limit:
            raise UploadError(
                f"the model file's member '{info.filename}' unpacks to {_mb(info.file_size)}; "
                f"at most {_mb(limit)} (the upload limit) are allowed: model.save stores its "
                "members unpacked, so upload the file it wrote"
            )


def _check_keras_intact(zf: zipfile.ZipFile) -> None:
    """Every member of a .keras archive unpacks whole and matches its CRC-32 (read in chunks,
    nothing written): a damaged archive is refused before Keras unpacks any of it to disk."""
    for info in zf.infolist():
        try:
            with zf.open(info) as member:
                while member.read(2**20):
                    pass
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise UploadError(
                f"the model file's member '{info.filename}' is damaged ({exc}); save the model "
                "again with model.save and upload that file"
            ) from None


def _check_keras_weights(zf: zipfile.ZipFile, limit: int) -> None:
    """The HDF5 members of a .keras archive by their datasets' declared sizes (no data read):
    Keras stores weights uncompressed, so a genuine file's weights fit in the upload limit."""
    for info in zf.infolist():
        if not info.filename.endswith(".h5"):
            continue
        what = f"the model's weights ({info.filename})"
        with tempfile.TemporaryDirectory() as tmp:  # h5py seeks: a file, not a zip stream
            path = Path(tmp) / "weights.h5"
            with zf.open(info) as member, path.open("wb") as out:
                shutil.copyfileobj(member, out)  # at most ``limit`` bytes (checked before)
            datasets = _read_h5(path, what)
        declared = sum(ds.size * ds.dtype.itemsize for ds in datasets)
        chunk = max((ds.chunk * ds.dtype.itemsize for ds in datasets), default=0)
        if max(declared, chunk) > limit:
            raise UploadError(
                f"{what} declare {_mb(max(declared, chunk))}; at most {_mb(limit)} (the upload "
                "limit) are allowed: model.save stores weights uncompressed, so upload the file "
                "it wrote"
            )


def check_keras_archive(data: bytes, max_mb: float = 20.0) -> list[str]:
    """Layer classes of a ``.keras`` archive; UploadError unless all are plain built-ins.

    Accepted: any layer class exported by ``keras.layers`` (and Functional/Sequential models)
    whose serialized module is Keras's own. Refused: the layers in REFUSED_LAYERS (Lambda and the
    others that run or load code), serialized Python lambdas, and any custom object (a
    ``registered_name`` or module outside Keras). Before that, the archive's members and the
    datasets of its weights are refused by their declared sizes if any unpacks to more than
    ``max_mb``.
    """
    limit = int(max_mb * 2**20)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _check_keras_members(zf, limit)
            info = json.loads(zf.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise UploadError("this is not a .keras model archive (no readable config.json)") from None
    except RecursionError:
        raise UploadError("the model's config.json is nested too deeply to be read") from None
    found: list[str] = []

    def walk(node, is_layer: bool = False) -> None:
        if isinstance(node, dict):
            cls = node.get("class_name")
            if isinstance(cls, str):
                module = str(node.get("module") or "keras")
                if cls == "__lambda__":
                    raise UploadError(
                        "the model holds a serialized Python function (a lambda), which can run "
                        "arbitrary code: refused. Use built-in layers and activations only"
                    )
                if cls in REFUSED_LAYERS:
                    raise UploadError(
                        f"the model has a {cls} layer, which {REFUSED_LAYERS[cls]}: refused. "
                        "Rebuild it from other built-in layers"
                    )
                custom = node.get("registered_name") not in (None, cls)
                if custom or not (module == "keras" or module.startswith("keras.")):
                    raise UploadError(
                        f"the model uses a custom object ({cls}), whose code would have to run: "
                        "refused. Use built-in Keras layers only"
                    )
                is_layer = is_layer or module.startswith(("keras.layers", "keras.src.layers"))
                if is_layer:
                    if cls not in MODEL_CLASSES and not _is_builtin_layer(cls):
                        raise UploadError(
                            f"the model's layer {cls} is not a built-in Keras layer: refused"
                        )
                    found.append(cls)
            for key, value in node.items():
                if key == "layers" and isinstance(value, list):
                    for layer in value:
                        walk(layer, is_layer=True)
                else:
                    walk(value, is_layer=key in ("layer", "forward_layer", "backward_layer"))
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        walk(info)
    except RecursionError:
        raise UploadError("the model's config.json is nested too deeply to be read") from None
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        _check_keras_weights(zf, limit)
        _check_keras_intact(zf)
    return found


# tempfile's default folder is one for the whole process: one load redirects it at a time.
_TEMP_LOCK = threading.Lock()


@contextlib.contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """Make ``folder`` the default folder of the tempfile module for the block.

    Keras unpacks an archive's assets into a folder of its own from ``tempfile.mkdtemp()`` and
    does not remove it when unpacking fails; inside our own temporary folder, it goes with it.
    The default is process-wide: a thread that makes a temporary file without naming a folder
    meanwhile makes it there too (whole-model uploads are for one's own machine only).
    """
    with _TEMP_LOCK:
        saved = tempfile.tempdir
        tempfile.tempdir = str(folder)
        try:
            yield
        finally:
            tempfile.tempdir = saved


def load_whole_model(data: bytes, allowed: bool, max_mb: float = 20.0):
    """Load a whole ``.keras`` model, only where allowed (never in hosted mode)."""
    if not allowed:
        raise UploadError(
            "whole .keras models cannot be uploaded here (hosted mode): loading one can run code. "
            "Upload weights for an architecture rnnviz builds instead."
        )
    _check_size("the model file", data, max_mb)
    check_keras_archive(data, max_mb)
    import keras

    # Everything the load writes (the archive, whatever Keras unpacks) lives in one folder of
    # ours, removed afterwards whether the load worked or not.
    with tempfile.TemporaryDirectory(prefix="rnnviz-upload-") as tmp:
        path = Path(tmp) / "upload.keras"
        path.write_bytes(data)
        scratch = Path(tmp) / "keras"
        scratch.mkdir()
        try:
            with _temporary_files_in(scratch):
                model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:
            error = UploadError(f"the model could not be loaded: {str(exc)[:300]}")
        else:
            error = None
    if os.path.exists(tmp):  # checked: a failed load must leave nothing on disk
        shutil.rmtree(tmp, ignore_errors=True)
    if error is not None:
        raise error
    shape = model.input_shape
    if not (isinstance(shape, tuple) and len(shape) == 3 and None not in shape[1:]):
        raise UploadError(f"the model's input must be (batch, steps, features), got {shape}")
    return model


# The architecture knobs the upload form asks for; seq_len and n_features come from the data.
ARCHITECTURE_KNOBS = ("units", "activations", "head", "input_scaling")


def architecture(
    seq_len: int, n_features: int, values: Mapping[str, Any], bounds: Bounds = DEFAULT_BOUNDS
) -> Config:
    """The Config whose model (``build_model``) the uploaded weights are loaded into.

    Only the model knobs matter; the rest are small placeholders that always validate.
    """
    unknown = sorted(set(values) - set(ARCHITECTURE_KNOBS))
    if unknown:
        raise UploadError(f"unknown architecture settings: {', '.join(unknown)}")
    base = Config(
        seq_len=seq_len,
        n_features=n_features,
        rule="x1 > 0.5",
        n_train=50,
        n_val=50,
        n_score=10,
        n_repeats=1,
        epochs=1,
    )
    try:
        return Config.from_dict(dict(values), base=base).validate(bounds)
    except ValueError as exc:  # ConfigError names the knob and what is allowed
        raise UploadError(f"the architecture in the form: {exc}") from None


def check_model_fits(model, shape: tuple[int, int, int], task: str = "classification") -> None:
    """The model must read (batch, steps, features) like the data and give one output per step."""
    _, steps, feats = shape
    expected = (None, steps, feats)
    if tuple(model.input_shape) != expected:
        raise UploadError(
            f"the model reads inputs of shape {tuple(model.input_shape)}, but the data is "
            f"{steps} steps x {feats} features, i.e. {expected}"
        )
    out = model.output_shape
    if not (isinstance(out, tuple) and out in ((None, steps, 1), (None, steps))):
        what = "a number" if task == "regression" else "a probability"
        raise UploadError(
            f"the model must give one output ({what}) per step, shape (batch, {steps}, 1); "
            f"its output shape is {out}"
        )


@dataclass(frozen=True, eq=False)
class Upload:
    """An uploaded model with its data: what the results pages need (there is no ground truth)."""

    data_name: str
    model_name: str
    kind: str  # "weights" (an rnnviz architecture) or "keras" (a whole model)
    data: UploadedData
    model_bytes: bytes = field(repr=False)  # the uploaded file: a worker loads it again
    key: str  # sha256 of everything uploaded: the cache key of its scores
    architecture: Config | None = None  # for weights
    accuracy: float | None = None  # against the uploaded labels y, threshold 0.5
    baseline_accuracy: float | None = None  # always guessing the labels' majority class
    task: str = "classification"  # or "regression": one number per step (TASKS)
    regression: dict[str, float] | None = None  # regression_scores against uploaded targets

    @property
    def x(self) -> np.ndarray:
        return self.data.x

    @property
    def y(self) -> np.ndarray | None:
        return self.data.y

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x{i + 1}" for i in range(self.data.shape[2]))

    @property
    def grade(self) -> Grade | None:
        """The experiments' verdict grade (``rnnviz.metrics.grade_of``) on the uploaded
        labels:
        learned / partly learned / did not learn; None without labels. A regression is graded
        by its R² against the targets' mean (``rnnviz.metrics.regression_grade``)."""
        if self.regression is not None:
            return regression_grade(self.regression["r2"])
        if self.accuracy is None or self.baseline_accuracy is None:
            return None
        return grade_of(self.accuracy, self.baseline_accuracy)

    @property
    def learned(self) -> bool | None:
        """The grade is "learned" on the uploaded labels (None without labels)."""
        grade = self.grade
        return None if grade is None else grade == "learned"

    def describe_model(self, quote: Callable[[str], str] = str) -> str:
        """The model in words; ``quote`` formats the file name (e.g. as a Markdown code span)."""
        if self.architecture is None:
            return f"whole Keras model {quote(self.model_name)}"
        scaling = ", inputs scaled to [-1, 1)" if self.architecture.input_scaling else ""
        return f"{describe_model(self.architecture)}{scaling}, weights {quote(self.model_name)}"

    def describe_data(self, quote: Callable[[str], str] = str) -> str:
        """The data in words; ``quote`` formats the file name (e.g. as a Markdown code span)."""
        n, steps, feats = self.data.shape
        labels = "with labels y" if self.y is not None else "no labels"
        if self.task == "regression":
            labels = "regression, " + ("with targets y" if self.y is not None else "no targets")
        name = quote(self.data_name)
        return f"{name}: {n:,} sequences × {steps} steps × {feats} features, {labels}"


def label_accuracy(predict, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy of ``predict`` at threshold 0.5, accuracy of always guessing the majority)."""
    p = np.asarray(predict(x), dtype=np.float64).reshape(y.shape)
    return accuracy(p, y), majority_accuracy(y)


def regression_scores(predict, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """A regression model against the uploaded targets ``y`` (n, T), every step counted.

    ``mse`` of the model, ``mean_mse`` of always predicting the mean of the uploaded targets
    and ``r2`` = 1 - mse / mean_mse (the targets' own mean: a slightly easier bar than a
    training mean, which the upload does not tell). With 2 steps or more, persistence: the
    previous step's target as the forecast of each step from step 1 on (``persistence_mse``,
    beside the model's ``model_mse_after_first`` on the same steps). Raises UploadError when
    every target is the same (no variance to explain).
    """
    p = np.asarray(predict(x), dtype=np.float64).reshape(y.shape)
    t = np.asarray(y, dtype=np.float64)
    if not np.isfinite(p).all():
        raise UploadError(
            "the model's outputs on this data are not finite numbers (NaN or beyond float32), "
            "so its error cannot be measured: check the model and the scale of x"
        )
    mean_mse = mse(t, np.full_like(t, t.mean()))
    if mean_mse <= 0:
        raise UploadError("every target in y is the same number: there is nothing to explain")
    model_mse = mse(t, p)
    out = {
        "mse": model_mse,
        "mean_mse": mean_mse,
        "r2": skill(model_mse, mean_mse),
        "target_mean": t.mean(),
    }
    if t.shape[1] >= 2:
        out["persistence_mse"] = mse(t[:, 1:], t[:, :-1])
        out["model_mse_after_first"] = mse(t[:, 1:], p[:, 1:])
    return {k: float(v) for k, v in out.items()}


def model_from_upload(upload: Upload, max_mb: float = 200.0):
    """A ``rnnviz.training.predictor.Predictor`` of an upload's model, loaded again from its
    bytes (in a worker process: an ``Upload`` carries no model). It was checked when it was
    uploaded."""
    from rnnviz.training.predictor import Predictor

    if upload.kind == "keras":
        model = load_whole_model(upload.model_bytes, True, max_mb)
    else:
        assert upload.architecture is not None
        model = load_weights(upload.model_bytes, upload.architecture, max_mb)
    return Predictor(model)


def prepare_upload(
    data_name: str,
    data_bytes: bytes,
    model_name: str,
    model_bytes: bytes,
    settings: Settings,
    arch_values: Mapping[str, Any] | None = None,
    task: str = "classification",
) -> Upload:
    """Read and check an uploaded data file and model; UploadError says what is wrong.

    ``task`` regression: y holds numbers, the model a number per step (a whole ``.keras``
    model: the weights architecture's head is a sigmoid), judged by :func:`regression_scores`.

    The model file's name decides how it is read: ``.keras`` is a whole model (refused unless
    ``settings.whole_model_uploads``), ``.h5`` is weights for the architecture ``arch_values``
    (units, activations, head, input_scaling) built for the data's steps and features.
    """
    from rnnviz.training.predictor import Predictor

    data = read_data(data_name, data_bytes, settings.max_upload_mb, settings.bounds, task)
    _, steps, feats = data.shape
    name = model_name.lower()
    config = None
    if task == "regression" and name.endswith(".h5"):
        raise UploadError(
            "a regression model must be a whole .keras model: the weights architecture ends in "
            "a sigmoid (a probability per step); choose classification for weights"
        )
    if name.endswith(".keras"):
        kind = "keras"
        model = load_whole_model(model_bytes, settings.whole_model_uploads, settings.max_upload_mb)
    elif name.endswith(".h5"):
        kind = "weights"
        config = architecture(steps, feats, arch_values or {}, settings.bounds)
        model = load_weights(model_bytes, config, settings.max_upload_mb)
    else:
        raise UploadError(
            f"{model_name}: use weights (.weights.h5, from model.save_weights) or, where "
            "allowed, a whole model (.keras)"
        )
    check_model_fits(model, data.shape, task)
    predict = Predictor(model)
    acc = baseline = regression = None
    if data.y is not None:
        try:
            if task == "regression":
                regression = regression_scores(predict, data.x, data.y)
            else:
                acc, baseline = label_accuracy(predict, data.x, data.y)
        except UploadError:
            raise
        except Exception as exc:  # a model that cannot run on this data
            raise UploadError(f"the model could not be run on the data: {str(exc)[:200]}") from None
    digest = hashlib.sha256()
    arch = json.dumps(config.to_dict() if config else None, sort_keys=True)
    for part in (kind.encode(), arch.encode(), task.encode(), data_bytes, model_bytes):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return Upload(
        data_name=data_name,
        model_name=model_name,
        kind=kind,
        data=data,
        model_bytes=model_bytes,
        key=digest.hexdigest(),
        architecture=config,
        accuracy=acc,
        baseline_accuracy=baseline,
        task=task,
        regression=regression,
    )
