"""Deletion and insertion curves on models whose answers can be worked out by hand."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.comparison import compare, merge_comparisons
from rnnviz.attr.faithfulness import curve_scores, deletion_insertion, quality
from rnnviz.attr.methods import Context

N, T, F = 64, 5, 2
STEP = 3  # the one input step the "one cell" model reads


def _one_cell_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x (N, T, F) whose x1 at STEP is +-1 (half each) and whose mean there is exactly 0;
    labels = the sign of that cell (the model reads it and nothing else)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, F)).astype(np.float32)
    signs = np.repeat([1.0, -1.0], N // 2)
    x[:, STEP, 0] = rng.permutation(signs)
    x[:, :, 0] -= x[:, :, 0].mean(axis=0, keepdims=True).mean()  # feature mean: 0 overall
    y = (x[:, STEP, 0] > 0).astype(np.float64)[:, None]
    return x, y


def one_cell_model(x: np.ndarray) -> np.ndarray:
    """One output per sequence: 1 when x1 at STEP is above 0.5 of the way from -1 to 1."""
    return (x[:, STEP, 0] > 0.25).astype(np.float64)[:, None]


def _cell_map(top: tuple[int, int]) -> Attribution:
    """A per-step map whose largest cell is ``top`` (feature, step), the others 0."""
    cell = np.zeros((F, T, 1))
    cell[top] = 1.0
    return Attribution("hand", ("x1", "x2"), cell.mean(axis=1), cell)


def test_deleting_the_one_cell_read_drops_accuracy_at_once():
    x, y = _one_cell_data()
    curves = deletion_insertion(one_cell_model, x, y, None, _cell_map((0, STEP)))
    assert curves.grain == "cell" and curves.units == F * T
    assert curves.metric == "accuracy"
    # The baseline (x1's mean, 0) reads as class 0: with that cell gone every 1 is missed.
    assert curves.full == 1.0 and curves.empty == 0.5
    np.testing.assert_array_equal(curves.deletion[1:], 0.5)  # from the first cell on
    np.testing.assert_array_equal(curves.insertion[1:], 1.0)  # that cell alone is enough
    # Random orders take it out somewhere along the way: in between, never at once.
    random = curves.reference("deletion")
    assert random[0] == 1.0 and random[-1] == 0.5
    assert random[1] == 1.0  # one random cell of 10 first: never that one here (seeded)
    assert np.all(np.diff(random) <= 0)
    # Deletion: the method's area is the first step's triangle alone; random's is larger.
    first = curves.shares[1]
    method_area = 0.5 + 0.5 * first / 2  # 0.5 everywhere, plus the ramp 1 -> 0.5 over one step
    assert np.trapezoid(curves.deletion, curves.shares) == pytest.approx(method_area)
    assert curves.deletion_score == pytest.approx(np.trapezoid(random, curves.shares) - method_area)
    assert curves.deletion_score > 0.1 and curves.insertion_score > 0.1


def test_a_map_that_ranks_the_cell_last_scores_below_random():
    x, y = _one_cell_data()
    cell = np.arange(F * T, dtype=np.float64).reshape(F, T, 1)
    cell[0, STEP] = -1.0  # every other cell ranks above the one the model reads
    last = Attribution("last", ("x1", "x2"), cell.mean(axis=1), cell)
    curves = deletion_insertion(one_cell_model, x, y, None, last)
    np.testing.assert_array_equal(curves.deletion[:-1], 1.0)  # nothing changes until the end
    np.testing.assert_array_equal(curves.insertion[:-1], 0.5)
    assert curves.deletion_score < 0 and curves.insertion_score < 0
    # Insertion mirrors deletion here (1.5 - the other curve, for every order): same score.
    assert curves.deletion_score == pytest.approx(curves.insertion_score)


def _hadamard(size: int) -> np.ndarray:
    h = np.ones((1, 1))
    while h.shape[0] < size:
        h = np.block([[h, h], [h, -h]])
    return h


W = np.array([3.0, 2.0, 1.0, 0.0])


def _linear_data() -> np.ndarray:
    """x (8, 4, 4): over all 32 (sequence, step) cells each feature is a +-1 column of a
    Hadamard matrix: mean exactly 0, variance 1, features exactly uncorrelated."""
    columns = _hadamard(32)[:, 1:5]
    return columns.reshape(8, 4, 4).astype(np.float32)


def linear_model(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64) @ W  # one output per step


def test_linear_regression_r2_after_removing_features_is_exact():
    """y = the model's own output, every feature uncorrelated with variance 1: removing the
    features S (set to their mean, 0) leaves R² = 1 - sum_{f in S} w_f² / sum w_f²."""
    x = _linear_data()
    y = linear_model(x)
    scores = Attribution("weights", ("a", "b", "c", "d"), np.abs(W)[:, None])  # no cell map
    curves = deletion_insertion(linear_model, x, y, None, scores, task="regression")
    assert curves.grain == "feature" and curves.metric == "r2"
    np.testing.assert_allclose(curves.shares, [0, 0.25, 0.5, 0.75, 1])
    total = (W**2).sum()  # 14
    np.testing.assert_allclose(curves.deletion, [1, 5 / 14, 1 / 14, 0, 0], atol=1e-6)
    np.testing.assert_allclose(curves.insertion, [0, 9 / 14, 13 / 14, 1, 1], atol=1e-6)
    assert total == 14
    # The loss (MSE) after removing S is sum_{f in S} w_f², lower is better: same signs.
    loss = deletion_insertion(linear_model, x, y, None, scores, task="regression", metric="loss")
    np.testing.assert_allclose(loss.deletion, [0, 9, 13, 14, 14], atol=1e-5)
    assert not loss.higher_is_better
    assert loss.deletion_score > 0 and loss.insertion_score > 0
    assert curves.deletion_score > 0 and curves.insertion_score > 0


def test_random_reference_is_seeded():
    x, y = _one_cell_data()
    attr = _cell_map((0, STEP))
    first = deletion_insertion(one_cell_model, x, y, None, attr, seed=3)
    again = deletion_insertion(one_cell_model, x, y, None, attr, seed=3)
    other = deletion_insertion(one_cell_model, x, y, None, attr, seed=4)
    np.testing.assert_array_equal(first.random_deletion, again.random_deletion)
    np.testing.assert_array_equal(first.random_insertion, again.random_insertion)
    assert first.deletion_score == again.deletion_score
    assert not np.array_equal(first.random_deletion, other.random_deletion)
    assert first.random_deletion.shape == (3, len(first.shares))


def test_chunking_and_other_methods_do_not_change_the_numbers():
    x, y = _one_cell_data()
    attr = _cell_map((0, STEP))
    whole = curve_scores(one_cell_model, x, y, None, {"hand": attr})["hand"]
    both = curve_scores(
        one_cell_model,
        x,
        y,
        None,
        {"other": _cell_map((1, 2)), "hand": attr},
        max_values=x.size,  # one copy per call
    )["hand"]
    assert whole.to_dict() == both.to_dict()


def test_ties_are_broken_at_random_not_in_index_order():
    """A map of equal scores says nothing: its curve is a random order's, not x1's cells
    first (which would find the cell at once)."""
    x, y = _one_cell_data()
    flat = Attribution("flat", ("x1", "x2"), np.ones((F, 1)), np.ones((F, T, 1)))
    curves = deletion_insertion(one_cell_model, x, y, None, flat)
    assert curves.deletion[1] == 1.0


def test_without_labels_the_models_own_answers_stand_in():
    """An upload without y: agreement with what the model said on the unchanged sample."""
    x, _ = _one_cell_data()
    curves = deletion_insertion(one_cell_model, x, None, None, _cell_map((0, STEP)))
    assert curves.metric == "agreement" and curves.full == 1.0
    assert curves.deletion[1] == 0.5


def test_only_counted_outputs_count():
    x, y = _one_cell_data()
    y2 = np.concatenate([y, np.full_like(y, np.nan)], axis=1)  # a second output, never defined
    mask = np.concatenate([np.ones_like(y, bool), np.zeros_like(y, bool)], axis=1)

    def two_outputs(x):
        return np.concatenate([one_cell_model(x), np.zeros((len(x), 1))], axis=1)

    curves = deletion_insertion(two_outputs, x, y2, mask, _cell_map((0, STEP)))
    assert curves.full == 1.0 and curves.deletion[1] == 0.5


def test_quality_by_hand():
    pred = np.array([[0.9, 0.2], [0.4, 0.7]])
    target = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert quality(pred, target, None, "classification", "accuracy") == 0.5
    mask = np.array([[True, True], [False, True]])
    assert quality(pred, target, mask, "classification", "accuracy") == pytest.approx(2 / 3)
    assert quality(np.stack([pred, target]), target, None, "classification", "accuracy").shape == (
        2,
    )


def test_bad_input_says_what_to_change():
    x, y = _one_cell_data()
    attr = _cell_map((0, STEP))
    with pytest.raises(ValueError, match="task must be one of"):
        deletion_insertion(one_cell_model, x, y, None, attr, task="ranking")
    with pytest.raises(ValueError, match="shares must lie from 0 to 1"):
        deletion_insertion(one_cell_model, x, y, None, attr, shares=(0, 2))
    with pytest.raises(ValueError, match="n_random must be from 1"):
        deletion_insertion(one_cell_model, x, y, None, attr, n_random=0)
    with pytest.raises(ValueError, match="baseline must hold one finite value per feature"):
        deletion_insertion(one_cell_model, x, y, None, attr, baseline=np.zeros(5))
    with pytest.raises(ValueError, match="this sample needs"):
        deletion_insertion(one_cell_model, x[:, :4], y, None, attr)
    flat_y = np.zeros_like(linear_model(_linear_data()))
    with pytest.raises(ValueError, match="R² is undefined"):
        deletion_insertion(
            linear_model, _linear_data(), flat_y, None, attr, task="regression", shares=(0, 1)
        )


def test_frames_and_json():
    x, y = _one_cell_data()
    curves = deletion_insertion(one_cell_model, x, y, None, _cell_map((0, STEP)))
    frame = curves.to_frame()
    assert set(frame["curve"]) == {"deletion", "insertion"}
    assert set(frame["order"]) == {"method", "random"}
    assert len(frame) == 2 * 2 * len(curves.shares)
    out = curves.to_dict()
    assert out["deletion_score"] == curves.deletion_score
    assert out["random_deletion"] == curves.reference("deletion").tolist()
    import json

    json.dumps(out)


# --------------------------------------------------------------------------- in a comparison


def test_comparison_carries_the_curves_when_asked_and_they_cross_a_pickle():
    x, y = _one_cell_data()
    ctx = Context(predict=one_cell_model, x=x, y=y, seed=0)
    plain = compare(ctx, ["ablation"])
    assert plain.curves is None and "deletion" not in plain.to_frame()
    both = compare(ctx, ["ablation"], curves=True)
    assert set(both.curves) == {"ablation", "random"}
    # Ablation finds the one cell the model reads: first in its order, accuracy falls at once.
    ablation = both.curves["ablation"]
    assert ablation.grain == "cell" and ablation.deletion[1] == 0.5
    frame = both.to_frame()
    assert frame.set_index("method").loc["ablation", "deletion"] == ablation.deletion_score
    assert len(both.curves_frame()) == 2 * 4 * len(ablation.shares)
    back = pickle.loads(pickle.dumps(both))
    assert back.curves["ablation"].to_dict() == ablation.to_dict()
    # Merged with a run that has none (or other methods), each method keeps its own curves.
    merged = merge_comparisons(plain, both)
    assert merged.curves["ablation"].to_dict() == ablation.to_dict()


def test_comparison_of_a_regression_takes_labels_apart_from_the_context():
    x = _linear_data()
    ctx = Context(predict=linear_model, x=x, seed=0)  # a regression's context has no y
    c = compare(ctx, ["ablation"], curves=True, labels=linear_model(x), task="regression")
    curves = c.curves["ablation"]
    assert curves.metric == "r2" and curves.full == pytest.approx(1.0)


# --------------------------------------------------------------------------- the command line


def _series_comparison():
    """A comparison as a real series makes it: no rule, curves against labels."""
    x, y = _one_cell_data()
    ctx = Context(predict=one_cell_model, x=x, y=y, seed=0, feature_names=("rain", "wind"))
    return compare(ctx, ["ablation"], curves=True)


def test_cli_prints_a_series_comparison_without_a_rule():
    """A real series has no rule (None): its --methods output must not need one."""
    from rnnviz.cli import format_comparison

    out = format_comparison(_series_comparison(), None)
    assert "Truth scores" not in out
    assert "Ablation (occlusion): deletion +" in out
    assert "drops accuracy from 100% to 50%" in out


def test_cli_json_has_a_faithfulness_entry():
    import json

    from rnnviz.cli import comparison_json

    out = json.loads(json.dumps(comparison_json(_series_comparison())))
    assert set(out["faithfulness"]) == {"ablation", "random"}
    entry = out["faithfulness"]["ablation"]
    assert entry["metric"] == "accuracy" and entry["grain"] == "cell"
    assert entry["deletion"][0] == 1.0 and entry["deletion"][1] == 0.5


def test_the_reading_takes_the_point_nearest_its_share():
    x, y = _one_cell_data()
    curves = deletion_insertion(one_cell_model, x, y, None, _cell_map((0, STEP)))
    assert curves.shares[curves.at(0.1)] == pytest.approx(0.1)  # 1 cell of 10
    assert curves.at(0.0) == 1  # never the unchanged sample
    assert curves.shares[curves.at(0.74)] == pytest.approx(0.7)


def test_reading_names_the_most_and_least_faithful_from_the_numbers():
    from rnnviz.attr.comparison import Comparison
    from rnnviz.report import readings

    x, y = _one_cell_data()
    cell = np.arange(F * T, dtype=np.float64).reshape(F, T, 1)
    cell[0, STEP] = -1.0
    attrs = {
        "right": _cell_map((0, STEP)),
        "wrong": Attribution("wrong", ("x1", "x2"), cell.mean(axis=1), cell),
    }
    curves = curve_scores(one_cell_model, x, y, None, attrs)
    c = Comparison(tuple(attrs), attrs, {}, np.eye(2), dict.fromkeys(attrs, 0.1), None, curves)
    text = readings.faithfulness_reading(c)
    assert text.startswith("Most faithful to this model by deletion: **right** (score +")
    assert "removing right's top 10% of cells (1 of 10) drops accuracy from 100% to 50%" in text
    assert "Least: **wrong** (-" in text and "leaves accuracy at 100%" in text
    table = readings.faithfulness_table(c)
    assert table["method"] == ["right", "wrong"]
    assert table["deletion"][0].startswith("+") and table["deletion"][1].startswith("-")
