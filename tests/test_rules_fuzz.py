"""Property-based fuzzing of the rule parser: random valid trees and random hostile text.

The only outcomes allowed are a valid rule or a RuleError: never another exception, never a
hang (inputs are bounded), never code run.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnviz.rules import MAX_RULE_LENGTH, RuleError, parse_rule

F, T = 4, 12


@st.composite
def refs(draw):
    f = draw(st.integers(1, F))
    lag = draw(st.integers(0, 3))
    text = f"x{f}" if lag == 0 and draw(st.booleans()) else f"x{f}[t-{lag}]"
    return text, {(f - 1, lag)}


def numeric(depth: int):
    leaf = st.one_of(
        refs(),
        st.floats(0, 10, allow_nan=False).map(lambda v: (f"{v:.3g}", set())),
    )
    if depth == 0:
        return leaf

    sub = numeric(depth - 1)

    @st.composite
    def node(draw):
        kind = draw(st.sampled_from(["leaf", "bin", "neg", "abs", "minmax", "window"]))
        if kind == "leaf":
            return draw(leaf)
        a, ta = draw(sub)
        if kind == "neg":
            return f"-({a})", ta
        if kind == "abs":
            return f"abs({a})", ta
        if kind == "window":
            k = draw(st.integers(1, 3))
            fn = draw(st.sampled_from(["mean", "wmin", "wmax"]))
            shifted = {(f, lag + j) for f, lag in ta for j in range(k)}
            return f"{fn}({a}, {k})", shifted
        b, tb = draw(sub)
        if kind == "minmax":
            return f"{draw(st.sampled_from(['min', 'max']))}({a}, {b})", ta | tb
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        return f"({a}) {op} ({b})", ta | tb

    return node()


@st.composite
def conditions(draw):
    a, ta = draw(numeric(2))
    b, tb = draw(numeric(1))
    op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    text, truth = f"{a} {op} {b}", ta | tb
    if draw(st.booleans()):
        c, tc = draw(numeric(1))
        text, truth = f"{text} {draw(st.sampled_from(['and', 'or']))} not {c} > 0.5", truth | tc
    return text, truth


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions())
def test_random_valid_trees_parse_with_the_truth_they_were_built_from(case):
    text, truth = case
    try:
        rule = parse_rule(text, n_features=F, seq_len=T)
    except RuleError as err:
        # The only documented refusals for a well-formed tree: size, and reading no feature.
        assert len(text) > MAX_RULE_LENGTH or "does not read any feature" in err.message, err
        return
    assert rule.ground_truth == frozenset(truth)
    x = np.random.default_rng(0).random((3, T, F))
    y, valid = rule.labels(x)
    assert y.shape == valid.shape == (3, T)
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert parse_rule(rule.expression, n_features=F, seq_len=T).ground_truth == rule.ground_truth


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_random_text_is_a_rule_or_a_rule_error(text):
    try:
        parse_rule(text, n_features=F, seq_len=T)
    except RuleError as err:
        assert err.message and (err.position is None or 0 <= err.position <= len(text))
