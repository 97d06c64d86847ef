"""Per-feature effects: the thread's result, with sigma and repeats as (scoring-only) controls.

Works on the session's subject: the trained experiment or an uploaded model (no ground truth).
"""

from __future__ import annotations

import streamlit as st

from rnnviz.attr.registry import SIGMA_STEPS
from rnnviz.config import Config
from rnnviz.data.source import source_of
from rnnviz.report import plots, readings
from rnnviz.ui import components, interactions_view, state, tables, text
from rnnviz.ui.cache import bounds

SAMPLE_STEPS = (20, 50, 100, 250, 500, 1000, 2000)


def _choices(steps, current, bounds, *, open_low: bool = False) -> list:
    lo, hi = bounds
    return sorted({v for v in steps if (lo < v if open_low else lo <= v) and v <= hi} | {current})


def _scoring_controls(config: Config, n_available: int | None = None) -> Config:
    """σ, repeats and sample size: they only change scoring, never the trained model.

    ``n_available``: the sequences an uploaded data set has (the sample cannot be larger).
    """
    b = bounds()
    ss = st.session_state
    for key, value in (
        ("fx_sigma", config.sigma),
        ("fx_repeats", config.n_repeats),
        ("fx_sample", config.n_score),
    ):
        if key not in ss:
            ss[key] = value
    c1, c2, c3 = st.columns([2, 1.2, 1.2], gap="medium")
    sigma = c1.select_slider(
        "Noise scale σ",
        _choices(SIGMA_STEPS, config.sigma, b.sigma, open_low=True),
        key="fx_sigma",
        format_func=lambda v: f"{v:g}",
        help=text.SIGMA_HELP,
    )
    repeats = c2.slider("Repeats", *b.n_repeats, key="fx_repeats", help=text.REPEATS_HELP)
    if n_available is None and source_of(config).fixed_counts:  # a real series: its whole year
        sample = config.n_score
        c3.caption("Sequences scored: every window of the scored year.")
    else:
        sample = c3.select_slider(
            "Sequences scored"
            if n_available is None
            else f"Sequences scored (your data has {n_available:,})",
            _choices(SAMPLE_STEPS, config.n_score, b.n_score),
            key="fx_sample",
            help=text.SAMPLE_HELP,
        )
    try:
        new = config.replace(
            sigma=float(sigma), n_repeats=int(repeats), n_score=int(sample)
        ).validate(b)
    except ValueError as exc:
        components.error_box("Change the scoring settings", exc)
        return config
    if new != config:
        state.set_config(new)
    return new


READ_BARS_UPLOAD = """
**Per-feature bars.** One bar per feature: the RMS change of all predictions when that
feature is nudged at every step. Whiskers are ±1 standard deviation over the repeats. Tall
bars are the features your model relies on; near-zero bars are features it ignores.
"""


def main() -> None:
    started = components.results_page_start(
        "Per-feature effects",
        "The thread's method: add noise of scale σ to one feature at every step and measure the "
        "RMS change of the model's predictions.",
    )
    if started is None:
        return
    config, subject = started
    config = _scoring_controls(config, subject.upload.data.shape[0] if subject.upload else None)
    scores = components.subject_scores(subject, config)
    if scores is None:
        return
    left, right = st.columns([2.3, 1], gap="large")
    with left:
        bars = plots.feature_bars(scores, subject.truth_features)
        axis = source_of(config).effect_axis  # a real series' effects: in the outcome's units
        if axis is not None and subject.upload is None:
            bars.update_yaxes(title_text=axis)
        st.plotly_chart(bars, theme="streamlit", key="feature_bars")
    with right:
        rule = subject.truth
        if rule is not None:
            st.markdown(text.READ_BARS)
            st.markdown(
                f"**This rule:** $y_t$ = 1 when {text.md_code(rule.expression)}, so it reads "
                f"{rule.describe_truth()}.",
            )
            st.caption(
                "Moving σ, repeats or the sample only re-scores the trained model (no retraining)."
            )
            if config.correlated:
                st.info(
                    readings.correlated_credit(config.correlated, rule.features),
                    icon=":material/link:",
                )
        elif subject.upload is None:  # a real series: no truth, σ in shares of a spread
            st.markdown(text.READ_BARS_SERIES)
            st.caption(components.scoring_caption(subject, config, scores))
        else:
            st.markdown(READ_BARS_UPLOAD)
            st.caption(components.scoring_caption(subject, config, scores))
            st.caption(components.upload_spread_caption(subject.upload, config.sigma))
    if rule is None and subject.upload is None:
        components.series_notes(config, scores)
    t1, t2 = st.columns([1, 1.3], gap="large")
    with t1:
        st.markdown("**In the thread's format**")
        # wrapped: a measurement's name makes a line longer than the column at 1400 px
        st.code(readings.thread_lines(scores), language=None, wrap_lines=True)
    with t2:
        st.markdown("**Per feature, with the spread over repeats**")
        table = tables.feature_table(scores, subject.truth_features or ())
        if rule is None:  # nothing is known about what the target uses
            table.pop("used by the rule")
        st.table(table, hide_index=True)  # wraps its text at any width (a grid would scroll)
    if subject.result is not None:  # pairs, for a trained experiment
        interactions_view.section(subject.result, config)
    st.markdown("**Downloads**")
    components.subject_downloads(config, subject, scores)


main()
