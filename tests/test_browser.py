"""Real-browser tests: `streamlit run app.py` on a loopback port, driven by headless Chromium.

Uses the system Chromium (/usr/bin/chromium); nothing is downloaded and no network beyond
loopback is used. One server and one browser serve every test of the module, and the tiny
experiment is trained once (the first test to open it trains it; the rest read the cache).
Screenshots are written to ``artifacts/`` at the repo root (git-ignored): ``browser_*.png`` and,
for the layout checks, ``layout_<page>_<width>.png`` of each page's whole height.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from apptools import CHART, CHROMIUM, CHROMIUM_ARGS, ROOT, TINY, running_app
from layoutcheck import GEOMETRY, problems

ARTIFACTS = ROOT / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]
NAV = ("Setup", "Features", "Timesteps", "Compare", "Sequence", "Your model", "Learn", "Lessons")
# url path -> (page title, charts and tables drawn with the tiny experiment; of a chart drawn
# wide and narrow, only the one that fits its width is shown and counted)
LAYOUT_PAGES = {
    "setup": ("Setup & train", 1, 0),
    "features": ("Per-feature effects", 2, 1),  # bars, interaction heatmap
    "timesteps": ("Per-timestep effects", 3, 0),
    "compare": ("Compare methods", 3, 0),  # small multiples, agreement heatmap, deletion curves
    "sequence": ("One sequence", 1, 0),  # inputs over the signed effect strip, the outputs
    "learn": ("Learn: reading a recurrent network by nudging its inputs", 5, 0),  # and replay
}
# Every element drawn: no placeholder left while a lazily loaded element arrives.
DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]')"""
WIDTHS = {"phone": (390, 844), "desktop": (1400, 900)}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {"RNNVIZ_CACHE_DIR": str(tmp_path_factory.mktemp("rnnviz_cache"))}
    with running_app(log, env) as (url, _proc):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_real_browser_trains_and_shows_plotly_charts(server, browser):
    from playwright.sync_api import expect

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
    expect(page.get_by_text("Variable 1, perturbation effect:")).to_be_visible(timeout=60_000)
    expect(page.locator(CHART).first).to_be_visible(timeout=30_000)
    assert page.locator(CHART).count() == 2  # bars, interaction heatmap
    # the bars carry the scores of the three features
    assert page.locator(f"{CHART} .point").count() >= 3
    assert "seq_len=5" in page.url  # the experiment stays in the shareable URL
    assert page.get_by_text("Traceback").count() == 0
    page.screenshot(path=str(ARTIFACTS / "browser_features.png"), full_page=True)
    assert not errors, errors
    page.close()
    assert (ARTIFACTS / "browser_features.png").stat().st_size > 10_000


# Boxes are [left, top, right, bottom] in CSS pixels. Charts: layoutcheck.GEOMETRY.
PAGE_GEOMETRY = """() => {
  const box = e => {
    const b = e.getBoundingClientRect();
    return [b.left, b.top, b.right, b.bottom];
  };
  const charts = [...document.querySelectorAll('.js-plotly-plot')]
    .filter(c => c.offsetParent !== null).map(c => ({
      titles: [...c.querySelectorAll('.gtitle, .gtitle-subtitle')]
        .map(t => [t.textContent, box(t)]),
      modebars: [...c.querySelectorAll('.modebar')].map(box),
    }));
  const grids = '[data-testid="stTable"], [data-testid="stDataFrame"]';
  const tables = [...document.querySelectorAll(grids)].filter(t => t.checkVisibility())
    .map(t => {
      const inner = t.querySelector('table') || t.querySelector('.dvn-scroller') || t;
      return {
        scrollWidth: inner.scrollWidth, width: t.clientWidth,
        headers: [...t.querySelectorAll('th')]
          .map(h => [h.textContent, h.scrollWidth, h.clientWidth]),
      };
    });
  const main = document.querySelector('[data-testid="stMain"]');
  const links = [...main.querySelectorAll('a')].filter(a => a.offsetParent !== null)
    .map(a => [a.textContent, box(a)]);
  return {charts, tables, links, height: main.scrollHeight};
}"""


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


SETTLED = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(c => c.offsetParent !== null).every(c => {
    const svg = c.querySelector('.main-svg');
    return svg && Math.abs(svg.getBoundingClientRect().width - c.getBoundingClientRect().width) < 2;
  })"""


def check_layout(page, path: str, size: str, n_charts: int, n_tables: int) -> dict:
    """The page at this width: charts readable (layoutcheck: no title, subtitle, axis title,
    panel title or legend entry cut or on another, tick labels apart; titles clear of the
    toolbar), tables not cut, and the page links where needed."""
    from playwright.sync_api import expect

    width, height = WIDTHS[size]
    page.set_viewport_size({"width": width, "height": height})
    # Every chart redrawn at its new width, and the page still: the sidebar slides in or out
    # when the width crosses Streamlit's breakpoint, moving the charts under a measurement
    # (read twice in a row alike, 300 ms apart, within about 10 s).
    charts = None
    for _ in range(30):
        page.wait_for_timeout(300)
        page.wait_for_function(SETTLED, timeout=10_000)
        again = page.evaluate(GEOMETRY, None)
        if again == charts:
            break
        charts = again
    geometry = page.evaluate(PAGE_GEOMETRY)
    where = (path, size)
    assert len(geometry["charts"]) == len(charts) == n_charts, (*where, len(charts))
    assert len(geometry["tables"]) == n_tables, where
    unreadable = [p for chart in charts for p in problems(chart, f"{path} at {width} px: ")]
    if unreadable:  # the page as it failed, for a look
        page.set_viewport_size({"width": width, "height": int(geometry["height"]) + 40})
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / f"layout_{path}_{width}_unreadable.png"))
    assert not unreadable, "\n".join(unreadable)
    for chart in geometry["charts"]:
        for text, box in chart["titles"]:
            for bar in chart["modebars"]:
                assert not overlap(box, bar), (*where, text, "under the toolbar")
    for table in geometry["tables"]:
        assert table["scrollWidth"] <= table["width"] + 1, (*where, table)
        for text, scroll, client in table["headers"]:
            assert scroll <= client + 1, (*where, text, "header cut off")
    # links in the page itself (not the top bar or the sidebar); their text ends with the label
    on_screen = {text for text, box in geometry["links"] if box[3] <= height}
    if size == "phone":  # the top navigation is folded into the (closed) sidebar
        for name in NAV:
            assert any(text.endswith(name) for text in on_screen), (*where, name, on_screen)
    else:  # the top navigation shows them; the page does not repeat them
        for name in NAV:  # all of them, none folded into "more"
            expect(page.get_by_role("link", name=name, exact=True).first).to_be_visible()
        assert not any(text.endswith("Learn") for text, _ in geometry["links"]), where
    return geometry


def test_pages_read_well_at_phone_and_desktop_width(server, browser):
    """Each page opened by its own path with a config (/setup?... too), checked at phone and
    at desktop width (see check_layout): the compare page's small multiples and agreement
    heatmap and the learn page's training replay among them; a screenshot of its whole height
    at each width."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": WIDTHS["phone"][0], "height": WIDTHS["phone"][1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    for path, (title, n_charts, n_tables) in LAYOUT_PAGES.items():
        page.goto(f"{server}/{path}?{urlencode(TINY)}")
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=120_000)
        page.wait_for_function(
            f"[...document.querySelectorAll('{CHART} .gtitle')]"
            f".filter(t => t.closest('.js-plotly-plot').offsetParent).length >= {n_charts}",
            timeout=120_000,
        )
        page.wait_for_function(DRAWN, timeout=30_000)
        assert page.get_by_text("Page not found").count() == 0, path
        for size in WIDTHS:
            geometry = check_layout(page, path, size, n_charts, n_tables)
            width = WIDTHS[size][0]
            page.set_viewport_size({"width": width, "height": int(geometry["height"]) + 40})
            page.screenshot(path=str(ARTIFACTS / f"layout_{path}_{width}.png"))
        page.set_viewport_size({"width": WIDTHS["phone"][0], "height": WIDTHS["phone"][1]})
    assert not errors, errors
    page.close()


def test_user_text_shows_literally(server, browser):
    """A link with a hostile rule: the error box shows every character, no markup made of it."""
    from playwright.sync_api import expect

    rule = "__import__('os') *x* <b>b</b> $x$ `x` :material/home: [a](b)"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server}/learn?{urlencode({'rule': rule})}")
    error = page.locator('[data-testid="stAlertContentError"]').first
    expect(error).to_be_visible(timeout=60_000)
    first = error.locator("p").first
    assert "unknown function '__import__'" in first.inner_text()
    assert first.locator("strong").count() == 1  # the title; nothing else is bold
    assert first.locator("em, code, a, .katex, [role=img]").count() == 0
    pointer = error.locator("pre").first.inner_text().replace("\u2060", "")
    assert rule in pointer and pointer.index("^") >= 0
    page.close()


def test_a_lesson_walked_end_to_end(server, browser):
    """A student opens a lesson's own link, commits to a guess, reveals, and sees the reading
    and the verdict on their guess drawn from the trained experiment."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/lessons?lesson=memory")
    expect(page.get_by_role("heading", name="Memory and lags")).to_be_visible(timeout=120_000)
    reveal = page.get_by_role("button", name="Open the experiment and reveal")
    expect(reveal).to_be_disabled()  # a guess first
    page.get_by_text("1 step", exact=True).click()
    expect(reveal).to_be_enabled()
    reveal.click()
    expect(page.get_by_text("What the numbers say.")).to_be_visible(timeout=120_000)
    page.wait_for_function(f"document.querySelectorAll('{CHART} .gtitle').length >= 1")
    said = page.get_by_text("You guessed “1 step”").inner_text()
    assert "the model shows" in said  # right or not, the verdict names the model's answer
    reading = page.locator("p", has_text="What the numbers say.").first.inner_text()
    assert "moves the output" in reading
    assert "lesson=memory" in page.url  # the lesson keeps its own link
    page.screenshot(path=str(ARTIFACTS / "lesson_memory.png"), full_page=True)
    assert not errors, errors
    page.close()
