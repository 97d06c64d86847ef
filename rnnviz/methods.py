"""Variable-importance methods for a sequence model, one small unit each behind one signature.

The Cross Validated thread rnnviz is built on lists the MLP methods reviewed by Olden et al.
(connection weights, Garson's algorithm, partial derivatives, input perturbation, sensitivity
analysis, backward stepwise elimination) and asks which of them carry over to LSTMs. rnnviz
runs them all on the same trained LSTM and scores each against the ground truth of the
synthetic rule (:mod:`rnnviz.truth`).

Shape of the API (after Captum's ``attr`` package and scikit-learn's permutation_importance):

* every method is ``fn(ctx: Context, **params) -> Attribution``;
* :class:`Context` holds the model-agnostic ``predict`` ((m, T, F) -> (m, T_out) outputs),
  the sample ``x`` to explain, the mask ``valid`` of outputs whose target is defined (only
  those count, in every method that looks at outputs) and, for gradient and weight methods
  only, the Keras model;
* :class:`Attribution` holds per-feature scores ``feature`` (F, R) over R repeats (R = 1 for
  deterministic methods; larger = more important), per (feature, input step) scores ``cell``
  (F, T, R) where the method has that grain, a one-line caveat and method-specific extras.
  Where a method can cheaply give scores per (feature, lag) (the effect of input step t-L on
  output t, averaged over t), they are in ``extra["by_lag"]`` (F, L), with the lag of each
  column in ``extra["lags"]`` (-(T-1) .. T-1 from a response tensor, see
  :func:`rnnviz.scoring.lag_profile`; without ``extra["lags"]`` the columns are lags 0 ..
  L-1). :mod:`rnnviz.truth` uses the lags >= 0 for the lag-level metrics. This is done for
  perturbation, ablation and permutation (from their response tensors: one perturbed input
  step, every output step) and for saliency (per-output gradients ``|d y_t / d x_s|``, one
  backward pass on a batch in which each sequence is repeated once per output step).
* :data:`METHODS` is the registry and :func:`run_method` the checked entry point: it rejects
  unknown parameters and out-of-bounds values with a ValueError naming the parameter.

Cost: predictions go through ``ctx.predict`` in a few large batched calls, chunked (like
:mod:`rnnviz.scoring`) so that no call holds more than ``ctx.max_values`` input numbers;
gradients go through one ``tf.GradientTape`` per chunk of the same size. Random methods draw
their noise or permutations from ``ctx.seed`` in a fixed order, so the numbers do not depend
on the chunk size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.scoring import (
    DEFAULT_MAX_VALUES,
    batched_copies,
    lag_profile,
    lag_values,
    output_counts,
    output_mask,
    perturbation_importance,
    pool_outputs,
    predict_rows,
    rms,
    rms_per_output,
)

if TYPE_CHECKING:
    import keras

    from rnnviz.config import Config
    from rnnviz.data import Dataset
    from rnnviz.model import ProgressFn

PredictFn = Callable[[np.ndarray], np.ndarray]
TrainFn = Callable[[tuple[int, ...]], float]

MAX_REPEATS = 50  # as Config's bounds on n_repeats
MAX_SIGMA = 5.0  # as Config's bounds on sigma
IG_STEPS = (4, 256)
LEK_POINTS = (3, 200)
MAX_QUANTILES = 11
MAX_SIGMAS = 10
STEPWISE_MAX_FEATURES = 8
WEIGHTS_NOTE = "reads only input weights: ignores the recurrence and the gates' interplay"

__all__ = [
    "METHODS",
    "Attribution",
    "Comparison",
    "Context",
    "MethodSpec",
    "Param",
    "ablation",
    "compare",
    "connection_weights",
    "garson",
    "integrated_gradients",
    "lek",
    "make_stepwise_trainer",
    "noise_ties",
    "permutation",
    "perturbation",
    "random_baseline",
    "rank_agreement",
    "run_method",
    "saliency",
    "sigma_sweep",
    "spearman",
    "stepwise",
    "temporal_saliency_rescaling",
]


# --------------------------------------------------------------------------- result and input


@dataclass(frozen=True, eq=False)
class Attribution:
    """Scores of one method: per feature (F, R) and, where it has that grain, per cell (F, T, R)."""

    method: str  # registry key
    feature_names: tuple[str, ...]
    feature: np.ndarray  # (F, R); larger = more important
    cell: np.ndarray | None = None  # (F, T, R) per feature x input step
    note: str = ""  # one-line caveat for the class of method
    extra: dict = field(default_factory=dict)  # method-specific extras, e.g. "by_lag" (F, L)

    def __post_init__(self) -> None:
        feature = np.asarray(self.feature, dtype=np.float64)
        if feature.ndim != 2 or feature.shape[0] != len(self.feature_names):
            raise ValueError(
                f"feature scores must be (F, R) with F = {len(self.feature_names)}, "
                f"got {feature.shape}"
            )
        object.__setattr__(self, "feature", feature)
        if self.cell is not None:
            cell = np.asarray(self.cell, dtype=np.float64)
            if cell.ndim != 3 or cell.shape[0] != feature.shape[0]:
                raise ValueError(f"cell scores must be (F, T, R), got {cell.shape}")
            object.__setattr__(self, "cell", cell)

    @property
    def n_repeats(self) -> int:
        return self.feature.shape[1]

    @property
    def feature_mean(self) -> np.ndarray:
        return self.feature.mean(axis=1)

    @property
    def feature_std(self) -> np.ndarray:
        return self.feature.std(axis=1)

    @property
    def cell_mean(self) -> np.ndarray | None:
        return None if self.cell is None else self.cell.mean(axis=-1)

    @property
    def cell_std(self) -> np.ndarray | None:
        return None if self.cell is None else self.cell.std(axis=-1)

    @property
    def by_lag(self) -> np.ndarray | None:
        """(F, L) scores per feature and lag, where the method has that grain (see ``lags``)."""
        return self.extra.get("by_lag")

    @property
    def lags(self) -> np.ndarray | None:
        """(L,) the lag of each column of ``by_lag``: ``extra["lags"]``, else 0 .. L-1."""
        by_lag = self.by_lag
        if by_lag is None:
            return None
        lags = self.extra.get("lags")
        return np.arange(np.shape(by_lag)[1]) if lags is None else np.asarray(lags)

    def past_lags(self) -> np.ndarray | None:
        """(F, L) scores at lags 0 .. T-1 only (the lags a rule can read), or None."""
        by_lag = self.by_lag
        if by_lag is None:
            return None
        return np.asarray(by_lag)[:, self.lags >= 0]

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (extras that are not numbers or arrays are left out)."""
        out: dict = {
            "method": self.method,
            "features": list(self.feature_names),
            "note": self.note,
            "feature_mean": self.feature_mean.tolist(),
            "feature_std": self.feature_std.tolist(),
            "feature": self.feature.tolist(),
        }
        if self.cell is not None:
            out["cell_mean"] = self.cell_mean.tolist()
            out["cell_std"] = self.cell_std.tolist()
        extra = {}
        for key, value in self.extra.items():
            if isinstance(value, np.ndarray):
                extra[key] = value.tolist()
            elif isinstance(value, bool | int | float | str):
                extra[key] = value
            elif isinstance(value, tuple | list) and all(
                isinstance(v, int | float | str) for v in value
            ):
                extra[key] = list(value)
        out["extra"] = extra
        return out


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
        x = np.asarray(self.x, dtype=np.float32)
        if x.ndim != 3 or 0 in x.shape:
            raise ValueError(f"x must have shape (sequences, steps, features), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
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
        if isinstance(self.max_values, bool) or not isinstance(self.max_values, int):
            raise ValueError("max_values must be a whole number")
        if self.max_values < 1:
            raise ValueError("max_values must be positive")

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


# --------------------------------------------------------------------------- batching helpers


def _run_copies(
    ctx: Context, jobs: Sequence[Any], edit: Callable[[np.ndarray, Any], None]
) -> Iterator[tuple[Sequence[Any], np.ndarray]]:
    """Edited copies of ``ctx.x`` through ``ctx.predict`` in a few chunked calls."""
    return batched_copies(ctx.predict, ctx.x, jobs, edit, ctx.max_values)


def _add_lags(extra: dict, response: np.ndarray, counts: np.ndarray | None = None) -> None:
    """``extra["by_lag"]`` (F, 2T-1) and ``extra["lags"]`` of a response tensor (F, T, T),
    when its input and output steps are aligned."""
    if response.shape[1] == response.shape[2]:
        extra["by_lag"] = lag_profile(response, counts)
        extra["lags"] = lag_values(response.shape[1])


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
    are shared by every model of the architecture (:func:`rnnviz.model.shared_trace`): one
    trace serves every model and every batch size, and a new model is never a retrace.
    """

    def __init__(self, model: keras.Model) -> None:
        from rnnviz.model import inference_key, shared_trace

        self.model = model
        self._traced = shared_trace(("gradients", inference_key(model)), model, _trace_gradients)

    def _call(self, name: str, *args: Any) -> Any:
        from rnnviz.model import weights

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

    from rnnviz.model import traced, weight_specs

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

    Wraps :func:`rnnviz.scoring.perturbation_importance` (counted outputs only);
    ``extra["result"]`` keeps the PerturbationResult, ``extra["by_lag"]`` its per-lag effects.
    """
    result = perturbation_importance(
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
    extra: dict = {"sigma": sigma, "result": result}
    cell = None
    if per_step:
        cell = result.cell
        extra["response"] = result.response_mean
        _add_lags(extra, result.response_mean, result.output_counts)
    return Attribution(
        "perturbation",
        ctx.names,
        result.importances,
        cell,
        "noise can push inputs outside the range the model was trained on",
        extra,
    )


def ablation(ctx: Context, *, baseline: str = "mean", per_step: bool = True) -> Attribution:
    """Occlusion: replace feature f (all steps, or one step s) by a baseline value.

    ``baseline`` is "zero" or "mean" (the feature's mean over ``ctx.x``). Score = RMS change of
    all counted predictions (over sequences and output steps). Deterministic, R = 1.
    """
    value = np.zeros(ctx.n_features, np.float32) if baseline == "zero" else ctx.feature_means
    n_features, seq_len = ctx.n_features, ctx.seq_len
    jobs: list[tuple[int, int | None]] = [(f, None) for f in range(n_features)]
    if per_step:
        jobs += [(f, s) for f in range(n_features) for s in range(seq_len)]

    def edit(copy: np.ndarray, job: tuple[int, int | None]) -> None:
        f, s = job
        if s is None:
            copy[:, :, f] = value[f]
        else:
            copy[:, s, f] = value[f]

    base, mask = ctx.base, ctx.output_mask
    feature = np.empty((n_features, 1))
    response = np.empty((n_features, seq_len, base.shape[1])) if per_step else None
    for chunk, out in _run_copies(ctx, jobs, edit):
        diff2 = (out - base[None]) ** 2
        for k, (f, s) in enumerate(chunk):
            if s is None:
                feature[f, 0] = rms(diff2[k], mask)
            else:
                response[f, s] = rms_per_output(diff2[k], mask)
    return _with_response(
        "ablation",
        ctx,
        feature,
        response,
        "a constant baseline makes inputs the model never saw",
        {"baseline": baseline, "baseline_values": value.astype(np.float64)},
    )


def _with_response(
    method: str,
    ctx: Context,
    feature: np.ndarray,
    response: np.ndarray | None,
    note: str,
    extra: dict,
) -> Attribution:
    """Attribution with cell = RMS over counted output steps of a response (F, T_in, T_out[, R])."""
    cell = None
    if response is not None:
        if response.ndim == 3:
            response = response[..., None]
        counts = ctx.output_counts
        cell = pool_outputs(response, counts)
        mean = response.mean(axis=-1)
        extra["response"] = mean
        _add_lags(extra, mean, counts)
    return Attribution(method, ctx.names, feature, cell, note, extra)


def permutation(ctx: Context, *, n_repeats: int = 5, per_step: bool = True) -> Attribution:
    """Shuffle feature f across sequences (all steps together, or one step s), seeded.

    Score = RMS change of all counted predictions, per repeat. With labels in ``ctx``, also the
    rise in binary cross-entropy on valid steps: ``extra["loss_increase"]`` (F, R), which is
    scikit-learn's permutation_importance with log loss.
    """
    if ctx.n < 2:
        raise ValueError("permutation needs at least 2 sequences to shuffle across")
    n, seq_len, n_features = ctx.x.shape
    base, mask = ctx.base, ctx.output_mask
    jobs: list[tuple[int, int | None]] = [(f, None) for f in range(n_features)]
    if per_step:
        jobs += [(f, s) for f in range(n_features) for s in range(seq_len)]
    index = {job: j for j, job in enumerate(jobs)}
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

        for chunk, out in _run_copies(ctx, jobs, edit):
            diff2 = (out - base[None]) ** 2
            losses = _bce(out, ctx.y, ctx.valid) if labelled else None
            for k, (f, s) in enumerate(chunk):
                if s is None:
                    feature[f, r] = rms(diff2[k], mask)
                    if loss is not None:
                        loss[f, r] = losses[k] - base_loss
                else:
                    response[f, s, :, r] = rms_per_output(diff2[k], mask)
    extra: dict = {"n_repeats": n_repeats}
    if loss is not None:
        extra["loss_increase"] = loss
        extra["base_loss"] = base_loss
    return _with_response(
        "permutation",
        ctx,
        feature,
        response,
        "shuffling breaks the links between features; noisy with few sequences",
        extra,
    )


def saliency(ctx: Context, *, per_lag: bool = True) -> Attribution:
    """Partial derivatives: mean over sequences of |d(sum over counted outputs)/d x[s, f]|.

    ``cell`` (F, T) is that mean; ``feature`` its mean over steps. With ``per_lag``, the
    per-output gradients |d y_t / d x[s, f]| (one backward pass on a batch where each
    sequence is repeated once per output step), averaged over the sequences counted at t,
    give ``extra["response"]`` (F, T_in, T_out; NaN where no output counted) and
    ``extra["by_lag"]`` (F, L). Deterministic, R = 1.
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
        per_call = max(1, ctx.max_values // (n_out * seq_len * n_features))
        for start in range(0, n, per_call):
            chunk = ctx.x[start : start + per_call]
            m = len(chunk)
            grads = _np(
                fns.grad_select, np.repeat(chunk, n_out, axis=0), np.tile(select, (m, 1))
            ).reshape(m, n_out, seq_len, n_features)
            if mask is not None:  # outputs without a target contribute nothing
                grads = grads * mask[start : start + m, :, None, None]
            cell_sum += np.abs(grads.sum(axis=1)).sum(axis=0)
            resp_sum += np.abs(grads).sum(axis=0)
        if mask is None:
            response = (resp_sum / n).transpose(2, 1, 0)  # (F, T_in, T_out)
        else:
            counts = ctx.output_counts[:, None, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                response = np.where(counts > 0, resp_sum / counts, np.nan).transpose(2, 1, 0)
    else:
        per_call = max(1, ctx.max_values // (seq_len * n_features))
        for start in range(0, n, per_call):
            chunk = ctx.x[start : start + per_call]
            if mask is None:
                grads = _np(fns.grad_sum, chunk)
            else:
                select = mask[start : start + len(chunk)].astype(np.float32)
                grads = _np(fns.grad_select, chunk, select)
            cell_sum += np.abs(grads).sum(axis=0)
    cell = (cell_sum / n).T
    extra: dict = {}
    if response is not None:
        extra["response"] = response
        _add_lags(extra, response, ctx.output_counts)
    return Attribution(
        "saliency",
        ctx.names,
        cell.mean(axis=1)[:, None],
        cell[..., None],
        "a local slope at the sample: blind where the model saturates",
        extra,
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
    per_call = max(1, ctx.max_values // (len(alphas) * seq_len * n_features))
    for start in range(0, n, per_call):
        chunk = ctx.x[start : start + per_call]
        m = len(chunk)
        diff = chunk - b[None]
        path = (b[None, None] + alphas[:, None, None, None] * diff[None]).astype(np.float32)
        path = path.reshape(-1, seq_len, n_features)
        if mask is None:
            grads = _np(fns.grad_sum, path)
            delta = _np(fns.forward_sum, chunk) - f_base
        else:
            select = mask[start : start + m].astype(np.float32)
            grads = _np(fns.grad_select, path, np.tile(select, (len(alphas), 1)))
            delta = ((_np(fns.forward, chunk) - b_out[None]) * select).sum(axis=1)
        grads = grads.reshape(len(alphas), m, seq_len, n_features)
        attr = diff * np.tensordot(weights, grads, axes=1)
        gaps.append(np.abs(attr.sum(axis=(1, 2)) - delta))
        deltas.append(np.abs(delta))
        abs_sum += np.abs(attr).sum(axis=0)
        signed_sum += attr.sum(axis=0)
    cell = (abs_sum / n).T
    gap = float(np.concatenate(gaps).max())
    scale = max(float(np.concatenate(deltas).mean()), 1e-6)
    return Attribution(
        "integrated_gradients",
        ctx.names,
        cell.mean(axis=1)[:, None],
        cell[..., None],
        "depends on the baseline it integrates from",
        {
            "baseline": baseline,
            "steps": steps,
            "integration": integration,
            "completeness_gap": gap / scale,
            "completeness_gap_abs": gap,
            "signed_cell": (signed_sum / n).T,
        },
    )


def _kernel_chain(model: keras.Model) -> list[np.ndarray]:
    """Input kernels from input to output, each (inputs, gates, units).

    LSTM/GRU/SimpleRNN: ``cell.kernel`` (inputs, gates x units) split by gate (LSTM: i, f, c,
    o); Dense: (inputs, 1, units). A Rescaling layer multiplies the rows of the next kernel by
    its scale (its offset, like every bias, is ignored). Recurrent kernels are never read.
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
            kernel = np.asarray(layer.cell.kernel, dtype=np.float64)
            units = int(layer.cell.units)
            kernel = kernel.reshape(kernel.shape[0], kernel.shape[1] // units, units)
        elif isinstance(layer, keras.layers.Dense):
            kernel = np.asarray(layer.kernel, dtype=np.float64)[:, None, :]
        elif not layer.weights:
            continue
        else:
            raise ValueError(
                f"connection weights read LSTM/GRU/SimpleRNN/Dense chains; layer "
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
    per_call = max(1, ctx.max_values // (seq_len * n_features))
    mask = ctx.output_mask
    step_weights = None if mask is None else mask.mean(axis=0)
    response = np.empty(len(rows))
    for start in range(0, len(rows), per_call):
        part = rows[start : start + per_call]
        batch = np.repeat(part[:, None, :], seq_len, axis=1)
        out = predict_rows(ctx.predict, batch, len(part))
        if step_weights is None:
            response[start : start + len(part)] = out.mean(axis=1)
        else:
            response[start : start + len(part)] = (
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
    indices (see :func:`make_stepwise_trainer`). Score = loss without feature f minus loss
    with all features; F + 1 losses, of which the one with all features needs no training
    when the trainer was given the trained model. Bounded by F <= 8. Deterministic when
    ``train_fn`` is.
    """
    n_features = ctx.n_features
    if n_features > STEPWISE_MAX_FEATURES:
        raise ValueError(
            f"stepwise retrains the model once per feature; it is limited to "
            f"{STEPWISE_MAX_FEATURES} features (use fewer features)"
        )
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


def make_stepwise_trainer(
    config: Config, progress: ProgressFn | None = None, full: Any = None
) -> TrainFn:
    """``train_fn(kept) -> validation loss`` for :func:`stepwise`, training ``config``'s model.

    Dropped features are overwritten with the constant 0.5 in the train and validation inputs
    (labels unchanged), so the input shape and the architecture stay the same. Results are
    cached per set of kept features; every training starts from ``config.seed``.

    ``full`` is the trained model of ``config`` (a ``TrainResult``): it *is* the training with
    all features (same data, seed and recipe), so its loss is computed instead of training it
    again (F trainings instead of F + 1). That loss is the one every training reports: binary
    cross-entropy over the valid steps of the same validation split.
    """
    from rnnviz.data import make_split
    from rnnviz.model import evaluate, train

    if full is not None and full.config.training_key() != config.training_key():
        raise ValueError("the full model was trained with another training config than this one")
    train_data, val_data = make_split(config, "train"), make_split(config, "val")
    cache: dict[tuple[int, ...], float] = {}

    def train_fn(kept: tuple[int, ...]) -> float:
        kept = tuple(sorted({int(f) for f in kept}))
        if any(not 0 <= f < config.n_features for f in kept):
            raise ValueError(f"kept features {kept} are outside 0..{config.n_features - 1}")
        if kept not in cache:
            dropped = [f for f in range(config.n_features) if f not in kept]
            if full is not None and not dropped:
                cache[kept] = float(evaluate(full.predict, val_data)[0])
            else:
                result = train(
                    config,
                    progress,
                    train_data=_constant_columns(train_data, dropped),
                    val_data=_constant_columns(val_data, dropped),
                )
                cache[kept] = float(result.val_loss)
        return cache[kept]

    return train_fn


def _constant_columns(data: Dataset, columns: Sequence[int], value: float = 0.5) -> Dataset:
    from rnnviz.data import Dataset

    x = data.x.copy()
    x[:, :, list(columns)] = value
    return Dataset(x=x, y=data.y, valid=data.valid)


def sigma_sweep(
    ctx: Context,
    *,
    sigmas: Sequence[float] = (0.05, 0.1, 0.2, 0.4, 0.8),
    n_repeats: int = 5,
) -> Attribution:
    """Perturbation importance at several noise scales (feature grain).

    ``extra["curves"]`` (F, S) mean scores per sigma, ``extra["curves_std"]`` their std;
    ``feature`` = the repeats at the middle sigma.
    """
    results = [
        perturbation_importance(
            ctx.predict,
            ctx.x,
            sigma=float(s),
            n_repeats=n_repeats,
            seed=ctx.seed,
            per_step=False,
            feature_names=ctx.names,
            max_values=ctx.max_values,
            valid=ctx.output_mask,
        )
        for s in sigmas
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
        "random", ctx.names, feature, cell, "chance level", {"by_lag": by_lag, "seed": seed}
    )


def temporal_saliency_rescaling(base: str, ctx: Context, **params: Any) -> Attribution:
    """Two-step temporal saliency rescaling (Ismail et al., NeurIPS 2020), simplified.

    1. Time relevance tau[s] = RMS change of all counted predictions when every feature at
       step s is replaced by its mean over ``ctx.x`` (one batched ablation per step).
    2. Steps with tau above its mean are kept (all steps if none is, e.g. all equal).
    3. cell[f, s] = base cell score x tau[s] on kept steps, 0 elsewhere; feature = mean over
       steps. ``base`` must be a method with cell grain; ``params`` go to it.

    Ismail et al. rescale by masking and re-running the saliency method itself; rescaling by
    the model's response to masking a step keeps it one batched pass and model-agnostic.
    """
    spec = _spec(base)
    if base == "random" or not spec.cell:
        cell_methods = ", ".join(k for k, s in METHODS.items() if s.cell and k != "random")
        raise ValueError(f"tsr needs a method with per-step scores: one of {cell_methods}")
    attr = run_method(base, ctx, **params)
    if attr.cell is None:
        raise ValueError(f"tsr needs per-step scores from {base}: leave per_step on")
    means = ctx.feature_means

    def edit(copy: np.ndarray, s: int) -> None:
        copy[:, s, :] = means

    base_pred, mask = ctx.base, ctx.output_mask
    tau = np.empty(ctx.seq_len)
    for chunk, out in _run_copies(ctx, list(range(ctx.seq_len)), edit):
        for k, s in enumerate(chunk):
            tau[s] = rms((out[k] - base_pred) ** 2, mask)
    keep = tau > tau.mean()
    if not keep.any():
        keep[:] = True
    weight = np.where(keep, tau, 0.0)
    cell = attr.cell * weight[None, :, None]
    return Attribution(
        f"tsr:{base}",
        ctx.names,
        cell.mean(axis=1),
        cell,
        f"{attr.note}; rescaled by each step's relevance",
        {"base": base, "time_relevance": tau, "kept_steps": keep},
    )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Param:
    """One method parameter with its default and bounds (checked by :func:`run_method`)."""

    name: str
    kind: str  # int, float, bool, choice, floats, callable
    default: Any = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low bound exclusive
    choices: tuple = ()
    length: tuple[int, int] = (1, 1)  # for "floats": allowed number of values
    required: bool = False
    help: str = ""

    def check(self, method: str, value: Any) -> Any:
        """The value, normalised; ValueError naming method, parameter and what is allowed."""
        where = f"{method}: {self.name}"
        if self.kind == "int":
            ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
            if not ok or not self.low <= value <= self.high:
                raise ValueError(
                    f"{where} must be a whole number from {self.low:g} to {self.high:g}, "
                    f"got {value!r}"
                )
            return int(value)
        if self.kind == "float":
            return self._number(where, value)
        if self.kind == "bool":
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"{where} must be true or false, got {value!r}")
            return bool(value)
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(
                    f"{where} must be one of {', '.join(map(str, self.choices))}, got {value!r}"
                )
            return value
        if self.kind == "floats":
            if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
                raise ValueError(f"{where} must be a list of numbers, got {value!r}")
            lo, hi = self.length
            if not lo <= len(value) <= hi:
                raise ValueError(f"{where} must have {lo} to {hi} values, got {len(value)}")
            return tuple(self._number(where, v) for v in value)
        if self.kind == "callable":
            if not callable(value):
                raise ValueError(f"{where} must be a function, got {value!r}")
            return value
        raise AssertionError(self.kind)

    def _number(self, where: str, value: Any) -> float:
        ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        )
        if not ok or not np.isfinite(value):
            raise ValueError(f"{where} must be a number, got {value!r}")
        too_low = value <= self.low if self.low_open else value < self.low
        if too_low or value > self.high:
            lo = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
            raise ValueError(f"{where} must be {lo} and <= {self.high:g}, got {value!r}")
        return float(value)


@dataclass(frozen=True)
class MethodSpec:
    """One registered method: how to call it, what it needs, what it gives."""

    name: str
    label: str
    fn: Callable[..., Attribution]
    needs_model: bool
    needs_labels: bool
    random: bool
    description: str
    params: tuple[Param, ...] = ()
    cell: bool = False  # has (feature, input step) grain


_SIGMA = Param("sigma", "float", 0.2, 0.0, MAX_SIGMA, low_open=True, help="noise scale")
_REPEATS = Param("n_repeats", "int", 5, 1, MAX_REPEATS, help="independent draws")
_PER_STEP = Param("per_step", "bool", True, help="also score each (feature, step) cell")
_BASELINE = Param("baseline", "choice", "mean", choices=("zero", "mean"))

METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in (
        MethodSpec(
            "perturbation",
            "Input perturbation (noise)",
            perturbation,
            False,
            False,
            True,
            "Add N(0, sigma) noise to one feature and measure the RMS change of predictions.",
            (_SIGMA, _REPEATS, _PER_STEP),
            cell=True,
        ),
        MethodSpec(
            "sigma_sweep",
            "Perturbation across noise scales",
            sigma_sweep,
            False,
            False,
            True,
            "Input perturbation at several sigmas, to see whether the ranking depends on it.",
            (
                Param(
                    "sigmas",
                    "floats",
                    (0.05, 0.1, 0.2, 0.4, 0.8),
                    0.0,
                    MAX_SIGMA,
                    low_open=True,
                    length=(2, MAX_SIGMAS),
                ),
                _REPEATS,
            ),
        ),
        MethodSpec(
            "ablation",
            "Ablation (occlusion)",
            ablation,
            False,
            False,
            False,
            "Replace one feature (or one feature at one step) by zero or its mean.",
            (_BASELINE, _PER_STEP),
            cell=True,
        ),
        MethodSpec(
            "permutation",
            "Permutation",
            permutation,
            False,
            False,
            True,
            "Shuffle one feature across sequences; with labels, also the rise in loss.",
            (_REPEATS, _PER_STEP),
            cell=True,
        ),
        MethodSpec(
            "saliency",
            "Partial derivatives (saliency)",
            saliency,
            True,
            False,
            False,
            "Mean absolute gradient of the outputs with respect to each input.",
            (Param("per_lag", "bool", True, help="per-output gradients for lag scores"),),
            cell=True,
        ),
        MethodSpec(
            "integrated_gradients",
            "Integrated gradients",
            integrated_gradients,
            True,
            False,
            False,
            "Gradients averaged along the straight path from a baseline to the input.",
            (
                Param("baseline", "choice", "zero", choices=("zero", "mean")),
                Param("steps", "int", 32, *IG_STEPS),
                Param("integration", "choice", "trapezoid", choices=("trapezoid", "midpoint")),
            ),
            cell=True,
        ),
        MethodSpec(
            "connection_weights",
            "Connection weights (Olden)",
            connection_weights,
            True,
            False,
            False,
            "Product of the input kernels (summed over gates) from input to output.",
        ),
        MethodSpec(
            "garson",
            "Garson's algorithm",
            garson,
            True,
            False,
            False,
            "Shares of absolute input weights of the first LSTM, weighted by later layers.",
        ),
        MethodSpec(
            "lek",
            "Sensitivity analysis (Lek's profiles)",
            lek,
            False,
            False,
            False,
            "Sweep one feature over its range with the others held at quantiles.",
            (
                Param("n_points", "int", 20, *LEK_POINTS),
                Param(
                    "quantiles",
                    "floats",
                    (0.0, 0.25, 0.5, 0.75, 1.0),
                    0.0,
                    1.0,
                    length=(1, MAX_QUANTILES),
                ),
            ),
        ),
        MethodSpec(
            "stepwise",
            "Backward stepwise elimination",
            stepwise,
            False,
            False,
            False,
            "Retrain without each feature and measure the rise in validation loss.",
            (Param("train_fn", "callable", required=True, help="see make_stepwise_trainer"),),
        ),
        MethodSpec(
            "random",
            "Random scores (chance)",
            lambda ctx: random_baseline(ctx),
            False,
            False,
            True,
            "Uniform random scores: what chance looks like on every metric.",
            cell=True,
        ),
    )
}


def _spec(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)} (and tsr:<method>)")
    return METHODS[name]


def _resolve(name: str, ctx: Context, params: Mapping[str, Any]) -> Callable[[], Attribution]:
    """Check a method call (name, needs, parameters) without running it."""
    if not isinstance(name, str):
        raise ValueError(f"a method name must be text, got {name!r}")
    if name.startswith("tsr:"):
        base = name[4:]
        spec = _spec(base)
        if not spec.cell or base == "random":
            cell_methods = ", ".join(k for k, s in METHODS.items() if s.cell and k != "random")
            raise ValueError(f"tsr needs a method with per-step scores: one of {cell_methods}")
        _resolve(base, ctx, params)
        return lambda: temporal_saliency_rescaling(base, ctx, **params)
    spec = _spec(name)
    if spec.needs_model and ctx.model is None:
        raise ValueError(f"{name} needs the Keras model: pass Context(model=...)")
    if spec.needs_labels and ctx.y is None:
        raise ValueError(f"{name} needs labels: pass Context(y=..., valid=...)")
    known = {p.name: p for p in spec.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        allowed = ", ".join(known) or "none"
        raise ValueError(f"{name}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
    checked: dict[str, Any] = {}
    for p in spec.params:
        if p.name in params:
            checked[p.name] = p.check(name, params[p.name])
        elif p.required:
            hint = " (see make_stepwise_trainer)" if name == "stepwise" else ""
            raise ValueError(f"{name} needs the parameter {p.name}{hint}")
    if name == "stepwise" and ctx.n_features > STEPWISE_MAX_FEATURES:
        raise ValueError(
            f"stepwise retrains the model once per feature ({ctx.n_features} times); it is "
            f"limited to {STEPWISE_MAX_FEATURES} features (use fewer features)"
        )
    if name == "sigma_sweep" and "sigmas" in checked:
        sigmas = checked["sigmas"]
        if any(b <= a for a, b in zip(sigmas, sigmas[1:], strict=False)):
            raise ValueError(f"sigma_sweep: sigmas must be increasing, got {sigmas}")
    return lambda: spec.fn(ctx, **checked)


def run_method(name: str, ctx: Context, **params: Any) -> Attribution:
    """Run a registered method (or ``tsr:<method>``) after checking its needs and parameters.

    Raises ValueError with a message naming the method and the parameter for unknown methods,
    unknown parameters, values out of bounds, and a missing model.
    """
    return _resolve(name, ctx, params)()


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True, eq=False)
class Comparison:
    """Several methods on one context: attributions, truth scores and rank agreement."""

    methods: tuple[str, ...]  # in the order run; "random" always included
    attributions: dict[str, Attribution]
    scores: dict[str, dict[str, float | None]]  # per method: rnnviz.truth.score_method
    rank_agreement: np.ndarray  # (M, M) Spearman rho of per-feature means, noise ties tied
    seconds: dict[str, float]

    def rows(self) -> list[dict[str, Any]]:
        """One tidy row per method: name, label, seconds and the truth metrics."""
        out = []
        for name in self.methods:
            label = METHODS[name].label if name in METHODS else f"TSR on {name[4:]}"
            out.append(
                {
                    "method": name,
                    "label": label,
                    "seconds": self.seconds[name],
                    **self.scores.get(name, {}),
                }
            )
        return out


# Scores of one method closer than this share of its largest score are tied even without
# repeats: less than a pixel of the bars the page draws, and no ranking anyone could read.
TIE_FLOOR = 0.005


def noise_ties(attr: Attribution) -> np.ndarray:
    """(F, F) features that ``attr`` cannot tell apart: their mean ± std intervals over the
    repeats overlap (|mean_i - mean_j| <= std_i + std_j), or their means differ by at most
    TIE_FLOOR of the method's largest absolute score. Symmetric, true on the diagonal; not
    transitive (x1 ~ x2 and x2 ~ x3 while x1 is clearly above x3 is possible).
    """
    mean, std = attr.feature_mean, attr.feature_std
    gap = np.abs(mean[:, None] - mean[None, :])
    scale = float(np.abs(mean).max()) if mean.size else 0.0
    return (gap <= std[:, None] + std[None, :]) | (gap <= TIE_FLOOR * scale)


def spearman(a: np.ndarray, b: np.ndarray, ties: np.ndarray | None = None) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant.

    ``ties`` (F, F) marks further pairs of features to rank as tied on both sides (e.g. the
    union of both methods' :func:`noise_ties`): a pair only one method orders is no
    disagreement. Each feature's rank is then the number of features clearly below it plus
    half the number tied with it, which is the usual average rank when ties form groups.
    """
    ra, rb = _ranks(np.asarray(a, float), ties), _ranks(np.asarray(b, float), ties)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def _ranks(a: np.ndarray, ties: np.ndarray | None = None) -> np.ndarray:
    """0-based ranks: features clearly below + half the others tied (equal, or in ``ties``)."""
    tied = a[:, None] == a[None, :]
    if ties is not None:
        tied = tied | np.asarray(ties, bool)
    np.fill_diagonal(tied, False)
    below = (a[:, None] > a[None, :]) & ~tied
    return below.sum(axis=1) + 0.5 * tied.sum(axis=1)


def compare(
    ctx: Context,
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    truth: Any = None,
) -> Comparison:
    """Run ``methods`` (plus the random baseline) on ``ctx`` and score them.

    ``params`` maps method name to its parameters; ``truth`` is ``Rule.ground_truth`` (or a
    Rule), and each method gets :func:`rnnviz.truth.score_method` of its per-feature means and
    lag scores. Every call is checked before any runs.
    """
    from rnnviz.truth import score_method

    params = dict(params or {})
    names = list(dict.fromkeys([*methods, "random"]))
    stray = sorted(set(params) - set(names))
    if stray:
        raise ValueError(f"parameters given for methods not compared: {', '.join(stray)}")
    calls = {name: _resolve(name, ctx, dict(params.get(name, {}))) for name in names}
    truth_pairs = getattr(truth, "ground_truth", truth)
    attributions: dict[str, Attribution] = {}
    scores: dict[str, dict[str, float | None]] = {}
    seconds: dict[str, float] = {}
    for name, call in calls.items():
        start = time.perf_counter()
        attr = call()
        seconds[name] = time.perf_counter() - start
        attributions[name] = attr
        if truth_pairs is not None:
            # A rule reads only the past: lags 0 .. T-1 are scored (the random row has no other).
            scores[name] = score_method(attr.feature_mean, attr.past_lags(), truth_pairs)
    return Comparison(
        tuple(names), attributions, scores, rank_agreement(attributions, names), seconds
    )


def merge_comparisons(first: Comparison, second: Comparison) -> Comparison:
    """One comparison of both runs' methods (``first``'s where both ran; random row last).

    Lets an expensive method (stepwise elimination) be run and cached apart from the rest.
    """
    names = [m for m in first.methods if m != "random"]
    names += [m for m in second.methods if m not in names and m != "random"] + ["random"]

    def pick(field: str) -> dict:
        a, b = getattr(first, field), getattr(second, field)
        return {m: a[m] if m in a else b[m] for m in names if m in a or m in b}

    attributions = pick("attributions")
    return Comparison(
        tuple(names),
        attributions,
        pick("scores"),
        rank_agreement(attributions, names),
        pick("seconds"),
    )


def rank_agreement(attributions: Mapping[str, Attribution], names: Sequence[str]) -> np.ndarray:
    """(M, M) Spearman correlation of the methods' per-feature means, ones on the diagonal.

    Swaps inside the error bars are no disagreement: for each pair of methods, features that
    either method cannot tell apart (:func:`noise_ties`) rank as tied on both sides, so two
    methods that only swap x1 and x2 within their noise agree (rho = 1).
    """
    m = len(names)
    ties = [noise_ties(attributions[name]) for name in names]
    agreement = np.eye(m)
    for i in range(m):
        for j in range(i + 1, m):
            rho = spearman(
                attributions[names[i]].feature_mean,
                attributions[names[j]].feature_mean,
                ties[i] | ties[j],
            )
            agreement[i, j] = agreement[j, i] = rho
    return agreement
