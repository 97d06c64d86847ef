"""Predictions of a Keras model in fixed-shape batches, and the traced forward passes behind them.

:class:`Predictor` turns a model into ``predict(x) -> y``. Its forward pass, like the snapshots'
and the gradient methods', is a ``tf.function`` built on :meth:`keras.Model.stateless_call`
that takes the weights as arguments, so one trace serves every model of an architecture
(:func:`shared_trace`, keyed by :func:`inference_key`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

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
