"""Feeding a training: seeded batch order, progress reports and the pool of compiled trainers."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from rnnviz.data.split import Dataset  # noqa: E402
from rnnviz.training.result import Progress, ProgressFn  # noqa: E402
from rnnviz.training.snapshots import Snapshot  # noqa: E402

# Optimiser steps run inside one call of the compiled training function: fewer round trips
# between Python and TensorFlow (measured ~30% less training time for the default recipe).
STEPS_PER_EXECUTION = 8

_SHUFFLE_STREAM = 11  # separates the batch order's draws from the other streams of the seed


class Shuffled(keras.utils.PyDataset):
    """Training batches in a new order each epoch, drawn from an explicit seed.

    ``fit(shuffle=True)`` shuffles with TensorFlow's process-wide random state; this draws
    each epoch's order from ``numpy.random.default_rng([seed, epoch])`` instead, so the order
    is the same whatever else the process does. Every batch is full (the few sequences left
    over after the last full batch sit out that epoch; the next shuffle includes them), so the
    compiled training step sees one input shape and is traced once.
    """

    def __init__(self, data: Dataset, batch_size: int, seed: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.x = data.x
        self.y = data.y[..., None]
        self.w = data.valid.astype(np.float32)
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self._order = self._draw(0)

    def _draw(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, _SHUFFLE_STREAM, epoch]).permutation(len(self.x))

    def __len__(self) -> int:
        return len(self.x) // self.batch_size  # full batches only: one shape, one trace

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows], self.w[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._draw(self.epoch)


class ProgressCallback(keras.callbacks.Callback):
    def __init__(
        self,
        fn: ProgressFn,
        epochs: int,
        steps: int,
        latest: Callable[[], Snapshot | None] = lambda: None,
    ) -> None:
        super().__init__()
        self.fn, self.epochs, self.steps = fn, epochs, steps
        self.latest = latest  # the newest finished snapshot, shown live
        self.epoch = 1
        self.every = max(1, steps // 10)
        self.reported = 0  # batches of this epoch already reported

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.reported = 0

    def on_train_batch_end(self, batch, logs=None):
        # Called once per executed chunk of steps (STEPS_PER_EXECUTION), with the last index.
        done = batch + 1
        if done - self.reported >= self.every and done < self.steps:
            self.reported = done
            loss = (logs or {}).get("loss")
            self.fn(
                Progress(
                    self.epoch, self.epochs, done, self.steps, _num(loss), snapshot=self.latest()
                )
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.fn(
            Progress(
                epoch + 1,
                self.epochs,
                self.steps,
                self.steps,
                _num(logs.get("loss")),
                _num(logs.get("val_loss")),
                snapshot=self.latest(),
            )
        )


def _num(v) -> float | None:
    return None if v is None else float(v)


class TrainerPool:
    """Compiled training models kept by shape, so that a new training skips the tracing.

    Keras traces a model's training and validation steps on its first ``fit`` (about 2 s of a
    3 s training here). A training of a config whose shapes were seen before borrows a compiled
    model of those shapes, loads its own seeded initial weights into it, resets the optimiser,
    trains, and copies the weights out: the same computation on the same numbers, so the same
    weights as a fresh model (tests/test_reproducible.py). One borrower at a time per model.
    """

    def __init__(self, max_kept: int = 4) -> None:
        self.max_kept = max_kept
        self._lock = threading.Lock()
        self._free: OrderedDict[tuple, list[keras.Model]] = OrderedDict()

    def take(self, key: tuple) -> keras.Model | None:
        with self._lock:
            models = self._free.get(key)
            if not models:
                return None
            self._free.move_to_end(key)
            return models.pop()

    def give(self, key: tuple, model: keras.Model) -> None:
        with self._lock:
            self._free.setdefault(key, []).append(model)
            self._free.move_to_end(key)
            while sum(len(v) for v in self._free.values()) > self.max_kept:
                oldest = next(iter(self._free))
                self._free[oldest].pop(0)
                if not self._free[oldest]:
                    del self._free[oldest]

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


TRAINERS = TrainerPool()
