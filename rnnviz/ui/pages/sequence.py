"""One sequence: the signed effect of each input cell on one output step of one scored sequence.

Pick a sequence by index, the most confident output, the most confident wrong one or, for a
real series, by the day it forecasts; the link holds the sequence and the step.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from rnnviz.attr.sequence import sequence_truth, truth_scores
from rnnviz.report import plots, readings
from rnnviz.ui import cache, charts, components, state, text

INDEX, STEP, METHOD, DAY = "seq_index", "seq_step", "seq_method", "seq_day"


def _jump(index: int, step: int) -> None:
    st.session_state[INDEX], st.session_state[STEP] = index, step


def _start(key: str, value: int | None, default: int, top: int) -> None:
    """The widget's first value: the link's (within range), else ``default``."""
    if key not in st.session_state:
        st.session_state[key] = value if value is not None and 0 <= value <= top else default


def main() -> None:
    started = components.results_page_start("One sequence", text.SEQUENCE_CAPTION)
    if started is None:
        return
    config, subject = started
    result, upload = subject.result, subject.upload
    n_upload = None if upload is None else components.upload_sample_size(upload, config)
    try:
        if upload is None:
            picks = cache.sequence_picks(result, config)
        else:
            picks = cache.upload_sequence_picks(upload, n_upload)
    except Exception as exc:  # never show a traceback
        components.error_box("The scored sequences could not be read", exc)
        return
    steps = config.seq_len if upload is None else upload.data.shape[1]
    n, last = picks["n"], steps - 1
    _start(INDEX, state.view_param("seq"), (picks["confident"] or (0, last))[0], n - 1)
    _start(STEP, state.view_param("step"), last, last)
    days = picks["days"]
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.number_input(f"Sequence (0 to {n - 1} of the scored ones)", 0, n - 1, key=INDEX)
        if days is not None:  # each day is the last forecast of one window
            forecast_days = [str(d) for d in days[:, -1]]
            st.selectbox(
                "Or the day it forecasts",
                range(n),
                index=None,
                key=DAY,
                format_func=lambda i: forecast_days[i],
                on_change=lambda: (
                    _jump(st.session_state[DAY], last)
                    if st.session_state[DAY] is not None
                    else None
                ),
            )
    with right:
        buttons = st.container(horizontal=True)
        if picks["confident"] is not None:
            buttons.button("Most confident output", on_click=_jump, args=picks["confident"])
        if picks["wrong"] is not None:
            buttons.button("Most confident wrong output", on_click=_jump, args=picks["wrong"])
        st.slider("Output step to explain", 0, last, key=STEP)
    index, step = int(st.session_state[INDEX]), int(st.session_state[STEP])
    state.set_view_params(seq=index, step=step)
    try:
        if upload is None:
            maps = cache.sequence(result, config, index)
        else:
            maps = cache.upload_sequence(upload, n_upload, config, index)
    except Exception as exc:  # never show a traceback
        components.error_box("This sequence could not be explained", exc)
        return
    scores = components.subject_scores(subject, config)  # the model's saturation is kept there
    if scores is not None:  # a sure model: one sequence's effects can be rounding, say so
        components.saturation_notice(result, config, scores, "sequence")
    method = st.selectbox("Method", list(maps), key=METHOD, format_func=readings.sequence_label)
    attr = maps[method].at(step)
    rule = subject.truth
    reads, decides = sequence_truth(attr, rule) if rule is not None else (None, None)
    step_names = None if days is None else [str(d)[5:] for d in days[index]]
    st.markdown(readings.sequence_reading(attr, step_names))
    charts.by_width(plots.sequence_figure, "sequence", attr, reads, decides, step_names)
    c1, c2 = st.columns([1, 1.4], gap="large")
    with c1:
        st.markdown(f"**Largest effects** ({readings.sequence_units(method)})")
        st.markdown("\n".join(f"- {line}" for line in readings.sequence_cell_lines(attr, digits=3)))
        if rule is not None:
            scores = truth_scores([attr], rule, every_step=False)
            st.caption(readings.sequence_truth_line(scores))
    with c2:
        st.markdown(text.READ_SEQUENCE)
    if attr.note:
        st.caption(f"Caveat: {attr.note}.")
    if not np.isfinite(attr.effect).all():
        st.warning("Some effects are not finite numbers.")


main()
