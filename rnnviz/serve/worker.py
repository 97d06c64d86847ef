"""The worker: TensorFlow's work in processes of its own, never in the web server.

Every training, scoring, comparison, upload check and warming is a :class:`Job` that a
:class:`Worker` runs in one of its ``slots``, each a one-process
``concurrent.futures.ProcessPoolExecutor``. The processes are forked from a ``forkserver`` that
imported ``rnnviz.serve.tasks`` (and so TensorFlow) once, so a fresh process costs a fork, not a
3-second import. Why processes: each architecture a process traces keeps 40-130 MB of
TensorFlow's state for good; a web server that trained what a class of visitors chose grew
past 1.7 GB. Here memory is bounded by construction: after each job, a process whose own
memory passed ``budget_mb`` is retired and the next job gets a fresh one.

Jobs wait in one queue by priority, then in order of submission: a visitor's short jobs
(:data:`QUICK`: a scoring, interactions, a comparison; seconds) before visitors' trainings
(:data:`TRAINING`), so a student whose model is trained gets its charts before the class's next
trainings, then warming (:data:`BACKGROUND`). A job's queue position is read from that queue,
so it is known the moment it is submitted. A warming job gives its slot up as soon as a visitor
waits (it stops at its next progress report and is queued again; trainings are reproducible, so
it makes the same model later). Progress reaches the server through one ``multiprocessing``
queue that a thread of the server drains. A process that dies mid-job (killed, out of memory)
fails that job with :class:`WorkerDied` and its slot gets a fresh process; what it was writing
never enters the store (``rnnviz.serve.store`` writes atomically).
"""

from __future__ import annotations

import importlib
import itertools
import logging
import multiprocessing as mp
import os
import select
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from rnnviz.serve.hosting import WORKER_BUDGET_MB, release_free_memory

log = logging.getLogger(__name__)

# Imported once in the forkserver: TensorFlow, Keras, the tasks, then the collector frozen.
PRELOAD = ["rnnviz.serve.tasks", "rnnviz.serve.worker_preload"]
MAX_PENDING = 400  # safety cap on jobs queued or running at once, over all sessions


QUICK, TRAINING, BACKGROUND = 0, 1, 2  # priorities: lower goes first


class BusyError(RuntimeError):
    """No job can be queued now (the safety cap): the caller waits a moment and submits again."""


class WorkerDied(RuntimeError):
    """The worker process running a job stopped before it finished (killed, out of memory)."""


class TaskError(RuntimeError):
    """A job's function raised: its type's name and message, without the worker's traceback."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class TaskValueError(TaskError, ValueError):
    """A job's function raised a ValueError (a config, rule, data or upload error): fixable."""


class _Preempted(Exception):
    """A warming job gives way to a visitor (raised from its progress report)."""


# ----------------------------------------------------------------------- in the worker process

_events: Any = None  # multiprocessing queue to the server: (job id, progress)
_cancel: Any = None  # multiprocessing event: this slot's job should give way


def _init(events, cancel, server: int) -> None:
    global _events, _cancel
    _events, _cancel = events, cancel
    threading.Thread(target=_exit_with, args=(server,), name="rnnviz-watch", daemon=True).start()


def _exit_with(server: int) -> None:
    """End this worker process when the server (pid ``server``) is gone, however it ended.

    A worker would otherwise outlive a killed server for ever: it waits on its job queue, and
    it holds the forkserver's "alive" pipe open (multiprocessing passes it to every child), so
    the forkserver never sees its server end either.
    """
    try:
        with os.fdopen(os.pidfd_open(server), "rb", buffering=0) as pidfd:
            select.select([pidfd], [], [])  # readable once the process has ended
    except (AttributeError, OSError):  # no pidfd here (an old kernel, not Linux): poll
        while _alive(server):
            time.sleep(1.0)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def own_memory_mb(pid: int | str = "self") -> float:
    """A process's own memory in MB: its private pages (``Private_Clean + Private_Dirty`` of
    ``/proc/PID/smaps_rollup``), what it does not share with the forkserver it was forked
    from; its RSS where that file is missing; 0 where neither can be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            kb = sum(int(line.split()[1]) for line in f if line.startswith(b"Private_"))
        return kb / 1024
    except (OSError, ValueError, IndexError):
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return 0.0


def _task(kind: str) -> Callable[..., Any]:
    """A name of ``rnnviz.serve.tasks.TASKS``, or ``"module:function"`` (kinds come from the
    server's
    code, never from a visitor)."""
    if ":" in kind:
        module, name = kind.split(":", 1)
        return getattr(importlib.import_module(module), name)
    from rnnviz.serve.tasks import TASKS  # imported in the forkserver already: no cost

    return TASKS[kind]


def _task_ready() -> bool:
    """A job that does nothing: the process is up and ``rnnviz.serve.tasks`` imported."""
    return True


def _call(job_id: int, kind: str, args: tuple, preemptible: bool) -> tuple[str, Any, float]:
    """Run ``rnnviz.serve.tasks.TASKS[kind](*args)`` here: ("done", value, memory), ("preempted",
    None, memory) or ("error", (type name, message, is a ValueError), memory)."""
    shown: list[Any] = [None]
    seen: list[Any] = [None, 0]  # the last (epoch, step), and how many trainings restarted

    def report(progress) -> None:
        if preemptible and _cancel is not None and _cancel.is_set():
            raise _Preempted
        at = (progress.epoch, progress.step)
        if seen[0] is not None and at <= seen[0]:  # a new training (stepwise: one a feature)
            seen[1] += 1
        seen[0] = at
        snap = getattr(progress, "snapshot", None)
        now = (round(progress.fraction, 2), getattr(snap, "step", None), seen[1])
        if now != shown[0] and _events is not None:
            shown[0] = now
            _events.put((job_id, progress, seen[1]))

    try:
        value = _task(kind)(*args, progress=report)
    except _Preempted:
        release_free_memory()
        return "preempted", None, own_memory_mb()
    except Exception as exc:  # sent back as text: a worker's objects may not unpickle
        message = str(exc) or type(exc).__name__
        release_free_memory()
        return "error", (type(exc).__name__, message, isinstance(exc, ValueError)), own_memory_mb()
    release_free_memory()  # what the job freed goes back to the system before it is counted
    return "done", value, own_memory_mb()


# --------------------------------------------------------------------------- in the server


@dataclass(eq=False)
class Job:
    """One piece of work, watched by every session that asked for it.

    ``result`` is set when it is done (after ``finish``, run in the server on the worker's
    value), ``error`` when it failed; ``progress`` is the newest progress report.
    """

    kind: str
    key: str
    args: tuple
    priority: int = 0
    preemptible: bool = False
    finish: Callable[[Any], Any] | None = None
    id: int = 0
    arrival: int = 0
    progress: Any = None
    run: int = 0  # trainings the job started before the current one (stepwise: F in all)
    result: Any = None
    error: BaseException | None = None
    running: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    worker: Worker | None = field(default=None, repr=False)
    describe: Callable[[Job], str] | None = field(default=None, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _callbacks: list[Callable[[Job], None]] = field(default_factory=list, repr=False)
    _callbacks_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def status(self) -> str:
        """One line for a waiting visitor (``describe`` says it; a plain one otherwise)."""
        if self.describe is not None:
            return self.describe(self)
        position = self.queue_position
        if position is not None:
            return f"Queued: {position - 1} job(s) ahead"
        return "Working…" if self.running else "Done"

    def add_done_callback(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once this job is done (now, if it already is)."""
        with self._callbacks_lock:
            if not self.done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _set_done(self) -> None:
        with self._callbacks_lock:
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        self.notify()
        for callback in callbacks:
            try:
                callback(self)
            except Exception:  # a watcher's failure is not the job's
                log.exception("a done callback of a %s job failed", self.kind)

    @property
    def queue_position(self) -> int | None:
        """1 for the next job to start, 2 behind it…; None once started (or done)."""
        return None if self.worker is None else self.worker.position(self)

    @property
    def wait_estimate(self) -> float | None:
        """Seconds until this job starts, from the recent jobs' durations; None if unknown."""
        position = self.queue_position
        return None if position is None else self.worker.estimate_wait(position)

    @property
    def fraction(self) -> float:
        if self.done.is_set():
            return 1.0
        return self.progress.fraction if self.progress is not None else 0.0

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Block until ``condition()`` holds (checked whenever this job's progress, place in
        the queue or state changes) or ``timeout`` seconds pass; whether it holds."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def get(self, timeout: float | None = None) -> Any:
        """The result, waiting for it; raises the job's error."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"the {self.kind} job did not finish within {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result

    def notify(self) -> None:
        with self._changed:
            self._changed.notify_all()


class _Slot:
    """One worker process (a one-process executor) and its give-way flag."""

    def __init__(self, cancel) -> None:
        self.cancel = cancel
        self.executor: ProcessPoolExecutor | None = None
        self.job: Job | None = None


def default_context():
    """The forkserver context with :data:`PRELOAD` (spawn where there is no forkserver)."""
    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # Windows
        return mp.get_context("spawn")
    # TensorFlow's thread pools would each get a malloc arena of their own that keeps what it
    # freed; the forkserver (a new process) reads this at start and its workers inherit it.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class Worker:
    """Runs jobs in ``slots`` worker processes, in priority then submission order.

    ``budget_mb``: a process whose own memory (:func:`own_memory_mb`) passed it after a job is
    replaced by a fresh one (None: never for memory). ``context`` is a ``multiprocessing``
    context (default :func:`default_context`).
    """

    def __init__(
        self,
        slots: int = 1,
        budget_mb: float | None = WORKER_BUDGET_MB,
        context: Any = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        if slots < 1:
            raise ValueError("a worker needs at least one slot")
        self.budget_mb = budget_mb
        self.max_pending = max_pending
        self._ctx = context or default_context()
        self._events = self._ctx.Queue()
        self._slots = [_Slot(self._ctx.Event()) for _ in range(slots)]
        self._lock = threading.Lock()
        self._pending: list[Job] = []  # sorted by (priority, arrival)
        self._jobs: dict[tuple[str, str], Job] = {}  # pending or running, by (kind, key)
        self._by_id: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._durations: dict[str, deque[float]] = {}
        self._started: dict[int, float] = {}
        self.processes_started = 0  # fresh worker processes (a recycle or a death starts one)
        self.recycled = 0  # processes retired for memory
        self.died = 0  # processes that stopped mid-job
        self.completed: Counter[str] = Counter()  # jobs done, by kind
        self._closed = False
        self._wake = threading.Condition(self._lock)
        threading.Thread(target=self._drain, name="rnnviz-worker-events", daemon=True).start()
        threading.Thread(target=self._dispatcher, name="rnnviz-worker-jobs", daemon=True).start()

    # -- submitting -------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        key: str,
        args: tuple,
        priority: int = 0,
        preemptible: bool = False,
        finish: Callable[[Any], Any] | None = None,
        describe: Callable[[Job], str] | None = None,
    ) -> Job:
        """The pending or running job of (``kind``, ``key``), or a new one queued now.

        A more urgent request for a queued job (a visitor asking for what is being warmed)
        moves it ahead. A ``preemptible`` job gives its process up when a more urgent one
        waits. Raises BusyError at the safety cap.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker is closed")
            job = self._jobs.get((kind, key))
            if job is not None:
                if priority < job.priority:
                    job.priority = priority
                    job.preemptible = preemptible  # as the more urgent request asks
                    self._pending.sort(key=_order)
                    watchers = list(self._jobs.values())
                else:
                    return job
            else:
                if len(self._jobs) >= self.max_pending:
                    raise BusyError(
                        f"the server already has {len(self._jobs)} jobs queued; yours is queued "
                        "as soon as one finishes"
                    )
                job = Job(kind, key, args, priority, preemptible, finish, worker=self)
                job.describe = describe
                job.id = job.arrival = next(self._ids)
                self._jobs[(kind, key)] = self._by_id[job.id] = job
                self._pending.append(job)
                self._pending.sort(key=_order)
                watchers = list(self._jobs.values())
            self._dispatch()
        _notify(watchers)  # outside the lock: a watcher's condition may read positions
        return job

    def run(self, kind: str, key: str, args: tuple, timeout: float | None = None) -> Any:
        """Submit a visitor's quick job and wait for its result (raises its error)."""
        return self.submit(kind, key, args, priority=QUICK).get(timeout)

    def position(self, job: Job) -> int | None:
        with self._lock:
            try:
                return self._pending.index(job) + 1
            except ValueError:
                return None

    def estimate_wait(self, position: int, kind: str = "train") -> float | None:
        """Seconds until a job at queue ``position`` starts, from the median of recent jobs of
        ``kind``; None before any was timed."""
        durations = sorted(self._durations.get(kind, ()))
        if not durations:
            return None
        median = durations[len(durations) // 2]
        running = sum(s.job is not None for s in self._slots)
        return median * (position - 1 + 0.5 * min(running, 1)) / len(self._slots)

    # -- running ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Wake the dispatcher (a new job, or a slot freed); ask a warming job to give way
        when a visitor waits. Holds the lock."""
        self._wake.notify_all()
        if self._pending:
            first = self._pending[0].priority
            for slot in self._slots:
                if slot.job is not None and slot.job.preemptible and slot.job.priority > first:
                    slot.cancel.set()
                    break

    def _dispatcher(self) -> None:
        """Start queued jobs on free slots, in queue order. Starting a process can block (the
        forkserver's first start imports TensorFlow, seconds): it happens here, never in a
        page's script run and never holding the lock."""
        while True:
            with self._lock:
                while not self._closed and not (
                    self._pending and any(s.job is None for s in self._slots)
                ):
                    self._wake.wait()
                if self._closed:
                    return
                slot = next(s for s in self._slots if s.job is None)
                job = self._pending.pop(0)
                slot.job, job.running = job, True
                slot.cancel.clear()
                self._started[job.id] = time.perf_counter()
                watchers = list(self._jobs.values())
            _notify(watchers)
            self._start(slot, job)

    def start_processes(self, after: float = 0.0) -> None:
        """Start a worker process in every slot (the forkserver's import included) in the
        background, ``after`` seconds from now, so that a later job does not wait for it. The
        delay leaves the CPU to the pages of a server that just started (the import takes
        seconds of CPU); a job submitted meanwhile starts its process at once anyway."""

        def start() -> None:
            time.sleep(after)
            for slot in self._slots:
                with self._lock:
                    if self._closed or slot.executor is not None or slot.job is not None:
                        continue
                    slot.executor = self._executor(slot)
                slot.executor.submit(_task_ready).result()

        threading.Thread(target=start, name="rnnviz-worker-start", daemon=True).start()

    def _executor(self, slot: _Slot) -> ProcessPoolExecutor:
        self.processes_started += 1
        return ProcessPoolExecutor(
            1,
            mp_context=self._ctx,
            initializer=_init,
            initargs=(self._events, slot.cancel, os.getpid()),
        )

    def _start(self, slot: _Slot, job: Job) -> None:
        try:
            with self._lock:
                if slot.executor is None:
                    slot.executor = self._executor(slot)
                executor = slot.executor
            future = executor.submit(_call, job.id, job.kind, job.args, job.preemptible)
        except (BrokenProcessPool, RuntimeError) as exc:  # a process that died while idle
            future = Future()
            future.set_exception(BrokenProcessPool(str(exc)))
        future.add_done_callback(lambda f, slot=slot, job=job: self._finished(slot, job, f))

    def _finished(self, slot: _Slot, job: Job, future: Future) -> None:
        requeue = False
        with self._lock:
            slot.job, job.running = None, False
            seconds = time.perf_counter() - self._started.pop(job.id, time.perf_counter())
            try:
                status, value, memory = future.result()
            except BrokenProcessPool:
                self.died += 1
                self._retire(slot)
                status, value, memory = "died", None, 0.0
            except BaseException as exc:  # e.g. a value that could not be pickled
                status, value, memory = "error", (type(exc).__name__, str(exc), False), 0.0
            if self.budget_mb is not None and memory > self.budget_mb:
                self.recycled += 1
                self._retire(slot)
            if status == "preempted":
                requeue = True
                self._pending.append(job)
                self._pending.sort(key=_order)
            elif status == "done":
                self._durations.setdefault(job.kind, deque(maxlen=20)).append(seconds)
                self.completed[job.kind] += 1
            if not requeue:
                del self._jobs[(job.kind, job.key)]
                del self._by_id[job.id]
            self._dispatch()
            watchers = list(self._jobs.values())
        _notify(watchers)
        if requeue:
            return
        if status == "done":
            try:
                job.result = job.finish(value) if job.finish is not None else value
            except Exception as exc:
                job.error = exc
        elif status == "died":
            job.error = WorkerDied(
                "the worker process stopped before this finished (it was killed or ran out of "
                "memory); a fresh one takes the next job: try again"
            )
        else:
            name, message, fixable = value
            job.error = (TaskValueError if fixable else TaskError)(name, message)
        job._set_done()

    def _retire(self, slot: _Slot) -> None:
        if slot.executor is not None:
            slot.executor.shutdown(wait=False, cancel_futures=True)
            slot.executor = None

    def _drain(self) -> None:
        while True:
            try:
                item = self._events.get()
            except (EOFError, OSError, ValueError):  # the queue was closed
                return
            if item is None:
                return
            job_id, progress, run = item
            job = self._by_id.get(job_id)
            if job is not None and not job.done.is_set():
                job.progress, job.run = progress, run
                job.notify()

    # -- processes --------------------------------------------------------------------------
    def pids(self) -> list[int]:
        """The worker processes alive now (not the forkserver)."""
        pids = []
        for slot in self._slots:
            processes = getattr(slot.executor, "_processes", None) or {}
            pids += [p.pid for p in list(processes.values()) if p.is_alive()]
        return pids

    def close(self) -> None:
        """Stop every worker process (queued jobs are dropped)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            for slot in self._slots:
                self._retire(slot)
        self._events.put(None)


def _notify(jobs: list[Job]) -> None:
    for job in jobs:
        job.notify()


def _order(job: Job) -> tuple[int, int]:
    return job.priority, job.arrival


__all__ = [
    "BACKGROUND",
    "QUICK",
    "TRAINING",
    "BusyError",
    "Job",
    "TaskError",
    "TaskValueError",
    "Worker",
    "WorkerDied",
    "default_context",
    "own_memory_mb",
]
