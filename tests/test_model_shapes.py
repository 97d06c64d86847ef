"""Models of other shapes: many-to-one, several output units, bidirectional, causal Conv1D.

Tiny untrained Keras models built here; what matters is the shapes of the explanation and where
effects may (or must not) appear.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.attr.scoring import perturbation_importance, trim_lags
from rnnviz.report import plots
from rnnviz.training.predictor import Predictor

T, F, N = 6, 2, 64


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).random((N, T, F), dtype=np.float32)


def sequential(*layers):
    import keras

    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((T, F)), *layers])


def test_many_to_one_gru_is_explained_as_its_one_output(x):
    import keras

    model = sequential(keras.layers.GRU(4), keras.layers.Dense(1, activation="sigmoid"))
    predict = Predictor(model)
    y = predict(x)
    assert y.shape == (N, 1)  # one output per sequence, never copied across T columns
    np.testing.assert_allclose(y, model(x).numpy(), atol=1e-6)
    r = perturbation_importance(predict, x, n_repeats=1)
    assert r.response.shape == (F, T, 1, 1) and r.cell.shape == (F, T, 1)
    assert r.output_counts.tolist() == [N]
    # Every input step can move the one output (read at the end of the sequence).
    assert np.all(r.response[:, :, 0, 0] > 0)
    # One output: its RMS change is the cell itself.
    np.testing.assert_array_equal(r.cell[..., 0], r.response[:, :, 0, 0])
    with pytest.raises(ValueError, match="one output per input step"):
        r.by_lag()


def test_many_to_one_dense_effects_by_hand(x):
    import keras

    # y = sum over steps and features of w[s, f] x[s, f]: nudging (f, s) by noise of scale
    # sigma moves the one output by |w[s, f]| sigma on average (RMS).
    w = np.linspace(-1.0, 1.0, T * F).astype(np.float32).reshape(T * F, 1)
    model = sequential(keras.layers.Flatten(), keras.layers.Dense(1, use_bias=False))
    model.layers[-1].set_weights([w])
    big = np.random.default_rng(1).random((4000, T, F), dtype=np.float32)
    r = perturbation_importance(Predictor(model), big, sigma=0.1, n_repeats=1)
    expected = np.abs(w.reshape(T, F)).T * 0.1  # (F, T)
    np.testing.assert_allclose(r.cell[..., 0], expected, rtol=0.05, atol=1e-4)


def test_several_output_units_need_a_choice(x):
    import keras

    model = sequential(keras.layers.LSTM(3, return_sequences=True), keras.layers.Dense(3))
    with pytest.raises(ValueError, match=r"\(batch, T, 1\).*output_index"):
        Predictor(model)
    second = Predictor(model, output_index=1)
    np.testing.assert_allclose(second(x), model(x).numpy()[..., 1], atol=1e-6)
    r = perturbation_importance(second, x, n_repeats=1)
    assert r.response.shape == (F, T, T, 1)
    with pytest.raises(ValueError, match="output_index"):
        Predictor(model, output_index=3)
    one = sequential(keras.layers.GRU(3), keras.layers.Dense(3))  # many-to-one, 3 units
    with pytest.raises(ValueError, match="output_index"):
        Predictor(one)
    assert Predictor(one, output_index=2)(x).shape == (N, 1)


def test_bidirectional_lstm_shows_effects_at_negative_lags(x):
    import keras

    model = sequential(
        keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True)),
        keras.layers.Dense(1),
    )
    r = perturbation_importance(Predictor(model), x, n_repeats=1)
    lags = r.by_lag()
    assert lags.shape == (F, 2 * T - 1)
    # A later input moves an earlier output: lag -1 (and every negative lag) is not zero.
    assert np.all(lags[:, r.lags == -1] > 1e-4)
    assert np.all(lags[:, r.lags < 0] > 0)
    shown, _ = trim_lags(r.lags, lags)
    assert shown[0] == 1 - T
    fig = plots.lag_profile(r)
    assert list(fig.data[0].x) == list(range(1 - T, T))


def test_causal_conv1d_has_exactly_zero_negative_lags_and_a_lag_axis_from_0(x):
    import keras

    model = sequential(keras.layers.Conv1D(4, 3, padding="causal"), keras.layers.Dense(1))
    r = perturbation_importance(Predictor(model), x, n_repeats=1)
    lags = r.by_lag()
    # Kernel of 3 steps, causal: output t reads inputs t-2 .. t only, lags 0, 1, 2.
    assert np.all(lags[:, (r.lags < 0) | (r.lags > 2)] == 0.0)
    assert np.all(lags[:, (r.lags >= 0) & (r.lags <= 2)] > 0)
    shown, profile = trim_lags(r.lags, lags)
    assert shown.tolist() == list(range(T)) and profile.shape == (F, T)
    fig = plots.lag_profile(r)
    assert list(fig.data[0].x) == list(range(T))  # not from -1, nor from -(T-1)


def test_small_models_get_2048_rows_a_call_and_large_ones_keep_1024():
    import keras

    from rnnviz.config import Config
    from rnnviz.training.model import build_model

    # The default model: 2048-row calls run the same rows in less time (bench_core figure 4).
    small = Predictor(build_model(Config()))
    assert small.batch_rows == 2048
    several = np.random.default_rng(2).random((3000, 10, 3), dtype=np.float32)
    # Alone or among others, in the first call or the second: the same numbers.
    np.testing.assert_array_equal(small(several)[[0, 2500]], small(several[[0, 2500]]))
    # Long sequences through wide layers: a 2048-row call would hold 2048 x 200 x (20 + 64 +
    # 64 + 1) numbers of layer outputs (240 MB); it keeps the 1024 rows it always had.
    wide = keras.Sequential(
        [
            keras.Input((200, 20)),
            keras.layers.LSTM(64, return_sequences=True),
            keras.layers.Dense(64),
            keras.layers.Dense(1),
        ]
    )
    assert Predictor(wide).batch_rows == 1024
    assert Predictor(wide, batch_rows=64).batch_rows == 64  # an explicit size is kept
