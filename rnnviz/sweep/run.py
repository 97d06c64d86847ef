"""Where a sweep's tasks run, and the loop that records them as they finish.

Three places, one task function (:func:`rnnviz.sweep.work.run_task`), so the numbers are the
same wherever a task runs (same config and seed, same rows):

- this process (``workers=0``: for debugging and tests);
- a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes (the default), forked
  from a forkserver that imported TensorFlow once (each process has a TensorFlow of its own);
- a Dask distributed cluster (``scheduler``: its address), through ``Client.submit`` and
  ``as_completed``; its workers must import rnnviz and see the store's folder.

Every finished experiment's rows are appended to the results file at once
(:class:`rnnviz.sweep.table.ResultsFile`), so nothing finished is lost when a worker or the
sweep itself is killed; a rerun runs only the (experiment, method) rows that are missing. A
process pool whose worker died is broken: its unfinished tasks run again in a new pool, up to
``retries`` times, and any still unfinished are reported as ``lost`` (a rerun does them).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rnnviz.sweep.grid import Task
from rnnviz.sweep.table import ResultsFile
from rnnviz.sweep.work import PRELOAD, error_rows, run_task

Rows = list[dict[str, Any]]
Runner = Callable[[Task], Rows]
# Called after each finished experiment: (task, its rows, experiments done, experiments to do).
OnDone = Callable[[Task, Rows, int, int], None]


@dataclass
class Outcome:
    """What a sweep run did: experiments in the grid, already finished before (skipped), run
    now, failed (rows with an error) and lost (unfinished: a worker died; rerun to do them)."""

    total: int
    skipped: int
    ran: int = 0
    failed: int = 0
    lost: list[Task] = field(default_factory=list)


def pending(tasks: Iterable[Task], finished: set[tuple[str, str]]) -> list[Task]:
    """The tasks with a method that has no row yet, each narrowed to those methods."""
    out = []
    for task in tasks:
        missing = tuple(m for m in task.methods if (task.experiment, m) not in finished)
        if missing:
            out.append(replace(task, methods=missing))
    return out


def pool_context() -> Any:
    """A forkserver context that imported TensorFlow and the task once (spawn where there is no
    forkserver): each worker is a fresh process with a TensorFlow of its own."""
    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # Windows
        return mp.get_context("spawn")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def run_sweep(
    tasks: Sequence[Task],
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int = 1,
    retry_errors: bool = False,
    runner: Runner = run_task,
    on_done: OnDone | None = None,
) -> Outcome:
    """Run the ``tasks`` whose rows are missing from ``out``'s results file, appending each
    experiment's rows as it finishes. ``workers``: processes of the pool (None: the machine's
    cores; 0: this process); ``scheduler``: a Dask scheduler's address instead. ``runner``: the
    task function (a module-level function, so workers can import it by name)."""
    results = ResultsFile(out)
    todo = pending(tasks, results.finished(retry_errors))
    outcome = Outcome(total=len(tasks), skipped=len(tasks) - len(todo))

    def record(task: Task, rows: Rows) -> None:
        results.append(rows)
        outcome.ran += 1
        outcome.failed += any(r["error"] for r in rows)
        if on_done is not None:
            on_done(task, rows, outcome.ran, len(todo))

    if not todo:
        return outcome
    if scheduler is not None:
        outcome.lost = _on_dask(todo, scheduler, runner, record)
    elif workers == 0:
        for task in todo:
            record(task, runner(task))
    else:
        count = workers or os.cpu_count() or 1
        outcome.lost = _on_pool(todo, count, retries, runner, record)
    return outcome


def _on_pool(
    todo: list[Task], workers: int, retries: int, runner: Runner, record: Callable
) -> list[Task]:
    """``todo`` on a process pool; a broken pool (a worker died) is replaced up to ``retries``
    times for the unfinished tasks. The tasks still unfinished."""
    remaining = todo
    for _ in range(retries + 1):
        done: set[str] = set()
        pool = ProcessPoolExecutor(min(workers, len(remaining)), mp_context=pool_context())
        try:
            futures = {pool.submit(runner, task): task for task in remaining}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    rows = future.result()
                except BrokenProcessPool:  # a worker died: this task ran nowhere to the end
                    continue
                except Exception as exc:  # e.g. the task could not be sent to the worker
                    rows = error_rows(task, exc)
                record(task, rows)
                done.add(task.experiment)
        except BaseException:  # Ctrl-C: what finished is recorded; queued tasks never start
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        remaining = [t for t in remaining if t.experiment not in done]
        if not remaining:
            break
    return remaining


def _on_dask(todo: list[Task], scheduler: str, runner: Runner, record: Callable) -> list[Task]:
    """``todo`` on the Dask cluster at ``scheduler``. Dask reruns the task of a worker that
    died elsewhere; a task it gives up on (KilledWorker) is unfinished: returned."""
    from distributed import Client
    from distributed import as_completed as dask_completed

    lost = []
    run = uuid.uuid4().hex[:8]
    with Client(scheduler) as client:
        futures = {
            client.submit(
                runner, task, pure=False, key=f"rnnviz-sweep-{task.experiment}-{run}"
            ): task
            for task in todo
        }
        for future in dask_completed(list(futures)):
            task = futures[future]
            try:
                rows = future.result()
            except Exception:  # the task never finished (its workers died): a rerun does it
                lost.append(task)
                continue
            record(task, rows)
    return lost
