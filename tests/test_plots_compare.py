"""The compare-page plot builders draw exactly the numbers of hand-made Attributions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.comparison import Comparison, normalised_scores
from rnnviz.attr.registry import METHODS, method_label
from rnnviz.report import plots

NAMES = ("x1", "x2", "x3")


def make_comparison() -> Comparison:
    attrs = {
        "perturbation": Attribution(
            "perturbation", NAMES, np.array([[0.10, 0.14], [0.20, 0.24], [0.01, 0.03]])
        ),
        "garson": Attribution("garson", NAMES, np.array([[0.5], [0.1], [0.4]])),
        "stepwise": Attribution("stepwise", NAMES, np.array([[0.3], [0.6], [-0.15]])),
        "random": Attribution("random", NAMES, np.array([[0.0], [0.0], [0.0]])),
    }
    rho = np.array(
        [
            [1.0, 0.5, 1.0, np.nan],
            [0.5, 1.0, 0.5, np.nan],
            [1.0, 0.5, 1.0, np.nan],
            [np.nan, np.nan, np.nan, 1.0],
        ]
    )
    return Comparison(tuple(attrs), attrs, {}, rho, dict.fromkeys(attrs, 0.1))


@pytest.fixture
def comparison() -> Comparison:
    return make_comparison()


METHOD_KEYS = tuple(METHODS)


def _comparison_of(methods: tuple[str, ...]) -> Comparison:
    attrs = {m: Attribution(m, NAMES, np.array([[0.3], [0.2], [0.1]])) for m in methods}
    rho = np.ones((len(methods), len(methods)))
    return Comparison(methods, attrs, {}, rho, dict.fromkeys(methods, 0.1))


def _panel_bars(fig: go.Figure, axis: str) -> dict[str, go.Bar]:
    return {t.name: t for t in fig.data if isinstance(t, go.Bar) and t.xaxis == axis}


def test_normalised_scores_divide_by_the_largest():
    norm, scale = normalised_scores(np.array([0.1, 0.2, 0.05]))
    np.testing.assert_allclose(norm, [0.5, 1.0, 0.25])
    assert scale == pytest.approx(0.2)
    norm, scale = normalised_scores(np.zeros(3))
    assert scale == 0.0 and not norm.any()
    norm, _ = normalised_scores(np.array([0.3, -0.6]))  # signs kept (stepwise)
    np.testing.assert_allclose(norm, [0.5, -1.0])


def test_method_label_names_tsr():
    assert method_label("garson") == "Garson's algorithm"
    assert method_label("tsr:perturbation") == "TSR on Input perturbation (noise)"


def test_method_multiples_one_normalised_panel_per_method(comparison):
    fig = plots.method_multiples(comparison, truth_features={0, 1}, columns=2)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [
        "Input perturbation<br>(noise)",
        "Garson's algorithm",
        "Backward stepwise<br>elimination",
        "Random scores<br>(chance)",
    ]
    # panel 1 (perturbation): means 0.12, 0.22, 0.02 divided by 0.22; std whiskers too
    bars = _panel_bars(fig, "x")
    used, other = bars["used by the rule"], bars["not used by the rule"]
    assert list(used.x) == [f"x1 {plots.TRUTH_MARK}", f"x2 {plots.TRUTH_MARK}"]
    assert list(other.x) == ["x3"]
    np.testing.assert_allclose(used.y, [0.12 / 0.22, 1.0])
    np.testing.assert_allclose(other.y, [0.02 / 0.22])
    np.testing.assert_allclose(used.error_y.array, [0.02 / 0.22, 0.02 / 0.22])
    assert used.error_y.visible and used.marker.pattern.shape == "/"
    np.testing.assert_allclose(np.asarray(used.customdata)[:, 0], [0.12, 0.22])
    # panel 2 (garson, one repeat): x3 above x2 stays visible, no whiskers
    bars = _panel_bars(fig, "x2")
    np.testing.assert_allclose(bars["used by the rule"].y, [1.0, 0.2])
    np.testing.assert_allclose(bars["not used by the rule"].y, [0.8])
    assert not bars["used by the rule"].error_y.visible
    # panel 3 (stepwise): a negative score keeps its sign and the axis goes below zero
    bars = _panel_bars(fig, "x3")
    np.testing.assert_allclose(bars["not used by the rule"].y, [-0.25])
    assert fig.layout.yaxis.range[0] < -0.25
    # panel 4 (random, all zero): drawn as zeros, not NaN
    bars = _panel_bars(fig, "x4")
    assert list(bars["used by the rule"].y) == [0.0, 0.0]
    assert not any(t.showlegend for t in fig.data)  # the subtitle explains the colours
    assert "used by the rule" in fig.layout.title.subtitle.text


def test_method_multiples_without_truth_is_one_trace_per_panel(comparison):
    fig = plots.method_multiples(comparison)
    assert len(fig.data) == len(comparison.methods)
    np.testing.assert_allclose(fig.data[1].y, [1.0, 0.2, 0.8])
    assert list(fig.data[0].x) == list(NAMES)


def test_rank_agreement_heatmap_values_and_blanks(comparison):
    fig = plots.agreement_heatmap(comparison)
    (heat,) = fig.data
    labels = [method_label(m) for m in comparison.methods]
    # rows: number and name (the name on two lines where it has a parenthesis); columns: number
    assert list(heat.y) == [
        "1 · Input perturbation<br>(noise)",
        "2 · Garson's algorithm",
        "3 · Backward stepwise<br>elimination",
        "4 · Random scores<br>(chance)",
    ]
    assert list(heat.x) == ["1", "2", "3", "4"]
    assert [list(row) for row in heat.customdata] == [labels] * 4  # the column's name on hover
    z = np.array(heat.z, dtype=float)  # None -> nan
    np.testing.assert_allclose(z, comparison.rank_agreement)
    assert heat.text[0][1] == "0.50" and heat.text[0][3] == "—"
    assert heat.texttemplate == "%{text}"  # 4 methods: the numbers fit even a phone's cells
    assert (heat.zmin, heat.zmax, heat.zmid) == (-1.0, 1.0, 0.0)
    assert "Spearman" in fig.layout.title.subtitle.text


def test_agreement_heatmap_writes_numbers_only_where_they_fit():
    many = tuple(m for m in METHOD_KEYS if m != "tsr")[: plots.CELL_TEXT_UP_TO["narrow"] + 1]
    comparison = _comparison_of(many)
    assert plots.agreement_heatmap(comparison).data[0].texttemplate == "%{text}"
    narrow = plots.agreement_heatmap(comparison, narrow=True).data[0]
    assert narrow.texttemplate is None and narrow.text[0][0] == "1.00"  # still on hover


def test_lek_profiles_one_panel_per_feature_one_line_per_quantile():
    grid = np.array([np.linspace(0, 1, 4), np.linspace(-1, 1, 4), np.linspace(2, 3, 4)])
    curves = np.arange(3 * 2 * 4, dtype=float).reshape(3, 2, 4) / 24
    attr = Attribution(
        "lek",
        NAMES,
        np.ones((3, 1)),
        extra={"grid": grid, "curves": curves, "quantiles": (0.25, 0.5)},
    )
    fig = plots.lek_profiles(attr, truth_features={1})
    assert len(fig.data) == 3 * 2
    assert [a.text for a in fig.layout.annotations] == [
        "x1 swept",
        f"x2 {plots.TRUTH_MARK} swept",
        "x3 swept",
    ]
    for f in range(3):
        for q in range(2):
            trace = fig.data[2 * f + q]
            np.testing.assert_allclose(trace.x, grid[f])
            np.testing.assert_allclose(trace.y, curves[f, q])
            assert trace.showlegend == (f == 0)
    assert "median" in fig.data[1].name  # the 0.5 quantile
    assert fig.data[1].line.width > fig.data[0].line.width
    assert fig.data[0].line.color != fig.data[1].line.color


def test_lek_panels_keep_their_tick_labels():
    # A swept grid from just above 0 to just below 1, as the data give it: with the axis range
    # equal to the data range, the ticks at 0 and 1 fell off the panels' edges (one panel
    # showed "1", the next did not) and the labels of neighbouring panels ran together.
    grid = np.tile(np.linspace(0.0002, 0.9996, 20), (6, 1))
    attr = Attribution(
        "lek",
        tuple(f"x{i + 1}" for i in range(6)),
        np.ones((6, 1)),
        extra={"grid": grid, "curves": np.zeros((6, 2, 20)), "quantiles": (0.25, 0.5)},
    )
    fig = plots.lek_profiles(attr, truth_features={0})
    layout = fig.layout
    assert "xaxis8" in layout and "xaxis9" not in layout  # 2 rows of 4 panels
    xaxes = [layout.xaxis] + [layout[f"xaxis{k}"] for k in range(2, 9)]  # panel order
    yaxes = [layout.yaxis] + [layout[f"yaxis{k}"] for k in range(2, 9)]
    for axis in xaxes + yaxes:
        assert axis.automargin is True  # labels grow the margins instead of being cut
    for f, axis in enumerate(xaxes[:6]):
        low, high = axis.range
        assert low < 0.0 and high > 1.0  # the round ends are inside the panel: 0 and 1 show
        assert low < grid[f].min() and high > grid[f].max()
        assert axis.nticks <= 4  # few labels, so neighbouring panels' labels stay apart
    lo, hi = layout.yaxis.range
    assert lo < 0.0 and hi > 1.0
    assert fig.layout.margin.b >= 30 and fig.layout.margin.l >= 40


def test_sigma_sweep_curves_per_feature_with_truth_styles():
    sigmas = np.array([0.05, 0.2, 0.8])
    curves = np.array([[0.1, 0.3, 0.5], [0.2, 0.25, 0.3], [0.0, 0.01, 0.05]])
    stds = curves / 10
    attr = Attribution(
        "sigma_sweep",
        NAMES,
        np.array([[0.29, 0.31], [0.24, 0.26], [0.01, 0.01]]),
        extra={"sigmas": sigmas, "curves": curves, "curves_std": stds, "sigma": 0.2},
    )
    fig = plots.sigma_sweep_curves(attr, truth_features={0, 1})
    assert [t.name for t in fig.data] == [
        f"x1 {plots.TRUTH_MARK}",
        f"x2 {plots.TRUTH_MARK}",
        "x3",
    ]
    for f, trace in enumerate(fig.data):
        np.testing.assert_allclose(trace.x, sigmas)
        np.testing.assert_allclose(trace.y, curves[f])
        np.testing.assert_allclose(trace.error_y.array, stds[f])
        assert trace.error_y.visible
    assert fig.data[0].line.dash == "solid" and fig.data[2].line.dash != "solid"
    assert fig.data[2].line.color == plots.OTHER_COLOR
    assert fig.layout.xaxis.type == "log"
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 0.2  # the σ of the table row


def _panel_columns(fig: go.Figure) -> int:
    """Panels side by side: distinct horizontal domains of the x axes."""
    return len({tuple(fig.layout[k].domain) for k in fig.layout if k.startswith("xaxis")})


def test_method_multiples_narrow_puts_two_panels_a_row(comparison):
    wide = plots.method_multiples(comparison, {0})
    narrow = plots.method_multiples(comparison, {0}, narrow=True)
    assert _panel_columns(wide) == 4 and _panel_columns(narrow) == plots.NARROW_COLUMNS == 2
    assert narrow.layout.height > wide.layout.height  # two rows of panels instead of one
    for fig in (wide, narrow):  # the same panels and numbers either way
        assert [a.text for a in fig.layout.annotations] == [a.text for a in wide.layout.annotations]
        title = fig.layout.title.text
        assert all(len(line) <= plots.TITLE_CHARS for line in title.split("<br>")), title


def test_lek_profiles_label_the_swept_axis_and_keep_the_legend_below():
    """Every panel says what its x axis is, the legend sits below the panels (beside them it
    took a third of the width), and the head leaves room for the panel titles."""
    names = ("x1", "x2", "x3")
    grid = np.tile(np.linspace(0.0, 1.0, 5), (3, 1))
    attr = Attribution(
        "lek",
        names,
        np.ones((3, 1)),
        extra={"grid": grid, "curves": np.zeros((3, 2, 5)), "quantiles": (0.0, 1.0)},
    )
    for narrow in (False, True):
        fig = plots.lek_profiles(attr, truth_features={0}, narrow=narrow)
        titles = [fig.layout[k].title.text for k in fig.layout if k.startswith("xaxis")]
        assert [t for t in titles if t] == ["swept value"] * 3  # (a 2 × 2 grid has a blank)
        assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container"
        subtitle_lines = fig.layout.title.subtitle.text.count("<br>") + 1
        assert fig.layout.margin.t >= plots.title_margin(subtitle_lines, 1, panel_lines=1)
        assert _panel_columns(fig) == (2 if narrow else 3)
    # the legend names the held quantile; the hover says it in full
    assert [t.name for t in fig.data[:2]] == ["0 (min)", "1 (max)"]
    assert "their 0 quantile (min)" in fig.data[0].hovertemplate


def test_every_method_figure_has_a_narrow_layout_and_a_breakpoint():
    """The Compare page draws each method's figure wide and narrow (rnnviz.ui.charts)."""
    import inspect

    figures = {spec.figure for spec in METHODS.values() if spec.figure is not None}
    assert figures and figures <= set(plots.WIDE_FROM_PX)
    for name in figures | {"method_multiples", "agreement_heatmap"}:
        assert "narrow" in inspect.signature(getattr(plots, name)).parameters, name
