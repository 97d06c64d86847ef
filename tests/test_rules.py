"""Tests for rnnviz.rules: labels, masks, ground truth, and hostile input."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnviz.rules import (
    MAX_DEPTH,
    MAX_LAG,
    MAX_RULE_LENGTH,
    RULE_PRESETS,
    Rule,
    RuleError,
    get_rule,
    parse_rule,
)


def seq(*features: list[float]) -> np.ndarray:
    """One sequence (1, T, F) from per-feature value lists."""
    return np.array(features, dtype=np.float64).T[None, :, :]


def labels(expression: str, x: np.ndarray) -> tuple[list[float], list[bool]]:
    y, valid = get_rule(expression).labels(x)
    assert y.dtype == np.float32 and valid.dtype == np.bool_
    assert y.shape == valid.shape == x.shape[:2]
    return y[0].tolist(), valid[0].tolist()


X1 = [0.2, 0.9, 0.5, 0.6]
X2 = [0.5, 0.5, 0.4, 0.5]
X3 = [0.1, 0.9, 0.6, 0.2]


# --------------------------------------------------------------------------- presets


def test_presets_required_and_ordered() -> None:
    expected = {
        "reference": "x1 * x2 < 0.25",
        "threshold": "x1 > 0.5",
        "compare": "x1 > x2",
        "lagged": "x1[t-2] > 0.5",
        "windowed": "mean(x2, 3) > 0.5",
    }
    assert list(RULE_PRESETS)[:5] == list(expected)
    for name, expression in expected.items():
        assert RULE_PRESETS[name].expression == expression
    assert "lagged_product" in RULE_PRESETS
    for name, preset in RULE_PRESETS.items():
        rule = get_rule(name)
        assert rule.name == name == preset.name
        assert rule.description == preset.description and preset.description
        assert "\n" not in preset.description
        assert rule.expression == preset.expression  # presets are already normalised


@pytest.mark.parametrize(
    ("name", "y_want", "valid_want"),
    [
        # products 0.10, 0.45, 0.20, 0.30
        ("reference", [1, 0, 1, 0], [True] * 4),
        # 0.5 > 0.5 is false
        ("threshold", [0, 1, 0, 1], [True] * 4),
        ("compare", [0, 1, 1, 1], [True] * 4),
        # y2 reads x1[0] = 0.2, y3 reads x1[1] = 0.9
        ("lagged", [0, 0, 0, 1], [False, False, True, True]),
        # x1[t-1] * x3: 0.2*0.9 = 0.18, 0.9*0.6 = 0.54, 0.5*0.2 = 0.10
        ("lagged_product", [0, 0, 1, 0], [False, True, True, True]),
    ],
)
def test_preset_labels_by_hand(name: str, y_want: list[int], valid_want: list[bool]) -> None:
    y, valid = labels(name, seq(X1, X2, X3))
    assert y == y_want
    assert valid == valid_want


def test_windowed_preset_by_hand() -> None:
    # mean of x2 over 3 steps: t=2 -> (0.9+0.6+0.3)/3 = 0.6, t=3 -> (0.6+0.3+0)/3 = 0.3
    y, valid = labels("windowed", seq(X1, [0.9, 0.6, 0.3, 0.0]))
    assert valid == [False, False, True, True]
    assert y == [0, 0, 1, 0]


def test_reference_class_balance() -> None:
    # P(U1 * U2 < 0.25) = 0.25 * (1 - ln 0.25) ~= 0.5966 for independent uniforms.
    x = np.random.default_rng(0).random((2000, 10, 3))
    y, valid = get_rule("reference").labels(x)
    assert valid.all()
    assert abs(y.mean() - 0.25 * (1 - np.log(0.25))) < 0.02


def test_presets_have_usable_class_balance() -> None:
    x = np.random.default_rng(1).random((500, 20, 3))
    for name in RULE_PRESETS:
        y, valid = get_rule(name).labels(x)
        assert 0.3 < y[valid].mean() < 0.7, name


# --------------------------------------------------------------------------- lags, windows


def test_lag_mask_and_values() -> None:
    y, valid = labels("x1[t-2] > 0.5", seq([0.9, 0.1, 0.2, 0.8, 0.3]))
    assert valid == [False, False, True, True, True]
    assert y == [0, 0, 1, 0, 0]
    assert get_rule("x1[t-2] > 0.5").max_lag == 2


def test_explicit_zero_lag_equals_current_step() -> None:
    for text in ("x1[t] > 0.5", "x1[ t - 0 ] > 0.5", "x1[t-0] > 0.5"):
        rule = parse_rule(text)
        assert rule.expression == "x1 > 0.5"
        assert rule.ground_truth == {(0, 0)} and rule.max_lag == 0


def test_mean_window() -> None:
    rule = parse_rule("mean(x2, 3) > 0.5")
    assert rule.max_lag == 2
    x = seq([0, 0, 0, 0, 0], [0.9, 0.6, 0.3, 0.0, 0.9])
    y, valid = rule.labels(x)
    assert valid[0].tolist() == [False, False, True, True, True]
    # t=2: 0.6, t=3: 0.3, t=4: 0.4
    assert y[0].tolist() == [0, 0, 1, 0, 0]


def test_wmax_and_wmin_windows() -> None:
    x = seq([0.8, 0.1, 0.2, 0.9, 0.3])
    assert labels("wmax(x1, 2) > 0.7", x) == ([0, 1, 0, 1, 1], [False] + [True] * 4)
    assert labels("wmin(x1, 2) < 0.15", x) == ([0, 1, 1, 0, 0], [False] + [True] * 4)


def test_nested_lag_inside_window() -> None:
    rule = parse_rule("mean(x2[t-1], 3) > 0.5")
    assert rule.max_lag == 3
    assert rule.ground_truth == {(1, 1), (1, 2), (1, 3)}
    x = seq([0] * 6, [0.9, 0.9, 0.9, 0.0, 0.0, 0.6])
    y, valid = rule.labels(x)
    assert valid[0].tolist() == [False, False, False, True, True, True]
    # t=3: x2[0..2] -> 0.9; t=4: x2[1..3] -> 0.6; t=5: x2[2..4] -> 0.3
    assert y[0].tolist() == [0, 0, 0, 1, 1, 0]


def test_window_of_window() -> None:
    rule = parse_rule("mean(mean(x1, 2), 2) > 0.5")
    assert rule.max_lag == 2
    assert rule.ground_truth == {(0, 0), (0, 1), (0, 2)}
    # inner means: t1 0.5, t2 0.25, t3 0.75 ; outer at t2 = 0.375, t3 = 0.5
    x = seq([1.0, 0.0, 0.5, 1.0])
    y, valid = rule.labels(x)
    assert valid[0].tolist() == [False, False, True, True]
    assert y[0].tolist() == [0, 0, 0, 0]
    y, _ = parse_rule("mean(mean(x1, 2), 2) > 0.45").labels(x)
    assert y[0].tolist() == [0, 0, 0, 1]


def test_constant_inside_window_is_exact_at_every_step() -> None:
    rule = parse_rule("mean(0.5, 3) + x1 > 0.9")
    assert rule.max_lag == 0 and rule.ground_truth == {(0, 0)}
    assert rule.labels(seq([0.5, 0.3, 0.45]))[0][0].tolist() == [1, 0, 1]


def test_composite_rule_matches_direct_numpy() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((50, 12, 3))
    rule = parse_rule("mean(x2[t-1], 3) > 0.5 and x1 < 0.8 or not abs(x3 - 0.5) < max(0.4, x1)")
    y, valid = rule.labels(x)
    expected = np.zeros((50, 12))
    for t in range(3, 12):
        m = x[:, t - 3 : t, 1].mean(axis=1)
        cond = ((m > 0.5) & (x[:, t, 0] < 0.8)) | ~(
            np.abs(x[:, t, 2] - 0.5) < np.maximum(0.4, x[:, t, 0])
        )
        expected[:, t] = cond
    assert valid[:, :3].sum() == 0 and valid[:, 3:].all()
    np.testing.assert_array_equal(y, expected)


def test_min_max_abs_elementwise() -> None:
    x = seq([0.1, 0.7], [0.6, 0.2])
    assert labels("min(x1, x2) < 0.15", x)[0] == [1, 0]
    assert labels("max(x1, x2) > 0.65", x)[0] == [0, 1]
    assert labels("abs(x1 - x2) > 0.45", x)[0] == [1, 1]
    assert labels("-x1 < -0.5", x)[0] == [0, 1]


def test_operator_precedence() -> None:
    x = seq([0.5], [0.2], [0.3])
    assert labels("x1 - x2 - x3 < 0.01", x)[0] == [1]  # (0.5-0.2)-0.3 = 0
    assert labels("x1 - (x2 - x3) > 0.55", x)[0] == [1]  # 0.6
    assert labels("x1 + x2 * 2 < 1", x)[0] == [1]  # 0.9, not 1.4
    assert labels("x1 / x2 / 5 < 0.6", x)[0] == [1]  # 0.5
    # not > and > or; comparisons bind tighter than not
    assert labels("x1 > 0.9 and x2 > 0.9 or x3 > 0.1", x)[0] == [1]
    assert labels("x1 > 0.9 and (x2 > 0.9 or x3 > 0.1)", x)[0] == [0]
    assert labels("not x1 > 0.9 and x2 > 0.9", x)[0] == [0]
    assert labels("not not x1 > 0.4", x)[0] == [1]


def test_number_formats() -> None:
    x = seq([0.004])
    assert labels("x1 > 1e-3", x)[0] == [1]
    assert labels("x1 < .5", x)[0] == [1]
    assert labels("x1 < 3", x)[0] == [1]
    assert labels("x1 < 5E-3", x)[0] == [1]


def test_masked_steps_are_zero_even_if_condition_true() -> None:
    x = seq([1.0, 1.0, 1.0])
    y, valid = parse_rule("x1[t-1] > 0.5 or x1 > 0.5").labels(x)
    assert valid[0].tolist() == [False, True, True]
    assert y[0].tolist() == [0, 1, 1]


def test_lag_longer_than_sequence_masks_everything() -> None:
    y, valid = parse_rule("x1[t-5] > 0.5").labels(np.ones((2, 3, 1)))
    assert not valid.any() and not y.any()


def test_labels_rejects_bad_shapes() -> None:
    rule = parse_rule("x3 > 0.5")
    with pytest.raises(ValueError, match="shape"):
        rule.labels(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x3"):
        rule.labels(np.zeros((1, 4, 2)))
    y, valid = rule.labels(np.zeros((0, 5, 3)))
    assert y.shape == valid.shape == (0, 5)
    y, valid = rule.labels(np.zeros((2, 0, 3)))
    assert y.shape == valid.shape == (2, 0)


def test_labels_accepts_float32_without_mutating() -> None:
    x = np.random.default_rng(3).random((3, 6, 2)).astype(np.float32)
    before = x.copy()
    y, _ = parse_rule("wmin(x1, 3) + mean(x2, 2) > 0.5").labels(x)
    np.testing.assert_array_equal(x, before)
    assert set(np.unique(y)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "text",
    ["x1 / 0 > 1", "0 / 0 < x1", "x1 / (x2 - x2) > 1", "x1 * 1e300 * 1e300 > 1", "-x1 / 0 < 0"],
)
def test_division_by_zero_and_overflow_do_not_warn(text: str) -> None:
    x = seq([0.0, 0.5, 1.0], [0.3, 0.3, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, valid = parse_rule(text).labels(x)
    assert valid.all()
    assert set(y[0].tolist()) <= {0.0, 1.0}


def test_division_by_zero_values() -> None:
    # 0/0 = nan compares False; 0.5/0 = inf > 1
    assert labels("x1 / 0 > 1", seq([0.0, 0.5]))[0] == [0, 1]


def test_nan_input_compares_false() -> None:
    assert labels("x1 > 0.5", seq([np.nan, 0.9]))[0] == [0, 1]


# --------------------------------------------------------------------------- ground truth


@pytest.mark.parametrize(
    ("spec", "truth", "max_lag"),
    [
        ("reference", {(0, 0), (1, 0)}, 0),
        ("threshold", {(0, 0)}, 0),
        ("compare", {(0, 0), (1, 0)}, 0),
        ("lagged", {(0, 2)}, 2),
        ("windowed", {(1, 0), (1, 1), (1, 2)}, 2),
        ("lagged_product", {(0, 1), (2, 0)}, 1),
        ("x1[t-2] * x3 > 0.3", {(0, 2), (2, 0)}, 2),
        ("mean(x2, 3) > 0.5 and x1 < 0.8", {(1, 0), (1, 1), (1, 2), (0, 0)}, 2),
        ("mean(x2[t-1], 3) > 0.5 and x1 < 0.8", {(1, 1), (1, 2), (1, 3), (0, 0)}, 3),
        ("x1 > x1[t-3]", {(0, 0), (0, 3)}, 3),
        ("wmax(x4[t-1] - x2, 2) > 0", {(3, 1), (3, 2), (1, 0), (1, 1)}, 2),
        ("x1 > 0.5 or 1 > 2", {(0, 0)}, 0),
    ],
)
def test_ground_truth(spec: str, truth: set[tuple[int, int]], max_lag: int) -> None:
    rule = get_rule(spec)
    assert rule.ground_truth == truth
    assert isinstance(rule.ground_truth, frozenset)
    assert rule.features == {f for f, _ in truth}
    assert rule.max_lag == max_lag
    assert rule.n_features_used == max(f for f, _ in truth) + 1


def test_describe_truth() -> None:
    assert parse_rule("x1[t-2] > 0.5 and mean(x2, 3) > 0.5").describe_truth() == (
        "x1 at lag 2; x2 at lags 0–2"
    )
    assert parse_rule("x1 > x1[t-3] + mean(x1[t-5], 2)").describe_truth() == (
        "x1 at lags 0, 3, 5–6"
    )
    assert get_rule("reference").describe_truth() == "x1 at lag 0; x2 at lag 0"


def test_custom_rule_metadata_and_normalisation() -> None:
    rule = get_rule("  x1[ t - 2 ]*x3>0.3 ")
    assert rule.name == "custom"
    assert rule.expression == "x1[t-2] * x3 > 0.3"
    assert "x1[t-2] * x3 > 0.3" in rule.description
    assert rule.n_features_used == 3
    assert parse_rule("(x1 > 0.5)").expression == "x1 > 0.5"
    assert parse_rule("x1 - (x2 - x3) > 0").expression == "x1 - (x2 - x3) > 0"
    assert parse_rule("not (x1 > 0.5 and x2 > 0.5)").expression == "not (x1 > 0.5 and x2 > 0.5)"


@pytest.mark.parametrize(
    "text",
    [
        "x1 - (x2 - x3) > -(x1 * -x2)",
        "(x1 + x2) * x3 / (x1 - 1) <= --x2",
        "not (x1 > 0.5 or x2 > 0.5) and (x3 != 0 or not x1 == x2)",
        "x1 > 0.5 and (x2 > 0.5 and x3 > 0.5)",
        "(x1 > 0.5 or x2 > 0.5) and x3 > 0.5",
        "not (x1 > 0.5 or x2 > 0.5) and x3 > 0.5",
        "wmin(abs(x1[t-3] - .5), 4) >= min(max(x2, x3), 1e-3)",
    ],
)
def test_normalised_expression_round_trips(text: str) -> None:
    rule = parse_rule(text)
    again = parse_rule(rule.expression)
    assert again.expression == rule.expression
    assert again.tree == rule.tree
    x = np.random.default_rng(4).random((20, 8, 3))
    np.testing.assert_array_equal(rule.labels(x)[0], again.labels(x)[0])


def test_rule_is_frozen() -> None:
    rule = get_rule("threshold")
    assert isinstance(rule, Rule)
    with pytest.raises(AttributeError):
        rule.max_lag = 3  # type: ignore[misc]


def test_limits_accepted_at_the_boundary() -> None:
    depth_ok = "(" * MAX_DEPTH + "x1" + ")" * MAX_DEPTH + " > 0"
    assert parse_rule(depth_ok).ground_truth == {(0, 0)}
    assert parse_rule(f"x1[t-{MAX_LAG}] > 0", seq_len=MAX_LAG + 1).max_lag == MAX_LAG
    assert parse_rule("mean(x1, 50) > 0").max_lag == 49
    text = "x1 > 0.5" + " " * (MAX_RULE_LENGTH - 8)
    assert len(text) == MAX_RULE_LENGTH
    assert parse_rule(text).expression == "x1 > 0.5"
    assert parse_rule("x3 > 0.5", n_features=3).n_features_used == 3
    assert parse_rule("x1[t-9] > 0", seq_len=10).max_lag == 9


# --------------------------------------------------------------------------- hostile input

HOSTILE = [
    # (text, kwargs, substring of message, position or None to skip the check)
    ("__import__('os').system('x')", {}, "__import__", 0),
    ("x1.real > 0", {}, "'.'", 2),
    ("lambda: 1", {}, "lambda", 0),
    ("x1 ** 999999 > 1", {}, "not supported", 3),
    ("2 ^ 3 > 1", {}, "not supported", 2),
    ("(" * 1000 + "x1 > 0" + ")" * 1000, {}, "too long", None),
    ("(" * (MAX_DEPTH + 1) + "x1" + ")" * (MAX_DEPTH + 1) + " > 0", {}, "nested", MAX_DEPTH),
    ("(" * 99 + "x1" + ")" * 99, {}, "nested", MAX_DEPTH),
    ("abs(" * 39 + "x1" + ")" * 39, {}, "nested", 4 * MAX_DEPTH),
    ("x1 > 0.5 and " * 800 + "x1 > 0.5", {}, "too long", None),
    ("1e999 > x1", {}, "too large", 0),
    ("x1[t+1] > 0", {}, "future", 4),
    ("x4 > 0.5", {"n_features": 3}, "x4 does not exist: there are 3 features", 0),
    ("x1 > x2", {"n_features": 1}, "there is 1 feature", 5),
    ("x1[t-12] > 0.5", {"seq_len": 10}, "reaches 12 steps back but sequences have 10", 0),
    ("x1 > mean(x2[t-1], 10)", {"seq_len": 10}, "reaches 10 steps back", 5),
    ("x1[t-51] > 0", {}, "at most 50", 5),
    ("", {}, "empty", None),
    ("   \n\t", {}, "empty", None),
    ("x1 + x2", {}, "a rule must be a condition such as `x1 > 0.5`", None),
    ("x1", {}, "a rule must be a condition", None),
    ("x1 > 0.5 and 3", {}, "'and' needs a condition", 13),
    ("3 or x1 > 0.5", {}, "'or' needs a condition", 0),
    ("not x1", {}, "'not' needs a condition", 4),
    ("(x1 > 0.5) + 1", {}, "needs a number", 1),
    ("(x1 > 0.5) == (x2 > 0.5)", {}, "needs a number", 1),
    ("abs(x1 > 0.5) > 0", {}, "needs a number", 4),
    ("sin(x1) > 0", {}, "unknown function 'sin'", 0),
    ("os.system('x') > 1", {}, "unknown name 'os'", 0),
    ("X1 > 0", {}, "unknown name 'X1'", 0),
    ("x1_ > 0", {}, "unknown name 'x1_'", 0),
    ("mean(x1, 0) > 1", {}, "window length", 9),
    ("mean(x1, 100) > 1", {}, "window length", 9),
    ("mean(x1, 2.5) > 1", {}, "whole number", 9),
    ("mean(x1, x2) > 1", {}, "whole number", 9),
    ("mean(x1, -3) > 1", {}, "whole number", 9),
    ("mean(x1) > 1", {}, "exactly 2 arguments", 0),
    ("mean(x1 > 0.5, 3) > 0", {}, "needs a number", 5),
    ("x0 > 1", {}, "numbered from 1", 0),
    ("x01 > 1", {}, "leading zeros", 0),
    ("x1 > 0.5;", {}, "';'", 8),
    ("x1 > 0.5 @ 2", {}, "'@'", 9),
    ("{x1} > 0", {}, "'{'", 0),
    ("x1 > 'a'", {}, '"\'"', 5),
    ("x1[t-1:] > 0", {}, "':'", 6),
    ("x1 > 0.5 \x00", {}, "\\x00", 9),
    ("x1 > ٣", {}, "unexpected character", 5),
    ("x1 > 0.5)", {}, "unmatched ')'", 8),
    ("(x1 > 0.5", {}, "never closed", 0),
    ("((x1 > 0.5)", {}, "never closed", 0),
    ("mean(x1, 3 x2) > 0", {}, "expected ',' or ')'", 11),
    ("mean(x1, 3", {}, "'mean(' is never closed", 0),
    ("min(x1) > 0", {}, "exactly 2 arguments", 0),
    ("max(x1, x2, x3) > 0", {}, "exactly 2 arguments", 0),
    ("abs() > 0", {}, "exactly 1 argument", 0),
    ("0 < x1 < 1", {}, "chained", 7),
    ("x1 > ", {}, "ends too early", 5),
    ("x1 > 0.5 x2", {}, "unexpected 'x2'", 9),
    ("2x1 > 0", {}, "malformed number", 0),
    ("0x10 > x1", {}, "malformed number", 0),
    ("1.5.2 > x1", {}, "malformed number", 0),
    ("x1 > 123456789012345678901", {}, "too long", 5),
    ("x1 = 0.5", {}, "'=='", 3),
    ("x1 > 0.5 && x2 > 0", {}, "'and'", 9),
    ("x1 > 0.5 | x2 > 0", {}, "'or'", 9),
    ("!(x1 > 0.5)", {}, "'not'", 0),
    ("x1 % 2 > 0", {}, "not supported", 3),
    ("t > 1", {}, "inside brackets", 0),
    ("x1[2] > 0", {}, "'t'", 3),
    ("x1[t-x2] > 0", {}, "whole number", 5),
    ("x1[t-1.5] > 0", {}, "whole number", 5),
    ("x1[t-1 > 0", {}, "']'", 7),
    ("mean > 0", {}, "is a function", 0),
    ("x1 > and", {}, "unexpected 'and'", 5),
    ("1 > 0", {}, "does not read any feature", None),
    ("mean(0.5, 3) > 0", {}, "does not read any feature", None),
]


@pytest.mark.parametrize(("text", "kwargs", "needle", "position"), HOSTILE)
def test_hostile_input_raises_rule_error(
    text: str, kwargs: dict[str, int], needle: str, position: int | None
) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(text, **kwargs)
    err = info.value
    assert needle in err.message
    assert err.text == text
    if position is not None:
        assert err.position == position
    assert needle in str(err)


def test_hostile_input_through_get_rule() -> None:
    with pytest.raises(RuleError, match="__import__"):
        get_rule("__import__('os').system('x')")


def test_non_string_input_is_rule_error() -> None:
    with pytest.raises(RuleError, match="text"):
        parse_rule(None)  # type: ignore[arg-type]


def test_error_message_format_with_caret() -> None:
    with pytest.raises(RuleError) as info:
        parse_rule("os.system('x') > 1", n_features=3)
    assert str(info.value) == (
        "unknown name 'os' (allowed: x1..x3, abs, min, max, mean, wmin, wmax, and, or, not)\n"
        "  os.system('x') > 1\n"
        "  ^"
    )
    with pytest.raises(RuleError) as info:
        parse_rule("x1 >\t0.5;")
    assert str(info.value).splitlines()[1:] == ["  x1 > 0.5;", "          ^"]


def test_error_without_position_has_no_caret() -> None:
    with pytest.raises(RuleError) as info:
        parse_rule("x1 + x2")
    assert info.value.position is None
    assert str(info.value) == "a rule must be a condition such as `x1 > 0.5`"


def test_rule_error_is_value_error_and_pickles() -> None:
    with pytest.raises(ValueError):
        parse_rule("x1 > ")
    try:
        parse_rule("x1 > 0.5;")
    except RuleError as err:
        copy = pickle.loads(pickle.dumps(err))
        assert (copy.message, copy.position, copy.text) == (err.message, 8, "x1 > 0.5;")


def test_long_input_rejected_instantly() -> None:
    text = "(" * 10_000_000
    with pytest.raises(RuleError, match="too long"):
        parse_rule(text)


def test_preset_limits_checked_by_get_rule() -> None:
    with pytest.raises(RuleError, match="x3 does not exist"):
        get_rule("lagged_product", n_features=2)
    with pytest.raises(RuleError, match="reaches 2 steps back"):
        get_rule("lagged", seq_len=2)
    assert get_rule("lagged", seq_len=3).name == "lagged"


def test_worst_case_windows_evaluate() -> None:
    text = "mean(" * 8 + "x1" + ", 50)" * 8 + " > 0.5"
    assert len(text) <= MAX_RULE_LENGTH
    rule = parse_rule(text)
    assert rule.max_lag == 8 * 49
    y, valid = rule.labels(np.random.default_rng(5).random((50, 400, 1)))
    assert y.shape == valid.shape == (50, 400)
    assert not valid[:, : 8 * 49].any() and valid[:, 8 * 49 :].all()


_PIECES = [
    "x1", "x2", "x3", "x9", "t", "0.5", "3", "1e400", ".", "(", ")", "[", "]", ",", "+",
    "-", "*", "/", "**", "<", "<=", ">", "==", "!=", "and", "or", "not", "abs", "min",
    "max", "mean", "wmin", "wmax", " ", "x1[t-2]", "[t-", "0", "50", "__", "'",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
        st.text(max_size=60),
    )
)
def test_fuzz_only_rule_errors(text: str) -> None:
    try:
        rule = parse_rule(text, n_features=3, seq_len=30)
    except RuleError as err:
        str(err)
        return
    assert rule.max_lag < 30 and rule.n_features_used <= 3
    assert parse_rule(rule.expression).tree == rule.tree
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, valid = rule.labels(np.random.default_rng(6).random((2, 30, 3)))
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert not y[~valid].any()
