"""A sweep's grid: what to train and which methods to run on each model, checked before anything
runs.

A grid names tasks (``presets``, ``rules`` on the default recipe, real ``series``), crosses them
with ``cells`` and ``seeds``, and lists the ``methods`` run on every model; ``config`` sets knobs
for every experiment (e.g. fewer epochs). Written as a small TOML file::

    rules = ["reference", "lagged", "x1[t-2] > 0.5"]
    series = ["seattle-weather"]          # or "seattle-weather:temp_max"
    cells = ["lstm", "gru"]
    seeds = [0, 1, 2, 3, 4]
    methods = ["default"]                 # the registry's default set, or names
    [config]
    epochs = 3

or as lists on the command line (:mod:`rnnviz.sweep.command`). Every experiment is one
:class:`Task`: a validated :class:`~rnnviz.config.Config` and the methods to run on its model.
A grid that cannot run raises :class:`GridError` naming the entry (``rules[2] = ...``) and, for
a rule, the caret under the culprit.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnviz.attr.registry import RANDOM, check_name, default_methods
from rnnviz.config import CELLS, DEFAULT_BOUNDS, PRESETS, REAL_SERIES, Config, series_preset

# The axes of a grid; "config" holds knobs set for every experiment.
AXES = ("presets", "rules", "series", "cells", "seeds", "methods")
KEYS = (*AXES, "config")
# Knobs the axes set: the grid's ``config`` table cannot set them for every experiment.
AXIS_KNOBS = {
    "rule": "rules",
    "dataset": "series",
    "outcome": "series",
    "cell": "cells",
    "seed": "seeds",
}
MAX_EXPERIMENTS = 100_000  # a typo in a range (0-99999999) is refused, not expanded


class GridError(ValueError):
    """The grid cannot run; the message names the entry and says what to change."""


@dataclass(frozen=True)
class Grid:
    """The lists of a sweep (see the module's docstring); empty ``cells``: each task's own."""

    presets: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] = ("default",)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """One experiment of a sweep: its config, the methods to run on its model, and labels.

    ``experiment``: a stable id of the whole config (same config, same id, on every machine).
    ``task``: what it learns ("rule:lagged", "preset:memory-lstm", "series:seattle-weather").
    ``store``: the model store's folder (None: models are not kept).
    """

    experiment: str
    task: str
    config: Config
    methods: tuple[str, ...]
    store: str | None = None

    @property
    def cell(self) -> str:
        return self.config.cell

    @property
    def seed(self) -> int:
        return self.config.seed


def experiment_id(config: Config) -> str:
    """16 hex digits of every knob of ``config`` (training and scoring): the row key of a sweep."""
    raw = json.dumps(config.to_dict(), sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def load_grid(path: str | Path) -> Grid:
    """The grid of a TOML file; GridError naming the file and the entry when it cannot run."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GridError(f"{path}: cannot read the grid file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GridError(f"{path}: not valid TOML ({exc})") from None
    try:
        return parse_grid(data)
    except GridError as exc:
        raise GridError(f"{path}: {exc}") from None


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key, ())
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise GridError(f'{key} = {value!r}: a list of names, like {key} = ["..."]')
    return tuple(value)


def parse_grid(data: Mapping[str, Any]) -> Grid:
    """A :class:`Grid` from plain data (a parsed TOML file, or the command line's lists); every
    entry is checked (:func:`grid_tasks` builds every config), so a bad grid fails here."""
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise GridError(f"{unknown[0]!r} is not a grid entry; the entries are {', '.join(KEYS)}")
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, list | tuple) or not seeds:
        raise GridError(f"seeds = {seeds!r}: a list of whole numbers, like seeds = [0, 1, 2]")
    for i, seed in enumerate(seeds):
        lo, hi = DEFAULT_BOUNDS.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or not lo <= seed <= hi:
            raise GridError(f"seeds[{i}] = {seed!r}: a whole number from {lo} to {hi}")
    config = data.get("config", {})
    if not isinstance(config, Mapping):
        raise GridError(f"config = {config!r}: a table of knobs, like [config] epochs = 3")
    grid = Grid(
        presets=_texts(data, "presets"),
        rules=_texts(data, "rules"),
        series=_texts(data, "series"),
        cells=_texts(data, "cells"),
        seeds=tuple(dict.fromkeys(seeds)),
        methods=_texts(data, "methods") or ("default",),
        config=dict(config),
    )
    grid_tasks(grid)  # every entry checked now, before anything runs
    return grid


def method_list(names: Sequence[str]) -> tuple[str, ...]:
    """The methods named ("default": the registry's default set), random last (it is every
    comparison's chance row); GridError naming the entry for an unknown one."""
    out: list[str] = []
    for i, name in enumerate(names):
        if name == "default":
            out += default_methods()
            continue
        try:
            check_name(name)
        except ValueError as exc:
            raise GridError(f"methods[{i}] = {name!r}: {exc}; or 'default'") from None
        out.append(name)
    return (*dict.fromkeys(m for m in out if m != RANDOM), RANDOM)


def _bases(grid: Grid) -> list[tuple[str, str, Config, dict[str, Any]]]:
    """(entry, task label, starting config, the knobs it sets) of each task of ``grid``."""
    bases: list[tuple[str, str, Config, dict[str, Any]]] = []
    for i, name in enumerate(grid.presets):
        if name not in PRESETS:
            raise GridError(f"presets[{i}] = {name!r} is not a preset; one of {', '.join(PRESETS)}")
        bases.append((f"presets[{i}] = {name!r}", f"preset:{name}", PRESETS[name], {}))
    for i, rule in enumerate(grid.rules):
        bases.append((f"rules[{i}] = {rule!r}", f"rule:{rule}", Config(), {"rule": rule}))
    for i, name in enumerate(grid.series):
        dataset, _, outcome = name.partition(":")
        entry = f"series[{i}] = {name!r}"
        if dataset not in REAL_SERIES:
            raise GridError(
                f"{entry} is not a real series; one of {', '.join(REAL_SERIES)} "
                "(with an outcome: seattle-weather:temp_max)"
            )
        try:
            base = series_preset(dataset, outcome or "rain")
        except ValueError as exc:
            raise GridError(f"{entry}: {exc}") from None
        bases.append((entry, f"series:{name}", base, {}))
    if not bases:
        raise GridError("the grid names no experiment: give presets, rules or series")
    return bases


def grid_tasks(grid: Grid, store: str | Path | None = None) -> list[Task]:
    """Every experiment of ``grid`` as a :class:`Task` (in grid order: task, cell, seed), each
    config validated; the same config reached twice is one task. GridError names the entry."""
    for i, cell in enumerate(grid.cells):
        if cell not in CELLS:
            raise GridError(f"cells[{i}] = {cell!r} is not a cell; one of {', '.join(CELLS)}")
    for knob in grid.config:
        if knob in AXIS_KNOBS:
            raise GridError(
                f"config.{knob}: set by the grid's {AXIS_KNOBS[knob]!r} list, not in [config]"
            )
    methods = method_list(grid.methods)
    bases = _bases(grid)
    count = len(bases) * max(1, len(grid.cells)) * len(grid.seeds)
    if count > MAX_EXPERIMENTS:
        raise GridError(f"the grid makes {count:,} experiments; at most {MAX_EXPERIMENTS:,}")
    tasks: dict[str, Task] = {}
    for entry, label, base, own in bases:
        try:
            start = Config.from_dict({**grid.config, **own}, base=base)
        except ValueError as exc:  # ConfigError names the knob; RuleError has a caret
            where = f"{entry} with [config]" if grid.config else entry
            raise GridError(f"{where}: {exc}") from None
        for cell in grid.cells or (start.cell,):
            for seed in grid.seeds:
                try:
                    config = start.replace(cell=cell, seed=seed)
                except ValueError as exc:
                    raise GridError(f"{entry} with cell {cell!r}, seed {seed}: {exc}") from None
                key = experiment_id(config)
                tasks.setdefault(
                    key,
                    Task(key, label, config, methods, None if store is None else str(store)),
                )
    return list(tasks.values())


def parse_seeds(text: str) -> list[int]:
    """Seeds from the command line: "0,1,2", "0-4" (inclusive) or a mix ("0-2,7");
    GridError on anything else."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            if dash:
                first, last = int(lo), int(hi)
                if last < first or last - first >= MAX_EXPERIMENTS:
                    raise ValueError
                seeds += range(first, last + 1)
            else:
                seeds.append(int(part))
        except ValueError:
            raise GridError(
                f"--seeds: {part!r} is not a seed or a range; write 0,1,2 or 0-4"
            ) from None
    return seeds
