"""Learn: the question, the method, the formula, how to read each plot, and the caveats."""

from __future__ import annotations

import streamlit as st

from rnnviz.config import Config
from rnnviz.data.source import source_of
from rnnviz.experiment import ground_truth
from rnnviz.report import plots, readings
from rnnviz.serve.warm import preset_experiments
from rnnviz.training.result import TrainResult
from rnnviz.ui import cache, components, text, training_view
from rnnviz.ui.text import md_code

SMALL = 360  # px: the example plots are smaller than on the results pages


def _example(config: Config) -> tuple[Config, TrainResult] | None:
    """The experiment whose plots illustrate the page: the session's when it is trained, else a
    preset experiment already in the cache, else None. No training is started from this page."""
    store = cache.model_store()
    for candidate in (config, *preset_experiments()):
        result = store.get(candidate)
        if result is not None:
            return candidate, result
    return None


def _small(fig):
    fig.update_layout(height=SMALL)
    return fig


def main() -> None:
    config = components.page_start()
    st.title("Learn: reading a recurrent network by nudging its inputs")
    example = _example(config)
    scores = None
    if example is not None:
        shown, result = example
        scores = components.scores_or_error(result, shown)
    rule = ground_truth(config)  # None for a real series

    left, right = st.columns([1.1, 1], gap="large")
    with left:
        st.markdown(text.QUESTION)
        if rule is None:
            source = source_of(config)
            st.markdown(
                f"The current experiment is real data, {source.description()}: "
                f"{text.SERIES_NO_TRUTH} {source.sigma_meaning or ''}".rstrip()
            )
        else:
            st.markdown(
                f"In the current experiment $y_t$ = 1 when {md_code(rule.expression)}, so the "
                f"ground truth is **{rule.describe_truth()}**.",
            )
        st.markdown(text.METHOD)
        st.latex(text.FORMULA_FEATURE)
        st.caption(text.FORMULA_NOISE)
        st.caption(r"Nudging feature $i$ at one input step $s$ only, effect on output step $t$:")
        st.latex(text.FORMULA_RESPONSE)
        st.caption(text.FORMULA_RESPONSE_NOTE)
        st.markdown(text.COUNTED)
        st.caption(readings.counted_here(rule.max_lag if rule else 0, config.seq_len))
    with right:
        st.markdown(text.READ_BARS)
        if scores is not None:
            if shown == config:
                st.caption("The plots on this page are those of the current experiment.")
            elif ground_truth(shown) is None:
                st.caption(f"The plots on this page are those of {source_of(shown).description()}.")
            else:
                st.caption(
                    "The current experiment is not trained yet, so the plots on this page are "
                    "those of a preset experiment already trained here: $y_t$ = 1 when "
                    f"{md_code(shown.target().expression)}. Train yours to see its own."
                )
            components.learned_notice(result)
            truth = ground_truth(shown)  # None for a real series: no marks
            st.plotly_chart(
                plots.feature_bars(scores, truth.features if truth else None),
                theme="streamlit",
                key="learn_bars",
            )
        else:
            st.info("Train the current experiment to see its plots here.", icon=":material/info:")
            st.page_link(
                components.SETUP_PAGE, label="Go to Setup & train", icon=":material/arrow_forward:"
            )

    st.divider()
    if scores is None:
        st.markdown(text.READ_HEATMAP)
        st.markdown(text.READ_RESPONSE)
        st.markdown(text.READ_LAG)
    else:
        # A small real example beside each reading note, from the experiment shown above.
        truth = ground_truth(shown)
        feature = min(truth.features) if truth and truth.features else 0
        pairs = truth.ground_truth if truth else None
        plots_and_notes = (
            (
                plots.timestep_heatmap(scores, pairs),
                "learn_heatmap",
                (text.READ_HEATMAP, readings.heatmap_vs_bars(scores)),
            ),
            (
                plots.response_map(scores, feature, pairs),
                "learn_response",
                (text.READ_RESPONSE,),
            ),
            (plots.lag_profile(scores, pairs), "learn_lag", (text.READ_LAG,)),
        )
        for fig, key, notes in plots_and_notes:
            a, b = st.columns([1, 1.1], gap="large")
            with a:
                for note in notes:
                    st.markdown(note)
            with b:
                st.plotly_chart(_small(fig), theme="streamlit", key=key)

    if scores is not None:  # the replay of the example's training
        st.divider()
        training_view.replay_section(result, key="learn_replay", final=scores)

    st.divider()
    st.markdown("#### Caveats")
    st.markdown(text.CAVEATS)
    st.caption(
        "Method and example from the Cross Validated question *Variable importance in RNN or "
        "LSTM*: with y = 1 when x1·x2 < 0.25, x1 and x2 should matter and x3 should not."
    )


main()
