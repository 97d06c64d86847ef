"""What a training produces, readable without TensorFlow: progress reports and the result.

A :class:`TrainResult` holds the config, the history, the verdict's numbers and the Keras model.
Read back from the disk cache (:func:`load`), the model itself is loaded only when something
needs it (a prediction, a download): the pages of a cached experiment whose scores are on disk
draw without importing TensorFlow at all, so a freshly started server answers in about a second
instead of waiting for TensorFlow's import.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rnnviz.config import CELL_NAMES, DEFAULT_BOUNDS, Bounds, Config
from rnnviz.training.snapshots import Snapshot

# The verdict grades a model by its error ratio: its validation error rate divided by the error
# rate of always guessing the majority class (the baseline). Both ends are inclusive.
#   learned         error ratio <= 0.2: it makes at most a fifth of the baseline's errors. The
#                   majority class is right at least half the time, so this also means at least
#                   90% accuracy (an error rate <= 0.2 x 50%). The default recipe stays at or
#                   under 0.13 on every preset rule (benchmarks/bench_recipe.py --seeds 3).
#   partly learned  error ratio <= 0.7: it closes at least 30% of the gap between the baseline
#                   and perfect, but still gets many steps wrong (75% against a 50% baseline is
#                   0.5; 79% against 64.7% is 0.59).
#   did not learn   error ratio > 0.7: barely (or not) better than always guessing.
LEARNED_ERROR_RATIO = 0.2
PARTLY_ERROR_RATIO = 0.7
_EPS = 1e-9  # a number exactly on a boundary (up to float rounding) counts as inside it

Grade = Literal["learned", "partly learned", "did not learn"]
GRADES: tuple[Grade, ...] = ("learned", "partly learned", "did not learn")

# Validation loss is "still improving" when its last value is the lowest and fell by more than
# this share over the last epoch: training longer would likely lower it further.
IMPROVING_TOLERANCE = 0.01
# Before the first epoch, an untrained model's sigmoid output sits near 0.5, whose cross-entropy
# is ln 2: a one-epoch history is judged against that.
UNTRAINED_LOSS = math.log(2.0)


def error_ratio(accuracy: float, baseline_accuracy: float) -> float | None:
    """Error rate over the majority-class error rate; None when the baseline makes no error."""
    base_err = 1.0 - baseline_accuracy
    return None if base_err <= 0 else (1.0 - accuracy) / base_err


def grade_of(accuracy: float, baseline_accuracy: float) -> Grade:
    """The verdict's grade for an accuracy against the majority-class accuracy.

    learned: error <= 20% of the baseline's error (so accuracy >= 90%); partly learned: error
    <= 70% of the baseline's error; did not learn: otherwise. Boundaries are inclusive.
    """
    err, base_err = 1.0 - accuracy, 1.0 - baseline_accuracy
    if err <= LEARNED_ERROR_RATIO * base_err + _EPS:
        return "learned"
    if err <= PARTLY_ERROR_RATIO * base_err + _EPS:
        return "partly learned"
    return "did not learn"


def still_improving(history: Mapping[str, Sequence[float]]) -> bool:
    """True when the last validation loss is the lowest and fell by more than
    ``IMPROVING_TOLERANCE`` (relative) over the last epoch; a one-epoch history is compared
    with ``UNTRAINED_LOSS``. False without a usable validation loss."""
    losses = [float(v) for v in history.get("val_loss") or ()]
    if not losses or not all(math.isfinite(v) for v in losses):
        return False
    last = losses[-1]
    previous = losses[-2] if len(losses) > 1 else UNTRAINED_LOSS
    if last > min(losses):
        return False
    return previous - last > IMPROVING_TOLERANCE * previous + _EPS


def improving_note(history: Mapping[str, Sequence[float]]) -> str | None:
    """A sentence saying that validation loss was still falling, with its numbers; None when
    :func:`still_improving` is false."""
    if not still_improving(history):
        return None
    losses = history["val_loss"]
    if len(losses) == 1:
        return (
            f"Validation loss was still falling: after the only epoch it was {losses[0]:.4f}, "
            f"below the {UNTRAINED_LOSS:.4f} (ln 2) of an untrained model."
        )
    return (
        f"Validation loss was still falling at the last epoch: {losses[-2]:.4f} → "
        f"{losses[-1]:.4f} (epoch {len(losses) - 1} → {len(losses)}), its lowest."
    )


def longer(config: Config, bounds: Bounds = DEFAULT_BOUNDS) -> Config | None:
    """``config`` with twice the epochs, or as many more as ``bounds`` allow; None when no
    more epochs fit (the epoch bound or the limits on training work are reached)."""
    for epochs in range(min(2 * config.epochs, bounds.epochs[1]), config.epochs, -1):
        try:
            return config.replace(epochs=epochs).validate(bounds)
        except ValueError:  # ConfigError: over a combined limit; try fewer
            continue
    return None


# --------------------------------------------------------------------------- real series
# A real target has no ground truth and no known ceiling: part of tomorrow's weather cannot be
# told from the inputs. So a model on a real series is judged against simple forecasts on the
# same steps: always the more common class and persistence ("tomorrow like today") for a 0/1
# target; the training mean (R²) and persistence for a number.


def accuracy(prob: Sequence[float], y: Sequence[float]) -> float:
    """Share of steps where ``prob >= 0.5`` matches ``y`` (0/1)."""
    p, t = _arrays(prob, y)
    return float(((p >= 0.5) == (t >= 0.5)).mean())


def majority_accuracy(y: Sequence[float]) -> float:
    """Accuracy of always guessing the class more common in ``y`` (0/1) itself."""
    (t,) = _arrays(y)
    share = float((t >= 0.5).mean())
    return max(share, 1.0 - share)


def persistence_accuracy(y: Sequence[float], today: Sequence[float]) -> float:
    """Accuracy of "tomorrow like today": ``today[i]`` (0/1) as the guess for ``y[i]``."""
    return accuracy(today, y)


def cross_entropy(prob: Sequence[float], y: Sequence[float]) -> float:
    """Mean binary cross-entropy of probabilities ``prob`` (clipped to 1e-7 … 1 - 1e-7) against
    0/1 ``y``: the training loss, computed in numpy (validation, snapshots)."""
    import numpy as np

    p, t = _arrays(prob, y)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def mse(y: Sequence[float], pred: Sequence[float]) -> float:
    """Mean squared error of ``pred`` against ``y``."""
    t, p = _arrays(y, pred)
    return float(((p - t) ** 2).mean())


def r2_against(y: Sequence[float], pred: Sequence[float], mean: float) -> float:
    """R² against always predicting ``mean`` (the training mean): 1 - MSE(pred) / MSE(mean).

    1 is perfect, 0 no better than the mean, below 0 worse. Raises ValueError when every ``y``
    equals ``mean`` (no error left to explain).
    """
    t, p = _arrays(y, pred)
    base = float(((t - mean) ** 2).sum())
    if base <= 0:
        raise ValueError("R² is undefined: every target equals the mean")
    return 1.0 - float(((p - t) ** 2).sum()) / base


def skill(error: float, baseline_error: float) -> float | None:
    """1 - error / baseline_error: the share of a baseline's error a model removes (0: none,
    1: all, negative: worse). None when the baseline makes no error."""
    return None if baseline_error <= 0 else 1.0 - error / baseline_error


def regression_grade(r2: float) -> Grade:
    """The grade of an R² against the training mean, by the same error ratios as an accuracy
    against the majority class: learned at R² >= 0.8, partly learned at R² >= 0.3."""
    return grade_of(r2, 0.0)


def paired_counts(
    y: Sequence[float], pred_a: Sequence[float], pred_b: Sequence[float]
) -> tuple[int, int]:
    """(steps only ``pred_a`` gets right, steps only ``pred_b`` gets right), 0/1 at 0.5."""
    t, a, b = _arrays(y, pred_a, pred_b)
    right_a, right_b = (a >= 0.5) == (t >= 0.5), (b >= 0.5) == (t >= 0.5)
    return int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())


def clearly_better(a_only: int, b_only: int, z: float = 2.0) -> bool:
    """True when A's wins over B (``a_only`` vs ``b_only`` from :func:`paired_counts`) are more
    than chance: a sign test, a_only - b_only > z * sqrt(a_only + b_only) (about 95% at z = 2).
    Neighbouring days are not independent, so this is lenient rather than strict."""
    return a_only - b_only > z * math.sqrt(a_only + b_only)


def clearly_lower(errors_a: Sequence[float], errors_b: Sequence[float], z: float = 2.0) -> bool:
    """True when the paired errors ``errors_a`` (e.g. squared) are lower than ``errors_b`` by
    more than chance: mean(b - a) > z * its standard error."""
    a, b = _arrays(errors_a, errors_b)
    d = b - a
    if len(d) < 2:
        return False
    return float(d.mean()) > z * float(d.std(ddof=1)) / math.sqrt(len(d))


def classification_verdict(
    accuracy: float,
    majority: float,
    persistence: float,
    *,
    beats_majority: bool,
    beats_persistence: bool,
    what: str = "the target",
    when: str = "the scored steps",
) -> str:
    """The model's accuracy against always guessing the more common class and persistence;
    ``beats_*`` say whether it is better by more than chance (:func:`clearly_better`)."""
    text = (
        f"The model forecasts {what} correctly on {accuracy:.1%} of {when}, against "
        f"{majority:.1%} for always guessing the more common outcome and {persistence:.1%} for "
        'persistence ("tomorrow like today").'
    )
    if beats_majority and beats_persistence:
        share = error_ratio(accuracy, persistence)
        text += " It beats both" + (
            f": it makes {share:.0%} of persistence's errors." if share is not None else "."
        )
    elif beats_majority:
        text += (
            " It beats the more common outcome but not clearly persistence: it adds little to "
            "repeating today, so read its effects as those of a persistence-like model."
        )
    else:
        text += (
            " It does not clearly beat always guessing the more common outcome: its effects "
            "describe a model that learned (almost) nothing."
        )
    return text + " There is no ground truth to reach: part of tomorrow cannot be told."


def regression_verdict(
    r2: float,
    model_mse: float,
    persistence_mse: float,
    *,
    beats_persistence: bool,
    unit: str = "",
    what: str = "the target",
) -> str:
    """R² against the training mean, RMSE in the target's units and the skill over persistence
    (``beats_persistence``: lower error by more than chance, :func:`clearly_lower`)."""
    u = f" {unit}" if unit else ""
    text = (
        f"The model forecasts {what} with R² = {r2:.2f} against predicting the training mean "
        f"(grade: {regression_grade(r2)}); its typical error (RMSE) is "
        f"{math.sqrt(model_mse):.2f}{u}, against {math.sqrt(persistence_mse):.2f}{u} for "
        'persistence ("tomorrow like today").'
    )
    gain = skill(model_mse, persistence_mse)
    if beats_persistence and gain is not None:
        text += f" It removes {gain:.0%} of persistence's squared error."
    else:
        text += " It does not clearly beat persistence: it adds little to repeating today."
    return text


def real_series_verdict(task: str, val_score: float, baseline: float) -> str:
    """The validation numbers of a model of a real series, without the synthetic verdict's
    "learned the rule" (there is none): ``val_score`` is the accuracy (classification) or R²
    against the training mean (regression). The comparison with persistence on the score
    split is ``rnnviz.data.datasets.forecast_verdict``."""
    if task == "regression":
        text = f"Validation R² = {val_score:.2f} against predicting the training mean"
    else:
        text = (
            f"Validation accuracy {val_score:.1%} against {baseline:.1%} for always guessing "
            "the more common outcome"
        )
    return (
        f"{text}. A real series has no rule to learn and no known ceiling: judge the model "
        'against persistence ("tomorrow like today") on the scored year.'
    )


def _arrays(*values: Sequence[float]) -> list:
    import numpy as np

    out = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if any(len(a) != len(out[0]) for a in out) or not len(out[0]):
        raise ValueError(f"need equally long, non-empty arrays, got {[len(a) for a in out]}")
    return out


@dataclass(frozen=True)
class Progress:
    """One progress report during training, for a progress bar in the UI or CLI."""

    epoch: int  # 1-based epoch being run
    epochs: int
    step: int  # batches done in this epoch
    steps: int
    loss: float | None
    val_loss: float | None = None
    # the newest rnnviz.training.snapshots.Snapshot while training (None: none yet)
    snapshot: Any = field(default=None, compare=False)

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) + self.step / max(self.steps, 1)) / self.epochs)

    def __str__(self) -> str:
        text = f"epoch {self.epoch}/{self.epochs}"
        if self.loss is not None:
            text += f", loss {self.loss:.4f}"
        if self.val_loss is not None:
            text += f", val loss {self.val_loss:.4f}"
        return text


ProgressFn = Callable[[Progress], None]


@dataclass
class TrainResult:
    """A trained model with its history and an honest verdict: learned, partly or not at all."""

    config: Config
    model: Any = field(repr=False)  # a keras.Model (read from disk on first use when loaded lazily)
    history: dict[str, list[float]]  # per epoch: loss, val_loss
    val_loss: float
    val_accuracy: float  # on valid (defined) steps, threshold 0.5
    baseline_accuracy: float  # majority class on the validation set
    seconds: float
    epochs_run: int
    # what the network relied on at evenly spaced steps (rnnviz.training.snapshots); () for models
    # trained before snapshots existed or without them
    snapshots: tuple[Snapshot, ...] = field(default=(), repr=False, compare=False)
    _predictor: Any = field(default=None, repr=False)  # a rnnviz.training.model.Predictor
    _load_model: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def grade(self) -> Grade:
        """learned / partly learned / did not learn (thresholds: :func:`grade_of`)."""
        return grade_of(self.val_accuracy, self.baseline_accuracy)

    @property
    def learned(self) -> bool:
        """True when the grade is "learned"."""
        return self.grade == "learned"

    @property
    def still_improving(self) -> bool:
        """Validation loss was still falling at the last epoch (see :func:`still_improving`)."""
        return still_improving(self.history)

    def verdict(self) -> str:
        """The grade in one to three sentences, with the accuracy, the baseline and their ratio;
        it names the cell ("The GRU learned the rule"), so a verdict shown beside another
        model's says which model it is about."""
        acc, base = self.val_accuracy, self.baseline_accuracy
        if self.config.data_kind.real:  # no rule to learn: its forecasts are judged
            return real_series_verdict(self.config.task, acc, base)
        ratio = error_ratio(acc, base)
        share = "" if ratio is None else f" It makes {ratio:.0%} of the baseline's errors"
        model = f"The {CELL_NAMES[self.config.cell]}"
        if self.grade == "learned":
            return (
                f"{model} learned the rule: validation accuracy {acc:.1%} against {base:.1%} "
                f"for always guessing the majority class.{share}{share and '.'}"
            )
        if self.grade == "partly learned":
            return (
                f"{model} only PARTLY learned the rule: validation accuracy {acc:.1%} against "
                f"{base:.1%} for always guessing the majority class.{share} (learned means at "
                f"most {LEARNED_ERROR_RATIO:.0%}). Its effects describe a model that is only "
                "partly right; train longer or change the recipe."
            )
        return (
            f"{model} did NOT learn the rule: validation accuracy {acc:.1%} is not clearly "
            f"above the {base:.1%} of always guessing the majority class.{share}{share and '.'} "
            "Its effects describe an untrained model; train longer or change the recipe."
        )

    @property
    def predict(self):
        """A batched ``predict(x) -> y`` of the model (``rnnviz.training.model.Predictor``, whose
        traced
        forward pass is shared by every model of the architecture)."""
        if self._predictor is None:
            from rnnviz.training.model import Predictor

            self._predictor = Predictor(self.model)
        return self._predictor

    def metrics(self) -> dict[str, float | int | bool | str]:
        """The verdict's numbers, its grade and the training's size, JSON-ready."""
        return {
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "grade": self.grade,
            "learned": self.learned,
            "still_improving": self.still_improving,
            "seconds": self.seconds,
            "epochs_run": self.epochs_run,
        }


def _get_model(self: TrainResult) -> Any:
    if self._model is None and self._load_model is not None:
        with _LOAD_LOCK:
            if self._model is None:
                self._model = self._load_model()
    return self._model


def _set_model(self: TrainResult, value: Any) -> None:
    object.__setattr__(self, "_model", value)


# ``model`` stays a dataclass field (constructor argument, ``dataclasses.replace``) but is read
# through this property, which loads a lazily read model on first use.
TrainResult.model = property(_get_model, _set_model)  # type: ignore[assignment]
TrainResult._model = None  # type: ignore[attr-defined]

_LOAD_LOCK = threading.Lock()


def load(folder: str | Path, lazy: bool = False) -> TrainResult:
    """Read back what ``rnnviz.training.model.save`` wrote (``safe_mode=True``: no arbitrary code
    runs).

    With ``lazy`` the file's bytes are read now and turned into a Keras model only when first
    used (no TensorFlow import until then).
    """
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    config = Config.from_dict(meta["config"])

    data = (folder / "model.keras").read_bytes()  # now: the entry may be evicted later

    def read_model():
        import tempfile

        import keras

        with tempfile.TemporaryDirectory(prefix="rnnviz-load-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(data)
            return keras.models.load_model(path, safe_mode=True, compile=False)

    return TrainResult(
        config=config,
        model=None if lazy else read_model(),
        history=meta["history"],
        val_loss=meta["val_loss"],
        val_accuracy=meta["val_accuracy"],
        baseline_accuracy=meta["baseline_accuracy"],
        seconds=meta["seconds"],
        epochs_run=meta["epochs_run"],
        snapshots=tuple(Snapshot.from_dict(d) for d in meta.get("snapshots") or ()),
        _load_model=read_model if lazy else None,
    )
