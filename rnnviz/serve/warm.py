"""Which experiments to warm, and warming one: the preset experiments trained into the model
cache with everything their pages read, so a visitor opens any of them without waiting.

Hosted mode queues them at start as low-priority jobs of the server's worker
(``rnnviz.serve.jobs.warm``), behind every visitor and giving way to one. ``python -m
rnnviz.serve.warm``
does the same before a deploy, in worker processes of its own (bounded memory, like the server's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rnnviz.config import PRESETS, SERIES_PRESETS, Bounds, Config
from rnnviz.data.source import source_of
from rnnviz.experiment import DISAGREEMENT_EXAMPLE
from rnnviz.report.lessons import lesson_experiments
from rnnviz.rules import RULE_PRESETS
from rnnviz.serve.store import ModelStore

NICE = 10  # warming before a deploy yields the CPU to anything else on the machine


def preset_experiments(bounds: Bounds | None = None) -> list[Config]:
    """The experiments a visitor opens with one click: every preset rule with the default
    recipe, the example the Compare page leads with, the lessons' experiments, the real series
    (rain and max temperature: about 5 s each, within the hosted bounds), then the thread's
    exact recipe (the slowest, so last). Each once; hosted mode warms exactly these at start,
    those within its ``bounds`` (the planted boxes' lesson is beyond them: not offered there)."""
    configs = [Config(rule=name) for name in RULE_PRESETS]
    configs += [DISAGREEMENT_EXAMPLE, *lesson_experiments()]
    configs += [*(PRESETS[name] for name in SERIES_PRESETS.values()), PRESETS["reference"]]
    return [c for c in dict.fromkeys(configs) if bounds is None or within(c, bounds)]


def within(config: Config, bounds: Bounds) -> bool:
    """Whether ``config`` fits ``bounds`` (:meth:`rnnviz.config.Config.validate`)."""
    try:
        config.validate(bounds)
    except ValueError:
        return False
    return True


def missing(folder: str | Path, configs: Sequence[Config]) -> list[Config]:
    """The configs not fully warmed in the cache ``folder`` (each once, in order): without an
    entry, or without what ``rnnviz.serve.tasks.warm_one`` keeps beside the model (a worker killed
    after the model was written leaves an entry without its scores)."""
    store = ModelStore(folder)
    return [c for c in dict.fromkeys(configs) if not complete(store, c)]


def complete(store: ModelStore, config: Config) -> bool:
    """Whether ``config``'s model and everything its pages read are kept in ``store``."""
    return (
        store.has(config)
        and store.get_scores(config) is not None
        and (config.n_features < 2 or store.get_interactions(config) is not None)
        and (not source_of(config).has_forecast or store.get_forecast(config) is not None)
    )


def main(argv: Sequence[str] | None = None) -> int:
    import os

    from rnnviz.serve.hosting import load_settings
    from rnnviz.serve.worker import Worker

    p = argparse.ArgumentParser(
        prog="python -m rnnviz.serve.warm", description=__doc__.split("\n")[0]
    )
    p.add_argument("--cache-dir", help="the model cache (default: RNNVIZ_CACHE_DIR or the app's)")
    args = p.parse_args(argv)
    folder = str(Path(args.cache_dir or load_settings().cache_dir).resolve())
    if hasattr(os, "nice"):  # the worker processes inherit it
        os.nice(NICE)
    todo = missing(folder, preset_experiments())
    worker = Worker(slots=1)
    failed = 0
    try:
        for config in todo:
            job = worker.submit("train", config.training_id(), (folder, config, True))
            job.wait()
            if job.error is not None:
                failed += 1
                print(f"warming {config.training_id()} failed: {job.error}", file=sys.stderr)
    finally:
        worker.close()
    print(f"warmed {len(todo) - failed} experiment(s) into {folder}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
