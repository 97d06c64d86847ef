"""What one sweep task does where it runs (this process, a pool's worker, a Dask worker): the
model of its config through the model store (trained once, whoever asks; kept on disk), then its
methods (:func:`rnnviz.experiment.compare_methods`), as one row per method.

Importing this module loads no TensorFlow (the parent process submits :func:`run_task` by name);
a worker loads it with the first task, or once in the pool's forkserver (:data:`PRELOAD`).
A task never raises: an experiment that fails (data that cannot be learned, a method that
raises) is rows carrying the error, so the sweep goes on.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from rnnviz.attr.comparison import CURVE_COLUMNS, METRICS
from rnnviz.attr.registry import RANDOM, method_label

if TYPE_CHECKING:
    from rnnviz.serve.store import ModelStore
    from rnnviz.sweep.grid import Task

# Imported once in a process pool's forkserver, so each worker starts without a TensorFlow import.
PRELOAD = ["rnnviz.sweep.work", "rnnviz.experiment", "rnnviz.training.fit", "rnnviz.serve.store"]

# The columns of a sweep's table, in order. The numbers (METRICS: truth scores, NaN without
# truth; CURVE_COLUMNS: deletion and insertion scores) depend on the config and seed only;
# seconds, train_seconds and cached say how this run went.
LABELS = ("experiment", "task", "dataset", "rule", "cell", "seed", "method", "label")
NUMBERS = (*METRICS, *CURVE_COLUMNS)
COLUMNS = (*LABELS, *NUMBERS, "seconds", "train_seconds", "cached", "error", "config")

_STORES: dict[str, ModelStore] = {}


def _store(folder: str) -> ModelStore:
    """One store per folder per process: models trained here stay known between tasks."""
    from rnnviz.serve.store import ModelStore

    if folder not in _STORES:
        # Nothing evicted: a sweep's models are its cache (the app's store keeps 200 by default).
        _STORES[folder] = ModelStore(folder, max_memory=1, max_disk=10**9)
    return _STORES[folder]


def one_line(text: str) -> str:
    """``text`` on one line: the results file holds one row per line, so a torn last line is
    found and dropped (:func:`rnnviz.sweep.table.ResultsFile.repair`)."""
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


def base_row(task: Task, method: str) -> dict[str, Any]:
    """A row of ``task`` and ``method`` without numbers (NaN) and without error."""
    config = task.config
    return {
        "experiment": task.experiment,
        "task": task.task,
        "dataset": config.dataset,
        "rule": config.rule if config.data_kind.rule_made else "",
        "cell": config.cell,
        "seed": config.seed,
        "method": method,
        "label": method_label(method),
        **dict.fromkeys(NUMBERS, float("nan")),
        "seconds": float("nan"),
        "train_seconds": float("nan"),
        "cached": False,
        "error": "",
        "config": json.dumps(config.to_dict(), sort_keys=True),
    }


def error_rows(task: Task, error: BaseException | str) -> list[dict[str, Any]]:
    """One row per method of ``task``, each carrying ``error``."""
    if isinstance(error, BaseException):
        error = f"{type(error).__name__}: {error}"
    return [{**base_row(task, m), "error": one_line(error)} for m in task.methods]


def run_task(task: Task) -> list[dict[str, Any]]:
    """The rows of ``task``: train (or load) its model, run its methods; error rows on failure."""
    from rnnviz.experiment import compare_methods

    try:
        start = time.perf_counter()
        if task.store is None:
            from rnnviz.training.fit import train

            cached, result = False, train(task.config)
        else:
            store = _store(task.store)
            cached = store.get(task.config) is not None
            result = store.get_or_train(task.config)
        train_seconds = time.perf_counter() - start
        # random is every comparison's chance row: compare adds it by itself
        comparison = compare_methods(
            result, task.config, methods=[m for m in task.methods if m != RANDOM]
        )
        frame = comparison.to_frame().set_index("method")
    except Exception as exc:  # an experiment that fails is rows with its error
        return error_rows(task, exc)
    rows = []
    for method in task.methods:
        row = base_row(task, method)
        row.update(train_seconds=train_seconds, cached=cached)
        if method in frame.index:
            found = frame.loc[method]
            row.update({k: float(found[k]) for k in NUMBERS if k in frame.columns})
            row["seconds"] = float(found["seconds"])
        else:
            row["error"] = "the comparison has no result for this method"
        rows.append(row)
    return rows
