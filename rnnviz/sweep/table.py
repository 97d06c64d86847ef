"""A sweep's results: the CSV file every finished experiment is appended to, its Parquet copy,
and the summary over seeds.

``results.csv`` is the record: one row per experiment × method (columns
:data:`rnnviz.sweep.work.COLUMNS`), each experiment's rows appended in one write, flushed and
synced as it finishes, under a file lock (two sweeps writing to one folder never interleave
rows). A sweep killed mid-write leaves at most a torn last line, which :meth:`ResultsFile.repair`
drops before the next append (no field holds a newline: errors are made one line). A rerun reads
which (experiment, method) rows exist and runs only the others; the latest row of a pair wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock

from rnnviz.sweep.work import COLUMNS, NUMBERS

RESULTS = "results.csv"
PARQUET = "results.parquet"
SUMMARY_CSV = "summary.csv"
FIGURE = "summary.html"
# What the summary gives per method and task: medians and quartiles over seeds.
SUMMARY_METRICS = ("lag_auc", "feature_auc", "deletion")
GROUP = ("task", "cell", "method")


class ResultsError(ValueError):
    """The results file cannot be used (another format); says what to change."""


class ResultsFile:
    """The append-only ``results.csv`` of a sweep in ``folder`` (created if missing)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / RESULTS
        self.lock = FileLock(str(self.folder / f".{RESULTS}.lock"))

    def repair(self) -> int:
        """Drop a torn last line (a sweep killed mid-write); the bytes dropped."""
        with self.lock:
            return self._repair()

    def _repair(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size == 0:
            return 0
        with open(self.path, "rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1  # 0: not even the header was whole
            f.truncate(keep)
            return size - keep

    def append(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add ``rows`` (one experiment's) in one write, synced to disk before returning."""
        if not rows:
            return
        with self.lock:
            self._repair()
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            if not fresh:
                self._check_header()
            frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
            text = frame.to_csv(index=False, header=fresh, lineterminator="\n")
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())

    def _check_header(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n")
        if header != ",".join(COLUMNS):
            raise ResultsError(
                f"{self.path} holds another table than a sweep's results; choose another "
                "output folder (--out)"
            )

    def read(self) -> pd.DataFrame:
        """Every row, the latest of each (experiment, method); an empty table without a file."""
        with self.lock:
            self._repair()
            if not self.path.exists() or self.path.stat().st_size == 0:
                return empty_table()
            self._check_header()
            raw = pd.read_csv(self.path, dtype=str, keep_default_na=False)
        return typed(raw).drop_duplicates(["experiment", "method"], keep="last")

    def finished(self, retry_errors: bool = False) -> set[tuple[str, str]]:
        """The (experiment, method) pairs that have a row (with ``retry_errors``: a row
        without an error)."""
        table = self.read()
        if retry_errors:
            table = table[table["error"] == ""]
        return set(zip(table["experiment"], table["method"], strict=True))


def empty_table() -> pd.DataFrame:
    return typed(pd.DataFrame({c: pd.Series([], dtype=str) for c in COLUMNS}))


def typed(raw: pd.DataFrame) -> pd.DataFrame:
    """The results columns with their types (the CSV is read as text)."""
    frame = raw.copy()
    for column in (*NUMBERS, "seconds", "train_seconds"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["seed"] = pd.to_numeric(frame["seed"]).astype("int64")
    frame["cached"] = frame["cached"].map({"True": True, "False": False, True: True}).fillna(False)
    frame["cached"] = frame["cached"].astype(bool)
    return frame.reset_index(drop=True)


def write_parquet(table: pd.DataFrame, folder: str | Path) -> Path:
    """``table`` as ``results.parquet`` in ``folder``, replaced atomically."""
    path = Path(folder) / PARQUET
    tmp = path.with_name(f".{PARQUET}.{os.getpid()}.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def summarise(table: pd.DataFrame, metrics: Iterable[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Per task, cell and method (in the table's order): experiments counted (``n``), failed
    (``errors``), and each metric's median and quartiles (``_q25``, ``_q75``) over seeds."""
    metrics = tuple(metrics)
    keys = list(GROUP)
    ok = table[table["error"] == ""]
    groups = table[keys].drop_duplicates()
    rows = []
    for values in groups.itertuples(index=False):
        mask = (ok[keys] == list(values)).all(axis=1)
        part = ok[mask]
        failed = ((table[keys] == list(values)).all(axis=1) & (table["error"] != "")).sum()
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        row["n"] = len(part)
        row["errors"] = int(failed)
        for m in metrics:
            column = part[m].dropna()
            row[f"{m}_median"] = column.median() if len(column) else float("nan")
            row[f"{m}_q25"] = column.quantile(0.25) if len(column) else float("nan")
            row[f"{m}_q75"] = column.quantile(0.75) if len(column) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def grid_table(table: pd.DataFrame, tasks: Sequence[Any]) -> pd.DataFrame:
    """The rows of ``tasks`` (:class:`rnnviz.sweep.grid.Task`) in grid order: task by task, each
    task's methods in its order (the results file holds them in the order they finished, and
    may hold other grids' rows too)."""
    order = {
        (t.experiment, m): (i, j) for i, t in enumerate(tasks) for j, m in enumerate(t.methods)
    }
    keys = [order.get(pair) for pair in zip(table["experiment"], table["method"], strict=True)]
    mine = table.assign(_order=keys)[[k is not None for k in keys]]
    return mine.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
