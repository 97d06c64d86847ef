"""Per-sequence, signed attributions and per-sequence truth, checked on functions worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.attr.methods import Context
from rnnviz.attr.sequence import (
    SequenceAttribution,
    confident_picks,
    sequence_attribution,
    sequence_attributions,
)
from rnnviz.data.truth import deciding_cells, sequence_scores, sequence_truth_mask
from rnnviz.rules import parse_rule

N, T, F = 6, 5, 3
W = np.array([2.0, -1.0, 0.0], np.float32)  # f_t = 2 x1[t] - x2[t]; x3 is never read


def linear(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32) @ W


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(5).random((N, T, F), dtype=np.float32)


@pytest.fixture(scope="module")
def linear_model():
    import keras

    inputs = keras.Input((T, F))
    out = keras.layers.Dense(1, use_bias=False, name="w")(inputs)
    model = keras.Model(inputs, out)
    model.get_layer("w").set_weights([W[:, None]])
    return model


def _expected_occlusion(x: np.ndarray, i: int) -> np.ndarray:
    """(F, T, T) by hand: cell (f, s) moves output t by w_f x[s, f] when s == t, else 0."""
    out = np.zeros((F, T, T))
    for s in range(T):
        out[:, s, s] = W * x[i, s]
    return out


def test_occlusion_to_zero_gives_the_terms_of_the_sum(x) -> None:
    ctx = Context(linear, x)
    attr = sequence_attribution(ctx, 2, "ablation", output_step=3, baseline="zero")
    np.testing.assert_allclose(attr.effects, _expected_occlusion(x, 2), atol=1e-6)
    # The map of output 3: (x1, 3) is exactly 2 x1[3], (x2, 3) exactly -x2[3], all else 0.
    assert attr.effect[0, 3] == pytest.approx(2 * x[2, 3, 0], abs=1e-6)
    assert attr.effect[1, 3] == pytest.approx(-x[2, 3, 1], abs=1e-6)
    others = np.ones((F, T), bool)
    others[[0, 1], 3] = False
    assert np.all(attr.effect[others] == 0.0)
    assert attr.spread is None
    assert attr.output == pytest.approx(float(linear(x[2:3])[0, 3]), abs=1e-6)


def test_perturbation_signed_effect_is_slope_times_sigma(x) -> None:
    ctx = Context(linear, x, seed=4)
    attr = sequence_attribution(ctx, 0, "perturbation", sigma=0.1, n_repeats=4)
    expected = np.zeros((F, T, T))
    for s in range(T):
        expected[:, s, s] = W * 0.1  # a w x: every draw's slope is w, so the mean is w sigma
    np.testing.assert_allclose(attr.effects, expected, atol=2e-4)
    np.testing.assert_allclose(attr.spreads, 0.0, atol=2e-4)  # a linear model: no spread
    assert attr.effect[1, T - 1] < 0 < attr.effect[0, T - 1]  # x2 pushes down, x1 up
    assert attr.sigma == 0.1


def test_perturbation_spread_on_a_curved_model(x) -> None:
    def square(v):
        return np.asarray(v, np.float32)[:, :, 0] ** 2

    attr = sequence_attribution(Context(square, x, seed=1), 1, "perturbation", n_repeats=8)
    # slope of x^2 over a step d is 2x + d: the mean is near 2 x sigma, the spread is sigma's
    # share of the draws' spread, sigma * std(d) = sigma^2 * std(z) > 0.
    t = 2
    assert attr.at(t).effect[0, t] == pytest.approx(2 * x[1, t, 0] * 0.2, abs=0.1)
    assert attr.at(t).spread[0, t] > 0.005
    assert attr.at(t).effect[0, t - 1] == 0.0  # a cell another output reads
    assert attr.at(t).effect[1:].max() == 0.0


def test_same_seed_same_numbers_whatever_the_chunking(x) -> None:
    big = sequence_attribution(Context(linear, x, seed=9), 3, "perturbation")
    small = sequence_attribution(Context(linear, x, seed=9, max_values=20), 3, "perturbation")
    np.testing.assert_array_equal(big.effects, small.effects)
    np.testing.assert_array_equal(big.spreads, small.spreads)


def test_group_occlusion_gives_each_window_its_sum(x) -> None:
    attr = sequence_attribution(Context(linear, x), 4, "group", window=2, baseline="zero")
    t = 1  # in the window of steps 0..1: its change is 2 x1[1] - x2[1] for every cell of it
    want = 2 * x[4, 1, 0] - x[4, 1, 1]
    np.testing.assert_allclose(attr.at(t).effect[:, :2], want, atol=1e-6)
    np.testing.assert_allclose(attr.at(t).effect[:, 2:], 0.0, atol=1e-6)
    assert attr.extra["window"] == 2


def test_gradient_methods_on_a_linear_model(x, linear_model) -> None:
    ctx = Context(linear, x, model=linear_model)
    sal = sequence_attribution(ctx, 1, "saliency", output_step=2)
    want = np.zeros((F, T))
    want[:, 2] = W
    np.testing.assert_allclose(sal.effect, want, atol=1e-6)  # signed: x2's is -1
    ig = sequence_attribution(ctx, 1, "integrated_gradients", output_step=2, baseline="zero")
    abl = sequence_attribution(ctx, 1, "ablation", output_step=2, baseline="zero")
    np.testing.assert_allclose(ig.effects, abl.effects, atol=1e-5)  # linear: IG = occlusion
    assert ig.extra["completeness_gap_abs"] < 1e-5
    both = sequence_attributions(ctx, 1, output_step=2)
    assert set(both) == {"perturbation", "ablation", "saliency", "integrated_gradients", "group"}
    assert "saliency" not in sequence_attributions(Context(linear, x), 1)  # no model: skipped


def test_table_json_and_top_cells(x) -> None:
    attr = sequence_attribution(Context(linear, x), 2, "ablation", output_step=3)
    frame = attr.to_frame()
    assert len(frame) == F * T
    row = frame[(frame.feature == "x2") & (frame.input_step == 3)].iloc[0]
    assert row.effect == pytest.approx(-x[2, 3, 1], abs=1e-6)
    assert row.input == pytest.approx(x[2, 3, 1])
    top = attr.top_cells(2)
    terms = {("x1", 3): 2 * float(x[2, 3, 0]), ("x2", 3): -float(x[2, 3, 1])}
    by_size = sorted(terms, key=lambda k: -abs(terms[k]))
    assert [cell[:2] for cell in top] == by_size  # largest |effect| first, sign kept
    assert top[0][2] == pytest.approx(terms[by_size[0]], abs=1e-6)
    data = attr.to_dict()
    assert data["effect"][1][3] == pytest.approx(-x[2, 3, 1], abs=1e-6)
    assert data["std"] is None and data["output_step"] == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"index": 6}, "outside 0..5"),
        ({"index": 0, "method": "garson"}, "no per-sequence map"),
        ({"index": 0, "output_step": 5}, "from 0 to 4"),
        ({"index": 0, "baseline": "median"}, "baseline"),
    ],
)
def test_bad_input_says_what_to_change(x, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        sequence_attribution(Context(linear, x), **kwargs)


def test_at_checks_the_step(x) -> None:
    attr = sequence_attribution(Context(linear, x), 0, "ablation")
    assert attr.output_step == T - 1
    with pytest.raises(ValueError, match="outside"):
        attr.at(T)
    assert isinstance(attr.at(0), SequenceAttribution)


def test_confident_picks() -> None:
    p = np.array([[0.6, 0.99], [0.02, 0.4]])
    y = np.array([[1.0, 1.0], [1.0, 0.0]])
    picks = confident_picks(p, y)
    assert picks == {"confident": (0, 1), "wrong": (1, 0)}  # 0.02 for a 1: sure and wrong
    picks = confident_picks(p, y, counted=np.array([[True, True], [False, True]]))
    assert picks == {"confident": (0, 1), "wrong": None}


# --------------------------------------------------------------------------- per-sequence truth


def test_truth_mask_maps_lags_to_steps() -> None:
    rule = parse_rule("x1[t-2] > 0.5 and x3 < 0.3", n_features=3)
    mask = sequence_truth_mask(rule.ground_truth, T, 3, 4)
    assert sorted(zip(*np.nonzero(mask), strict=True)) == [(0, 2), (2, 4)]
    mask = sequence_truth_mask(rule.ground_truth, T, 3, 1)  # x1 two back is before step 0
    assert sorted(zip(*np.nonzero(mask), strict=True)) == [(2, 1)]


def test_deciding_cell_of_a_window_max_and_a_threshold() -> None:
    x = np.zeros((8, 2))
    x[:, 0] = [0.1, 0.95, 0.2, 0.3, 0.5, 0.4, 0.1, 0.0]
    rule = parse_rule("wmax(x1, 5) > 0.9", n_features=2)
    cells = deciding_cells(rule, x, 5)  # window 1..5: the max 0.95 sits at step 1
    assert sorted(zip(*np.nonzero(cells), strict=True)) == [(0, 1)]
    cells = deciding_cells(rule, x, 7)  # window 3..7: 0.5 at step 4
    assert sorted(zip(*np.nonzero(cells), strict=True)) == [(0, 4)]
    assert deciding_cells(rule, x, 3) is None  # the window reaches before step 0
    lagged = parse_rule("not x2[t-1] < 0.5", n_features=2)
    assert sorted(zip(*np.nonzero(deciding_cells(lagged, x, 3)), strict=True)) == [(1, 2)]
    assert deciding_cells(parse_rule("x1 * x2 < 0.25", n_features=2), x, 3) is None
    assert deciding_cells(parse_rule("mean(x1, 2) > 0.5", n_features=2), x, 3) is None


def test_sequence_scores_rank_by_size_not_sign() -> None:
    mask = np.array([[True, False], [False, False]])
    assert sequence_scores(np.array([[-0.9, 0.1], [0.2, 0.0]]), mask)["auc"] == 1.0
    assert sequence_scores(np.array([[0.0, 0.1], [0.2, 0.3]]), mask)["auc"] == 0.0
    assert sequence_scores(np.zeros((2, 2)), np.zeros((2, 2), bool))["auc"] is None


def test_truth_scores_of_an_exact_map(x) -> None:
    """Occlusion of f_t = 2 x1[t] - x2[t] is nonzero exactly on the cells the rule
    x1 - x2 > 0 reads (x1 and x2 at step t), so every output scores AUC 1."""
    from rnnviz.attr.sequence import sequence_truth, truth_scores

    rule = parse_rule("x1 - x2 > 0", n_features=3)
    attrs = [sequence_attribution(Context(linear, x), i, "ablation") for i in range(3)]
    reads, decides = sequence_truth(attrs[0], rule)
    assert sorted(zip(*np.nonzero(reads), strict=True)) == [(0, T - 1), (1, T - 1)]
    assert decides is None  # two features meet before the threshold: no one cell decides
    scores = truth_scores(attrs, rule)
    assert scores["auc"] == 1.0 and scores["top_on_deciding"] is None
    one = truth_scores(attrs, parse_rule("x1 > 0.5", n_features=3))
    # The deciding cell is (x1, t); the largest |effect| is there when 2 x1[t] >= x2[t].
    wins = (2 * x[:3, :, 0] >= x[:3, :, 1]).mean()
    assert one["top_on_deciding"] == pytest.approx(wins)


def test_the_reading_keeps_small_effects_readable(x) -> None:
    """A small σ makes small numbers: the reading gives two significant digits, not "+0.00"."""
    from rnnviz.report.readings import sequence_reading

    ctx = Context(linear, x, seed=4)
    attr = sequence_attribution(ctx, 0, "perturbation", sigma=0.001, n_repeats=2)
    text = sequence_reading(attr)
    assert "x1 at step" in text and "moved it most, up (+0.002:" in text, text
