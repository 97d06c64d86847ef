"""Every titled figure, drawn by plotly.js in Chromium at the widths the app gives it: no text
cut at the chart's edge, no title, subtitle, axis title, panel title or legend entry on another,
no tick label under a label or on its neighbour (``layoutcheck``).

Each builder's figure is drawn alone in a plain page (plotly.min.js from plotly's own Python
package, Streamlit's chart theme copied below, its Source Sans font from Streamlit's package),
much faster than driving the app: at phone width (a 390 px screen leaves a chart 358 px) and at
the widths a 1400 px screen gives it (a column of 415-623 px, or the full 940 px). The whole app
is checked at both widths by ``test_browser``. Screenshots: ``artifacts/figure_<case>_<px>.png``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import plotly
import pytest

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.comparison import Comparison
from rnnviz.attr.interactions import InteractionResult
from rnnviz.attr.scoring import PerturbationResult
from rnnviz.report import plots, plots_training
from rnnviz.training.snapshots import Snapshot

from apptools import CHROMIUM, CHROMIUM_ARGS, ROOT
from layoutcheck import GEOMETRY, problems

ARTIFACTS = ROOT / "artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]
PHONE = 358  # px: a chart's width on a 390 px screen
COLUMN, NOTE_COLUMN, FULL = 460, 623, 940  # px on a 1400 px screen: beside a note, or alone
REPLAY, LIVE = 546, 430  # the replay beside its reading; the live snapshot in the result column
DESKTOP = (COLUMN, NOTE_COLUMN, FULL)

# Streamlit's chart theme (theme="streamlit", its PlotlyChart CustomTheme): the defaults the
# app's charts are drawn with, in px; the figure's own layout wins where it sets a value.
FONT = '"Source Sans", sans-serif'
THEME = {
    "font": {"family": FONT, "size": 12, "color": "#808495"},
    "title": {"font": {"family": FONT, "size": 16, "color": "#2F2D2B"}, "pad": {"l": 4}},
    "legend": {
        "title": {"font": {"size": 12}, "side": "top"},
        "valign": "top",
        "font": {"size": 12},
    },
    "xaxis": {
        "showgrid": False,
        "zeroline": False,
        "automargin": True,
        "tickfont": {"size": 12},
        "title": {"font": {"size": 14}, "standoff": 20},
    },
    "yaxis": {
        "automargin": True,
        "ticklabelposition": "outside",
        "tickfont": {"size": 12},
        "title": {"font": {"size": 14}, "standoff": 24},
    },
    "margin": {"pad": 8, "r": 0, "l": 0},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
}
DRAW = """async ([spec, width, theme]) => {
  const fig = JSON.parse(spec);
  const layout = fig.layout || {};
  layout.template = {data: (layout.template || {}).data || {}, layout: theme};
  const title = typeof layout.title === 'string' ? {text: layout.title} : (layout.title || {});
  if (title.text) layout.title = {...title, text: `<b>${title.text}</b>`, x: 0, xanchor: 'left'};
  const div = document.getElementById('chart');
  div.style.width = width + 'px';
  div.style.height = (layout.height || 450) + 'px';
  Plotly.purge(div);
  await Plotly.newPlot(div, fig.data, layout, {displayModeBar: false});
  if (fig.frames) await Plotly.addFrames(div, fig.frames);
}"""


def _font_face() -> str:
    """Streamlit's Source Sans, inlined (a plain page cannot load it from the package folder)."""
    import streamlit

    media = Path(streamlit.__file__).parent / "static" / "static" / "media"
    found = sorted(media.glob("SourceSansVF-Upright*.woff2"))
    if not found:
        return ""
    data = base64.b64encode(found[0].read_bytes()).decode()
    return (
        "@font-face{font-family:'Source Sans';font-weight:200 900;"
        f"src:url(data:font/woff2;base64,{data}) format('woff2');}}"
    )


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    script = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.set_content(
            f"<html><head><style>{_font_face()} body{{margin:0;background:#fff}}</style></head>"
            "<body><div id='chart'></div></body></html>"
        )
        page.add_script_tag(path=str(script))
        page.evaluate(f"() => document.fonts.load('16px {FONT}')")
        try:
            yield page
        finally:
            browser.close()


def draw(page, fig, width: int, name: str) -> list[str]:
    """Draw ``fig`` ``width`` px wide; what is unreadable in it (and a screenshot)."""
    page.evaluate(DRAW, [fig.to_json(), width, THEME])
    (chart,) = page.evaluate(GEOMETRY, None)
    page.locator("#chart").screenshot(path=str(ARTIFACTS / f"figure_{name}_{width}.png"))
    return problems(chart, f"{name} at {width} px: ")


# --------------------------------------------------------------------------- the figures

NAMES = ("x1", "x2", "x3")
SERIES = ("precipitation", "temp_max", "temp_min", "wind")  # the longest real names


def _scores(names=NAMES, steps: int = 10, both_ways: bool = False) -> PerturbationResult:
    rng = np.random.default_rng(0)
    f = len(names)
    response = rng.random((f, steps, steps, 3)) * 0.3
    if not both_ways:
        for s in range(steps):
            response[:, s, :s, :] = 0.0
    response[:, :, :2, :] = np.nan  # a lagged rule: outputs 0 and 1 have no target
    counts = np.array([0, 0] + [250] * (steps - 2))
    importances = rng.random((f, 3)) * 0.3
    return PerturbationResult(0.2, tuple(names), importances, response, counts)


def _comparison(methods: tuple[str, ...], names=NAMES) -> Comparison:
    rng = np.random.default_rng(1)
    attrs = {m: Attribution(m, tuple(names), rng.random((len(names), 3))) for m in methods}
    rho = np.round(rng.uniform(-1, 1, (len(methods), len(methods))), 2)
    rho = (rho + rho.T) / 2
    np.fill_diagonal(rho, 1.0)
    return Comparison(methods, attrs, {}, rho, dict.fromkeys(methods, 0.1))


FIRST = ("perturbation", "permutation", "saliency", "connection_weights", "random")
ALL = (
    "perturbation",
    "sigma_sweep",
    "ablation",
    "permutation",
    "saliency",
    "integrated_gradients",
    "connection_weights",
    "garson",
    "lek",
    "stepwise",
    "tsr:perturbation",
    "random",
)


def _with_curves(methods: tuple[str, ...], metric: str = "accuracy") -> Comparison:
    """A comparison whose methods carry deletion and insertion curves (weights: feature grain)."""
    from rnnviz.attr.faithfulness import Curves

    base = _comparison(methods)
    rng = np.random.default_rng(3)
    curves = {}
    for k, m in enumerate(methods):
        grain = "feature" if m in ("connection_weights", "garson", "lek", "stepwise") else "cell"
        units = 3 if grain == "feature" else 60
        shares = np.unique(np.rint(np.linspace(0, 1, 14) * units)) / units
        drop = np.exp(-shares * (2 + k / 2))
        full, empty = (0.97, 0.5) if metric == "accuracy" else (0.87, -0.05)
        line = empty + (full - empty) * drop
        rise = full - (full - empty) * np.exp(-shares * (1 + k / 3))
        random = np.stack(
            [
                empty + (full - empty) * (1 - shares) + rng.normal(0, 0.01, len(shares))
                for _ in range(3)
            ]
        )
        curves[m] = Curves(
            m, grain, metric, units, shares, line, rise, random, full + empty - random
        )
    return Comparison(
        base.methods, base.attributions, {}, base.rank_agreement, base.seconds, None, curves
    )


def _lek(names=NAMES) -> Attribution:
    f = len(names)
    grid = np.tile(np.linspace(0.0002, 0.9996, 20), (f, 1))
    curves = np.clip(np.linspace(0, 1, 20)[None, None, :] * np.ones((f, 5, 1)), 0, 1)
    extra = {"grid": grid, "curves": curves, "quantiles": (0.0, 0.25, 0.5, 0.75, 1.0)}
    return Attribution("lek", tuple(names), np.ones((f, 1)), extra=extra)


def _sweep(names=NAMES) -> Attribution:
    f = len(names)
    sigmas = np.array([0.05, 0.1, 0.2, 0.4, 0.8])
    curves = np.linspace(0.01, 0.6, 5)[None, :] * np.linspace(1, 0.1, f)[:, None]
    extra = {"sigmas": sigmas, "curves": curves, "curves_std": curves / 20, "sigma": 0.2}
    return Attribution("sigma_sweep", tuple(names), curves[:, 2:3], extra=extra)


def _interactions(names=NAMES) -> InteractionResult:
    f = len(names)
    rng = np.random.default_rng(2)
    pairs = rng.random((5, f, f)) * 0.3
    pairs = (pairs + pairs.transpose(0, 2, 1)) / 2
    pairs[:, np.arange(f), np.arange(f)] = np.nan
    return InteractionResult(0.2, tuple(names), pairs, rng.random((5, f)) * 0.3)


def _snapshots(
    steps: int = 69, k: int = 20, seq_len: int = 10, scale: float = 1.0
) -> list[Snapshot]:
    """A training's snapshots; ``scale`` < 1: one that barely learned (long tick labels)."""
    out = []
    for i in range(k):
        by_lag = np.zeros((3, 2 * seq_len - 1))
        by_lag[:, seq_len - 1] = np.array([0.3 * i / k, 0.18 * i / k, 0.01]) * scale
        by_lag[:, :3] = 1e-8  # float noise at negative lags, as a causal model's snapshots have
        out.append(
            Snapshot(
                step=round(i * steps / (k - 1)),
                epoch=i * 3 / (k - 1),
                loss=0.7 - 0.6 * i / k,
                accuracy=0.5 + 0.4 * i / k,
                train_loss=None if i == 0 else 0.6,
                effects=np.array([0.34 * i / k, 0.31 * i / k, 0.006]) * scale,
                by_lag=by_lag,
                sequences=36,
                sigma=0.2,
            )
        )
    return out


def _small(fig, height: int = 360):
    fig.update_layout(height=height)  # the Learn page's example plots
    return fig


TRUTH = {(0, 0), (1, 0)}


def cases() -> dict[str, tuple]:
    """name -> (figure built for the narrow widths, for the wide widths, narrow widths, wide
    widths). A builder with a ``narrow`` layout (``plots.WIDE_FROM_PX``) is drawn narrow up to
    its breakpoint and wide from there on: the page shows the one that fits."""
    lagged = _scores()
    series = _scores(SERIES, steps=28)
    history = {"loss": [0.6, 0.3, 0.1], "val_loss": [0.5, 0.2, 0.08]}

    def same(build, widths=DESKTOP):
        return (build, build, (PHONE,), widths)

    def twin(builder, *args, widths=DESKTOP):
        wide_from = plots.WIDE_FROM_PX[builder]
        build = getattr(plots, builder)
        return (
            lambda: build(*args, narrow=True),
            lambda: build(*args),
            (PHONE, wide_from - 1),
            (wide_from, *(w for w in widths if w > wide_from)),
        )

    return {
        "feature_bars": same(lambda: plots.feature_bars(lagged, {0, 1})),
        "feature_bars_series": same(lambda: plots.feature_bars(series, None)),
        "timestep_heatmap": same(lambda: plots.timestep_heatmap(lagged, TRUTH)),
        "timestep_heatmap_series": same(lambda: plots.timestep_heatmap(series, None)),
        "days_back_heatmap": same(lambda: plots.days_back_heatmap(series)),
        "response_map": same(lambda: plots.response_map(lagged, 0, {(0, 2)})),
        "lag_profile": same(lambda: plots.lag_profile(lagged, {(0, 2)})),
        "lag_profile_both_ways": same(lambda: plots.lag_profile(_scores(both_ways=True), TRUTH)),
        "lag_profile_small": same(lambda: _small(plots.lag_profile(lagged, {(0, 2)}))),
        "training_curve": same(lambda: plots.training_curve(history)),
        "interaction_heatmap": same(lambda: plots.interaction_heatmap(_interactions(), [(0, 1)])),
        "interaction_heatmap_series": same(
            lambda: plots.interaction_heatmap(_interactions(SERIES))
        ),
        "method_multiples": twin("method_multiples", _comparison(FIRST), {0}, widths=(FULL,)),
        "method_multiples_all": twin("method_multiples", _comparison(ALL), {0}, widths=(FULL,)),
        "method_multiples_series": twin(
            "method_multiples", _comparison(FIRST, SERIES), [], widths=(FULL,)
        ),
        "agreement_heatmap": twin("agreement_heatmap", _comparison(FIRST), widths=(NOTE_COLUMN,)),
        "agreement_heatmap_all": twin("agreement_heatmap", _comparison(ALL), widths=(NOTE_COLUMN,)),
        "faithfulness_curves": twin(
            "faithfulness_curves", _with_curves(FIRST), widths=(NOTE_COLUMN, FULL)
        ),
        "faithfulness_curves_all": twin(
            "faithfulness_curves", _with_curves(ALL, "r2"), widths=(NOTE_COLUMN, FULL)
        ),
        "lek_profiles": twin("lek_profiles", _lek(), {0}, widths=(NOTE_COLUMN, FULL)),
        "lek_profiles_series": twin("lek_profiles", _lek(SERIES), None, widths=(FULL,)),
        "sigma_sweep_curves": twin("sigma_sweep_curves", _sweep(), {0}, widths=(NOTE_COLUMN, FULL)),
        "sigma_sweep_series": twin("sigma_sweep_curves", _sweep(SERIES), None, widths=(FULL,)),
        "snapshot_now": same(
            lambda: plots_training.snapshot_now(_snapshots()[-1], truth=TRUTH), (LIVE, FULL)
        ),
        "snapshot_replay": same(
            lambda: plots_training.snapshot_replay(_snapshots(), truth=TRUTH, final=lagged),
            (REPLAY,),
        ),
        "snapshot_replay_untrained": same(
            lambda: plots_training.snapshot_replay(
                _snapshots(steps=4, k=5, seq_len=5, scale=0.025), truth=TRUTH
            ),
            (REPLAY,),
        ),
        "snapshot_replay_both_ways": same(
            lambda: plots_training.snapshot_replay(_snapshots(), reads_ahead=True), (REPLAY,)
        ),
    }


CASES = cases()


@pytest.mark.parametrize("name", list(CASES))
def test_figure_reads_at_phone_and_desktop_width(page, name):
    narrow, wide, narrow_widths, wide_widths = CASES[name]
    found = []
    for width in narrow_widths:
        found += draw(page, narrow(), width, name)
    for width in wide_widths:
        found += draw(page, wide(), width, name)
    assert not found, "\n".join([*found[:12], f"({len(found)} problems)"])


def test_the_harness_sees_an_overlap(page):
    """A figure whose subtitle sits on its plot's top tick label is caught (the check can fail)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))
    fig.update_layout(
        title={"text": "t", "subtitle": {"text": "a long subtitle " * 3}},
        margin={"t": 30, "l": 40, "r": 10, "b": 30},
        yaxis={"range": [0, 1]},
    )
    found = draw(page, fig, PHONE, "harness_check")
    assert found and any("overlaps" in f or "cut" in f for f in found), found
    assert json.loads(fig.to_json())["layout"]["title"]["text"] == "t"
