"""The stacked LSTM: build it from a Config, train it with progress, predict in batches, save it.

Default recipe (``Config()``), chosen by measurement on 2 CPU cores: tanh LSTMs 10 -> 5, a
per-step Dense sigmoid head, inputs mapped from [0, 1) to [-1, 1) inside the model, Adam with
learning rate 0.03, batch 128, 3 epochs over 3,000 sequences, early stopping on validation loss.
It learns every preset rule on 10 of 10 seeds in about 0.7 s of fitting once a model of the same
shapes was trained in the process (``benchmarks/bench_recipe.py``); the recipe before it (4
epochs over 4,000 sequences, Adam 0.02) took 1.1 s for the same grades. ``PRESETS["reference"]``
keeps the Cross Validated thread's model and recipe (relu LSTMs, LSTM sigmoid head, batch 5,
Adam 1e-3), which is ~20x slower and fails to learn on some seeds.
"""

from __future__ import annotations

import functools
import json
import math
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from rnnviz.config import Config  # noqa: E402
from rnnviz.data.split import Dataset, check_balance, make_split, target_scale  # noqa: E402
from rnnviz.training.result import (  # noqa: E402, F401  (re-exported: the public names of training)
    LEARNED_ERROR_RATIO,
    Progress,
    ProgressFn,
    TrainResult,
    accuracy,
    cross_entropy,
    load,
    mse,
    r2_against,
)
from rnnviz.training.snapshots import (  # noqa: E402
    SNAPSHOT_TARGET,
    Snapshot,
    snapshot_rows,
    snapshot_scores,
    snapshot_steps,
)

# --------------------------------------------------------------------------- shared traces

SHARED_TRACES = 16  # traced functions kept, each with the model it was traced on
_SHARED_LOCK = threading.Lock()
_SHARED: OrderedDict[tuple, Any] = OrderedDict()


def _without_seeds(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_seeds(v) for k, v in value.items() if k != "seed"}
    if isinstance(value, list | tuple):
        return [_without_seeds(v) for v in value]
    return value


def inference_key(model: keras.Model) -> tuple:
    """What fixes a model's forward pass apart from the values of its weights.

    Its class, its config without random seeds (initialisers and dropout draw from them; the
    forward pass at inference reads neither) and its variables' shapes and dtypes. A model
    whose config cannot be read is an architecture of its own.
    """
    try:
        config = json.dumps(_without_seeds(model.get_config()), sort_keys=True, default=repr)
    except Exception:  # e.g. a subclassed model without get_config
        return ("model", id(model))
    variables = tuple(
        (tuple(v.shape), str(v.dtype))
        for v in (*model.trainable_variables, *model.non_trainable_variables)
    )
    return (type(model).__qualname__, config, variables)


def shared_trace(key: tuple, model: keras.Model, build: Callable[[keras.Model], Any]) -> Any:
    """``build(template)`` made once per ``key`` (the template is the first model seen).

    TensorFlow traces a ``tf.function`` on its first call and counts the traces of one Python
    function together: a new function per model traced once each still reads as retracing
    (the "triggered tf.function retracing" warning) and costs a trace (~0.4 s here) per model.
    Functions built on :meth:`keras.Model.stateless_call` take the weights as arguments (see
    :func:`weights`), so one trace serves every model of an architecture.
    """
    with _SHARED_LOCK:
        hit = _SHARED.get(key)
        if hit is None:
            hit = _SHARED[key] = build(model)
        _SHARED.move_to_end(key)
        while len(_SHARED) > SHARED_TRACES:
            _SHARED.popitem(last=False)
        return hit


def traced(fn: Callable, input_signature: list) -> Any:
    """``tf.function(fn, input_signature)``, its traces counted apart from other functions.

    TensorFlow's retracing warning counts the traces of every ``tf.function`` made from the
    same Python code together, so the one trace of each architecture's function (or of each
    model's, before :func:`shared_trace`) added up to "5 out of the last 10 calls triggered
    retracing". Wrapped in a ``functools.partial`` the function is counted on its own, and a
    warning means what it says: this function retraced.
    """
    return tf.function(functools.partial(fn), input_signature=input_signature)


def concrete(fn: Any) -> Any:
    """The one concrete function of ``fn`` (a ``tf.function`` whose signature fixes every
    shape), traced on first use and kept on ``fn``.

    Calling a ``tf.function`` looks up its trace from the arguments on every call (~0.5 ms
    here, as much as a forward pass of a few hundred sequences); its concrete function runs
    the trace directly, with the same kernels and the same numbers.
    """
    found = getattr(fn, "_rnnviz_concrete", None)
    if found is None:
        found = fn.get_concrete_function()
        fn._rnnviz_concrete = found
    return found


def weight_specs(model: keras.Model) -> list[list[tf.TensorSpec]]:
    """Input signature of :func:`weights`: [trainable specs, non-trainable specs]."""
    return [
        [tf.TensorSpec(tuple(v.shape), tf.as_dtype(v.dtype)) for v in variables]
        for variables in (model.trainable_variables, model.non_trainable_variables)
    ]


def weights(model: keras.Model) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
    """The current values of ``model``'s trainable and non-trainable variables, as tensors."""
    return (
        [tf.convert_to_tensor(v.value) for v in model.trainable_variables],
        [tf.convert_to_tensor(v.value) for v in model.non_trainable_variables],
    )


CALL_VALUES = 2**22  # layer outputs one 2048-row model call may hold (16 MB of float32)


def batch_rows_for(model: keras.Model) -> int:
    """Rows per model call for :class:`Predictor`: 2048, or 1024 (as before) for a model
    whose 2048 rows would hold more than ``CALL_VALUES`` numbers of layer outputs, or whose
    layer outputs cannot be read (e.g. a subclassed model).

    Measured on 2 cores (T = 10, the 16 hosted architectures: 4 cells x 4 layer sizes), the
    same rows in 2048-row calls took 0.6-1.0x the time of 1024-row calls, never more; 4096-row
    calls were slower again. Long sequences through wide layers keep 1024 rows, so no call
    holds more memory than before.
    """
    values = 0
    try:
        for layer in model.layers:
            for out in tf.nest.flatten(layer.output):
                values += math.prod(out.shape[1:])
    except (AttributeError, TypeError, ValueError):  # no fixed output shape to count
        return 1024
    return 2048 if 2048 * values <= CALL_VALUES else 1024


class Predictor:
    """``predict(x) -> y``: (m, T, F) inputs to (m, T_out) outputs in large batched calls.

    Model outputs accepted (batch first): ``(batch, T_out, 1)`` or ``(batch, T)``, one output
    per step; ``(batch, 1)`` or ``(batch,)``, one output per sequence (many-to-one: T_out = 1,
    never copied across steps). A model with k > 1 output units, ``(batch, T_out, k)`` or
    ``(batch, k)``, needs ``output_index`` to say which unit to explain.

    Every call to the model has the same shape (``batch_rows`` rows, by default
    :func:`batch_rows_for` the model; the last chunk padded), so each sequence goes through
    identical kernels wherever it sits in a batch: its outputs are bit-for-bit the same alone
    or among perturbed copies. Without this, float rounding that
    depends on the batch shape shows up as tiny non-zero "effects" of future inputs. The
    traced forward pass is shared by the models of one architecture (:func:`shared_trace`);
    a call binds this model's weights once and runs the trace's concrete function per batch
    (:func:`concrete`). A lock serialises calls, since TensorFlow does not promise that a
    shared model is safe to call from several threads.
    """

    def __init__(
        self, model: keras.Model, batch_rows: int | None = None, output_index: int | None = None
    ) -> None:
        self.model = model
        self.batch_rows = batch_rows = batch_rows or batch_rows_for(model)
        _, seq_len, n_features = model.input_shape
        self.seq_len, self.n_features = seq_len, n_features
        self.output_index = output_index
        self.n_outputs = self.output_steps(model.output_shape, seq_len, output_index)
        self._lock = threading.Lock()

        def build(template: keras.Model):
            def forward(x, trainable, non_trainable):
                y, _ = template.stateless_call(trainable, non_trainable, x, training=False)
                return y if output_index is None else y[..., output_index]

            x_spec = tf.TensorSpec((batch_rows, seq_len, n_features), tf.float32)
            return traced(forward, [x_spec, *weight_specs(template)])

        key = ("predict", inference_key(model), batch_rows, output_index)
        self._fn = shared_trace(key, model, build)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.seq_len, self.n_features):
            raise ValueError(
                f"inputs must have shape (n, {self.seq_len}, {self.n_features}), got {x.shape}"
            )
        out = np.empty((len(x), self.n_outputs), dtype=np.float32)
        pad = np.zeros((self.batch_rows, self.seq_len, self.n_features), dtype=np.float32)
        with self._lock:
            fn = concrete(self._fn)
            trainable, non_trainable = weights(self.model)
            for start in range(0, len(x), self.batch_rows):
                chunk = x[start : start + self.batch_rows]
                if len(chunk) < self.batch_rows:
                    pad[: len(chunk)] = chunk
                    chunk = pad
                y = fn(tf.constant(chunk), trainable, non_trainable).numpy()
                y = y.reshape(self.batch_rows, -1)
                if y.shape[1] != self.n_outputs:
                    raise ValueError(
                        f"the model gave {y.shape[1]} outputs per sequence, expected "
                        f"{self.n_outputs}"
                    )
                n = min(self.batch_rows, len(x) - start)
                out[start : start + n] = y[:n]
        return out

    OUTPUT_SHAPES = (
        "(batch, T, 1) or (batch, T) for one output per step, (batch, 1) or (batch,) for one "
        "output per sequence"
    )

    @staticmethod
    def output_steps(shape, seq_len: int, output_index: int | None) -> int:
        """T_out of a model's output shape (see the class docstring); ValueError naming what
        fits."""
        accepted = Predictor.OUTPUT_SHAPES
        if not isinstance(shape, tuple) or not all(d is None or isinstance(d, int) for d in shape):
            raise ValueError(
                f"the model has several outputs {shape}; rnnviz explains one: {accepted}"
            )
        dims = tuple(shape[1:])
        if output_index is not None:
            units = dims[-1] if dims else None
            if units is None or not 0 <= output_index < units:
                last = units - 1 if units else "?"
                raise ValueError(
                    f"output_index={output_index} does not pick an output unit of a model with "
                    f"output shape {shape} (units 0 .. {last} on the last axis)"
                )
            dims = dims[:-1]
        elif (len(dims) == 2 and dims[1] != 1) or (len(dims) == 1 and dims[0] not in (1, seq_len)):
            raise ValueError(
                f"the model's output shape {shape} has {dims[-1]} output units; rnnviz explains "
                f"one: {accepted}. Pick a unit with Predictor(model, output_index=k)."
            )
        if dims in ((), (1,)):
            return 1
        if len(dims) == 1 or (len(dims) == 2 and dims[1] == 1):
            if dims[0] is None:
                raise ValueError(f"the model's output steps must be fixed, got shape {shape}")
            return int(dims[0])
        raise ValueError(f"the model's output shape {shape} is not one rnnviz explains: {accepted}")


def _seeds(config: Config, n: int) -> list[int]:
    """``n`` independent seeds derived from ``config.seed`` (for initialisers and shuffling)."""
    state = np.random.SeedSequence([config.seed, _INIT_STREAM]).generate_state(n)
    return [int(s) for s in state]


_INIT_STREAM = 7  # separates the initialisers' seeds from the data splits' streams
_SHUFFLE_STREAM = 11


_CELL_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
    "bilstm": keras.layers.LSTM,  # one per direction, wrapped in Bidirectional
}


def build_model(config: Config) -> keras.Model:
    """The stacked recurrent model of ``config``: one sigmoid output per step, shape (n, T, 1).

    ``config.cell`` picks the layers: LSTM, GRU, SimpleRNN, or a bidirectional LSTM (a forward
    and a backward LSTM of ``units`` each, outputs concatenated). Every initialiser gets an
    explicit seed derived from ``config.seed``, so the initial weights depend on the config
    alone: no process-wide random state (Python's ``random``, which Keras's unseeded
    initialisers read, or TensorFlow's global seed) is read or set, and another thread building
    models meanwhile changes nothing. An LSTM model draws exactly the seeds it drew before
    the other cells existed (same weights, same cached results); the backward direction of a
    bidirectional layer has seeds of its own (a copied layer would start as the forward one).

    A regression task (``config.task``) has a linear head instead, followed by a fixed
    rescaling to the target's units (the training split's std and mean), so predictions,
    the loss and every perturbation effect are in those units (e.g. °C).
    """
    directions = 2 if config.cell == "bilstm" else 1
    seeds = iter(_seeds(config, 3 * (directions * len(config.units) + 1)))
    layer_class = _CELL_LAYERS[config.cell]

    def recurrent(
        units: int, activation: str, name: str, kind=keras.layers.LSTM, go_backwards=False
    ) -> keras.layers.RNN:
        return kind(
            units,
            activation=activation,
            return_sequences=True,
            go_backwards=go_backwards,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            recurrent_initializer=keras.initializers.Orthogonal(seed=next(seeds)),
            seed=next(seeds),  # dropout's generator (unused at dropout 0, but never unseeded)
            name=name,
        )

    inputs = keras.Input((config.seq_len, config.n_features), name="x")
    h = inputs
    if config.input_scaling:
        h = keras.layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(h)
    for i, (units, act) in enumerate(zip(config.units, config.activations, strict=True)):
        name = f"{config.cell}_{i + 1}"
        if config.cell == "bilstm":
            forward = recurrent(units, act, f"{name}_forward", layer_class)
            backward = recurrent(units, act, f"{name}_backward", layer_class, go_backwards=True)
            h = keras.layers.Bidirectional(forward, backward_layer=backward, name=name)(h)
        else:
            h = recurrent(units, act, name, layer_class)(h)
    scale = target_scale(config)
    head_activation = "sigmoid" if scale is None else "linear"
    if config.head == "lstm":
        out = recurrent(1, head_activation, "head")(h)
    else:
        out = keras.layers.Dense(
            1,
            activation=head_activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)),
            name="head",
        )(h)
    if scale is not None:
        out = keras.layers.Rescaling(scale[0], offset=scale[1], name="to_target_units")(out)
    name = "rnnviz_lstm" if config.cell == "lstm" else f"rnnviz_{config.cell}"
    return keras.Model(inputs, out, name=name)


class _Shuffled(keras.utils.PyDataset):
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


class _ProgressCallback(keras.callbacks.Callback):
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


class _TrainerPool:
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


_TRAINERS = _TrainerPool()


def _compiled_trainer(config: Config) -> keras.Model:
    trainer = build_model(config)
    trainer.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy" if config.task == "classification" else "mean_squared_error",
        jit_compile=False,  # XLA compile time is longer than this whole training
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    _Capture.install(trainer)
    return trainer


# Optimiser steps run inside one call of the compiled training function: fewer round trips
# between Python and TensorFlow (measured ~30% less training time for the default recipe).
STEPS_PER_EXECUTION = 8


# --------------------------------------------------------------------------- snapshots


class _Capture:
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


class _SnapshotCallback(keras.callbacks.Callback):
    """Takes the snapshots of one training (see :mod:`rnnviz.training.snapshots`).

    Weights come from :class:`_Capture` at evenly spaced steps, plus the initial weights and
    those of the last step run (when early stopping ended the training between two captures).
    Each is scored in a background thread, through a forward pass traced once per architecture
    that takes the weights as arguments, while the training goes on: scoring never touches the
    trainer's variables. The scoring sequences are the first of the validation split.
    """

    def __init__(
        self, model: keras.Model, trainer: keras.Model, config: Config, data: Dataset, steps: int
    ) -> None:
        super().__init__()
        self.capture: _Capture = trainer._rnnviz_capture
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


def _reset(trainer: keras.Model, model: keras.Model, learning_rate: float) -> None:
    """Give ``trainer`` the initial weights of ``model`` and a fresh optimiser state."""
    trainer.set_weights(model.get_weights())
    optimizer = trainer.optimizer
    for v in optimizer.variables:
        if v.path.endswith("learning_rate"):
            v.assign(learning_rate)
        else:
            v.assign(np.zeros(v.shape, dtype=v.dtype))


def train(
    config: Config,
    progress: ProgressFn | None = None,
    train_data: Dataset | None = None,
    val_data: Dataset | None = None,
    *,
    snapshots: bool = True,
) -> TrainResult:
    """Train the model of ``config`` on its seeded data (or the arrays given) and judge it.

    Steps where the rule is undefined (``valid`` false) carry zero weight in the loss.
    Raises DataError when the labels are (almost) one class (classification only). With
    ``snapshots`` the result carries what the network relied on at evenly spaced steps
    (``rnnviz.training.snapshots``; the weights are the same either way) and each progress report
    the
    newest one.
    """
    train_data = train_data or make_split(config, "train")
    val_data = val_data or make_split(config, "val")
    if config.task == "classification":
        check_balance(train_data)
    return _fit(config, train_data, val_data, progress, snapshots)


def _fit(
    config: Config,
    train_data: Dataset,
    val_data: Dataset,
    progress: ProgressFn | None,
    snapshots: bool = True,
) -> TrainResult:
    model = build_model(config)  # the result: seeded initial weights, trained weights copied in
    scale = target_scale(config)  # regression: (std, mean) of the target on the training split
    batch = min(config.batch_size, len(train_data.x))
    key = (inference_key(model), batch, len(val_data.x))  # same shapes: same compiled steps
    trainer = _TRAINERS.take(key) or _compiled_trainer(config)
    _reset(trainer, model, config.learning_rate)
    steps = len(train_data.x) // batch
    callbacks: list[keras.callbacks.Callback] = []
    recorder = None
    if snapshots:  # first: it sees the last step's weights before early stopping restores any
        recorder = _SnapshotCallback(model, trainer, config, val_data, steps)
        callbacks.append(recorder)
    if config.patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=config.patience, restore_best_weights=True)
        )
    if progress is not None:
        latest = recorder.latest if recorder is not None else (lambda: None)
        callbacks.append(_ProgressCallback(progress, config.epochs, steps, latest))
    start = time.perf_counter()
    taken: tuple[Snapshot, ...] = ()
    try:
        hist = trainer.fit(
            _Shuffled(train_data, batch, config.seed),
            validation_data=(val_data.x, val_data.y[..., None], val_data.valid.astype(np.float32)),
            validation_batch_size=len(val_data.x),  # one fixed-shape batch
            epochs=config.epochs,
            shuffle=False,  # _Shuffled orders each epoch; fit's own shuffle reads global state
            verbose=0,
            callbacks=callbacks,
        )
        model.set_weights(trainer.get_weights())
        if recorder is not None:
            taken = recorder.finish()
    finally:
        if recorder is not None:
            recorder.close()
        _TRAINERS.give(key, trainer)
    seconds = time.perf_counter() - start
    result = TrainResult(
        config=config,
        model=model,
        history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
        val_loss=0.0,
        val_accuracy=0.0,
        baseline_accuracy=val_data.majority_accuracy if scale is None else 0.0,
        seconds=seconds,
        epochs_run=len(hist.history["loss"]),
        snapshots=taken,
    )
    result.val_loss, result.val_accuracy = evaluate(
        result.predict, val_data, None if scale is None else scale[1]
    )
    return result


def evaluate(
    predict: Callable[[np.ndarray], np.ndarray], data: Dataset, regression_mean: float | None = None
) -> tuple[float, float]:
    """Binary cross-entropy and accuracy of ``predict`` on the valid steps of ``data``.

    With ``regression_mean`` (the training split's mean target): mean squared error and R²
    against always predicting that mean (1 - MSE / the mean's MSE), which the verdict grades as
    it grades an accuracy against a baseline of 0.
    """
    pred = predict(data.x)[data.valid]
    y = data.y[data.valid]
    if regression_mean is not None:
        return mse(y, pred), r2_against(y, pred, regression_mean)
    return cross_entropy(pred, y), accuracy(pred, y)


def save(result: TrainResult, folder: str | Path) -> Path:
    """Write the model (``model.keras``) and its config and metrics (``meta.json``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save(folder / "model.keras")
    meta = {"config": result.config.to_dict(), "history": result.history, **result.metrics()}
    meta["snapshots"] = [snap.to_dict() for snap in result.snapshots]
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder
