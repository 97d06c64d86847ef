"""Trainings and other TensorFlow work that outlive a script run, run by ``rnnviz.serve.worker``.

A page that needs a model submits a training and polls it to draw a progress bar. When the user
interacts meanwhile, Streamlit stops the page script but not the job, and the next run attaches
to the same job again, so a training is never restarted by a click. Every session asking for the
same configuration watches the same job. Failed trainings are remembered (so every session sees
the error) until someone retries. The app keeps one registry per process
(``rnnviz.ui.cache.training_jobs()``).

Visitors are queued, never sent away for a fixed count: a queued job is a config in the server
(well under 1 MB) and the worker's memory is bounded by its own budget, so the queue is bounded
only by a generous safety cap. A waiting job knows its position (from the moment it is
submitted) and an estimate of its wait from the trainings the worker has timed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from rnnviz.config import Config
from rnnviz.serve.store import ModelStore
from rnnviz.serve.warm import missing, preset_experiments
from rnnviz.serve.worker import BACKGROUND, TRAINING, BusyError, Job, Worker
from rnnviz.training.result import TrainResult

MAX_FAILED = 100  # failed trainings remembered
WARM_PRIORITY = BACKGROUND  # behind every visitor's job


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def queue_status(job: Job, what: str = "training") -> str | None:
    """ "In the queue: N trainings ahead of yours, about 20 s to go" while ``job`` waits."""
    position = job.queue_position
    if position is None:
        return None
    ahead = position - 1
    text = (
        f"Waiting for another {what} to finish"
        if ahead == 0
        else f"In the queue: {ahead} job{'s' if ahead > 1 else ''} ahead of yours"
    )
    estimate = job.wait_estimate
    if estimate is not None:
        text += f", about {_duration(estimate)} to go"
    return text


def training_status(job: Job) -> str:
    """What a waiting visitor reads under a training's progress bar."""
    waiting = queue_status(job)
    if waiting is not None:
        return waiting
    if job.progress is None:
        return "Preparing the data…" if job.running else "Starting…"
    return f"Training: {job.progress}"


class TrainingJobs:
    """Process-wide registry: at most one job per training configuration, on one worker."""

    def __init__(self, worker: Worker, max_failed: int = MAX_FAILED) -> None:
        self.worker = worker
        self.max_failed = max_failed
        self._failed: OrderedDict[str, Job] = OrderedDict()

    def submit(self, store: ModelStore, config: Config, priority: int = TRAINING) -> Job:
        """The running or failed job of ``config``, or a new one, queued behind the others.

        ``priority`` TRAINING is a visitor's (behind visitors' quick jobs); ``WARM_PRIORITY``
        (warming the cache: the model and everything its pages read) waits behind every
        visitor and gives way to one. A visitor asking for a model being warmed moves it ahead.
        Raises BusyError at the safety cap.
        """
        key = config.training_id()
        failed = self._failed.get(key)
        if failed is not None:
            return failed
        if store.folder is None:
            raise RuntimeError("the worker needs a cache folder to hand models back through")

        def finish(trained: int) -> TrainResult:
            store.trainings += trained  # the app's "did anything (re)train?" counter
            result = store.get(config)
            if result is None:
                raise RuntimeError("the trained model could not be read back from the cache")
            return result

        job = self.worker.submit(
            "train",
            key,
            (str(store.folder), config, priority >= WARM_PRIORITY),
            priority=priority,
            preemptible=priority >= WARM_PRIORITY,
            finish=finish,
            describe=training_status,
        )
        job.add_done_callback(self._remember_failure)
        return job

    def _remember_failure(self, job: Job) -> None:
        if job.error is not None and job.kind == "train":
            self._failed[job.key] = job
            while len(self._failed) > self.max_failed:
                self._failed.popitem(last=False)

    def failed(self, config: Config) -> Job | None:
        return self._failed.get(config.training_id())

    def forget(self, config: Config) -> None:
        """Drop a failed job so that the next submit retries the training."""
        self._failed.pop(config.training_id(), None)


def stepwise_status(job: Job, total: int) -> str:
    """ "Training 2 of 3 (without x2): epoch 1/3…" for a stepwise job of ``total`` trainings."""
    waiting = queue_status(job, "job")
    if waiting is not None:
        return waiting
    index = stepwise_index(job, total)
    text = f"Training {index + 1} of {total} (without x{index + 1})"
    return f"{text}: {job.progress}" if job.progress is not None else f"{text}…"


STEPWISE_KEEP = 8  # finished stepwise jobs remembered per process


class StepwiseJobs:
    """Process-wide registry of stepwise jobs (the slow methods: they retrain a model without
    each feature) by training id, the last STEPWISE_KEEP finished ones remembered so that a
    page polling its job finds the result."""

    def __init__(self, worker: Worker, keep: int = STEPWISE_KEEP) -> None:
        self.worker = worker
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def get(self, folder: str, config: Config, methods: Sequence[str]) -> Job:
        """The job of ``config``'s trained model: running, finished, or started now."""
        key = config.training_id()
        job = self._jobs.get(key)
        if job is None:
            total = config.n_features
            job = self.worker.submit(
                "compare",
                f"stepwise-{key}",
                (folder, config, tuple(methods), None),
                priority=TRAINING,  # it trains F models: behind visitors' quick jobs
                describe=lambda j: stepwise_status(j, total),
            )
            self._jobs[key] = job
            finished = [k for k, j in self._jobs.items() if j.done.is_set()]
            for old in finished[: max(0, len(finished) - self.keep)]:
                del self._jobs[old]
        else:
            self._jobs.move_to_end(key)
        return job

    def jobs(self) -> list[Job]:
        """The jobs remembered, oldest first."""
        return list(self._jobs.values())

    def forget(self, config: Config) -> None:
        """Drop a finished (e.g. failed) job so that the next request runs it again."""
        job = self._jobs.get(config.training_id())
        if job is not None and job.done.is_set():
            del self._jobs[config.training_id()]


def stepwise_fraction(job: Job, total: int) -> float:
    """How far a stepwise job of ``total`` trainings is (0..1)."""
    if job.done.is_set():
        return 1.0
    part = job.progress.fraction if job.progress is not None else 0.0
    return min(1.0, (stepwise_index(job, total) + part) / total)


def stepwise_index(job: Job, total: int) -> int:
    """Which of the ``total`` trainings of a stepwise job runs (0: the one without x1)."""
    return min(job.run, total - 1)


def warm(jobs: TrainingJobs, store: ModelStore, configs: Sequence[Config]) -> list[Job]:
    """Queue the configs not yet fully kept in the cache (model, scores, interactions, a
    series' forecast), behind every visitor's job, so the preset experiments are ready (and on
    disk) before a visitor asks for them."""
    if store.folder is None:
        return []
    return [jobs.submit(store, c, priority=WARM_PRIORITY) for c in missing(store.folder, configs)]


def wait_for(job: Job, report: Callable[[Job], None], interval: float = 0.2) -> Job:
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
    "BusyError",
    "StepwiseJobs",
    "TrainingJobs",
    "preset_experiments",
    "queue_status",
    "stepwise_status",
    "training_status",
    "wait_for",
    "warm",
]
