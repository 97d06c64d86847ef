"""One real-browser test: `streamlit run app.py` on a loopback port, driven by headless Chromium.

Uses the system Chromium (/usr/bin/chromium); nothing is downloaded and no network beyond
loopback is used. The screenshot is written to ``artifacts/`` at the repo root (git-ignored).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TINY = {
    "seq_len": "5",
    "n_train": "300",
    "n_val": "100",
    "n_score": "40",
    "epochs": "2",
    "n_repeats": "2",
}
CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy at {url}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {
        **os.environ,
        "RNNVIZ_CACHE_DIR": str(tmp_path_factory.mktemp("rnnviz_cache")),
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_browser_trains_and_shows_plotly_charts(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # The shared link of a tiny experiment: the setup page trains it on load.
            page.goto(f"{server}/?{urlencode(TINY)}")
            expect(page.get_by_text("Training curve")).to_be_visible(timeout=120_000)
            expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
            assert page.get_by_text("Traceback").count() == 0
            page.screenshot(path=str(ARTIFACTS / "browser_setup.png"))

            page.get_by_role("link", name="Per-feature effects").first.click()
            expect(page.get_by_text("Variable 1, perturbation effect:")).to_be_visible(
                timeout=60_000
            )
            expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
            assert page.locator(CHART).count() == 1
            # the bars carry the scores of the three features
            assert page.locator(f"{CHART} .point").count() >= 3
            assert "seq_len=5" in page.url  # the experiment stays in the shareable URL
            assert page.get_by_text("Traceback").count() == 0
            page.screenshot(path=str(ARTIFACTS / "browser_features.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    assert (ARTIFACTS / "browser_features.png").stat().st_size > 10_000
