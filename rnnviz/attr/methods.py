"""Variable-importance methods for a sequence model, one small unit each behind one signature.

The Cross Validated thread rnnviz is built on lists the MLP methods reviewed by Olden et al.
(connection weights, Garson's algorithm, partial derivatives, input perturbation, sensitivity
analysis, backward stepwise elimination) and asks which of them carry over to LSTMs. rnnviz
runs them all on the same trained LSTM and scores each against the ground truth of the
synthetic rule (:mod:`rnnviz.data.truth`).

Shape of the API (after Captum's ``attr`` package and scikit-learn's permutation_importance):

* every method is ``fn(ctx: Context, **params) -> Attribution`` (a method run on top of another
  one, like temporal saliency rescaling, takes that one's Attribution as ``base``);
* :class:`Context` holds the model-agnostic ``predict`` ((m, T, F) -> (m, T_out) outputs),
  the sample ``x`` to explain, the mask ``valid`` of outputs whose target is defined (only
  those count, in every method that looks at outputs) and, for gradient and weight methods
  only, the Keras model;
* :class:`rnnviz.attr.attribution.Attribution` is the one result shape: ``importances`` (F, R),
and
  where the method has that grain ``cell`` (F, T, R) and a ``response`` (F, T_in, T_out, R)
  from which ``by_lag()`` derives. Perturbation, ablation and permutation get their response
  from one perturbed input step at a time (:func:`rnnviz.attr.scoring.copy_effects`), saliency
  from
  per-output gradients ``|d y_t / d x_s|``.
* :mod:`rnnviz.attr.registry` says what each method needs and takes;
:mod:`rnnviz.attr.comparison` runs
  several and scores them.

Cost: predictions go through ``ctx.predict`` in a few large batched calls, chunked (like
:mod:`rnnviz.attr.scoring`) so that no call holds more than ``ctx.max_values`` input numbers;
gradients go through one ``tf.GradientTape`` per chunk of the same size. Random methods draw
their noise or permutations from ``ctx.seed`` in a fixed order, so the numbers do not depend
on the chunk size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.scoring import (
    DEFAULT_MAX_VALUES,
    batched_copies,
    check_max_values,
    check_noise,
    check_x,
    copy_effects,
    copy_jobs,
    output_counts,
    perturbation_importance,
    predict_rows,
    rms_per_output,
    row_chunks,
)
from rnnviz.metrics import output_mask, rms

if TYPE_CHECKING:
    import keras

PredictFn = Callable[[np.ndarray], np.ndarray]
TrainFn = Callable[[tuple[int, ...]], float]

STEPWISE_MAX_FEATURES = 8
WEIGHTS_NOTE = "reads only input weights: ignores the recurrence and the gates' interplay"

__all__ = [
    "Attribution",
    "Context",
    "ablation",
    "connection_weights",
    "garson",
    "group_occlusion",
    "improved_stepwise_1",
    "improved_stepwise_2",
    "integrated_gradients",
    "lek",
    "permutation",
    "perturbation",
    "random_baseline",
    "saliency",
    "sigma_sweep",
    "stepwise",
    "temporal_saliency_rescaling",
]


# --------------------------------------------------------------------------- result and input


@dataclass(frozen=True, eq=False)
class Context:
    """What a method may look at: a batched predict, the sample to explain, optional extras.

    ``predict`` maps (m, T, F) to (m, T_out) probabilities; ``valid`` (n, T_out) marks the
    outputs whose target is defined: only those count in any score (None: every output);
    ``model`` is needed only by the gradient and weight methods; ``y`` only by the loss part of
    permutation. ``max_values`` bounds the input numbers held by one predict or gradient call.
    """

    predict: PredictFn
    x: np.ndarray  # (n, T, F) float32
    y: np.ndarray | None = None  # (n, T_out) true labels
    valid: np.ndarray | None = None  # (n, T_out) mask of defined targets (None: all)
    model: keras.Model | None = None
    seed: int = 0
    feature_names: tuple[str, ...] | None = None
    max_values: int = DEFAULT_MAX_VALUES

    def __post_init__(self) -> None:
        if not callable(self.predict):
            raise ValueError("predict must be callable: (m, T, F) inputs -> (m, T) outputs")
        x = check_x(self.x)
        object.__setattr__(self, "x", x)
        if self.valid is not None:
            valid = np.asarray(self.valid, bool)
            if valid.ndim != 2 or valid.shape[0] != x.shape[0]:
                raise ValueError(
                    f"valid must have shape ({x.shape[0]}, output steps), got {valid.shape}"
                )
            object.__setattr__(self, "valid", valid)
        if self.y is not None:
            y = np.asarray(self.y, dtype=np.float64)
            if y.ndim != 2 or y.shape[0] != x.shape[0]:
                raise ValueError(f"y must have shape ({x.shape[0]}, steps), got {y.shape}")
            valid = np.ones(y.shape, bool) if self.valid is None else self.valid
            if valid.shape != y.shape:
                raise ValueError(f"valid has shape {valid.shape} but y has {y.shape}")
            object.__setattr__(self, "y", y)
            object.__setattr__(self, "valid", valid)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise ValueError(f"seed must be a whole number, got {self.seed!r}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.feature_names is not None:
            names = tuple(str(n) for n in self.feature_names)
            if len(names) != x.shape[2]:
                raise ValueError(f"{len(names)} feature names for {x.shape[2]} features")
            object.__setattr__(self, "feature_names", names)
        check_max_values(self.max_values)

    @property
    def n(self) -> int:
        return self.x.shape[0]

    @property
    def seq_len(self) -> int:
        return self.x.shape[1]

    @property
    def n_features(self) -> int:
        return self.x.shape[2]

    @property
    def names(self) -> tuple[str, ...]:
        return self.feature_names or tuple(f"x{i + 1}" for i in range(self.n_features))

    @cached_property
    def base(self) -> np.ndarray:
        """(n, T_out) predictions on the unchanged sample (computed once)."""
        return predict_rows(self.predict, self.x, self.n)

    @cached_property
    def output_mask(self) -> np.ndarray | None:
        """(n, T_out) outputs that count, checked against the predictions; None = all of them."""
        return output_mask(self.valid, self.base.shape)

    @property
    def output_counts(self) -> np.ndarray:
        """(T_out,) sequences counted at each output step."""
        return output_counts(self.output_mask, self.base.shape)

    @cached_property
    def feature_means(self) -> np.ndarray:
        """(F,) mean of each feature over all sequences and steps of ``x``."""
        return self.x.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)


# --------------------------------------------------------------------------- helpers


def _copy_effects(ctx: Context, edit, per_step: bool, on_feature=None):
    """:func:`rnnviz.attr.scoring.copy_effects` on the context's sample, outputs and mask."""
    return copy_effects(
        ctx.predict, ctx.x, ctx.base, ctx.output_mask, edit, per_step, ctx.max_values, on_feature
    )


def _bce(p: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Binary cross-entropy over the valid steps; p (..., n, T) -> (...)."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return (loss * valid).sum(axis=(-2, -1)) / max(int(valid.sum()), 1)


def _need_model(ctx: Context, method: str) -> keras.Model:
    if ctx.model is None:
        raise ValueError(f"{method} needs the Keras model: pass Context(model=...)")
    return ctx.model


# --------------------------------------------------------------------------- gradients

_GRAD_LOCK = threading.Lock()


class _GradFns:
    """Traced gradient functions of one architecture, bound to one model's weights.

    The traced functions take the weights as arguments (``keras.Model.stateless_call``) and
    are shared by every model of the architecture
    (:func:`rnnviz.training.predictor.shared_trace`): one trace serves every model and every batch
    size, and a new model is never a retrace.
    """

    def __init__(self, model: keras.Model) -> None:
        from rnnviz.training.predictor import inference_key, shared_trace

        self.model = model
        self._traced = shared_trace(("gradients", inference_key(model)), model, _trace_gradients)

    def _call(self, name: str, *args: Any) -> Any:
        from rnnviz.training.predictor import weights

        return getattr(self._traced, name)(*args, *weights(self.model))

    def forward(self, x):
        return self._call("forward", x)

    def forward_sum(self, x):
        return self._call("forward_sum", x)

    def grad_sum(self, x):
        return self._call("grad_sum", x)

    def grad_select(self, x, select):
        return self._call("grad_select", x, select)


def _trace_gradients(template: keras.Model) -> Any:
    """tf.functions of (inputs, ..., trainable weights, non-trainable weights) for a model
    shaped like ``template`` (one trace each, whatever the batch size)."""
    from types import SimpleNamespace

    import tensorflow as tf

    from rnnviz.training.predictor import traced, weight_specs

    _, seq_len, n_features = template.input_shape
    x_spec = tf.TensorSpec((None, seq_len, n_features), tf.float32)
    w_specs = weight_specs(template)

    def outputs(x, trainable, non_trainable):
        y, _ = template.stateless_call(trainable, non_trainable, x, training=False)
        return tf.reshape(y, (tf.shape(x)[0], -1))

    def forward(x, trainable, non_trainable):
        return outputs(x, trainable, non_trainable)

    def forward_sum(x, trainable, non_trainable):
        return tf.reduce_sum(outputs(x, trainable, non_trainable), axis=1)

    def grad_sum(x, trainable, non_trainable):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(outputs(x, trainable, non_trainable))
        return tape.gradient(total, x)

    def grad_select(x, select, trainable, non_trainable):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(outputs(x, trainable, non_trainable) * select)
        return tape.gradient(total, x)

    select_spec = tf.TensorSpec((None, None), tf.float32)
    return SimpleNamespace(
        forward=traced(forward, [x_spec, *w_specs]),
        forward_sum=traced(forward_sum, [x_spec, *w_specs]),
        grad_sum=traced(grad_sum, [x_spec, *w_specs]),
        grad_select=traced(grad_select, [x_spec, select_spec, *w_specs]),
    )


def _grad_fns(model: keras.Model) -> _GradFns:
    return _GradFns(model)


def _np(tensor_fn: Callable, *args: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    with _GRAD_LOCK:
        out = tensor_fn(*(tf.constant(a, dtype=tf.float32) for a in args))
    return np.asarray(out.numpy(), dtype=np.float64)


def _check_model_fits(ctx: Context, model: keras.Model) -> None:
    shape = tuple(model.input_shape[1:])
    if shape != ctx.x.shape[1:]:
        raise ValueError(f"the model takes inputs (n, {shape[0]}, {shape[1]}), x is {ctx.x.shape}")


# --------------------------------------------------------------------------- methods


def perturbation(
    ctx: Context, *, sigma: float = 0.2, n_repeats: int = 5, per_step: bool = True
) -> Attribution:
    """The thread's method: RMS change of predictions under N(0, sigma) noise on one feature.

    :func:`rnnviz.attr.scoring.perturbation_importance` on the context (counted outputs only).
    """
    return perturbation_importance(
        ctx.predict,
        ctx.x,
        sigma=sigma,
        n_repeats=n_repeats,
        seed=ctx.seed,
        per_step=per_step,
        feature_names=ctx.names,
        max_values=ctx.max_values,
        valid=ctx.output_mask,
    )


def ablation(ctx: Context, *, baseline: str = "mean", per_step: bool = True) -> Attribution:
    """Occlusion: replace feature f (all steps, or one step s) by a baseline value.

    ``baseline`` is "zero" or "mean" (the feature's mean over ``ctx.x``). Score = RMS change of
    all counted predictions (over sequences and output steps). Deterministic, R = 1.
    """
    value = np.zeros(ctx.n_features, np.float32) if baseline == "zero" else ctx.feature_means

    def edit(copy: np.ndarray, job: tuple[int, int | None]) -> None:
        f, s = job
        if s is None:
            copy[:, :, f] = value[f]
        else:
            copy[:, s, f] = value[f]

    feature, response = _copy_effects(ctx, edit, per_step)
    return Attribution(
        "ablation",
        ctx.names,
        feature[:, None],
        note="a constant baseline makes inputs the model never saw",
        extra={"baseline": baseline, "baseline_values": value.astype(np.float64)},
        response=response,
        output_counts=ctx.output_counts,
    )


def permutation(ctx: Context, *, n_repeats: int = 5, per_step: bool = True) -> Attribution:
    """Shuffle feature f across sequences (all steps together, or one step s), seeded.

    Score = RMS change of all counted predictions, per repeat. With labels in ``ctx``, also the
    rise in binary cross-entropy on valid steps: ``extra["loss_increase"]`` (F, R), which is
    scikit-learn's permutation_importance with log loss.
    """
    if ctx.n < 2:
        raise ValueError("permutation needs at least 2 sequences to shuffle across")
    n, seq_len, n_features = ctx.x.shape
    base = ctx.base
    jobs: list[tuple[int, int | None]] = [(f, None) for f in range(n_features)]
    if per_step:
        jobs += [(f, s) for f in range(n_features) for s in range(seq_len)]
    index = {job: j for j, job in enumerate(jobs)}  # as copy_effects orders them
    feature = np.empty((n_features, n_repeats))
    response = np.empty((n_features, seq_len, base.shape[1], n_repeats)) if per_step else None
    labelled = ctx.y is not None
    if labelled and ctx.y.shape != base.shape:
        raise ValueError(f"y has shape {ctx.y.shape} but predictions have {base.shape}")
    loss = np.empty((n_features, n_repeats)) if labelled else None
    base_loss = float(_bce(base, ctx.y, ctx.valid)) if labelled else None
    for r in range(n_repeats):

        def edit(copy: np.ndarray, job: tuple[int, int | None], r: int = r) -> None:
            # One generator per (seed, repeat, job): chunking cannot change the draws.
            rng = np.random.default_rng([ctx.seed, r, index[job]])
            perm = rng.permutation(n)
            f, s = job
            if s is None:
                copy[:, :, f] = copy[perm, :, f]
            else:
                copy[:, s, f] = copy[perm, s, f]

        def on_feature(f: int, out: np.ndarray, r: int = r) -> None:
            loss[f, r] = _bce(out, ctx.y, ctx.valid) - base_loss

        feature[:, r], cells = _copy_effects(ctx, edit, per_step, on_feature if labelled else None)
        if response is not None:
            response[..., r] = cells
    extra: dict = {"n_repeats": n_repeats}
    if loss is not None:
        extra["loss_increase"] = loss
        extra["base_loss"] = base_loss
    return Attribution(
        "permutation",
        ctx.names,
        feature,
        note="shuffling breaks the links between features; noisy with few sequences",
        extra=extra,
        response=response,
        output_counts=ctx.output_counts,
    )


def saliency(ctx: Context, *, per_lag: bool = True) -> Attribution:
    """Partial derivatives: mean over sequences of |d(sum over counted outputs)/d x[s, f]|.

    ``cell`` (F, T) is that mean; ``importances`` its mean over steps. With ``per_lag``, the
    per-output gradients |d y_t / d x[s, f]| (one backward pass on a batch where each
    sequence is repeated once per output step), averaged over the sequences counted at t,
    give the ``response`` (F, T_in, T_out; NaN where no output counted) and so ``by_lag()``.
    Deterministic, R = 1.
    """
    model = _need_model(ctx, "saliency")
    _check_model_fits(ctx, model)
    fns = _grad_fns(model)
    n, seq_len, n_features = ctx.x.shape
    mask = ctx.output_mask
    cell_sum = np.zeros((seq_len, n_features))
    response = None
    if per_lag:
        n_out = ctx.base.shape[1]
        select = np.eye(n_out, dtype=np.float32)
        resp_sum = np.zeros((n_out, seq_len, n_features))
        for rows in row_chunks(n, n_out * seq_len * n_features, ctx.max_values):
            chunk = ctx.x[rows]
            m = len(chunk)
            grads = _np(
                fns.grad_select, np.repeat(chunk, n_out, axis=0), np.tile(select, (m, 1))
            ).reshape(m, n_out, seq_len, n_features)
            if mask is not None:  # outputs without a target contribute nothing
                grads = grads * mask[rows, :, None, None]
            cell_sum += np.abs(grads.sum(axis=1)).sum(axis=0)
            resp_sum += np.abs(grads).sum(axis=0)
        if mask is None:
            response = (resp_sum / n).transpose(2, 1, 0)  # (F, T_in, T_out)
        else:
            counts = ctx.output_counts[:, None, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                response = np.where(counts > 0, resp_sum / counts, np.nan).transpose(2, 1, 0)
    else:
        for rows in row_chunks(n, seq_len * n_features, ctx.max_values):
            chunk = ctx.x[rows]
            if mask is None:
                grads = _np(fns.grad_sum, chunk)
            else:
                grads = _np(fns.grad_select, chunk, mask[rows].astype(np.float32))
            cell_sum += np.abs(grads).sum(axis=0)
    return _per_sequence_mean(
        "saliency",
        ctx,
        cell_sum,
        "a local slope at the sample: blind where the model saturates",
        response=response,
        output_counts=ctx.output_counts,
    )


def integrated_gradients(
    ctx: Context, *, baseline: str = "zero", steps: int = 32, integration: str = "trapezoid"
) -> Attribution:
    """Integrated gradients of the sum over counted outputs, per sequence (Sundararajan et al.).

    attr[i, s, f] = (x - b)[i, s, f] * integral over a in [0, 1] of the gradient at
    b + a (x - b), by the trapezoid or midpoint rule with ``steps`` intervals; ``baseline`` b
    is "zero" or "mean" (each feature's mean over ``ctx.x``, at every step). Reports the mean
    |attr| per cell (F, T) and its mean over steps per feature. Completeness says
    sum(attr[i]) = F(x_i) - F(b); ``extra["completeness_gap"]`` is the largest violation over
    sequences divided by the mean |F(x_i) - F(b)| (floored at 1e-6), the absolute one is in
    ``extra["completeness_gap_abs"]``.
    """
    model = _need_model(ctx, "integrated_gradients")
    _check_model_fits(ctx, model)
    fns = _grad_fns(model)
    n, seq_len, n_features = ctx.x.shape
    if integration == "trapezoid":
        alphas = np.linspace(0.0, 1.0, steps + 1)
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2
    else:
        alphas = (np.arange(steps) + 0.5) / steps
        weights = np.full(steps, 1.0 / steps)
    means = ctx.feature_means if baseline == "mean" else np.zeros(n_features, np.float32)
    b = np.broadcast_to(means, (seq_len, n_features)).astype(np.float32)
    mask = ctx.output_mask
    if mask is None:
        f_base = _np(fns.forward_sum, b[None])[0]
    else:  # F_i sums the outputs counted for sequence i: its value at b depends on i
        b_out = _np(fns.forward, b[None])[0]
    abs_sum = np.zeros((seq_len, n_features))
    signed_sum = np.zeros((seq_len, n_features))
    gaps, deltas = [], []
    for rows in row_chunks(n, len(alphas) * seq_len * n_features, ctx.max_values):
        chunk = ctx.x[rows]
        m = len(chunk)
        diff = chunk - b[None]
        path = (b[None, None] + alphas[:, None, None, None] * diff[None]).astype(np.float32)
        path = path.reshape(-1, seq_len, n_features)
        if mask is None:
            grads = _np(fns.grad_sum, path)
            delta = _np(fns.forward_sum, chunk) - f_base
        else:
            select = mask[rows].astype(np.float32)
            grads = _np(fns.grad_select, path, np.tile(select, (len(alphas), 1)))
            delta = ((_np(fns.forward, chunk) - b_out[None]) * select).sum(axis=1)
        grads = grads.reshape(len(alphas), m, seq_len, n_features)
        attr = diff * np.tensordot(weights, grads, axes=1)
        gaps.append(np.abs(attr.sum(axis=(1, 2)) - delta))
        deltas.append(np.abs(delta))
        abs_sum += np.abs(attr).sum(axis=0)
        signed_sum += attr.sum(axis=0)
    gap = float(np.concatenate(gaps).max())
    scale = max(float(np.concatenate(deltas).mean()), 1e-6)
    return _per_sequence_mean(
        "integrated_gradients",
        ctx,
        abs_sum,
        "depends on the baseline it integrates from",
        extra={
            "baseline": baseline,
            "steps": steps,
            "integration": integration,
            "completeness_gap": gap / scale,
            "completeness_gap_abs": gap,
            "signed_cell": (signed_sum / n).T,
        },
    )


def _rnn_kernel(layer: keras.layers.RNN) -> np.ndarray:
    """``cell.kernel`` (inputs, gates x units) as (inputs, gates, units)."""
    kernel = np.asarray(layer.cell.kernel, dtype=np.float64)
    units = int(layer.cell.units)
    return kernel.reshape(kernel.shape[0], kernel.shape[1] // units, units)


def _per_sequence_mean(
    method: str, ctx: Context, cell_sum: np.ndarray, note: str, **fields: Any
) -> Attribution:
    """A gradient method's result from its (T, F) sum of |attribution| over the sequences:
    the mean per (feature, step) cell and, per feature, its mean over steps (R = 1)."""
    cell = (cell_sum / ctx.n).T
    return Attribution(
        method, ctx.names, cell.mean(axis=1)[:, None], cell[..., None], note, **fields
    )


def _kernel_chain(model: keras.Model) -> list[np.ndarray]:
    """Input kernels from input to output, each (inputs, gates, units).

    LSTM/GRU/SimpleRNN: ``cell.kernel`` (inputs, gates x units) split by gate (LSTM: i, f, c,
    o); Dense: (inputs, 1, units). A Bidirectional layer whose outputs are concatenated
    (``merge_mode="concat"``, Keras's default and rnnviz's) is a hidden layer of 2 x units:
    the forward kernel's units, then the backward one's, as the next layer reads them; other
    merges (sum, average, product) are refused. A Rescaling layer multiplies the rows of the
    next kernel by its scale (its offset, like every bias, is ignored). Recurrent kernels are
    never read.
    """
    import keras

    chain: list[np.ndarray] = []
    pending: np.ndarray | None = None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Rescaling):
            scale = np.asarray(layer.scale, dtype=np.float64)
            pending = scale if pending is None else pending * scale
            continue
        if isinstance(layer, keras.layers.RNN) and hasattr(layer.cell, "kernel"):
            kernel = _rnn_kernel(layer)
        elif isinstance(layer, keras.layers.Bidirectional):
            if layer.merge_mode != "concat":
                raise ValueError(
                    f"connection weights read a Bidirectional layer whose directions are "
                    f"concatenated; layer {layer.name!r} has merge_mode {layer.merge_mode!r}"
                )
            directions = (layer.forward_layer, layer.backward_layer)
            kernel = np.concatenate([_rnn_kernel(d) for d in directions], axis=2)
        elif isinstance(layer, keras.layers.Dense):
            kernel = np.asarray(layer.kernel, dtype=np.float64)[:, None, :]
        elif not layer.weights:
            continue
        else:
            raise ValueError(
                f"connection weights read LSTM/GRU/SimpleRNN/Bidirectional/Dense chains; layer "
                f"{layer.name!r} ({type(layer).__name__}) is not one of them"
            )
        if pending is not None:
            kernel = kernel * np.broadcast_to(pending, (kernel.shape[0],))[:, None, None]
            pending = None
        chain.append(kernel)
    if not chain:
        raise ValueError("the model has no Dense or recurrent layer to read weights from")
    return chain


def connection_weights(ctx: Context) -> Attribution:
    """Olden's connection weights carried to a stacked LSTM.

    For an MLP, Olden multiplies input-hidden by hidden-output weights and sums over hidden
    units: ``W1 @ W2 @ ... @ W_out``. Here each layer's input kernel (inputs, 4 x units) is
    summed over its four gates to (inputs, units) and the product chain runs from the first
    LSTM through the later LSTMs' input kernels to the head (Dense kernel, or the LSTM head's
    kernel summed over gates). The score is |product| per feature (the signed product is in
    ``extra["signed"]``). Recurrent kernels, biases and the gates' nonlinear interplay are
    ignored, and so is ``ctx.valid``: no output enters. Deterministic, feature grain only.
    """
    chain = _kernel_chain(_need_model(ctx, "connection_weights"))
    _check_chain(ctx, chain)
    product = chain[0].sum(axis=1)
    for kernel in chain[1:]:
        product = product @ kernel.sum(axis=1)
    signed = product.sum(axis=1)
    return Attribution(
        "connection_weights",
        ctx.names,
        np.abs(signed)[:, None],
        None,
        WEIGHTS_NOTE,
        {"signed": signed},
    )


def garson(ctx: Context) -> Attribution:
    """Garson's algorithm on the first LSTM layer, weighted by the rest of the network.

    Input-hidden magnitudes ``w[i, h]`` = sum over the four gates of |kernel| of the first
    layer; hidden-output magnitudes ``v[h]`` = the product chain of the later layers'
    gate-summed |kernels| down to the output (1 when the first layer is the output). Then
    Garson: ``c = w * v``, each hidden unit's column is normalised to shares, the shares are
    summed per input and normalised to sum to 1. Reads weights only (no output, so
    ``ctx.valid`` cannot enter). Deterministic, feature grain only.
    """
    chain = _kernel_chain(_need_model(ctx, "garson"))
    _check_chain(ctx, chain)
    w = np.abs(chain[0]).sum(axis=1)  # (F, units)
    v = np.ones(w.shape[1])
    if len(chain) > 1:
        rest = np.abs(chain[1]).sum(axis=1)
        for kernel in chain[2:]:
            rest = rest @ np.abs(kernel).sum(axis=1)
        v = rest.sum(axis=1)
    c = w * v[None, :]
    col = c.sum(axis=0, keepdims=True)
    shares = np.divide(c, col, out=np.zeros_like(c), where=col > 0).sum(axis=1)
    total = shares.sum()
    relative = shares / total if total > 0 else shares
    return Attribution("garson", ctx.names, relative[:, None], None, WEIGHTS_NOTE, {})


def _check_chain(ctx: Context, chain: list[np.ndarray]) -> None:
    if chain[0].shape[0] != ctx.n_features:
        raise ValueError(
            f"the first kernel reads {chain[0].shape[0]} inputs, x has {ctx.n_features} features"
        )


def lek(
    ctx: Context,
    *,
    n_points: int = 20,
    quantiles: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
) -> Attribution:
    """Lek's profile method (the thread's "sensitivity analysis").

    Feature f sweeps ``n_points`` values from its min to its max over ``ctx.x`` while every
    other feature is held at one of its ``quantiles`` (over all sequences and steps), the
    same value at every step. Response = mean prediction over the counted output steps (each
    step weighted by the share of ``ctx.x``'s sequences counted there; all steps equally
    without a mask). ``extra["curves"]`` (F, Q, P), ``extra["grid"]`` (F, P); score = range of
    the median-over-quantiles curve. All F x Q x P constant sequences go through the model in
    batched calls.
    """
    n, seq_len, n_features = ctx.x.shape
    flat = ctx.x.reshape(-1, n_features).astype(np.float64)
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_points)[None]  # (F, P)
    held = np.quantile(flat, np.asarray(quantiles, dtype=np.float64), axis=0)  # (Q, F)
    n_q = len(quantiles)
    rows = np.empty((n_features, n_q, n_points, n_features), dtype=np.float32)
    rows[:] = held[None, :, None, :]
    for f in range(n_features):
        rows[f, :, :, f] = grid[f][None, :]
    rows = rows.reshape(-1, n_features)
    mask = ctx.output_mask
    step_weights = None if mask is None else mask.mean(axis=0)
    response = np.empty(len(rows))
    for part in row_chunks(len(rows), seq_len * n_features, ctx.max_values):
        batch = np.repeat(rows[part, None, :], seq_len, axis=1)
        out = predict_rows(ctx.predict, batch, len(batch))
        if step_weights is None:
            response[part] = out.mean(axis=1)
        else:
            response[part] = (
                np.where(step_weights > 0, out, 0.0) @ step_weights / step_weights.sum()
            )
    curves = response.reshape(n_features, n_q, n_points)
    median = np.median(curves, axis=1)
    score = median.max(axis=1) - median.min(axis=1)
    return Attribution(
        "lek",
        ctx.names,
        score[:, None],
        None,
        "constant synthetic sequences, far from the data a sequence model saw",
        {"curves": curves, "grid": grid, "quantiles": tuple(float(q) for q in quantiles)},
    )


def stepwise(ctx: Context, *, train_fn: TrainFn) -> Attribution:
    """Backward stepwise elimination, first step: retrain without each feature in turn.

    ``train_fn(kept)`` gives the validation loss of the model trained on the kept feature
    indices (see :func:`rnnviz.experiment.make_stepwise_trainer`). Score = loss without
    feature f minus loss with all features; F + 1 losses, of which the one with all features
    needs no training when the trainer was given the trained model. Bounded by F <= 8.
    Deterministic when ``train_fn`` is.
    """
    n_features = ctx.n_features
    check_stepwise(ctx)
    everything = tuple(range(n_features))
    base_loss = float(train_fn(everything))
    losses = np.array([float(train_fn(tuple(g for g in everything if g != f))) for f in everything])
    return Attribution(
        "stepwise",
        ctx.names,
        (losses - base_loss)[:, None],
        None,
        "retrains without each feature: scores what the architecture can learn, "
        "not what this model uses",
        {"base_loss": base_loss, "losses": losses},
    )


def check_stepwise(ctx: Context, params: Any = None) -> None:
    """Stepwise elimination retrains once per feature: at most STEPWISE_MAX_FEATURES."""
    if ctx.n_features > STEPWISE_MAX_FEATURES:
        raise ValueError(
            f"stepwise retrains the model once per feature ({ctx.n_features} times); it is "
            f"limited to {STEPWISE_MAX_FEATURES} features (use fewer features)"
        )


def sigma_sweep(
    ctx: Context,
    *,
    sigmas: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8),
    n_repeats: int = 5,
) -> Attribution:
    """Perturbation importance at several noise scales (feature grain).

    ``extra["curves"]`` (F, S) mean scores per sigma, ``extra["curves_std"]`` their std;
    ``importances`` = the repeats at the middle sigma.
    """
    results = [
        perturbation(ctx, sigma=float(s), n_repeats=n_repeats, per_step=False) for s in sigmas
    ]
    middle = len(sigmas) // 2
    return Attribution(
        "sigma_sweep",
        ctx.names,
        results[middle].importances,
        None,
        "the ranking can change with the noise scale: read the curves",
        {
            "sigmas": np.asarray(sigmas, dtype=np.float64),
            "curves": np.stack([r.importances_mean for r in results], axis=1),
            "curves_std": np.stack([r.importances_std for r in results], axis=1),
            "sigma": float(sigmas[middle]),
        },
    )


def random_baseline(ctx: Context, seed: int | None = None) -> Attribution:
    """Uniform random scores per feature, cell and lag: the comparison's chance row."""
    seed = ctx.seed if seed is None else seed
    rng = np.random.default_rng([int(seed), 0x52A9D])
    n_features, seq_len = ctx.n_features, ctx.seq_len
    feature = rng.random((n_features, 1))
    cell = rng.random((n_features, seq_len, 1))
    by_lag = rng.random((n_features, seq_len))
    return Attribution(
        "random", ctx.names, feature, cell, "chance level", {"seed": seed}, lag_scores=by_lag
    )


def temporal_saliency_rescaling(ctx: Context, *, base: Attribution) -> Attribution:
    """Two-step temporal saliency rescaling (Ismail et al., NeurIPS 2020), simplified.

    1. Time relevance tau[s] = RMS change of all counted predictions when every feature at
       step s is replaced by its mean over ``ctx.x`` (one batched ablation per step).
    2. Steps with tau above its mean are kept (all steps if none is, e.g. all equal).
    3. cell[f, s] = base cell score x tau[s] on kept steps, 0 elsewhere; importances = mean
       over steps. ``base`` is the Attribution of a method with cell grain on ``ctx``.

    Ismail et al. rescale by masking and re-running the saliency method itself; rescaling by
    the model's response to masking a step keeps it one batched pass and model-agnostic.
    """
    if base.cell is None:
        raise ValueError(f"tsr needs per-step scores from {base.method}: leave per_step on")
    means = ctx.feature_means

    def edit(copy: np.ndarray, s: int) -> None:
        copy[:, s, :] = means

    base_pred, mask = ctx.base, ctx.output_mask
    tau = np.empty(ctx.seq_len)
    steps = list(range(ctx.seq_len))
    for chunk, out in batched_copies(ctx.predict, ctx.x, steps, edit, ctx.max_values):
        for k, s in enumerate(chunk):
            tau[s] = rms((out[k] - base_pred) ** 2, mask)
    keep = tau > tau.mean()
    if not keep.any():
        keep[:] = True
    weight = np.where(keep, tau, 0.0)
    cell = base.cell * weight[None, :, None]
    return Attribution(
        f"tsr:{base.method}",
        ctx.names,
        cell.mean(axis=1),
        cell,
        f"{base.note}; rescaled by each step's relevance",
        {"base": base.method, "time_relevance": tau, "kept_steps": keep},
    )


# --------------------------------------------------------------------------- groups of cells

GROUPINGS = ("window", "block", "tile")  # steps (all features), features (all steps), both
GROUP_EDITS = ("occlude", "noise")
OVERLAPS = ("none", "sliding")


def _spans(length: int, size: int, sliding: bool) -> list[tuple[int, int]]:
    """[start, stop) spans of ``size`` (at most ``length``) along an axis of ``length``:
    side by side (the last one may be shorter) or, ``sliding``, one starting at every index."""
    size = min(size, length)
    if sliding:
        return [(a, a + size) for a in range(length - size + 1)]
    return [(a, min(a + size, length)) for a in range(0, length, size)]


def group_spans(
    seq_len: int,
    n_features: int,
    grouping: str = "window",
    window: int = 5,
    block: int = 1,
    overlap: str = "none",
) -> np.ndarray:
    """(G, 4) int: each group's [step start, step stop, feature start, feature stop).

    ``window``: ``window`` consecutive steps of every feature; ``block``: ``block``
    consecutive features at every step; ``tile``: a block of features over a window of steps.
    A window or block larger than the sample covers all of it. ``overlap`` "none" lays the
    groups side by side (each cell in one group); "sliding" starts one at every step (and
    feature), as Captum's ``Occlusion`` with strides of 1.
    """
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping must be one of {', '.join(GROUPINGS)}, got {grouping!r}")
    if overlap not in OVERLAPS:
        raise ValueError(f"overlap must be one of {', '.join(OVERLAPS)}, got {overlap!r}")
    for name, size in (("window", window), ("block", block)):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {size!r}")
    sliding = overlap == "sliding"
    steps = _spans(seq_len, window, sliding) if grouping != "block" else [(0, seq_len)]
    features = _spans(n_features, block, sliding) if grouping != "window" else [(0, n_features)]
    return np.array([(s0, s1, f0, f1) for f0, f1 in features for s0, s1 in steps], dtype=np.int64)


def group_occlusion(
    ctx: Context,
    *,
    grouping: str = "window",
    window: int = 5,
    block: int = 1,
    overlap: str = "none",
    edit: str = "occlude",
    baseline: str = "mean",
    sigma: float = 0.2,
    n_repeats: int = 5,
) -> Attribution:
    """Effects at a coarser scale: edit a whole group of cells at once (:func:`group_spans`).

    Where the evidence is redundant (many cells say the same thing) or the model is sure, one
    cell changes nothing, while the group that holds the evidence does. ``edit`` "occlude"
    replaces every cell of the group by ``baseline`` (as :func:`ablation`: "zero", or each
    feature's mean over ``ctx.x``; R = 1); "noise" adds N(0, ``sigma``) to each of them (as
    :func:`perturbation`, ``n_repeats`` draws, each from its own (seed, repeat, group)
    generator, so chunking cannot change them). A group's effect is the RMS change of all
    counted outputs; ``extra["group_effects"]`` (G, R), ``extra["groups"]`` (G, 4).

    The cell map (F, T, R) spreads each group's effect over its cells: every cell of a group
    gets the group's effect, and a cell in several (sliding) groups the mean of theirs, as
    Captum's ``Occlusion`` averages over the windows covering a feature. So it is scored at the
    (feature, step) grain like any other cell map; ``response`` (F, T_in, T_out, R) spreads the
    groups' per-output RMS the same way (lags from it), and ``importances`` are the cells'
    means over steps: under ``window`` every feature gets the same score (they are edited
    together), so only the step axis says anything there.
    """
    n, seq_len, n_features = ctx.x.shape
    if edit not in GROUP_EDITS:
        raise ValueError(f"edit must be one of {', '.join(GROUP_EDITS)}, got {edit!r}")
    if edit == "noise":
        check_noise(sigma, n_repeats)
    groups = group_spans(seq_len, n_features, grouping, window, block, overlap)
    value = np.zeros(n_features, np.float32) if baseline == "zero" else ctx.feature_means
    base, mask = ctx.base, ctx.output_mask
    repeats = n_repeats if edit == "noise" else 1
    effect = np.empty((len(groups), repeats))
    per_output = np.empty((len(groups), base.shape[1], repeats))
    jobs = list(range(len(groups)))
    for r in range(repeats):

        def change(copy: np.ndarray, g: int, r: int = r) -> None:
            s0, s1, f0, f1 = groups[g]
            if edit == "occlude":
                copy[:, s0:s1, f0:f1] = value[f0:f1]
            else:
                rng = np.random.default_rng([ctx.seed, r, g])
                noise = rng.standard_normal((n, s1 - s0, f1 - f0), dtype=np.float32)
                copy[:, s0:s1, f0:f1] += noise * np.float32(sigma)

        for chunk, out in batched_copies(ctx.predict, ctx.x, jobs, change, ctx.max_values):
            diff2 = (out - base[None]) ** 2
            for k, g in enumerate(chunk):
                effect[g, r] = rms(diff2[k], mask)
                per_output[g, :, r] = rms_per_output(diff2[k], mask)
    cover = np.zeros((n_features, seq_len))
    cell = np.zeros((n_features, seq_len, repeats))
    response = np.zeros((n_features, seq_len, base.shape[1], repeats))
    for g, (s0, s1, f0, f1) in enumerate(groups):
        cover[f0:f1, s0:s1] += 1
        cell[f0:f1, s0:s1] += effect[g]
        response[f0:f1, s0:s1] += per_output[g]
    cell /= cover[..., None]
    response /= cover[..., None, None]
    w0, w1 = int(groups[0, 1] - groups[0, 0]), int(groups[0, 3] - groups[0, 2])
    extra: dict = {
        "grouping": grouping,
        "window": w0,  # as used: at most the sequence's length
        "block": w1,  # at most the number of features
        "overlap": overlap,
        "edit": edit,
        "groups": groups,
        "group_effects": effect,
    }
    if edit == "occlude":
        extra |= {"baseline": baseline, "baseline_values": value.astype(np.float64)}
    return Attribution(
        "group",
        ctx.names,
        cell.mean(axis=1),
        cell,
        "each cell shows its group's effect: it cannot tell the cells of one group apart",
        extra,
        response=response,
        output_counts=ctx.output_counts,
        sigma=float(sigma) if edit == "noise" else None,
    )


# --------------------------------------------------------------------------- improved stepwise

LOSSES = ("auto", "cross-entropy", "mse")
OWN_PREDICTIONS = "mse against the model's own predictions"


def _loss_setup(ctx: Context, loss: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(targets (n, T_out), counted outputs (n, T_out), the loss's name) for the stepwise
    selections: the labels ``ctx.y`` and cross-entropy (0/1 labels) or mean squared error,
    or, without labels, the squared distance from the unchanged sample's own predictions."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    base = ctx.base
    counted = np.ones(base.shape, bool) if ctx.output_mask is None else ctx.output_mask
    if ctx.y is None:
        if loss == "cross-entropy":
            raise ValueError("the cross-entropy loss needs the labels: pass Context(y=...)")
        return base, counted, OWN_PREDICTIONS
    if ctx.y.shape != base.shape:
        raise ValueError(f"y has shape {ctx.y.shape} but predictions have {base.shape}")
    counted = counted & ctx.valid
    labels = ctx.y[counted]
    binary = bool(np.isin(labels, (0.0, 1.0)).all()) and bool(
        ((base[counted] >= 0) & (base[counted] <= 1)).all()
    )
    if loss == "auto":
        loss = "cross-entropy" if binary else "mse"
    if loss == "cross-entropy" and not binary:
        raise ValueError("the cross-entropy loss needs 0/1 labels and probabilities: use mse")
    return ctx.y, counted, loss


def _loss_of(outputs: np.ndarray, targets: np.ndarray, counted: np.ndarray, kind: str):
    """The loss of outputs (..., n, T_out) over the counted outputs: (...)."""
    if kind == "cross-entropy":
        return _bce(outputs, targets, counted)
    squares = np.where(counted, (outputs - targets) ** 2, 0.0)
    return squares.sum(axis=(-2, -1)) / max(int(counted.sum()), 1)


def _fix_at(values: np.ndarray) -> Callable[[np.ndarray, Any], None]:
    """An edit fixing features (a job (f, s): feature f at step s, or at every step when s is
    None; a list of features: those at every step) at ``values`` (F,)."""

    def edit(copy: np.ndarray, job: Any) -> None:
        if isinstance(job, list):
            copy[:, :, job] = values[job]
            return
        f, s = job
        if s is None:
            copy[:, :, f] = values[f]
        else:
            copy[:, s, f] = values[f]

    return edit


def improved_stepwise_1(ctx: Context, *, per_step: bool = True, loss: str = "auto") -> Attribution:
    """Improved stepwise selection 1 (Gevrey, Dimopoulos & Lek 2003, Ecological Modelling 160:
    249-264; compared by Olden, Joy & Death 2004, Ecological Modelling 178: 389-397).

    Definition (Gevrey et al.'s improved stepwise selections, as Olden et al. compare them):
    the trained network is *not* retrained; each input in turn is fixed at its mean (over the
    sample) while the others keep their values, and the input's contribution is the increase
    of the model's error (MSE there) over the error with every input. Here the error is the
    model's own loss over the counted outputs (``loss`` "auto": cross-entropy for 0/1 labels,
    MSE otherwise; without labels in ``ctx``, the mean squared change from the model's own
    predictions, which the note then says), and an input is a feature at every step or, with
    ``per_step``, one (feature, step) cell (``cell``, F, T, 1). It is :func:`ablation` with
    the mean baseline scored by the loss instead of the RMS change. Deterministic, R = 1;
    ``extra``: ``base_loss``, ``fixed_losses`` (F,) the loss with each feature fixed, ``loss``.
    """
    n, seq_len, n_features = ctx.x.shape
    targets, counted, kind = _loss_setup(ctx, loss)
    base_loss = float(_loss_of(ctx.base, targets, counted, kind))
    fixed = np.empty(n_features)
    cell = np.empty((n_features, seq_len)) if per_step else None
    jobs = copy_jobs(n_features, seq_len, per_step)
    edit = _fix_at(ctx.feature_means)
    for chunk, out in batched_copies(ctx.predict, ctx.x, jobs, edit, ctx.max_values):
        values = _loss_of(out, targets[None], counted[None], kind)
        for k, (f, s) in enumerate(chunk):
            if s is None:
                fixed[f] = values[k]
            else:
                cell[f, s] = values[k] - base_loss
    note = "one input fixed at its mean: redundant inputs hide each other"
    if kind == OWN_PREDICTIONS:
        note += "; no labels here, so the loss is the squared change of the predictions"
    return Attribution(
        "iss1",
        ctx.names,
        (fixed - base_loss)[:, None],
        None if cell is None else cell[..., None],
        note,
        {"base_loss": base_loss, "fixed_losses": fixed, "loss": kind},
    )


def improved_stepwise_2(ctx: Context, *, loss: str = "auto") -> Attribution:
    """Improved stepwise selection 2 (Gevrey, Dimopoulos & Lek 2003, Ecological Modelling 160:
    249-264; compared by Olden, Joy & Death 2004, Ecological Modelling 178: 389-397).

    Definition: :func:`improved_stepwise_1` repeated cumulatively, without retraining: each
    remaining input is fixed at its mean in turn (the inputs eliminated before stay fixed),
    the one whose fixing raises the error least is eliminated for good, and the rest are
    ranked again, until every input is fixed; the order of elimination ranks the inputs.
    Here inputs are features (at every step: F rounds of at most F copies; the cell grain
    would take (F x T)^2 / 2 copies) and the error is the model's loss as in ISS1. A
    feature's score keeps that order and has the loss's units: the rise in loss over the
    loss with every input once it and every feature eliminated before it are fixed (the
    largest rise up to its step, so that a later feature never scores below an earlier one;
    equal scores: the method could not tell them apart). Ties in the choice go to the lower
    feature index. ``extra``: ``order`` (F,) the features in the order eliminated, ``rank``
    (F,) each one's place (1 = first eliminated, least important), ``losses`` (F + 1,) the
    loss with none, then 1, 2, ... features fixed (a deletion curve in the model's own
    order), ``step_increase`` (F,) each feature's rise in loss when it was eliminated,
    ``base_loss``, ``loss``.
    """
    n_features = ctx.n_features
    targets, counted, kind = _loss_setup(ctx, loss)
    current = float(_loss_of(ctx.base, targets, counted, kind))
    losses, order = [current], []
    step_increase = np.empty(n_features)
    rank = np.empty(n_features)
    edit = _fix_at(ctx.feature_means)
    remaining = list(range(n_features))
    while remaining:
        jobs = [[*order, f] for f in remaining]
        candidate = {}
        for chunk, out in batched_copies(ctx.predict, ctx.x, jobs, edit, ctx.max_values):
            values = _loss_of(out, targets[None], counted[None], kind)
            for k, job in enumerate(chunk):
                candidate[job[-1]] = float(values[k])
        least = min(remaining, key=lambda f: (candidate[f], f))
        step_increase[least] = candidate[least] - current
        current = candidate[least]
        losses.append(current)
        order.append(least)
        rank[least] = len(order)
        remaining.remove(least)
    note = "the order in which fixing inputs at their means costs least"
    if kind == OWN_PREDICTIONS:
        note += "; no labels here, so the loss is the squared change of the predictions"
    reached = np.maximum.accumulate(np.array(losses[1:])) - losses[0]  # in the order eliminated
    score = np.empty(n_features)
    score[order] = reached
    return Attribution(
        "iss2",
        ctx.names,
        score[:, None],
        None,
        note,
        {
            "order": np.array(order),
            "rank": rank,
            "losses": np.array(losses),
            "step_increase": step_increase,
            "base_loss": losses[0],
            "loss": kind,
        },
    )
