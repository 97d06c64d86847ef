"""The downloads and teaching texts say which outputs counted (pure functions, no Streamlit)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from rnnviz.attr.scoring import perturbation_importance, trim_lags
from rnnviz.config import Config
from rnnviz.report import readings
from rnnviz.ui import tables, text

T = 6


def x1_two_back(a: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape[:2], np.float32)
    out[:, 2:] = a[:, :-2, 0]
    return out


def scores(valid=None):
    x = np.random.default_rng(0).random((10, T, 2), dtype=np.float32)
    return perturbation_importance(x1_two_back, x, n_repeats=2, valid=valid)


def test_scores_csv_says_which_outputs_counted():
    masked = scores(np.broadcast_to(np.arange(T) >= 2, (10, T)))
    rows = list(csv.DictReader(io.StringIO(tables.scores_csv(masked))))
    assert len(rows) == 2 + 2 * T
    assert {r["output_steps_counted"] for r in rows} == {"2-5"}
    assert {r["outputs_counted"] for r in rows} == {str(10 * (T - 2))}
    x1 = [r for r in rows if r["kind"] == "cell" and r["feature"] == "x1"]
    np.testing.assert_allclose([float(r["mean"]) for r in x1], masked.cell_mean[0])
    assert [float(r["repeat_2"]) for r in x1] == masked.cell[0, :, 1].tolist()
    every = list(csv.DictReader(io.StringIO(tables.scores_csv(scores()))))
    assert {r["output_steps_counted"] for r in every} == {f"0-{T - 1}"}
    assert {r["outputs_counted"] for r in every} == {str(10 * T)}


def test_scores_json_is_strict_and_says_which_outputs_counted():
    masked = scores(np.broadcast_to(np.arange(T) >= 2, (10, T)))
    data = json.loads(tables.scores_json(masked, Config(seq_len=T, n_features=2)))["scores"]
    assert data["output_steps_counted"] == [2, 3, 4, 5]
    assert data["output_counts"] == [0, 0, 10, 10, 10, 10]
    assert data["response_mean"][0][0][:2] == [None, None]  # missing, not 0
    assert data["lags"] == list(range(1 - T, T)) and len(data["by_lag"][0]) == 2 * T - 1
    json.dumps(data, allow_nan=False)


def test_learn_page_says_which_steps_count():
    assert readings.counted_here(0, 10) == (
        "Here every output step 0 … 9 has a target, so every output counts."
    )
    assert readings.counted_here(1, 10).startswith("Here output step 0 has no target")
    lagged = readings.counted_here(2, 10)
    assert "output steps 0 … 1 have no target" in lagged and "steps 2 … 9 count" in lagged
    assert "no output step" in readings.counted_here(12, 10)
    # The formula sums over D, the (sequence, step) pairs with a defined target, 0-based steps.
    assert r"(n,t) \in D" in text.FORMULA_FEATURE and "t = 0, \\dots, T-1" in text.FORMULA_NOISE


def test_feature_table_shows_effects_and_spreads_with_one_precision():
    result = scores()
    result.importances[:] = [[0.3, 0.304], [0.0013, 0.0013]]  # std 0.002 and 0
    table = tables.feature_table(result, [0])
    assert tuple(table) == tables.FEATURE_COLUMNS
    assert table["perturbation effect"] == ["0.3020", "0.0013"]
    assert table["± std over repeats"] == ["0.0020", "0.0000"]
    assert table["used by the rule"] == ["yes", "no"]


def test_timestep_downloads_hold_the_heatmap_and_the_lag_profile_as_drawn():
    masked = scores(np.broadcast_to(np.arange(T) >= 2, (10, T)))
    rows = list(csv.DictReader(io.StringIO(tables.timestep_csv(masked))))
    cells = [r for r in rows if r["kind"] == "cell"]
    lags = [r for r in rows if r["kind"] == "lag"]
    assert len(cells) == 2 * T
    x1 = [r for r in cells if r["feature"] == "x1"]
    np.testing.assert_allclose([float(r["mean"]) for r in x1], masked.cell_mean[0])
    np.testing.assert_allclose([float(r["std"]) for r in x1], masked.cell_std[0])
    # the lags of the plot: a causal model's negative lags are all zero and left out
    shown, profile = trim_lags(masked.lags, masked.by_lag())
    assert [int(r["lag"]) for r in lags if r["feature"] == "x1"] == shown.tolist() == list(range(T))
    np.testing.assert_allclose(
        [float(r["mean"]) for r in lags if r["feature"] == "x1"], profile[0], equal_nan=True
    )
    assert {r["output_steps_counted"] for r in rows} == {"2-5"}
    assert all(r["input_step"] == "" for r in lags) and all(r["lag"] == "" for r in cells)

    data = json.loads(tables.timestep_json(masked, {"config": {"seq_len": T}}))
    json.dumps(data, allow_nan=False)
    assert data["config"] == {"seq_len": T}
    assert data["heatmap"]["input_steps"] == list(range(T))
    np.testing.assert_allclose(data["heatmap"]["mean"], masked.cell_mean)
    assert data["lag_profile"]["lags"] == shown.tolist()
    assert data["output_steps_counted"] == [2, 3, 4, 5] and data["features"] == ["x1", "x2"]


def test_learn_page_explains_why_cells_are_smaller_than_bars_with_real_numbers():
    result = scores()
    bar = result.importances_mean[0]
    cells = result.cell_mean[0]
    why = readings.heatmap_vs_bars(result)
    assert f"{bar:.4f}" in why and f"{np.sqrt(np.sum(cells**2)):.4f}" in why
    assert f"{cells.min():.4f}" in why and f"{cells.max():.4f}" in why
    assert f"√{T}" in why and "one step" in why


def test_results_turn_into_one_tidy_frame():
    masked = scores(np.broadcast_to(np.arange(T) >= 2, (10, T)))
    frame = masked.to_frame()
    kinds = frame["kind"].value_counts().to_dict()
    assert kinds == {"feature": 2, "cell": 2 * T, "lag": 2 * (2 * T - 1)}
    cells = frame[(frame["kind"] == "cell") & (frame["feature"] == "x1")]
    np.testing.assert_array_equal(cells["mean"], masked.cell_mean[0])
    assert cells["input_step"].tolist() == list(range(T))
    lags = frame[(frame["kind"] == "lag") & (frame["feature"] == "x1")]
    np.testing.assert_array_equal(lags["mean"], masked.by_lag()[0])
    features = frame[frame["kind"] == "feature"]
    np.testing.assert_array_equal(features["repeat_2"], masked.importances[:, 1])
