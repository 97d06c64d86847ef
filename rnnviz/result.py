"""What a training produces, readable without TensorFlow: progress reports and the result.

A :class:`TrainResult` holds the config, the history, the verdict's numbers and the Keras model.
Read back from the disk cache (:func:`load`), the model itself is loaded only when something
needs it (a prediction, a download): the pages of a cached experiment whose scores are on disk
draw without importing TensorFlow at all, so a freshly started server answers in about a second
instead of waiting for TensorFlow's import.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnviz.config import Config

# A model "learned" when its validation error rate is at most this share of the error rate of
# always predicting the majority class (i.e. it closes at least 40% of the gap to perfect).
LEARNED_ERROR_RATIO = 0.6


@dataclass(frozen=True)
class Progress:
    """One progress report during training, for a progress bar in the UI or CLI."""

    epoch: int  # 1-based epoch being run
    epochs: int
    step: int  # batches done in this epoch
    steps: int
    loss: float | None
    val_loss: float | None = None

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
    """A trained model with its history and an honest verdict on whether it learned."""

    config: Config
    model: Any = field(repr=False)  # a keras.Model (read from disk on first use when loaded lazily)
    history: dict[str, list[float]]  # per epoch: loss, val_loss
    val_loss: float
    val_accuracy: float  # on valid (defined) steps, threshold 0.5
    baseline_accuracy: float  # majority class on the validation set
    seconds: float
    epochs_run: int
    _predictor: Any = field(default=None, repr=False)  # a rnnviz.model.Predictor
    _load_model: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def learned(self) -> bool:
        """True when the model clearly beats always guessing the majority class."""
        base_err = 1.0 - self.baseline_accuracy
        return (1.0 - self.val_accuracy) <= LEARNED_ERROR_RATIO * base_err

    def verdict(self) -> str:
        """One sentence saying whether the model learned, with the numbers."""
        acc, base = self.val_accuracy, self.baseline_accuracy
        if self.learned:
            return (
                f"The model learned the rule: validation accuracy {acc:.1%} against "
                f"{base:.1%} for always guessing the majority class."
            )
        return (
            f"The model did NOT learn the rule: validation accuracy {acc:.1%} is not clearly "
            f"above the {base:.1%} of always guessing the majority class. Its importances "
            "describe an untrained model; train longer or change the recipe."
        )

    @property
    def predict(self):
        """A batched ``predict(x) -> y`` of the model (``rnnviz.model.SharedPredictor``: the
        model's weights on a traced twin of its architecture)."""
        if self._predictor is None:
            from rnnviz.model import SharedPredictor

            self._predictor = SharedPredictor(self.model, self.config)
        return self._predictor

    def metrics(self) -> dict[str, float | int | bool]:
        return {
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "learned": self.learned,
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
    """Read back what ``rnnviz.model.save`` wrote (``safe_mode=True``: no arbitrary code runs).

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
        _load_model=read_model if lazy else None,
    )
