"""AppTest of the real series on the pages: the setup page's data switch, and the results pages
with the measurements' names, no truth marks, the meaning of σ and the reading."""

from __future__ import annotations

import pytest

from rnnviz.config import PRESETS
from rnnviz.data import datasets
from rnnviz.report import plots
from rnnviz.ui import state

from apptools import assert_clean, go, make_app, private_cache

pytest.importorskip("vega_datasets")
cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)

REAL = PRESETS["seattle-weather"].replace(epochs=2, n_repeats=2)
NAMES = ["precipitation", "temp_max", "temp_min", "wind"]


def test_real_config_round_trips_through_the_url():
    for config in (REAL, PRESETS["seattle-temp"]):
        params = state.config_to_params(config)
        assert params["dataset"] == "seattle-weather"
        assert state.config_from_params(params) == (config, None)


def test_a_series_link_is_refused_when_every_window_scored_exceeds_the_hosted_limit():
    from rnnviz.config import Config
    from rnnviz.serve.hosting import HOSTED_BOUNDS

    link = {"dataset": "seattle-weather", "n_score": "10", "n_repeats": "10", "seq_len": "50"}
    link |= {"n_features": "6", "units": "32,32,32", "activations": "tanh,tanh,tanh"}
    link |= {"cell": "bilstm", "input_scaling": "false"}
    config, message = state.config_from_params(link, HOSTED_BOUNDS)
    assert config == Config() and message is not None
    assert "315 windows of 50 days" in message and "n_score = 10" in message
    # within the limit, the link opens, scores every window and says what it did not apply
    config, message = state.config_from_params({**link, "n_repeats": "1"}, HOSTED_BOUNDS)
    assert message is None and config.n_score == 315
    notice = state.link_notice({**link, "n_repeats": "1"}, config)
    assert notice is not None and "n_score = 10" in notice
    assert "n_score" not in state.config_to_params(config)  # not a knob: not in its links


def test_setup_switches_to_the_real_series_and_trains_it():
    at = make_app({"seq_len": "5", "n_train": "300", "n_val": "100", "epochs": "2"}).run()
    assert_clean(at)
    at.radio(key="setup_dataset").set_value("seattle-weather").run()
    assert_clean(at)
    labels = {w.label for w in (*at.number_input, *at.text_input, *at.radio, *at.checkbox)}
    # no rule, no sizes, no correlated pairs, no input scaling for real data
    assert "Target rule" not in labels and "Training sequences" not in labels
    assert "Correlated features (optional)" not in labels and "Scale inputs" not in labels
    assert "Outcome" in labels and at.number_input(key="setup_series_window").value == 28
    assert not any("Ground truth" in s.value for s in at.success)
    at.number_input(key="setup_epochs").set_value(2).run()
    (button,) = [b for b in at.button if b.label == "Train this experiment"]
    button.click().run()
    assert_clean(at)
    config = at.session_state[state.CONFIG_KEY]
    assert config == PRESETS["seattle-weather"].replace(epochs=2)
    verdicts = [e.value for e in (*at.success, *at.info, *at.warning)]
    assert any("persistence" in v and "more common outcome" in v for v in verdicts), verdicts
    assert not any("learn the rule" in v or "learned the rule" in v for v in verdicts)
    assert {m.label for m in at.metric} >= {"Accuracy 2015", "Majority", "Persistence"}
    assert at.query_params["dataset"] == ["seattle-weather"] or at.query_params["dataset"] == (
        "seattle-weather"
    )

    at.radio(key="setup_outcome").set_value("temp_max").run()
    assert_clean(at)
    at.radio(key="setup_dataset").set_value("synthetic").run()  # and back: the rule again
    assert_clean(at)
    assert "Target rule" in {r.label for r in at.radio}


def test_features_page_names_the_measurements_without_truth():
    params = state.config_to_params(REAL)
    at = make_app(params, page="features").run()
    assert_clean(at)
    assert "Variable 1 (precipitation), perturbation effect:" in at.code[0].value
    (table,) = at.table
    assert list(table.value["variable"]) == [f"Variable {i + 1} ({n})" for i, n in enumerate(NAMES)]
    assert "used by the rule" not in table.value.columns
    text = " ".join(m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning))
    assert "No ground truth" in text and plots.TRUTH_MARK not in text
    assert datasets.SIGMA_MEANING in text and "probability of rain" in text
    assert "What it relies on:" in text and "Caveats (real data):" in text
    assert "Distribution shift" in text and "ρ = 0.87" in text
    spec = at.get("plotly_chart")[0].proto.spec
    assert "used by the rule" not in spec and "precipitation" in spec
    assert datasets.EFFECT_AXIS["rain"] in spec

    at = go(at, "timesteps")
    assert_clean(at)
    text = " ".join(m.value for m in (*at.markdown, *at.caption, *at.info))
    assert datasets.SIGMA_MEANING in text and plots.TRUTH_MARK not in text
    assert "windows of 28 days in the scored year 2015" in text

    at = go(at, "learn")
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "replay" in text.lower() and "The rule reads" not in text  # no rule to read
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert not any(plots.TRUTH_MARK in spec for spec in specs)  # no starred measurement
    assert any("temp_max" in spec and "effect per feature" in spec for spec in specs)  # replay
    at = go(at, "compare")
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "No ground truth here" in text and "AUC" not in text
    assert "precipitation" in text and "x1" not in text  # the methods name the measurements


def test_a_kept_forecast_of_another_shape_is_made_again():
    """Numbers saved by a version with other keys (and the same FORECAST_VERSION) would break
    the verdict: they are computed again and written over."""
    from rnnviz.ui import cache

    config = REAL.replace(seed=7)
    store = cache.model_store()
    result = store.get_or_train(config)
    store.put_forecast(config, {"days": 337.0, "beats_persistence": 0.0})  # no accuracy
    numbers, verdict = cache.forecast(result)
    assert "accuracy" in numbers and "persistence" in verdict
    assert store.get_forecast(config) == numbers


def test_a_link_whose_counts_a_series_does_not_read_opens_and_says_so():
    params = {**state.config_to_params(REAL), "n_score": "10", "n_train": "60"}
    at = make_app(params, page="features").run()
    assert_clean(at)
    notices = [i.value for i in at.info if "not apply" in i.value]
    assert len(notices) == 1 and "n_train = 60, n_score = 10 do not apply" in notices[0]
    assert "(703, 337 and 337 windows of 28 days)" in notices[0]
    assert at.session_state[state.CONFIG_KEY] == REAL  # every window, whatever the link said
    assert "n_score" not in at.query_params and "n_train" not in at.query_params


def plotted(values):
    """An array of a chart's JSON spec: a list, or Plotly's typed array (base64 bytes)."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        shape = [int(n) for n in str(values.get("shape", "-1")).split(",")]
        data = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        return data.reshape(shape)
    return np.asarray(values)


def test_real_data_pages_speak_of_no_rule_and_map_days_back():
    import json

    import numpy as np

    from rnnviz.ui import cache, text

    params = state.config_to_params(REAL)
    at = make_app(params, page="setup").run()
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "Pick a rule whose answer we know" not in captions

    at = go(at, "features")
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "With a known rule" not in captions and "should stand out" not in captions
    (block,) = at.code  # "Variable 1 (precipitation), perturbation effect: …" is not cut off
    assert block.proto.wrap_lines

    at = go(at, "timesteps")
    assert_clean(at)
    heatmap = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "days back" in heatmap["layout"]["xaxis"]["title"]["text"]
    # the map shows the numbers the reading reads (the lag profile at 0, 1, 2, … days back),
    # not the sum over a window's later forecasts, which made the oldest days brightest
    store = cache.model_store()
    scores = cache.scores(store.get(REAL), REAL)
    z = plotted(heatmap["data"][0]["z"])
    np.testing.assert_allclose(z, scores.past_lags(), rtol=1e-6)
    assert list(plotted(heatmap["data"][0]["x"])) == list(range(REAL.seq_len))
    top = int(np.argmax(scores.importances_mean))
    assert int(np.argmax(z[top])) in datasets.reach(scores.by_lag()[top], scores.lags)

    at = go(at, "compare")
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert text.INTRO_RULE not in captions and "we wrote the rule" not in captions
    multiples = at.get("plotly_chart")[0].proto.spec
    assert "used by the rule" not in multiples and plots.TRUTH_MARK not in multiples
