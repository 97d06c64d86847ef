"""Tests for rnnviz.attr.methods, the registry and the comparison: hand-computable attributions
on
linear functions, then a tiny LSTM."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from rnnviz.attr import comparison as C
from rnnviz.attr import methods as M
from rnnviz.attr.attribution import Attribution
from rnnviz.attr.comparison import compare
from rnnviz.attr.methods import Context
from rnnviz.attr.registry import METHODS, run_method
from rnnviz.config import Config
from rnnviz.data.split import make_split
from rnnviz.experiment import make_stepwise_trainer

W = np.array([2.0, -1.0, 0.0], dtype=np.float32)  # f(x)_t = 2 x1_t - x2_t (x3 unused)
N, T, F = 30, 5, 3


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(7).random((N, T, F), dtype=np.float32)


def linear(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32) @ W


@pytest.fixture(scope="module")
def linear_model():
    import keras

    inputs = keras.Input((T, F))
    out = keras.layers.Dense(1, use_bias=False, name="w")(inputs)
    model = keras.Model(inputs, out)
    model.get_layer("w").set_weights([W[:, None]])
    return model


@pytest.fixture(scope="module")
def lctx(x, linear_model) -> Context:
    return Context(linear, x, model=linear_model, seed=3)


# --------------------------------------------------------------------------- linear, by hand


def test_saliency_is_the_weight_per_cell(lctx) -> None:
    attr = run_method("saliency", lctx)
    assert attr.cell.shape == (F, T, 1)
    np.testing.assert_allclose(attr.cell_mean, np.repeat(np.abs(W)[:, None], T, 1), atol=1e-6)
    np.testing.assert_allclose(attr.importances_mean, np.abs(W), atol=1e-6)
    # d y_t / d x_s = w at s == t only: all the effect sits at lag 0 (lags -(T-1) .. T-1).
    assert attr.lags.tolist() == list(range(1 - T, T))
    np.testing.assert_allclose(attr.by_lag()[:, attr.lags == 0][:, 0], np.abs(W), atol=1e-6)
    np.testing.assert_allclose(attr.by_lag()[:, attr.lags != 0], 0.0, atol=1e-7)
    plain = run_method("saliency", lctx, per_lag=False)
    np.testing.assert_allclose(plain.cell, attr.cell, atol=1e-6)
    assert not plain.has_lags


@pytest.mark.parametrize("integration", ["trapezoid", "midpoint"])
def test_integrated_gradients_zero_baseline_is_w_times_x(lctx, x, integration) -> None:
    attr = run_method("integrated_gradients", lctx, steps=8, integration=integration)
    expected = np.abs(x * W).mean(axis=0).T  # (F, T) mean |w_f x|
    np.testing.assert_allclose(attr.cell_mean, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(attr.extra["signed_cell"], (x * W).mean(axis=0).T, rtol=1e-5)
    assert attr.extra["completeness_gap"] < 1e-3


def test_integrated_gradients_mean_baseline(lctx, x) -> None:
    attr = run_method("integrated_gradients", lctx, baseline="mean", steps=4)
    means = x.mean(axis=(0, 1))
    expected = np.abs((x - means) * W).mean(axis=0).T
    np.testing.assert_allclose(attr.cell_mean, expected, rtol=1e-4, atol=1e-6)
    assert attr.extra["completeness_gap"] < 1e-3


def test_ablation_to_zero_and_to_mean(lctx, x) -> None:
    zero = run_method("ablation", lctx, baseline="zero")
    expected = np.abs(W) * np.sqrt((x**2).mean(axis=(0, 1)))
    np.testing.assert_allclose(zero.importances_mean, expected, rtol=1e-5)
    # Zeroing x_f at step s changes output s only, by w_f x_f: RMS over sequences and T outputs.
    cell = np.sqrt(((x * W) ** 2).mean(axis=0) / T).T
    np.testing.assert_allclose(zero.cell_mean, cell, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(zero.by_lag()[:, zero.lags != 0], 0.0, atol=1e-7)
    mean = run_method("ablation", lctx, baseline="mean")
    np.testing.assert_allclose(mean.importances_mean, np.abs(W) * x.std(axis=(0, 1)), rtol=1e-4)
    assert zero.n_repeats == mean.n_repeats == 1


def test_permutation_zero_exactly_where_the_weight_is(x) -> None:
    y = (linear(x) > 0.5).astype(np.float32)
    p = np.clip(linear(x), 0.01, 0.99)
    ctx = Context(lambda a: np.clip(linear(a), 0.01, 0.99), x, y=y, seed=1)
    attr = run_method("permutation", ctx, n_repeats=3)
    assert attr.importances.shape == (F, 3) and attr.cell.shape == (F, T, 3)
    assert (attr.importances[:2] > 0).all() and (attr.importances[2] == 0).all()
    assert (attr.cell[2] == 0).all() and (attr.cell[:2].mean(axis=-1) > 0).all()
    loss = attr.extra["loss_increase"]
    assert loss.shape == (F, 3) and (loss[2] == 0).all() and (loss[0] > 0).all()
    base = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert attr.extra["base_loss"] == pytest.approx(base, rel=1e-6)


def test_permutation_seeded_and_chunk_invariant(x) -> None:
    a = run_method("permutation", Context(linear, x, seed=4), n_repeats=2)
    b = run_method("permutation", Context(linear, x, seed=4, max_values=x.size * 2), n_repeats=2)
    c = run_method("permutation", Context(linear, x, seed=5), n_repeats=2)
    np.testing.assert_array_equal(a.importances, b.importances)
    np.testing.assert_array_equal(a.cell, b.cell)
    assert not np.array_equal(a.importances, c.importances)


def test_perturbation_of_x1_is_sigma(x) -> None:
    ctx = Context(lambda a: a[..., 0], np.repeat(x, 8, axis=0))
    attr = run_method("perturbation", ctx, sigma=0.3, n_repeats=2)
    assert attr.importances_mean[0] == pytest.approx(0.3, rel=0.1)
    assert (attr.importances[1:] == 0).all()
    lag0 = attr.lags == 0
    assert attr.by_lag()[0, lag0][0] == pytest.approx(0.3, rel=0.15)
    np.testing.assert_array_equal(attr.by_lag()[:, ~lag0], 0.0)
    sweep = run_method("sigma_sweep", ctx, sigmas=(0.1, 0.2, 0.4), n_repeats=2)
    np.testing.assert_allclose(sweep.extra["curves"][0], [0.1, 0.2, 0.4], rtol=0.1)
    assert (sweep.extra["curves"][1:] == 0).all()
    assert sweep.importances_mean[0] == pytest.approx(sweep.extra["curves"][0, 1])


def test_connection_weights_and_garson_read_the_kernel(lctx) -> None:
    olden = run_method("connection_weights", lctx)
    np.testing.assert_allclose(olden.importances_mean, np.abs(W), rtol=1e-6)
    np.testing.assert_allclose(olden.extra["signed"], W, rtol=1e-6)
    assert olden.cell is None and "recurrence" in olden.note
    g = run_method("garson", lctx)
    np.testing.assert_allclose(g.importances_mean, np.abs(W) / np.abs(W).sum(), rtol=1e-6)


def _bidirectional(merge_mode: str = "concat"):
    """x -> Bidirectional(SimpleRNN(2)) -> Dense(1): forward kernel WF, backward WB, head V."""
    import keras

    inputs = keras.Input((T, F))
    h = keras.layers.Bidirectional(
        keras.layers.SimpleRNN(2, return_sequences=True), merge_mode=merge_mode, name="bi"
    )(inputs)
    out = keras.layers.Dense(1, use_bias=False, name="head")(h)
    model = keras.Model(inputs, out)
    zero_rec, zero_bias = np.zeros((2, 2), np.float32), np.zeros(2, np.float32)
    model.get_layer("bi").set_weights([WF, zero_rec, zero_bias, WB, zero_rec, zero_bias])
    if merge_mode == "concat":
        model.get_layer("head").set_weights([V[:, None]])
    return model


WF = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.5]], np.float32)  # (F, units) forward
WB = np.array([[0.0, 0.0], [3.0, 1.0], [0.0, 0.0]], np.float32)  # (F, units) backward
V = np.array([2.0, 1.0, -1.0, 4.0], np.float32)  # head over [forward units, backward units]


def test_weight_methods_read_both_directions_of_a_bidirectional_layer(x) -> None:
    """The concatenated output [h_forward, h_backward] is a hidden layer of 2 x units: Olden's
    product runs through both directions' input kernels, in that order."""
    bctx = Context(linear, x, model=_bidirectional(), seed=3)
    kernel = np.concatenate([WF, WB], axis=1)  # (F, 4): what the head reads, by input
    signed = kernel @ V  # x1: 2, x2: -3 + 4 = 1, x3: 0.5
    olden = run_method("connection_weights", bctx)
    np.testing.assert_allclose(olden.extra["signed"], signed, rtol=1e-6)
    np.testing.assert_allclose(olden.importances_mean, np.abs(signed), rtol=1e-6)
    c = np.abs(kernel) * np.abs(V)[None, :]
    shares = (c / c.sum(axis=0, keepdims=True)).sum(axis=1)
    g = run_method("garson", bctx)
    np.testing.assert_allclose(g.importances_mean, shares / shares.sum(), rtol=1e-6)


def test_weight_methods_refuse_a_bidirectional_merge_they_cannot_read(x) -> None:
    bctx = Context(linear, x, model=_bidirectional("mul"), seed=3)
    for name in ("connection_weights", "garson"):
        with pytest.raises(ValueError, match="merge_mode 'mul'"):
            run_method(name, bctx)


def test_lek_profile_of_a_linear_function(lctx, x) -> None:
    attr = run_method("lek", lctx, n_points=5, quantiles=(0.0, 0.5, 1.0))
    lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
    np.testing.assert_allclose(attr.importances_mean, np.abs(W) * (hi - lo), rtol=1e-5, atol=1e-7)
    curves, grid = attr.extra["curves"], attr.extra["grid"]
    assert curves.shape == (F, 3, 5) and grid.shape == (F, 5)
    held = np.quantile(x.reshape(-1, F), [0.0, 0.5, 1.0], axis=0)  # (Q, F)
    expected = W[0] * grid[0][None, :] + (held[:, 1:] @ W[1:])[:, None]
    np.testing.assert_allclose(curves[0], expected, rtol=1e-5)


def test_tsr_keeps_only_the_relevant_step(x) -> None:
    # Every output reads x1 at the last step only: only that step has time relevance.
    ctx = Context(lambda a: np.repeat(a[:, -1:, 0], a.shape[1], axis=1), x)
    attr = run_method("tsr:ablation", ctx)
    tau = attr.extra["time_relevance"]
    assert tau[-1] > 0 and (tau[:-1] == 0).all()
    assert attr.extra["kept_steps"].tolist() == [False] * (T - 1) + [True]
    nonzero = np.argwhere(attr.cell_mean > 0).tolist()
    assert nonzero == [[0, T - 1]]
    assert attr.method == "tsr:ablation" and attr.importances.shape == (F, 1)
    with pytest.raises(ValueError, match="per-step"):
        run_method("tsr:lek", ctx)
    with pytest.raises(ValueError, match="per_step"):
        run_method("tsr:ablation", ctx, per_step=False)


def test_stepwise_with_a_given_trainer(x) -> None:
    losses = {(0, 1, 2): 0.30, (1, 2): 0.60, (0, 2): 0.45, (0, 1): 0.29}
    calls = []

    def train_fn(kept):
        calls.append(kept)
        return losses[kept]

    attr = run_method("stepwise", Context(linear, x), train_fn=train_fn)
    np.testing.assert_allclose(attr.importances_mean, [0.30, 0.15, -0.01])
    assert len(calls) == F + 1 and attr.extra["base_loss"] == 0.30
    with pytest.raises(ValueError, match="train_fn"):
        run_method("stepwise", Context(linear, x))
    wide = np.zeros((2, 3, 9), np.float32)
    with pytest.raises(ValueError, match="fewer features"):
        run_method("stepwise", Context(lambda a: a[..., 0], wide), train_fn=train_fn)


def test_stepwise_trainer_overwrites_dropped_columns(monkeypatch) -> None:
    import rnnviz.training.fit

    seen = []

    class Fake:
        val_loss = 0.5

    def fake_train(config, progress=None, train_data=None, val_data=None):
        seen.append((train_data, val_data))
        return Fake()

    monkeypatch.setattr(rnnviz.training.fit, "train", fake_train)
    config = Config(n_train=60, n_val=50, seq_len=4)
    train_fn = make_stepwise_trainer(config)
    assert train_fn((0, 2)) == 0.5
    assert train_fn((2, 0)) == 0.5  # cached: same kept set
    assert len(seen) == 1
    original = make_split(config, "train")
    tr, va = seen[0]
    assert tr.x.shape == original.x.shape
    assert (tr.x[:, :, 1] == 0.5).all() and (va.x[:, :, 1] == 0.5).all()
    np.testing.assert_array_equal(tr.x[:, :, [0, 2]], original.x[:, :, [0, 2]])
    np.testing.assert_array_equal(tr.y, original.y)
    with pytest.raises(ValueError, match="outside"):
        train_fn((0, 5))


def _full_model(config: Config):
    """A stand-in for the experiment's trained model: a fixed predictor and its val loss."""
    from rnnviz.training.handle import ModelHandle
    from rnnviz.training.result import TrainResult

    def predict(a: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-4.0 * (a[..., 0] - a[..., 1])))

    return TrainResult(
        config=config,
        history={},
        val_loss=float("nan"),  # never read: the loss is computed on the trainer's data
        val_accuracy=0.0,
        baseline_accuracy=0.5,
        seconds=0.0,
        epochs_run=1,
        handle=ModelHandle(predict=predict),
    )


def test_stepwise_reuses_the_trained_model_for_all_features(monkeypatch) -> None:
    import rnnviz.training.fit

    trainings = []

    class Fake:
        val_loss = 0.9

    def fake_train(config, progress=None, train_data=None, val_data=None):
        trainings.append(val_data)
        return Fake()

    monkeypatch.setattr(rnnviz.training.fit, "train", fake_train)
    config = Config(n_train=60, n_val=50, seq_len=4)
    full = _full_model(config)
    train_fn = make_stepwise_trainer(config, full=full)
    x = make_split(config, "score").x[:5]
    attr = run_method("stepwise", Context(full.predict, x), train_fn=train_fn)
    assert len(trainings) == config.n_features  # F trainings: the full model is not retrained
    # The base loss is the full model's loss on the validation data the drop-one trainings
    # are scored on (the same split, loss and valid steps), so the differences are fair.
    val = make_split(config, "val")
    expected = rnnviz.training.fit.evaluate(full.predict, val)[0]
    assert attr.extra["base_loss"] == expected
    for seen in trainings:
        np.testing.assert_array_equal(seen.y, val.y)
        np.testing.assert_array_equal(seen.valid, val.valid)
    np.testing.assert_allclose(attr.importances_mean, 0.9 - expected)
    with pytest.raises(ValueError, match="training"):
        make_stepwise_trainer(config.replace(seed=1), full=full)


# --------------------------------------------------------------------------- masked outputs

MASKED = 2  # outputs t < 2 have no target, as for a rule reading x1[t-2]
STEP_WEIGHT = np.array([1.0] * MASKED + [0.0] * (T - MASKED), np.float32)[:, None]


def x1_where_undefined(a: np.ndarray) -> np.ndarray:
    """y_t = x1_t where the target is undefined (t < 2), 0.5 where it is defined."""
    out = np.full(a.shape[:2], 0.5, dtype=np.float32)
    out[:, :MASKED] = a[:, :MASKED, 0]
    return out


@pytest.fixture(scope="module")
def undefined_twin():
    """The same function as a Keras model, for the gradient methods."""
    import keras

    inputs = keras.Input((T, F))
    h = keras.layers.Dense(1, use_bias=False, name="w")(inputs)
    out = keras.layers.Rescaling(STEP_WEIGHT, offset=0.5 * (1.0 - STEP_WEIGHT))(h)
    model = keras.Model(inputs, out)
    model.get_layer("w").set_weights([np.array([[1.0], [0.0], [0.0]], np.float32)])
    return model


# Every method whose scores come from the model's outputs; the weight methods (connection
# weights, Garson) read input kernels only, so no output, counted or not, enters them.
OUTPUT_METHODS = (
    "perturbation",
    "ablation",
    "permutation",
    "saliency",
    "integrated_gradients",
    "lek",
    "sigma_sweep",
    "tsr:ablation",
    "tsr:saliency",
    "group",
    "iss1",
    "iss2",
)


def test_x1_moving_only_outputs_without_a_target_scores_exactly_zero(x, undefined_twin) -> None:
    np.testing.assert_allclose(undefined_twin(x).numpy()[..., 0], x1_where_undefined(x), atol=1e-7)
    valid = np.broadcast_to(np.arange(T) >= MASKED, (N, T))
    y = (x[:, :, 1] > 0.5).astype(np.float32) * valid  # labels only where defined
    ctx = Context(x1_where_undefined, x, y=y, valid=valid, model=undefined_twin, seed=1)
    unmasked = Context(x1_where_undefined, x, model=undefined_twin, seed=1)
    for name in OUTPUT_METHODS:
        attr = run_method(name, ctx)
        assert np.all(attr.importances[0] == 0.0), name
        if attr.cell is not None:
            assert np.all(attr.cell[0] == 0.0), name
        if attr.has_lags:
            lags = attr.by_lag()[0]
            assert np.all(lags[np.isfinite(lags)] == 0.0), name
        if attr.response is not None:  # defined outputs do not move; the others are missing
            response = attr.response_mean[0]
            assert np.isnan(response[:, :MASKED]).all(), name
            assert np.all(response[:, MASKED:] == 0.0), name
        # Counting every output, as before, x1 looks important to every one of them.
        assert run_method(name, unmasked).importances_mean[0] > 0.0, name
    loss = run_method("permutation", ctx).extra["loss_increase"]
    assert np.all(loss[0] == 0.0)


def test_weighted_outputs_by_hand_in_ablation(x) -> None:
    # f = 2 x1 - x2 at every step; sequence 0 counts at every step, the others at t >= 3 only.
    valid = np.broadcast_to(np.arange(T) >= 3, (N, T)).copy()
    valid[0] = True
    attr = run_method("ablation", Context(linear, x, valid=valid), baseline="zero")
    # Zeroing x_f everywhere changes output (n, t) by w_f x[n, t, f]: RMS over counted pairs.
    changes = (x * W) ** 2  # (N, T, F)
    expected = np.sqrt(changes[valid].sum(axis=0) / valid.sum())
    np.testing.assert_allclose(attr.importances[:, 0], expected, rtol=1e-5)
    # Zeroing x_f at step s changes output s only: counted at s for sequence 0 (s < 3) or all.
    cell = np.sqrt((changes * valid[:, :, None]).sum(axis=0) / valid.sum()).T
    np.testing.assert_allclose(attr.cell[:, :, 0], cell, rtol=1e-5)


def test_gradient_methods_count_only_outputs_with_a_target(x, linear_model) -> None:
    # f_t = 2 x1_t - x2_t; sequence 0 counts at every step, the others at t >= 3 only.
    valid = np.broadcast_to(np.arange(T) >= 3, (N, T)).copy()
    valid[0] = True
    ctx = Context(linear, x, valid=valid, model=linear_model)
    # d f_t / d x_s = w at s == t only: |w| where (n, s) counts, 0 elsewhere; mean over n.
    expected = np.abs(W)[:, None] * valid.mean(axis=0)[None, :]
    saliency = run_method("saliency", ctx)
    np.testing.assert_allclose(saliency.cell_mean, expected, atol=1e-6)
    np.testing.assert_allclose(run_method("saliency", ctx, per_lag=False).cell, saliency.cell)
    # per output step, the mean over the sequences counted there: |w| on the diagonal
    np.testing.assert_allclose(
        np.diagonal(saliency.response_mean, axis1=1, axis2=2), np.abs(W)[:, None] * [[1] * T]
    )
    ig = run_method("integrated_gradients", ctx, steps=4)
    np.testing.assert_allclose(
        ig.cell_mean, (np.abs(x * W) * valid[..., None]).mean(axis=0).T, rtol=1e-5, atol=1e-7
    )
    assert ig.extra["completeness_gap"] < 1e-3


def test_context_checks_the_output_mask(x) -> None:
    with pytest.raises(ValueError, match="valid"):
        run_method("ablation", Context(linear, x, valid=np.ones((N, T + 1), bool)))
    with pytest.raises(ValueError, match="no output"):
        run_method("ablation", Context(linear, x, valid=np.zeros((N, T), bool)))


# --------------------------------------------------------------------------- checks and API


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("perturbation", {"sigma": 0}, "sigma"),
        ("perturbation", {"sigma": -1.0}, "sigma"),
        ("perturbation", {"sigma": 6.0}, "sigma"),
        ("perturbation", {"sigma": float("nan")}, "sigma"),
        ("perturbation", {"n_repeats": 0}, "n_repeats"),
        ("perturbation", {"n_repeats": 51}, "n_repeats"),
        ("perturbation", {"n_repeats": 2.5}, "n_repeats"),
        ("permutation", {"per_step": "yes"}, "per_step"),
        ("integrated_gradients", {"steps": 3}, "steps"),
        ("integrated_gradients", {"steps": 257}, "steps"),
        ("integrated_gradients", {"baseline": "one"}, "baseline"),
        ("integrated_gradients", {"integration": "simpson"}, "integration"),
        ("lek", {"n_points": 2}, "n_points"),
        ("lek", {"quantiles": (1.5,)}, "quantiles"),
        ("lek", {"quantiles": ()}, "quantiles"),
        ("sigma_sweep", {"sigmas": (0.2, 0.1)}, "increasing"),
        ("sigma_sweep", {"sigmas": (0.1,)}, "sigmas"),
        ("ablation", {"bogus": 1}, "bogus"),
        ("no_such_method", {}, "unknown method"),
        ("tsr:no_such_method", {}, "unknown method"),
    ],
)
def test_run_method_rejects_bad_parameters(lctx, name, params, match) -> None:
    with pytest.raises(ValueError, match=match):
        run_method(name, lctx, **params)


def test_model_methods_need_a_model(x) -> None:
    for name in ("saliency", "integrated_gradients", "connection_weights", "garson"):
        assert METHODS[name].needs_model
        with pytest.raises(ValueError, match="model"):
            run_method(name, Context(linear, x))


def test_context_and_attribution_are_checked(x) -> None:
    with pytest.raises(ValueError, match="shape"):
        Context(linear, x[0])
    with pytest.raises(ValueError, match="NaN"):
        Context(linear, np.full((1, 2, 3), np.nan))
    with pytest.raises(ValueError, match="names"):
        Context(linear, x, feature_names=("a",))
    with pytest.raises(ValueError, match="valid"):
        Context(linear, x, y=np.zeros((N, T)), valid=np.ones((N, T + 1), bool))
    with pytest.raises(ValueError, match="F, R"):
        Attribution("m", ("a", "b"), np.zeros((3, 1)))


def test_random_baseline_is_seeded(x) -> None:
    ctx = Context(linear, x)
    a, b, c = M.random_baseline(ctx, 1), M.random_baseline(ctx, 1), M.random_baseline(ctx, 2)
    assert (
        a.importances.shape == (F, 1) and a.cell.shape == (F, T, 1) and a.by_lag().shape == (F, T)
    )
    np.testing.assert_array_equal(a.cell, b.cell)
    assert not np.array_equal(a.importances, c.importances)


def test_spearman_by_hand() -> None:
    assert C.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert C.spearman([1, 2, 3], [10, 20, 15]) == pytest.approx(0.5)
    assert C.spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(np.sqrt(3) / 2)
    assert np.isnan(C.spearman([1, 1, 1], [1, 2, 3]))


def _noisy(name: str, means, stds) -> Attribution:
    """An Attribution whose two repeats are mean - std and mean + std (so std is exact)."""
    means, stds = np.asarray(means, float), np.asarray(stds, float)
    return Attribution(name, ("x1", "x2", "x3"), np.stack([means - stds, means + stds], axis=1))


def test_rank_agreement_counts_swaps_inside_the_error_bars_as_ties() -> None:
    # The reported case: two noisy methods that only swap x1 and x2, 0.312 vs 0.309, while
    # each score's spread over repeats is larger than the gap.
    a = _noisy("a", [0.312, 0.309, 0.007], [0.005, 0.006, 0.0005])
    b = _noisy("b", [0.309, 0.312, 0.007], [0.006, 0.005, 0.0005])
    assert C.spearman(a.importances_mean, b.importances_mean) == pytest.approx(0.5)  # plain ranks
    agree = C.agreement_matrix({"a": a, "b": b}, ["a", "b"])
    np.testing.assert_allclose(agree, 1.0)
    # A deterministic method (no error bars) that orders x1 and x2 either way does not
    # disagree with a method that cannot tell them apart.
    exact = Attribution("exact", ("x1", "x2", "x3"), np.array([[0.80], [0.81], [0.01]]))
    agree = C.agreement_matrix({"a": a, "exact": exact}, ["a", "exact"])
    assert agree[0, 1] == pytest.approx(1.0)
    # Without repeats, scores closer than 0.5% of the method's largest score (less than a
    # pixel of its bars) are tied too: Lek's 0.99832 vs 0.99828 is no ranking.
    lek = Attribution("lek", ("x1", "x2", "x3"), np.array([[0.99832], [0.99828], [0.067]]))
    np.testing.assert_array_equal(C.noise_ties(lek)[0], [True, True, False])
    assert C.agreement_matrix({"lek": lek, "exact": exact}, ["lek", "exact"])[0, 1] == 1.0
    # A real swap, far beyond the error bars, still lowers rho.
    c = _noisy("c", [0.40, 0.30, 0.007], [0.005, 0.005, 0.0005])
    d = _noisy("d", [0.30, 0.40, 0.007], [0.005, 0.005, 0.0005])
    agree = C.agreement_matrix({"c": c, "d": d, "exact": exact}, ["c", "d", "exact"])
    assert agree[0, 1] == pytest.approx(0.5)
    assert agree[0, 2] == pytest.approx(0.5) and agree[1, 2] == pytest.approx(1.0)
    # Ties inside the noise, as a relation: x1 ~ x2 and x2 ~ x3 but x1 clearly above x3.
    chain = _noisy("chain", [0.30, 0.25, 0.20], [0.03, 0.03, 0.03])
    np.testing.assert_array_equal(
        C.noise_ties(chain), [[True, True, False], [True, True, True], [False, True, True]]
    )
    reverse = Attribution("reverse", ("x1", "x2", "x3"), np.array([[0.1], [0.2], [0.3]]))
    agree = C.agreement_matrix({"chain": chain, "reverse": reverse}, ["chain", "reverse"])
    assert agree[0, 1] == pytest.approx(-1.0)  # the one clear pair (x1 > x3) is reversed


def test_compare_adds_random_and_agreement_is_symmetric(lctx) -> None:
    truth = {(0, 0), (1, 0)}
    result = compare(
        lctx,
        ["saliency", "ablation", "connection_weights"],
        params={"ablation": {"baseline": "zero"}},
        truth=truth,
    )
    assert result.methods == ("saliency", "ablation", "connection_weights", "random")
    agree = result.rank_agreement
    assert agree.shape == (4, 4)
    np.testing.assert_array_equal(agree, agree.T)
    np.testing.assert_array_equal(np.diag(agree), 1.0)
    # saliency, ablation and Olden all rank |w| = 2, 1, 0 the same way.
    np.testing.assert_allclose(agree[:3, :3], 1.0)
    rows = result.rows()
    assert [r["method"] for r in rows] == list(result.methods)
    assert rows[0]["feature_auc"] == 1.0 and rows[0]["aupr"] == 1.0
    assert rows[2]["aup"] is None  # connection weights have no lag grain
    json.dumps({k: a.to_dict() for k, a in result.attributions.items()})
    with pytest.raises(ValueError, match="not compared"):
        compare(lctx, ["saliency"], params={"lek": {}})
    with pytest.raises(ValueError, match="steps"):
        compare(lctx, ["saliency", "integrated_gradients"], {"integrated_gradients": {"steps": 1}})


# --------------------------------------------------------------------------- a tiny real LSTM

LSTM_CONFIG = Config(n_train=600, n_val=200, epochs=2, seq_len=6)
# Every registered method that runs on a context alone (no trainer, no base method).
ALL = tuple(
    name
    for name, spec in METHODS.items()
    if spec.base is None and not any(p.kind == "trainer" for p in spec.params)
)


@pytest.fixture(scope="module")
def trained():
    from rnnviz.training.fit import train

    return train(LSTM_CONFIG)


@pytest.fixture(scope="module")
def ctx(trained) -> Context:
    data = make_split(LSTM_CONFIG, "score")
    return Context(
        trained.predict, data.x[:40], data.y[:40], data.valid[:40], model=trained.model, seed=2
    )


@pytest.fixture(scope="module")
def lstm_runs(ctx) -> dict[str, tuple[Attribution, Attribution]]:
    return {name: (run_method(name, ctx), run_method(name, ctx)) for name in ALL}


def test_every_method_shapes_on_the_lstm(lstm_runs, ctx) -> None:
    n_f, n_t = ctx.n_features, ctx.seq_len
    for name, (attr, _) in lstm_runs.items():
        spec = METHODS[name]
        repeats = 5 if spec.repeats and name != "random" else 1
        assert attr.method == name
        assert attr.importances.shape == (n_f, repeats), name
        assert np.isfinite(attr.importances).all(), name
        if spec.cell:
            assert attr.cell.shape == (n_f, n_t, repeats), name
            if name == "random":  # scores lags 0 .. T-1 only
                assert attr.by_lag().shape == (n_f, n_t)
                assert attr.lags.tolist() == list(range(n_t))
            else:  # lags -(T-1) .. T-1
                assert not attr.has_lags or attr.by_lag().shape == (n_f, 2 * n_t - 1), name
        else:
            assert attr.cell is None, name
    assert lstm_runs["garson"][0].importances.sum() == pytest.approx(1.0)


def test_every_method_is_deterministic_on_the_lstm(lstm_runs) -> None:
    for name, (a, b) in lstm_runs.items():
        np.testing.assert_array_equal(a.importances, b.importances, err_msg=name)
        if a.cell is not None:
            np.testing.assert_array_equal(a.cell, b.cell, err_msg=name)


def test_lstm_responses_are_causal(lstm_runs) -> None:
    for name in ("perturbation", "ablation", "permutation", "saliency"):
        response = lstm_runs[name][0].response_mean  # (F, T_in, T_out)
        later = np.tril(np.ones(response.shape[1:], bool), k=-1)  # input step s > output t
        assert np.abs(response[:, later]).max() < 1e-6, name
        assert response[:, ~later].max() > 1e-4, name


def test_lstm_integrated_gradients_complete(lstm_runs, ctx) -> None:
    assert lstm_runs["integrated_gradients"][0].extra["completeness_gap"] < 0.01
    mid = run_method("integrated_gradients", ctx, integration="midpoint", steps=4)
    assert (
        mid.extra["completeness_gap"]
        > lstm_runs["integrated_gradients"][0].extra["completeness_gap"]
    )


def test_lstm_chunking_does_not_change_scores(lstm_runs, ctx) -> None:
    small = Context(ctx.predict, ctx.x, model=ctx.model, seed=ctx.seed, max_values=ctx.x.size)
    for name in ("perturbation", "permutation", "saliency"):
        np.testing.assert_allclose(
            run_method(name, small).cell, lstm_runs[name][0].cell, rtol=1e-4, atol=1e-6
        )


def test_lstm_compare_scores_against_the_rule(ctx) -> None:
    result = compare(
        ctx,
        ["perturbation", "saliency", "tsr:saliency", "lek"],
        params={"perturbation": {"n_repeats": 2}},
        truth=LSTM_CONFIG.target(),
    )
    assert result.methods[-1] == "random"
    for row in result.rows():
        assert 0.0 <= row["feature_auc"] <= 1.0
    assert result.scores["lek"]["aup"] is None
    assert 0.0 <= result.scores["saliency"]["aupr"] <= 1.0


def test_compare_methods_on_a_bidirectional_lstm() -> None:
    """Every default method, the weight methods included, runs on a bidirectional LSTM."""
    from rnnviz.attr.registry import default_methods
    from rnnviz.experiment import compare_methods
    from rnnviz.training.fit import train

    config = Config(
        cell="bilstm", seq_len=5, n_train=300, n_val=100, n_score=40, epochs=1, n_repeats=2
    )
    result = compare_methods(train(config), config)
    assert result.methods == (*default_methods(), "random")
    for name in ("connection_weights", "garson"):
        assert np.isfinite(result.attributions[name].importances).all(), name
        assert 0.0 <= result.scores[name]["feature_auc"] <= 1.0, name
    assert result.attributions["garson"].importances.sum() == pytest.approx(1.0)


def test_new_models_of_one_architecture_trigger_no_retracing(caplog) -> None:
    """A server holds many models of one architecture (a class's experiments, the presets).

    Each model used to get its own tf.functions, traced on first use; TensorFlow counts the
    traces of one Python function together and warned "5 out of the last 5 calls ...
    triggered tf.function retracing" in the server log. One trace per architecture now
    serves every model of it, with the model's own weights.
    """
    import tensorflow as tf

    from rnnviz.training.model import build_model
    from rnnviz.training.predictor import Predictor

    config = Config(seq_len=T, n_features=F, units=(7,), activations=("tanh",))
    models = [build_model(config.replace(seed=s)) for s in range(6)]
    x = np.random.default_rng(5).random((12, T, F), dtype=np.float32)
    caplog.set_level(logging.WARNING, logger="tensorflow")
    runs = []
    for _ in range(2):  # the fast methods twice, on every model
        for model in models:
            ctx = Context(Predictor(model, batch_rows=64), x, model=model, seed=1)
            runs.append({m: run_method(m, ctx) for m in ("saliency", "integrated_gradients")})
            run_method("lek", ctx, n_points=5)
    retraced = [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert not retraced, retraced
    # Each model is explained with its own weights: an eager gradient of that model.
    for model, run in zip(models, runs[: len(models)], strict=True):
        tx = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(tx)
            total = tf.reduce_sum(model(tx, training=False))
        expected = np.abs(tape.gradient(total, tx).numpy()).mean(axis=0).T  # (F, T)
        np.testing.assert_allclose(run["saliency"].cell_mean, expected, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(
            Predictor(model)(x), model(tx, training=False).numpy()[..., 0], rtol=1e-5, atol=1e-6
        )
    assert not np.allclose(runs[0]["saliency"].cell, runs[1]["saliency"].cell)
    # Each architecture is traced once, and those traces are not one function retracing:
    # students' experiments of many shapes, one after another, warn no more.
    caplog.clear()
    for units in range(2, 8):
        model = build_model(config.replace(units=(units,), seq_len=T + units))
        x_u = np.random.default_rng(units).random((4, T + units, F), dtype=np.float32)
        ctx = Context(Predictor(model, batch_rows=64), x_u, model=model)
        for _ in range(2):
            run_method("saliency", ctx, per_lag=False)
            run_method("integrated_gradients", ctx, steps=4)
    retraced = [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]
    assert not retraced, retraced


def test_real_stepwise_trainer_is_deterministic() -> None:
    config = Config(n_train=100, n_val=50, epochs=1, seq_len=4, n_features=2, patience=0)
    x = make_split(config, "score").x[:5]
    attr = run_method(
        "stepwise", Context(lambda a: a[..., 0], x), train_fn=make_stepwise_trainer(config)
    )
    assert attr.importances.shape == (2, 1) and np.isfinite(attr.importances).all()
    again = make_stepwise_trainer(config)((0, 1))
    assert again == attr.extra["base_loss"]
    # The experiment's own model stands in for the all-features training: same loss.
    from rnnviz.training.fit import train

    reused = make_stepwise_trainer(config, full=train(config))((0, 1))
    assert reused == pytest.approx(again, abs=1e-9)


def test_merge_comparisons_joins_rows_and_recomputes_agreement(lctx) -> None:
    truth = {(0, 0), (1, 0)}
    fast = compare(lctx, ["saliency", "ablation"], truth=truth)
    other = compare(lctx, ["connection_weights"], truth=truth)
    merged = C.merge_comparisons(fast, other)
    assert merged.methods == ("saliency", "ablation", "connection_weights", "random")
    assert merged.attributions["saliency"] is fast.attributions["saliency"]
    assert merged.attributions["random"] is fast.attributions["random"]
    assert merged.scores["connection_weights"] == other.scores["connection_weights"]
    assert merged.rank_agreement.shape == (4, 4)
    np.testing.assert_allclose(merged.rank_agreement[:3, :3], 1.0)  # all rank |w| = 2, 1, 0
