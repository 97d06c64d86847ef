"""Task functions for the sweep's tests, imported by name in worker processes."""

from __future__ import annotations

import os
import time

from rnnviz.sweep.work import run_task


def die_on_seed_1(task):
    """The task's rows, except that a task of seed 1 kills its worker process (as the kernel's
    out-of-memory killer would): nothing is returned, the pool breaks."""
    if task.config.seed == 1:
        os._exit(3)
    return run_task(task)


def train_in_store(folder: str, log: str, config_json: str, barrier) -> None:
    """``ModelStore(folder).get_or_train`` with a training that logs its start and end in
    ``log`` and takes a second (then fails: nothing is kept), started with the other process at
    ``barrier``: the log shows whether two trainings of one key overlapped."""
    import rnnviz.serve.store as store
    from rnnviz.config import Config

    def slow_train(config, progress=None):
        with open(log, "a") as f:
            f.write(f"start {os.getpid()}\n")
        time.sleep(1.0)
        with open(log, "a") as f:
            f.write(f"end {os.getpid()}\n")
        raise RuntimeError("a fake training: nothing to keep")

    store.train = slow_train
    barrier.wait()
    try:
        store.ModelStore(folder).get_or_train(Config.from_json(config_json))
    except RuntimeError:
        pass
