"""The recurrent cell knob: LSTM (default), GRU, SimpleRNN and a bidirectional LSTM.

A config names its cell, validates it, carries it through dict/JSON/URL and the cache key (an
LSTM config keeps the id it had before the knob existed); every cell builds, trains and
predicts one output per step; a bidirectional model lets later inputs move earlier outputs.
"""

import numpy as np
import pytest

from rnnviz.config import CELLS, PRESETS, Config, ConfigError
from rnnviz.experiment import explain
from rnnviz.training.fit import train
from rnnviz.training.model import build_model
from rnnviz.training.predictor import inference_key

TINY = Config(
    rule="threshold",
    seq_len=5,
    n_train=256,
    n_val=64,
    n_score=30,
    epochs=1,
    batch_size=64,
    n_repeats=1,
)


def test_cells_and_default():
    assert CELLS == ("lstm", "gru", "simple_rnn", "bilstm")
    assert Config().cell == "lstm"


@pytest.mark.parametrize("bad", ["LSTM", "rnn", "", 3, None])
def test_unknown_cell_is_a_clear_error(bad):
    with pytest.raises(ConfigError) as err:
        Config(cell=bad)
    assert err.value.knob == "cell"
    assert "lstm, gru, simple_rnn, bilstm" in str(err.value)


@pytest.mark.parametrize("cell", ["gru", "simple_rnn", "bilstm"])
def test_cell_round_trips_through_dict_json_and_url_strings(cell):
    cfg = Config(cell=cell)
    assert cfg.to_dict()["cell"] == cell
    assert Config.from_dict(cfg.to_dict()) == cfg
    assert Config.from_json(cfg.to_json()) == cfg
    assert Config.from_dict({"cell": cell}) == cfg  # a URL parameter is a string


def test_lstm_configs_keep_their_training_ids():
    """Ids computed before the knob existed: cached LSTM models are still found."""
    assert Config().training_id() == "e607bf6a00ed908a"
    assert PRESETS["reference"].training_id() == "64d890d177c74db5"
    assert Config(cell="lstm").training_id() == Config().training_id()
    ids = {Config(cell=c).training_id() for c in CELLS}
    assert len(ids) == len(CELLS)  # another cell is another model: never served for this one


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_builds_trains_and_predicts_one_output_per_step(cell):
    cfg = TINY.replace(cell=cell)
    result = train(cfg)
    assert result.epochs_run == 1 and np.isfinite(result.val_loss)
    x = np.random.default_rng(0).random((7, cfg.seq_len, cfg.n_features), dtype=np.float32)
    y = result.predict(x)
    assert y.shape == (7, cfg.seq_len)
    assert np.all((y > 0) & (y < 1))


def test_each_cell_is_its_own_architecture():
    """The trainer pool and the shared traces key on inference_key: cells never share them."""
    keys = {inference_key(build_model(TINY.replace(cell=c))) for c in CELLS}
    assert len(keys) == len(CELLS)


def test_the_layers_are_the_chosen_cell():
    import keras

    kinds = {
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
        "simple_rnn": keras.layers.SimpleRNN,
    }
    for cell, kind in kinds.items():
        model = build_model(TINY.replace(cell=cell))
        recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
        assert len(recurrent) == len(TINY.units)
        assert all(type(layer) is kind for layer in recurrent)
    model = build_model(TINY.replace(cell="bilstm"))
    both = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert len(both) == len(TINY.units)
    for layer in both:
        assert type(layer.forward_layer) is keras.layers.LSTM
        assert type(layer.backward_layer) is keras.layers.LSTM
        # the two directions start from different (seeded) weights, not one copied draw
        fw, bw = layer.forward_layer.get_weights(), layer.backward_layer.get_weights()
        assert not np.array_equal(fw[0], bw[0])


def test_bidirectional_later_inputs_move_earlier_outputs():
    cfg = TINY.replace(cell="bilstm")
    scores = explain(train(cfg))
    resp = scores.response_mean  # (feature, input step s, output step t)
    s, t = np.indices(resp.shape[1:])
    assert np.all(resp[:, s > t] > 0.0)  # below the diagonal: a later input, an earlier output
    lags = scores.lags
    profile = scores.by_lag()
    assert lags.min() == -(cfg.seq_len - 1)
    assert np.all(profile[:, lags < 0] > 0.0)


def test_a_causal_cell_never_reads_ahead():
    for cell in ("gru", "simple_rnn"):
        resp = explain(train(TINY.replace(cell=cell))).response_mean
        s, t = np.indices(resp.shape[1:])
        assert np.all(resp[:, s > t] == 0.0)


@pytest.mark.parametrize("cell", ["gru", "bilstm"])
def test_same_config_same_weights(cell):
    cfg = TINY.replace(cell=cell, seed=11)
    a, b = train(cfg), train(cfg)
    assert a.history == b.history
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("cell", ["gru", "bilstm"])
def test_saved_model_of_each_cell_loads(tmp_path, cell):
    from rnnviz.training.saving import load, save

    result = train(TINY.replace(cell=cell))
    back = load(save(result, tmp_path / cell))
    assert back.config.cell == cell
    x = np.random.default_rng(1).random((4, TINY.seq_len, TINY.n_features), dtype=np.float32)
    np.testing.assert_array_equal(back.predict(x), result.predict(x))


def test_memory_lesson_presets():
    simple, lstm = PRESETS["memory-simple-rnn"], PRESETS["memory-lstm"]
    assert simple.cell == "simple_rnn" and lstm.cell == "lstm"
    assert simple.rule == lstm.rule == "x1[t-8] > 0.5" and simple.seq_len == 20
    assert simple.replace(cell="lstm") == lstm  # the cell is the only difference


# --------------------------------------------------------------------------- the pages


def test_url_round_trip_of_a_cell():
    from rnnviz.ui import state

    cfg = Config(cell="gru", seed=4)
    params = state.config_to_params(cfg)
    assert params == {"cell": "gru", "seed": "4"}
    assert state.config_from_params(params) == (cfg, None)
    config, message = state.config_from_params({"cell": "transformer"})
    assert config == Config() and "cell" in message


def test_setup_page_trains_the_chosen_cell_and_explains_bidirectional(app_cache):
    from rnnviz.ui import state

    from apptools import TINY, assert_clean, go, make_app

    at = make_app(TINY).run()
    assert_clean(at)
    select = at.selectbox(key="setup_cell")
    assert select.label == "Recurrent cell" and select.value == "lstm"
    assert not any("reads ahead" in i.value for i in at.info)
    select.set_value("bilstm").run()
    assert_clean(at)
    assert any("reads ahead" in i.value for i in at.info)
    (train_button,) = [b for b in at.button if b.label.startswith("Train this experiment")]
    train_button.click().run()
    assert_clean(at)
    assert at.session_state[state.CONFIG_KEY].cell == "bilstm"
    assert at.query_params["cell"] == "bilstm"
    at = go(at, "timesteps")
    assert_clean(at)
    (note,) = [i.value for i in at.info if "reads ahead" in i.value]
    assert "negative lags" in note and "both sides of the diagonal" in note
