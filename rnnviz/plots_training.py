"""Pure plot builders for training snapshots: what the network relied on, step by step.

``snapshot_now`` draws one snapshot (live, while a training runs); ``snapshot_replay`` is a
Plotly animation of all of them (frames and a slider) above the loss and the effects over the
optimiser steps. Every number comes from the snapshots passed in (``rnnviz.snapshots``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.attribution import trim_lags
from rnnviz.plots import OTHER_COLOR, TRUTH_MARK, _truth_rows, feature_color, title_layout
from rnnviz.snapshots import Snapshot, stack

Truth = Iterable[tuple[int, int]]


def _names(n_features: int, names: Sequence[str] | None) -> list[str]:
    return list(names or (f"x{i + 1}" for i in range(n_features)))


def _shown_lags(lags: np.ndarray, by_lag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lags to draw for (K, F, L) profiles: negative ones only if some snapshot has an effect
    there (a causal model never does)."""
    k, f, n = by_lag.shape
    shown, _ = trim_lags(lags, by_lag.reshape(k * f, n))
    keep = np.isin(lags, shown)
    return lags[keep], by_lag[:, :, keep]


def _mark_note(truth: Truth | None) -> str:
    """The subtitle's key to the star, only when there is a rule (a real series has none)."""
    return f"; {TRUTH_MARK} = read by the rule" if truth else ""


def _title(fig: go.Figure, title: str, subtitle: str) -> None:
    fig.update_layout(**title_layout(title, subtitle))


def snapshot_now(
    snapshot: Snapshot, names: Sequence[str] | None = None, truth: Truth | None = None
) -> go.Figure:
    """Per-feature effects (bars) and lag profile (lines) of one snapshot, side by side."""
    names = _names(len(snapshot.effects), names)
    used = {f for f, _ in truth or ()}
    lags, by_lag = _shown_lags(snapshot.lags, snapshot.by_lag[None])
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
    _title(
        fig,
        f"What the network relies on now: step {snapshot.step}",
        f"epoch {snapshot.epoch:.2f}{loss}{_mark_note(truth)}",
    )
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(title_text="lag (output step − input step)", row=1, col=2)
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return fig


def snapshot_replay(
    snapshots: Sequence[Snapshot], names: Sequence[str] | None = None, truth: Truth | None = None
) -> go.Figure:
    """An animation over the snapshots: effects and lag profile at the chosen step (slider, play
    button) above the loss and every feature's effect against the optimiser step, with the
    chosen step marked."""
    data = stack(snapshots)
    steps, effects = data["step"], data["effects"]
    n_snap, n_features = effects.shape
    names = _names(n_features, names)
    used = {f for f, _ in truth or ()}
    lags, by_lag = _shown_lags(data["lags"], data["by_lag"])
    lag_x = [int(v) for v in lags]
    top_effect = float(np.nanmax(effects)) if np.isfinite(effects).any() else 1.0
    top_lag = float(np.nanmax(by_lag)) if np.isfinite(by_lag).any() else 1.0
    fig = make_subplots(
        rows=2,
        cols=2,
        specs=[[{}, {}], [{"colspan": 2, "secondary_y": True}, None]],
        subplot_titles=("effect per feature", "effect against lag", "over the training"),
        vertical_spacing=0.16,
        row_heights=[0.55, 0.45],
    )

    def bar(i: int) -> go.Bar:
        return go.Bar(
            x=_truth_rows(names, used),
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
    animated = list(range(n_features + 2))
    fig.frames = [
        go.Frame(
            name=str(int(steps[i])),
            data=[bar(i), *(lag_line(i, f) for f in range(n_features)), marker(i)],
            traces=animated,
        )
        for i in range(n_snap)
    ]
    fig.update_layout(
        sliders=[
            {
                "active": last,
                "currentvalue": {"prefix": "after optimiser step "},
                "pad": {"t": 40},
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
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": -0.08,
                "xanchor": "left",
                "yanchor": "top",
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
        legend={"orientation": "h", "y": -0.3},
        height=640,
    )
    fig.update_yaxes(range=[0, top_effect * 1.1], row=1, col=1)
    fig.update_yaxes(range=[0, top_lag * 1.1], row=1, col=2)
    fig.update_yaxes(title_text="RMS effect", rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title_text="loss", rangemode="tozero", row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text="lag", row=1, col=2)
    fig.update_xaxes(title_text="optimiser step", row=2, col=1)
    _title(
        fig,
        "Watch reliance emerge while the network trains",
        f"{n_snap} snapshots over {int(steps[-1])} optimiser steps"
        f"{_mark_note(truth)}; slide or press replay",
    )
    return fig


__all__ = ["snapshot_now", "snapshot_replay"]
