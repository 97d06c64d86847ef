"""A finished sweep read back for the dashboard: the rows of one task, over its seeds.

A teacher runs ``rnnviz sweep`` before class; the app reads its folder (the setting
``sweep_dir``, :mod:`rnnviz.serve.hosting`, never a path from a visitor) and the Compare page
shows, for the experiment on screen, how each method did over the sweep's seeds.

Reading never writes (no lock file, no repair: the folder may be read-only) and never raises
anything but :class:`SweepUnreadable`, whose message names no server path, so the page can
show it in one line.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pandas as pd

from rnnviz.config import Config
from rnnviz.sweep.table import PARQUET, RESULTS, typed
from rnnviz.sweep.work import COLUMNS

MAX_BYTES = 50_000_000  # a results file beyond this is refused, not parsed into a web server


class SweepUnreadable(ValueError):
    """The sweep folder's results cannot be used; the message is safe to show a visitor."""


def load_sweep(folder: str | Path) -> pd.DataFrame:
    """The rows of the sweep in ``folder``: ``results.csv`` (the record, appended as experiments
    finish; a torn last line is left out), or ``results.parquet`` when there is no CSV. The latest
    row of each (experiment, method) wins, as in :meth:`rnnviz.sweep.table.ResultsFile.read`.
    Parsed once per file version (path, size and modification time)."""
    folder = Path(folder)
    for name in (RESULTS, PARQUET):
        path = folder / name
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        except OSError:
            raise SweepUnreadable(f"its {name} cannot be opened") from None
        if stat.st_size > MAX_BYTES:
            raise SweepUnreadable(f"its {name} is larger than {MAX_BYTES // 1_000_000} MB")
        return _parsed(str(path), stat.st_size, stat.st_mtime_ns).copy()
    if not folder.is_dir():
        raise SweepUnreadable("its folder does not exist")
    raise SweepUnreadable(f"its folder holds no {RESULTS}")


@functools.lru_cache(maxsize=4)
def _parsed(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    """The typed rows of one version of a results file (the size and time key the cache)."""
    name = Path(path).name
    try:
        if name == PARQUET:
            raw = pd.read_parquet(path).astype(str)
            raw = raw.replace({"nan": "", "None": ""})
        else:
            data = Path(path).read_bytes()
            data = data[: data.rfind(b"\n") + 1]  # a sweep killed mid-write: a torn last line
            text = data.decode("utf-8")
            if text.split("\n", 1)[0] != ",".join(COLUMNS):
                raise SweepUnreadable(f"its {name} is not a sweep's results table")
            raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        missing = [c for c in COLUMNS if c not in raw.columns]
        if missing:
            raise SweepUnreadable(f"its {name} has no column {missing[0]!r}")
        table = typed(raw[list(COLUMNS)])
    except SweepUnreadable:
        raise
    except OSError:
        raise SweepUnreadable(f"its {name} cannot be read") from None
    except Exception as exc:  # a damaged file: bad bytes, bad numbers, a bad Parquet footer
        raise SweepUnreadable(f"its {name} is damaged ({type(exc).__name__})") from None
    return table.drop_duplicates(["experiment", "method"], keep="last").reset_index(drop=True)


def task_key(config: Config) -> tuple:
    """What defines "the task" when comparing over seeds: every knob that shapes the trained
    model (:meth:`Config.training_key`: the data or rule, the cell, units, layers, the training
    recipe, ...) except the seed. The scoring knobs (σ, repeats, sequences scored) are left out
    too: they change how a model is explained, not what it learned."""
    return tuple((k, v) for k, v in config.training_key() if k != "seed")


@functools.lru_cache(maxsize=256)
def _config_of(text: str) -> Config | None:
    """The Config of a row's ``config`` column; None when it no longer parses (another
    version's knobs)."""
    try:
        return Config.from_json(text)
    except Exception:
        return None


def task_rows(table: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The rows of ``table`` whose experiment is ``config``'s task (:func:`task_key`) with any
    seed, one per (seed, method). Where one seed was scored several ways (two sweeps with
    other σ in one folder), the rows scored like ``config`` are kept if there are any, else the
    latest."""
    if table.empty:
        return table
    key = task_key(config)
    configs = {text: _config_of(text) for text in table["config"].unique()}
    same = {t for t, c in configs.items() if c is not None and task_key(c) == key}
    rows = table[table["config"].isin(same)]
    if rows.empty:
        return rows.reset_index(drop=True)
    scored = config.scoring_key()
    alike = rows["config"].map(lambda t: configs[t].scoring_key() == scored)
    if alike.any():
        rows = rows[alike]
    rows = rows.drop_duplicates(["seed", "method"], keep="last")
    return rows.reset_index(drop=True)
