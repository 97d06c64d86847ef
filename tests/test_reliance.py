"""The one criterion for "relied on" and "combines" (rnnviz.attr.reliance), and the sentences
that
use it, checked on plain functions whose answer is known by hand: a sum (no interaction), a
product (interaction σ²), a feature the function never reads (exactly 0), a small known weight.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.attr import reliance
from rnnviz.attr.attribution import PerturbationResult
from rnnviz.attr.interactions import interaction_importance
from rnnviz.attr.scoring import perturbation_importance
from rnnviz.report import lessons, readings
from rnnviz.report.plots import interaction_heatmap

SIGMA = 0.2
N, T = 300, 6


def data(n_features: int) -> np.ndarray:
    return np.random.default_rng(0).random((N, T, n_features), dtype=np.float32)


def effects(predict, n_features: int) -> PerturbationResult:
    return perturbation_importance(
        predict, data(n_features), sigma=SIGMA, n_repeats=3, seed=0, per_step=False
    )


def pairs(predict, n_features: int):
    return interaction_importance(predict, data(n_features), sigma=SIGMA, n_repeats=3, seed=0)


def _sum(x):
    return x[:, :, 0] + x[:, :, 1]


def _product(x):
    return x[:, :, 0] * x[:, :, 1]


def _threshold_like(x):
    """Reads x1 through a steep sigmoid and x3 a little inside it (as a trained model of
    ``x1 > 0.5`` does): x3 alone moves little, x1 with x3 leaves an interaction about as large."""
    return 1 / (1 + np.exp(-(50 * (x[:, :, 0] - 0.5) + 0.6 * (x[:, :, 2] - 0.5))))


# --------------------------------------------------------------------------- the criterion


def test_noise_features_are_the_unread_ones_that_copy_nothing_read():
    assert reliance.noise_features(3, {0, 1}) == (2,)
    assert reliance.noise_features(4, {0}, ((1, 4, 0.95),)) == (1, 2)  # x4 copies x1
    assert reliance.noise_features(3, {0, 1}, ((1, 3, 0.9),)) == ()  # x3 copies x1
    assert reliance.noise_features(3, None) is None  # no rule: nothing known to be unused
    from rnnviz.config import PRESETS, Config

    assert reliance.noise_of(Config()) == (2,)
    assert reliance.noise_of(PRESETS["correlated"]) == (1, 2)
    assert reliance.noise_of(PRESETS["seattle-weather"]) is None


def test_an_unread_feature_is_zero_and_the_read_ones_are_relied_on():
    s = effects(_sum, 3)
    assert s.importances_mean[2] == 0.0  # the function never reads x3
    floor = reliance.feature_floor(s.importances_mean, s.importances_std, (2,))
    # x3 is exactly 0, so the floor is the minimum share of the largest effect (about σ)
    assert floor.value == pytest.approx(reliance.MIN_SHARE * s.importances_mean.max())
    assert reliance.relied_on(s.importances_mean, s.importances_std, (2,)) == [0, 1]


def test_a_small_known_weight_is_judged_against_the_floor():
    # x4 with weight 0.1 (effect 0.1 σ) over x2, x3 with weight 0.02 (0.02 σ): 5× the floor
    def f(x):
        return x[:, :, 0] + 0.02 * (x[:, :, 1] + x[:, :, 2]) + 0.1 * x[:, :, 3]

    s = effects(f, 4)
    np.testing.assert_allclose(s.importances_mean, SIGMA * np.array([1, 0.02, 0.02, 0.1]), 0.1)
    assert reliance.relied_on(s.importances_mean, s.importances_std, (1, 2)) == [0, 3]

    # with weight 0.03 the copy is no more than 2× what nothing shows: not relied on
    def g(x):
        return x[:, :, 0] + 0.02 * (x[:, :, 1] + x[:, :, 2]) + 0.03 * x[:, :, 3]

    s = effects(g, 4)
    assert reliance.relied_on(s.importances_mean, s.importances_std, (1, 2)) == [0]


def test_pairs_combine_only_clear_of_the_floor():
    assert reliance.combined_pairs(pairs(_sum, 3), (2,)) == []  # Δ12 − Δ1 − Δ2 is rounding
    product = pairs(_product, 3)
    assert [(i, j) for i, j, _, _ in reliance.combined_pairs(product, (2,))] == [(0, 1)]
    # x3 never read: every pair with it is exactly 0, so the floor is the minimum share
    assert reliance.pair_floor(product, (2,)).sources == ()
    # the threshold-like model: the x1-x3 interaction is noise, whatever its share of x3 alone
    noisy = pairs(_threshold_like, 3)
    assert noisy.strongest()[:2] == (0, 2)
    assert noisy.importances_mean[0, 2] > noisy.single_mean[2]  # > 100% of the smaller one
    assert reliance.combined_pairs(noisy, (1, 2)) == []


# --------------------------------------------------------------------------- readings


def test_interaction_reading_says_what_its_number_is():
    r = pairs(_product, 3)
    text = readings.interaction_reading(r, {(0, 1): "x1 * x2"}, (2,))
    assert "beyond the sum" not in text and "more than the sum" not in text
    assert "RMS of Δ(x1 and x2) − Δ(x1) − Δ(x2)" in text
    assert f"{r.importances_mean[0, 1]:.4f}" in text
    # the joint change's RMS, by hand: (x1+ε1)(x2+ε2) − x1x2 per repeat, then the mean
    x = data(3).astype(np.float64)
    joint = []
    for rep in range(3):
        rng = np.random.default_rng(np.random.SeedSequence([0, rep]))
        eps = rng.standard_normal((3, N, T), dtype=np.float32).astype(np.float64) * SIGMA
        change = (x[:, :, 0] + eps[0]) * (x[:, :, 1] + eps[1]) - x[:, :, 0] * x[:, :, 1]
        joint.append(np.sqrt(np.mean(change**2)))
    assert r.joint_mean[0, 1] == pytest.approx(np.mean(joint), rel=1e-4)
    assert f"move the predictions by {np.mean(joint):.4f} (RMS of the joint change)" in text
    assert "RMS changes do not add up" in text
    assert "noise floor" in text and "The rule combines them in `x1 * x2`" in text


def test_interaction_reading_does_not_read_noise_as_a_finding():
    r = pairs(_threshold_like, 3)
    text = readings.interaction_reading(r, {}, (1, 2))  # the rule x1 > 0.5: no pair
    assert "Strongest pair" not in text and "model's own" not in text
    assert text.startswith("**No pair stands clear of the noise floor.**")
    floor = reliance.pair_floor(r, (1, 2))
    assert f"{floor.value:.4f}" in text and f"above {floor.bar:.4f}" in text
    flat = readings.interaction_reading(pairs(_sum, 3), {}, (2,))
    assert flat.startswith("**No pair stands clear")
    # without a rule no feature is known to be unused, and the reading says so
    assert "No feature is known to be unused" in readings.interaction_reading(r, None, None)


def test_heatmap_colours_are_anchored_to_the_largest_single_effect():
    r = pairs(_threshold_like, 3)
    heat = interaction_heatmap(r, {}).data[0]
    assert heat.zmin == 0.0
    assert heat.zmax == pytest.approx(r.single_mean.max())  # x1 alone, not the noisy x1-x3
    assert np.nanmax(r.importances_mean) < 0.5 * heat.zmax  # noise stays in the dark half


# --------------------------------------------------------------------------- lessons


def test_lesson_reveals_state_one_criterion():
    # x1 and x2 read; x3 (weight 0.02) what nothing looks like; with a copy x4 at 7% of x1
    def f(x):
        return x[:, :, 0] + x[:, :, 1] + 0.02 * x[:, :, 2]

    reveal = lessons.reveal_features(effects(f, 3), (2,))
    assert reveal.answer == "x1 and x2"
    assert "noise floor" in reveal.reading and "more than 2× the floor" in reveal.reading
    assert "25%" not in reveal.reading

    def g(x):
        return x[:, :, 0] + 0.02 * (x[:, :, 1] + x[:, :, 2]) + 0.07 * x[:, :, 3]

    s = effects(g, 4)
    corr = lessons.reveal_correlated(s, 0.95)
    assert corr.answer == lessons.SOME  # 7% of x1, 3.5× the unread ones: relied on
    assert "7% of x1's effect" in corr.reading
    assert "more than 2× the floor" in corr.reading and "x4 is, at" in corr.reading
    # the same test decides lesson 1's kind of question on these numbers: x4 is relied on
    options = {"x1 and x4": (0, 3)}
    assert lessons.reveal_features(s, (1, 2), options).answer == "x1 and x4"


def test_lesson_interaction_on_a_sum_and_a_product():
    add = lessons.reveal_interaction(pairs(_sum, 3), (2,))
    assert add.answer == lessons.ADD_UP
    product = pairs(_product, 3)
    combine = lessons.reveal_interaction(product, (2,))
    assert combine.answer == lessons.COMBINE
    assert "more than the sum of each alone" not in combine.reading
    assert "Δ(x1 and x2) − Δ(x1) − Δ(x2)" in combine.reading
    assert f"together by {product.joint_mean[0, 1]:.3f}" in combine.reading
    noisy = lessons.reveal_interaction(pairs(_threshold_like, 3), (1, 2), pair=(0, 2))
    assert noisy.answer == lessons.ADD_UP
