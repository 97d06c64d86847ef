"""Per-timestep effects: feature × input step, the response map of one feature, effect by lag.

Works on the session's subject: the trained experiment or an uploaded model (no ground truth).
"""

from __future__ import annotations

import streamlit as st

from rnnviz.report import plots
from rnnviz.ui import components, text


def main() -> None:
    started = components.results_page_start(
        "Per-timestep effects",
        "Nudge one feature at one step only: *when* does the model use it, and how far back "
        "does it remember it?",
    )
    if started is None:
        return
    config, subject = started
    scores = components.subject_scores(subject, config)
    if scores is None:
        return
    components.saturation_notice(subject.result, config, scores, "timesteps")
    rule = subject.truth
    truth = subject.ground_truth
    used = sorted(subject.truth_features or ())
    about = components.scoring_caption(subject, config, scores)
    about += " Change σ, repeats and the sample on the Per-feature effects page."
    if rule is not None:
        about += (
            f" The rule $y_t$ = 1 when {text.md_code(rule.expression)} reads "
            f"{rule.describe_truth()}."
        )
    st.caption(about)
    series = rule is None and not subject.is_upload  # a real series: no truth, named days
    if series:
        components.series_notes(config, scores)
    if not subject.is_upload and config.cell == "bilstm":
        st.info(text.BIDIRECTIONAL, icon=":material/swap_horiz:")
    left, right = st.columns([2.3, 1], gap="large")
    with left:  # a series forecasts every day: its map is per day back (see days_back_heatmap)
        heatmap = (
            plots.days_back_heatmap(scores)
            if series
            else plots.timestep_heatmap(scores, truth, box=getattr(rule, "rect", None))
        )
        st.plotly_chart(heatmap, theme="streamlit", key="heatmap")
    with right:  # only speak of the rule's marks where there is a rule
        st.markdown(
            text.READ_HEATMAP
            if rule is not None
            else text.READ_HEATMAP_SERIES
            if series
            else text.READ_HEATMAP_UPLOAD
        )

    names = scores.feature_names
    if st.session_state.get("ts_feature", -1) not in range(len(names)):
        st.session_state["ts_feature"] = used[0] if used else 0
    c1, c2 = st.columns(2, gap="large")
    with c1:
        feature = st.selectbox(
            "Feature for the response map",
            range(len(names)),
            key="ts_feature",
            format_func=lambda i: (
                f"{names[i]} {plots.TRUTH_MARK} (used by the rule)" if i in used else names[i]
            ),
        )
        st.plotly_chart(
            plots.response_map(scores, feature, truth), theme="streamlit", key="response_map"
        )
        st.markdown(text.READ_RESPONSE if rule is not None else text.READ_RESPONSE_UPLOAD)
    with c2:
        st.plotly_chart(plots.lag_profile(scores, truth), theme="streamlit", key="lag_profile")
        st.markdown(
            text.READ_LAG
            if rule is not None
            else text.READ_LAG_SERIES
            if series
            else text.READ_LAG_UPLOAD
        )
    st.markdown("**Downloads**")
    components.timestep_downloads(config, subject, scores)


main()
