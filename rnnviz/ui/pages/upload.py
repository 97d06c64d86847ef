"""Your model & data: upload sequences and a model; the results pages then explain that model.

The model comes as weights for an architecture rnnviz builds (the only way in hosted mode) or,
on your own machine, as a whole ``.keras`` file. All checks live in ``rnnviz.serve.uploads``; this
page is layout. What is uploaded stays in this browser session (``st.session_state``) only.
"""

from __future__ import annotations

import math

import streamlit as st

from rnnviz.config import ACTIVATIONS, HEADS
from rnnviz.serve.hosting import Settings
from rnnviz.serve.uploads import (
    MAX_SEQUENCES,
    TASKS,
    UploadedData,
    UploadError,
    read_data,
)
from rnnviz.ui import cache, components, state
from rnnviz.ui.text import md_code

K = "up_"  # prefix of this page's widget keys
TASK_NAMES = {
    "classification": "Classification (a probability per step, labels 0/1)",
    "regression": "Regression (a number per step, e.g. a temperature)",
}
MODES = {
    "weights": "Weights for an rnnviz architecture (.weights.h5)",
    "keras": "A whole Keras model (.keras)",
}


def _data_help(s: Settings) -> str:
    b = s.bounds
    return f"""
**x** has shape *(sequences, steps, features)*: {b.seq_len[0]} to {b.seq_len[1]} steps,
{b.n_features[0]} to {b.n_features[1]} features, at most {MAX_SEQUENCES:,} sequences, numbers
only. Optional **labels y** (0 or 1 per sequence and step, shape *(sequences, steps)*; for a
regression, any number) let rnnviz check the model's accuracy (or its R² and error against
persistence). Files up to **{s.max_upload_mb:g} MB**.

- **.npy**: the array x (saved with `numpy.save`).
- **.npz**: arrays named `x` and, optionally, `y` (`numpy.savez`).
- **.csv**: one row per sequence and step, header `sequence,step,x1,…,xF` and an optional
  last column `y`; steps 0…T−1 for every sequence 0…n−1.

Pickled objects are never loaded.
"""


WEIGHTS_HOWTO = """
rnnviz builds the model from the form (steps and features come from your data) and loads your
weights into it, so no code from the file runs. To make a weights file for it:

```python
from rnnviz.config import Config
from rnnviz.training.model import build_model

model = build_model(Config(seq_len=T, n_features=F, units=(10, 5)))
# ... train it on your data ...
model.save_weights("my.weights.h5")
```
"""

WEIGHTS_HELP = (
    "A `.weights.h5` file, the weights Keras writes with `model.save_weights(...)`, of a model "
    "of the architecture set here (see below how to make one). Not a whole `.keras` model."
)
REGRESSION_KERAS = (
    "A regression model comes as a whole `.keras` model: the architectures rnnviz builds for "
    "weights end in a sigmoid, a probability, not a number."
)
HOSTED_CLASSIFICATION = (
    "Classification models only on this server: a regression model would have to come as a "
    "whole `.keras` model, which hosted mode does not take (loading one can run code)."
)

KERAS_HELP = (
    "Loaded with `safe_mode=True` after its layer list is checked: Lambda layers and custom "
    "objects are refused. It must read inputs of shape (batch, steps, features) and give one "
    "probability (or, for a regression, one number) per step, shape (batch, steps, 1)."
)


def _upload_limit_mb(s: Settings) -> int:
    """The browser-side size limit (whole MB); the exact limit is checked again on the server."""
    return max(1, math.ceil(s.max_upload_mb))


def _read_uploaded_data(file, s: Settings, task: str) -> UploadedData | None:
    """Parse the data file once per uploaded file and task (kept for this session), showing a
    summary or what is wrong."""
    ss = st.session_state
    cached = ss.get(K + "parsed")
    if cached is None or cached[0] != (file.file_id, task):
        try:
            cached = (
                (file.file_id, task),
                read_data(file.name, file.getvalue(), s.max_upload_mb, s.bounds, task),
            )
        except UploadError as exc:
            cached = ((file.file_id, task), exc)
        ss[K + "parsed"] = cached
    data = cached[1]
    if isinstance(data, UploadError):
        components.error_box("This data file cannot be used", data)
        return None
    n, steps, feats = data.shape
    labels = (
        "with labels y" if data.y is not None else "no labels (the model's skill will be unknown)"
    )
    st.success(
        f"{n:,} sequences × {steps} steps × {feats} features, {labels}.",
        icon=":material/check_circle:",
    )
    return data


def _status() -> None:
    """What the results pages show now, with the switch between the upload and the experiment."""
    upload = state.uploaded()
    if upload is None:
        return
    if state.shown_upload() is not None:
        with st.container(border=True):
            st.success(
                "The results pages now explain **your uploaded model**: "
                f"{upload.describe_model(md_code)}; data {upload.describe_data(md_code)}.",
                icon=":material/check_circle:",
            )
            c1, c2, c3 = st.columns(3)
            c1.page_link(
                components.FEATURES_PAGE, label="Per-feature effects", icon=":material/bar_chart:"
            )
            c2.page_link(
                components.TIMESTEPS_PAGE, label="Per-timestep effects", icon=":material/grid_on:"
            )
            components.subject_switch(False, key=K + "back", where=c3)
    else:
        with st.container(border=True):
            st.info(
                "The results pages show the trained experiment. Your uploaded model "
                f"({upload.describe_model(md_code)}) is kept for this session.",
                icon=":material/info:",
            )
            components.subject_switch(True, key=K + "show")


def _model_section(s: Settings, task: str):
    """The model choice and its uploader; returns (uploaded file or None, architecture values).
    A regression model can only be a whole ``.keras`` model: the weights architecture ends in
    a sigmoid."""
    if task == "regression":
        mode = "keras"
        st.caption(REGRESSION_KERAS)
    elif s.whole_model_uploads:
        mode = st.radio(
            "What do you upload?",
            list(MODES),
            key=K + "mode",
            format_func=MODES.get,
            horizontal=True,
        )
    else:
        mode = "weights"
        st.info(
            "**Weights only on this server.** Whole `.keras` models cannot be uploaded here "
            "(hosted mode): loading one can run code. Upload weights for an architecture "
            "rnnviz builds instead.",
            icon=":material/lock:",
        )
    if mode == "keras":
        file = st.file_uploader(
            "Whole model (.keras)",
            type=["keras"],
            key=K + "keras",
            max_upload_size=_upload_limit_mb(s),
        )
        st.caption(KERAS_HELP)
        return file, None
    b = s.bounds
    st.markdown("**Architecture** (steps and features come from the data)")
    a1, a2 = st.columns(2)
    a1.text_input(
        "LSTM layer sizes",
        "10, 5",
        key=K + "units",
        help=f"Comma-separated, {b.layers[0]} to {b.layers[1]} layers of "
        f"{b.units[0]} to {b.units[1]} units",
    )
    a2.text_input(
        "Activations (one per layer)",
        "tanh, tanh",
        key=K + "activations",
        help=f"Comma-separated; each one of {', '.join(ACTIVATIONS)}",
    )
    a1.selectbox("Output head", HEADS, key=K + "head", help="Per-step sigmoid output layer")
    a2.checkbox(
        "Scale inputs",
        True,
        key=K + "input_scaling",
        help="A Rescaling layer first maps inputs from [0, 1) to [-1, 1) (rnnviz's default)",
    )
    file = st.file_uploader(
        "Weights file (.weights.h5)",
        type=["h5"],  # a whole .keras model is not weights (in hosted mode the box above says why)
        key=K + "weights",
        max_upload_size=_upload_limit_mb(s),
        help=WEIGHTS_HELP,
    )
    with st.expander("How to make a weights file"):
        st.markdown(WEIGHTS_HOWTO)
    ss = st.session_state
    values = {
        "units": ss[K + "units"],
        "activations": ss[K + "activations"],
        "head": ss[K + "head"],
        "input_scaling": ss[K + "input_scaling"],
    }
    return file, values


def main() -> None:
    components.page_start()
    s = cache.settings()
    st.title("Your model & data")
    st.caption(
        "Explain your own recurrent model: upload sequences and a model, and the results pages "
        "show which inputs it relies on. There is no ground truth for your data, so the pages "
        "show what the model uses, not what it should use. Your files stay in this browser "
        "session: other visitors cannot see them and nothing is kept on disk."
    )
    if not s.uploads:
        st.info(
            "Uploads are turned off on this server (setting `uploads`). The results pages "
            "explain the trained experiment.",
            icon=":material/block:",
        )
        return
    _status()
    if s.whole_model_uploads:
        task = st.radio(
            "What does your model predict?",
            TASKS,
            key=K + "task",
            format_func=TASK_NAMES.get,
            horizontal=True,
            help="A regression model's effects are in its targets' units; its verdict is R² "
            "against predicting the targets' mean, and its error against persistence. It comes "
            "as a whole .keras model.",
        )
    else:  # a regression needs a whole .keras model, which this server does not take
        task = "classification"
        st.caption(HOSTED_CLASSIFICATION)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("1 · Data")
        st.markdown(_data_help(s))
        data_file = st.file_uploader(
            "Data (.npy, .npz or .csv)",
            type=["npy", "npz", "csv"],
            key=K + "data",
            max_upload_size=_upload_limit_mb(s),
        )
        data = _read_uploaded_data(data_file, s, task) if data_file is not None else None
    with right:
        st.subheader("2 · Model")
        model_file, arch = _model_section(s, task)
    pressed = st.button(
        "Explain this model",
        type="primary",
        disabled=data is None or model_file is None,
        icon=":material/play_arrow:",
        width="stretch",
        key=K + "go",
    )
    if not pressed:
        return
    try:
        with st.spinner("Loading and checking your model…"):
            upload = cache.prepare_upload(
                data_file.name,
                data_file.getvalue(),
                model_file.name,
                model_file.getvalue(),
                s,
                arch,
                task,
            )
    except UploadError as exc:
        components.error_box("This model cannot be used", exc)
        return
    state.set_upload(upload)
    st.rerun()  # redraw the sidebar and the status for the new subject


main()
