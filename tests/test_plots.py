"""The plot builders draw exactly the numbers of a hand-made PerturbationResult."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from rnnviz.attr.scoring import PerturbationResult
from rnnviz.report import plots

F, T, R = 3, 4, 2


@pytest.fixture
def result() -> PerturbationResult:
    importances = np.array([[0.10, 0.12], [0.20, 0.22], [0.01, 0.03]])
    rng = np.random.default_rng(0)
    response = rng.random((F, T, T, R))
    # causal: input step s cannot move output t < s
    for s in range(T):
        response[:, s, :s, :] = 0.0
    return PerturbationResult(0.2, ("x1", "x2", "x3"), importances, response)


def _bars(fig: go.Figure) -> dict[str, go.Bar]:
    return {t.name: t for t in fig.data if isinstance(t, go.Bar)}


def test_feature_bars_split_by_ground_truth(result):
    fig = plots.feature_bars(result, truth_features={0, 1})
    bars = _bars(fig)
    assert set(bars) == {"used by the rule", "not used by the rule"}
    used, other = bars["used by the rule"], bars["not used by the rule"]
    assert list(used.x) == ["x1", "x2"] and list(other.x) == ["x3"]
    np.testing.assert_allclose(used.y, [0.11, 0.21])
    np.testing.assert_allclose(other.y, [0.02])
    np.testing.assert_allclose(used.error_y.array, [0.01, 0.01])
    np.testing.assert_allclose(other.error_y.array, [0.01])
    assert used.marker.color != other.marker.color
    assert used.marker.pattern.shape == "/"
    assert "%{y:.4f}" in used.hovertemplate
    assert list(fig.layout.xaxis.categoryarray) == ["x1", "x2", "x3"]
    assert "0.2" in fig.layout.title.subtitle.text
    assert fig.layout.yaxis.title.text and fig.layout.xaxis.title.text


def test_feature_bars_without_truth_is_one_trace(result):
    fig = plots.feature_bars(result)
    assert len(fig.data) == 1
    np.testing.assert_allclose(fig.data[0].y, result.importances_mean)
    np.testing.assert_allclose(fig.data[0].error_y.array, result.importances_std)


def test_timestep_heatmap_values_and_truth_marks(result):
    fig = plots.timestep_heatmap(result, truth={(1, 0), (1, 2)})
    (heat,) = fig.data
    np.testing.assert_allclose(heat.z, result.cell_mean)
    assert list(heat.y) == ["x1", f"x2 {plots.TRUTH_MARK}", "x3"]
    assert list(heat.x) == list(range(T))
    np.testing.assert_allclose(np.asarray(heat.customdata)[..., 0], result.cell_std)
    assert heat.zmin == 0
    assert "used by the rule" in fig.layout.title.subtitle.text
    no_truth = plots.timestep_heatmap(result)
    assert list(no_truth.data[0].y) == ["x1", "x2", "x3"]
    assert "used by the rule" not in no_truth.layout.title.subtitle.text


def test_response_map_draws_the_rules_lag(result):
    fig = plots.response_map(result, 1, truth={(1, 1), (0, 0)})
    heat, line = fig.data
    np.testing.assert_allclose(heat.z, result.response_mean[1])
    # the rule reads x2 one step back: output t = input s + 1
    assert list(line.x) == [1, 2, 3] and list(line.y) == [0, 1, 2]
    assert "lag 1" in line.name
    # the causal triangle: nothing below the diagonal
    z = np.asarray(heat.z)
    assert np.all(z[np.tril_indices(T, k=-1)] == 0)
    assert "x2" in fig.layout.title.text


def test_response_map_without_truth_has_no_lines(result):
    fig = plots.response_map(result, 0)
    assert len(fig.data) == 1


def test_lag_profile_lines_and_truth_points(result):
    fig = plots.lag_profile(result, truth={(0, 2), (2, 0)})
    lines = [t for t in fig.data if t.name in result.feature_names]
    assert [t.name for t in lines] == ["x1", "x2", "x3"]
    by_lag = result.by_lag()  # lags -(T-1) .. T-1; causal: the negative ones are 0, not drawn
    assert np.all(by_lag[:, : T - 1] == 0)
    for f, trace in enumerate(lines):
        np.testing.assert_allclose(trace.y, by_lag[f, T - 1 :])
        assert list(trace.x) == list(range(T))
    (marks,) = [t for t in fig.data if t.name == "read by the rule"]
    assert list(marks.x) == [2, 0]
    np.testing.assert_allclose(marks.y, [by_lag[0, T - 1 + 2], by_lag[2, T - 1]])
    assert "negative" not in fig.layout.title.subtitle.text


def test_lag_profile_keeps_negative_lags_of_a_model_reading_later_inputs(result):
    response = result.response.copy()
    response[1, 3, 1, :] = 0.5  # x2 at input step 3 moves output 1: lag -2
    both_ways = PerturbationResult(0.2, result.feature_names, result.importances, response)
    fig = plots.lag_profile(both_ways, truth={(1, 0)})
    lines = [t for t in fig.data if t.name in result.feature_names]
    assert list(lines[1].x) == list(range(1 - T, T))
    assert lines[1].y[list(lines[1].x).index(-2)] == pytest.approx(0.5 / 2)  # 2 outputs at -2
    (marks,) = [t for t in fig.data if t.name == "read by the rule"]
    assert list(marks.x) == [0] and marks.y[0] == pytest.approx(both_ways.by_lag()[1, T - 1])
    assert "negative lags" in fig.layout.title.subtitle.text


def test_training_curve():
    fig = plots.training_curve({"loss": [0.6, 0.4, 0.3], "val_loss": [0.5, 0.45, 0.35]})
    names = [t.name for t in fig.data]
    assert names == ["training loss", "validation loss"]
    assert list(fig.data[0].x) == [1, 2, 3]
    np.testing.assert_allclose(fig.data[1].y, [0.5, 0.45, 0.35])
    only_train = plots.training_curve({"loss": [0.6]})
    assert len(only_train.data) == 1


def test_builders_are_json_serialisable(result):
    for fig in (
        plots.feature_bars(result, {0}),
        plots.timestep_heatmap(result, {(0, 0)}),
        plots.response_map(result, 0, {(0, 0)}),
        plots.lag_profile(result, {(0, 0)}),
        plots.training_curve({"loss": [1.0, 0.5]}),
    ):
        assert fig.to_json()


@pytest.fixture
def masked() -> PerturbationResult:
    """Outputs 0 and 1 have no target: NaN in the response, not counted anywhere."""
    rng = np.random.default_rng(1)
    response = rng.random((F, T, T, R))
    for s in range(T):
        response[:, s, :s, :] = 0.0
    response[:, :, :2, :] = np.nan
    importances = np.array([[0.10, 0.12], [0.20, 0.22], [0.01, 0.03]])
    return PerturbationResult(
        0.2, ("x1", "x2", "x3"), importances, response, np.array([0, 0, 9, 9])
    )


def test_response_map_greys_out_outputs_without_a_target(masked):
    fig = plots.response_map(masked, 0, truth={(0, 2)})
    heat = next(t for t in fig.data if t.name == "RMS change")
    z = np.asarray(heat.z, dtype=float)
    assert np.isnan(z[:, :2]).all()  # missing, not zero and not an effect
    np.testing.assert_allclose(z[:, 2:], masked.response_mean[0][:, 2:])
    grey = next(t for t in fig.data if t.name == "no target defined")
    g = np.asarray(grey.z, dtype=float)
    assert np.isfinite(g[:, :2]).all() and np.isnan(g[:, 2:]).all()
    assert grey.showscale is False and grey.hoverongaps is False and heat.hoverongaps is False
    (key,) = [t for t in fig.data if t.name and t.name.startswith("grey:")]
    assert key.showlegend and fig.layout.showlegend
    assert "grey: no target defined" in fig.layout.title.subtitle.text
    fig.to_json()


def test_plots_of_a_masked_result_say_what_counted(masked):
    heat = plots.timestep_heatmap(masked)
    np.testing.assert_allclose(heat.data[0].z, masked.cell_mean)
    assert "counted: outputs 2-3" in heat.layout.title.subtitle.text
    lag = plots.lag_profile(masked)
    assert "counted: outputs 2-3" in lag.layout.title.subtitle.text
    assert list(lag.data[0].x) == list(range(T))  # causal: negative lags (0 or NaN) trimmed


# --------------------------------------------------------------------------- phone width


def _long(steps: int, both_ways: bool = False) -> PerturbationResult:
    """A lagged, masked result over many steps (long subtitles, many ticks)."""
    rng = np.random.default_rng(1)
    response = rng.random((F, steps, steps, R))
    if not both_ways:
        for s in range(steps):
            response[:, s, :s, :] = 0.0
    response[:, :, :3, :] = np.nan
    counts = np.array([0, 0, 0] + [9] * (steps - 3))
    return PerturbationResult(0.2, ("x1", "x2", "x3"), rng.random((F, R)), response, counts)


@pytest.mark.parametrize("steps", [5, 12, 30, 60])
@pytest.mark.parametrize("both_ways", [False, True])
def test_figures_read_at_phone_width(steps, both_ways):
    """Titles start below Plotly's toolbar, subtitle lines fit a phone, step axes carry at
    most MAX_TICKS labels, and legends sit below the plot."""
    result = _long(steps, both_ways)
    truth = {(0, 3), (1, 0), (1, 1), (1, 2)}
    figures = {
        "bars": plots.feature_bars(result, {0, 1}),
        "heatmap": plots.timestep_heatmap(result, truth),
        "response": plots.response_map(result, 1, truth),
        "lag": plots.lag_profile(result, truth),
        "curve": plots.training_curve({"loss": [0.7] * steps, "val_loss": [0.6] * steps}),
    }
    for name, fig in figures.items():
        title = fig.layout.title
        assert title.yref == "container" and title.pad.t >= plots.TOOLBAR_PX, name
        lines = title.subtitle.text.split("<br>") if title.subtitle.text else []
        assert all(len(line) <= plots.SUBTITLE_CHARS for line in lines), (name, lines)
        assert fig.layout.margin.t >= plots.title_margin(len(lines)), name
        if fig.layout.showlegend is not False and name != "heatmap":
            assert fig.layout.legend.orientation == "h" and fig.layout.legend.yref == "container"
    for name in ("heatmap", "lag", "curve"):
        fig = figures[name]
        xs = [x for trace in fig.data for x in (trace.x or ()) if x is not None]
        span = max(xs) - min(xs)
        assert span // fig.layout.xaxis.dtick + 1 <= plots.MAX_TICKS, (name, span)
        assert fig.layout.xaxis.dtick in plots.TICK_STEPS
    assert figures["lag"].layout.xaxis.tick0 == 0  # labels on multiples: 0 is one of them


def test_subtitles_wrap_at_their_parts():
    text = "which outputs move when x1 is nudged at one step; dashed: the rule reads x1 at lag 2"
    assert plots.wrap_subtitle(text) == (
        "which outputs move when x1 is nudged at one step;<br>dashed: the rule reads x1 at lag 2"
    )
    assert plots.wrap_subtitle("σ = 0.2; 5 repeats") == "σ = 0.2; 5 repeats"  # fits: one line
    long = "a " * 40
    assert all(
        len(line) <= plots.SUBTITLE_CHARS for line in plots.wrap_subtitle(long).split("<br>")
    )


def test_days_back_map_draws_the_lag_profile_where_input_steps_mislead():
    # a series whose every day is forecast: a nudge to day s moves tomorrow's forecast made on
    # day s by 0.4 and on day s + 1 by 0.2, nothing later (the model reads today and yesterday)
    steps = 6
    response = np.zeros((1, steps, steps, 1))
    for s in range(steps):
        response[0, s, s] = 0.4
        if s + 1 < steps:
            response[0, s, s + 1] = 0.2
    result = PerturbationResult(0.2, ("precipitation",), np.array([[0.3]]), response)
    fig = plots.days_back_heatmap(result)
    (heat,) = fig.data
    np.testing.assert_allclose(heat.z, [[0.4, 0.2, 0, 0, 0, 0]])  # by days back: today most
    assert list(heat.x) == list(range(steps)) and "days back" in fig.layout.xaxis.title.text
    # per input step, the oldest days look brightest: each has more forecasts after it
    cell = plots.timestep_heatmap(result).data[0].z[0]
    assert cell[0] > cell[-1]


def test_side_by_side_figures_share_one_y_range(result):
    tall, low = plots.lag_profile(result), plots.lag_profile(result)
    low.data[0].y = [0.1, float("nan"), 0.05, 0.0]
    for trace in low.data[1:]:
        trace.y = [0.0] * len(trace.y)
    top = max(float(np.nanmax(np.asarray(t.y, dtype=float))) for t in tall.data)
    plots.share_y_range([tall, low])
    assert list(tall.layout.yaxis.range) == list(low.layout.yaxis.range)
    assert tall.layout.yaxis.range[0] == 0.0
    assert tall.layout.yaxis.range[1] == pytest.approx(top * 1.08)
