"""Dashboard benchmark (run by hand): cold start, first visit with training, revisit, memory.

    python benchmarks/bench_app.py          # local mode, the steps below
    python benchmarks/bench_app.py --cold   # hosted mode: first paint of a cold server

In one run, against `streamlit run app.py` on a loopback port with an empty cache folder:
1. cold start: process start until the health endpoint answers;
2. first visit: a fresh browser opens the app (the default experiment trains on first load)
   until the per-feature chart and the thread's table are on screen;
3. revisit: a new browser context (a fresh tab: Streamlit's front end boots again) opens the
   same experiment's per-feature page, model and scores cached, until the chart is on screen;
   and, inside an open tab, switching from another page back to a cached experiment's
   per-feature and per-timestep pages (goal: every plot in under 1 s);
4. peak resident memory of the server process;
5. restart: the server is stopped and started again on the same cache folder (as a host that
   was restarted or woken), and a browser that never saw the app opens the cached
   experiment's per-feature page: seconds until the page's title shows (no blank page) and
   until the chart shows (goal <= 4 s); then a fresh tab of that browser (its HTTP cache holds
   the front end's scripts: goal <= 3 s), and another new browser.

``--cold`` (hosted mode, ``RNNVIZ_HOSTED=1``, its start-up warming on, as on a public host):
Chromium is started first, then the server on an empty cache folder (the clock runs from the
process start); as soon as it answers, a browser that never saw the app opens the root page:
seconds until its heading shows (first paint, goal <= 1.5 s), and the browser's own first
contentful paint (Streamlit's empty frame). Then the default experiment's per-feature page is
opened until its chart shows (it trains, at most ``--limit`` s). The server is stopped and
started again on the same cache, and a browser that never saw the app opens that cached
experiment's per-feature page: seconds until its title and its first chart show (goal <= 3 s).
For each server: its tree's peak PSS (server and every descendant, ``benchmarks/proctree.py``)
and the web server's own PSS at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, peak_rss_mb, running_app  # noqa: E402
from proctree import TreeSampler, end_leftovers  # noqa: E402

TABLE = "Variable 1, perturbation effect:"
FIRST_PAINT_GOAL_S = 1.5
RESTART_CHART_GOAL_S = 3.0
VIEWPORT = {"width": 1400, "height": 1000}


def visit(browser, url: str, limit: float = 300.0) -> float:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    expect(page.get_by_text(TABLE)).to_be_visible(timeout=limit * 1000)
    expect(page.locator(CHART).first).to_be_visible(timeout=60_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def restart_visit(context, url: str) -> tuple[float, float]:
    """Seconds until the per-feature page's title, and until its chart, in a new tab of
    ``context`` (a new context: a browser that never saw the app; the same one: a fresh tab of
    a browser that did, with its HTTP cache)."""
    from playwright.sync_api import expect

    page = context.new_page()
    start = time.perf_counter()
    page.goto(f"{url}/features")
    expect(page.get_by_role("heading", name="Per-feature effects").first).to_be_visible(
        timeout=120_000
    )
    title = time.perf_counter() - start
    expect(page.get_by_text(TABLE)).to_be_visible(timeout=120_000)
    expect(page.locator(CHART).first).to_be_visible(timeout=60_000)
    chart = time.perf_counter() - start
    page.close()
    return title, chart


def switch_back(browser, url: str) -> list[float]:
    """In one open tab: seconds from clicking a results page until all its charts show."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/learn")
    expect(page.locator(CHART).first).to_be_visible(timeout=120_000)
    times = []
    pages = (("Features", "Per-feature effects", 2), ("Timesteps", "Per-timestep effects", 3))
    for link, heading, charts in pages * 2:  # the navigation's short title, the page's heading
        page.get_by_role("link", name="Learn", exact=True).first.click()
        expect(page.get_by_role("heading", name="Learn").first).to_be_visible(timeout=60_000)
        start = time.perf_counter()
        page.get_by_role("link", name=link, exact=True).first.click()
        expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=60_000)
        expect(page.locator(CHART)).to_have_count(charts, timeout=60_000)
        times.append(round(time.perf_counter() - start, 2))
    context.close()
    return times


def first_paint(context, url: str, limit: float) -> tuple[float, float | None]:
    """(seconds until the root page's heading shows, the browser's first contentful paint in
    seconds or None) in a new tab of ``context``."""
    from playwright.sync_api import expect

    page = context.new_page()
    start = time.perf_counter()
    page.goto(url, timeout=limit * 1000)
    expect(page.get_by_role("heading").first).to_be_visible(timeout=limit * 1000)
    heading = time.perf_counter() - start
    fcp = page.evaluate(
        "() => { const e = performance.getEntriesByName('first-contentful-paint')[0];"
        " return e ? e.startTime / 1000 : null; }"
    )
    page.close()
    return heading, fcp


def stop(sampler: TreeSampler) -> tuple[float, float]:
    """Stop ``sampler``: (the tree's peak PSS, the web server's PSS now), MB."""
    end = sampler.stop()
    return sampler.peak("tree_pss"), end.server_pss if end is not None else float("nan")


def cold(limit: float) -> int:
    """Hosted mode: a cold server's first paint, then a cached experiment's first chart after
    a restart. Returns 1 when a goal is missed."""
    from playwright.sync_api import sync_playwright

    results: dict[str, float | None] = {}
    memory: list[tuple[str, float, float]] = []
    left: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        env = {"RNNVIZ_HOSTED": "1", "RNNVIZ_CACHE_DIR": str(Path(tmp) / "cache")}
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            start = time.perf_counter()
            with running_app(Path(tmp) / "server.log", env) as (url, proc):
                results["healthy"] = time.perf_counter() - start
                sampler = TreeSampler(proc.pid).start()
                context = browser.new_context(viewport=VIEWPORT)
                results["first paint"], results["browser fcp"] = first_paint(context, url, limit)
                context.close()
                results["first visit trains"] = visit(browser, f"{url}/features", limit)
                memory.append(("cold server", *stop(sampler)))
            left = end_leftovers(sampler.seen)  # what the stopped server started: not on
            with running_app(Path(tmp) / "server2.log", env) as (url, proc):
                sampler = TreeSampler(proc.pid).start()
                context = browser.new_context(viewport=VIEWPORT)
                results["restart title"], results["restart chart"] = restart_visit(context, url)
                context.close()
                memory.append(("restarted", *stop(sampler)))
            left += end_leftovers(sampler.seen)
        finally:
            browser.close()
        log = (Path(tmp) / "server.log").read_text() + (Path(tmp) / "server2.log").read_text()
    fcp = results["browser fcp"]
    print("hosted mode, cold server on an empty cache folder:")
    print(f"  process start to healthy                 : {results['healthy']:6.2f} s")
    fcp_text = "-" if fcp is None else f"{fcp:.2f} s"
    print(f"  first paint, root page's heading         : {results['first paint']:6.2f} s  "
          f"(browser's first contentful paint: {fcp_text})")  # fmt: skip
    print(f"  the default experiment trained and drawn : {results['first visit trains']:6.2f} s")
    print("after a restart on that cache, a browser that never saw the app:")
    print(f"  the cached experiment's title            : {results['restart title']:6.2f} s")
    print(f"  the cached experiment's first chart      : {results['restart chart']:6.2f} s")
    for name, peak, end in memory:
        print(f"memory, {name}: tree PSS peak {peak:.0f} MB, web server PSS at the end "
              f"{end:.0f} MB")  # fmt: skip
    print(f"tracebacks in the server logs: {log.count('Traceback')}")
    if left:
        print(f"the servers left {len(left)} processes running when stopped (ended then):")
        print("\n".join(f"  {line}" for line in left))
    goals = [
        (f"first paint <= {FIRST_PAINT_GOAL_S:g} s", results["first paint"] <= FIRST_PAINT_GOAL_S),
        (
            f"a cached experiment's first chart after a restart <= {RESTART_CHART_GOAL_S:g} s",
            results["restart chart"] <= RESTART_CHART_GOAL_S,
        ),
        ("no traceback in the server logs", "Traceback" not in log),
    ]
    print("\ngoals:")
    for name, met in goals:
        print(f"  {'met   ' if met else 'MISSED'}  {name}")
    return 0 if all(met for _, met in goals) else 1


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {"RNNVIZ_CACHE_DIR": str(Path(tmp) / "cache")}
        start = time.perf_counter()
        with running_app(Path(tmp) / "server.log", env) as (url, proc):
            cold = time.perf_counter() - start
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                first = visit(browser, f"{url}/features")
                revisits = [visit(browser, f"{url}/features") for _ in range(3)]
                switches = switch_back(browser, url)
                browser.close()
            peak = peak_rss_mb(proc.pid)
        with running_app(Path(tmp) / "server2.log", env) as (url, proc):
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                restarted = restart_visit(context, url)  # a browser that never saw the app
                again = restart_visit(context, url)  # a fresh tab of the same browser
                other = restart_visit(
                    browser.new_context(viewport={"width": 1400, "height": 1000}), url
                )  # another visitor's browser
                browser.close()
            restart_peak = peak_rss_mb(proc.pid)
        log = (Path(tmp) / "server.log").read_text() + (Path(tmp) / "server2.log").read_text()
    print(f"cold start (process to healthy)          : {cold:6.2f} s")
    print(f"first visit, default experiment trained  : {first:6.2f} s")
    print(f"revisit, cached (best of 3, whole page)  : {min(revisits):6.2f} s  {revisits}")
    print(f"page switch in an open tab, cached (s)   : {switches}")
    print(f"peak server memory (VmHWM)               : {peak:6.0f} MB")
    print(
        f"after a restart, cached experiment: title: {restarted[0]:6.2f} s, chart: "
        f"{restarted[1]:6.2f} s (goal <= 4 s)"
    )
    print(
        f"after a restart, a fresh tab of that browser: title: {again[0]:6.2f} s, chart: "
        f"{again[1]:6.2f} s (goal <= 3 s)"
    )
    print(f"after a restart, another new browser: title {other[0]:.2f} s, chart {other[1]:.2f} s")
    print(f"peak memory of the restarted server      : {restart_peak:6.0f} MB")
    print(f"tracebacks in the server log             : {log.count('Traceback')}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cold", action="store_true", help="hosted mode: a cold server's first paint")
    ap.add_argument(
        "--limit", type=float, default=300.0, metavar="S",
        help="with --cold: the longest wait for one page (10 to 600 s)",
    )  # fmt: skip
    args = ap.parse_args()
    if not 10 <= args.limit <= 600:
        ap.error("--limit must be in [10, 600]")
    if args.cold:
        sys.exit(cold(args.limit))
    main()
