"""Train the preset experiments into the model cache, each in a short-lived process of its own.

``python -m rnnviz.warm`` (at deploy, before the server starts; hosted mode also starts it at
start-up) trains every experiment of :func:`rnnviz.jobs.preset_experiments` that is not on disk
yet, and saves its model, its perturbation scores, its interactions (and a real series'
forecast scores), so a visitor opens any of them without a training and without TensorFlow.
Why processes: each architecture a process trains keeps TensorFlow's traces and compiled steps
(about 50 MB each, most of it never given back); warming thirteen of them inside the server left
it at 1.1 GB, above a 1 GB host. A child per experiment returns all of it on exit, and the
server only ever holds what visitors train.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rnnviz.config import Config

NICE = 10  # warming yields the CPU to the server's visitors
ONE_TIMEOUT_S = 600  # one experiment's process, at most (the thread's recipe takes ~30 s)


def missing(folder: str | Path, configs: Sequence[Config]) -> list[Config]:
    """The configs not fully warmed in the cache ``folder`` (each once, in order): without an
    entry, or without what :func:`warm_one` keeps beside the model (a child killed after the
    model was written leaves an entry without its scores)."""
    from rnnviz.store import ModelStore

    store = ModelStore(folder)
    return [c for c in dict.fromkeys(configs) if not _complete(store, c)]


def _complete(store, config: Config) -> bool:
    return (
        store.has(config)
        and store.get_scores(config) is not None
        and (config.n_features < 2 or store.get_interactions(config) is not None)
        and (config.dataset == "synthetic" or store.get_forecast(config) is not None)
    )


def warm_one(folder: str | Path, config: Config) -> None:
    """Train ``config`` into ``folder`` (if not there yet) with its scores, its interactions
    and, for a real series, its forecast scores."""
    from rnnviz.experiment import explain, explain_interactions
    from rnnviz.store import ModelStore

    store = ModelStore(folder)
    result = store.get_or_train(config)
    if store.get_scores(config) is None:
        store.put_scores(config, explain(result, config))
    if config.n_features >= 2 and store.get_interactions(config) is None:
        store.put_interactions(config, explain_interactions(result, config))
    if config.dataset != "synthetic" and store.get_forecast(config) is None:
        from rnnviz.datasets import judge

        store.put_forecast(config, judge(config, result.predict)[0])


def _command(
    folder: str | Path, config: Config | None = None, server_pid: int | None = None
) -> list[str]:
    cmd = [sys.executable, "-m", "rnnviz.warm", "--cache-dir", str(folder)]
    if server_pid is not None:
        cmd += ["--server-pid", str(server_pid)]
    if config is not None:
        cmd += ["--one", json.dumps(config.to_dict())]
    return cmd


TENSORFLOW_LIBRARY = "_pywrap_tensorflow_internal"  # mapped as soon as TensorFlow is imported
WATCH_S = 0.25  # how often a warming child's server is looked at


def server_has_tensorflow(pid: int | None) -> bool:
    """Whether the process ``pid`` (the server that started the warming) has TensorFlow loaded,
    read from Linux's ``/proc/<pid>/maps``; False without a pid or where that cannot be read."""
    if pid is None:
        return False
    try:
        return TENSORFLOW_LIBRARY.encode() in Path(f"/proc/{pid}/maps").read_bytes()
    except OSError:
        return False


def _run_one(cmd: list[str], server_pid: int | None) -> int | None:
    """Run one warming child; its exit code (killed past ONE_TIMEOUT_S: a failure), or None when
    it was stopped because the server loaded TensorFlow."""
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + ONE_TIMEOUT_S
    while True:
        try:
            return child.wait(WATCH_S)
        except subprocess.TimeoutExpired:
            if server_has_tensorflow(server_pid):
                child.kill()  # its entry is written atomically: nothing half-written is served
                child.wait()
                return None
            if time.monotonic() > deadline:
                child.kill()
                return child.wait()  # reported as a failure


def warm_missing(
    folder: str | Path, configs: Sequence[Config], server_pid: int | None = None
) -> int:
    """Warm each missing config in a process of its own, one after another; returns how many
    were trained. A failure is reported on stderr and the others still run.

    ``server_pid``: the server that started the warming. As soon as it loads TensorFlow itself
    (a visitor's training or scoring), the warming stops, its running child killed: on a 1 GB
    host the server and a child, each with TensorFlow (~600 MB), do not fit together. What is
    left is warmed at the server's next start, or trained when a visitor opens it.
    """
    trained = 0
    for config in missing(folder, configs):
        if server_has_tensorflow(server_pid):
            print("warming stopped: the server loaded TensorFlow for a visitor", file=sys.stderr)
            break
        code = _run_one(_command(folder, config), server_pid)
        if code == 0:
            trained += 1
        elif code is not None:
            print(f"warming {config.training_id()} failed ({code})", file=sys.stderr)
    return trained


def start(folder: str | Path, configs: Sequence[Config]) -> subprocess.Popen | None:
    """Warm the missing ``configs`` in the background (``python -m rnnviz.warm``), without
    waiting; it stops when this process loads TensorFlow (see :func:`warm_missing`). None
    when nothing is missing."""
    if not missing(folder, configs):
        return None
    proc = subprocess.Popen(_command(folder, server_pid=os.getpid()), stdin=subprocess.DEVNULL)
    threading.Thread(target=proc.wait, name="rnnviz-warm", daemon=True).start()  # reaped
    return proc


def main(argv: Sequence[str] | None = None) -> int:
    from rnnviz.hosting import load_settings
    from rnnviz.jobs import preset_experiments

    p = argparse.ArgumentParser(prog="python -m rnnviz.warm", description=__doc__.split("\n")[0])
    p.add_argument("--cache-dir", help="the model cache (default: RNNVIZ_CACHE_DIR or the app's)")
    p.add_argument("--one", metavar="JSON", help=argparse.SUPPRESS)  # one config, in a child
    p.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)  # stop when it loads TF
    args = p.parse_args(argv)
    folder = args.cache_dir or load_settings().cache_dir
    if hasattr(os, "nice") and not args.one:  # the children inherit it
        os.nice(NICE)
    if args.one:
        warm_one(folder, Config.from_dict(json.loads(args.one)))
        return 0
    trained = warm_missing(folder, preset_experiments(), server_pid=args.server_pid)
    print(f"warmed {trained} experiment(s) into {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
