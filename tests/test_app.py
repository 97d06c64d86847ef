"""AppTest checks of every page: training flow, scoring-only controls, bad input, shared links.

Caches persist between tests in one process (``st.cache_resource`` / ``st.cache_data``), so no
test assumes a cold cache: retraining is judged by deltas of ``model_store().trainings``.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.config import PRESETS, Config
from rnnviz.report import plots
from rnnviz.report.readings import training_verdict
from rnnviz.serve.jobs import BusyError, TrainingJobs, wait_for
from rnnviz.ui import cache, state, tables

from apptools import ROOT, TINY, assert_clean, charts, go, make_app, private_cache, shown

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)
TINY_CONFIG = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=2, n_repeats=2)


def train_button(at: AppTest):
    (button,) = [b for b in at.button if b.label == "Train this experiment"]
    return button


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    "config",
    [
        Config(),
        TINY_CONFIG,
        PRESETS["reference"],
        Config(rule="x1[t-2] > 0.5 and abs(x2 - 0.5) < 0.3", seq_len=6, sigma=0.35),
        Config(units=(8,), activations=("relu",), input_scaling=False, learning_rate=0.001),
    ],
)
def test_url_params_round_trip(config):
    params = state.config_to_params(config)
    assert all(isinstance(v, str) for v in params.values())
    assert state.config_from_params(params) == (config, None)


def test_url_params_only_hold_non_defaults():
    assert state.config_to_params(Config()) == {}
    assert state.config_to_params(Config(sigma=0.3)) == {"sigma": "0.3"}


@pytest.mark.parametrize(
    ("params", "knob"),
    [
        ({"seq_len": "abc"}, "seq_len"),
        ({"seq_len": "100000"}, "seq_len"),
        ({"sigma": "nan"}, "sigma"),
        ({"rule": "x1 * x9 < 0.25"}, "x9"),
        ({"rule": "__import__('os')"}, "unknown"),
        ({"bogus": "1"}, "bogus"),
        ({"rule": "x" * 5000}, "rule"),
    ],
)
def test_bad_url_values_give_a_message_and_the_default(params, knob):
    config, message = state.config_from_params(params)
    assert config == Config()
    assert message and knob in message


def test_core_never_imports_streamlit():
    for path in (ROOT / "rnnviz").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "rnnviz").parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_training_jobs_are_shared_and_remember_failures(tmp_path):
    from rnnviz.serve.store import ModelStore
    from rnnviz.serve.worker import Worker

    worker = Worker(slots=1, budget_mb=None, max_pending=2)
    try:
        jobs, store = TrainingJobs(worker), ModelStore(tmp_path)
        first = jobs.submit(store, TINY_CONFIG)
        assert jobs.submit(store, TINY_CONFIG.replace(sigma=0.5)) is first  # same training key
        with pytest.raises(BusyError):
            jobs.submit(store, TINY_CONFIG.replace(seed=1))
            jobs.submit(store, TINY_CONFIG.replace(seed=2))
        seen = []
        wait_for(first, lambda j: seen.append(j.status()), interval=0.01)
        assert first.result.config == TINY_CONFIG and first.error is None
        assert first.fraction == 1.0 and seen
        assert jobs.failed(TINY_CONFIG) is None

        config = TINY_CONFIG.replace(rule="x1 > 2", seed=5)  # one class only: a DataError
        job = wait_for(jobs.submit(store, config), lambda j: None, interval=0.01)
        assert isinstance(job.error, ValueError) and "class" in str(job.error)
        assert jobs.failed(config) is job and jobs.submit(store, config) is job  # not retried
        jobs.forget(config)
        assert jobs.submit(store, config) is not job  # retried after forget
    finally:
        worker.close()


# --------------------------------------------------------------------------- pages


def test_default_flow_trains_and_every_page_renders():
    store = cache.model_store()
    before = store.trainings
    at = make_app(TINY).run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY] == TINY_CONFIG
    assert store.trainings - before <= 1
    result = store.get(TINY_CONFIG)
    assert result is not None
    # Setup: verdict, metrics and the training curve
    verdicts = [e.value for e in (*at.success, *at.warning) if "learn" in e.value]
    assert any(training_verdict(result) == v for v in verdicts)
    assert len(charts(at)) == 1
    assert len(at.metric) == 4
    not_learned = [] if result.learned else [training_verdict(result)]

    at = go(at, "features")
    assert_clean(at)
    assert len(charts(at)) == 2  # the bars and the interaction heatmap
    assert "Variable 1, perturbation effect:" in at.code[0].value
    (table,) = at.table
    assert list(table.value.columns) == list(tables.FEATURE_COLUMNS)
    effects = [*table.value["perturbation effect"], *table.value["± std over repeats"]]
    assert all(re.fullmatch(r"\d+\.\d{4}", v) for v in effects), effects  # one precision
    labels = {b.label for b in at.download_button}
    assert {"Scores (CSV)", "Model (.keras)", "Configuration (JSON)"} <= labels
    assert [w.value for w in at.warning] == not_learned

    at = go(at, "timesteps")
    assert_clean(at)
    assert len(charts(at)) == 3
    assert [w.value for w in at.warning] == not_learned
    labels = {b.label for b in at.download_button}
    assert {"Heatmap + lag profile (CSV)", "Heatmap + lag profile (JSON)"} <= labels
    notes = " ".join(m.value for m in at.markdown)
    assert plots.TRUTH_MARK in notes and "dashed" in notes  # the rule's marks are explained

    at = go(at, "learn")
    assert_clean(at)
    assert len(at.latex) >= 2
    specs = [c.proto.spec for c in charts(at)]  # bars, heatmap, response map, lag profile
    assert len(specs) == 5 and any("Response map" in s for s in specs)  # + the replay
    assert [w.value for w in at.warning] == not_learned
    # why the heatmap's cells are smaller than the bars, with this experiment's numbers
    scores = cache.scores(result, TINY_CONFIG)
    top = int(np.argmax(scores.importances_mean))
    (why,) = [m.value for m in at.markdown if "smaller than the bars" in m.value]
    assert f"{scores.importances_mean[top]:.4f}" in why
    assert f"{np.sqrt(np.sum(scores.cell_mean[top] ** 2)):.4f}" in why

    # nothing was trained after the first page, and the URL still holds the experiment
    assert store.get(TINY_CONFIG) is result
    assert at.query_params == TINY


def test_trained_model_survives_a_restart():
    store = cache.model_store()
    assert store.get(TINY_CONFIG) is not None or store.get_or_train(TINY_CONFIG)
    cache.model_store.clear()  # as after a server restart: a new, empty process-wide store
    fresh = cache.model_store()
    assert fresh.get(TINY_CONFIG) is not None  # read back from the disk cache
    assert fresh.trainings == 0


def test_sigma_and_repeats_change_scoring_only():
    at = make_app(TINY, page="features").run()
    assert_clean(at)
    store = cache.model_store()
    trainings = store.trainings
    at.select_slider(key="fx_sigma").set_value(0.5).run()
    assert_clean(at)
    at.slider(key="fx_repeats").set_value(3).run()
    assert_clean(at)
    assert store.trainings == trainings  # no retraining
    config = at.session_state[state.CONFIG_KEY]
    assert (config.sigma, config.n_repeats) == (0.5, 3)
    assert config.training_key() == TINY_CONFIG.training_key()
    assert at.query_params["sigma"] == "0.5" and at.query_params["n_repeats"] == "3"
    assert len(charts(at)) == 2  # the bars and the interaction heatmap
    # the other results page uses the new scores, still without training
    at = go(at, "timesteps")
    assert_clean(at)
    assert any("σ = 0.5" in c.value for c in at.caption)
    assert store.trainings == trainings


def test_invalid_custom_rule_is_an_error_not_a_crash():
    at = make_app(TINY).run()
    at.radio(key="setup_rule_mode").set_value("Custom expression").run()
    assert_clean(at)
    # starts from the preset's expression, which is still the current experiment
    assert at.text_input(key="setup_custom").value == "x1 * x2 < 0.25"
    assert train_button(at).disabled
    at.text_input(key="setup_custom").input("x1 * x9 < 0.25").run()
    assert not at.exception
    (error,) = at.error
    assert "x9 does not exist" in shown(error.value) and "^" in error.value
    assert train_button(at).disabled

    at.text_input(key="setup_custom").input("x1 > 2").run()  # one class only
    assert not at.exception
    assert "one class" in shown(at.error[0].value)
    assert train_button(at).disabled

    at.text_input(key="setup_custom").input("x2[t-1] > 0.5").run()
    assert_clean(at)
    assert any("x2 at lag 1" in s.value for s in at.success)
    assert not train_button(at).disabled


def test_out_of_bounds_knobs_are_errors():
    at = make_app(TINY).run()
    at.number_input(key="setup_n_train").set_value(20000).run()
    at.number_input(key="setup_seq_len").set_value(200).run()
    at.number_input(key="setup_epochs").set_value(100).run()
    assert not at.exception
    assert any("epochs x n_train x seq_len" in shown(e.value) for e in at.error)
    assert train_button(at).disabled
    at.text_input(key="setup_units").input("10, banana").run()
    assert not at.exception
    assert any("units" in shown(e.value) for e in at.error)


def test_setup_form_trains_the_new_configuration():
    at = make_app(TINY).run()
    assert train_button(at).disabled  # the settings are already the current experiment
    store = cache.model_store()
    trainings = store.trainings
    at.number_input(key="setup_seq_len").set_value(6).run()
    at.number_input(key="setup_seed").set_value(3).run()
    assert_clean(at)
    train_button(at).click().run()
    assert_clean(at)
    expected = TINY_CONFIG.replace(seq_len=6, seed=3)
    assert at.session_state[state.CONFIG_KEY] == expected
    assert at.query_params["seq_len"] == "6" and at.query_params["seed"] == "3"
    assert store.trainings - trainings <= 1
    assert store.get(expected) is not None
    assert len(charts(at)) == 1


def test_url_restores_a_configuration():
    params = {**TINY, "rule": "lagged", "n_features": "2", "seq_len": "6", "sigma": "0.3"}
    expected = TINY_CONFIG.replace(rule="lagged", n_features=2, seq_len=6, sigma=0.3)
    at = make_app(params).run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY] == expected
    assert at.number_input(key="setup_seq_len").value == 6
    assert at.number_input(key="setup_n_features").value == 2
    assert at.radio(key="setup_rule_mode").value == "Preset"
    assert at.selectbox(key="setup_preset").value == "lagged"
    at = go(at, "features")
    assert_clean(at)
    assert at.select_slider(key="fx_sigma").value == 0.3


def test_lagged_rule_pages_say_which_outputs_count():
    params = {**TINY, "rule": "lagged", "n_features": "2", "seq_len": "6"}
    at = make_app(params, page="timesteps").run()
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "only outputs with a defined target counted: output steps 2-5" in captions
    response_map = next(c for c in charts(at) if "Response map" in c.proto.spec)
    assert "grey: no target defined" in response_map.proto.spec
    at = go(at, "learn")
    assert_clean(at)
    captions = " ".join(c.value for c in at.caption)
    assert "output steps 0 … 1 have no target" in captions and "steps 2 … 5 count" in captions


def test_bad_url_shows_an_error_and_the_default_experiment():
    at = make_app({"seq_len": "abc", "rule": "x1 >"}, page="learn").run()
    assert not at.exception
    (error,) = at.error
    assert "seq_len" in shown(error.value)
    assert at.session_state[state.CONFIG_KEY] == Config()
    assert at.query_params == {}  # the bad link is replaced by the (default) experiment shown


def test_one_class_rule_from_a_link_is_an_error_not_a_crash():
    at = make_app({**TINY, "rule": "x1 > 2"}, page="features").run()
    assert not at.exception
    assert any("one class" in shown(e.value) for e in at.error)
    assert [i.value for i in at.info]  # points the user to the setup page
    assert not charts(at)


def test_learn_page_shows_a_cached_preset_when_the_experiment_is_not_trained(monkeypatch):
    import rnnviz.serve.warm

    store = cache.model_store()
    assert store.get(TINY_CONFIG) is not None or store.get_or_train(TINY_CONFIG)
    monkeypatch.setattr(rnnviz.serve.warm, "preset_experiments", lambda: [TINY_CONFIG])
    trainings = store.trainings
    at = make_app({**TINY, "seed": "77"}, page="learn").run()  # not trained
    assert_clean(at)
    assert store.trainings == trainings  # the Learn page trains nothing
    assert len(charts(at)) == 5  # bars, heatmap, response map, lag profile, replay
    assert any("those of a preset experiment" in c.value for c in at.caption)


def test_setup_labels_are_short_with_the_detail_in_help():
    at = make_app(TINY).run()
    (box,) = [c for c in at.checkbox if c.key == "setup_input_scaling"]
    assert box.label == "Scale inputs" and "[-1, 1)" in box.help
