"""The benchmarks' process-tree figures (``benchmarks/proctree.py``) on trees whose answer is
known: a process holding 64 MB that forks a child and a grandchild sharing those pages (PSS sums
to the 64 MB once, RSS counts them three times), a process that waits for a child that burned
CPU (its time counts in the parent's), and orphans left by a stopped tree (ended, while a process
whose pid was reused is not)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import pytest

from apptools import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import proctree  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads Linux /proc")

SHARED_MB = 64

# Allocate and touch SHARED_MB, fork a child that forks a grandchild (none writes the pages,
# so all three share them), print the three pids, then wait to be killed.
SHARING = f"""
import os, sys, time
block = bytearray(b"\\x01") * ({SHARED_MB} << 20)
child = os.fork()
if child == 0:
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(60)
        os._exit(0)
    print(os.getppid(), os.getpid(), grandchild, flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""

# A child burns about 0.6 s of CPU and ends; the parent waits for it, then says so and sleeps.
BURNING = """
import os, sys, time
child = os.fork()
if child == 0:
    end = time.process_time() + 0.6
    while time.process_time() < end:
        pass
    os._exit(0)
os.waitpid(child, 0)
print("reaped", flush=True)
time.sleep(60)
"""


def _start(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):  # the session holds only this test's processes
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_pss_counts_shared_pages_once_over_children_and_grandchildren():
    proc = _start(SHARING)
    try:
        parent, child, grandchild = map(int, proc.stdout.readline().split())
        assert parent == proc.pid
        assert sorted(proctree.descendants(proc.pid)) == sorted([child, grandchild])
        sample = proctree.look(proc.pid)
        assert sample.processes == 3
        # RSS counts the shared block once per process; PSS splits it between them.
        assert sample.tree_rss >= 3 * SHARED_MB
        assert SHARED_MB <= sample.tree_pss < SHARED_MB + 40  # + three small interpreters
        # the block is anonymous memory shared within the tree only: its PSS is exact
        assert SHARED_MB <= sample.tree_pss_anon < SHARED_MB + 20
        assert sample.tree_pss_anon < sample.alone < sample.tree_pss_anon + 40
        parent_alone = proctree.memory_mb(proc.pid)
        assert SHARED_MB / 3 <= parent_alone.pss < SHARED_MB / 3 + 20
        assert parent_alone.rss >= SHARED_MB
        # the sampler sees the same tree, every half second
        sampler = proctree.TreeSampler(proc.pid, every=0.1).start()
        time.sleep(0.5)
        sampler.stop()
        assert len(sampler.samples) >= 3
        assert sampler.peak("tree_pss") >= SHARED_MB
        assert sampler.over(SHARED_MB / 2) == len(sampler.samples)
        assert sampler.over(10 * SHARED_MB) == 0
    finally:
        _stop(proc)
    assert proctree.memory_mb(proc.pid) == proctree.Usage()  # gone: counts nothing


def test_cpu_of_a_child_that_ended_counts_in_its_parent():
    proc = _start(BURNING)
    try:
        assert proc.stdout.readline().strip() == "reaped"
        assert proctree.descendants(proc.pid) == []
        assert proctree.cpu_seconds(proc.pid, reaped=False) < 0.4  # the parent itself idled
        assert 0.55 <= proctree.tree_cpu_seconds(proc.pid) < 1.5
    finally:
        _stop(proc)


def test_leftovers_of_a_stopped_tree_are_ended_and_nothing_else():
    proc = _start(SHARING)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _, child, grandchild = map(int, proc.stdout.readline().split())
        seen: dict[int, int] = {}
        proctree.look(proc.pid, seen=seen)
        assert set(seen) == {child, grandchild}
        proc.kill()  # the "server" stops; its child and grandchild run on, orphaned
        proc.wait(timeout=10)
        assert proctree.started(child) == seen[child]
        # the bystander is named with a wrong start time (its pid reused): it is left alone
        seen[bystander.pid] = proctree.started(bystander.pid) + 1
        ended = proctree.end_leftovers(seen, wait=5.0)
        assert sorted(int(line.split(":")[0]) for line in ended) == sorted([child, grandchild])
        assert proctree.started(child) is None and proctree.started(grandchild) is None
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait(timeout=10)
        _stop(proc)
