"""Tests for rnnviz.data.truth: ground-truth scoring on hand-made rankings with hand-computed
values."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rnnviz.data.truth import (
    cell_truth_mask,
    feature_auc,
    lag_truth_mask,
    saliency_precision_recall,
    score_method,
)
from rnnviz.rules import get_rule

# --------------------------------------------------------------------------- feature AUC


@pytest.mark.parametrize(
    ("scores", "true", "expected"),
    [
        ([3.0, 2.0, 1.0], {0, 1}, 1.0),  # perfect
        ([1.0, 2.0, 3.0], {0}, 0.0),  # reversed
        ([1.0, 1.0, 1.0], {0}, 0.5),  # all tied
        ([3.0, 1.0, 2.0], {0, 1}, 0.5),  # 3 > 2 wins, 1 > 2 loses
        ([2.0, 1.0, 2.0], {0}, 0.75),  # beats 1, ties 2
        ([0.1, 0.9, 0.5, 0.2], {1, 2}, 1.0),
    ],
)
def test_feature_auc_hand_computed(scores, true, expected) -> None:
    assert feature_auc(np.array(scores), true) == pytest.approx(expected)


def test_feature_auc_undefined_when_all_or_none_true() -> None:
    assert feature_auc(np.array([1.0, 2.0]), set()) is None
    assert feature_auc(np.array([1.0, 2.0]), {0, 1}) is None


def test_feature_auc_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="outside"):
        feature_auc(np.array([1.0, 2.0]), {2})
    with pytest.raises(ValueError, match="NaN"):
        feature_auc(np.array([1.0, np.nan]), {0})


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-10, 10), min_size=2, max_size=8),
    st.data(),
)
def test_feature_auc_flips_with_sign(scores, data) -> None:
    n = len(scores)
    true = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    a = feature_auc(np.array(scores), true)
    b = feature_auc(-np.array(scores), true)
    assert 0.0 <= a <= 1.0
    assert a + b == pytest.approx(1.0)


# --------------------------------------------------------------------------- masks


def test_cell_truth_mask_lagged_rule() -> None:
    # x1[t-2]: labels defined from t = 2; input step s feeds output s + 2 <= 4, so s <= 2.
    mask = cell_truth_mask({(0, 2)}, seq_len=5, n_features=2)
    assert mask.tolist() == [[True, True, True, False, False], [False] * 5]


def test_cell_truth_mask_mixed_lags() -> None:
    # x1 now and x2 two back: labels from t = 2, so x1 matters at s >= 2, x2 at s <= 2.
    mask = cell_truth_mask({(0, 0), (1, 2)}, seq_len=5, n_features=3)
    assert mask.tolist() == [
        [False, False, True, True, True],
        [True, True, True, False, False],
        [False] * 5,
    ]


def test_cell_truth_mask_no_lag_is_feature_mask() -> None:
    mask = cell_truth_mask(get_rule("reference").ground_truth, seq_len=4, n_features=3)
    assert mask.tolist() == [[True] * 4, [True] * 4, [False] * 4]


def test_lag_truth_mask() -> None:
    mask = lag_truth_mask(get_rule("lagged_product").ground_truth, n_lags=3, n_features=3)
    assert mask.tolist() == [[False, True, False], [False] * 3, [True, False, False]]
    with pytest.raises(ValueError, match="lag 3"):
        lag_truth_mask({(0, 3)}, n_lags=3, n_features=1)
    with pytest.raises(ValueError, match="feature 4"):
        lag_truth_mask({(4, 0)}, n_lags=3, n_features=2)


# --------------------------------------------------------------------------- AUP / AUR / AUPR


def test_precision_recall_hand_computed() -> None:
    # Sorted scores 3, 2, 1, 0 with truth T, F, T, F; true weight 3 + 1 = 4.
    # k=1: P = 3/3, R = 3/4; k=2: P = 3/5, R = 3/4; k=3: P = 4/6, R = 1; k=4: P = 4/6, R = 1.
    # AUPR (counts): recall 1/2 at precision 1, then recall 1 at precision 2/3.
    out = saliency_precision_recall(np.array([[3.0, 2.0], [1.0, 0.0]]), np.array([[1, 0], [1, 0]]))
    assert out["aup"] == pytest.approx((1 + 0.6 + 2 / 3 + 2 / 3) / 4)
    assert out["aur"] == pytest.approx((0.75 + 0.75 + 1 + 1) / 4)
    assert out["aupr"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_precision_recall_order_inside_the_array_does_not_matter() -> None:
    a = saliency_precision_recall(np.array([3.0, 2.0, 1.0, 0.0]), np.array([1, 0, 1, 0]))
    b = saliency_precision_recall(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0, 1, 0, 1]))
    assert a == pytest.approx(b)


def test_precision_recall_perfect_reversed_tied() -> None:
    perfect = saliency_precision_recall(np.array([1.0, 0.0]), np.array([True, False]))
    assert perfect == pytest.approx({"aup": 1.0, "aur": 1.0, "aupr": 1.0})
    # Only the irrelevant cell has weight: nothing true is ever found.
    reversed_ = saliency_precision_recall(np.array([0.0, 1.0]), np.array([True, False]))
    assert reversed_ == pytest.approx({"aup": 0.0, "aur": 0.0, "aupr": 0.5})
    # All tied: one threshold holding every cell; precision = chance (1/4), recall 1.
    tied = saliency_precision_recall(np.ones(4), np.array([1, 0, 0, 0]))
    assert tied == pytest.approx({"aup": 0.25, "aur": 1.0, "aupr": 0.25})


def test_precision_recall_edge_cases() -> None:
    assert saliency_precision_recall(np.ones(3), np.zeros(3, bool)) == {
        "aup": None,
        "aur": None,
        "aupr": None,
    }
    with pytest.raises(ValueError, match=">= 0"):
        saliency_precision_recall(np.array([1.0, -1.0]), np.array([1, 0]))
    with pytest.raises(ValueError, match="shape"):
        saliency_precision_recall(np.ones((2, 2)), np.ones(4, bool))


@settings(max_examples=50, deadline=None)
@given(
    # zero or at least 1e-6: a score near the float underflow (e.g. 5e-324) times the factor
    # becomes 0, so the scaled scores would no longer be the same scores scaled
    st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 100)), min_size=2, max_size=12),
    st.data(),
    st.floats(0.01, 100),
)
def test_precision_recall_bounded_and_scale_free(scores, data, factor) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(scores), max_size=len(scores))))
    s = np.array(scores)
    out = saliency_precision_recall(s, mask)
    if not mask.any():
        assert out["aup"] is None
        return
    for value in out.values():
        assert -1e-12 <= value <= 1 + 1e-12
    # Scaling rounds: two scores one ulp apart (99.99999999999999 and 100) can become equal, and
    # then they are no longer the same scores scaled. Scale-free is claimed where order holds.
    s2 = s * factor
    assume(np.array_equal(s[:, None] < s[None, :], s2[:, None] < s2[None, :]))
    scaled = saliency_precision_recall(s2, mask)
    assert scaled["aupr"] == pytest.approx(out["aupr"])
    assert scaled["aup"] == pytest.approx(out["aup"], abs=1e-9)


# --------------------------------------------------------------------------- score_method


def test_score_method_on_a_lagged_rule() -> None:
    truth = get_rule("lagged", n_features=3, seq_len=4).ground_truth  # {(0, 2)}
    lag = np.zeros((3, 4))
    lag[0, 2] = 1.0
    lag[1, 0] = 0.5
    out = score_method(np.array([1.0, 0.5, 0.0]), lag, truth)
    assert out["feature_auc"] == 1.0
    assert out["lag_auc"] == 1.0
    assert out["aupr"] == 1.0
    # Sorted: 1 (true), 0.5, then ten tied zeros; precision 1, then 1 / 1.5 for 11 cells.
    assert out["aup"] == pytest.approx((1 + 11 * 2 / 3) / 12)
    assert out["aur"] == 1.0
    wrong_lag = np.full((3, 4), 0.2)
    wrong_lag[0, 2] = 0.0
    wrong = score_method(np.array([0.0, 1.0, 0.5]), wrong_lag, truth)
    assert wrong["feature_auc"] == 0.0
    assert wrong["lag_auc"] == 0.0
    assert wrong["aup"] == 0.0 and wrong["aur"] == 0.0


def test_score_method_without_lag_scores() -> None:
    out = score_method(np.array([2.0, 1.0, 0.0]), None, {(0, 0), (1, 0)})
    assert out == {"feature_auc": 1.0, "lag_auc": None, "aup": None, "aur": None, "aupr": None}
    with pytest.raises(ValueError, match="lag_scores"):
        score_method(np.array([2.0, 1.0]), np.ones((3, 2)), {(0, 0)})


def test_chance_spread_of_the_auc_matches_random_scores_over_seeds():
    from rnnviz.attr.methods import random_baseline
    from rnnviz.data.truth import chance_auc_sd, score_method

    assert chance_auc_sd(1, 29) == pytest.approx(np.sqrt(31 / (12 * 29)))  # ≈ 0.30
    assert chance_auc_sd(0, 5) is None
    truth = {(0, 2)}  # one true (feature, lag) cell, as x1[t-2] > 0.5
    aucs = []
    for seed in range(400):
        ctx = SimpleNamespace(seed=seed, n_features=3, seq_len=10, names=("x1", "x2", "x3"))
        attr = random_baseline(ctx)
        aucs.append(score_method(attr.importances_mean, attr.past_lags(), truth)["lag_auc"])
    # 400 draws: the sd estimate is within about 3.5% (1 sd) of the true one; allow 15%
    assert np.std(aucs) == pytest.approx(chance_auc_sd(1, 29), rel=0.15)
    assert np.mean(aucs) == pytest.approx(0.5, abs=0.05)
