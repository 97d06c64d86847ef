"""Learn: the question, the method, the formula, how to read each plot, and the caveats."""

from __future__ import annotations

import streamlit as st

from rnnviz import plots
from rnnviz.ui import cache, components, text


def main() -> None:
    config = components.page_start()
    st.title("Learn: reading a recurrent network by nudging its inputs")
    # Plots of the current experiment beside the text, when it is already trained (no training
    # is started from this page).
    result = cache.model_store().get(config)
    scores = components.scores_or_error(result, config) if result is not None else None
    rule = config.target()

    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown(text.QUESTION)
        st.markdown(
            f"In the current experiment $y_t$ = 1 when {text.md_code(rule.expression)}, so the "
            f"ground truth is **{rule.describe_truth()}**.",
        )
        st.markdown(text.METHOD)
        st.latex(text.FORMULA_FEATURE)
        st.caption(text.FORMULA_NOISE)
        st.caption(r"Nudging feature $i$ at one input step $s$ only, effect on output step $t$:")
        st.latex(text.FORMULA_RESPONSE)
        st.caption(text.FORMULA_RESPONSE_NOTE)
        st.markdown(text.COUNTED)
        st.caption(text.counted_here(rule.max_lag, config.seq_len))
    with right:
        if scores is not None:
            components.learned_notice(result)
            st.plotly_chart(
                plots.feature_bars(scores, rule.features), theme="streamlit", key="learn_bars"
            )
            st.markdown(text.READ_BARS)
        else:
            st.markdown(text.READ_BARS)
            st.info("Train the current experiment to see its plots here.", icon=":material/info:")
            st.page_link(
                components.SETUP_PAGE, label="Go to Setup & train", icon=":material/arrow_forward:"
            )

    if scores is not None:
        st.divider()
        a, b = st.columns([1, 1.1], gap="large")
        with a:
            st.markdown(text.READ_RESPONSE)
            st.markdown(text.READ_LAG)
        with b:
            st.plotly_chart(
                plots.lag_profile(scores, rule.ground_truth), theme="streamlit", key="learn_lag"
            )
    else:
        st.markdown(text.READ_HEATMAP)
        st.markdown(text.READ_RESPONSE)
        st.markdown(text.READ_LAG)

    st.divider()
    st.markdown("#### Caveats")
    st.markdown(text.CAVEATS)
    st.caption(
        "Method and example from the Cross Validated question *Variable importance in RNN or "
        "LSTM*: with y = 1 when x1·x2 < 0.25, x1 and x2 should matter and x3 should not."
    )


main()
cache.warm_tensorflow()  # after drawing: later trainings need not wait for the import
