"""Charts whose layout depends on their width: the wide figure and the narrow one, one shown.

Plotly draws a figure at any width but lays it out once, and a Streamlit page cannot know how
wide a chart will be (a phone, a column beside a note, a projector). A builder with a
``narrow`` layout (its breakpoint in :data:`rnnviz.report.plots.WIDE_FROM_PX`: small multiples in
two columns on a phone, say) is drawn both ways here, and a CSS container query on the chart's
own width shows the one that fits: a phone gets the narrow one, and so does a column too narrow
for the wide one, whatever the screen.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from rnnviz.report.plots import WIDE_FROM_PX


def _block(kind: str, key: str) -> str:
    """A Streamlit container's key, which is also its CSS class (``st-key-<key>``)."""
    return f"rnnviz-{kind}-{key}"


def _style(wide_from: int) -> str:
    """Hide the wide twin below ``wide_from`` px of its container's width, the narrow one
    from there on (the container's wrapper too, so that no gap is left)."""

    def hidden(kind: str) -> str:
        twin = f'[class*="st-key-rnnviz-{kind}-{wide_from}-"]'
        return f'{twin}, [data-testid="stLayoutWrapper"]:has(> {twin}) {{ display: none; }}'

    return (
        "<style>"
        '[class*="st-key-rnnviz-twin-"] { container-type: inline-size; }'
        f"@container (width < {wide_from}px) {{ {hidden('wide')} }}"
        f"@container (width >= {wide_from}px) {{ {hidden('narrow')} }}"
        "</style>"
    )


def by_width(build: Callable[..., go.Figure], key: str, *args, **kwargs) -> None:
    """``build(*args, **kwargs)`` and ``build(*args, **kwargs, narrow=True)`` drawn as one
    chart: the page shows the wide figure where the chart is at least
    ``WIDE_FROM_PX[build.__name__]`` px wide, the narrow one elsewhere. ``key`` is the wide
    chart's (the narrow one's ends in ``-narrow``)."""
    wide_from = WIDE_FROM_PX[build.__name__]
    st.html(_style(wide_from))  # style only: Streamlit gives it no room on the page
    with st.container(key=_block("twin", key)):
        with st.container(key=_block(f"wide-{wide_from}", key)):
            st.plotly_chart(build(*args, **kwargs), theme="streamlit", key=key)
        with st.container(key=_block(f"narrow-{wide_from}", key)):
            narrow = build(*args, **kwargs, narrow=True)
            st.plotly_chart(narrow, theme="streamlit", key=f"{key}-narrow")
