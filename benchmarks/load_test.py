"""Load test (run by hand; loopback only, bounded in count and time).

    python benchmarks/load_test.py [--sessions 5]

Starts the app in hosted mode with an empty cache, then drives N concurrent real browser
sessions (Debian's chromium, one context each) that each open a *different* small experiment's
per-feature page (so each needs its own training; hosted mode trains one at a time and queues
the rest) and wait for the results. Reports: sessions finished, time to results for each,
errors in the server log (goal 0), and the server's peak memory (goal < 1 GB).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, peak_rss_mb, running_app  # noqa: E402

TABLE = "Variable 1, perturbation effect:"
LIMIT_S = 600  # the whole test stops by then


async def session(browser, url: str, i: int) -> tuple[int, float | None, str]:
    from playwright.async_api import expect

    params = {"seed": str(100 + i), "n_train": "1500", "epochs": "3", "rule": "lagged"}
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    start = time.perf_counter()
    try:
        await page.goto(f"{url}/features?{urlencode(params)}")
        await expect(page.get_by_text(TABLE)).to_be_visible(timeout=LIMIT_S * 1000)
        await expect(page.locator(CHART).first).to_be_visible(timeout=60_000)
        seconds: float | None = time.perf_counter() - start
        note = "ok" if not errors else f"page errors: {errors[:2]}"
        if await page.get_by_text("Traceback").count():
            note = "traceback shown"
    except Exception as exc:  # reported, not raised: the other sessions go on
        seconds, note = None, f"failed: {type(exc).__name__}: {str(exc)[:120]}"
    await context.close()
    return i, seconds, note


async def drive(url: str, n: int) -> list[tuple[int, float | None, str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            return await asyncio.wait_for(
                asyncio.gather(*(session(browser, url, i) for i in range(n))), LIMIT_S + 60
            )
        finally:
            await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=5, choices=range(1, 11))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RNNVIZ_HOSTED": "1", "RNNVIZ_CACHE_DIR": str(Path(tmp) / "cache")}
        with running_app(Path(tmp) / "server.log", env) as (url, proc):
            start = time.perf_counter()
            results = asyncio.run(drive(url, args.sessions))
            wall = time.perf_counter() - start
            peak = peak_rss_mb(proc.pid)
        log = (Path(tmp) / "server.log").read_text()
    done = [r for r in results if r[1] is not None]
    for i, seconds, note in sorted(results):
        shown = f"{seconds:6.1f} s" if seconds is not None else "   -   "
        print(f"session {i}: time to results {shown}  {note}")
    errors = sum(log.count(word) for word in ("Traceback", "ERROR", "Exception"))
    print(f"finished: {len(done)} of {args.sessions} in {wall:.1f} s wall")
    print(f"errors in the server log: {errors}")
    print(f"peak server memory (VmHWM): {peak:.0f} MB (goal < 1024 MB)")


if __name__ == "__main__":
    main()
