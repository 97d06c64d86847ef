"""Hosted mode (``RNNVIZ_HOSTED=1``) through the app: tighter knob bounds, weights-only uploads.

Every knob is tried at its hosted bound and just outside it, in the core (``Config.validate``)
and as a shared link on the Learn page (which never trains). A rejection is an ``st.error``
naming the knob and the allowed range; at the bound there is no error. The module switches
hosted mode on for itself only: the cached settings and store are cleared before and after.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.config import Config, ConfigError
from rnnviz.serve.hosting import HOSTED_BOUNDS
from rnnviz.serve.uploads import UploadError, prepare_upload
from rnnviz.training.model import build_model
from rnnviz.ui import cache, state

import apptools
from apptools import private_cache, shown

HOSTED_CAPTION = "Hosted demo: sizes are capped and one training runs at a time (others queue)."


@pytest.fixture(scope="module", autouse=True)
def hosted(tmp_path_factory):
    for folder in private_cache(tmp_path_factory, env={"RNNVIZ_HOSTED": "1"}):
        assert cache.settings().hosted
        yield folder


def make_app(params: dict[str, str] | None = None, page: str = "learn") -> AppTest:
    return apptools.make_app(params, page)


# Each knob at its hosted bound: (URL parameters, the config they must give). Knobs whose
# bound only fits with others changed say so in the parameters (e.g. one feature needs a
# one-feature rule).
AT_BOUND = {
    "seq_len lo": {"seq_len": "2"},
    "seq_len hi": {"seq_len": "50"},
    "n_features lo": {"n_features": "1", "rule": "x1 > 0.5"},
    "n_features hi": {"n_features": "8"},
    "n_repeats lo": {"n_repeats": "1"},
    "n_repeats hi": {"n_repeats": "10"},
    "n_train lo": {"n_train": "50"},
    "n_train hi": {"n_train": "5000"},
    "n_val lo": {"n_val": "50"},
    "n_val hi": {"n_val": "1000"},
    "n_score lo": {"n_score": "10"},
    "n_score hi": {"n_score": "500"},
    "units lo": {"units": "1,1"},
    "units hi": {"units": "32,32"},
    "layers lo": {"units": "8", "activations": "tanh"},
    "layers hi": {"units": "8,8,8", "activations": "tanh,tanh,tanh"},
    "epochs lo": {"epochs": "1"},
    "epochs hi": {"epochs": "20"},
    "batch_size lo": {"batch_size": "5"},
    "batch_size hi": {"batch_size": "512"},
    "patience lo": {"patience": "0"},
    "patience hi": {"patience": "20"},
    "seed lo": {"seed": "0"},
    "seed hi": {"seed": str(2**31 - 1)},
    "sigma just inside lo": {"sigma": "0.01"},
    "sigma hi": {"sigma": "5.0"},
    "learning_rate lo": {"learning_rate": "1e-05"},
    "learning_rate hi": {"learning_rate": "1.0"},
    # the combined limits, exactly at (or, where the knobs cannot reach it, inside) the bound
    "train work at 1,000,000": {"epochs": "20", "n_train": "5000", "seq_len": "10"},
    "optimiser steps at 5,000": {"epochs": "20", "batch_size": "5", "n_train": "1250"},
    "train values at 2,000,000": {
        "n_train": "5000",
        "seq_len": "50",
        "n_features": "8",
        "n_score": "10",
        "n_repeats": "1",
    },
    "score values inside 50,000,000": {
        "n_repeats": "10",
        "n_score": "500",
        "seq_len": "10",
        "n_features": "8",
    },
}

# Each knob just outside its hosted bound: (URL parameters, knob named, allowed range shown).
OUTSIDE = {
    "seq_len lo": ({"seq_len": "1"}, "seq_len", "from 2 to 50"),
    "seq_len hi": ({"seq_len": "51"}, "seq_len", "from 2 to 50"),
    "n_features lo": ({"n_features": "0"}, "n_features", "from 1 to 8"),
    "n_features hi": ({"n_features": "9"}, "n_features", "from 1 to 8"),
    "n_repeats lo": ({"n_repeats": "0"}, "n_repeats", "from 1 to 10"),
    "n_repeats hi": ({"n_repeats": "11"}, "n_repeats", "from 1 to 10"),
    "n_train lo": ({"n_train": "49"}, "n_train", "from 50 to 5000"),
    "n_train hi": ({"n_train": "5001"}, "n_train", "from 50 to 5000"),
    "n_val lo": ({"n_val": "49"}, "n_val", "from 50 to 1000"),
    "n_val hi": ({"n_val": "1001"}, "n_val", "from 50 to 1000"),
    "n_score lo": ({"n_score": "9"}, "n_score", "from 10 to 500"),
    "n_score hi": ({"n_score": "501"}, "n_score", "from 10 to 500"),
    "units lo": ({"units": "0,5"}, "units", "from 1 to 32"),
    "units hi": ({"units": "33,5"}, "units", "from 1 to 32"),
    "layers hi": (
        {"units": "8,8,8,8", "activations": "tanh,tanh,tanh,tanh"},
        "units",
        "1 to 3 LSTM layer sizes",
    ),
    "epochs lo": ({"epochs": "0"}, "epochs", "from 1 to 20"),
    "epochs hi": ({"epochs": "21"}, "epochs", "from 1 to 20"),
    "batch_size lo": ({"batch_size": "4"}, "batch_size", "from 5 to 512"),
    "batch_size hi": ({"batch_size": "513"}, "batch_size", "from 5 to 512"),
    "patience lo": ({"patience": "-1"}, "patience", "from 0 to 20"),
    "patience hi": ({"patience": "21"}, "patience", "from 0 to 20"),
    "seed lo": ({"seed": "-1"}, "seed", f"from 0 to {2**31 - 1}"),
    "seed hi": ({"seed": str(2**31)}, "seed", f"from 0 to {2**31 - 1}"),
    "sigma lo": ({"sigma": "0"}, "sigma", "> 0 and <= 5"),
    "sigma hi": ({"sigma": "5.01"}, "sigma", "> 0 and <= 5"),
    "learning_rate lo": ({"learning_rate": "9e-06"}, "learning_rate", "[1e-05, 1]"),
    "learning_rate hi": ({"learning_rate": "1.01"}, "learning_rate", "[1e-05, 1]"),
    "train work": (
        {"epochs": "20", "n_train": "5000", "seq_len": "11"},
        "epochs",
        "must be <= 1,000,000",
    ),
    "optimiser steps": (
        {"epochs": "20", "batch_size": "5", "n_train": "1255"},
        "batch_size",
        "must be <= 5,000",
    ),
    "score values": (
        {"n_repeats": "10", "n_score": "500", "seq_len": "13", "n_features": "8"},
        "n_score",
        "limit 50,000,000",
    ),
}


def _config(params: dict[str, str]) -> Config:
    return Config.from_dict(params)


# --------------------------------------------------------------------------- core


@pytest.mark.parametrize("case", list(AT_BOUND))
def test_core_accepts_every_knob_at_its_hosted_bound(case):
    config = _config(AT_BOUND[case])
    assert config.validate(HOSTED_BOUNDS) is config


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_core_rejects_every_knob_just_outside_its_hosted_bound(case):
    params, knob, allowed = OUTSIDE[case]
    with pytest.raises(ConfigError) as err:
        _config(params).validate(HOSTED_BOUNDS)
    assert err.value.knob == knob
    # A value outside the default bounds too is refused when the Config is made, with the
    # default range; the app restates it with the range in force.
    message = str(state.in_bounds(err.value, HOSTED_BOUNDS))
    assert allowed in message, message


@pytest.mark.parametrize(
    ("knob", "inside"),
    [
        ("seq_len", (3, 49)),
        ("n_features", (2, 7)),
        ("n_repeats", (2, 9)),
        ("n_train", (51, 4999)),
        ("n_val", (51, 999)),
        ("n_score", (11, 499)),
        ("epochs", (2, 19)),
        ("batch_size", (6, 511)),
    ],
)
def test_core_accepts_just_inside_the_hosted_bounds(knob, inside):
    for value in inside:
        assert getattr(Config(**{knob: value}).validate(HOSTED_BOUNDS), knob) == value


# --------------------------------------------------------------------------- through the app


@pytest.mark.parametrize("case", list(AT_BOUND))
def test_app_accepts_every_knob_at_its_hosted_bound(case):
    params = AT_BOUND[case]
    at = make_app(params).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state.CONFIG_KEY] == _config(params)


@pytest.mark.parametrize("case", list(OUTSIDE))
def test_app_rejects_every_knob_just_outside_its_hosted_bound(case):
    params, knob, allowed = OUTSIDE[case]
    at = make_app(params).run()
    assert not at.exception, [e.value for e in at.exception]
    (error,) = at.error
    assert f"{knob} = " in shown(error.value) and allowed in shown(error.value), error.value
    assert at.session_state[state.CONFIG_KEY] == Config()  # the default is shown instead


def test_sidebar_says_hosted():
    at = make_app().run()
    assert HOSTED_CAPTION in [c.value for c in at.sidebar.caption]


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr, dtype=np.float32))
    return buf.getvalue()


def test_whole_keras_upload_is_refused_in_hosted_mode(tmp_path):
    at = make_app(page="upload").run()
    assert not at.exception
    # no choice of a whole model, and the reason is on the page
    assert not [r for r in at.radio if r.key == "up_mode"]
    assert any("Whole `.keras` models cannot be uploaded here" in i.value for i in at.info)
    assert any("up to **5 MB**" in m.value for m in at.markdown)
    # the weights box takes weights only (it listed "H5, KERAS") and says what the file is
    (weights,) = [u for u in at.get("file_uploader") if u.proto.id.endswith("up_weights")]
    assert list(weights.proto.type) == [".h5"]
    assert ".weights.h5" in weights.proto.label and ".weights.h5" in weights.proto.help
    # the core refuses a whole model all the same, whatever the browser sends
    model = build_model(Config(seq_len=6, n_train=100))
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(0).random((8, 6, 3))
    with pytest.raises(UploadError, match="hosted mode"):
        prepare_upload(
            "x.npy", _npy(x), "m.keras", (tmp_path / "m.keras").read_bytes(), cache.settings()
        )


def test_hosted_mode_offers_no_regression_upload():
    # a regression needs a whole .keras model, which hosted mode refuses: not offered at all
    at = make_app(page="upload").run()
    assert not at.exception
    assert not [r for r in at.radio if r.key == "up_task"]
    assert any("Classification models only on this server" in c.value for c in at.caption)


def test_hosted_bounds_apply_to_uploaded_data():
    at = make_app(page="upload").run()
    x = np.zeros((4, 6, 9))  # 9 features: more than the hosted 8
    at.file_uploader(key="up_data").set_value(("x.npy", _npy(x), "application/octet-stream"))
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "x has 9 features; allowed 1 to 8" in shown(error.value)
    assert at.button(key="up_go").disabled


def test_the_planted_box_lesson_is_beyond_the_hosted_demo_and_says_so():
    from rnnviz.ui import text

    at = make_app({"lesson": "sure"}, page="lessons").run()
    assert not at.exception and not at.error
    assert any(text.LESSON_BEYOND_BOUNDS in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "lesson_button_sure"]  # nothing to train
    # a shared link to a box experiment is refused with the range in force
    from rnnviz.config import PRESETS

    at = make_app(state.config_to_params(PRESETS["box-raretime"])).run()
    assert any("n\\_features" in e.value and "1 to 8" in e.value for e in at.error), [
        e.value for e in at.error
    ]
