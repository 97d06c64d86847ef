"""One real-browser test: `streamlit run app.py` on a loopback port, driven by headless Chromium.

Uses the system Chromium (/usr/bin/chromium); nothing is downloaded and no network beyond
loopback is used. The screenshot is written to ``artifacts/`` at the repo root (git-ignored).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, ROOT, TINY, running_app

ARTIFACTS = ROOT / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {"RNNVIZ_CACHE_DIR": str(tmp_path_factory.mktemp("rnnviz_cache"))}
    with running_app(log, env) as (url, _proc):
        yield url


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
