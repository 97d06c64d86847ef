"""The saturation warning on the pages, and its remedy one click away.

A tiny model is not sure of anything, so the scores the store keeps for it are given the share
of a sure one (97% of the outputs within 0.001 of 0 or 1) before the pages read them: what is
tested here is the wiring (the warning, the button, the knob in the URL and the rescoring);
the check itself is tested on a saturated sigmoid in test_saturation.py.
"""

from __future__ import annotations

import dataclasses

import pytest

from rnnviz.config import Config
from rnnviz.ui import cache, state

from apptools import assert_clean, go, make_app, private_cache

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)
# a seed of its own: no other module's cached scores are served for it
SURE = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=2, n_repeats=2, seed=77)
PARAMS = {k: str(v) for k, v in state.config_to_params(SURE).items()}
WARNING = "97% of this model's outputs are within 0.001 of 0 or 1"


@pytest.fixture(scope="module")
def sure_scores():
    """SURE's model in the app's store, with kept scores that carry a sure model's share."""
    from rnnviz.experiment import explain

    store = cache.model_store()
    result = store.get_or_train(SURE)
    scores = explain(result, SURE)
    near = {**scores.extra["outputs_near"], "share": 0.97}
    store.put_scores(SURE, dataclasses.replace(scores, extra={"outputs_near": near}))
    return scores


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def test_the_effects_pages_warn_and_the_button_switches_to_log_odds(sure_scores):
    at = make_app(PARAMS, page="timesteps").run()
    assert_clean(at)
    assert any(w.startswith(WARNING) for w in _warnings(at)), _warnings(at)
    at = go(at, "features")
    assert_clean(at)
    (warning,) = [w for w in _warnings(at) if w.startswith(WARNING)]
    assert warning.endswith("switch the effect to log-odds.")
    (button,) = [b for b in at.button if b.label == "Measure effects on the log-odds"]
    button.click().run()
    assert_clean(at)
    config = at.session_state[state.CONFIG_KEY]
    assert config.effect_on == "log-odds" and config.training_key() == SURE.training_key()
    assert at.query_params["effect_on"] == "log-odds"
    assert not any(w.startswith(WARNING) for w in _warnings(at))  # remedied: nothing to warn
    assert any("Effects are on the log-odds" in c.value for c in at.caption)
    # the control follows, and takes it back
    control = at.get("button_group")
    assert control and control[0].value == "log-odds"
    control[0].set_value("probability").run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY].effect_on == "probability"
    assert "effect_on" not in at.query_params
    assert any(w.startswith(WARNING) for w in _warnings(at))


def test_the_sequence_page_warns_before_one_sequence_s_map(sure_scores):
    at = make_app(PARAMS, page="sequence").run()
    assert_clean(at)
    (warning,) = [w for w in _warnings(at) if w.startswith(WARNING)]
    assert warning.endswith("switch the effect to log-odds.")
    assert [b for b in at.button if b.label == "Measure effects on the log-odds"]


def test_a_link_with_log_odds_rescores_without_retraining(sure_scores):
    store = cache.model_store()
    trainings = store.trainings
    at = make_app({**PARAMS, "effect_on": "log-odds"}, page="features").run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY].effect_on == "log-odds"
    assert store.trainings == trainings
    assert store.get_scores(SURE.replace(effect_on="log-odds")) is not None  # kept apart


def test_the_compare_page_warns_and_says_which_methods_keep_the_probability(sure_scores):
    at = make_app(PARAMS, page="compare").run()
    assert_clean(at)
    assert any(w.startswith(WARNING) for w in _warnings(at)), _warnings(at)
    assert any(b.label == "Measure effects on the log-odds" for b in at.button)
    at = make_app({**PARAMS, "effect_on": "log-odds"}, page="compare").run()
    assert_clean(at)
    assert not any(w.startswith(WARNING) for w in _warnings(at))
    captions = [c.value for c in at.caption]
    assert any("Effects are on the log-odds" in c for c in captions)
    kept = [
        c
        for c in captions
        if c.endswith(
            "stay on the probability: gradients are taken of "
            "the model's probability output and a loss is a "
            "function of the probability."
        )
    ]
    assert kept and "(saliency)" in kept[0], captions
