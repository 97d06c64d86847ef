"""Group occlusion (windows, blocks, tiles) and the improved stepwise selections, on functions
whose answers can be worked out by hand: a model that reads one window, a "redundant" model
that reads the sign of a box's sum, and the linear f = 2 x1 - x2 (x3 unused)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnviz.attr.comparison import compare
from rnnviz.attr.methods import Context, group_spans
from rnnviz.attr.registry import run_method
from rnnviz.data.truth import feature_auc, saliency_precision_recall
from rnnviz.report import plots
from rnnviz.ui.text import FIGURE_NOTES

N, T, F = 40, 12, 3


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(11).normal(size=(N, T, F)).astype(np.float32)


def reads_steps_3_to_5(x: np.ndarray) -> np.ndarray:
    """One output per sequence: the sum of x1 at steps 3, 4 and 5 (nothing else)."""
    return np.asarray(x, np.float64)[:, 3:6, 0].sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- the groups


def test_group_spans_side_by_side_sliding_and_clipped() -> None:
    assert group_spans(5, 3, "window", 2).tolist() == [[0, 2, 0, 3], [2, 4, 0, 3], [4, 5, 0, 3]]
    assert group_spans(5, 3, "block", block=2).tolist() == [[0, 5, 0, 2], [0, 5, 2, 3]]
    assert group_spans(4, 2, "tile", 3, 1, "sliding").tolist() == [
        [0, 3, 0, 1],
        [1, 4, 0, 1],
        [0, 3, 1, 2],
        [1, 4, 1, 2],
    ]
    assert group_spans(4, 2, "window", 9).tolist() == [[0, 4, 0, 2]]  # the whole sequence
    for bad, match in (({"grouping": "diagonal"}, "grouping"), ({"window": 0}, "window")):
        with pytest.raises(ValueError, match=match):
            group_spans(4, 2, **bad)


def test_only_the_window_that_covers_the_read_steps_has_an_effect(x) -> None:
    ctx = Context(reads_steps_3_to_5, x)
    attr = run_method("group", ctx, window=3)  # windows 0-2, 3-5, 6-8, 9-11 of every feature
    effects = attr.extra["group_effects"][:, 0]
    # occluded with x1's mean m: the output moves by sum over s = 3..5 of (m - x1[s])
    m = ctx.feature_means[0]
    by_hand = np.sqrt(((m - x[:, 3:6, 0].astype(np.float64)).sum(axis=1) ** 2).mean())
    np.testing.assert_allclose(effects, [0.0, by_hand, 0.0, 0.0], rtol=1e-5, atol=0)
    # every cell of a group gets its effect, every feature of a window alike
    np.testing.assert_allclose(attr.cell_mean[:, 3:6], by_hand, rtol=1e-5)
    assert np.all(attr.cell_mean[:, :3] == 0) and np.all(attr.cell_mean[:, 6:] == 0)
    assert attr.cell.shape == (F, T, 1) and attr.importances.shape == (F, 1)
    # tiles of one feature: only x1's tile over steps 3-5
    tiles = run_method("group", ctx, grouping="tile", window=3, block=1)
    hit = tiles.cell_mean > 0
    assert hit[0, 3:6].all() and hit.sum() == 3
    # windows of 2 split the read steps: 2-3 and 4-5 both move the output, the rest do not
    pairs = run_method("group", ctx, window=2).extra["group_effects"][:, 0]
    assert pairs[1] > 0 and pairs[2] > 0
    assert np.all(pairs[[0, 3, 4, 5]] == 0)
    # sliding windows of 3: every window touching steps 3-5 (starts 1..5), and cell 0 only
    # in the first window, which does not
    sliding = run_method("group", ctx, window=3, overlap="sliding")
    starts = sliding.extra["groups"][:, 0]
    moved = sliding.extra["group_effects"][:, 0] > 0
    assert starts[moved].tolist() == [1, 2, 3, 4, 5]
    assert np.all(sliding.cell_mean[:, 0] == 0) and np.all(sliding.cell_mean[:, 3] > 0)


def test_noise_on_a_group_the_model_ignores_changes_nothing_and_is_chunk_free(x) -> None:
    ctx = Context(reads_steps_3_to_5, x, seed=4)
    attr = run_method("group", ctx, grouping="tile", window=3, block=1, edit="noise", n_repeats=3)
    effects = attr.extra["group_effects"]  # (G, R): tiles (feature, window) feature-major
    assert effects.shape == (12, 3) and attr.sigma == 0.2
    assert np.all(effects[1] > 0)  # x1 over steps 3-5
    assert np.all(np.delete(effects, 1, axis=0) == 0)
    small = Context(reads_steps_3_to_5, x, seed=4, max_values=x.size)  # one copy per call
    again = run_method(
        "group", small, grouping="tile", window=3, block=1, edit="noise", n_repeats=3
    )
    np.testing.assert_array_equal(again.cell, attr.cell)
    other = run_method(
        "group",
        Context(reads_steps_3_to_5, x, seed=5),
        grouping="tile",
        window=3,
        edit="noise",
        n_repeats=3,
    )
    assert not np.array_equal(other.cell, attr.cell)


# A "redundant" model: the label is the sign of the sum over a box of 8 cells (steps 4-7 of
# x2 and x3), each shifted by +1 or -1 with the label, so no single cell can flip it.
BOX_STEPS, BOX_FEATURES = slice(4, 8), slice(1, 3)


def box_sign(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x)[:, BOX_STEPS, BOX_FEATURES].sum(axis=(1, 2)) > 0).astype(np.float64)[
        :, None
    ]


@pytest.fixture(scope="module")
def box_x() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.normal(scale=0.2, size=(60, 12, 4)).astype(np.float32)
    label = np.where(np.arange(60) % 2 == 0, 1.0, -1.0).astype(np.float32)
    x[:, BOX_STEPS, BOX_FEATURES] += label[:, None, None]
    return x


def box_mask(shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[BOX_FEATURES, BOX_STEPS] = True
    return mask


def test_redundant_box_one_cell_changes_nothing_the_window_everything(box_x) -> None:
    ctx = Context(box_sign, box_x)
    single = run_method("ablation", ctx)
    assert np.all(single.cell == 0.0)  # no cell alone flips the sign
    window = run_method("group", ctx, window=4)  # windows 0-3, 4-7, 8-11: the box's is 4-7
    effects = window.extra["group_effects"][:, 0]
    assert effects[1] > 0.5 and effects[0] == 0 and effects[2] == 0
    # scored against the box at the (feature, step) grain by the truth module's own scores
    truth = box_mask(window.cell_mean.shape)
    cells = np.flatnonzero(truth.ravel())
    assert feature_auc(single.cell_mean.ravel(), cells) == 0.5  # all tied: chance
    # the window lights the box's 8 cells and, tied with them, the 8 other cells of its steps
    assert feature_auc(window.cell_mean.ravel(), cells) == pytest.approx((32 + 0.5 * 8) / 40)
    tile = run_method("group", ctx, grouping="tile", window=4, block=2)  # blocks x1-x2, x3-x4
    assert feature_auc(tile.cell_mean.ravel(), cells) < 1.0  # the box straddles two blocks
    aligned = Context(box_sign, box_x[:, :, [1, 2, 0, 3]])  # the box's features first
    shifted = run_method("group", aligned, grouping="tile", window=4, block=2)
    moved = np.zeros_like(truth)
    moved[0:2, BOX_STEPS] = True
    assert feature_auc(shifted.cell_mean.ravel(), np.flatnonzero(moved.ravel())) == 1.0
    assert saliency_precision_recall(shifted.cell_mean, moved)["aupr"] == 1.0


def test_group_runs_in_a_comparison_and_to_json(x) -> None:
    ctx = Context(reads_steps_3_to_5, x)
    result = compare(ctx, ["group", "ablation"], {"group": {"window": 3}}, truth={(0, 0)})
    assert result.scores["group"]["feature_auc"] == 0.5  # a window edits every feature alike
    json.dumps(result.attributions["group"].to_dict())


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"grouping": "diagonal"}, "grouping"),
        ({"window": 0}, "window"),
        ({"block": 21}, "block"),
        ({"edit": "blur"}, "edit"),
        ({"overlap": "half"}, "overlap"),
        ({"sigma": 0.0}, "sigma"),
    ],
)
def test_group_rejects_bad_parameters(x, params, match) -> None:
    with pytest.raises(ValueError, match=match):
        run_method("group", Context(reads_steps_3_to_5, x), **params)


# --------------------------------------------------------------------------- improved stepwise

W = np.array([2.0, -1.0, 0.0], dtype=np.float32)  # f(x)_t = 2 x1_t - x2_t (x3 unused)


def linear(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32) @ W


@pytest.fixture(scope="module")
def lx() -> np.ndarray:
    return np.random.default_rng(7).random((30, 5, 3), dtype=np.float32)


def test_iss1_is_the_mse_rise_of_fixing_each_input_at_its_mean(lx) -> None:
    y = linear(lx)  # a regression the model fits exactly: the loss with every input is 0
    attr = run_method("iss1", Context(linear, lx, y=y))
    assert attr.extra["loss"] == "mse" and attr.extra["base_loss"] == 0.0
    d = (lx - lx.mean(axis=(0, 1))).astype(np.float64)  # each value's distance from its mean
    # x1 fixed at its mean moves every output by -2 d1, x2 by +d2: MSE 4 var(x1), var(x2), 0
    by_hand = [4 * (d[..., 0] ** 2).mean(), (d[..., 1] ** 2).mean(), 0.0]
    np.testing.assert_allclose(attr.importances[:, 0], by_hand, rtol=1e-5, atol=1e-12)
    # one cell (f, s): only output s moves, so the MSE over all T outputs is 1/T of its part
    cell = (W.astype(np.float64)[:, None] ** 2) * (d**2).mean(axis=0).T / lx.shape[1]
    np.testing.assert_allclose(attr.cell[:, :, 0], cell, rtol=1e-5, atol=1e-12)
    # without labels: the squared change of the predictions, the same here (the fit is exact)
    own = run_method("iss1", Context(linear, lx))
    assert "no labels" in own.note
    np.testing.assert_allclose(own.importances, attr.importances, rtol=1e-6, atol=1e-12)


def test_iss1_counts_only_outputs_with_a_target(lx) -> None:
    valid = np.broadcast_to(np.arange(5) >= 3, (30, 5))
    y = linear(lx) * valid
    attr = run_method("iss1", Context(linear, lx, y=y, valid=valid), per_step=False)
    d = (lx - lx.mean(axis=(0, 1))).astype(np.float64)[:, 3:]  # outputs 3 and 4 count
    np.testing.assert_allclose(
        attr.importances[:, 0],
        [4 * (d[..., 0] ** 2).mean(), (d[..., 1] ** 2).mean(), 0.0],
        rtol=1e-5,
        atol=1e-12,
    )
    assert attr.cell is None


def test_iss1_cross_entropy_for_labels(lx) -> None:
    def prob(x):
        return 1.0 / (1.0 + np.exp(-(linear(x) - 0.5)))

    y = (linear(lx) > 0.5).astype(np.float64)
    attr = run_method("iss1", Context(prob, lx, y=y), per_step=False)
    assert attr.extra["loss"] == "cross-entropy"

    def bce(p):
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())

    fixed = lx.copy()
    fixed[:, :, 0] = lx[:, :, 0].mean()
    np.testing.assert_allclose(attr.extra["base_loss"], bce(prob(lx)), rtol=1e-5)
    np.testing.assert_allclose(attr.importances[0, 0], bce(prob(fixed)) - bce(prob(lx)), rtol=1e-4)
    assert attr.importances[2, 0] == 0.0
    with pytest.raises(ValueError, match="0/1 labels"):
        run_method("iss1", Context(linear, lx, y=linear(lx)), loss="cross-entropy")
    with pytest.raises(ValueError, match="loss"):
        run_method("iss1", Context(linear, lx, y=y), loss="hinge")


def test_iss2_eliminates_the_cheapest_input_and_ranks_again(lx) -> None:
    attr = run_method("iss2", Context(linear, lx, y=linear(lx)))
    d = (lx - lx.mean(axis=(0, 1))).astype(np.float64)
    # x3 costs nothing: out first; then x2 (var(x2) < 4 var(x1)); x1 last, with both fixed
    both = ((2 * d[..., 0] - d[..., 1]) ** 2).mean()
    assert attr.extra["order"].tolist() == [2, 1, 0]
    assert attr.extra["rank"].tolist() == [3, 2, 1]
    np.testing.assert_allclose(
        attr.extra["losses"], [0.0, 0.0, (d[..., 1] ** 2).mean(), both], rtol=1e-5, atol=1e-12
    )
    np.testing.assert_allclose(
        attr.importances[:, 0], [both, (d[..., 1] ** 2).mean(), 0.0], rtol=1e-5, atol=1e-12
    )
    # its first step is ISS1's least important input
    first = run_method("iss1", Context(linear, lx, y=linear(lx)), per_step=False)
    assert attr.extra["losses"][1] == pytest.approx(first.extra["fixed_losses"].min(), abs=1e-12)


def test_iss2_redundant_copies_ranked_again_after_one_goes(lx) -> None:
    """x1 and x3 say the same thing (the model reads their mean): fixing either one alone
    costs a quarter of fixing both, so ISS1 ranks them alike; ISS2 fixes one, and the other
    then carries the whole signal and goes last."""
    twin = lx.copy()
    twin[:, :, 2] = twin[:, :, 0]

    def reads_mean(x):
        return (np.asarray(x, np.float64)[:, :, 0] + np.asarray(x, np.float64)[:, :, 2]) / 2

    ctx = Context(reads_mean, twin, y=reads_mean(twin))
    one = run_method("iss1", ctx, per_step=False).importances[:, 0]
    assert one[0] == pytest.approx(one[2]) and one[1] == 0.0
    two = run_method("iss2", ctx)
    assert two.extra["order"].tolist() == [1, 0, 2]
    assert two.extra["step_increase"][2] == pytest.approx(3 * one[0], rel=1e-5)


# --------------------------------------------------------------------------- figures and notes


def test_figures_name_their_scale_and_every_figure_has_a_note(x, lx) -> None:
    ctx = Context(reads_steps_3_to_5, x)
    for params, scale in (
        ({"window": 3}, "windows of 3 steps"),
        ({"grouping": "block", "block": 2}, "blocks of 2 features"),
        ({"grouping": "tile", "window": 4, "block": 1}, "tiles of 1 feature × 4 steps"),
        ({"window": 3, "overlap": "sliding", "edit": "noise", "n_repeats": 2}, "windows of 3"),
    ):
        attr = run_method("group", ctx, **params)
        for narrow in (False, True):
            fig = plots.group_map(attr, [0], narrow=narrow)
            assert scale in fig.layout.title.text.replace("<br>", " ")
        outlines = len(plots.group_map(attr, None).layout.shapes)
        assert outlines == (0 if "overlap" in params else len(attr.extra["groups"]))
    lctx = Context(linear, lx, y=linear(lx))
    for name in ("iss1", "iss2"):
        attr = run_method(name, lctx)
        for narrow in (False, True):
            fig = plots.stepwise_losses(attr, [0, 1], narrow=narrow)
            bars = fig.data[0]
            assert len(bars.x) == 3
        assert name in FIGURE_NOTES
    assert list(plots.stepwise_losses(run_method("iss2", lctx)).data[0].x) == ["+x3", "+x2", "+x1"]
    assert "ablation" in FIGURE_NOTES["iss1"] and "deletion curve" in FIGURE_NOTES["iss2"]
