"""Pure plot builder for pairwise interactions: an InteractionResult in, a plotly Figure out.

Every number drawn comes from the result passed in; the builder only chooses the layout (the
conventions of :mod:`rnnviz.plots`: mid-tone colours, theme left to the host).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go

from rnnviz.interactions import InteractionResult
from rnnviz.plots import HEATMAP_SCALE, TRUTH_MARK, title_margin, wrap_subtitle

Pairs = Iterable[tuple[int, int]]


def interaction_heatmap(result: InteractionResult, rule_pairs: Pairs | None = None) -> go.Figure:
    """Feature × feature heatmap of the mean interaction strength, the rule's pairs starred.

    ``rule_pairs``: 0-based (i, j) pairs the rule combines (:func:`rnnviz.truth.interacting_pairs`);
    their cells (both halves of the symmetric matrix) carry a star. The diagonal is blank: a
    feature with itself is not a pair.
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
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=labels,
            texttemplate="%{text}",
            customdata=np.nan_to_num(std, nan=0.0),
            colorscale=HEATMAP_SCALE,
            zmin=0.0,
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
    subtitle = wrap_subtitle(subtitle)
    fig.update_layout(
        title={
            "text": "Do features combine?",
            "subtitle": {"text": subtitle},
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 38},
        },
        xaxis={"title": "feature j", "type": "category", "constrain": "domain"},
        yaxis={
            "title": "feature i",
            "type": "category",
            "autorange": "reversed",
            "scaleanchor": "x",
            "constrain": "domain",
        },
        margin={"l": 10, "r": 10, "t": title_margin(subtitle.count("<br>") + 1), "b": 10},
        hoverlabel={"namelength": -1},
    )
    return fig


__all__ = ["interaction_heatmap"]
