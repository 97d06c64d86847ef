"""Pure plot builders: core results in, plotly Figures out (no Streamlit, no computation).

Every number drawn comes from the object passed in; the builders only choose the layout. Colours
are mid-tone so that they read on light and on dark backgrounds; everything else (fonts,
backgrounds, grid) is left to the host's theme (Streamlit's ``theme="streamlit"``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from rnnviz.attr.attribution import Attribution, PerturbationResult, drawn_lags
from rnnviz.attr.comparison import normalised_scores
from rnnviz.attr.interactions import InteractionResult
from rnnviz.attr.registry import RANDOM, method_label
from rnnviz.report.readings import sequence_label, step_ranges

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
NO_TARGET_COLOR = "#9E9E9E"  # output steps without a defined target: not counted, greyed out
NO_TARGET_NOTE = "grey: no target defined (not counted)"
TRUTH_MARK = "★"
# Planted evidence (rnnviz.data.boxes): its box outlined on every feature × step map.
BOX_COLOR = "#FF3B6B"  # reads on Viridis' purple and yellow alike
BOX_SHAPE_NAME = "planted box"
BOX_NOTE = "dashed = the planted box (the truth)"

Truth = Iterable[tuple[int, int]]
Rect = tuple[int, int, int, int]  # [step start, step stop, feature start, feature stop)


def outline_box(fig: go.Figure, box: Rect | None) -> go.Figure:
    """Outline ``box`` (step start, step stop, feature start, feature stop; half-open) on a
    feature × step heatmap whose rows are features from the top and columns steps; None:
    nothing to outline."""
    if box is None:
        return fig
    s0, s1, f0, f1 = (int(v) for v in box)
    fig.add_shape(
        type="rect",
        x0=s0 - 0.5,
        x1=s1 - 0.5,
        y0=f0 - 0.5,
        y1=f1 - 0.5,
        line={"color": BOX_COLOR, "width": 2.5, "dash": "dash"},
        layer="above",
        name=BOX_SHAPE_NAME,
    )
    return fig


def _bar_marker(color: str, pattern: str) -> dict:
    """Bar fill: the colour plus a hatch pattern (used to mark the rule's features)."""
    return {
        "color": color,
        "pattern": {
            "shape": pattern,
            "fillmode": "overlay",
            "fgcolor": "rgba(255, 255, 255, 0.5)",
            "solidity": 0.2,
        },
    }


def feature_color(index: int) -> str:
    return FEATURE_COLORS[index % len(FEATURE_COLORS)]


# A legend in rows at the bottom of the figure (beside the plot it would take a third of a
# phone's width); anchored to the figure, not the plot, Plotly makes room for it under the axis.
LEGEND_BELOW = {
    "orientation": "h",
    "x": 0.0,
    "xanchor": "left",
    "yref": "container",
    "y": 0.0,
    "yanchor": "bottom",
}
TOOLBAR_PX = 38  # Plotly's toolbar (about 26 px high) sits in this band above every title
SUBTITLE_CHARS = 56  # the longest subtitle line that fits a chart at phone width (~350 px)
TITLE_CHARS = 42  # the longest title line (bold, 16 px) that fits a chart at phone width
TITLE_LINE_PX = 21  # each further line of a title
SUBTITLE_LINE_PX = 17
PANEL_LINE_PX = 18  # a line of a panel title (13 px) above its panel
TOP_TICK_PX = 8  # a tick label at the top of the plot rises this far above it


def wrap_subtitle(text: str, width: int = SUBTITLE_CHARS) -> str:
    """``text`` on lines (``<br>``) of at most ``width`` characters: its "; "-separated parts
    are kept whole where they fit, longer ones break at spaces. Plotly does not wrap titles and
    cannot know how wide the chart will be, so every line must fit a phone's width."""
    parts = text.split("; ")
    lines: list[str] = []
    for i, part in enumerate(parts):
        piece = part + (";" if i < len(parts) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines += textwrap.wrap(piece, width, break_long_words=False, break_on_hyphens=False)
    return "<br>".join(lines)


TICK_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
MAX_TICKS = 10  # tick labels on a step axis: they stay apart on a chart at phone width


def step_ticks(first: int, last: int, most: int = MAX_TICKS) -> dict:
    """An axis of whole steps from ``first`` to ``last`` labelled every 1, 2, 5, 10, ... steps
    (multiples of it, and so 0 where shown): at most ``most`` labels, whatever the width."""
    span = max(0, int(last) - int(first))
    step = next((d for d in TICK_STEPS if span // d + 1 <= most), TICK_STEPS[-1])
    return {"tick0": 0, "dtick": step}


def wrap_title(text: str, width: int = TITLE_CHARS) -> str:
    """A title on lines (``<br>``) of at most ``width`` characters, broken at spaces."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def title_margin(subtitle_lines: int, title_lines: int = 1, panel_lines: int = 0) -> int:
    """Top margin (px) for the toolbar band, the title (``title_lines`` lines), the
    ``subtitle_lines`` lines below it and, for subplots, ``panel_lines`` lines of the panel
    titles that stand above the top row of panels."""
    panels = PANEL_LINE_PX * panel_lines + 6 if panel_lines else 0
    return (
        TOOLBAR_PX
        + 30
        + TOP_TICK_PX
        + TITLE_LINE_PX * (title_lines - 1)
        + SUBTITLE_LINE_PX * subtitle_lines
        + panels
    )


def title_layout(title: str, subtitle: str | None = None, panel_lines: int = 0) -> dict:
    """Layout of a chart's head: the title (wrapped at TITLE_CHARS) and the subtitle (wrapped
    at its "; ") below the band of Plotly's toolbar, the top margin that fits them and
    ``panel_lines`` lines of panel titles below them, and full trace names on hover."""
    # The title starts below the band of Plotly's toolbar (top right), which would cover it on
    # a narrow chart; title and subtitle wrap so that each line fits a phone's width (Plotly
    # neither wraps titles nor knows how wide the chart will be).
    title = wrap_title(title)
    head: dict = {
        "text": title,
        "y": 1.0,
        "yref": "container",
        "yanchor": "top",
        "pad": {"t": TOOLBAR_PX},
    }
    lines = 0
    if subtitle:
        subtitle = wrap_subtitle(subtitle)
        head["subtitle"] = {"text": subtitle}
        lines = subtitle.count("<br>") + 1
    top = title_margin(lines, title.count("<br>") + 1, panel_lines)
    return {
        "title": head,
        "margin": {"l": 10, "r": 10, "t": top, "b": 10},
        "hoverlabel": {"namelength": -1},
    }


def _layout(
    fig: go.Figure,
    title: str,
    x: str,
    y: str,
    subtitle: str | None = None,
    panel_lines: int = 0,
    **extra,
) -> go.Figure:
    layout = {
        **title_layout(title, subtitle, panel_lines),
        "xaxis_title": x,
        "yaxis_title": y,
        "legend": {"yanchor": "top", "y": 1.0},
    }
    fig.update_layout(**{**layout, **extra})
    return fig


def _square_heatmap(z, names: Sequence[str], text: Sequence[Sequence[str]], **style) -> go.Heatmap:
    """A names × names heatmap (rows top-down) with ``text`` written in its cells."""
    return go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", **style)


def _truth_rows(names: Sequence[str], truth_features: Iterable[int] | None) -> list[str]:
    """Row labels with a star on the features the rule reads."""
    used = set(truth_features or ())
    return [f"{n} {TRUTH_MARK}" if i in used else n for i, n in enumerate(names)]


def _bar_groups(
    n: int, used: set[int] | None, single: str
) -> list[tuple[str, list[int], str, str]]:
    """The traces bars split into, each (name, feature indices, colour, hatch pattern): one
    (``single``) without a rule, else "used by the rule" (hatched) and "not used" (grey);
    a group with no feature is left out."""
    if used is None:
        groups = [(single, list(range(n)), feature_color(0), "")]
    else:
        groups = [
            ("used by the rule", [i for i in range(n) if i in used], USED_COLOR, "/"),
            ("not used by the rule", [i for i in range(n) if i not in used], OTHER_COLOR, ""),
        ]
    return [group for group in groups if group[1]]


def _whiskers(
    spread: Sequence[float] | np.ndarray, visible: bool, *, thickness: float, width: float
) -> dict:
    """±1 std error bars in the muted error colour (``spread``: one value per point)."""
    return {
        "type": "data",
        "array": spread,
        "visible": visible,
        "color": ERROR_COLOR,
        "thickness": thickness,
        "width": width,
    }


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
    used = None if truth_features is None else set(truth_features)
    for name, idx, color, pattern in _bar_groups(len(names), used, "perturbation effect"):
        fig.add_trace(
            go.Bar(
                name=name,
                x=[names[i] for i in idx],
                y=[float(means[i]) for i in idx],
                error_y=_whiskers([float(stds[i]) for i in idx], True, thickness=1.5, width=6),
                customdata=[[float(stds[i]), result.n_repeats] for i in idx],
                marker=_bar_marker(color, pattern),
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
        legend=LEGEND_BELOW,
    )


def _counted_note(result: PerturbationResult) -> str:
    """The subtitle note "; counted: outputs 2-9 (with a target)", or "" when all counted."""
    mask = result.output_mask
    if mask is None or mask.all():
        return ""
    return f"; counted: outputs {step_ranges(np.flatnonzero(mask))} (with a target)"


def timestep_heatmap(
    result: PerturbationResult, truth: Truth | None = None, box: Rect | None = None
) -> go.Figure:
    """Feature × input step: RMS change of all counted outputs when one feature is nudged at one
    step (outputs count where their target is defined); ``box``: planted evidence, outlined."""
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
                "<b>%{y}</b> nudged at input step %{x}<br>RMS change of all counted outputs "
                "%{z:.4f} ± %{customdata[0]:.4f}<extra></extra>"
            ),
        )
    )
    outline_box(fig, box)
    return _layout(
        fig,
        "Effect per feature and input step",
        "input step s (where the noise is added)",
        "feature",
        subtitle="one feature nudged at one step"
        + (f"; {TRUTH_MARK} = used by the rule" if truth is not None and box is None else "")
        + (f"; {BOX_NOTE}" if box is not None else "")
        + _counted_note(result),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis=step_ticks(0, n_steps - 1),
    )


def days_back_heatmap(result: PerturbationResult) -> go.Figure:
    """Feature × days back, for a real series whose every day has its own forecast (tomorrow's):
    the effect of nudging a measurement k days before the forecast (k = 0: the forecast's own
    day, today), the lag profile (``by_lag``) at lags 0, 1, 2, ... drawn as a map.

    Per input step (:func:`timestep_heatmap`) the oldest days of such a window look brightest:
    a nudge to day s moves every forecast from s on, and the oldest days have the most forecasts
    after them, so their RMS adds up the most, whatever the model relies on. Per day back, each
    cell is the typical change of one forecast, as the reading of the series says it."""
    lags, profile = drawn_lags(result)
    keep = lags >= 0
    days = [int(k) for k in lags[keep]]
    z = profile[:, keep]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=days,
            y=list(result.feature_names),
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            colorbar={"title": {"text": "RMS<br>effect"}},
            hoverongaps=False,
            hovertemplate=(
                "<b>%{y}</b> nudged %{x} days before the forecast<br>mean RMS change of the "
                "forecast %{z:.4f}<extra></extra>"
            ),
        )
    )
    return _layout(
        fig,
        "Effect per measurement and day back",
        "days back from the forecast's day<br>(0 = today, 1 = yesterday, …)",  # fits a phone
        "measurement",
        subtitle="one measurement nudged on one day; its effect on the forecast made that many "
        "days later",
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis=step_ticks(0, max(days[-1], 0)),
    )


def response_map(result: PerturbationResult, feature: int, truth: Truth | None = None) -> go.Figure:
    """Input step × output step response of one feature: the causal triangle.

    Lines mark output = input + lag for every lag at which the rule reads this feature. Output
    steps where no target is defined are missing (NaN), drawn grey, and say so in the legend.
    """
    resp = result.response_mean[feature]  # (T_in, T_out)
    n_in, n_out = resp.shape
    name = result.feature_names[feature]
    undefined = ~result.output_mask  # (T_out,)
    fig = go.Figure(
        go.Heatmap(
            z=resp,
            x=list(range(n_out)),
            y=list(range(n_in)),
            name="RMS change",
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            colorbar={"title": {"text": "RMS<br>change"}},
            hoverongaps=False,
            hovertemplate=(
                f"<b>{name}</b> nudged at input step %{{y}}<br>"
                "RMS change of output step %{x}: %{z:.4f}<extra></extra>"
            ),
        )
    )
    if undefined.any():
        fig.add_trace(
            go.Heatmap(
                z=np.where(undefined[None, :], 0.0, np.nan) * np.ones((n_in, 1)),
                x=list(range(n_out)),
                y=list(range(n_in)),
                name="no target defined",
                colorscale=[[0.0, NO_TARGET_COLOR], [1.0, NO_TARGET_COLOR]],
                showscale=False,
                hoverongaps=False,
                hovertemplate="output step %{x} has no target defined: not counted<extra></extra>",
            )
        )
        fig.add_trace(  # a legend key for the grey cells
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=NO_TARGET_NOTE,
                marker={"symbol": "square", "size": 12, "color": NO_TARGET_COLOR},
                showlegend=True,
                hoverinfo="skip",
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
                showlegend=False,
                hoverinfo="skip",
            )
        )
    _layout(
        fig,
        f"Response map of {name}",
        "output step t (prediction)",
        "input step s (nudged)",
        subtitle=f"which outputs move when {name} is nudged at one step"
        + (f"; dashed: the rule reads {name} at lag {', '.join(map(str, lags))}" if lags else "")
        + (f"; {NO_TARGET_NOTE}" if undefined.any() else ""),
        yaxis={"autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        xaxis={"constrain": "domain"},
        showlegend=bool(undefined.any()),
    )
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def lag_profile(result: PerturbationResult, truth: Truth | None = None) -> go.Figure:
    """Mean response at output t when a feature is nudged at t - lag, per feature and lag.

    Lags run from -(T-1) to T-1; the negative ones (later inputs moving earlier outputs) are
    left out when they are all exactly zero, as for every causal model. Lags where no output
    counted are gaps.
    """
    shown, by_lag = drawn_lags(result)  # (F, L) over the lags shown
    n_features, n_lags = by_lag.shape
    lags = [int(k) for k in shown]
    column = {lag: j for j, lag in enumerate(lags)}
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
    points = sorted(p for p in (truth or ()) if p[0] < n_features and p[1] in column)
    if points:
        fig.add_trace(
            go.Scatter(
                x=[lag for _, lag in points],
                y=[float(by_lag[f, column[lag]]) for f, lag in points],
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
        subtitle="how far back does each feature still matter?"
        + ("; negative lags: later inputs move earlier outputs" if lags[0] < 0 else "")
        + _counted_note(result),
        xaxis=step_ticks(lags[0], lags[-1]),
        yaxis={"rangemode": "tozero"},
        legend=LEGEND_BELOW,
    )


def share_y_range(figures: Sequence[go.Figure], pad: float = 0.08) -> list[go.Figure]:
    """One y range for all ``figures`` (from 0, or their lowest value, to their highest plus
    ``pad``), so that figures shown side by side compare by height: a peak of 0.1 beside one
    of 0.35 must not look as tall. NaN (gaps) are ignored; returns the figures."""
    values = [
        np.asarray(trace.y, dtype=np.float64)
        for figure in figures
        for trace in figure.data
        if getattr(trace, "y", None) is not None
    ]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if not finite.size:
        return list(figures)
    low, high = min(0.0, float(finite.min())), float(finite.max())
    span = (high - low) or 1.0
    for figure in figures:
        figure.update_yaxes(range=[low, high + pad * span], autorange=False)
    return list(figures)


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
        xaxis=step_ticks(1, max(1, max((len(v) for v in history.values()), default=1))),
        legend=LEGEND_BELOW,
    )


__all__ = [
    "feature_bars",
    "lag_profile",
    "response_map",
    "timestep_heatmap",
    "training_curve",
]


# --------------------------------------------------------------------------- compare methods

# Lek's held quantiles, lowest to highest: a hue ramp at mid lightness (reads on light and dark).
QUANTILE_COLORS = ("#4E9BE6", "#45B5AA", "#59A14F", "#D4A62A", "#D45087")
# Features the rule does not read, in the σ sweep: grey like their bars, told apart by dash.
OTHER_DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")


def _grid(n: int, columns: int) -> tuple[int, int]:
    cols = max(1, min(columns, n))
    return -(-n // cols), cols


def _two_lines(label: str, width: int = 22) -> str:
    """A panel title on at most two lines: before a parenthesis, or at the middle space."""
    if " (" in label:
        first, _, rest = label.partition(" (")
        return f"{first}<br>({rest}"
    if len(label) <= width or " " not in label:
        return label
    spaces = [i for i, c in enumerate(label) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return f"{label[:cut]}<br>{label[cut + 1 :]}"


def _tick_room(labels: Iterable[str]) -> int:
    """Room (px) below a panel for its category labels: one line when they are short, else
    standing upright (the panels' axes turn long labels a quarter turn, never to a slant that
    lets them run into each other)."""
    longest = max((len(label) for label in labels), default=0)
    return 30 if longest <= 6 else int(22 + 6.5 * longest)


UPRIGHT_WHEN_LONG = {"autotickangles": [0, 90]}


def _lines(texts: Iterable[str]) -> int:
    """The most lines (``<br>``-separated) among ``texts`` (0 when there is none)."""
    return max((t.count("<br>") + 1 for t in texts), default=0)


def _panel_grid(
    n: int, columns: int, head: dict, panel_lines: int, panel_px: int, below_px: int, bottom: int
) -> dict:
    """Sizes of a grid of ``n`` panels in ``columns``: rows, cols, the figure's height and the
    vertical spacing (a fraction of the plotting area) that holds, between two rows, what
    hangs below a panel (``below_px``: tick labels, an axis title) and the panel titles of
    the next row (``panel_lines`` lines). ``head`` is the :func:`title_layout` on top."""
    rows, cols = _grid(n, columns)
    gap = below_px + PANEL_LINE_PX * panel_lines + 10
    plot = rows * panel_px + (rows - 1) * gap
    return {
        "rows": rows,
        "cols": cols,
        "height": head["margin"]["t"] + bottom + plot,
        "vertical_spacing": gap / plot if rows > 1 else 0.0,
    }


NARROW_COLUMNS = 2  # panels side by side on a narrow chart (a phone: ~360 px)
# The narrowest chart (px) each wide layout reads at; a narrower one takes the ``narrow`` layout.
WIDE_FROM_PX = {
    "method_multiples": 760,
    "agreement_heatmap": 560,
    "lek_profiles": 560,
    "sigma_sweep_curves": 560,
    "group_map": 560,
    "cell_map": 560,
    "stepwise_losses": 560,
    "faithfulness_curves": 620,
    "sequence_figure": 560,
}


def method_multiples(
    comparison,
    truth_features: Iterable[int] | None = None,
    columns: int = 5,
    narrow: bool = False,
) -> go.Figure:
    """Small multiples: one panel per method, per-feature scores divided by that method's max.

    ``comparison`` is a :class:`rnnviz.attr.comparison.Comparison`. Whiskers are ±1 std over
    repeats
    (same scale) for methods with repeats. With ``truth_features`` the bars are coloured (and
    hatched) like :func:`feature_bars`; the features the rule reads carry TRUTH_MARK.
    ``narrow`` lays the panels out for a narrow chart (a phone): NARROW_COLUMNS per row.
    """
    from plotly.subplots import make_subplots

    names = list(comparison.methods)
    titles = [_two_lines(method_label(m)) for m in names]
    used = set(truth_features) if truth_features is not None else None
    subtitle = (
        "each feature's score ÷ the method's largest; "
        f"orange hatched {TRUTH_MARK} = used by the rule, grey = not used"
        if used is not None
        else "each feature's score ÷ the method's largest"
    )
    head = title_layout("Each method's scores, scaled to its max", subtitle, _lines(titles))
    ticks = [
        label
        for m in names
        for label in _truth_rows(comparison.attributions[m].feature_names, used)
    ]
    grid = _panel_grid(
        len(names),
        NARROW_COLUMNS if narrow else columns,
        head,
        _lines(titles),
        panel_px=170 if narrow else 200,
        below_px=_tick_room(ticks),
        bottom=_tick_room(ticks) + 10,
    )
    rows, cols = grid["rows"], grid["cols"]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        shared_yaxes=True,
        horizontal_spacing=0.06 if narrow else 0.03,
        vertical_spacing=grid["vertical_spacing"],
    )
    lowest = 0.0
    for k, method in enumerate(names):
        attr = comparison.attributions[method]
        features = list(attr.feature_names)
        labels = _truth_rows(features, used)
        norm, scale = normalised_scores(attr.importances_mean)
        std = attr.importances_std / scale if scale > 0 else np.zeros(len(features))
        lowest = min(lowest, float((norm - std).min()))
        row, col = k // cols + 1, k % cols + 1
        for group, idx, color, pattern in _bar_groups(len(features), used, "score"):
            fig.add_trace(
                go.Bar(
                    name=group,
                    legendgroup=group,
                    showlegend=False,  # the subtitle says what the colours mean
                    x=[labels[i] for i in idx],
                    y=[float(norm[i]) for i in idx],
                    error_y=_whiskers(
                        [float(std[i]) for i in idx], attr.n_repeats > 1, thickness=1.2, width=4
                    ),
                    customdata=[
                        [
                            float(attr.importances_mean[i]),
                            float(attr.importances_std[i]),
                            attr.n_repeats,
                        ]
                        for i in idx
                    ],
                    marker=_bar_marker(color, pattern),
                    hovertemplate=(
                        f"<b>%{{x}}</b>: {method_label(method)}<br>"
                        "%{y:.2f} of this method's largest score<br>"
                        "score %{customdata[0]:.4g} ± %{customdata[1]:.2g} "
                        "(%{customdata[2]} repeats)<extra></extra>"
                    ),
                ),
                row=row,
                col=col,
            )
        fig.update_xaxes(
            categoryorder="array",
            categoryarray=labels,
            **UPRIGHT_WHEN_LONG,
            row=row,
            col=col,
        )
    low = 0.0 if lowest >= 0 else lowest - 0.1
    fig.update_yaxes(range=[low, 1.15], dtick=0.5, zeroline=True)
    fig.update_annotations(font={"size": 13})
    fig.update_layout(**head, barmode="overlay", height=grid["height"])
    fig.update_layout(margin={"b": _tick_room(ticks) + 10})
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text="÷ method's max", row=r, col=1)
    return fig


# Methods up to which the agreement heatmap writes its cells' numbers: they fit a cell of a
# chart as narrow as a phone (narrow layout) or as its breakpoint (wide layout).
CELL_TEXT_UP_TO = {"narrow": 5, "wide": 12}


def agreement_heatmap(comparison, narrow: bool = False) -> go.Figure:
    """Methods × methods heatmap of the Spearman correlation of their per-feature rankings.

    Rows carry the methods' numbers and names (on two lines), columns their numbers: long names
    side by side would run into each other. Undefined correlations (a method gives every feature
    the same score) are blank and say so. The numbers are written in the cells while they fit
    (CELL_TEXT_UP_TO methods, fewer on a ``narrow`` chart, a phone; the hover gives each).
    """
    names = list(comparison.methods)
    n = len(names)
    labels = [method_label(m) for m in names]
    rows = [f"{k} · {_two_lines(label)}" for k, label in enumerate(labels, 1)]
    columns = [str(k) for k in range(1, n + 1)]
    rho = np.asarray(comparison.rank_agreement, dtype=np.float64)
    z = [[None if not np.isfinite(v) else float(v) for v in row] for row in rho]
    text = [["—" if v is None else f"{v:.2f}" for v in row] for row in z]
    written = n <= CELL_TEXT_UP_TO["narrow" if narrow else "wide"]
    colorbar = {"title": {"text": "ρ"}, "thickness": 10 if narrow else 16, "xpad": 6}
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            text=text,
            texttemplate="%{text}" if written else None,
            customdata=[labels] * n,
            textfont={"size": 11 if n <= 8 else 10},
            colorscale="RdBu",
            zmin=-1.0,
            zmax=1.0,
            zmid=0.0,
            colorbar=colorbar,
            hovertemplate=(
                "<b>%{y}</b> vs <b>%{x} · %{customdata}</b><br>rank correlation %{text}"
                "<extra></extra>"
            ),
            xgap=1,
            ygap=1,
        )
    )
    n_features = len(comparison.attributions[names[0]].feature_names) if names else 0
    return _layout(
        fig,
        "Do the methods rank the features alike?",
        "method no.",
        "",
        subtitle=(
            f"Spearman correlation of the per-feature scores ({n_features} features): "
            "1 = same order, −1 = reversed; swaps within the error bars count as ties"
        ),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"type": "category"},
        height=max(360, 200 + 34 * n),
    )


def _quantile_name(level: float) -> str:
    special = {0.0: " (min)", 0.5: " (median)", 1.0: " (max)"}
    return f"their {level:g} quantile{special.get(float(level), '')}"


def _quantile_key(level: float) -> str:
    """The legend's short name of a held quantile (the legend's title says the rest)."""
    special = {0.0: " (min)", 0.5: " (median)", 1.0: " (max)"}
    return f"{level:g}{special.get(float(level), '')}"


def lek_profiles(
    attribution: Attribution,
    truth_features: Iterable[int] | None = None,
    narrow: bool = False,
    box: Rect | None = None,  # a method figure's signature; no feature × step map to mark
) -> go.Figure:
    """Lek's sensitivity curves: one panel per feature, one line per held quantile.

    ``attribution`` is the :func:`rnnviz.attr.methods.lek` Attribution: ``extra["grid"]`` (F, P)
    swept values, ``extra["curves"]`` (F, Q, P) mean predictions, ``extra["quantiles"]``.
    Four panels a row, NARROW_COLUMNS with ``narrow`` (a phone); the legend below.
    """
    from plotly.subplots import make_subplots

    grid = np.asarray(attribution.extra["grid"], dtype=np.float64)
    curves = np.asarray(attribution.extra["curves"], dtype=np.float64)
    quantiles = list(attribution.extra["quantiles"])
    names = list(attribution.feature_names)
    used = set(truth_features) if truth_features is not None else None
    titles = [f"{t}<br>swept" if len(t) > 8 else f"{t} swept" for t in _truth_rows(names, used)]
    head = title_layout(
        "Lek's profiles: sweep one, hold the rest",
        "constant sequences; score = range of the median curve over quantiles"
        + (f"; {TRUTH_MARK} = used by the rule" if used else ""),
        _lines(titles),
    )
    legend_px = 60 if narrow else 40  # the legend's rows below the last panels
    sizes = _panel_grid(
        len(names),
        NARROW_COLUMNS if narrow else 4,
        head,
        _lines(titles),
        panel_px=170,
        below_px=50,  # tick labels and the axis title
        bottom=50 + legend_px,
    )
    rows, cols = sizes["rows"], sizes["cols"]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        shared_yaxes=True,
        horizontal_spacing=0.1 if narrow else 0.06,
        vertical_spacing=sizes["vertical_spacing"],
    )
    n_q = len(quantiles)
    for f in range(len(names)):
        row, col = f // cols + 1, f % cols + 1
        # The swept range padded by 4%: its round ends (0 and 1 for data in [0, 1)) are ticks
        # inside the panel, not labels cut at its edge; few ticks keep neighbours' apart.
        low, high = float(grid[f].min()), float(grid[f].max())
        pad = 0.04 * (high - low) if high > low else 0.5
        fig.update_xaxes(
            range=[low - pad, high + pad],
            nticks=4,
            title_text="swept value",
            title_standoff=6,
            row=row,
            col=col,
        )
        for q, level in enumerate(quantiles):
            shade = QUANTILE_COLORS[round(q * (len(QUANTILE_COLORS) - 1) / max(n_q - 1, 1))]
            fig.add_trace(
                go.Scatter(
                    x=grid[f],
                    y=curves[f, q],
                    mode="lines",
                    name=_quantile_key(level),
                    legendgroup=f"q{q}",
                    showlegend=f == 0,
                    line={"color": shade, "width": 2.5 if abs(level - 0.5) < 1e-9 else 1.5},
                    hovertemplate=(
                        f"<b>{names[f]}</b> = %{{x:.3f}}, others at {_quantile_name(level)}"
                        "<br>mean prediction %{y:.3f}<extra></extra>"
                    ),
                ),
                row=row,
                col=col,
            )
    fig.update_yaxes(range=[-0.04, 1.04], dtick=0.25)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    fig.update_annotations(font={"size": 13})
    fig.update_layout(
        **head,
        height=sizes["height"],
        legend={**LEGEND_BELOW, "title": {"text": "others held at their quantile", "side": "top"}},
    )
    fig.update_layout(margin={"l": 50, "b": 50 + legend_px})  # room for the tick labels
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text="mean prediction", row=r, col=1)
    return fig


def sigma_sweep_curves(
    attribution: Attribution,
    truth_features: Iterable[int] | None = None,
    narrow: bool = False,
    box: Rect | None = None,  # a method figure's signature; no feature × step map to mark
) -> go.Figure:
    """Perturbation effect against σ, one line per feature, ±1 std whiskers, log σ axis.

    ``attribution`` is the :func:`rnnviz.attr.methods.sigma_sweep` Attribution
    (``extra["sigmas"]``
    (S,), ``extra["curves"]`` / ``extra["curves_std"]`` (F, S), ``extra["sigma"]`` the σ of
    its per-feature scores, marked by a dotted line). Features the rule reads are solid and
    carry TRUTH_MARK, the others are dashed. ``narrow`` (a phone): the legend below the plot,
    which keeps the chart's whole width.
    """
    sigmas = np.asarray(attribution.extra["sigmas"], dtype=np.float64)
    curves = np.asarray(attribution.extra["curves"], dtype=np.float64)
    stds = np.asarray(attribution.extra["curves_std"], dtype=np.float64)
    names = list(attribution.feature_names)
    used = set(truth_features) if truth_features is not None else None
    labels = _truth_rows(names, used)
    fig = go.Figure()
    others = 0
    for f in range(len(names)):
        solid = used is None or f in used
        if solid:
            line = {"color": feature_color(f), "width": 2.5, "dash": "solid"}
        else:
            dash = OTHER_DASHES[others % len(OTHER_DASHES)]
            line = {"color": OTHER_COLOR, "width": 2, "dash": dash}
            others += 1
        fig.add_trace(
            go.Scatter(
                x=sigmas,
                y=curves[f],
                error_y=_whiskers(stds[f], attribution.n_repeats > 1, thickness=1, width=3),
                mode="lines+markers",
                name=labels[f],
                line=line,
                marker={"size": 7},
                customdata=stds[f],
                hovertemplate=(
                    f"<b>{labels[f]}</b> at σ = %{{x:g}}<br>RMS effect %{{y:.4f}} ± "
                    "%{customdata:.4f}<extra></extra>"
                ),
            )
        )
    middle = float(attribution.extra.get("sigma", sigmas[len(sigmas) // 2]))
    fig.add_vline(
        x=middle,
        line={"color": ERROR_COLOR, "dash": "dot", "width": 1.5},
        annotation={"text": f"σ = {middle:g} (table row)", "font": {"size": 11}},
        annotation_position="top left",
    )
    return _layout(
        fig,
        "Perturbation effect against noise scale σ",
        "noise scale σ (log scale)",
        "RMS change of the predictions",
        subtitle=(
            f"mean ± std over {attribution.n_repeats} repeats"
            + (
                f"; coloured {TRUTH_MARK} = used by the rule, grey dashed = not used"
                if used
                else ""
            )
        ),
        xaxis={"type": "log", "tickvals": sigmas.tolist(), "ticktext": [f"{s:g}" for s in sigmas]},
        yaxis={"rangemode": "tozero"},
        **({"legend": LEGEND_BELOW} if narrow else {}),
    )


def _group_scale(extra: Mapping) -> str:
    """The scale of a group method in words: "windows of 5 steps", "blocks of 2 features"..."""
    w, b = int(extra["window"]), int(extra["block"])
    steps = f"{w} step{'s' if w != 1 else ''}"
    features = f"{b} feature{'s' if b != 1 else ''}"
    return {
        "window": f"windows of {steps}",
        "block": f"blocks of {features}",
        "tile": f"tiles of {features} × {steps}",
    }[extra["grouping"]]


def group_map(
    attribution: Attribution,
    truth_features: Iterable[int] | None = None,
    narrow: bool = False,
    box: Rect | None = None,
) -> go.Figure:
    """Feature × input step map of a group method (:func:`rnnviz.attr.methods.group_occlusion`):
    each cell carries its group's effect, and the groups are outlined (side by side only: sliding
    groups overlap), so the scale is on the map; the title names it, the subtitle the edit;
    ``truth_features`` get TRUTH_MARK, a planted ``box`` is outlined. ``narrow`` (a phone):
    fewer step ticks, a thin colour bar.
    """
    extra = attribution.extra
    cell = attribution.cell_mean
    n_features, n_steps = cell.shape
    used = set(truth_features) if truth_features is not None else None
    rows = _truth_rows(attribution.feature_names, used)
    scale = _group_scale(extra)
    edit = (
        f"occluded with the {extra.get('baseline', 'mean')}"
        if extra["edit"] == "occlude"
        else f"N(0, {attribution.sigma:g}) noise, {attribution.n_repeats} repeats"
    )
    sliding = extra["overlap"] == "sliding"
    fig = go.Figure(
        go.Heatmap(
            z=cell,
            x=list(range(n_steps)),
            y=rows,
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            colorbar={"title": {"text": "RMS<br>effect"}, "thickness": 10 if narrow else 16},
            hovertemplate=(
                "<b>%{y}</b> at input step %{x}<br>its group's RMS change of the counted "
                "outputs %{z:.4g}<extra></extra>"
            ),
        )
    )
    if not sliding:
        for s0, s1, f0, f1 in np.asarray(extra["groups"], dtype=np.int64):
            fig.add_shape(
                type="rect",
                x0=s0 - 0.5,
                x1=s1 - 0.5,
                y0=f0 - 0.5,
                y1=f1 - 0.5,
                line={"color": "white", "width": 1.5},
                layer="above",
            )
    subtitle = (
        f"{edit}; "
        + (
            "each cell = the mean of the groups covering it"
            if sliding
            else "each cell = its group's effect"
        )
        + (f"; {TRUTH_MARK} = used by the rule" if used and box is None else "")
        + (f"; {BOX_NOTE}" if box is not None else "")
    )
    outline_box(fig, box)
    return _layout(
        fig,
        f"Group effects: {scale}",
        "input step",
        "feature",
        subtitle=subtitle,
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis=step_ticks(0, n_steps - 1, most=5 if narrow else MAX_TICKS),
        height=max(360, 220 + 22 * n_features),
    )


def cell_map(
    attribution: Attribution,
    truth_features: Iterable[int] | None = None,
    narrow: bool = False,
    box: Rect | None = None,
) -> go.Figure:
    """Any method's feature × input step map (``attribution.cell_mean``), a planted ``box``
    outlined: where the method puts the evidence, against where it is. ``truth_features``
    get TRUTH_MARK when there is no box; ``narrow`` (a phone): fewer step ticks, a thin colour
    bar."""
    cell = attribution.cell_mean
    if cell is None:
        raise ValueError(f"{attribution.method} has no per-step scores to map")
    n_features, n_steps = cell.shape
    used = set(truth_features) if truth_features is not None and box is None else None
    fig = go.Figure(
        go.Heatmap(
            z=cell,
            x=list(range(n_steps)),
            y=_truth_rows(attribution.feature_names, used),
            colorscale=HEATMAP_SCALE,
            colorbar={"title": {"text": "score"}, "thickness": 10 if narrow else 16},
            hovertemplate="<b>%{y}</b> at input step %{x}<br>score %{z:.4g}<extra></extra>",
        )
    )
    outline_box(fig, box)
    notes = [attribution.note] if attribution.note else []
    if used:
        notes.append(f"{TRUTH_MARK} = used by the rule")
    if box is not None:
        notes.append(BOX_NOTE)
    return _layout(
        fig,
        f"{method_label(attribution.method)}: per feature and input step",
        "input step",
        "feature",
        subtitle="; ".join(notes) or None,
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis=step_ticks(0, n_steps - 1, most=5 if narrow else MAX_TICKS),
        height=max(360, 220 + (8 if n_features > 20 else 22) * n_features),
    )


def stepwise_losses(
    attribution: Attribution,
    truth_features: Iterable[int] | None = None,
    narrow: bool = False,
    box: Rect | None = None,  # a method figure's signature; no feature × step map to mark
) -> go.Figure:
    """The losses behind the improved stepwise selections, the loss with every input kept
    dotted: ISS1 (``extra["fixed_losses"]``) one bar per feature fixed at its mean alone; ISS2
    (``extra["order"]`` and ``extra["losses"]``) the loss as features are fixed one after
    another, in the order eliminated (a deletion curve in the model's own order). Features the
    rule reads are orange and hatched (TRUTH_MARK). ``narrow`` (a phone): the legend below."""
    extra = attribution.extra
    names = list(attribution.feature_names)
    used = set(truth_features) if truth_features is not None else None
    labels = _truth_rows(names, used)
    base = float(extra["base_loss"])
    cumulative = "order" in extra
    if cumulative:
        order = [int(f) for f in extra["order"]]
        x = [f"+{labels[f]}" for f in order]
        y = [float(v) for v in np.asarray(extra["losses"])[1:]]
        title = "Loss as inputs are fixed at their means, one after another"
        x_title = "input fixed next (those before stay fixed)"
    else:
        order = list(range(len(names)))
        x = labels
        y = [float(v) for v in extra["fixed_losses"]]
        title = "Loss with one input fixed at its mean"
        x_title = "input fixed at its mean (the others as they are)"
    colors = [USED_COLOR if used and f in used else OTHER_COLOR for f in order]
    patterns = ["/" if used and f in used else "" for f in order]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=y,
            name="with it and those before fixed" if cumulative else "with this input fixed",
            marker={
                **_bar_marker(OTHER_COLOR, ""),
                "color": colors,
                "pattern": {**_bar_marker(OTHER_COLOR, "")["pattern"], "shape": patterns},
            },
            hovertemplate="<b>%{x}</b><br>loss %{y:.4g}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[x[0], x[-1]],
            y=[base, base],
            mode="lines",
            name=f"every input kept: {base:.3g}",
            line={"color": ERROR_COLOR, "dash": "dot", "width": 2},
            hoverinfo="skip",
        )
    )
    loss = str(extra.get("loss", "loss"))
    return _layout(
        fig,
        title,
        x_title,
        loss if len(loss) <= 14 else "loss",
        subtitle=f"loss: {loss}; no retraining"
        + (f"; orange hatched {TRUTH_MARK} = used by the rule" if used else ""),
        xaxis={"categoryorder": "array", "categoryarray": x, **UPRIGHT_WHEN_LONG},
        yaxis={"rangemode": "tozero"},
        legend=LEGEND_BELOW if narrow else {"yanchor": "top", "y": 1.0},
    )


# --------------------------------------------------------------------- deletion and insertion

RANDOM_COLOR = "#8A94A6"  # the random orders' reference, grey like the features not used
RANDOM_DASH = {"cell": "dash", "feature": "dot"}
CURVE_TITLES = {
    "deletion": "Deletion: most important removed first",
    "insertion": "Insertion: most important put back first",
}
CURVE_AXES = {"deletion": "share of cells removed", "insertion": "share of cells put back"}


def faithfulness_curves(comparison, narrow: bool = False) -> go.Figure:
    """Each method's deletion and insertion curves beside random orders': the model's quality
    (accuracy, R² or loss) against the share of cells removed (put back), one line per method
    and one grey dashed line per grain of the random reference.

    ``comparison`` is a :class:`rnnviz.attr.comparison.Comparison` with ``curves``
    (:mod:`rnnviz.attr.faithfulness`); the random method's own curve is left out (the
    reference is the mean of several random orders). Wide: the two panels side by side;
    ``narrow`` (a phone): one above the other. The legend sits below.
    """
    from plotly.subplots import make_subplots

    curves = {m: c for m, c in (comparison.curves or {}).items() if m != RANDOM}
    if not curves:
        raise ValueError("this comparison has no deletion or insertion curves")
    names = [m for m in comparison.methods if m in curves]
    first = curves[names[0]]
    percent = first.metric in ("accuracy", "agreement")
    kinds = ("deletion", "insertion")
    titles = [CURVE_TITLES[k] for k in kinds]
    references = {}
    for m in names:
        references.setdefault(curves[m].grain, curves[m])
    orders = len(first.random_deletion)
    head = title_layout(
        f"{first.metric_label[0].upper()}{first.metric_label[1:]} as the top cells go",
        f"each method's order of importance; grey = random orders (mean of {orders}); "
        "a deletion curve below grey, an insertion curve above it = faithful",
        panel_lines=2 if narrow else 1,
    )
    legend_rows = -(-(len(names) + len(references)) // (1 if narrow else 3))
    legend_px = 22 * legend_rows + 10
    panel_px = 230 if narrow else 300
    rows, cols = (2, 1) if narrow else (1, 2)
    gap = 70 + PANEL_LINE_PX * 2  # below a panel: its ticks and axis title, then the next title
    plot = rows * panel_px + (rows - 1) * gap
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_two_lines(t, 30) if narrow else t for t in titles],
        shared_yaxes=not narrow,
        horizontal_spacing=0.06,
        vertical_spacing=gap / plot if rows > 1 else 0.0,
    )
    hover = "%{y:.1%}" if percent else "%{y:.3f}"
    for k, kind in enumerate(kinds):
        row, col = (k + 1, 1) if narrow else (1, k + 1)
        for grain, ref in references.items():
            label = "random order" + (f" ({grain}s)" if len(references) > 1 else "")
            fig.add_trace(
                go.Scatter(
                    x=ref.shares,
                    y=ref.reference(kind),
                    mode="lines",
                    name=label,
                    legendgroup=f"random-{grain}",
                    showlegend=k == 0,
                    line={"color": RANDOM_COLOR, "width": 2, "dash": RANDOM_DASH[grain]},
                    hovertemplate=f"<b>{label}</b><br>%{{x:.0%}}: {hover}<extra></extra>",
                ),
                row=row,
                col=col,
            )
        for i, m in enumerate(names):
            c = curves[m]
            label = method_label(m) + (" (features)" if c.grain == "feature" else "")
            fig.add_trace(
                go.Scatter(
                    x=c.shares,
                    y=c.curve(kind),
                    mode="lines+markers",
                    name=label,
                    legendgroup=m,
                    showlegend=k == 0,
                    line={"color": feature_color(i), "width": 2},
                    marker={"size": 5},
                    hovertemplate=(
                        f"<b>{label}</b><br>%{{x:.0%}} {CURVE_AXES[kind].split(' of ')[0]}"
                        f"<br>{first.metric_label} {hover}<br>{kind} score "
                        f"{c.score(kind):+.3f}<extra></extra>"
                    ),
                ),
                row=row,
                col=col,
            )
        fig.update_xaxes(
            title_text=CURVE_AXES[kind],
            tickformat=".0%",
            range=[-0.02, 1.02],
            dtick=0.25,
            title_standoff=6,
            row=row,
            col=col,
        )
        if narrow or k == 0:
            fig.update_yaxes(title_text=first.metric_label, row=row, col=col)
    fig.update_yaxes(tickformat=".0%" if percent else None, automargin=True)
    fig.update_annotations(font={"size": 13})
    bottom = 60 + legend_px
    fig.update_layout(
        **head,
        height=head["margin"]["t"] + plot + bottom,
        legend={**LEGEND_BELOW, "title": {"text": "order of removal", "side": "top"}},
    )
    fig.update_layout(margin={"b": bottom})
    return fig


# --------------------------------------------------------------------- pairwise interactions


def interaction_heatmap(
    result: InteractionResult, rule_pairs: Iterable[tuple[int, int]] | None = None
) -> go.Figure:
    """Feature × feature heatmap of the mean interaction strength, the rule's pairs starred.

    ``rule_pairs``: 0-based (i, j) pairs the rule combines
    (:func:`rnnviz.data.truth.interacting_pairs`);
    their cells (both halves of the symmetric matrix) carry a star. The diagonal is blank: a
    feature with itself is not a pair. The colours run from 0 to the largest single-feature
    effect (or the largest interaction, if larger): an interaction is bright only when it is
    comparable to what one feature alone does, so noise (a few hundredths next to an effect of
    0.38) stays dark instead of taking the whole scale.
    """
    names = list(result.feature_names)
    mean, std = result.importances_mean, result.importances_std
    n = len(names)
    marked = {(min(i, j), max(i, j)) for i, j in (rule_pairs or ())}
    labels = [
        [
            ""
            if i == j
            else f"{mean[i, j]:.3f}"
            + (f" {TRUTH_MARK}" if (min(i, j), max(i, j)) in marked else "")
            for j in range(n)
        ]
        for i in range(n)
    ]
    z = np.where(np.eye(n, dtype=bool), np.nan, mean)
    top = max(float(np.nanmax(result.single_mean)), float(np.nanmax(z)), 0.0)
    fig = go.Figure(
        _square_heatmap(
            z,
            names,
            labels,
            customdata=np.nan_to_num(std, nan=0.0),
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
            zmax=top if top > 0 else None,  # all zero: plotly's own scale
            hoverongaps=False,
            colorbar={"title": {"text": "RMS<br>interaction"}},
            hovertemplate=(
                "<b>%{y} with %{x}</b><br>RMS of Δ<sub>ij</sub> − Δ<sub>i</sub> − Δ<sub>j</sub> "
                "%{z:.4f} ± %{customdata:.4f}<extra></extra>"
            ),
        )
    )
    subtitle = f"joint nudge minus the two single nudges; σ = {result.sigma:g}, mean over "
    subtitle += f"{result.n_repeats} repeats"
    if rule_pairs is not None:
        subtitle += f"; {TRUTH_MARK} = the rule combines this pair"
    fig.update_layout(
        **title_layout("Do features combine?", subtitle),
        xaxis={"title": "feature j", "type": "category", "constrain": "domain"},
        yaxis={
            "title": "feature i",
            "type": "category",
            "autorange": "reversed",
            "scaleanchor": "x",
            "constrain": "domain",
        },
    )
    return fig


__all__ += [
    "agreement_heatmap",
    "faithfulness_curves",
    "interaction_heatmap",
    "lek_profiles",
    "method_multiples",
    "sigma_sweep_curves",
]


# --------------------------------------------------------------------------- one sequence

SIGNED_SCALE = "RdBu_r"  # blue pulled the output down, red pushed it up, white: no effect
READ_SYMBOL, DECIDED_SYMBOL = "circle-open", "star"


def sequence_figure(
    attr,
    reads: np.ndarray | None = None,
    decides: np.ndarray | None = None,
    step_names: Sequence[str] | None = None,
    narrow: bool = False,
) -> go.Figure:
    """One sequence explained (a :class:`rnnviz.attr.sequence.SequenceAttribution`): each
    input feature as a line over the steps, with the signed effect of each of its cells on the
    explained output as a colour strip behind it (red pushed it up, blue down), then the
    model's output and the target over time with the explained step marked. ``reads`` (F, T):
    the cells the rule reads for that output (open circles); ``decides`` (F, T): the cell that
    decided it (a star). ``narrow`` (a phone): fewer ticks, the legend below, a thin colour bar.
    """
    from plotly.subplots import make_subplots

    effect = attr.effect
    n_features, n_steps = effect.shape
    t = attr.output_step
    rows = n_features + 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[1.0] * n_features + [1.3],
    )
    steps = np.arange(n_steps)
    biggest = float(np.abs(effect).max()) or 1.0
    hover = "step %{x}: %{customdata:+.4g}<extra>%{meta}</extra>"
    for f, name in enumerate(attr.feature_names):
        values = attr.inputs[:, f]
        lo, hi = float(values.min()), float(values.max())
        pad = max(0.1 * (hi - lo), 0.05)
        fig.add_trace(
            go.Heatmap(
                z=[effect[f]],
                x=steps,
                y=[lo - pad, hi + pad],  # one row of cells spanning the panel
                coloraxis="coloraxis",
                meta=f"effect of {name}",
                customdata=[effect[f]],
                hovertemplate=hover,
                showlegend=False,
            ),
            row=f + 1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=values,
                mode="lines+markers",
                line={"color": "#2F2D2B", "width": 1.5},
                marker={"size": 4},
                name=name,
                showlegend=False,
                hovertemplate=f"{name} at step %{{x}}: %{{y:.3g}}<extra></extra>",
            ),
            row=f + 1,
            col=1,
        )
        for mask, symbol, label in (
            (reads, READ_SYMBOL, "read by the rule"),
            (decides, DECIDED_SYMBOL, "decided the output"),
        ):
            if mask is None or not np.asarray(mask)[f].any():
                continue
            at = np.flatnonzero(np.asarray(mask)[f])
            fig.add_trace(
                go.Scatter(
                    x=at,
                    y=values[at],
                    mode="markers",
                    marker={
                        "symbol": symbol,
                        "size": 13,
                        "color": USED_COLOR,
                        "line": {"width": 2, "color": USED_COLOR},
                    },  # fmt: skip
                    name=label,
                    legendgroup=label,
                    showlegend=not any(tr.name == label for tr in fig.data),
                    hovertemplate=f"{name} at step %{{x}}: {label}<extra></extra>",
                ),
                row=f + 1,
                col=1,
            )
        fig.update_yaxes(title_text=name, range=[lo - pad, hi + pad], row=f + 1, col=1)
    counted = np.ones(attr.n_outputs, bool) if attr.counted is None else attr.counted
    out_steps = np.arange(attr.n_outputs)
    fig.add_trace(
        go.Scatter(
            x=out_steps,
            y=np.where(counted, attr.prediction, np.nan),
            mode="lines+markers",
            line={"color": FEATURE_COLORS[0]},
            name="output",
            hovertemplate="output at step %{x}: %{y:.3f}<extra></extra>",
        ),
        row=rows,
        col=1,
    )
    if attr.target is not None:
        fig.add_trace(
            go.Scatter(
                x=out_steps[counted],
                y=np.asarray(attr.target)[counted],
                mode="markers",
                marker={"symbol": "square-open", "size": 8, "color": "#2F2D2B"},
                name="target",
                hovertemplate="target at step %{x}: %{y:.3g}<extra></extra>",
            ),
            row=rows,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=[t],
            y=[attr.output],
            mode="markers",
            marker={"symbol": "diamond", "size": 13, "color": USED_COLOR},
            name=f"explained: step {t}",
            hovertemplate="explained output, step %{x}: %{y:.3f}<extra></extra>",
        ),
        row=rows,
        col=1,
    )
    fig.update_yaxes(title_text="output", row=rows, col=1)
    for r in range(1, rows + 1):
        fig.add_vline(x=t, line={"dash": "dot", "color": "#8A94A6", "width": 1}, row=r, col=1)
    ticks = step_ticks(0, n_steps - 1, most=5 if narrow else MAX_TICKS)
    if step_names is not None:
        shown = list(range(0, n_steps, ticks["dtick"]))
        ticks = {"tickvals": shown, "ticktext": [str(step_names[s]) for s in shown]}
    fig.update_xaxes(**ticks)
    fig.update_xaxes(title_text="step", row=rows, col=1)
    layout = title_layout(
        f"Sequence {attr.sequence}: why output {t} is {attr.output:.2f}",
        f"colour: each cell's signed effect on output {t} ({sequence_label(attr.method)}); "
        "red pushed it up, blue down",
    )
    fig.update_layout(
        **layout,
        coloraxis={
            "colorscale": SIGNED_SCALE,
            "cmid": 0.0,
            "cmin": -biggest,
            "cmax": biggest,
            "colorbar": {
                "title": {"text": "effect"},
                "thickness": 10 if narrow else 16,
                "len": 0.6,
                "y": 1.0,
                "yanchor": "top",
            },  # fmt: skip
        },
        legend=LEGEND_BELOW,
        height=140 * n_features + 230 + layout["margin"]["t"] + (60 if narrow else 0),
    )
    return fig


SWEEP_METRIC_NAMES = {
    "lag_auc": "lag AUC against the truth",
    "feature_auc": "feature AUC against the truth",
    "deletion": "deletion score (area between the method's curve and random's)",
    "insertion": "insertion score (area between the method's curve and random's)",
}


def sweep_boxes(table, metric: str = "lag_auc") -> go.Figure:
    """A sweep's ``metric`` over seeds: one panel per task, one box per method and cell with
    every seed's value as a point (the spread the summary's quartiles report).

    ``table`` is a sweep's results (:mod:`rnnviz.sweep.table`: a pandas DataFrame, one row per
    experiment × method with columns task, cell, method, label, error and the metrics); rows
    with an error or without the metric (no ground truth) are left out. ValueError when no row
    has the metric.
    """
    from plotly.subplots import make_subplots

    rows = table[(table["error"] == "") & table[metric].notna()]
    if rows.empty:
        raise ValueError(f"no experiment of this sweep has a {metric} score")
    tasks = list(dict.fromkeys(rows["task"]))
    cells = list(dict.fromkeys(rows["cell"]))
    fig = make_subplots(
        rows=len(tasks),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[textwrap.shorten(t, 60) for t in tasks],
        vertical_spacing=min(0.12, 0.5 / len(tasks)),
    )
    shown: set[str] = set()
    for r, task in enumerate(tasks, start=1):
        for c, cell in enumerate(cells):
            part = rows[(rows["task"] == task) & (rows["cell"] == cell)]
            if part.empty:
                continue
            fig.add_trace(
                go.Box(
                    x=list(part["label"]),
                    y=list(part[metric]),
                    name=cell,
                    legendgroup=cell,
                    showlegend=cell not in shown,
                    marker_color=FEATURE_COLORS[c % len(FEATURE_COLORS)],
                    boxpoints="all",
                    jitter=0.3,
                    pointpos=0,
                    text=[f"seed {s}" for s in part["seed"]],
                    hovertemplate="%{x}<br>%{text}: %{y:.3f}<extra>%{fullData.name}</extra>",
                ),
                row=r,
                col=1,
            )
            shown.add(cell)
    seeds = rows["seed"].nunique()
    name = SWEEP_METRIC_NAMES.get(metric, metric)
    return _layout(
        fig,
        f"{name[:1].upper()}{name[1:]}, over {seeds} seed{'s' if seeds != 1 else ''}",
        "",
        metric,
        subtitle="one point per seed; box: median and quartiles",
        boxmode="group",
        height=max(320, 260 * len(tasks)),
    )
