"""Pure plot builders for training snapshots: what the network relied on, step by step.

``snapshot_now`` draws one snapshot (live, while a training runs); ``snapshot_replay`` is a
Plotly animation of all of them (frames and a slider) above the loss and the effects over the
optimiser steps. Every number comes from the snapshots passed in (``rnnviz.training.snapshots``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.attr.attribution import Attribution
from rnnviz.report.plots import (
    LEGEND_BELOW,
    OTHER_COLOR,
    TRUTH_MARK,
    UPRIGHT_WHEN_LONG,
    _truth_rows,
    feature_color,
    title_layout,
)
from rnnviz.training.snapshots import Snapshot, stack

Truth = Iterable[tuple[int, int]]
LIVE_HEIGHT = 340  # px: the live snapshot in the training box


def _names(n_features: int, names: Sequence[str] | None) -> list[str]:
    return list(names or (f"x{i + 1}" for i in range(n_features)))


def _shown_lags(
    lags: np.ndarray, by_lag: np.ndarray, reads_ahead: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Lags to draw for (K, F, L) profiles: the negative ones (later inputs moving earlier
    outputs) only for a model that reads ahead (a bidirectional cell), as the Per-timestep page
    draws them. A causal model's are zero up to float rounding (a snapshot's base and nudged
    copies sit at different rows of one model call), not a finding to draw."""
    keep = np.ones(len(lags), dtype=bool) if reads_ahead else np.asarray(lags) >= 0
    return lags[keep], by_lag[:, :, keep]


def _mark_note(truth: Truth | None) -> str:
    """The subtitle's key to the star, only when there is a rule (a real series has none)."""
    return f"; {TRUTH_MARK} = read by the rule" if truth else ""


def _sample_note(snapshot: Snapshot) -> str:
    """What one snapshot scored: its held-out sequences and σ (unknown in older caches)."""
    if snapshot.sequences is None:
        return ""
    sigma = "" if snapshot.sigma is None else f", σ = {snapshot.sigma:g}"
    return f"; each on {snapshot.sequences} held-out sequences{sigma}, one draw"


def _final_note(final: Attribution) -> str:
    """The subtitle's key to the full scoring's markers, with what it scored."""
    counts = final.output_counts
    sequences = "" if counts is None else f"{int(np.max(counts))} sequences × "
    sigma = "" if final.sigma is None else f", σ = {final.sigma:g}"
    return f"; ○ = full scoring of the final model ({sequences}{final.n_repeats} repeats{sigma})"


def snapshot_now(
    snapshot: Snapshot,
    names: Sequence[str] | None = None,
    truth: Truth | None = None,
    reads_ahead: bool = False,
) -> go.Figure:
    """Per-feature effects (bars) and lag profile (lines) of one snapshot, side by side;
    ``reads_ahead`` (a bidirectional model): negative lags too."""
    names = _names(len(snapshot.effects), names)
    used = {f for f, _ in truth or ()}
    lags, by_lag = _shown_lags(snapshot.lags, snapshot.by_lag[None], reads_ahead)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("effect per feature", "effect against lag"))
    fig.add_trace(
        go.Bar(
            x=_truth_rows(names, used),
            y=[float(v) for v in snapshot.effects],
            marker={"color": [feature_color(i) for i in range(len(names))]},
            showlegend=False,
            hovertemplate="<b>%{x}</b><br>RMS effect %{y:.4f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for f, name in enumerate(names):
        fig.add_trace(
            go.Scatter(
                x=[int(v) for v in lags],
                y=by_lag[0, f],
                mode="lines+markers",
                name=name,
                line={"color": feature_color(f), "width": 2},
                hovertemplate=f"<b>{name}</b> at lag %{{x}}: %{{y:.4f}}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    loss = "" if snapshot.loss is None else f", held-out loss {snapshot.loss:.3f}"
    fig.update_layout(
        **title_layout(
            f"What the network relies on now: step {snapshot.step}",
            f"epoch {snapshot.epoch:.2f}{loss}{_mark_note(truth)}",
            panel_lines=1,
        ),
        legend=LEGEND_BELOW,
        height=LIVE_HEIGHT,
    )
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(**UPRIGHT_WHEN_LONG, row=1, col=1)
    fig.update_xaxes(title_text="lag (steps back)", row=1, col=2)
    return fig


SLIDER_PAD_PX = 56  # below the plot: the bottom axis' tick labels and title, then the slider
REPLAY_PLOT_PX = 440  # both rows of panels and the gap between them
REPLAY_GAP_PX = 100  # the top panels' tick labels and axis title, then the lower panel's title
REPLAY_SLIDER_PX = 160  # below the plot: the slider and its button
LEGEND_ROW_PX = 26  # a row of legend entries (two entries a row on a phone)


def snapshot_replay(
    snapshots: Sequence[Snapshot],
    names: Sequence[str] | None = None,
    truth: Truth | None = None,
    reads_ahead: bool = False,
    final: Attribution | None = None,
) -> go.Figure:
    """An animation over the snapshots: effects and lag profile at the chosen step (slider, play
    button) above the loss and every feature's effect against the optimiser step, with the
    chosen step marked. ``reads_ahead`` (a bidirectional model): negative lags too. ``final``,
    the full scoring of the trained model (the Per-timestep page's), is drawn as hollow markers
    beside the snapshots' bars and lines, and the subtitle says what each scored: a snapshot is
    a quick estimate on a few held-out sequences, so its last frame is close to the full
    scoring, not equal to it."""
    data = stack(snapshots)
    steps, effects = data["step"], data["effects"]
    n_snap, n_features = effects.shape
    names = _names(n_features, names)
    used = {f for f, _ in truth or ()}
    lags, by_lag = _shown_lags(data["lags"], data["by_lag"], reads_ahead)
    lag_x = [int(v) for v in lags]
    bars_x = _truth_rows(names, used)
    reference = None
    if final is not None and len(final.feature_names) == n_features:
        full = dict(zip((int(v) for v in final.lags), final.by_lag().T, strict=True))
        if all(lag in full for lag in lag_x):
            reference = (final.importances_mean, np.stack([full[lag] for lag in lag_x], axis=1))
    tops = [effects, by_lag] + ([] if reference is None else list(reference))
    top_effect = max(float(np.nanmax(a)) if np.isfinite(a).any() else 0.0 for a in tops[::2])
    top_lag = max(float(np.nanmax(a)) if np.isfinite(a).any() else 0.0 for a in tops[1::2])
    top_effect, top_lag = top_effect or 1.0, top_lag or 1.0
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{}, {}], [{"colspan": 2, "secondary_y": True}, None]],
        subplot_titles=("effect per feature", "effect against lag", "over the training"),
        vertical_spacing=REPLAY_GAP_PX / REPLAY_PLOT_PX,
        row_heights=[0.5, 0.5],
    )

    def bar(i: int) -> go.Bar:
        return go.Bar(
            x=bars_x,
            y=[float(v) for v in effects[i]],
            marker={"color": [feature_color(f) for f in range(n_features)]},
            showlegend=False,
            hovertemplate="<b>%{x}</b><br>RMS effect %{y:.4f}<extra></extra>",
        )

    def lag_line(i: int, f: int) -> go.Scatter:
        return go.Scatter(
            x=lag_x,
            y=by_lag[i, f],
            mode="lines+markers",
            name=names[f],
            legendgroup=names[f],
            showlegend=False,
            line={"color": feature_color(f), "width": 2},
            hovertemplate=f"<b>{names[f]}</b> at lag %{{x}}: %{{y:.4f}}<extra></extra>",
        )

    def marker(i: int) -> go.Scatter:
        return go.Scatter(
            x=[int(steps[i]), int(steps[i])],
            y=[0.0, top_effect * 1.1],
            mode="lines",
            line={"color": OTHER_COLOR, "dash": "dot", "width": 2},
            showlegend=False,
            hoverinfo="skip",
        )

    last = n_snap - 1
    fig.add_trace(bar(last), row=1, col=1)  # trace 0
    for f in range(n_features):  # traces 1 .. F
        fig.add_trace(lag_line(last, f), row=1, col=2)
    fig.add_trace(marker(last), row=2, col=1)  # trace F + 1
    for f in range(n_features):
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=effects[:, f],
                mode="lines",
                name=names[f] + (f" {TRUTH_MARK}" if f in used else ""),
                legendgroup=names[f],
                line={"color": feature_color(f), "width": 2},
                hovertemplate=f"<b>{names[f]}</b> at step %{{x}}: %{{y:.4f}}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=data["loss"],
            mode="lines",
            name="held-out loss",
            line={"color": OTHER_COLOR, "dash": "dash", "width": 2},
            hovertemplate="loss at step %{x}: %{y:.4f}<extra></extra>",
        ),
        row=2,
        col=1,
        secondary_y=True,
    )
    if reference is not None:  # the full scoring of the final model: fixed, in every frame
        importances, profile = reference
        ring = {"symbol": "circle-open", "size": 11, "line": {"width": 2}}
        fig.add_trace(
            go.Scatter(
                x=bars_x,
                y=[float(v) for v in importances],
                mode="markers",
                name="full scoring, final model",
                legendgroup="full",
                marker={**ring, "color": "#5A6270"},
                hovertemplate="<b>%{x}</b>, full scoring: %{y:.4f}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        for f in range(n_features):
            fig.add_trace(
                go.Scatter(
                    x=lag_x,
                    y=profile[f],
                    mode="markers",
                    name=f"{names[f]}, full scoring",
                    legendgroup="full",
                    showlegend=False,
                    marker={**ring, "color": feature_color(f)},
                    hovertemplate=(
                        f"<b>{names[f]}</b> at lag %{{x}}, full scoring: %{{y:.4f}}<extra></extra>"
                    ),
                ),
                row=1,
                col=2,
            )
    animated = list(range(n_features + 2))
    fig.frames = [
        go.Frame(
            name=str(int(steps[i])),
            data=[bar(i), *(lag_line(i, f) for f in range(n_features)), marker(i)],
            traces=animated,
        )
        for i in range(n_snap)
    ]
    below = {"y": 0.0, "yanchor": "top", "pad": {"t": SLIDER_PAD_PX}}
    entries = n_features + 1 + (reference is not None)  # the legend's: features, loss, full
    bottom = REPLAY_SLIDER_PX + LEGEND_ROW_PX * -(-entries // 2)
    head = title_layout(
        "Watch reliance emerge during training",
        f"{n_snap} snapshots over {int(steps[-1])} optimiser steps"
        f"{_sample_note(snapshots[-1])}"
        f"{'' if reference is None else _final_note(final)}"
        f"{_mark_note(truth)}; slide or press ▶",
        panel_lines=1,
    )
    fig.update_layout(
        **head,
        sliders=[
            {
                **below,
                "active": last,
                "x": 0.0,
                "len": 1.0,
                "currentvalue": {
                    "prefix": "after optimiser step ",
                    "xanchor": "right",
                    "offset": 16,
                },
                "steps": [
                    {
                        "label": str(int(s)),
                        "method": "animate",
                        "args": [
                            [str(int(s))],
                            {"mode": "immediate", "frame": {"duration": 0, "redraw": True}},
                        ],
                    }
                    for s in steps
                ],
            }
        ],
        updatemenus=[
            {
                **below,
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "xanchor": "left",
                "buttons": [
                    {
                        "label": "▶ replay",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": 350, "redraw": True},
                                "fromcurrent": False,
                                "transition": {"duration": 0},
                            },
                        ],
                    }
                ],
            }
        ],
        legend=LEGEND_BELOW,
        height=head["margin"]["t"] + REPLAY_PLOT_PX + bottom,
    )
    fig.update_layout(margin={"b": bottom})
    fig.update_yaxes(range=[0, top_effect * 1.1], row=1, col=1)
    fig.update_yaxes(range=[0, top_lag * 1.1], row=1, col=2)
    fig.update_yaxes(title_text="RMS effect", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text="loss", rangemode="tozero", row=2, col=1, secondary_y=True)
    fig.update_xaxes(**UPRIGHT_WHEN_LONG, row=1, col=1)
    fig.update_xaxes(title_text="lag (steps back)", row=1, col=2)
    fig.update_xaxes(title_text="optimiser step", row=2, col=1)
    return fig


__all__ = ["LIVE_HEIGHT", "snapshot_now", "snapshot_replay"]
