"""Trainings that outlive a script run: one background job per training configuration.

A page that needs a model submits a job and polls it to draw a progress bar. When the user
interacts meanwhile, Streamlit stops the page script but not the job, and the next run attaches
to the same job again, so a training is never restarted by a click. Every session asking for the
same configuration watches the same job. Failed jobs are remembered (so every session sees the
error) until someone retries. The app keeps one registry per process
(``rnnviz.ui.cache.training_jobs()``).

Visitors are queued, never sent away for a fixed count: a queued job is a waiting thread and a
config (well under 1 MB), so the queue is bounded by the server's memory (``memory_limit_mb``:
no new job while the process holds more) and by a generous safety cap. A waiting job knows its
position and an estimate of its wait from the trainings this process has timed.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from rnnviz.config import Config
from rnnviz.result import Progress, TrainResult
from rnnviz.store import ModelStore

MAX_PENDING = 200  # safety cap on trainings queued or running at once, over all sessions
MAX_FAILED = 100  # failed jobs remembered


class BusyError(RuntimeError):
    """No training can be queued now (the server is at its memory limit or safety cap)."""


def rss_mb() -> float:
    """Resident memory of this process in MB now (Linux ``/proc``; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class BackgroundJob:
    """Work in a daemon thread that outlives the script run that started it: every session
    asking for the same key watches the same job, and a click meanwhile never restarts it.

    A subclass says what runs (:meth:`work`, whose value becomes ``result``) and how its
    progress reads (:meth:`status`); an exception becomes ``error``, shown to every watcher.
    """

    kind = "job"  # names the thread: rnnviz-<kind>-<key>

    def __init__(self, key: str) -> None:
        self.key = key
        self.progress: Progress | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._changed = threading.Condition()  # notified when progress or position changes
        self._on_finish: Callable[[BackgroundJob], None] | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"rnnviz-{self.kind}-{key}", daemon=True
        )

    def work(self) -> Any:
        raise NotImplementedError

    def status(self) -> str:
        raise NotImplementedError

    def start(self, on_finish: Callable[[BackgroundJob], None] | None = None) -> None:
        self._on_finish = on_finish
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self.work()
        except Exception as exc:  # reported to every session watching this job
            self.error = exc
        finally:
            self.done.set()
            self._notify()
            if self._on_finish is not None:
                self._on_finish(self)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until ``condition()`` holds (checked whenever the job's progress, queue
        position or state changes) or ``timeout`` seconds pass; whether it holds."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    @property
    def fraction(self) -> float:
        return 1.0 if self.done.is_set() else (self.progress.fraction if self.progress else 0.0)

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)


class TrainingJob(BackgroundJob):
    """One training of one configuration, run by ``store.get_or_train`` in a thread."""

    kind = "train"

    def __init__(self, store: ModelStore, config: Config, priority: int = 0) -> None:
        super().__init__(config.training_id())
        self.store = store
        self.config = config
        self.priority = priority
        self.wait_estimate: float | None = None  # seconds until this training starts
        self.queue_position: int | None = None
        self.ticket = store.ticket(priority)  # its place in the queue: the order of submits

    def work(self) -> TrainResult:
        return self.store.get_or_train(
            self.config, progress=self._progress, on_wait=self._wait, ticket=self.ticket
        )

    def _progress(self, p: Progress) -> None:
        self.queue_position = None
        self.progress = p
        self._notify()

    def _wait(self, position: int) -> None:
        self.queue_position = position
        self.wait_estimate = self.store.estimate_wait(position)
        self._notify()

    def status(self) -> str:
        if self.queue_position is not None:
            ahead = self.queue_position - 1
            text = (
                "Waiting for another training to finish"
                if ahead == 0
                else f"In the queue: {ahead} training{'s' if ahead > 1 else ''} ahead of yours"
            )
            if self.wait_estimate is not None:
                text += f", about {_duration(self.wait_estimate)} to go"
            return text
        if self.progress is None:
            if "keras" not in sys.modules or "tensorflow" not in sys.modules:
                return "Warming up: loading TensorFlow (only the first training after a start)…"
            return "Preparing the data…"
        return f"Training: {self.progress}"


class TrainingJobs:
    """Process-wide registry: at most one job per training configuration."""

    def __init__(
        self,
        max_pending: int = MAX_PENDING,
        memory_limit_mb: float | None = None,
        memory_mb: Callable[[], float] = rss_mb,
    ) -> None:
        self.max_pending = max_pending
        self.memory_limit_mb = memory_limit_mb
        self._memory_mb = memory_mb
        self._lock = threading.Lock()
        self._running: dict[str, TrainingJob] = {}
        self._failed: OrderedDict[str, TrainingJob] = OrderedDict()

    def submit(self, store: ModelStore, config: Config, priority: int = 0) -> TrainingJob:
        """The running or failed job of ``config``, or a new one, queued behind the others.

        ``priority`` 0 is a visitor's; larger numbers (warming the cache) wait behind every
        visitor. Raises BusyError only when the process is at its memory limit while another
        training is queued or running, or at the safety cap: the caller waits a moment and
        submits again.
        """
        key = config.training_id()
        with self._lock:
            job = self._running.get(key) or self._failed.get(key)
            if job is not None:
                if priority < job.priority:  # a visitor wants what was being warmed
                    job.priority = priority
                    job.store.promote(job.ticket, priority)
                return job
            if len(self._running) >= self.max_pending:
                raise BusyError(
                    f"the server already has {len(self._running)} trainings queued; "
                    "yours is queued as soon as one finishes"
                )
            # With nothing queued or running, a new training is admitted whatever the memory:
            # waiting would free nothing, and every visitor would wait for ever.
            if self.memory_limit_mb is not None and self._running:
                used = self._memory_mb()
                if used > self.memory_limit_mb:
                    raise BusyError(
                        f"the server is at its memory limit ({used:.0f} of "
                        f"{self.memory_limit_mb:.0f} MB); your training is queued as soon as "
                        "memory frees up"
                    )
            job = TrainingJob(store, config, priority)
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


class StepwiseJob(BackgroundJob):
    """The slow methods (those that retrain: backward stepwise elimination) of one trained
    model, run by ``compare_methods(result, config, methods)``: F trainings (one without each
    feature; ``result`` is the one with all features), each reported through ``progress``.
    Jobs sharing ``slot`` (a lock) run one at a time; ``result`` is the Comparison."""

    kind = "stepwise"

    def __init__(
        self, result: TrainResult, config: Config, methods: Sequence[str], slot: threading.Lock
    ) -> None:
        super().__init__(config.training_id())
        self._model, self._config, self._methods = result, config, tuple(methods)
        self._slot = slot
        self.total = config.n_features
        self.index = 0  # which of the F trainings runs (i = without feature i + 1)
        self.waiting = False
        self._last: tuple[int, int] | None = None

    def work(self) -> Any:
        from rnnviz.experiment import compare_methods

        if not self._slot.acquire(blocking=False):
            self.waiting = True
            self._slot.acquire()
        self.waiting = False
        try:
            return compare_methods(
                self._model, self._config, self._methods, progress=self._progress
            )
        finally:
            self._slot.release()

    @property
    def comparison(self) -> Any:
        return self.result

    def _progress(self, p: Progress) -> None:
        at = (p.epoch, p.step)
        if self._last is not None and at <= self._last:  # a new training started
            self.index = min(self.index + 1, self.total - 1)
        self._last = at
        self.progress = p

    @property
    def fraction(self) -> float:
        if self.done.is_set():
            return 1.0
        part = self.progress.fraction if self.progress is not None else 0.0
        return min(1.0, (self.index + part) / self.total)

    def status(self) -> str:
        if self.waiting:
            return "Waiting for another stepwise elimination to finish…"
        text = f"Training {self.index + 1} of {self.total} (without x{self.index + 1})"
        return f"{text}: {self.progress}" if self.progress is not None else f"{text}…"


STEPWISE_KEEP = 8  # finished stepwise jobs remembered per process


class StepwiseJobs:
    """Process-wide registry of stepwise jobs by training id: one at a time (a shared slot),
    the last STEPWISE_KEEP finished ones remembered."""

    def __init__(self, keep: int = STEPWISE_KEEP) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._slot = threading.Lock()
        self._jobs: OrderedDict[str, StepwiseJob] = OrderedDict()

    def get(self, result: TrainResult, config: Config, methods: Sequence[str]) -> StepwiseJob:
        """The job of ``config``'s trained model: running, finished, or started now."""
        key = config.training_id()
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = StepwiseJob(result, config, methods, self._slot)
                job.start()
                finished = [k for k, j in self._jobs.items() if j.done.is_set()]
                for old in finished[: max(0, len(finished) - self.keep)]:
                    del self._jobs[old]
            else:
                self._jobs.move_to_end(key)
            return job

    def jobs(self) -> list[StepwiseJob]:
        """The jobs remembered, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def forget(self, config: Config) -> None:
        """Drop a finished (e.g. failed) job so that the next request runs it again."""
        with self._lock:
            job = self._jobs.get(config.training_id())
            if job is not None and job.done.is_set():
                del self._jobs[config.training_id()]


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def preset_experiments() -> list[Config]:
    """The experiments a visitor opens with one click: every preset rule with the default
    recipe, the example the Compare page leads with, the lessons' experiments, the real series
    (rain and max temperature: about 5 s each, within the hosted bounds), then the thread's
    exact recipe (the slowest, so last). Each once; hosted mode warms exactly these at start."""
    from rnnviz.config import PRESETS, SERIES_PRESETS
    from rnnviz.experiment import DISAGREEMENT_EXAMPLE
    from rnnviz.lessons import lesson_experiments
    from rnnviz.rules import RULE_PRESETS

    configs = [Config(rule=name) for name in RULE_PRESETS]
    configs += [DISAGREEMENT_EXAMPLE, *lesson_experiments()]
    configs += [*(PRESETS[name] for name in SERIES_PRESETS.values()), PRESETS["reference"]]
    return list(dict.fromkeys(configs))


WARM_PRIORITY = 1  # behind every visitor's training


def warm(jobs: TrainingJobs, store: ModelStore, configs: list[Config]) -> list[TrainingJob]:
    """Queue trainings of ``configs`` not yet cached, behind every visitor's training, so the
    preset experiments are trained (and on disk) before a visitor asks for them."""
    return [
        jobs.submit(store, config, priority=WARM_PRIORITY)
        for config in configs
        if not store.has(config)
    ]


def wait_for(job: TrainingJob, report, interval: float = 0.2) -> TrainingJob:
    """Block until ``job`` is done, calling ``report(job)`` when its status or progress (to the
    percent) changed, checked about every ``interval`` seconds, and once at the end.

    A class of waiting visitors each polls its job: redrawing an unchanged progress bar would
    send every one of them a message five times a second, which takes CPU from the trainings.
    """
    shown = None
    while not job.wait(interval):
        now = (round(job.fraction, 2), job.status())
        if now != shown:
            shown = now
            report(job)
    report(job)
    return job


__all__ = [
    "BackgroundJob",
    "BusyError",
    "StepwiseJob",
    "StepwiseJobs",
    "TrainingJob",
    "TrainingJobs",
    "preset_experiments",
    "rss_mb",
    "wait_for",
    "warm",
]
