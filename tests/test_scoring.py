"""Perturbation scoring on functions whose answer can be worked out by hand."""

import json

import numpy as np
import pytest

from rnnviz.attr.scoring import perturbation_importance, trim_lags

SIGMA = 0.2
T, F = 10, 3


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).random((400, T, F), dtype=np.float32)


def only_x1(x: np.ndarray) -> np.ndarray:
    return x[:, :, 0]


def x1_two_steps_back(x: np.ndarray) -> np.ndarray:
    out = np.zeros(x.shape[:2], dtype=np.float32)
    out[:, 2:] = x[:, :-2, 0]
    return out


def test_f_equals_x1_gives_sigma_for_x1_and_zero_elsewhere(x):
    r = perturbation_importance(only_x1, x, sigma=SIGMA, n_repeats=3, seed=1)
    # The change of every output is exactly the noise: its RMS estimates sigma (4,000 draws).
    assert r.importances_mean[0] == pytest.approx(SIGMA, rel=0.05)
    assert np.all(r.importances[1:] == 0.0)
    # Perturbing x1 at step s moves only output s, by sigma: response is sigma on the diagonal.
    resp = r.response_mean[0]
    assert np.diag(resp) == pytest.approx(np.full(T, SIGMA), rel=0.2)
    assert np.all(resp[~np.eye(T, dtype=bool)] == 0.0)
    # One of T outputs moves, so the RMS over all outputs is sigma / sqrt(T).
    assert r.cell_mean[0] == pytest.approx(np.full(T, SIGMA / np.sqrt(T)), rel=0.2)
    assert np.all(r.cell_mean[1:] == 0.0)


def test_lag_two_function_lights_only_the_lag_two_diagonal(x):
    r = perturbation_importance(x1_two_steps_back, x, sigma=SIGMA, n_repeats=2)
    resp = r.response_mean[0]  # (input step s, output step t)
    s, t = np.indices(resp.shape)
    assert np.all(resp[t - s != 2] == 0.0)
    assert np.all(resp[(t - s == 2)] > SIGMA / 2)
    lags = r.by_lag()  # column j is lag j - (T - 1): lags -(T-1) .. T-1
    assert lags.shape == (F, 2 * T - 1)
    assert r.lags.tolist() == list(range(1 - T, T))
    assert int(r.lags[np.argmax(lags[0])]) == 2
    assert np.all(lags[0, r.lags != 2] == 0.0)
    assert np.all(lags[1:] == 0.0)
    # A causal function: the negative lags are exactly zero, and trimming drops them.
    shown, profile = trim_lags(r.lags, lags)
    assert shown.tolist() == list(range(T))
    np.testing.assert_array_equal(profile, lags[:, T - 1 :])
    # The last two input steps reach no output: their cells are exactly zero.
    assert np.all(r.cell_mean[0, -2:] == 0.0) and np.all(r.cell_mean[0, :-2] > 0)


def test_repeats_have_sklearn_shapes_and_spread(x):
    r = perturbation_importance(only_x1, x, sigma=SIGMA, n_repeats=4)
    assert r.importances.shape == (F, 4)
    assert r.importances_mean.shape == r.importances_std.shape == (F,)
    assert r.response.shape == (F, T, T, 4)
    assert r.cell.shape == (F, T, 4)
    assert r.importances_std[0] > 0  # independent draws differ
    assert len(set(np.round(r.importances[0], 12))) == 4


def test_same_seed_same_numbers_any_chunking(x):
    a = perturbation_importance(only_x1, x, n_repeats=2, seed=7)
    b = perturbation_importance(only_x1, x, n_repeats=2, seed=7, max_values=x.size * 3)
    c = perturbation_importance(only_x1, x, n_repeats=2, seed=8)
    np.testing.assert_array_equal(a.importances, b.importances)
    np.testing.assert_array_equal(a.response, b.response)
    assert not np.array_equal(a.importances, c.importances)


def test_all_copies_go_through_the_model_in_few_batched_calls(x):
    calls = []

    def counting(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return only_x1(batch)

    perturbation_importance(counting, x, n_repeats=3)
    # One call per repeat holding all F + F*T copies; the originals ride in the first one
    # (a call of their own would be one more padded model call).
    assert calls == [len(x) * (1 + F + F * T)] + [len(x) * (F + F * T)] * 2
    calls.clear()
    perturbation_importance(counting, x, n_repeats=1, max_values=x.size * 4)
    assert calls == [len(x) * 4] * 8 + [len(x) * 2]  # the originals + 33 copies in chunks of 4
    assert max(calls) * T * F <= x.size * 4


def test_per_feature_only_skips_the_map(x):
    r = perturbation_importance(only_x1, x, n_repeats=2, per_step=False)
    assert r.response is None
    with pytest.raises(ValueError, match="per_step"):
        r.by_lag()
    assert set(r.to_dict()) >= {"importances_mean", "importances_std", "importances"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sigma": 0}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"n_repeats": 0}, "n_repeats"),
        ({"n_repeats": 10**6}, "n_repeats"),
    ],
)
def test_bad_arguments_are_clear_errors(x, kwargs, match):
    with pytest.raises(ValueError, match=match):
        perturbation_importance(only_x1, x, **kwargs)


def test_bad_inputs_and_bad_models_are_clear_errors(x):
    with pytest.raises(ValueError, match="shape"):
        perturbation_importance(only_x1, x[0])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        perturbation_importance(only_x1, bad)
    with pytest.raises(ValueError, match="predict returned"):
        perturbation_importance(lambda b: b[:5, :, 0], x)


# --------------------------------------------------------------------------- masked outputs

MASKED = 2  # outputs t < 2 have no target (a rule reading x1[t-2])


def step_mask(n: int, seq_len: int = T, masked: int = MASKED) -> np.ndarray:
    return np.broadcast_to(np.arange(seq_len) >= masked, (n, seq_len)).copy()


def x1_only_where_undefined(x: np.ndarray) -> np.ndarray:
    """y_t = x1_t where the target is undefined (t < 2), 0.5 where it is defined."""
    out = np.full(x.shape[:2], 0.5, dtype=np.float32)
    out[:, :MASKED] = x[:, :MASKED, 0]
    return out


def test_x1_moving_only_undefined_outputs_has_exactly_zero_effect(x):
    valid = step_mask(len(x))
    r = perturbation_importance(x1_only_where_undefined, x, n_repeats=2, valid=valid)
    assert np.all(r.importances == 0.0)
    assert np.all(r.cell == 0.0)
    assert r.output_mask.tolist() == [False] * MASKED + [True] * (T - MASKED)
    assert r.output_counts.tolist() == [0] * MASKED + [len(x)] * (T - MASKED)
    # Outputs with no target are missing (NaN), not zero; defined outputs do not move.
    assert np.isnan(r.response[:, :, :MASKED]).all()
    assert np.all(r.response[:, :, MASKED:] == 0.0)
    lags = r.by_lag()
    assert np.all(lags[np.isfinite(lags)] == 0.0)
    # Without the mask, today's spurious effect: x1 moves outputs 0 and 1.
    spurious = perturbation_importance(x1_only_where_undefined, x, n_repeats=2)
    assert spurious.importances_mean[0] > 0.05 and spurious.cell_mean[0, :MASKED].min() > 0.05


def changed_indicator(x0: np.ndarray):
    """y[n, t] = 1 where x1[n, t] differs from the sample's, else 0: the change is 0 or 1."""

    def predict(batch: np.ndarray) -> np.ndarray:
        copies = len(batch) // len(x0)
        return (batch[:, :, 0] != np.tile(x0[:, :, 0], (copies, 1))).astype(np.float32)

    return predict


def test_rms_over_defined_outputs_by_hand():
    # 2 sequences x 3 steps; sequence 0 has targets at t = 1, 2, sequence 1 at t = 2 only.
    x0 = np.random.default_rng(3).random((2, 3, 2), dtype=np.float32)
    valid = np.array([[False, True, True], [False, False, True]])
    r = perturbation_importance(changed_indicator(x0), x0, n_repeats=1, valid=valid)
    # Noise on x1 everywhere changes every output by exactly 1: RMS over the 3 counted is 1.
    assert r.importances[:, 0].tolist() == [1.0, 0.0]
    # x1 at step s changes output s only (by 1): its cell is sqrt(k / 3), k = outputs counted
    # at step s: 0 at s = 0, 1 at s = 1 (sequence 0), 2 at s = 2. Unmasked it would be
    # sqrt(2 / 6) at every step.
    np.testing.assert_allclose(r.cell[0, :, 0], np.sqrt([0 / 3, 1 / 3, 2 / 3]), rtol=1e-12)
    assert np.all(r.cell[1] == 0.0)
    # Response: per output step, RMS over the sequences counted there; none at t = 0.
    resp = r.response[0, :, :, 0]
    assert np.isnan(resp[:, 0]).all()
    np.testing.assert_array_equal(resp[:, 1:], [[0, 0], [1, 0], [0, 1]])
    assert r.output_counts.tolist() == [0, 1, 2]
    # Lags -2 .. 2, mean over counted outputs weighted by their counts: lag -2 reaches only
    # output 0 (none counted), lag 0 is (1 x 1 + 2 x 1) / 3 = 1, every other lag is 0.
    np.testing.assert_array_equal(r.by_lag()[0], [np.nan, 0, 1, 0, 0])
    data = r.to_dict()
    assert data["outputs_counted"] == 3 and data["output_counts"] == [0, 1, 2]
    assert data["output_steps_counted"] == [1, 2]
    assert data["by_lag"][0][0] is None and data["response_mean"][0][0][0] is None
    json.dumps(data, allow_nan=False)  # strict JSON: no NaN


def test_masked_cells_are_the_unmasked_ones_rescaled(x):
    # y = x1: nudging x1 at step s moves output s by the noise. The draws do not depend on the
    # mask, so for s >= 2 the masked cell is the same sum of squares over T - 2 outputs instead
    # of T: cell_masked = cell_all * sqrt(T / (T - 2)); for s < 2 it is exactly 0.
    all_outputs = perturbation_importance(only_x1, x, n_repeats=2, seed=5)
    masked = perturbation_importance(only_x1, x, n_repeats=2, seed=5, valid=step_mask(len(x)))
    assert np.all(masked.cell[0, :MASKED] == 0.0)
    np.testing.assert_allclose(
        masked.cell[0, MASKED:], all_outputs.cell[0, MASKED:] * np.sqrt(T / (T - MASKED))
    )
    # The whole-feature effect: only defined outputs, so RMS over n * (T - 2) noise values.
    np.testing.assert_array_equal(
        masked.response[:, :, MASKED:], all_outputs.response[:, :, MASKED:]
    )


def test_a_mask_with_every_output_defined_changes_no_number(x):
    a = perturbation_importance(x1_two_steps_back, x, n_repeats=2, seed=4)
    b = perturbation_importance(
        x1_two_steps_back, x, n_repeats=2, seed=4, valid=np.ones((len(x), T), bool)
    )
    np.testing.assert_array_equal(a.importances, b.importances)
    np.testing.assert_array_equal(a.response, b.response)
    np.testing.assert_array_equal(a.cell, b.cell)
    np.testing.assert_array_equal(a.by_lag(), b.by_lag())


def test_bad_masks_are_clear_errors(x):
    with pytest.raises(ValueError, match="valid"):
        perturbation_importance(only_x1, x, valid=np.ones((len(x), T + 1), bool))
    with pytest.raises(ValueError, match="no output"):
        perturbation_importance(only_x1, x, valid=np.zeros((len(x), T), bool))


def test_a_model_reading_later_inputs_keeps_its_negative_lags(x):
    # y_t = x1_{t+1}: the output reacts to the next input, lag t - s = -1 (a bidirectional net).
    def next_x1(a: np.ndarray) -> np.ndarray:
        out = np.zeros(a.shape[:2], dtype=np.float32)
        out[:, :-1] = a[:, 1:, 0]
        return out

    r = perturbation_importance(next_x1, x, n_repeats=1)
    lags = r.by_lag()
    assert lags[0, r.lags == -1][0] > SIGMA / 2
    assert np.all(lags[0, r.lags != -1] == 0.0)
    shown, profile = trim_lags(r.lags, lags)
    assert shown[0] == 1 - T and profile.shape == (F, 2 * T - 1)
