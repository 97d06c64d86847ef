"""The "Do features combine?" section of the per-feature page.

Draws the interaction heatmap of the trained experiment with the rule's pairs starred and a
reading built from its numbers; the computation is cached by ``rnnviz.ui.cache.interactions``.
"""

from __future__ import annotations

import logging

import streamlit as st

from rnnviz.attr.reliance import noise_of
from rnnviz.config import Config
from rnnviz.data.truth import interacting_pairs
from rnnviz.experiment import ground_truth
from rnnviz.report import readings
from rnnviz.report.plots import interaction_heatmap
from rnnviz.training.result import TrainResult
from rnnviz.ui import cache, text

log = logging.getLogger(__name__)


def section(result: TrainResult, config: Config) -> None:
    """Heatmap and reading for a trained experiment with at least two features."""
    if config.n_features < 2:
        return
    st.markdown(f"#### {text.INTERACTIONS_HEADING}")
    try:
        found = cache.interactions(result, config)
    except Exception as exc:  # never a traceback on the page
        log.exception("measuring interactions failed")
        st.error(f"Measuring interactions failed: {type(exc).__name__}: {exc}")
        return
    rule = ground_truth(config)  # None for a real series: no pairs to mark
    pairs = None if rule is None else interacting_pairs(rule)
    left, right = st.columns([1.3, 1], gap="large")
    with left:
        st.plotly_chart(interaction_heatmap(found, pairs), theme="streamlit", key="interactions")
    with right:
        st.markdown(readings.interaction_reading(found, pairs, noise_of(config)))
        st.markdown(text.READ_INTERACTIONS)
        if pairs is not None:  # a rule to mark (a real series has none)
            st.markdown(text.READ_INTERACTIONS_RULE)
