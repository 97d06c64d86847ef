"""The saturation check and the effect_on knob, on functions whose answers are known by hand.

A sure classifier p = sigmoid(50 x1): its log-odds are 50 x1 exactly, so on the log-odds every
effect of x1 is 50 times the change of x1, and the other features' are exactly 0; on the
probability the same effects are flattened to below float32's rounding scale.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.attr import methods
from rnnviz.attr.methods import Context
from rnnviz.attr.saturation import (
    CLIP,
    NEAR,
    PRECISION_FLOOR,
    from_log_odds,
    near_share,
    on_effect_scale,
    saturation_check,
    to_log_odds,
)
from rnnviz.attr.scoring import perturbation_importance
from rnnviz.config import LATER_SCORING_KNOBS, PRESETS, Config, ConfigError, not_applied
from rnnviz.report.readings import REMEDY_CLI, saturation_warning

N, T, F = 40, 4, 3
SLOPE = 50.0


def _sure(x: np.ndarray) -> np.ndarray:
    """p_t = sigmoid(50 x1_t), in float64 (its log-odds are 50 x1_t to ~1e-9)."""
    return 1.0 / (1.0 + np.exp(-SLOPE * x[:, :, 0].astype(np.float64)))


def _unsure(x: np.ndarray) -> np.ndarray:
    """p_t = sigmoid(2 (x1_t - 0.5)): every output between 0.27 and 0.73."""
    return 1.0 / (1.0 + np.exp(-2.0 * (x[:, :, 0].astype(np.float64) - 0.5)))


def _sample(low: float = 0.25, high: float = 0.31) -> np.ndarray:
    """x1 in [low, high) (50 x1 from 12.5 to 15.5: 1 - p from 1.8e-7 to 3.7e-6, never clipped),
    x2 and x3 anywhere in [0, 1)."""
    rng = np.random.default_rng(3)
    x = rng.random((N, T, F), dtype=np.float32)
    x[:, :, 0] = low + (high - low) * rng.random((N, T), dtype=np.float32)
    return x


def test_log_odds_are_the_clipped_probabilities_logit():
    z = np.array([-40.0, -3.0, 0.0, 2.5, 12.0, 40.0])
    back = to_log_odds(from_log_odds(z))
    edge = np.log((1 - CLIP) / CLIP)  # 16.118...
    assert back == pytest.approx(np.clip(z, -edge, edge), abs=1e-6)
    assert to_log_odds([0.0, 1.0]) == pytest.approx([-edge, edge])  # finite, never inf
    x = _sample()
    assert on_effect_scale(_sure, "log-odds")(x) == pytest.approx(SLOPE * x[:, :, 0], abs=1e-6)
    assert on_effect_scale(_sure, "probability") is _sure
    with pytest.raises(ValueError, match="effect_on must be one of probability, log-odds"):
        on_effect_scale(_sure, "logit")


def test_a_sure_sigmoid_is_saturated_and_its_probability_effects_are_rounding():
    x = _sample()
    p = _sure(x)
    assert near_share(p) == (1.0, N * T)  # every 1 - p is below 3.7e-6 < 0.001
    ctx = Context(_sure, x)
    effects = methods.ablation(ctx)
    # by hand: a probability moves by at most p(1 - p) x 50 x 0.06 < 1.2e-5 here
    assert 0 < effects.cell.max() < 1.2e-5 < PRECISION_FLOOR
    check = saturation_check(p, effects=effects)
    assert check.applies and check.share == 1.0 and check.n_outputs == N * T
    assert check.at_precision and check.saturated and check.warn
    sentence = saturation_warning(check, REMEDY_CLI)
    assert sentence.startswith("100% of this model's outputs are within 0.001 of 0 or 1")
    assert "rank noise" in sentence and sentence.endswith("rerun with --effect-on log-odds.")
    # on the log-odds the same model is still sure, but nothing is left to remedy
    logit = saturation_check(p, effects=effects, effect_on="log-odds")
    assert logit.saturated and not logit.warn and saturation_warning(logit) is None


def test_log_odds_effects_are_fifty_times_the_change_of_x1():
    x = _sample()
    ctx = Context(_sure, x, effect_on="log-odds")
    assert ctx.base == pytest.approx(SLOPE * x[:, :, 0], abs=1e-6)
    assert ctx.probabilities == pytest.approx(_sure(x))  # the model's own outputs stay at hand
    # ablation (mean baseline m): output t moves by 50 (m - x1_t) when x1_t is replaced by m
    m = float(ctx.feature_means[0])
    change = SLOPE * (m - x[:, :, 0].astype(np.float64))  # (n, T)
    ablation = methods.ablation(ctx)
    assert ablation.importances[0, 0] == pytest.approx(np.sqrt((change**2).mean()), rel=1e-6)
    # one step s: only output s moves, so the RMS over all n x T outputs is diluted by T
    per_step = np.sqrt((change**2).sum(axis=0) / (N * T))
    assert ablation.cell[0, :, 0] == pytest.approx(per_step, rel=1e-6)
    assert np.all(ablation.cell[1:] == 0) and np.all(ablation.importances[1:] == 0)
    # perturbation: the log-odds move by 50 x the noise, so the scores are 50 x those of x1 itself
    # (same seed, same draws); noise of sigma 0.001 keeps 50 x1 inside the clip
    noisy = methods.perturbation(ctx, sigma=0.001, n_repeats=3)
    plain = perturbation_importance(lambda a: a[:, :, 0], x, sigma=0.001, n_repeats=3, seed=0)
    assert noisy.importances == pytest.approx(SLOPE * plain.importances, rel=1e-5, abs=1e-9)
    assert noisy.cell == pytest.approx(SLOPE * plain.cell, rel=1e-5, abs=1e-9)
    # and on the probability the same noise is below the precision floor
    flat = methods.perturbation(Context(_sure, x), sigma=0.001, n_repeats=3)
    assert flat.cell.max() < PRECISION_FLOOR < noisy.cell[0].min()


def test_losses_stay_on_the_probability():
    x = _sample(0.05, 0.35)  # both classes: 50 x1 from 2.5 to 17.5
    y = (x[:, :, 0] > 0.2).astype(np.float64)
    prob, logit = Context(_sure, x, y=y), Context(_sure, x, y=y, effect_on="log-odds")
    a, b = methods.improved_stepwise_1(prob), methods.improved_stepwise_1(logit)
    assert b.extra["loss"] == "cross-entropy"
    assert b.importances == pytest.approx(a.importances, rel=1e-9, abs=1e-12)
    assert b.extra["fixed_losses"] == pytest.approx(a.extra["fixed_losses"], rel=1e-9)
    assert methods.improved_stepwise_2(logit).extra["order"].tolist() == (
        methods.improved_stepwise_2(prob).extra["order"].tolist()
    )
    pa, pb = methods.permutation(prob, n_repeats=2), methods.permutation(logit, n_repeats=2)
    assert pb.extra["base_loss"] == pytest.approx(pa.extra["base_loss"], rel=1e-9)
    assert pb.extra["loss_increase"] == pytest.approx(pa.extra["loss_increase"], abs=1e-9)


def test_an_unsure_model_is_not_saturated():
    x = _sample(0.0, 1.0)
    p = _unsure(x)
    assert p.min() > 0.26 and p.max() < 0.74
    effects = methods.ablation(Context(_unsure, x))
    check = saturation_check(p, effects=effects)
    assert check.share == 0.0 and effects.cell.max() > PRECISION_FLOOR
    assert not check.saturated and not check.warn and saturation_warning(check) is None


def test_the_share_counts_counted_outputs_only_and_the_threshold_is_half():
    p = np.array([[0.9995, 0.5, 0.0004, 0.3]])
    assert near_share(p) == (0.5, 4)
    assert near_share(p, [[True, True, False, True]]) == (pytest.approx(1 / 3), 3)
    assert near_share(np.array([[1 - 0.9 * NEAR, 1.1 * NEAR]])) == (0.5, 2)
    assert saturation_check(p).saturated  # half the outputs: saturated
    assert not saturation_check(p, [[True, True, False, True]]).saturated
    # tiny effects on the probability alone are rounding, whatever the share
    assert saturation_check(p[:, 1:2], effects=1e-6).saturated
    assert not saturation_check(p[:, 1:2], effects=1e-3).saturated


def test_a_regression_is_not_applicable():
    check = saturation_check(np.zeros((3, 2)), task="regression")
    assert not check.applies and not check.saturated and not check.warn
    assert check.to_dict()["share"] is None and saturation_warning(check) is None


def test_effect_on_is_a_scoring_knob_that_keeps_old_keys():
    c = Config()
    assert c.effect_on == LATER_SCORING_KNOBS["effect_on"] == "probability"
    assert "effect_on" not in dict(c.scoring_key())  # the kept scores' file names stay
    logit = c.replace(effect_on="log-odds")
    assert logit.training_id() == c.training_id()  # the same model
    assert dict(logit.scoring_key())["effect_on"] == "log-odds"  # other scores
    assert Config.from_dict(logit.to_dict()) == logit
    with pytest.raises(ConfigError, match="effect_on = 'logit' is not allowed"):
        Config.from_dict({"effect_on": "logit"})


def test_effect_on_does_not_apply_to_a_regression():
    temp = Config.from_dict({"effect_on": "log-odds"}, base=PRESETS["seattle-temp"])
    assert temp.effect_on == "probability"  # the raw output, as before
    note = not_applied({"effect_on": "log-odds"}, temp)
    assert note.startswith("effect_on = 'log-odds' does not apply to a regression (temp_max)")
    assert not_applied({"effect_on": "log-odds"}, Config(effect_on="log-odds")) is None


# --------------------------------------------------------------------------- on a trained model

TINY = Config(n_train=300, n_val=100, n_score=40, epochs=1, seq_len=6, n_repeats=2)


@pytest.fixture(scope="module")
def trained():
    from rnnviz.training.fit import train

    return train(TINY)


def test_scores_carry_their_outputs_share_and_the_check_is_the_same_from_them(trained):
    from rnnviz.attr.saturation import saturation_of
    from rnnviz.data.split import make_split
    from rnnviz.experiment import explain, saturation

    scores = explain(trained, TINY)
    data = make_split(TINY, "score")
    p = trained.predict(data.x)
    share, n = near_share(p, data.valid)
    assert scores.extra["outputs_near"] == {"share": share, "n_outputs": n}
    assert n == int(data.valid.sum())
    direct = saturation(trained, TINY, scores)
    assert saturation_of(scores, TINY.task) == direct
    assert direct.largest_effect == float(scores.cell_mean.max())


def test_log_odds_effects_are_at_least_four_times_the_probability_ones(trained):
    """logit'(p) = 1 / (p (1 - p)) >= 4: every change of the log-odds is at least four times
    the change of the probability it comes from (same noise draws), so every RMS is too."""
    from rnnviz.experiment import explain, explain_interactions, method_context

    logit = TINY.replace(effect_on="log-odds")
    prob, odds = explain(trained, TINY), explain(trained, logit)
    assert np.all(odds.importances >= 4 * prob.importances - 1e-12)
    assert np.all(odds.cell >= 4 * prob.cell - 1e-12)
    assert odds.extra["outputs_near"] == prob.extra["outputs_near"]  # the model's own outputs
    pairs = explain_interactions(trained, logit)
    assert pairs.single == pytest.approx(odds.importances.T)  # singles = the bars, on log-odds
    ctx = method_context(trained, logit)
    assert ctx.effect_on == "log-odds"
    assert ctx.base == pytest.approx(to_log_odds(ctx.probabilities))


def test_the_store_keeps_the_share_and_recomputes_scores_kept_without_it(tmp_path, trained):
    import dataclasses

    from rnnviz.attr.saturation import saturation_of
    from rnnviz.experiment import explain
    from rnnviz.serve.store import ModelStore

    store = ModelStore(tmp_path)
    store._remember(TINY.training_id(), trained)
    store._write(TINY.training_id(), trained)
    scores = explain(trained, TINY)
    store.put_scores(TINY, scores)
    back = ModelStore(tmp_path).get_scores(TINY)
    assert saturation_of(back, TINY.task) == saturation_of(scores, TINY.task)
    older = dataclasses.replace(scores, extra={})  # what code before the check kept
    store.put_scores(TINY, older)
    assert ModelStore(tmp_path).get_scores(TINY) is None  # recomputed, not served without it
    # effects on the log-odds are kept apart; the probability's file keeps its older name
    logit = TINY.replace(effect_on="log-odds")
    store.put_scores(TINY, scores)
    store.put_scores(logit, explain(trained, logit))
    names = sorted(p.name for p in (tmp_path / TINY.training_id()).glob("scores-*.npz"))
    assert len(names) == 2
    assert ModelStore(tmp_path).get_scores(TINY).importances == pytest.approx(scores.importances)


# --------------------------------------------------------------------------- the command line

CLI_TINY = ["--n-train", "300", "--n-val", "100", "--n-score", "30", "--epochs", "1"]
CLI_TINY += ["--seq-len", "5", "--n-repeats", "2", "--quiet"]


def test_the_cli_reports_the_check_in_json_and_takes_effect_on(capsys):
    import json

    from rnnviz.cli import main

    assert main([*CLI_TINY, "--json"]) == 0
    check = json.loads(capsys.readouterr().out)["saturation"]
    assert check["applies"] and check["effect_on"] == "probability"
    assert 0.0 <= check["share"] <= 1.0 and check["n_outputs"] == 30 * 5
    assert check["saturated"] == (check["share"] >= 0.5 or check["at_precision"])
    assert (check["warning"] is None) == (not check["warn"])
    assert main([*CLI_TINY, "--effect-on", "log-odds"]) == 0
    out = capsys.readouterr().out
    assert "Effects are on the log-odds of the model's probability" in out
    assert "warning: " not in out  # on the log-odds there is nothing to remedy
    with pytest.raises(SystemExit) as stop:  # argparse offers and checks the two values
        main([*CLI_TINY, "--effect-on", "logit"])
    assert stop.value.code == 2
    assert "--effect-on: invalid choice: 'logit'" in capsys.readouterr().err


def test_the_cli_warns_of_a_saturated_model_and_names_the_flag(capsys, monkeypatch):
    """The wiring: a check that finds the model saturated (as the sure sigmoid above) reaches
    the text and the JSON, and the remedy names the flag."""
    import json

    import rnnviz.experiment
    from rnnviz.cli import main

    def sure(result, config=None, effects=None):
        return saturation_check(np.array([[1 - 1e-5, 1e-6, 0.5]]), effects=2e-6)

    monkeypatch.setattr(rnnviz.experiment, "saturation", sure)
    assert main(CLI_TINY) == 0
    out = capsys.readouterr().out
    assert "\nwarning: 67% of this model's outputs are within 0.001 of 0 or 1" in out
    assert out.rstrip().endswith("rerun with --effect-on log-odds.")
    assert main([*CLI_TINY, "--json"]) == 0
    check = json.loads(capsys.readouterr().out)["saturation"]
    assert check["warn"] and check["at_precision"] and "--effect-on log-odds" in check["warning"]


def test_deletion_curves_judge_the_models_probabilities_whatever_effects_are_on():
    """A curve's accuracy thresholds the model's probability at 0.5; thresholding its log-odds
    there would call the outputs with 0 < 50 (x1 - 0.2) < 0.5 class 0."""
    from rnnviz.attr.comparison import compare

    def centred(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-SLOPE * (x[:, :, 0].astype(np.float64) - 0.2)))

    x = _sample(0.05, 0.35)
    y = (x[:, :, 0] > 0.2).astype(np.float64)  # the model is right on every output
    assert ((x[:, :, 0] > 0.2) & (x[:, :, 0] < 0.21)).any()  # where the two would differ
    prob = compare(Context(centred, x, y=y), ["ablation"], curves=True)
    logit = compare(Context(centred, x, y=y, effect_on="log-odds"), ["ablation"], curves=True)
    a, b = prob.curves["ablation"], logit.curves["ablation"]
    assert a.deletion[0] == pytest.approx(1.0)
    assert b.deletion == pytest.approx(a.deletion) and b.insertion == pytest.approx(a.insertion)
