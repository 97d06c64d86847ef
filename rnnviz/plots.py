"""Pure plot builders: core results in, plotly Figures out (no Streamlit, no computation).

Every number drawn comes from the object passed in; the builders only choose the layout. Colours
are mid-tone so that they read on light and on dark backgrounds; everything else (fonts,
backgrounds, grid) is left to the host's theme (Streamlit's ``theme="streamlit"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from rnnviz.scoring import PerturbationResult

USED_COLOR = "#F28E2B"  # features / lags the rule really reads
OTHER_COLOR = "#8A94A6"  # everything else
ERROR_COLOR = "#9AA3B2"
# Tableau 10: medium lightness, legible on white and on near-black backgrounds.
FEATURE_COLORS = (
    "#4E9BE6",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
HEATMAP_SCALE = "Viridis"
TRUTH_MARK = "★"

Truth = Iterable[tuple[int, int]]


def feature_color(index: int) -> str:
    return FEATURE_COLORS[index % len(FEATURE_COLORS)]


def _layout(
    fig: go.Figure, title: str, x: str, y: str, subtitle: str | None = None, **extra
) -> go.Figure:
    head: dict = {"text": title}
    if subtitle:
        head["subtitle"] = {"text": subtitle}
    fig.update_layout(
        title=head,
        xaxis_title=x,
        yaxis_title=y,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        hoverlabel={"namelength": -1},
        legend={"yanchor": "top", "y": 1.0},
        **extra,
    )
    return fig


def _truth_rows(names: Sequence[str], truth_features: Iterable[int] | None) -> list[str]:
    """Row labels with a star on the features the rule reads."""
    used = set(truth_features or ())
    return [f"{n} {TRUTH_MARK}" if i in used else n for i, n in enumerate(names)]


def feature_bars(
    result: PerturbationResult, truth_features: Iterable[int] | None = None
) -> go.Figure:
    """RMS effect per feature (mean over repeats) with ±1 std error bars.

    With ``truth_features`` (0-based indices the rule reads) the bars are split into two
    traces, "used by the rule" (coloured, hatched) and "not used by the rule" (grey).
    """
    names = list(result.feature_names)
    means = result.importances_mean
    stds = result.importances_std
    fig = go.Figure()
    if truth_features is None:
        groups = [("perturbation effect", list(range(len(names))), feature_color(0), "")]
    else:
        used = set(truth_features)
        groups = [
            ("used by the rule", [i for i in range(len(names)) if i in used], USED_COLOR, "/"),
            (
                "not used by the rule",
                [i for i in range(len(names)) if i not in used],
                OTHER_COLOR,
                "",
            ),
        ]
    for name, idx, color, pattern in groups:
        if not idx:
            continue
        fig.add_trace(
            go.Bar(
                name=name,
                x=[names[i] for i in idx],
                y=[float(means[i]) for i in idx],
                error_y={
                    "type": "data",
                    "array": [float(stds[i]) for i in idx],
                    "visible": True,
                    "color": ERROR_COLOR,
                    "thickness": 1.5,
                    "width": 6,
                },
                customdata=[[float(stds[i]), result.n_repeats] for i in idx],
                marker={
                    "color": color,
                    "pattern": {
                        "shape": pattern,
                        "fillmode": "overlay",
                        "fgcolor": "rgba(255, 255, 255, 0.5)",
                        "solidity": 0.2,
                    },
                },
                hovertemplate=(
                    "<b>%{x}</b> (%{fullData.name})<br>RMS effect %{y:.4f} ± %{customdata[0]:.4f}"
                    "<br>over %{customdata[1]} repeats<extra></extra>"
                ),
            )
        )
    return _layout(
        fig,
        "Perturbation effect per feature",
        "feature (perturbed at every step)",
        "RMS change of the predictions",
        subtitle=f"σ = {result.sigma:g}, mean ± std over {result.n_repeats} repeats",
        barmode="overlay",
        xaxis={"categoryorder": "array", "categoryarray": names},
        yaxis={"rangemode": "tozero"},
    )


def timestep_heatmap(result: PerturbationResult, truth: Truth | None = None) -> go.Figure:
    """Feature × input step: RMS change of all outputs when one feature is nudged at one step."""
    cell, std = result.cell_mean, result.cell_std
    n_features, n_steps = cell.shape
    features = {f for f, _ in truth} if truth is not None else None
    rows = _truth_rows(result.feature_names, features)
    custom = np.stack([std, np.broadcast_to(np.arange(n_steps), std.shape)], axis=-1)
    fig = go.Figure(
        go.Heatmap(
            z=cell,
            x=list(range(n_steps)),
            y=rows,
            customdata=custom,
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            colorbar={"title": {"text": "RMS<br>effect"}},
            hovertemplate=(
                "<b>%{y}</b> nudged at input step %{x}<br>RMS change of all outputs "
                "%{z:.4f} ± %{customdata[0]:.4f}<extra></extra>"
            ),
        )
    )
    return _layout(
        fig,
        "Effect per feature and input step",
        "input step s (where the noise is added)",
        "feature",
        subtitle=f"one feature nudged at one step; {TRUTH_MARK} = used by the rule",
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"dtick": 1 if n_steps <= 30 else None},
    )


def response_map(result: PerturbationResult, feature: int, truth: Truth | None = None) -> go.Figure:
    """Input step × output step response of one feature: the causal triangle.

    Lines mark output = input + lag for every lag at which the rule reads this feature.
    """
    resp = result.response_mean[feature]  # (T_in, T_out)
    n_in, n_out = resp.shape
    name = result.feature_names[feature]
    fig = go.Figure(
        go.Heatmap(
            z=resp,
            x=list(range(n_out)),
            y=list(range(n_in)),
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            colorbar={"title": {"text": "RMS<br>change"}},
            hovertemplate=(
                f"<b>{name}</b> nudged at input step %{{y}}<br>"
                "RMS change of output step %{x}: %{z:.4f}<extra></extra>"
            ),
        )
    )
    lags = sorted(lag for f, lag in (truth or ()) if f == feature)
    for lag in lags:
        if lag >= min(n_in, n_out):
            continue
        steps = np.arange(0, min(n_in, n_out - lag))
        fig.add_trace(
            go.Scatter(
                x=steps + lag,
                y=steps,
                mode="lines",
                line={"color": USED_COLOR, "dash": "dash", "width": 2},
                name=f"rule reads {name} at lag {lag}",
                hoverinfo="skip",
            )
        )
    return _layout(
        fig,
        f"Response map of {name}",
        "output step t (prediction)",
        "input step s (nudged)",
        subtitle=f"which outputs move when {name} is nudged at one step"
        + (f"; dashed: the rule reads {name} at lag {', '.join(map(str, lags))}" if lags else ""),
        yaxis={"autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        xaxis={"constrain": "domain"},
        showlegend=False,
    )


def lag_profile(result: PerturbationResult, truth: Truth | None = None) -> go.Figure:
    """Mean response at output t when a feature is nudged at t - lag, per feature and lag."""
    by_lag = result.by_lag()  # (F, L)
    n_features, n_lags = by_lag.shape
    lags = list(range(n_lags))
    fig = go.Figure()
    for f in range(n_features):
        fig.add_trace(
            go.Scatter(
                x=lags,
                y=by_lag[f],
                mode="lines+markers",
                name=result.feature_names[f],
                line={"color": feature_color(f), "width": 2},
                marker={"size": 6},
                hovertemplate=(
                    f"<b>{result.feature_names[f]}</b> at lag %{{x}}<br>"
                    "mean RMS change %{y:.4f}<extra></extra>"
                ),
            )
        )
    points = sorted(p for p in (truth or ()) if p[0] < n_features and p[1] < n_lags)
    if points:
        fig.add_trace(
            go.Scatter(
                x=[lag for _, lag in points],
                y=[float(by_lag[f, lag]) for f, lag in points],
                mode="markers",
                name="read by the rule",
                marker={
                    "symbol": "circle-open",
                    "size": 18,
                    "line": {"width": 3},
                    "color": [feature_color(f) for f, _ in points],
                },
                customdata=[result.feature_names[f] for f, _ in points],
                hovertemplate="the rule reads <b>%{customdata}</b> at lag %{x}<extra></extra>",
            )
        )
    return _layout(
        fig,
        "Effect against lag",
        "lag k = output step − input step",
        "mean RMS change",
        subtitle="how far back does each feature still matter?",
        xaxis={"dtick": 1 if n_lags <= 30 else None},
        yaxis={"rangemode": "tozero"},
    )


def training_curve(history: Mapping[str, Sequence[float]]) -> go.Figure:
    """Loss per epoch (training, and validation when present)."""
    fig = go.Figure()
    styles = {
        "loss": ("training loss", feature_color(0), "solid"),
        "val_loss": ("validation loss", USED_COLOR, "dash"),
    }
    for key, (label, color, dash) in styles.items():
        values = history.get(key)
        if not values:
            continue
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=[float(v) for v in values],
                mode="lines+markers",
                name=label,
                line={"color": color, "dash": dash, "width": 2},
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    return _layout(
        fig,
        "Training curve",
        "epoch",
        "binary cross-entropy (lower is better)",
        xaxis={"dtick": 1},
    )


__all__ = [
    "feature_bars",
    "lag_profile",
    "response_map",
    "timestep_heatmap",
    "training_curve",
]
