"""Memory and CPU of a process tree as the container sees it (Linux /proc), for the benchmarks.

A server that forks workers (a ``multiprocessing`` forkserver and its children, a warming
process) shares most of its pages with them: summing RSS over the tree counts each shared page
once per process. PSS (``Pss:`` in ``/proc/PID/smaps_rollup``) splits each shared page between
the processes that map it, so the sum over the tree is what the tree really holds.

The tree is found afresh at every sample from every process's parent id (``/proc/*/stat``), so
grandchildren count too, and processes that start or end between samples are caught at the
next one. Only the processes of the user running the benchmark can be read; others count 0.

On a shared machine, file-backed pages (TensorFlow's libraries: a few hundred MB) are also
split with other users' processes that map the same files, so the tree's PSS reads lower than
it would in a container of its own. Anonymous pages are shared only within the tree (by fork),
so their PSS is exact; ``Sample.alone`` adds the largest file-backed RSS of one process of the
tree to that: an estimate of the tree's PSS had it been alone (its processes map the same
libraries).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

MB = 1024.0  # the kB that /proc writes per MB
MAX_PROCESSES = 2000  # a tree larger than this is cut: the sampler stays cheap
ROLES = ("server", "forkserver", "worker", "tracker", "other")  # see role_of


class Usage(NamedTuple):
    """One process's memory (MB), from ``/proc/PID/smaps_rollup``."""

    pss: float = 0.0
    rss: float = 0.0
    pss_anon: float = 0.0  # Pss_Anon + Pss_Shmem: shared only with the process's own relatives
    file_rss: float = 0.0  # Rss - Anonymous: mapped files (libraries), resident
    private: float = 0.0  # Private_Clean + Private_Dirty: pages no other process maps


class Proc(NamedTuple):
    """One process of the tree at one sample: its role and memory (MB)."""

    pid: int
    role: str  # server, forkserver, worker, tracker (multiprocessing's), other
    usage: Usage


@dataclass(frozen=True)
class Sample:
    """One look at the tree: seconds since the sampler started, then MB."""

    t: float
    tree_pss: float
    server_pss: float
    tree_rss: float
    server_rss: float
    processes: int
    tree_pss_anon: float = 0.0
    file_rss_max: float = 0.0  # the largest file-backed RSS of one process of the tree
    procs: tuple[Proc, ...] = ()  # every process of the tree, the server first

    def role_sum(self, role: str, what: str = "pss") -> float:
        """The sum of one Usage field (MB) over the processes of one role."""
        return sum(getattr(p.usage, what) for p in self.procs if p.role == role)

    @property
    def alone(self) -> float:
        """Estimated tree PSS had no process outside the tree mapped the same files."""
        return self.tree_pss_anon + self.file_rss_max


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren and so on, alive now (from each process's parent id)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo and len(out) < MAX_PROCESSES:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def memory_mb(pid: int) -> Usage:
    """One process's memory in MB; all 0 if it is gone or unreadable."""
    kb: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in (
                "Pss", "Rss", "Pss_Anon", "Pss_Shmem", "Anonymous", "Private_Clean",
                "Private_Dirty",
            ):  # fmt: skip
                kb[name] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return Usage()
    return Usage(
        pss=kb.get("Pss", 0) / MB,
        rss=kb.get("Rss", 0) / MB,
        pss_anon=(kb.get("Pss_Anon", 0) + kb.get("Pss_Shmem", 0)) / MB,
        file_rss=max(0, kb.get("Rss", 0) - kb.get("Anonymous", 0)) / MB,
        private=(kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)) / MB,
    )


def role_of(pid: int, server: int) -> str:
    """What one process of a server's tree is, from its command line and its parent's: the
    server itself, multiprocessing's forkserver, a worker (a child of the forkserver, whose
    command line it inherits, or a multiprocessing child of the server), multiprocessing's
    resource tracker, or other."""
    if pid == server:
        return "server"
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return "other"
    cmd = command_line(pid)
    if ppid != server and "multiprocessing.forkserver" in command_line(ppid):
        return "worker"
    if "multiprocessing.forkserver" in cmd:
        return "forkserver"
    if "multiprocessing.resource_tracker" in cmd:
        return "tracker"
    if "multiprocessing" in cmd:
        return "worker"
    return "other"


def cpu_seconds(pid: int, reaped: bool = True) -> float:
    """User + system CPU seconds of one process (and of its children it has waited for, when
    ``reaped``: a worker that ended keeps counting in its parent); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant, each with its reaped children. A
    process that ended counts once its parent has waited for it (Python's process tools do)."""
    return sum(cpu_seconds(p) for p in [pid, *descendants(pid)])


def started(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): with the pid, names one process even
    after the pid is reused. None if it is gone (or a zombie, waiting to be reaped)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] == "Z" else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def end_leftovers(seen: dict[int, int], wait: float = 5.0) -> list[str]:
    """End the processes of ``seen`` (pid -> start time) that still run: a benchmark's server
    is stopped, and what it started must not outlive it (an orphan would take the next run's
    CPU). SIGTERM, then SIGKILL after ``wait`` seconds; returns their command lines."""
    alive = {pid: command_line(pid) for pid, t in seen.items() if started(pid) == t}
    for pid in alive:
        with suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(started(p) == seen[p] for p in alive):
        time.sleep(0.1)
    for pid in alive:
        if started(pid) == seen[pid]:
            with suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)
    return [f"{pid}: {cmd[:160]}" for pid, cmd in alive.items()]


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one live process in MB; NaN if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / MB
    except OSError:
        pass
    return float("nan")


def look(
    pid: int,
    t: float = 0.0,
    seen: dict[int, int] | None = None,
    roles: dict[tuple[int, int | None], str] | None = None,
) -> Sample:
    """The tree's memory now: the sum over ``pid`` and its descendants, ``pid`` alone, and
    every process on its own (``Sample.procs``). ``seen`` (if given) collects the descendants
    (pid -> start time); ``roles`` (if given) caches each process's role by (pid, start)."""
    server = memory_mb(pid)
    pids = descendants(pid)
    roles = {} if roles is None else roles
    procs = [Proc(pid, "server", server)]
    for p in pids:
        t0 = started(p)
        if seen is not None and t0 is not None:
            seen.setdefault(p, t0)
        role = roles.get((p, t0))
        if role is None:
            role = roles[(p, t0)] = role_of(p, pid)
        procs.append(Proc(p, role, memory_mb(p)))
    others = [p.usage for p in procs[1:]]
    every = [server, *others]
    return Sample(
        t,
        tree_pss=sum(u.pss for u in every),
        server_pss=server.pss,
        tree_rss=sum(u.rss for u in every),
        server_rss=server.rss,
        processes=1 + len(others),
        tree_pss_anon=sum(u.pss_anon for u in every),
        file_rss_max=max(u.file_rss for u in every),
        procs=tuple(procs),
    )


@dataclass
class TreeSampler:
    """Samples ``pid``'s tree every ``every`` seconds in a thread of its own (so a busy event
    loop or a blocking wait does not delay it) from ``start()`` until ``stop()``."""

    pid: int
    every: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    seen: dict[int, int] = field(default_factory=dict)  # every descendant seen: pid -> start
    roles: dict[tuple[int, int | None], str] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _t0: float = 0.0

    def start(self) -> TreeSampler:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            begin = time.monotonic()
            self.now()
            self._stop.wait(max(0.0, self.every - (time.monotonic() - begin)))

    def now(self) -> Sample:
        """Sample at once (kept with the others) and return it."""
        sample = look(self.pid, time.monotonic() - self._t0, self.seen, self.roles)
        if sample.server_pss:  # the server is alive
            self.samples.append(sample)
        return sample

    def stop(self) -> Sample | None:
        """Stop sampling after one last sample (None if the server is gone)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        last = look(self.pid, time.monotonic() - self._t0, self.seen, self.roles)
        if last.server_pss:
            self.samples.append(last)
            return last
        return None

    def peak(self, what: str) -> float:
        """The largest sampled value of a Sample field or property (e.g. "tree_pss", "alone");
        NaN if none."""
        return max((getattr(s, what) for s in self.samples), default=float("nan"))

    def longest_gap(self) -> float:
        """The longest time between two samples (seconds): the sampling's real resolution."""
        times = [s.t for s in self.samples]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)

    def over(self, limit_mb: float, what: str = "tree_pss") -> int:
        """How many samples had ``what`` (the tree's PSS) at or above ``limit_mb``."""
        return sum(getattr(s, what) >= limit_mb for s in self.samples)

    def peak_sample(self, what: str = "tree_pss") -> Sample | None:
        """The sample with the largest ``what`` (None if there is none)."""
        return max(self.samples, key=lambda s: getattr(s, what), default=None)

    def write_csv(self, path: Path) -> Path:
        """Every sample to ``path`` (one row a sample: the tree's sums and each role's PSS and
        private memory), and every process of every sample to ``<path stem>.procs.csv`` (one
        row a process a sample); returns the second file's path."""
        lines = [
            "t_s,tree_pss_mb,server_pss_mb,tree_rss_mb,server_rss_mb,processes,"
            "tree_pss_anon_mb,file_rss_max_mb,alone_estimate_mb,"
            + ",".join(f"{r}_pss_mb,{r}_private_mb" for r in ROLES[1:])
        ]
        lines += [
            f"{s.t:.2f},{s.tree_pss:.1f},{s.server_pss:.1f},{s.tree_rss:.1f},{s.server_rss:.1f},"
            f"{s.processes},{s.tree_pss_anon:.1f},{s.file_rss_max:.1f},{s.alone:.1f},"
            + ",".join(f"{s.role_sum(r):.1f},{s.role_sum(r, 'private'):.1f}" for r in ROLES[1:])
            for s in self.samples
        ]
        path.write_text("\n".join(lines) + "\n")
        procs = path.with_name(path.stem + ".procs.csv")
        rows = ["t_s,pid,role,rss_mb,pss_mb,private_mb,pss_anon_mb,file_rss_mb"]
        rows += [
            f"{s.t:.2f},{p.pid},{p.role},{p.usage.rss:.1f},{p.usage.pss:.1f},"
            f"{p.usage.private:.1f},{p.usage.pss_anon:.1f},{p.usage.file_rss:.1f}"
            for s in self.samples
            for p in s.procs
        ]
        procs.write_text("\n".join(rows) + "\n")
        return procs


def breakdown(sample: Sample) -> list[str]:
    """One line per process of ``sample``: role, pid, PSS, private, RSS (MB)."""
    order = {r: i for i, r in enumerate(ROLES)}
    return [
        f"{p.role:10} pid {p.pid:>7}: PSS {p.usage.pss:6.0f}  private {p.usage.private:6.0f}  "
        f"RSS {p.usage.rss:6.0f}  (anonymous PSS {p.usage.pss_anon:5.0f}, files resident "
        f"{p.usage.file_rss:5.0f})"
        for p in sorted(sample.procs, key=lambda p: (order.get(p.role, 9), p.pid))
    ]
