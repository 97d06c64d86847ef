"""AppTest of the Compare methods page on a tiny configuration (trains in a few seconds)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.comparison import Comparison
from rnnviz.data.truth import chance_auc_sd, score_method
from rnnviz.report import readings
from rnnviz.serve.jobs import stepwise_index
from rnnviz.ui import cache, tables, text

from apptools import APP, PAGES, TIMEOUT, TINY, assert_clean, charts, private_cache

NAMES = ("x1", "x2", "x3")
TRUTH = {(0, 0), (1, 0)}  # the reference rule: x1 and x2 at lag 0


def comparison(**feature_scores) -> Comparison:
    """A Comparison of hand-made per-feature scores, scored by the core against TRUTH."""
    attrs, scores = {}, {}
    for name, values in feature_scores.items():
        by_lag = values.pop("by_lag", None) if isinstance(values, dict) else None
        values = values["scores"] if isinstance(values, dict) else values
        lag_scores = None if by_lag is None else np.asarray(by_lag, float)
        attrs[name] = Attribution(
            name, NAMES, np.asarray(values, float)[:, None], lag_scores=lag_scores
        )
        scores[name] = score_method(attrs[name].importances_mean, lag_scores, TRUTH)
    rho = np.eye(len(attrs))
    return Comparison(tuple(attrs), attrs, scores, rho, dict.fromkeys(attrs, 0.5))


# --------------------------------------------------------------------------- readings (pure)


def test_reading_names_the_inversion_and_the_recurrence():
    c = comparison(garson=[0.5, 0.1, 0.4], random=[0.1, 0.2, 0.3])
    line = readings.reading(c, "garson", {0, 1})
    assert line.startswith("Ranks x3 above x2;")
    assert "it cannot see the recurrence" in line
    assert readings.chance_note(c, {0, 1}) is None  # random ranks x3 first: no luck to report


def test_reading_of_a_perfect_method_and_a_weak_margin():
    c = comparison(saliency=[0.9, 1.0, 0.01], connection_weights=[1.0, 0.8, 0.4], random=[0, 1, 2])
    assert readings.reading(c, "saliency", {0, 1}) == (
        "Ranks the rule's features (x1 and x2) above every other one."
    )
    weights = readings.reading(c, "connection_weights", {0, 1})
    assert "above every other one, but x3 still scores 50% of x2" in weights
    assert "recurrence" in weights
    assert "ranks x3 above x1 (2 of 2 pairs out of order)" in readings.reading(c, "random", {0, 1})


def test_reading_compares_with_the_random_row_and_lags():
    by_lag = np.zeros((3, 5))
    by_lag[0, 0] = by_lag[1, 0] = 1.0
    c = comparison(
        ablation={"scores": [0.5, 0.2, 0.3], "by_lag": by_lag},
        lek=[0.2, 0.2, 0.2],
        random=[0.3, 0.2, 0.1],
    )
    line = readings.reading(c, "ablation", {0, 1})
    assert line.startswith("Ranks x3 above x2; no better than the random row;")
    assert "finds the rule's lags too (lag AUC 1.00)" in line
    assert readings.reading(c, "lek", {0, 1}) == (
        "Gives every feature the same score: no ranking at all; no better than the random row."
    )
    assert readings.chance_note(c, {0, 1})  # random ranks x1 and x2 first, by luck


def test_chance_note_when_random_is_lucky():
    c = comparison(perturbation=[0.9, 1.0, 0.0], random=[0.8, 0.9, 0.1])
    note = readings.chance_note(c, {0, 1})
    assert note and "1 time in 3" in note
    assert "by luck" in readings.reading(c, "random", {0, 1})


def test_verdict_names_who_finds_the_rule_and_who_does_not():
    c = comparison(
        perturbation=[0.9, 1.0, 0.0],
        saliency=[0.5, 0.4, 0.1],
        connection_weights=[0.1, 0.5, 0.9],
        random=[0.3, 0.2, 0.1],
    )
    assert readings.verdict(c, {0, 1}) == (
        "Input perturbation (noise) and Partial derivatives (saliency) rank the rule's "
        "features (x1 and x2) above every other feature (feature AUC 1.00); Connection "
        "weights (Olden) ranks x3 above x1 (2 of 2 pairs out of order), feature AUC 0.00. "
        "Random scores get 1.00."
    )
    agree = comparison(perturbation=[0.9, 1.0, 0.0], random=[0.1, 0.2, 0.3])
    assert readings.verdict(agree, {0, 1}) == (
        "Input perturbation (noise) ranks the rule's features (x1 and x2) above every other "
        "feature (feature AUC 1.00): on this model they agree. Random scores get 0.00."
    )


def test_lead_why_says_why_from_the_two_rules():
    from rnnviz.config import Config
    from rnnviz.experiment import DISAGREEMENT_EXAMPLE

    line = readings.lead_why(Config(), DISAGREEMENT_EXAMPLE)
    assert "rule reads x1 and x2 at the current step" in line
    assert (
        "with 3 features of which 2 are used, even random scores rank them first 1 time in 3"
        in (line)
    )
    assert "`x1[t-2] > 0.5`, reads x1 2 steps back" in line
    assert f"(seed {DISAGREEMENT_EXAMPLE.seed})" in line
    # every metric column of the table has its one plain line
    assert set(text.METRIC_READINGS) == set(readings.COLUMNS) - {"method", "caveat"}


def test_table_and_csv_have_every_method_and_dashes():
    c = comparison(garson=[0.5, 0.1, 0.4], random=[0.1, 0.2, 0.3])
    table = readings.truth_table(c, {0, 1})
    assert table["method"] == ["Garson's algorithm", "Random scores (chance)"]
    assert table["feature AUC"] == ["0.50", "0.00"]
    assert table["lag AUC"] == ["—", "—"]
    assert table["seconds"] == ["0.50 s", "0.50 s"]
    rows = list(csv.DictReader(io.StringIO(tables.comparison_csv(c, {0, 1}))))
    assert [r["method"] for r in rows] == ["garson", "random"]
    assert rows[0]["feature_auc"] == "0.5" and rows[0]["aupr"] == ""
    assert "recurrence" in rows[0]["reading"]
    scores = list(csv.DictReader(io.StringIO(tables.method_scores_csv(c, {0, 1}))))
    assert len(scores) == 6 and scores[0]["normalised"] == "1.0"


def _sweep(curves, stds):
    return Attribution(
        "sigma_sweep",
        NAMES,
        np.ones((3, 2)),
        extra={
            "sigmas": np.array([0.1, 0.2, 0.4]),
            "curves": np.asarray(curves, float),
            "curves_std": np.asarray(stds, float),
        },
    )


def test_sweep_reading_tells_noise_from_a_real_swap():
    noisy = _sweep([[0.20, 0.31, 0.40], [0.21, 0.30, 0.41], [0, 0, 0]], np.full((3, 3), 0.02))
    line = readings.sweep_reading(noisy, {0, 1})
    assert line.startswith("The rule's features (x1 and x2) lead at every σ from 0.1 to 0.4.")
    assert "σ = 0.1: x2 > x1 > x3; σ = 0.2: x1 > x2 > x3" in line
    assert "No swap (x1/x2) is clear" in line
    real = _sweep([[0.1, 0.3, 0.5], [0.3, 0.3, 0.1], [0.2, 0.0, 0.4]], np.full((3, 3), 0.01))
    line = readings.sweep_reading(real, {0, 1})
    assert "x3 over x2" in line and "σ = 0.4" in line
    assert "x1/x2, x1/x3 and x2/x3 really swap" in line
    steady = _sweep([[0.3, 0.4, 0.5], [0.2, 0.3, 0.4], [0, 0, 0.1]], np.zeros((3, 3)))
    assert "The order is the same at every σ: x1 > x2 > x3." in readings.sweep_reading(steady)


def test_random_row_reading_gives_the_spread_of_its_lag_auc():
    from rnnviz.attr.comparison import compare
    from rnnviz.attr.methods import Context

    x = np.random.default_rng(0).random((300, 6, 3), dtype=np.float32)
    ctx = Context(lambda z: z[:, :, 0] + z[:, :, 1], x, seed=7)
    c = compare(ctx, ["perturbation"], truth={(0, 2)})
    text = readings.reading(c, "random", {0})
    assert text.startswith("Chance level")
    assert "with 1 true (feature, lag) cell among 18" in text
    assert f"0.50 ± {np.sqrt(19 / (12 * 17)):.2f} from seed to seed" in text


# --------------------------------------------------------------------------- the page


cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(TINY)
    at.switch_page(f"{PAGES}/compare.py")
    return at.run()


def figures(at: AppTest) -> dict[str, tuple[str, str]]:
    """Each figure's key -> (its wide spec, its narrow spec): every figure of the page is
    drawn in both layouts (``rnnviz.ui.charts.by_width``) and the page shows the one that
    fits."""
    drawn = {c.proto.id.split("-", 2)[2]: c.proto.spec for c in charts(at)}  # $$ID-hash-key
    out = {k: (spec, drawn[f"{k}-narrow"]) for k, spec in drawn.items() if "-narrow" not in k}
    assert len(drawn) == 2 * len(out), sorted(drawn)
    return out


def frame(at: AppTest):
    """The truth table (the deletion and insertion scores' table is the other one)."""
    shown = [t for t in at.table if "feature AUC" in t.value.columns]
    assert len(shown) == 1, len(at.table)
    return shown[0].value


def test_page_opens_on_a_few_methods_against_the_truth(app):
    at = app
    assert_clean(at)
    assert at.title[0].value == "Compare methods"
    assert not [r for r in at.radio if r.key == "cmp_on"]  # not the default experiment
    table = frame(at)
    labels = list(table["method"])
    assert labels == [
        "Input perturbation (noise)",
        "Permutation",
        "Partial derivatives (saliency)",
        "Connection weights (Olden)",
        "Random scores (chance)",
    ]
    assert {"feature AUC", "lag AUC", "AUP", "AUR", "AUPR", "seconds"} <= set(table.columns)
    # the metric columns sit in an expander, each explained in one line
    (numbers,) = [e for e in at.expander if "feature AUC, lag AUC" in e.label]
    assert len(numbers.table) == 1
    readings = "\n".join(m.value for m in numbers.markdown)
    for column in ("feature AUC", "lag AUC", "AUP", "AUR", "AUPR"):
        assert f"- **{column}:** " in readings
    # gradient-free lag grain for perturbation; none for the weight methods
    row = dict(zip(table["method"], table["lag AUC"], strict=True))
    assert row["Input perturbation (noise)"] != "—" and row["Connection weights (Olden)"] == "—"
    # multiples, agreement and the deletion and insertion curves: no Lek, no σ sweep
    assert len(figures(at)) == 3
    # the curves: one row per method with both scores, and their reading from the numbers
    (curves,) = [t.value for t in at.table if "deletion" in t.value.columns]
    assert list(curves["method"]) == labels
    assert all(v[0] in "+-" for v in curves["deletion"])
    markdown = "\n".join(m.value for m in at.markdown)
    assert "Most faithful to this model by deletion: **" in markdown
    assert "**What the methods say here:**" in markdown
    (weights_line,) = [
        line for line in markdown.splitlines() if line.startswith("- **Connection weights")
    ]
    assert "recurrence" in weights_line
    assert any("ignore the recurrence" in i.value for i in at.info)
    # the random row's lag AUC comes with its spread from seed to seed: 2 true cells of 3 × 5
    (random_line,) = [line for line in markdown.splitlines() if line.startswith("- **Random")]
    assert "with 2 true (feature, lag) cells among 15" in random_line
    assert f"0.50 ± {chance_auc_sd(2, 13):.2f} from seed to seed" in random_line
    labels = {b.label for b in at.download_button}
    assert "Comparison table (CSV)" in labels


def test_all_methods_are_one_click_away(app):
    at = app
    at.toggle(key="cmp_more").set_value(True).run()
    assert_clean(at)
    labels = list(frame(at)["method"])
    assert len(labels) == 13  # 11 fast methods, the σ sweep and the random row
    assert "Backward stepwise elimination" not in labels  # opt-in: it retrains
    # multiples, agreement, the deletion and insertion curves, Lek's profiles, the σ sweep,
    # the groups' map and the two improved stepwise selections' losses, each with its note
    assert len(figures(at)) == 8
    markdown = "\n".join(m.value for m in at.markdown)
    for name in ("group", "iss1", "iss2"):
        assert text.FIGURE_NOTES[name].strip() in markdown
    at.toggle(key="cmp_more").set_value(False).run()
    assert_clean(at)
    assert len(frame(at)) == 5


def test_fewer_methods_and_tsr_re_render(app):
    at = app
    at.multiselect(key="cmp_methods").set_value(["perturbation", "garson"]).run()
    assert_clean(at)
    assert list(frame(at)["method"]) == [
        "Input perturbation (noise)",
        "Garson's algorithm",
        "Random scores (chance)",
    ]
    assert len(figures(at)) == 3  # multiples, agreement and the curves: no Lek, no σ sweep
    at.checkbox(key="cmp_tsr").check().run()
    assert_clean(at)
    assert "TSR on Input perturbation (noise)" in list(frame(at)["method"])
    # a knob from the core's Param bounds: perturbation's σ defaults to the config's
    assert at.select_slider(key="cmp_perturbation_sigma").value == 0.2
    at.select_slider(key="cmp_perturbation_sigma").set_value(0.5).run()
    assert_clean(at)
    assert len(frame(at)) == 4


def test_stepwise_is_opt_in_runs_once_and_joins_the_table(app):
    at = app
    at.checkbox(key="cmp_tsr").uncheck()
    at.multiselect(key="cmp_methods").set_value(["garson", "stepwise"]).run()
    assert_clean(at)
    assert any("retrains the model 3 times" in i.value for i in at.info)
    assert list(frame(at)["method"]) == [
        "Garson's algorithm",
        "Backward stepwise elimination",
        "Random scores (chance)",
    ]
    (job,) = cache._stepwise_jobs().jobs()
    assert job.done.is_set() and job.error is None
    assert (
        stepwise_index(job, 3) == 2 and job.run == 2
    )  # F trainings: the trained model is the full one
    at.multiselect(key="cmp_methods").set_value(["lek", "stepwise"]).run()
    assert_clean(at)
    assert cache._stepwise_jobs().jobs() == [job]  # remembered, not rerun
    assert "Backward stepwise elimination" in list(frame(at)["method"])


def test_weight_methods_read_a_bidirectional_model():
    """A bidirectional LSTM: connection weights and Garson read both directions' kernels and
    get scored like every other method (no error box)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update({**TINY, "cell": "bilstm", "epochs": "1"})
    at.switch_page(f"{PAGES}/compare.py")
    at.run()
    at.toggle(key="cmp_more").set_value(True).run()
    assert_clean(at)
    auc = dict(zip(frame(at)["method"], frame(at)["feature AUC"], strict=True))
    for label in ("Connection weights (Olden)", "Garson's algorithm"):
        assert 0.0 <= float(auc[label]) <= 1.0


def test_default_experiment_leads_with_the_example_where_methods_disagree():
    """The real lagged model the page leads with: the disagreement it announces is in its
    numbers (this trains the example, full size, in a few seconds)."""
    from rnnviz.experiment import DISAGREEMENT_EXAMPLE

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page(f"{PAGES}/compare.py")
    at.run()
    assert_clean(at)
    assert at.radio(key="cmp_on").value == "lead"
    assert any(i.value.startswith("**Why this example?**") for i in at.info)
    markdown = "\n".join(m.value for m in at.markdown)
    assert "`x1[t-2] > 0.5`" in markdown  # the rule shown is the example's
    auc = dict(zip(frame(at)["method"], frame(at)["feature AUC"], strict=True))
    assert auc["Input perturbation (noise)"] == "1.00"
    assert auc["Permutation"] == "1.00" and auc["Partial derivatives (saliency)"] == "1.00"
    assert float(auc["Connection weights (Olden)"]) < 1.0  # the disagreement is real
    (said,) = [m.value for m in at.markdown if m.value.startswith("**What the methods say")]
    assert "Connection weights (Olden) ranks x" in said
    assert f"feature AUC {auc['Connection weights (Olden)']}" in said
    # One click makes the example the session's experiment (every page, and the link).
    (button,) = [b for b in at.button if b.label == "Make it my experiment"]
    button.click().run()
    assert_clean(at)
    assert at.query_params["rule"] == "lagged"
    assert at.query_params["seed"] == str(DISAGREEMENT_EXAMPLE.seed)
    assert not [r for r in at.radio if r.key == "cmp_on"]
