"""Dashboard benchmark (run by hand): cold start, first visit with training, revisit, memory.

    python benchmarks/bench_app.py

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
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, peak_rss_mb, running_app  # noqa: E402

TABLE = "Variable 1, perturbation effect:"


def visit(browser, url: str) -> float:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    expect(page.get_by_text(TABLE)).to_be_visible(timeout=300_000)
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
    main()
