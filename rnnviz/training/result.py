"""What a training produces, readable without TensorFlow: progress reports and the result.

A :class:`TrainResult` is a frozen record: the config, the history, the verdict's numbers, the
snapshots, and the Keras model behind a :class:`rnnviz.training.handle.ModelHandle` (read from
the disk cache, the model loads on first use: :func:`rnnviz.training.saving.load`). Training is
:func:`rnnviz.training.fit.train`; the verdict in words is
:func:`rnnviz.report.readings.training_verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rnnviz.config import DEFAULT_BOUNDS, Bounds, Config
from rnnviz.metrics import EPS, Grade, grade_of
from rnnviz.training.handle import ModelHandle
from rnnviz.training.snapshots import Snapshot

# Validation loss is "still improving" when its last value is the lowest and fell by more than
# this share over the last epoch: training longer would likely lower it further.
IMPROVING_TOLERANCE = 0.01
# Before the first epoch, an untrained model's sigmoid output sits near 0.5, whose cross-entropy
# is ln 2: a one-epoch history is judged against that.
UNTRAINED_LOSS = math.log(2.0)


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
    return previous - last > IMPROVING_TOLERANCE * previous + EPS


def longer(config: Config, bounds: Bounds = DEFAULT_BOUNDS) -> Config | None:
    """``config`` with twice the epochs, or as many more as ``bounds`` allow; None when no
    more epochs fit (the epoch bound or the limits on training work are reached)."""
    for epochs in range(min(2 * config.epochs, bounds.epochs[1]), config.epochs, -1):
        try:
            return config.replace(epochs=epochs).validate(bounds)
        except ValueError:  # ConfigError: over a combined limit; try fewer
            continue
    return None


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


@dataclass(frozen=True)
class TrainResult:
    """A trained model with its history and the numbers of an honest verdict (learned, partly or
    not at all; in words: :func:`rnnviz.report.readings.training_verdict`).

    Built once with its final values. ``handle`` holds the Keras model (``result.model``), or
    loads it on first use; ``result.predict`` is its batched predictor.
    """

    config: Config
    history: dict[str, list[float]]  # per epoch: loss, val_loss
    val_loss: float
    val_accuracy: float  # on valid (defined) steps, threshold 0.5
    baseline_accuracy: float  # majority class on the validation set
    seconds: float
    epochs_run: int
    # what the network relied on at evenly spaced steps (rnnviz.training.snapshots); () for models
    # trained before snapshots existed or without them
    snapshots: tuple[Snapshot, ...] = field(default=(), repr=False, compare=False)
    handle: ModelHandle = field(default_factory=ModelHandle, repr=False, compare=False)

    @property
    def model(self) -> Any:
        """The Keras model (loaded now if it was read lazily); None for a hand-made result."""
        return self.handle.get()

    @property
    def predict(self) -> Callable[[Any], Any]:
        """A batched ``predict(x) -> y`` of the model (``rnnviz.training.predictor.Predictor``,
        whose traced forward pass is shared by every model of the architecture)."""
        return self.handle.predictor()

    @property
    def grade(self) -> Grade:
        """learned / partly learned / did not learn (:func:`rnnviz.metrics.grade_of`)."""
        return grade_of(self.val_accuracy, self.baseline_accuracy)

    @property
    def learned(self) -> bool:
        """True when the grade is "learned"."""
        return self.grade == "learned"

    @property
    def still_improving(self) -> bool:
        """Validation loss was still falling at the last epoch (see :func:`still_improving`)."""
        return still_improving(self.history)

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
