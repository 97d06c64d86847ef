"""Perturbation scoring on functions whose answer can be worked out by hand."""

import numpy as np
import pytest

from rnnviz.scoring import perturbation_importance

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
    lags = r.by_lag()
    assert lags.shape == (F, T)
    assert int(np.argmax(lags[0])) == 2
    assert np.all(lags[0, [0, 1, 3, 4]] == 0.0)
    assert np.all(lags[1:] == 0.0)
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
    # 1 call for the originals, then one call per repeat holding all F + F*T copies.
    assert calls == [len(x)] + [len(x) * (F + F * T)] * 3
    calls.clear()
    perturbation_importance(counting, x, n_repeats=1, max_values=x.size * 4)
    assert calls[1:] == [len(x) * 4] * 8 + [len(x)]  # 33 copies in chunks of 4
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
