"""Snapshot capture: the trainer's weights copied at evenly spaced steps, and scored meanwhile.

What a snapshot holds and how it is scored (plain numpy) is :mod:`rnnviz.training.snapshots`;
this module takes the weights out of a running training without changing it.
"""

from __future__ import annotations

import os
import queue
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnnviz.config import Config  # noqa: E402
from rnnviz.data.split import Dataset  # noqa: E402
from rnnviz.training.feeding import STEPS_PER_EXECUTION  # noqa: E402
from rnnviz.training.predictor import (  # noqa: E402
    concrete,
    inference_key,
    shared_trace,
    traced,
    weight_specs,
)
from rnnviz.training.snapshots import (  # noqa: E402
    SNAPSHOT_TARGET,
    Snapshot,
    snapshot_rows,
    snapshot_scores,
    snapshot_steps,
)


class Capture:
    """Copies of the trainer's weights taken inside the compiled training step.

    A callback fires once per ``STEPS_PER_EXECUTION`` steps, too seldom for evenly spaced
    snapshots of a short training, so the training step itself copies the weights into spare
    slots (never read by the training) after each optimiser step listed in ``targets``
    (-1: unused); the snapshot callback empties the slots. All -1 switches it off. The
    training's own computation is untouched: the same weights with and without snapshots.
    """

    def __init__(self, trainer: keras.Model) -> None:
        self.variables = [*trainer.trainable_variables, *trainer.non_trainable_variables]
        self.n_trainable = len(trainer.trainable_variables)
        slots = STEPS_PER_EXECUTION + 1
        self.slots = [
            tf.Variable(tf.zeros((slots, *v.shape), tf.as_dtype(v.dtype)), trainable=False)
            for v in self.variables
        ]
        self.steps = tf.Variable(tf.zeros(slots, tf.int64), trainable=False)
        self.losses = tf.Variable(tf.zeros(slots, tf.float32), trainable=False)
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False)
        self.targets = tf.Variable(tf.fill([SNAPSHOT_TARGET], tf.constant(-1, tf.int64)))

    @classmethod
    def install(cls, trainer: keras.Model) -> None:
        """Wrap ``trainer.train_step`` (before its training function is traced)."""
        capture = cls(trainer)
        step = trainer.train_step

        def train_step(data):
            logs = step(data)
            done = tf.cast(trainer.optimizer.iterations, tf.int64)
            take = tf.reduce_any(tf.equal(capture.targets, done))

            def copy():
                slot = capture.count
                for buffer, v in zip(capture.slots, capture.variables, strict=True):
                    buffer.scatter_nd_update([[slot]], [v.value])
                capture.steps.scatter_nd_update([[slot]], [done])
                capture.losses.scatter_nd_update([[slot]], [tf.cast(logs["loss"], tf.float32)])
                capture.count.assign_add(1)
                return tf.constant(True)

            tf.cond(take, copy, lambda: tf.constant(False))
            return logs

        trainer.train_step = train_step
        trainer._rnnviz_capture = capture

    def start(self, steps: list[int]) -> None:
        """Capture after each of ``steps`` (step 0, before any training, is not captured here)."""
        steps = [s for s in steps if s > 0]
        targets = np.full(SNAPSHOT_TARGET, -1, dtype=np.int64)
        targets[: len(steps)] = steps
        self.count.assign(0)
        self.targets.assign(targets)

    def stop(self) -> None:
        self.targets.assign(np.full(SNAPSHOT_TARGET, -1, dtype=np.int64))
        self.count.assign(0)

    def drain(self) -> list[tuple[int, float, list[np.ndarray]]]:
        """(step, running loss, weights) of every copy taken since the last drain."""
        k = int(self.count.numpy())
        if k == 0:
            return []
        steps, losses = self.steps.numpy()[:k], self.losses.numpy()[:k]
        values = [buffer.numpy()[:k] for buffer in self.slots]
        self.count.assign(0)
        return [(int(steps[i]), float(losses[i]), [v[i] for v in values]) for i in range(k)]


class SnapshotCallback(keras.callbacks.Callback):
    """Takes the snapshots of one training (see :mod:`rnnviz.training.snapshots`).

    Weights come from :class:`Capture` at evenly spaced steps, plus the initial weights and
    those of the last step run (when early stopping ended the training between two captures).
    Each is scored in a background thread, through a forward pass traced once per architecture
    that takes the weights as arguments, while the training goes on: scoring never touches the
    trainer's variables. The scoring sequences are the first of the validation split.
    """

    def __init__(
        self, model: keras.Model, trainer: keras.Model, config: Config, data: Dataset, steps: int
    ) -> None:
        super().__init__()
        self.capture: Capture = trainer._rnnviz_capture
        self.trainer = trainer
        self.steps_per_epoch = max(1, steps)
        self.steps = snapshot_steps(config.epochs * steps)
        n = snapshot_rows(config.n_features, len(data.x), config.seq_len)
        self.x, self.y, self.valid = data.x[:n], data.y[:n], data.valid[:n]
        self.sigma, self.seed = config.sigma, config.seed
        self.regression = config.task == "regression"
        rows = n * (1 + 2 * config.n_features)
        _, seq_len, n_features = model.input_shape

        def build(template: keras.Model):
            def forward(x, trainable, non_trainable):
                y, _ = template.stateless_call(trainable, non_trainable, x, training=False)
                return y

            x_spec = tf.TensorSpec((rows, seq_len, n_features), tf.float32)
            return traced(forward, [x_spec, *weight_specs(template)])

        self._fn = shared_trace(("snapshot", inference_key(model), rows), model, build)
        self._queue: queue.Queue = queue.Queue()
        self._taken: list[Snapshot] = []
        self._latest: Snapshot | None = None
        self._last_step = -1
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="rnnviz-snapshots", daemon=True)
        self._thread.start()

    def latest(self) -> Snapshot | None:
        """The newest snapshot scored so far (None before the first)."""
        return self._latest

    # -- in the training thread ------------------------------------------------------------
    def _submit(self, step: int, loss: float | None, values: list[np.ndarray]) -> None:
        self._last_step = step
        n = self.capture.n_trainable
        self._queue.put((step, loss, values[:n], values[n:]))

    def _drain(self) -> None:
        for step, loss, values in self.capture.drain():
            self._submit(step, loss, values)

    def on_train_begin(self, logs=None):
        self.capture.start(self.steps)
        self._submit(0, None, [np.array(v.numpy()) for v in self.capture.variables])

    def on_train_batch_end(self, batch, logs=None):
        self._drain()

    def on_train_end(self, logs=None):
        self._drain()
        done = int(self.trainer.optimizer.iterations.numpy())
        if done > self._last_step:  # early stopping ended between two captures
            loss = (logs or {}).get("loss")
            values = [np.array(v.numpy()) for v in self.capture.variables]
            self._submit(done, None if loss is None else float(loss), values)
        self.capture.stop()

    # -- in the scoring thread ---------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue
            step, loss, trainable, non_trainable = item
            try:
                tw = [tf.constant(v) for v in trainable]
                ntw = [tf.constant(v) for v in non_trainable]
                fn = concrete(self._fn)

                def predict(x, tw=tw, ntw=ntw, fn=fn):
                    y = fn(tf.constant(x), tw, ntw).numpy()
                    return y.reshape(len(x), -1)

                snap = snapshot_scores(
                    predict,
                    self.x,
                    y=self.y,
                    valid=self.valid,
                    sigma=self.sigma,
                    seed=self.seed,
                    step=step,
                    epoch=step / self.steps_per_epoch,
                    train_loss=loss,
                    regression=self.regression,
                )
            except Exception as exc:  # reported by finish(), in the training's thread
                self._error = exc
                continue
            self._taken.append(snap)
            self._latest = snap

    def finish(self) -> tuple[Snapshot, ...]:
        """Wait for the last snapshots to be scored; all of them, in step order."""
        self.close()
        if self._error is not None:
            raise self._error
        return tuple(sorted(self._taken, key=lambda s: s.step))

    def close(self) -> None:
        """Stop the scoring thread (also after a failed or interrupted training)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.capture.stop()
