"""AppTest of the One sequence page on a tiny configuration: the link's sequence and step, the
slider, the picks, and a reading made from the map's numbers."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from apptools import APP, PAGES, TIMEOUT, TINY, assert_clean, charts, private_cache

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)
RULE = {"rule": "x1[t-1] > 0.5"}


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update({**TINY, **RULE, **params})
    at.switch_page(f"{PAGES}/sequence.py")
    return at.run()


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_link_opens_its_sequence_and_step_and_the_slider_moves_it() -> None:
    at = _open(seq="3", step="4")
    assert_clean(at)
    assert at.number_input(key="seq_index").value == 3
    assert at.slider(key="seq_step").value == 4
    assert "Output step 4 (" in _markdown(at)
    keys = {c.proto.id.rsplit("-", 1)[-1] for c in charts(at)}
    assert {"sequence", "narrow"} <= keys  # the wide and the narrow figure
    assert "**Largest effects**" in _markdown(at)
    assert any("ROC AUC" in c.value for c in at.caption)  # scored against the rule's cells
    at.slider(key="seq_step").set_value(2).run()
    assert_clean(at)
    assert "Output step 2 (" in _markdown(at)
    assert at.query_params["step"] == ["2"] or at.query_params["step"] == "2"
    assert at.query_params["rule"] in (["x1[t-1] > 0.5"], "x1[t-1] > 0.5")  # the config stays


def test_picks_and_a_bad_link_fall_back_to_defaults() -> None:
    at = _open(seq="999", step="-3")  # out of range: the defaults, no error
    assert_clean(at)
    assert at.slider(key="seq_step").value == 4  # the last output
    labels = [b.label for b in at.button]
    assert "Most confident output" in labels
    at.button[labels.index("Most confident output")].click().run()
    assert_clean(at)
    index, step = at.number_input(key="seq_index").value, at.slider(key="seq_step").value
    assert 0 <= index < int(TINY["n_score"]) and 1 <= step <= 4  # a counted output
    for method in ("ablation", "saliency"):
        at.selectbox(key="seq_method").set_value(method).run()
        assert_clean(at)
        assert f"Output step {step} (" in _markdown(at)


def test_a_series_day_picks_the_window_that_forecasts_it() -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    from rnnviz.config import PRESETS
    from rnnviz.ui.state import config_to_params

    real = PRESETS["seattle-weather"].replace(epochs=1, n_repeats=1)
    at.query_params.update(config_to_params(real))
    at.switch_page(f"{PAGES}/sequence.py")
    at.run()
    assert_clean(at)
    day = at.selectbox(key="seq_day")
    assert day.options[0] == "2015-01-29"  # the first window of 2015 (28 days) forecasts it
    at.selectbox(key="seq_day").set_value(10).run()
    assert_clean(at)
    assert at.number_input(key="seq_index").value == 10
    assert at.slider(key="seq_step").value == 27  # its last output forecasts that day
    assert "Output step 27 (" in _markdown(at)
    assert not any("ROC AUC" in c.value for c in at.caption)  # no rule: nothing to score


def test_the_maps_follow_the_effect_scale() -> None:
    """A link on the log-odds explains the sequence on the log-odds: not the probability's map
    kept from the same model, sequence and σ."""
    from rnnviz.ui import cache, state

    at = _open(seq="1", step="3")
    assert_clean(at)
    config = at.session_state[state.CONFIG_KEY]
    result = cache.model_store().get_or_train(config)
    on_probability = cache.sequence(result, config, 1)["ablation"].at(3).effect
    on_log_odds = cache.sequence(result, config.replace(effect_on="log-odds"), 1)["ablation"]
    assert abs(on_log_odds.at(3).effect).max() > abs(on_probability).max()
