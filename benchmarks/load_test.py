"""Class benchmark (run by hand): a class of students opening the hosted demo at once.

    python benchmarks/load_test.py                       # 30 students over 30 s, 3 in Chromium
    python benchmarks/load_test.py --sessions 4 --browsers 1 --arrive-over 5   # a quick try
    python benchmarks/load_test.py --check-identical 5   # then compare 5 students' numbers
    python benchmarks/load_test.py --class explore       # each student another architecture too
    python benchmarks/load_test.py --class sequence --sessions 27   # 27 architectures in a row
    python benchmarks/load_test.py --class series        # one real-series link beyond the bounds

How it runs, in one process, on this machine, loopback (127.0.0.1) only:

1. Pinning. The benchmark pins itself to ``--server-cpus`` (default "0,1") and starts
   ``streamlit run app.py`` (``tests/apptools.running_app``) with ``RNNVIZ_HOSTED=1`` and an
   empty cache folder: the server inherits that CPU affinity. Then the benchmark pins itself to
   ``--client-cpus`` (default "1") and lowers its priority by ``--client-nice`` (default 10,
   ``os.nice``); the students' clients (asyncio tasks, Playwright's driver and Chromium are its
   children) inherit both. Students' browsers run on their own machines in a real class: the
   clients must not take the server's CPU. (Affinity is set with ``os.sched_setaffinity`` before
   each start, so every thread of the child, TensorFlow's pools too, inherits it.)
2. The class. N students (``--sessions``, default 30, at most 40) arrive over
   ``--arrive-over`` seconds (default 30): evenly spread, or with seeded jitter
   (``--jitter 0.5 --seed 1`` moves each arrival by up to half a slot). Each opens a DIFFERENT
   experiment with the default recipe (``Config()``): even students a preset rule of
   ``rnnviz.rules.RULE_PRESETS`` (cycled), odd students a custom rule (``CUSTOM_RULES``), each
   with its own seed (100 + student). Every rule is checked to give both classes before the run. A
   student opens ``/features?<query>`` (the query string is what the app itself writes: only
   the knobs that differ from ``Config()``, see ``rnnviz.ui.state.config_to_params``), presses
   nothing, and waits for the thread's table, ``Variable 1, perturbation effect: ...``.
3. Clients. ``--browsers`` students (default 3, spread over the arrival order) use a real
   headless Chromium (Debian's /usr/bin/chromium, one browser context each): results visible,
   the chart drawn, no ``pageerror``, no "Traceback", no error box. All others are light
   clients (``benchmarks/st_client.py``) speaking Streamlit's websocket protocol: the server
   does the same work (session, script run, every delta), the client draws nothing. Anything
   but the results text counts as status (progress bar text, queue position, estimates); error
   alerts and exceptions count as errors. Students keep their pages open until the whole class
   is done, as a class would.
   By default the server is cold, as a demo that was just started or woken: the first
   visitors also wait for TensorFlow's import. ``--warm`` opens the Learn page once before the
   class (it trains nothing) and is not counted; then (after ``--warmed``'s wait, if given)
   it waits until the server, idle, has imported TensorFlow in the background.
4. Limits. The class run stops after ``--limit`` seconds (default 600; 1800 for ``sequence``)
   from the first arrival: students still waiting are reported as timed out. Everything is then
   closed and reported.
5. ``--check-identical K``: after the server has stopped, up to K students that got results
   (spread over the class) have their experiment trained alone, one at a time, by
   ``python -m rnnviz --json`` with the same knobs, pinned to the server's CPUs (TensorFlow
   sizes its thread pools by them) at the clients' nice (nothing else of the run is left); the four
   printed digits of every feature's effect must be equal. This part is bounded by
   ``--check-limit`` seconds (default 300) in all.

6. Classes (``--class``):
   ``default``: the students above, every one with the default architecture (LSTM 10,5).
   ``explore``: the same students, each also with one of 16 architectures (``EXPLORE_ARCHS``:
   the 4 cells lstm, gru, simple_rnn, bilstm x the layer sizes 10,5 / 16,8 / 8 / 24,12), cycled
   so that students 0-15 hold every one once: a teacher's "now try a GRU, and more units".
   ``sequence``: one light client opens ``--sessions`` (default and at most 27) experiments
   one after another, each a different architecture (``SEQUENCE_ARCHS``: the 16 above, then
   relu activations, an LSTM head, three layers), each waiting for its results and its run's
   end before the next; the tree's memory is printed after each.
   ``series``: one light client opens the real-series link ``SERIES_QUERY`` (or ``--query``),
   whose URL asks for 10 scored windows while the series has 315; the hosted start-up warming is
   off (``RNNVIZ_WARM_PRESETS=0``) so that the CPU seconds are the link's. Reported: refused
   (the error box's message) or seconds to results, the tree's CPU seconds over the visit, and
   its peak PSS then.
   Every class's experiment is checked against the hosted bounds before the run.
7. Memory, as the container sees it (``benchmarks/proctree.py``): from the moment the server
   answers until the run ends, a thread sums PSS (``Pss:`` of ``/proc/PID/smaps_rollup``) over
   the server and every descendant (children, grandchildren: a forkserver and its workers, a
   warming process) every 0.5 s. Reported: the peak of that sum and how many samples reached
   1000 MB, the web server process's own PSS (peak and at the end), and for comparison with
   older figures the peak summed RSS and the server's VmHWM; then each process at the peak
   sample (role, PSS, private, RSS) and each role's largest sum. ``--memory-csv FILE`` keeps every
   sample (with each role's PSS and private memory) and ``FILE``'s ``.procs.csv`` sibling each
   process of every sample.

Report: per student the kind (light/browser), experiment, arrival time, seconds from opening to
results (or why not), the last status text seen; then finished count, median and max time to
results, errors shown to students, "Traceback"/"ERROR"/"Exception" in the server log, the
memory figures, and the goals of the class (``GOALS``):
default: all get results, 0 errors, identical numbers (if checked), tree PSS < 1000 MB at every
sample, max <= 60 s, median <= 15 s; explore: the same with median <= 30 s; sequence: all get
results, 0 errors, tree PSS < 1000 MB at every sample, the web server alone < 250 MB at the
end; series: refused, or its real scoring work within the hosted limit.
The exit status is 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks"), str(ROOT)]

from rnnviz.config import CELLS, Config  # noqa: E402
from rnnviz.rules import RULE_PRESETS  # noqa: E402
from rnnviz.serve.hosting import HOSTED_BOUNDS  # noqa: E402

import st_client  # noqa: E402
from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402
from apptools import shown as screen_text  # noqa: E402
from proctree import (  # noqa: E402
    ROLES,
    TreeSampler,
    breakdown,
    descendants,
    end_leftovers,
    peak_rss_mb,
    tree_cpu_seconds,
)

TABLE = "Variable 1, perturbation effect:"
SERIES_TABLE = "), perturbation effect:"  # a real series names its variables: "Variable 1 (..."
NUMBER = re.compile(r"Variable (\d+)(?: \([^)]*\))?, perturbation effect: (-?\d+\.\d+)")
MAX_SESSIONS = 40
CLASSES = ("default", "explore", "sequence", "series")
MAX_BROWSERS = 5
ERROR_BOX = '[data-testid="stAlertContentError"], [data-testid="stException"]'
PROGRESS = '[data-testid="stProgress"], [data-testid="stSpinner"]'

# Custom rules (odd students). Each gives both classes with a share of 30-61 % of ones on
# uniform [0, 1) features (checked in make_class); they read 1-3 features at lags 0-3.
CUSTOM_RULES = (
    "x1 > 0.5 and x2 < 0.6",
    "mean(x2, 3) > 0.45",
    "x1[t-1] + x3 > 1",
    "x2 < 0.4 or x3 > 0.7",
    "abs(x1 - x3) > 0.3",
    "x2[t-2] > x1",
    "wmax(x3, 2) > 0.7",
    "min(x1, x2) > 0.3",
    "x1 + x2 + x3 > 1.5",
    "not (x3[t-1] < 0.5)",
    "wmin(x1, 2) < 0.3",
    "x1 * x3 > 0.2",
    "x2 - x1[t-3] > 0",
    "mean(x1, 2) + x2 > 1",
    "max(x2, x3[t-1]) < 0.7",
    "x3 > 0.5 and x1[t-2] > 0.3",
    "x1 / (x2 + 0.5) > 0.6",
    "-x2 + x3 > 0",
    "x1 < 0.3 or x1 > 0.8",
    "x2 * x2 > 0.3",
)
MIN_SHARE = 0.1  # each class at least this share of the valid steps

# An architecture: (cell, layer sizes, every layer's activation, head).
Arch = tuple[str, tuple[int, ...], str, str]
DEFAULT_ARCH: Arch = ("lstm", (10, 5), "tanh", "dense")  # Config()'s
# The explore class: 4 cells x 4 layer sizes. Student i has EXPLORE_ARCHS[i % 16]: the cell
# changes from one student to the next, the sizes every 4 students.
EXPLORE_UNITS = ((10, 5), (16, 8), (8,), (24, 12))
EXPLORE_ARCHS: tuple[Arch, ...] = tuple(
    (cell, units, "tanh", "dense") for units in EXPLORE_UNITS for cell in CELLS
)
# The sequence: those 16, then 11 more that vary activations, the head and the depth.
SEQUENCE_ARCHS: tuple[Arch, ...] = EXPLORE_ARCHS + (
    *((cell, (12, 6), "relu", "dense") for cell in CELLS),
    *((cell, (10, 5), "tanh", "lstm") for cell in CELLS),
    ("lstm", (8, 8, 8), "tanh", "dense"),
    ("gru", (32,), "sigmoid", "dense"),
    ("bilstm", (6, 6, 6), "relu", "lstm"),
)
# The real-series link: the URL asks for 10 scored windows, while 2015 has 315 windows of 50
# days, scored 10 times by a 3-layer bidirectional LSTM. (The app needs one activation per
# layer and no input scaling for a real series: without them it refuses the link for that.)
SERIES_QUERY = (
    "dataset=seattle-weather&n_score=10&n_repeats=10&seq_len=50&n_features=6&units=32,32,32"
    "&cell=bilstm&activations=tanh,tanh,tanh&input_scaling=false"
)
# The goals per class: (name, what is checked), evaluated in report().
MEMORY_GOAL_MB = 1000.0
SERVER_GOAL_MB = 250.0
MEDIAN_GOAL_S = {"default": 15.0, "explore": 30.0}
MAX_GOAL_S = 60.0


def arch_knobs(arch: Arch) -> dict:
    """The Config knobs of an architecture."""
    cell, units, activation, head = arch
    return {"cell": cell, "units": units, "activations": (activation,) * len(units), "head": head}


def arch_label(arch: Arch) -> str:
    """E.g. "gru 16,8", "lstm 12,6 relu", "bilstm 10,5 lstm-head"."""
    cell, units, activation, head = arch
    extra = ("" if activation == "tanh" else f" {activation}") + (
        "" if head == "dense" else f" {head}-head"
    )
    return f"{cell} {','.join(map(str, units))}{extra}"


@dataclass
class Student:
    index: int
    kind: str  # "light" or "browser"
    rule: str
    seed: int
    arrival: float  # seconds after the class starts
    config: Config = field(repr=False)
    arch: Arch = DEFAULT_ARCH

    @property
    def experiment(self) -> str:
        what = f"preset {self.rule}" if self.rule in RULE_PRESETS else f"custom `{self.rule}`"
        shape = "" if self.arch == DEFAULT_ARCH else f", {arch_label(self.arch)}"
        return f"{what}, seed {self.seed}{shape}"

    @property
    def params(self) -> dict[str, str]:
        return config_params(self.config)


@dataclass
class Outcome:
    seconds: float | None = None  # opening to results
    status: str = ""  # last status text seen
    queue: str = ""  # last status text about a queue, waiting or an estimate
    errors: list[str] = field(default_factory=list)
    note: str = ""  # why there are no results, or what else went wrong
    numbers: list[str] = field(default_factory=list)  # the printed effects, "0.3107", ...
    memory: tuple[float, float] | None = None  # (tree, server) PSS in MB after the results

    @property
    def ok(self) -> bool:
        return self.seconds is not None and not self.errors


def config_params(config: Config) -> dict[str, str]:
    """The URL query parameters the app writes for ``config`` (the knobs that differ from the
    defaults). The same as ``rnnviz.ui.state.config_to_params``, which is not imported here
    because the UI package loads TensorFlow."""
    default = Config().to_dict()
    params: dict[str, str] = {}
    for key, value in config.to_dict().items():
        if value != default[key]:
            params[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return params


def make_class(
    n: int,
    window: float,
    browsers: int,
    jitter: float = 0.0,
    seed: int = 0,
    archs: tuple[Arch, ...] = (DEFAULT_ARCH,),
) -> list[Student]:
    """N students with different experiments, arriving over ``window`` seconds; student i has
    the architecture ``archs[i % len(archs)]``."""
    from rnnviz.data.split import make_split

    rng = random.Random(seed)
    slot = window / n
    presets = list(RULE_PRESETS)
    chosen = {round(j * n / browsers) for j in range(browsers)} if browsers else set()
    students = []
    for i in range(n):
        rule = presets[(i // 2) % len(presets)] if i % 2 == 0 else CUSTOM_RULES[i // 2]
        arch = archs[i % len(archs)]
        config = Config(rule=rule, seed=100 + i, **arch_knobs(arch)).validate(HOSTED_BOUNDS)
        share = make_split(config, "train").positive_share
        if not MIN_SHARE <= share <= 1 - MIN_SHARE:
            raise ValueError(f"rule {rule!r} gives {share:.0%} ones: pick one with both classes")
        arrival = i * slot + (rng.uniform(-jitter, jitter) * slot if jitter else 0.0)
        arrival = min(max(arrival, 0.0), window)
        kind = "browser" if i in chosen else "light"
        students.append(Student(i, kind, rule, 100 + i, round(arrival, 2), config, arch))
    return students


def make_sequence(n: int) -> list[Student]:
    """N experiments of one visitor, each a different architecture (``SEQUENCE_ARCHS``), the
    default rule, seeds 100, 101, ... (so none is a preset the server warms at start)."""
    if not 1 <= n <= len(SEQUENCE_ARCHS):
        raise ValueError(f"the sequence holds 1 to {len(SEQUENCE_ARCHS)} architectures, not {n}")
    students = []
    for i, arch in enumerate(SEQUENCE_ARCHS[:n]):
        config = Config(seed=100 + i, **arch_knobs(arch)).validate(HOSTED_BOUNDS)
        students.append(Student(i, "light", config.rule, config.seed, 0.0, config, arch))
    return students


def series_work(query: str) -> tuple[int, int] | str:
    """(numbers its scoring really pushes through the model, the hosted limit) for a real-series
    link: the URL's ``n_score`` replaced by the windows the series has. Else why not: the link
    is not a valid experiment at all, or it is not a real series. (Whether the hosted bounds
    refuse it is for the app to say: that is what the series class measures.)"""
    from urllib.parse import parse_qsl

    from rnnviz.data.source import source_of

    try:
        config = Config.from_dict(dict(parse_qsl(query)))
    except ValueError as exc:
        return f"the link is refused as written: {exc}"
    if not config.data_kind.real:
        return "not a real series"
    windows = len(source_of(config).split("score").x)
    return config.replace(n_score=windows).score_values(), HOSTED_BOUNDS.max_score_values


def numbers_in(text: str) -> list[str]:
    return [value for _, value in NUMBER.findall(text or "")]


# --------------------------------------------------------------------------- clients


class Class:
    """The run: students' outcomes as they come, and the moment everyone is done."""

    def __init__(self, students: list[Student], limit: float) -> None:
        self.students = students
        self.limit = limit
        self.outcomes: dict[int, Outcome] = {s.index: Outcome() for s in students}
        self.waiting = len(students)
        self.over = asyncio.Event()  # everyone has results or has failed: close the pages
        self.start = 0.0

    def reported(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.over.set()

    def time_left(self) -> float:
        return self.start + self.limit - time.monotonic()


async def light_student(url: str, s: Student, run: Class) -> None:
    out = run.outcomes[s.index]
    reported = False

    def status(text: str) -> None:  # kept as it comes, in case the whole run is cut short
        out.status = text
        if any(w in text.lower() for w in st_client.QUEUE_WORDS):
            out.queue = text

    def done(seen: st_client.Visit) -> None:  # results or failure known: before the hold
        nonlocal reported
        out.seconds, out.status, out.errors = seen.seconds, seen.status, list(seen.errors)
        out.queue = seen.queue
        out.numbers = numbers_in(seen.found or "")
        reported = True
        run.reported()

    try:
        seen = await st_client.visit(
            url,
            "features",
            urlencode(s.params),
            TABLE,
            timeout=max(1.0, run.time_left()),
            settle=30.0,
            hold=run.over,
            on_status=status,
            on_done=done,
        )
    except Exception as exc:  # reported, not raised: the other students go on
        out.note = f"failed: {type(exc).__name__}: {str(exc)[:160]}"
        return
    finally:
        if not reported:
            run.reported()
    out.errors = list(seen.errors)  # errors that came while the page stayed open count too
    notes = [seen.ended or ""]
    if seen.seconds is not None and not seen.finished:
        notes.append("the run did not finish within 30 s after the results")
    if seen.rewritten_query is not None:
        notes.append(f"the app rewrote the query to {seen.rewritten_query!r}")
    out.note = "; ".join(n for n in notes if n)


async def browser_student(browser, url: str, s: Student, run: Class) -> None:
    out = run.outcomes[s.index]
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(f"pageerror: {str(exc)[:200]}"))
    start = time.monotonic()
    reported = False
    try:
        await page.goto(f"{url}/features?{urlencode(s.params)}", timeout=60_000)
        while run.time_left() > 0:
            if await page.get_by_text(TABLE).count():
                out.seconds = time.monotonic() - start
                break
            boxes = page.locator(ERROR_BOX)
            if await boxes.count():
                out.errors.append(" ".join((await boxes.first.inner_text()).split())[:300])
                break
            bars = page.locator(PROGRESS)
            if await bars.count():
                try:
                    text = await bars.first.inner_text(timeout=1000)
                    out.status = " ".join(text.split())[:200] or out.status
                    if any(w in out.status.lower() for w in st_client.QUEUE_WORDS):
                        out.queue = out.status
                except Exception:  # the bar went away meanwhile
                    pass
            await asyncio.sleep(1.0)
        else:
            out.note = f"no results after {run.limit:.0f} s"
        if out.seconds is not None:
            code = page.locator('[data-testid="stCode"]').filter(has_text=TABLE).first
            out.numbers = numbers_in(await code.inner_text(timeout=30_000))
            await page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
            if await page.get_by_text("Traceback").count():
                out.errors.append("Traceback shown")
            if await page.locator(ERROR_BOX).count():
                out.errors.append("error box shown after the results")
        out.errors += page_errors
        run.reported()
        reported = True
        if out.seconds is not None:  # keep the tab open until the class is done
            await asyncio.wait_for(run.over.wait(), max(1.0, run.time_left()))
    except Exception as exc:  # reported, not raised: the other students go on
        out.note = out.note or f"failed: {type(exc).__name__}: {str(exc)[:160]}"
        out.errors += [e for e in page_errors if e not in out.errors]
    finally:
        if not reported:
            run.reported()
        await context.close()


def thread_cpus(pid: int) -> set[str]:
    """The CPU lists the threads of ``pid`` may run on (as /proc writes them, e.g. "0-1")."""
    out = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    out.add(line.split()[1])
        except OSError:
            continue
    return out


async def run_class(url: str, students: list[Student], limit: float):
    """Every student arrives at their time; returns (outcomes, wall seconds)."""
    run = Class(students, limit)
    n_browsers = sum(s.kind == "browser" for s in students)

    async def arrive(s: Student, browser) -> None:
        await asyncio.sleep(max(0.0, run.start + s.arrival - time.monotonic()))
        if s.kind == "browser":
            await browser_student(browser, url, s, run)
        else:
            await light_student(url, s, run)

    async def everyone(browser) -> None:
        run.start = time.monotonic()
        tasks = [asyncio.create_task(arrive(s, browser)) for s in students]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), limit + 90)
        except TimeoutError:
            for s in students:
                out = run.outcomes[s.index]
                if out.seconds is None and not out.note:
                    out.note = f"stopped at the time limit ({limit:.0f} s)"
        finally:
            run.over.set()

    start = time.monotonic()
    if n_browsers:
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                await everyone(browser)
            finally:
                await browser.close()
    else:
        await everyone(None)
    return run.outcomes, time.monotonic() - start


async def run_sequence(url: str, students: list[Student], limit: float, sampler: TreeSampler):
    """One visitor opens the students' experiments one after another, each until its results
    and the end of its run (at most 30 s more); returns (outcomes, wall seconds)."""
    outcomes = {s.index: Outcome() for s in students}
    start = time.monotonic()
    for s in students:
        out = outcomes[s.index]
        left = start + limit - time.monotonic()
        if left < 1:
            out.note = f"not opened: the time limit ({limit:.0f} s) was reached"
            continue
        s.arrival = round(time.monotonic() - start, 2)
        seen = await st_client.visit(
            url, "features", urlencode(s.params), TABLE, timeout=left, settle=min(30.0, left)
        )
        out.seconds, out.status, out.errors = seen.seconds, seen.status, list(seen.errors)
        out.numbers = numbers_in(seen.found or "")
        out.note = seen.ended or ""
        if seen.seconds is not None and not seen.finished:
            out.note = "the run did not finish within 30 s after the results"
        now = sampler.now()
        out.memory = (now.tree_pss, now.server_pss)
        print(
            f"{s.index:3d} {arch_label(s.arch):24} {show(out.seconds)}  tree PSS "
            f"{now.tree_pss:6.0f} MB, web server {now.server_pss:5.0f} MB, "
            f"{now.processes} processes{'  ! ' + out.note if out.note else ''}",
            flush=True,
        )
    return outcomes, time.monotonic() - start


@dataclass
class SeriesOutcome:
    query: str
    seconds: float | None = None  # opening to results
    refused: str | None = None  # the error box's message, if the page showed one
    note: str = ""
    cpu: float = 0.0  # CPU seconds of the server's tree over the visit
    wall: float = 0.0
    peak_pss: float = float("nan")  # of the tree, during the visit
    alerts: list[tuple[str, str]] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    status: str = ""  # the last progress or queue text seen


async def run_series(url: str, pid: int, query: str, limit: float, sampler: TreeSampler):
    """One visitor opens the per-feature page of ``query``; bounded by ``limit`` seconds."""
    out = SeriesOutcome(query)
    first = len(sampler.samples)
    cpu = tree_cpu_seconds(pid)
    start = time.monotonic()
    seen = await st_client.visit(
        url, "features", query, SERIES_TABLE, timeout=limit, settle=30.0, stop_on_error=True
    )
    out.wall = time.monotonic() - start
    out.cpu = tree_cpu_seconds(pid) - cpu
    sampler.now()
    out.peak_pss = max((x.tree_pss for x in sampler.samples[first:]), default=float("nan"))
    out.seconds, out.alerts, out.numbers = seen.seconds, seen.alerts, numbers_in(seen.found or "")
    out.status = seen.status
    if seen.seconds is None and seen.errors:
        out.refused = screen_text(" ".join(seen.errors[0].split()))  # as read on screen
    else:
        out.note = seen.ended or ""
        if seen.seconds is not None and seen.errors:
            out.note += f"; error shown after the results: {seen.errors[0][:200]}"
    return out


# --------------------------------------------------------------------------- identity check


def alone(s: Student, server_cpus: str, timeout: float) -> tuple[list[str] | None, str]:
    """The student's experiment trained alone by the command line: (printed effects, note)."""
    cmd = [sys.executable, "-m", "rnnviz", "--json", "--quiet"]
    for key, value in s.params.items():
        cmd += ["--" + key.replace("_", "-"), value]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", server_cpus, *cmd]
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None, f"the lone run took over {timeout:.0f} s"
    if done.returncode != 0:
        return None, f"the lone run failed: {done.stderr.strip()[-200:]}"
    means = json.loads(done.stdout)["scores"]["importances_mean"]
    return [f"{m:.4f}" for m in means], ""


def check_identical(students, outcomes, k: int, server_cpus: str, limit: float) -> list[tuple]:
    """(student, seen, alone, note) for up to k students with results, spread over the class."""
    ready = [s for s in students if outcomes[s.index].numbers]
    picked = [ready[round(j * len(ready) / k)] for j in range(min(k, len(ready)))]
    rows, deadline = [], time.monotonic() + limit
    for s in picked:
        left = deadline - time.monotonic()
        if left < 10:
            rows.append((s, outcomes[s.index].numbers, None, "skipped: check time limit"))
            continue
        numbers, note = alone(s, server_cpus, left)
        rows.append((s, outcomes[s.index].numbers, numbers, note))
    return rows


# --------------------------------------------------------------------------- main


def cpus(text: str) -> set[int]:
    """ "0,1" or "0-3" -> {0, 1} / {0, 1, 2, 3}, checked against the CPUs this process may use."""
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    allowed = os.sched_getaffinity(0)
    if not out or not out <= allowed:
        raise argparse.ArgumentTypeError(f"CPUs {text!r} are not all in {sorted(allowed)}")
    return out


def bounded(lo: float, hi: float, kind=int):
    def parse(text: str):
        value = kind(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not in [{lo}, {hi}]")
        return value

    return parse


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--class", dest="klass", choices=CLASSES, default="default",
        help="default: the default architecture; explore: 16 architectures; sequence: one "
        "visitor, one architecture after another; series: one real-series link",
    )  # fmt: skip
    ap.add_argument(
        "--sessions", type=bounded(1, MAX_SESSIONS), default=None,
        help=f"students (default 30); with --class sequence: experiments in a row (default and "
        f"at most {len(SEQUENCE_ARCHS)})",
    )  # fmt: skip
    ap.add_argument(
        "--browsers", type=bounded(0, MAX_BROWSERS), default=3,
        help="students in Chromium (none in the sequence and series)",
    )  # fmt: skip
    ap.add_argument(
        "--arrive-over", type=bounded(0, 300, float), default=30.0, metavar="S",
        help="arrivals spread over S seconds",
    )  # fmt: skip
    ap.add_argument(
        "--jitter", type=bounded(0, 1, float), default=0.0, metavar="F",
        help="move each arrival by up to F of a slot (0: evenly spread)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    ap.add_argument(
        "--limit", type=bounded(10, 1800, float), default=None, metavar="S",
        help="the run stops S seconds after the first arrival (default 600; sequence 1800)",
    )  # fmt: skip
    ap.add_argument(
        "--query", default=SERIES_QUERY, metavar="Q",
        help="with --class series: the link's query string (default: SERIES_QUERY)",
    )  # fmt: skip
    ap.add_argument(
        "--no-warming", action="store_true",
        help="turn hosted mode's start-up warming of the preset experiments off "
        "(RNNVIZ_WARM_PRESETS=0; always off for --class series)",
    )  # fmt: skip
    ap.add_argument(
        "--memory-csv", type=Path, default=None, metavar="FILE",
        help="write every memory sample (seconds, tree and server PSS and RSS, each role's PSS and "
        "private memory) to FILE, and each process of every sample to FILE's .procs.csv",
    )  # fmt: skip
    ap.add_argument(
        "--warm", action="store_true",
        help="open the Learn page once before the class and wait until the server (or a "
        "process it started) has imported TensorFlow",
    )  # fmt: skip
    ap.add_argument(
        "--warmed", action="store_true",
        help="with --warm: also wait (at most 300 s) until hosted mode's start-up warming has "
        "trained every preset experiment, as on a server started before the class",
    )  # fmt: skip
    ap.add_argument("--server-cpus", default="0,1", help="CPU affinity of the server")
    ap.add_argument("--client-cpus", default="1", help="CPU affinity of the clients")
    ap.add_argument(
        "--client-nice", type=bounded(0, 19), default=10, help="clients' nice increment"
    )
    ap.add_argument(
        "--check-identical",
        type=bounded(0, MAX_SESSIONS),
        nargs="?",
        const=3,
        default=0,
        metavar="K",
        help="compare K students' numbers to lone CLI runs (3 if K is not given)",
    )
    ap.add_argument(
        "--check-limit", type=bounded(10, 1800, float), default=300.0, metavar="S",
        help="the identity check stops after S seconds",
    )  # fmt: skip
    args = ap.parse_args(argv)
    single = args.klass in ("sequence", "series")
    if args.sessions is None:
        args.sessions = {"sequence": len(SEQUENCE_ARCHS), "series": 1}.get(args.klass, 30)
    if args.klass == "sequence" and args.sessions > len(SEQUENCE_ARCHS):
        ap.error(f"--class sequence holds at most {len(SEQUENCE_ARCHS)} architectures")
    if args.limit is None:
        args.limit = 1800.0 if args.klass == "sequence" else 600.0
    args.browsers = 0 if single else min(args.browsers, args.sessions)
    if single and (args.warm or args.check_identical):
        ap.error(f"--warm and --check-identical are for the classes, not --class {args.klass}")
    try:
        cpus(args.server_cpus), cpus(args.client_cpus)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        ap.error(str(exc))
    return args


def show(seconds: float | None) -> str:
    return f"{seconds:6.1f} s" if seconds is not None else "   -    "


def tree_idle(pid: int, seconds: float = 0.5, share: float = 0.1) -> bool:
    """Whether ``pid`` and its descendants together used under ``share`` of a core over
    ``seconds``."""
    before = tree_cpu_seconds(pid)
    time.sleep(seconds)
    return tree_cpu_seconds(pid) - before < share * seconds


def tensorflow_loaded(pid: int) -> bool:
    """Whether TensorFlow's library is mapped into ``pid`` or any of its descendants."""
    for p in [pid, *descendants(pid)]:
        try:
            if b"_pywrap_tensorflow_internal" in Path(f"/proc/{p}/maps").read_bytes():
                return True
        except OSError:
            continue
    return False


def wait_for_tensorflow(pid: int, limit: float = 90.0) -> tuple[float, bool]:
    """(seconds waited, whether it happened): until the server, or a process it started (a
    worker), has TensorFlow loaded and the whole tree is idle again, at most ``limit``.

    Today's server imports TensorFlow itself in the background once no page has run for a few
    seconds and hosted mode's warming has ended (``rnnviz.ui.cache.warm_tensorflow``); a server
    whose TensorFlow lives in a worker process has it there: wait until its library is mapped
    into one of them, then until the tree uses under 10% of a core over half a second."""
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < limit:
            if tensorflow_loaded(pid):
                if tree_idle(pid):
                    return time.perf_counter() - start, True
            else:
                time.sleep(0.5)
    except OSError:  # the server is gone
        pass
    return time.perf_counter() - start, False


def wait_for_warming(cache: Path, pid: int, limit: float) -> float:
    """Seconds until the cache holds every preset experiment and the server's tree (its
    warming, wherever it runs) is idle, at most ``limit``; then one more second."""
    from rnnviz.serve.warm import preset_experiments

    ids = [c.training_id() for c in preset_experiments()]
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if all((cache / i / "rnnviz-entry.json").is_file() for i in ids) and tree_idle(pid, 1.0):
            break
        time.sleep(0.5)
    time.sleep(1.0)
    return time.perf_counter() - start


@dataclass
class Memory:
    """The memory figures of one run (MB)."""

    tree_pss_peak: float
    over_goal: int  # samples with the tree's PSS >= MEMORY_GOAL_MB
    samples: int
    longest_gap: float  # seconds between two samples, at most
    server_pss_peak: float
    server_pss_end: float
    tree_rss_peak: float
    server_hwm: float  # VmHWM of the server process
    processes_peak: int
    anon_peak: float  # the tree's anonymous PSS (exact on a shared machine)
    alone_peak: float  # estimated tree PSS with no other process sharing its libraries
    alone_over_goal: int
    at_peak: list[str] = field(default_factory=list)  # each process at the tree's peak sample

    @classmethod
    def of(cls, sampler: TreeSampler, end, hwm: float) -> Memory:
        return cls(
            tree_pss_peak=sampler.peak("tree_pss"),
            over_goal=sampler.over(MEMORY_GOAL_MB),
            samples=len(sampler.samples),
            longest_gap=sampler.longest_gap(),
            server_pss_peak=sampler.peak("server_pss"),
            server_pss_end=end.server_pss if end is not None else float("nan"),
            tree_rss_peak=sampler.peak("tree_rss"),
            server_hwm=hwm,
            processes_peak=int(sampler.peak("processes")),
            anon_peak=sampler.peak("tree_pss_anon"),
            alone_peak=sampler.peak("alone"),
            alone_over_goal=sampler.over(MEMORY_GOAL_MB, "alone"),
            at_peak=at_peak(sampler),
        )

    def lines(self) -> list[str]:
        return [
            f"tree memory (server + every descendant, PSS): peak {self.tree_pss_peak:.0f} MB; "
            f"{self.over_goal} of {self.samples} samples >= {MEMORY_GOAL_MB:.0f} MB (sampled "
            f"every 0.5 s, longest gap {self.longest_gap:.1f} s; up to {self.processes_peak} "
            "processes)",
            f"web server process alone (PSS): peak {self.server_pss_peak:.0f} MB, at the end "
            f"{self.server_pss_end:.0f} MB",
            f"  of which anonymous (exact even on a shared machine): peak {self.anon_peak:.0f} MB; "
            f"had no other process mapped the same libraries, about {self.alone_peak:.0f} MB at "
            f"peak ({self.alone_over_goal} samples >= {MEMORY_GOAL_MB:.0f} MB)",
            f"for comparison: summed RSS peak {self.tree_rss_peak:.0f} MB (shared pages counted "
            f"per process); the server's VmHWM {self.server_hwm:.0f} MB",
            *self.at_peak,
        ]

    def caveat(self) -> str | None:
        """A warning when the PSS goal is met only thanks to other processes on the machine
        sharing the tree's libraries."""
        if self.over_goal == 0 and self.alone_over_goal:
            return (
                f"WARNING: met on this machine, but about {self.alone_peak:.0f} MB alone: other "
                "processes mapping the same libraries (e.g. TensorFlow) lower the tree's PSS"
            )
        return None


def at_peak(sampler: TreeSampler) -> list[str]:
    """Each process of the tree at its PSS peak, and the largest PSS and private memory each
    role reached over the run."""
    peak = sampler.peak_sample()
    if peak is None:
        return []
    lines = [f"at the tree's peak ({peak.t:.1f} s after the server answered), each process:"]
    lines += [f"  {line}" for line in breakdown(peak)]
    lines.append("each role's largest sum over the run (MB; PSS / private):")
    for role in ROLES:
        pss = max(s.role_sum(role) for s in sampler.samples)
        private = max(s.role_sum(role, "private") for s in sampler.samples)
        if pss:
            lines.append(f"  {role:10} {pss:6.0f} / {private:6.0f}")
    return lines


def describe(args) -> str:
    where = (
        f"server on CPUs {args.server_cpus}, clients on CPUs {args.client_cpus} at nice "
        f"+{args.client_nice}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.klass == "sequence":
        return f"sequence: {args.sessions} architectures one after another by one client; {where}"
    if args.klass == "series":
        return f"series link: /features?{args.query}; warming off; {where}"
    return (
        f"{args.klass} class: {args.sessions} students ({args.browsers} in Chromium) over "
        f"{args.arrive_over:g} s; {where}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.klass == "sequence":
        students = make_sequence(args.sessions)
    elif args.klass == "series":
        students = []
    else:
        archs = EXPLORE_ARCHS if args.klass == "explore" else (DEFAULT_ARCH,)
        students = make_class(
            args.sessions, args.arrive_over, args.browsers, args.jitter, args.seed, archs
        )
    if args.browsers and not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: use --browsers 0")
    print(describe(args), flush=True)
    series = None
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RNNVIZ_HOSTED": "1", "RNNVIZ_CACHE_DIR": str(Path(tmp) / "cache")}
        if args.no_warming or args.klass == "series":
            env["RNNVIZ_WARM_PRESETS"] = "0"
        log_path = Path(tmp) / "server.log"
        os.sched_setaffinity(0, cpus(args.server_cpus))  # the server inherits this
        with running_app(log_path, env) as (url, proc):
            os.sched_setaffinity(0, cpus(args.client_cpus))
            os.nice(args.client_nice)
            sampler = TreeSampler(proc.pid).start()  # whole run: warm-up included
            try:
                if args.warm:
                    warm_up(url, proc.pid, Path(tmp) / "cache", args.warmed)
                if args.klass == "series":
                    series = asyncio.run(run_series(url, proc.pid, args.query, args.limit, sampler))
                    outcomes, wall = {}, series.wall
                elif args.klass == "sequence":
                    outcomes, wall = asyncio.run(run_sequence(url, students, args.limit, sampler))
                else:
                    outcomes, wall = asyncio.run(run_class(url, students, args.limit))
            finally:
                end = sampler.stop()
            memory = Memory.of(sampler, end, peak_rss_mb(proc.pid))
            threads = len(list(Path(f"/proc/{proc.pid}/task").iterdir()))
            print(
                f"pinning read back: the server's {threads} threads on CPUs "
                f"{' / '.join(sorted(thread_cpus(proc.pid)))}; clients on CPUs "
                f"{','.join(map(str, sorted(os.sched_getaffinity(0))))} at nice {os.nice(0)}"
            )
        left = end_leftovers(sampler.seen)  # the server has stopped: nothing it started runs on
        log = log_path.read_text(errors="replace")
    if left:
        print(f"the server left {len(left)} processes running when it stopped (ended now):")
        print("\n".join(f"  {line}" for line in left))
    if args.memory_csv is not None:
        procs = sampler.write_csv(args.memory_csv)
        print(f"memory samples written to {args.memory_csv}, each process's to {procs}")
    if series is not None:
        return report_series(args, series, memory, log)
    checks = []
    if args.check_identical:
        checks = check_identical(
            students, outcomes, args.check_identical, args.server_cpus, args.check_limit
        )
    return report(args, students, outcomes, wall, memory, log, checks)


def warm_up(url: str, pid: int, cache: Path, warmed: bool) -> None:
    """--warm: the Learn page once (it trains nothing), then (--warmed) the start-up warming's
    end, then TensorFlow loaded somewhere in the server's tree and the tree idle."""
    warm = asyncio.run(st_client.visit(url, "learn", "", "", timeout=180, settle=170))
    print(
        f"warm-up: the Learn page (trains nothing) finished: {warm.finished}, "
        f"errors {len(warm.errors)}",
        flush=True,
    )
    if warmed:  # today's server imports TensorFlow once this warming has ended
        waited = wait_for_warming(cache, pid, limit=300.0)
        print(f"warm-up: every preset experiment trained after {waited:.1f} s")
    waited, loaded = wait_for_tensorflow(pid, limit=120.0)
    print(
        f"warm-up: TensorFlow loaded and the server's tree idle after {waited:.1f} s"
        if loaded
        else f"warm-up: TensorFlow NOT loaded after {waited:.1f} s (today's server imports it "
        "after its warming: add --warmed)"
    )


def log_words(log: str) -> dict[str, int]:
    return {word: log.count(word) for word in ("Traceback", "ERROR", "Exception")}


def print_goals(goals: list[tuple[str, bool | None]], memory: Memory | None = None) -> int:
    print("\ngoals:")
    for name, met in goals:
        print(f"  {'-- not checked' if met is None else 'met   ' if met else 'MISSED'}  {name}")
    caveat = memory.caveat() if memory is not None else None
    if caveat:
        print(f"  {caveat}")
    return 0 if all(met is not False for _, met in goals) else 1


def report(args, students, outcomes, wall, memory: Memory, log, checks) -> int:
    print(f"\n{'#':>3} {'kind':8}{'arrival':>8} {'results':>9}  {'experiment':60} last status")
    for s in students:
        out = outcomes[s.index]
        print(f"{s.index:3d} {s.kind:8}{s.arrival:7.1f}s {show(out.seconds)}  {s.experiment:60} "
              f"{out.status or '-'}")  # fmt: skip
        if out.memory is not None:
            print(f"{'':13}  after the results: tree PSS {out.memory[0]:.0f} MB, web server "
                  f"{out.memory[1]:.0f} MB")  # fmt: skip
        if out.queue and out.queue != out.status:
            print(f"{'':13}  last queue status: {out.queue}")
        for text in [out.note, *out.errors]:
            if text:
                print(f"{'':13}! {' '.join(text.split())[:150]}")
    times = [o.seconds for o in outcomes.values() if o.seconds is not None]
    done = [s for s in students if outcomes[s.index].ok]
    shown = sum(len(o.errors) for o in outcomes.values())
    in_log = log_words(log)
    median = statistics.median(times) if times else None
    longest = max(times) if times else None
    by_kind = ", ".join(
        f"{kind} {sum(s.kind == kind for s in done)}/{sum(s.kind == kind for s in students)}"
        for kind in ("light", "browser")
    )
    print(f"\nfinished: {len(done)} of {len(students)} ({by_kind}) in {wall:.1f} s wall")
    print(f"time to results: median {show(median).strip()}, max {show(longest).strip()}")
    print(f"errors shown to students: {shown}")
    print("server log: " + ", ".join(f"{w} {c}" for w, c in in_log.items()))
    if in_log.get("Traceback"):  # the first one, to see what went wrong
        lines = log.splitlines()
        first = next(i for i, line in enumerate(lines) if "Traceback" in line)
        tail = [line for line in lines[first:] if line.strip()][:200]
        end = next((i for i, line in enumerate(tail) if "Error" in line and "│" not in line), 30)
        print("\n".join("  | " + line for line in tail[max(0, end - 12) : end + 1]))
    print("\n".join(memory.lines()))
    same = None
    if checks:
        print("\nsame numbers as the experiment trained alone (python -m rnnviz --json):")
        for s, seen, lone, note in checks:
            verdict = "identical" if lone == seen else ("DIFFERENT" if lone else "not checked")
            print(f"{s.index:3d} {verdict:11} seen {' '.join(seen)}  alone "
                  f"{' '.join(lone or ['-'])}  {s.experiment}  {note}")  # fmt: skip
        same = all(lone == seen for _, seen, lone, _ in checks)
    n = len(students)
    goals = [
        (f"all get results ({len(done)}/{n})", len(done) == n),
        (
            f"0 errors (shown {shown}, server log {sum(in_log.values())})",
            shown == 0 and not any(in_log.values()),
        ),
        (
            f"tree PSS < {MEMORY_GOAL_MB:.0f} MB at every sample (peak "
            f"{memory.tree_pss_peak:.0f} MB)",
            memory.samples > 0 and memory.over_goal == 0,
        ),
    ]
    if args.klass == "sequence":
        goals.append(
            (
                f"web server alone < {SERVER_GOAL_MB:.0f} MB at the end (PSS "
                f"{memory.server_pss_end:.0f} MB; peak {memory.server_pss_peak:.0f} MB)",
                memory.server_pss_end < SERVER_GOAL_MB,
            )
        )
    else:
        goal = MEDIAN_GOAL_S[args.klass]
        goals += [
            ("identical numbers", same),
            (
                f"median time to results <= {goal:.0f} s ({show(median).strip()})",
                median is not None and median <= goal,
            ),
            (
                f"max time to results <= {MAX_GOAL_S:.0f} s ({show(longest).strip()})",
                longest is not None and longest <= MAX_GOAL_S,
            ),
        ]
    return print_goals(goals, memory)


def report_series(args, out: SeriesOutcome, memory: Memory, log: str) -> int:
    print(f"\nlink: /features?{out.query}")
    work = series_work(out.query)
    if isinstance(work, str):
        print(f"note: {work}")
    else:
        print(
            f"its real scoring work (every window of the scored year): {work[0]:,} numbers "
            f"through the model, {work[0] / work[1]:.1f}x the hosted limit ({work[1]:,})"
        )
    if out.refused is not None:
        print(f"refused after {out.wall:.1f} s: {out.refused[:300]}")
    elif out.seconds is not None:
        print(f"ran: results after {out.seconds:.1f} s ({', '.join(out.numbers)})")
    else:
        print(f"no results and no refusal after {out.wall:.1f} s: {out.note}")
        print(f"  last status: {out.status or '-'}")
    if out.note and out.refused is None and out.seconds is not None:
        print(f"  ! {out.note}")
    for kind, text in out.alerts:
        if kind != "error":
            print(f"  {kind}: {' '.join(text.split())[:200]}")
    print(f"the server tree's CPU over the visit: {out.cpu:.1f} s (wall {out.wall:.1f} s)")
    print(f"the tree's peak PSS during the visit: {out.peak_pss:.0f} MB")
    in_log = log_words(log)
    print("server log: " + ", ".join(f"{w} {c}" for w, c in in_log.items()))
    print("\n".join(memory.lines()))
    within = not isinstance(work, str) and work[0] <= work[1]
    if out.refused is not None:
        met, how = True, "refused"
    elif out.seconds is not None:
        met, how = within, "ran within the limit" if within else "ran BEYOND the limit"
    else:
        met, how = False, "neither refused nor finished within --limit"
    return print_goals([(f"refused, or within the hosted scoring limit: {how}", met)])


if __name__ == "__main__":
    sys.exit(main())
