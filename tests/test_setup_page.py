"""The setup page's result panel: it belongs to the experiment it shows, never to a stale one,
and it offers to train longer when validation loss was still falling."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.config import Config
from rnnviz.report.readings import training_verdict
from rnnviz.ui import cache, state

from apptools import TINY, assert_clean, charts, make_app, private_cache, shown

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)
TINY_CONFIG = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=2, n_repeats=2)
NOT_TRAINED = "not trained yet — press Train"


def buttons(at: AppTest, start: str) -> list:
    return [b for b in at.button if b.label.startswith(start)]


def previous_panel(at: AppTest):
    """The expander holding the previous experiment's result, if any."""
    return [e for e in at.expander if e.label.startswith("Previous experiment")]


def test_changing_the_form_never_shows_the_old_result_as_current():
    at = make_app(TINY).run()
    assert_clean(at)
    old = cache.model_store().get(TINY_CONFIG)
    assert old is not None
    assert training_verdict(old) in [e.value for e in (*at.success, *at.warning)]
    assert not any(NOT_TRAINED in i.value for i in at.info)
    # the panel is titled with the rule of the experiment it shows
    assert any("Result of" in m.value and "x1 * x2 < 0.25" in m.value for m in at.markdown)

    at.selectbox(key="setup_preset").set_value("lagged").run()  # no Train pressed
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY] == TINY_CONFIG  # still the trained experiment
    (notice,) = [i.value for i in at.info if NOT_TRAINED in i.value]
    assert "x1[t-2] > 0.5" in notice  # names the form's rule
    assert not any("Result of" in m.value for m in at.markdown)
    # the old verdict, metrics and curve only inside the panel labelled with the previous rule
    (previous,) = previous_panel(at)
    assert "x1 * x2 < 0.25" in previous.label
    inside = [e.value for e in (*previous.success, *previous.warning)]
    everywhere = [e.value for e in (*at.success, *at.warning)]
    assert inside.count(training_verdict(old)) == 1 == everywhere.count(training_verdict(old))
    assert len(previous.metric) == len(at.metric) == 4
    assert len(previous.get("plotly_chart")) == len(charts(at)) == 1

    # back to the trained settings: the result is current again
    at.selectbox(key="setup_preset").set_value("reference").run()
    assert_clean(at)
    assert not any(NOT_TRAINED in i.value for i in at.info) and not previous_panel(at)
    assert training_verdict(old) in [e.value for e in (*at.success, *at.warning)]

    # train the lagged rule, then go back in the form: trained before, but not the one shown
    at.selectbox(key="setup_preset").set_value("lagged").run()
    (train,) = buttons(at, "Train this experiment")
    train.click().run()
    assert_clean(at)
    lagged = TINY_CONFIG.replace(rule="lagged")
    assert at.session_state[state.CONFIG_KEY] == lagged
    assert any("Result of" in m.value and "x1[t-2] > 0.5" in m.value for m in at.markdown)
    at.selectbox(key="setup_preset").set_value("reference").run()
    assert_clean(at)
    (notice,) = [i.value for i in at.info if "trained already" in i.value]
    assert "x1 * x2 < 0.25" in notice and "press Train" in notice
    (previous,) = previous_panel(at)
    assert "x1[t-2] > 0.5" in previous.label


def test_an_invalid_form_is_not_the_trained_experiment_either():
    at = make_app(TINY).run()
    at.number_input(key="setup_n_train").set_value(20000).run()
    at.number_input(key="setup_seq_len").set_value(200).run()
    at.number_input(key="setup_epochs").set_value(100).run()
    assert not at.exception
    assert any("Fix the settings on the left" in i.value for i in at.info)
    assert len(previous_panel(at)) == 1 and "Result of" not in [m.value for m in at.markdown]


def test_a_short_training_offers_to_train_longer_and_does():
    store = cache.model_store()
    params = {**TINY, "epochs": "1", "seed": "7"}
    short = TINY_CONFIG.replace(epochs=1, seed=7)
    at = make_app(params).run()
    assert_clean(at)
    result = store.get(short)
    assert result is not None and result.still_improving, result.history  # one epoch: 0.681
    assert any("Validation loss was still falling" in i.value for i in at.info)
    (button,) = buttons(at, "Train longer")
    assert button.label == "Train longer (2 epochs)"

    trainings = store.trainings
    button.click().run()
    assert_clean(at)
    longer = short.replace(epochs=2)
    assert at.session_state[state.CONFIG_KEY] == longer
    assert at.query_params["epochs"] == "2" and at.query_params["seed"] == "7"
    assert store.trainings - trainings == 1 and store.get(longer) is not None
    # the form follows the new experiment, whose result is the one shown
    assert at.number_input(key="setup_epochs").value == 2
    assert not any(NOT_TRAINED in i.value for i in at.info) and not previous_panel(at)
    assert training_verdict(store.get(longer)) in [e.value for e in (*at.success, *at.warning)]
    assert any("Result of" in m.value and "· 2 epochs, seed 7" in m.value for m in at.markdown)


def test_no_train_longer_offer_when_validation_loss_stopped_falling():
    # a learning rate of 1e-5 leaves the loss where it started (well under 1% per epoch)
    params = {**TINY, "learning_rate": "0.00001", "seed": "3"}
    at = make_app(params).run()
    assert_clean(at)
    result = cache.model_store().get(TINY_CONFIG.replace(learning_rate=1e-5, seed=3))
    assert result is not None and not result.still_improving, result.history
    assert not buttons(at, "Train longer")
    assert not any("still falling" in i.value for i in at.info)


def _notices(accuracy: float, baseline: float) -> None:
    from rnnviz.config import Config
    from rnnviz.training.result import TrainResult
    from rnnviz.ui import components

    history = {"loss": [0.5], "val_loss": [0.5]}
    result = TrainResult(Config(), history, 0.5, accuracy, baseline, 1.0, 1)
    components.learned_notice(result)  # what the results pages show above their plots


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [
        (0.95, None),  # learned: no notice
        (0.75, "only partly right"),  # partly learned: a caution
        (0.55, "did NOT learn"),  # did not learn: the warning
    ],
)
def test_results_pages_caution_a_partly_learned_model(accuracy, expected):
    at = AppTest.from_function(_notices, args=(accuracy, 0.5)).run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    if expected is None:
        assert warnings == [] and not at.success
    else:
        (warning,) = warnings
        assert expected in warning and f"{accuracy:.1%}" in warning


def in_order(at: AppTest) -> list:
    """Every element of the page's main area in the order it is drawn."""
    return [node for node in at.main if getattr(node, "type", None) not in (None, "")]


def test_a_changed_cell_is_named_in_the_title_and_the_sidebar():
    at = make_app(TINY).run()
    assert_clean(at)
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Model:** LSTM 10 → 5 (tanh, tanh), dense head" in sidebar
    assert any("Result of" in m.value and "LSTM 10 → 5" in m.value for m in at.markdown)
    at.selectbox(key="setup_cell").set_value("gru").run()  # no Train pressed
    assert_clean(at)
    (notice,) = [i.value for i in at.info if NOT_TRAINED in i.value]
    (previous,) = previous_panel(at)
    # the two boxes name different models, and the notice says what changed
    assert "GRU 10 → 5 (tanh, tanh), dense head" in notice and "GRU" not in previous.label
    assert "LSTM 10 → 5 (tanh, tanh), dense head" in previous.label
    assert "Changed from the previous experiment: cell LSTM → GRU." in notice
    (train,) = buttons(at, "Train this experiment")
    train.click().run()
    assert_clean(at)
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Model:** GRU 10 → 5 (tanh, tanh), dense head" in sidebar and "LSTM" not in sidebar
    assert any("Result of" in m.value and "GRU 10 → 5" in m.value for m in at.markdown)
    verdicts = [e.value for e in (*at.success, *at.warning)]
    assert any(v.startswith("The GRU ") for v in verdicts), verdicts


def test_a_change_the_title_does_not_show_is_named_in_the_notice():
    at = make_app(TINY).run()
    at.number_input(key="setup_n_train").set_value(500).run()
    assert_clean(at)
    (notice,) = [i.value for i in at.info if NOT_TRAINED in i.value]
    (previous,) = previous_panel(at)
    # the titles agree (rule, model, epochs, seed): the notice says what tells them apart
    assert "Changed from the previous experiment: training sequences 300 → 500." in notice
    assert "300 → 500" not in previous.label


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("x1~x5:0.9", "x5 is not a feature here: the data has 3 features (x1 to x3)."),
        ("x1-x2", "“x1-x2” is not a pair. Write pairs like x1~x4:0.95"),
        ("x2~x2:0.5", "x2~x2 pairs x2 with itself: pick two different features."),
        ("x1~x2:0.5, x2~x3:0.4", "x2 is in two pairs: each feature can be in one pair at most."),
        ("x1~x3:1", "The correlation of x1~x3 is 1.0: pick a number between -1 and 1"),
    ],
)
def test_correlated_features_errors_are_friendly_and_under_their_field(typed, said):
    at = make_app(TINY).run()
    at.text_input(key="setup_correlated").input(typed).run()
    assert not at.exception
    (error,) = at.error
    text = shown(error.value)
    assert text.startswith("**The correlated features cannot be used:** ") and said in text
    assert "is not allowed" not in text and "n_features" not in text  # no programmer wording
    drawn = in_order(at)
    field = next(i for i, e in enumerate(drawn) if getattr(e, "key", None) == "setup_correlated")
    below = drawn[field + 1]  # right under the field, not by the Train button
    assert below.type == "error" and below.value == error.value
    (train,) = buttons(at, "Train this experiment")
    assert train.disabled
