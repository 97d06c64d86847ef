"""The verdict in three grades, "still improving" and "train longer", without TensorFlow.

Every number below is worked out by hand from the thresholds: learned when the error rate is at
most 20% of the majority-class error rate, partly learned when at most 70%, else did not learn.
"""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest

from rnnviz.config import Bounds, Config
from rnnviz.metrics import GRADES, LEARNED_ERROR_RATIO, PARTLY_ERROR_RATIO, error_ratio, grade_of
from rnnviz.report.readings import improving_note, training_verdict
from rnnviz.serve.uploads import Upload
from rnnviz.training.handle import ModelHandle
from rnnviz.training.result import IMPROVING_TOLERANCE, TrainResult, longer, still_improving


def made(
    accuracy: float,
    baseline: float,
    val_loss: tuple[float, ...] = (0.5, 0.5),
    config: Config | None = None,
) -> TrainResult:
    """A hand-made TrainResult (no model: nothing here predicts)."""
    history = {"loss": list(val_loss), "val_loss": list(val_loss)}
    return TrainResult(
        config=config or Config(),
        history=history,
        val_loss=val_loss[-1],
        val_accuracy=accuracy,
        baseline_accuracy=baseline,
        seconds=1.0,
        epochs_run=len(val_loss),
    )


def test_thresholds_are_the_documented_ones():
    assert (LEARNED_ERROR_RATIO, PARTLY_ERROR_RATIO, IMPROVING_TOLERANCE) == (0.2, 0.7, 0.01)
    assert GRADES == ("learned", "partly learned", "did not learn")


@pytest.mark.parametrize(
    ("accuracy", "baseline", "expected"),
    [
        # balanced baseline 50% (error 0.5): learned down to error 0.1, partly down to 0.35
        (1.0, 0.5, "learned"),
        (0.9, 0.5, "learned"),  # error 0.10 = 0.2 x 0.5: on the boundary
        (0.899, 0.5, "partly learned"),  # error 0.101 > 0.1
        (0.75, 0.5, "partly learned"),  # the long-lag rule: one step in four wrong
        (0.65, 0.5, "partly learned"),  # error 0.35 = 0.7 x 0.5: on the boundary
        (0.649, 0.5, "did not learn"),  # error 0.351 > 0.35
        (0.5, 0.5, "did not learn"),  # the baseline itself
        (0.4, 0.5, "did not learn"),  # worse than the baseline
        # the 79% against 64.7% (error 0.21 against 0.353: ratio 0.595)
        (0.79, 0.647, "partly learned"),
        # baseline 80% (error 0.2): learned down to error 0.04, partly down to 0.14
        (0.96, 0.8, "learned"),
        (0.959, 0.8, "partly learned"),
        (0.86, 0.8, "partly learned"),
        (0.859, 0.8, "did not learn"),
        # the default recipe's worst preset (windowed, seed 1): 93.9% against 52.0%, ratio 0.13
        (0.939, 0.520, "learned"),
    ],
)
def test_grade_at_the_boundaries(accuracy, baseline, expected):
    assert grade_of(accuracy, baseline) == expected
    result = made(accuracy, baseline)
    assert result.grade == expected
    assert result.learned is (expected == "learned")


def test_learned_implies_at_least_90_percent_accuracy():
    # the majority class is right at least half the time, so error <= 0.2 x base error <= 0.1
    for b in range(500, 1001):
        baseline = b / 1000
        lowest = 1.0 - LEARNED_ERROR_RATIO * (1.0 - baseline)
        assert grade_of(lowest, baseline) == "learned"
        assert lowest >= 0.9 - 1e-12


def test_a_baseline_without_errors_is_learned_only_when_perfect():
    assert error_ratio(1.0, 1.0) is None
    assert grade_of(1.0, 1.0) == "learned"
    assert grade_of(0.99, 1.0) == "did not learn"
    assert "baseline's errors" not in training_verdict(made(1.0, 1.0))


def test_verdict_says_the_grade_with_the_numbers():
    text = training_verdict(made(0.992, 0.6))  # error 0.008 against 0.4: 2%
    assert text.startswith("The LSTM learned the rule: validation accuracy 99.2% against 60.0%")
    assert "It makes 2% of the baseline's errors." in text

    text = training_verdict(made(0.75, 0.5))  # error 0.25 against 0.5: 50%
    assert text.startswith("The LSTM only PARTLY learned the rule: validation accuracy 75.0%")
    assert "It makes 50% of the baseline's errors (learned means at most 20%)" in text
    assert "only partly right" in text

    text = training_verdict(made(0.55, 0.5))  # error 0.45 against 0.5: 90%
    assert text.startswith("The LSTM did NOT learn the rule: validation accuracy 55.0%")
    assert "It makes 90% of the baseline's errors." in text


@pytest.mark.parametrize(
    ("cell", "name"),
    [("gru", "GRU"), ("simple_rnn", "simple RNN"), ("bilstm", "bidirectional LSTM")],
)
def test_verdict_names_the_cell_it_is_about(cell, name):
    # two verdicts side by side (the cells lesson) must say which model each is about
    text = training_verdict(made(0.717, 0.512, config=Config(cell=cell)))
    assert text.startswith(f"The {name} only PARTLY learned the rule: validation accuracy 71.7%")
    assert "LSTM" not in text.replace("bidirectional LSTM", "")


def test_metrics_carry_the_grade():
    metrics = made(0.75, 0.5, val_loss=(0.6, 0.5)).metrics()
    assert metrics["grade"] == "partly learned" and metrics["learned"] is False
    assert metrics["still_improving"] is True


@pytest.mark.parametrize(
    ("val_loss", "expected"),
    [
        ((0.40, 0.30), True),  # fell 25% over the last epoch
        ((0.5, 0.4, 0.3960), False),  # fell exactly 1%: not more than the tolerance
        ((0.5, 0.4, 0.3959), True),  # fell 1.025%
        ((0.5, 0.3, 0.35), False),  # rose: early stopping's territory
        ((0.3, 0.5, 0.4), False),  # fell, but the lowest was earlier
        ((0.3, 0.3), False),  # flat
        ((0.68,), True),  # one epoch: 1.9% below ln 2 = 0.6931, an untrained model's loss
        ((0.69,), False),  # one epoch: 0.45% below ln 2
        ((), False),
        ((0.5, math.nan), False),
    ],
)
def test_still_improving_on_hand_made_histories(val_loss, expected):
    assert still_improving({"val_loss": list(val_loss)}) is expected


def test_still_improving_without_a_validation_loss():
    assert still_improving({"loss": [0.5, 0.4]}) is False


def test_improving_note_gives_the_numbers():
    assert improving_note({"val_loss": [0.5, 0.3, 0.3]}) is None
    assert improving_note({"val_loss": [0.5, 0.4, 0.3]}) == (
        "Validation loss was still falling at the last epoch: 0.4000 → 0.3000 "
        "(epoch 2 → 3), its lowest."
    )
    assert improving_note({"val_loss": [0.68]}) == (
        "Validation loss was still falling: after the only epoch it was 0.6800, below the "
        "0.6931 (ln 2) of an untrained model."
    )


def test_longer_doubles_the_epochs_within_the_bounds():
    config = Config(epochs=4, n_train=4000)
    assert longer(config) == config.replace(epochs=8)
    assert longer(config, Bounds(epochs=(1, 6))) == config.replace(epochs=6)  # epoch bound
    assert longer(config.replace(epochs=6), Bounds(epochs=(1, 6))) is None  # at the bound
    # work bound: epochs x n_train x seq_len <= 200,000 with 4,000 x 10 per epoch: 5 epochs
    assert longer(config, Bounds(max_train_work=200_000)) == config.replace(epochs=5)
    assert longer(config.replace(epochs=5), Bounds(max_train_work=200_000)) is None
    # a new experiment: another training key, the scoring knobs kept
    new = longer(config.replace(sigma=0.5))
    assert new is not None and new.sigma == 0.5 and new.training_key() != config.training_key()


@pytest.mark.parametrize(
    ("accuracy", "baseline", "grade", "learned"),
    [
        (0.9, 0.5, "learned", True),
        (0.75, 0.5, "partly learned", False),
        (0.6, 0.5, "did not learn", False),
        (None, None, None, None),
    ],
)
def test_uploads_are_graded_the_same_way(accuracy, baseline, grade, learned):
    upload = Upload(
        data_name="d.npz",
        model_name="m.keras",
        kind="keras",
        data=None,
        model_bytes=b"",
        key="k",
        accuracy=accuracy,
        baseline_accuracy=baseline,
    )
    assert upload.grade == grade and upload.learned is learned


def test_a_result_is_a_frozen_record_with_its_model_behind_a_handle():
    result = made(0.9, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.val_accuracy = 1.0  # type: ignore[misc]
    assert result.model is None  # a hand-made result has no model
    with pytest.raises(ValueError, match="no model"):
        result.predict  # noqa: B018
    stand_in = TrainResult(**{**vars(result), "handle": ModelHandle(predict=len)})
    assert stand_in.predict is len and stand_in == result  # the handle is no part of equality
    assert pickle.loads(pickle.dumps(stand_in)).predict is len


def test_a_planted_box_verdict_speaks_of_the_task_not_a_rule():
    from rnnviz.config import PRESETS
    from rnnviz.report.readings import training_verdict

    box = training_verdict(made(1.0, 0.5, config=PRESETS["box-raretime"]))
    assert box.startswith("The LSTM learned the task: validation accuracy 100.0%") and (
        "rule" not in box
    )
    assert "did NOT learn the task" in training_verdict(
        made(0.52, 0.5, config=PRESETS["box-middle"])
    )
    assert training_verdict(made(1.0, 0.5)).startswith("The LSTM learned the rule")
