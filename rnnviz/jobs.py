"""Trainings that outlive a script run: one background job per training configuration.

A page that needs a model submits a job and polls it to draw a progress bar. When the user
interacts meanwhile, Streamlit stops the page script but not the job, and the next run attaches
to the same job again, so a training is never restarted by a click. Every session asking for the
same configuration watches the same job. Failed jobs are remembered (so every session sees the
error) until someone retries. The app keeps one registry per process
(``rnnviz.ui.cache.training_jobs()``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from rnnviz.config import Config
from rnnviz.model import Progress, TrainResult
from rnnviz.store import ModelStore

MAX_PENDING = 8  # trainings queued or running at once, over all sessions
MAX_FAILED = 100  # failed jobs remembered


class BusyError(RuntimeError):
    """Too many trainings are already queued."""


class TrainingJob:
    """One training of one configuration, run by ``store.get_or_train`` in a thread."""

    def __init__(self, store: ModelStore, config: Config) -> None:
        self.store = store
        self.config = config
        self.key = config.training_id()
        self.progress: Progress | None = None
        self.queue_position: int | None = None
        self.result: TrainResult | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"rnnviz-train-{self.key}", daemon=True
        )

    def start(self, on_finish) -> None:
        self._on_finish = on_finish
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self.store.get_or_train(
                self.config, progress=self._progress, on_wait=self._wait
            )
        except Exception as exc:  # reported to every session watching this job
            self.error = exc
        finally:
            self.done.set()
            self._on_finish(self)

    def _progress(self, p: Progress) -> None:
        self.queue_position = None
        self.progress = p

    def _wait(self, position: int) -> None:
        self.queue_position = position

    @property
    def fraction(self) -> float:
        return 1.0 if self.done.is_set() else (self.progress.fraction if self.progress else 0.0)

    def status(self) -> str:
        if self.queue_position is not None:
            return (
                "Waiting for another training to finish: position "
                f"{self.queue_position} in the queue"
            )
        if self.progress is None:
            return "Preparing the data…"
        return f"Training: {self.progress}"

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)


class TrainingJobs:
    """Process-wide registry: at most one job per training configuration."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._running: dict[str, TrainingJob] = {}
        self._failed: OrderedDict[str, TrainingJob] = OrderedDict()

    def submit(self, store: ModelStore, config: Config) -> TrainingJob:
        """The running or failed job of ``config``, or a new one (BusyError if too many)."""
        key = config.training_id()
        with self._lock:
            job = self._running.get(key) or self._failed.get(key)
            if job is not None:
                return job
            if len(self._running) >= self.max_pending:
                raise BusyError(
                    f"the server is busy with {len(self._running)} trainings; try again in a minute"
                )
            job = TrainingJob(store, config)
            self._running[key] = job
        job.start(self._finished)
        return job

    def failed(self, config: Config) -> TrainingJob | None:
        with self._lock:
            return self._failed.get(config.training_id())

    def forget(self, config: Config) -> None:
        """Drop a failed job so that the next submit retries the training."""
        with self._lock:
            self._failed.pop(config.training_id(), None)

    def _finished(self, job: TrainingJob) -> None:
        with self._lock:
            self._running.pop(job.key, None)
            if job.error is not None:
                self._failed[job.key] = job
                while len(self._failed) > MAX_FAILED:
                    self._failed.popitem(last=False)

    def pending(self) -> int:
        with self._lock:
            return len(self._running)


def wait_for(job: TrainingJob, report, interval: float = 0.2) -> TrainingJob:
    """Block until ``job`` is done, calling ``report(job)`` about every ``interval`` seconds."""
    while not job.wait(interval):
        report(job)
    report(job)
    return job


__all__ = ["BusyError", "TrainingJob", "TrainingJobs", "wait_for"]
