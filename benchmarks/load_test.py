"""Class benchmark (run by hand): a class of students opening the hosted demo at once.

    python benchmarks/load_test.py                       # 30 students over 30 s, 3 in Chromium
    python benchmarks/load_test.py --sessions 4 --browsers 1 --arrive-over 5   # a quick try
    python benchmarks/load_test.py --check-identical 5   # then compare 5 students' numbers

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
4. Limits. The class run stops after ``--limit`` seconds (default 600) from the first arrival:
   students still waiting are reported as timed out. Everything is then closed and reported.
5. ``--check-identical K``: after the server has stopped, up to K students that got results
   (spread over the class) have their experiment trained alone, one at a time, by
   ``python -m rnnviz --json`` with the same knobs, pinned to the server's CPUs (TensorFlow
   sizes its thread pools by them) at the clients' nice (nothing else of the run is left); the four
   printed digits of every feature's effect must be equal. This part is bounded by
   ``--check-limit`` seconds (default 300) in all.

Report: per student the kind (light/browser), experiment, arrival time, seconds from opening to
results (or why not), the last status text seen; then finished count, median and max time to
results, errors shown to students, "Traceback"/"ERROR"/"Exception" in the server log, the
server's peak memory (VmHWM, and the peak of its sampled RSS with any children), and the goals:
all get results, 0 errors, identical numbers, peak < 1024 MB, max <= 60 s, median <= 25 s.
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

from rnnviz.config import Config  # noqa: E402
from rnnviz.hosting import HOSTED_BOUNDS  # noqa: E402
from rnnviz.rules import RULE_PRESETS  # noqa: E402

import st_client  # noqa: E402
from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, peak_rss_mb, running_app  # noqa: E402

TABLE = "Variable 1, perturbation effect:"
NUMBER = re.compile(r"Variable (\d+), perturbation effect: (-?\d+\.\d+)")
MAX_SESSIONS = 40
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


@dataclass
class Student:
    index: int
    kind: str  # "light" or "browser"
    rule: str
    seed: int
    arrival: float  # seconds after the class starts
    config: Config = field(repr=False)

    @property
    def experiment(self) -> str:
        what = f"preset {self.rule}" if self.rule in RULE_PRESETS else f"custom `{self.rule}`"
        return f"{what}, seed {self.seed}"

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
    n: int, window: float, browsers: int, jitter: float = 0.0, seed: int = 0
) -> list[Student]:
    """N students with different experiments, arriving over ``window`` seconds."""
    from rnnviz.data import make_split

    rng = random.Random(seed)
    slot = window / n
    presets = list(RULE_PRESETS)
    chosen = {round(j * n / browsers) for j in range(browsers)} if browsers else set()
    students = []
    for i in range(n):
        rule = presets[(i // 2) % len(presets)] if i % 2 == 0 else CUSTOM_RULES[i // 2]
        config = Config(rule=rule, seed=100 + i).validate(HOSTED_BOUNDS)
        share = make_split(config, "train").positive_share
        if not MIN_SHARE <= share <= 1 - MIN_SHARE:
            raise ValueError(f"rule {rule!r} gives {share:.0%} ones: pick one with both classes")
        arrival = i * slot + (rng.uniform(-jitter, jitter) * slot if jitter else 0.0)
        arrival = min(max(arrival, 0.0), window)
        kind = "browser" if i in chosen else "light"
        students.append(Student(i, kind, rule, 100 + i, round(arrival, 2), config))
    return students


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


async def sample_memory(pid: int, stop: asyncio.Event, peak: list[float]) -> None:
    """Peak RSS of the server and its children, sampled every half second."""
    while not stop.is_set():
        peak[0] = max(peak[0], tree_rss_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


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


def tree_rss_mb(pid: int) -> float:
    total, todo, seen = 0.0, [pid], set()
    while todo and len(seen) < 1000:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


async def run_class(url: str, pid: int, students: list[Student], limit: float):
    """Every student arrives at their time; returns (outcomes, wall seconds, sampled peak)."""
    run = Class(students, limit)
    peak = [0.0]
    n_browsers = sum(s.kind == "browser" for s in students)

    async def arrive(s: Student, browser) -> None:
        await asyncio.sleep(max(0.0, run.start + s.arrival - time.monotonic()))
        if s.kind == "browser":
            await browser_student(browser, url, s, run)
        else:
            await light_student(url, s, run)

    async def everyone(browser) -> None:
        run.start = time.monotonic()
        sampler = asyncio.create_task(sample_memory(pid, run.over, peak))
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
            await sampler

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
    return run.outcomes, time.monotonic() - start, peak[0]


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
    ap.add_argument("--sessions", type=bounded(1, MAX_SESSIONS), default=30, help="students")
    ap.add_argument(
        "--browsers", type=bounded(0, MAX_BROWSERS), default=3, help="students in Chromium"
    )
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
        "--limit", type=bounded(10, 1800, float), default=600.0, metavar="S",
        help="the class run stops S seconds after the first arrival",
    )  # fmt: skip
    ap.add_argument(
        "--warm", action="store_true",
        help="open the Learn page once before the class and wait until the server has "
        "imported TensorFlow",
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
    args.browsers = min(args.browsers, args.sessions)
    try:
        cpus(args.server_cpus), cpus(args.client_cpus)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        ap.error(str(exc))
    return args


def show(seconds: float | None) -> str:
    return f"{seconds:6.1f} s" if seconds is not None else "   -    "


def _children(pid: int) -> list[str]:
    """The process ids of ``pid``'s children (Linux /proc)."""
    found: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += task.read_text().split()
    return found


def wait_for_tensorflow(pid: int, limit: float = 90.0) -> tuple[float, bool]:
    """(seconds waited, whether it happened): until the server has TensorFlow loaded and is
    idle again, at most ``limit``.

    The server imports TensorFlow in the background once no page has run for a few seconds
    and hosted mode's warming has ended (``rnnviz.ui.cache.warm_tensorflow``): wait until its
    library is mapped into the process, then until the process uses under 10% of a core over
    half a second."""
    start = time.perf_counter()

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    try:
        while time.perf_counter() - start < limit:
            if b"_pywrap_tensorflow_internal" in Path(f"/proc/{pid}/maps").read_bytes():
                before = cpu_seconds()
                time.sleep(0.5)
                if cpu_seconds() - before < 0.05:
                    return time.perf_counter() - start, True
            else:
                time.sleep(0.5)
    except OSError:  # the server is gone
        pass
    return time.perf_counter() - start, False


def wait_for_warming(cache: Path, pid: int, limit: float) -> float:
    """Seconds until the cache holds every preset experiment and the server's warming process
    (``python -m rnnviz.warm``, started by hosted mode) has finished, at most ``limit``; then
    one more second for the server to idle."""
    from rnnviz.jobs import preset_experiments

    ids = [c.training_id() for c in preset_experiments()]
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if all((cache / i / "rnnviz-entry.json").is_file() for i in ids) and not _children(pid):
            break
        time.sleep(0.5)
    time.sleep(1.0)
    return time.perf_counter() - start


def main(argv=None) -> int:
    args = parse_args(argv)
    students = make_class(args.sessions, args.arrive_over, args.browsers, args.jitter, args.seed)
    if args.browsers and not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: use --browsers 0")
    print(
        f"class: {args.sessions} students ({args.browsers} in Chromium) over "
        f"{args.arrive_over:g} s; server on CPUs {args.server_cpus}, clients on CPUs "
        f"{args.client_cpus} at nice +{args.client_nice}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RNNVIZ_HOSTED": "1", "RNNVIZ_CACHE_DIR": str(Path(tmp) / "cache")}
        log_path = Path(tmp) / "server.log"
        os.sched_setaffinity(0, cpus(args.server_cpus))  # the server inherits this
        with running_app(log_path, env) as (url, proc):
            os.sched_setaffinity(0, cpus(args.client_cpus))
            os.nice(args.client_nice)
            if args.warm:
                warm = asyncio.run(st_client.visit(url, "learn", "", "", timeout=180, settle=170))
                print(
                    f"warm-up: the Learn page (trains nothing) finished: {warm.finished}, "
                    f"errors {len(warm.errors)}",
                    flush=True,
                )
                if args.warmed:  # the server imports TensorFlow once this warming has ended
                    waited = wait_for_warming(Path(tmp) / "cache", proc.pid, limit=300.0)
                    print(f"warm-up: every preset experiment trained after {waited:.1f} s")
                waited, loaded = wait_for_tensorflow(proc.pid, limit=120.0)
                print(
                    f"warm-up: TensorFlow loaded and the server idle after {waited:.1f} s"
                    if loaded
                    else f"warm-up: TensorFlow NOT loaded after {waited:.1f} s (hosted mode's "
                    "import waits for its warming: add --warmed)"
                )
            outcomes, wall, sampled = asyncio.run(run_class(url, proc.pid, students, args.limit))
            hwm = peak_rss_mb(proc.pid)
            threads = len(list(Path(f"/proc/{proc.pid}/task").iterdir()))
            print(
                f"pinning read back: the server's {threads} threads on CPUs "
                f"{' / '.join(sorted(thread_cpus(proc.pid)))}; clients on CPUs "
                f"{','.join(map(str, sorted(os.sched_getaffinity(0))))} at nice {os.nice(0)}"
            )
        log = log_path.read_text(errors="replace")
    checks = []
    if args.check_identical:
        checks = check_identical(
            students, outcomes, args.check_identical, args.server_cpus, args.check_limit
        )
    return report(args, students, outcomes, wall, hwm, sampled, log, checks)


def report(args, students, outcomes, wall, hwm, sampled, log, checks) -> int:
    print(f"\n{'#':>3} {'kind':8}{'arrival':>8} {'results':>9}  {'experiment':44} last status")
    for s in students:
        out = outcomes[s.index]
        print(f"{s.index:3d} {s.kind:8}{s.arrival:7.1f}s {show(out.seconds)}  {s.experiment:44} "
              f"{out.status or '-'}")  # fmt: skip
        if out.queue and out.queue != out.status:
            print(f"{'':13}  last queue status: {out.queue}")
        for text in [out.note, *out.errors]:
            if text:
                print(f"{'':13}! {' '.join(text.split())[:150]}")
    times = [o.seconds for o in outcomes.values() if o.seconds is not None]
    done = [s for s in students if outcomes[s.index].ok]
    shown = sum(len(o.errors) for o in outcomes.values())
    in_log = {word: log.count(word) for word in ("Traceback", "ERROR", "Exception")}
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
    print(f"server memory: peak VmHWM {hwm:.0f} MB; sampled RSS peak (with children) "
          f"{sampled:.0f} MB")  # fmt: skip
    same = None
    if checks:
        print("\nsame numbers as the experiment trained alone (python -m rnnviz --json):")
        for s, seen, lone, note in checks:
            verdict = "identical" if lone == seen else ("DIFFERENT" if lone else "not checked")
            print(f"{s.index:3d} {verdict:11} seen {' '.join(seen)}  alone "
                  f"{' '.join(lone or ['-'])}  {s.experiment}  {note}")  # fmt: skip
        same = all(lone == seen for _, seen, lone, _ in checks)
    goals = [
        ("all get results", len(done) == len(students)),
        ("0 errors (shown, server log)", shown == 0 and not any(in_log.values())),
        ("identical numbers", same),
        ("peak memory < 1024 MB", hwm < 1024),
        ("max time to results <= 60 s", longest is not None and longest <= 60),
        ("median time to results <= 25 s", median is not None and median <= 25),
    ]
    print("\ngoals:")
    for name, met in goals:
        print(f"  {'-- not checked' if met is None else 'met   ' if met else 'MISSED'}  {name}")
    return 0 if all(met is not False for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
