"""One sequence, explained: signed effects of each (feature, input step) on each output step.

Every map of :mod:`rnnviz.attr.methods` is an RMS or mean over sequences: what the model relies
on in general. Here the question is local (TimeSHAP's cell explanations, Captum's per-instance
attributions): in sequence i, which cells pushed output t up, which down? Where the evidence
sits at a different step in each sequence, only such a map can show it.

Signs and units, per method (``effects[f, s, t]``: cell (f, s) on output t):

* ``ablation``: y_t(x) - y_t(x with cell (f, s) set to the baseline): what the cell's value
  added to the output (occlusion to 0 of f_t = 2 x1[t] - x2[t] gives exactly 2 x1[t] and
  -x2[t]). Deterministic: no spread.
* ``perturbation``: sigma times the mean over repeats of the finite-difference slope
  (y_t(x + d) - y_t(x)) / d, with d ~ N(0, sigma) added to the cell alone; the spread is sigma
  times the slopes' standard deviation. The plain mean change E[y(x + d) - y(x)] is 0 to first
  order for any smooth model (d is as often negative as positive), so the signed effect is the
  change *per unit of noise*, scaled to sigma: exactly a * sigma for y = a x, with no spread.
* ``saliency``: the gradient d y_t / d x[s, f] at the sequence (per unit of input).
* ``integrated_gradients``: (x - b)[s, f] times the mean gradient of y_t along the straight
  path from the baseline b to x; the cells of output t add up to y_t(x) - y_t(b).
* ``group``: like ablation, for windows of ``window`` consecutive steps (every feature) set to
  the baseline together; each cell shows its window's effect.

Cost: every method runs on the asked-for sequences only. Perturbed copies go through
:func:`rnnviz.attr.scoring.batched_copies` (no call holds more than ``ctx.max_values`` input
numbers) and gradients through :func:`rnnviz.attr.scoring.row_chunks` chunks of the same bound.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.attr.scoring import batched_copies, check_noise, row_chunks
from rnnviz.data.truth import deciding_cells, sequence_scores, sequence_truth_mask
from rnnviz.metrics import json_list

if TYPE_CHECKING:
    import pandas as pd

    from rnnviz.attr.methods import Context

SEQUENCE_METHODS = ("perturbation", "ablation", "saliency", "integrated_gradients", "group")
BASELINES = ("zero", "mean")

__all__ = [
    "SEQUENCE_METHODS",
    "SequenceAttribution",
    "confident_picks",
    "params_from_config",
    "sequence_attribution",
    "sequence_attributions",
    "sequence_truth",
    "truth_scores",
]

NOTES = {
    "perturbation": "change per unit of noise, times sigma: a local slope, averaged over draws",
    "ablation": "what the cell's value added against the baseline; the baseline is a choice",
    "saliency": "a local slope at the sequence: blind where the model saturates",
    "integrated_gradients": "depends on the baseline it integrates from",
    "group": "each cell shows its window's effect: it cannot tell the cells of one window apart",
}


@dataclass(frozen=True, eq=False)
class SequenceAttribution:
    """Signed effects of one method on one sequence: every (feature, input step) on every output
    step, and the output step being explained (:meth:`at` picks another without recomputing).

    Names follow :class:`rnnviz.attr.attribution.Attribution` where they mean the same thing
    (``method``, ``feature_names``, ``note``, ``extra``, ``sigma``, ``cell_mean``,
    ``cell_std``, ``to_frame``, ``to_dict``).
    """

    method: str
    feature_names: tuple[str, ...]
    effects: np.ndarray  # (F, T_in, T_out) signed
    spreads: np.ndarray | None  # (F, T_in, T_out) std over repeats; None: deterministic
    sequence: int  # index in the sample
    output_step: int
    inputs: np.ndarray  # (T_in, F) the sequence itself
    prediction: np.ndarray  # (T_out,) the model's outputs
    target: np.ndarray | None = None  # (T_out,) the true labels (None: unknown)
    counted: np.ndarray | None = None  # (T_out,) bool: outputs whose target is defined
    note: str = ""
    extra: dict = field(default_factory=dict)
    sigma: float | None = None

    def __post_init__(self) -> None:
        effects = np.asarray(self.effects, dtype=np.float64)
        if effects.ndim != 3 or effects.shape[0] != len(self.feature_names):
            raise ValueError(f"effects must be (F, T_in, T_out), got {effects.shape}")
        object.__setattr__(self, "effects", effects)
        object.__setattr__(self, "feature_names", tuple(str(n) for n in self.feature_names))
        if not 0 <= self.output_step < effects.shape[2]:
            raise ValueError(f"output step {self.output_step} is outside 0..{effects.shape[2] - 1}")

    def at(self, output_step: int) -> SequenceAttribution:
        """The same effects, explaining ``output_step`` (ValueError outside the outputs)."""
        return replace(self, output_step=int(output_step))

    @property
    def n_outputs(self) -> int:
        return self.effects.shape[2]

    @property
    def effect(self) -> np.ndarray:
        """(F, T_in) signed effect of each cell on the output step explained."""
        return self.effects[:, :, self.output_step]

    @property
    def spread(self) -> np.ndarray | None:
        """(F, T_in) its spread over repeats, or None for a deterministic method."""
        return None if self.spreads is None else self.spreads[:, :, self.output_step]

    cell_mean = effect  # Attribution's names for the (feature, step) map
    cell_std = spread

    @property
    def output(self) -> float:
        """The model's output at the step explained."""
        return float(self.prediction[self.output_step])

    @property
    def is_counted(self) -> bool:
        """Whether the explained output's target is defined (a rule reading before t = 0 is not)."""
        return True if self.counted is None else bool(self.counted[self.output_step])

    def top_cells(self, k: int = 5) -> list[tuple[str, int, float]]:
        """The ``k`` cells with the largest |effect|, largest first: (feature, step, effect)."""
        effect = self.effect
        order = np.argsort(-np.abs(effect), axis=None, kind="stable")[:k]
        rows = []
        for flat in order:
            f, s = np.unravel_index(flat, effect.shape)
            rows.append((self.feature_names[f], int(s), float(effect[f, s])))
        return rows

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: one row per (feature, input step) of the output step explained, with
        ``effect`` (signed), ``std`` (NaN for a deterministic method) and the cell's input."""
        import pandas as pd

        spread = self.spread
        rows = [
            {
                "sequence": self.sequence,
                "output_step": self.output_step,
                "feature": name,
                "input_step": s,
                "input": float(self.inputs[s, f]),
                "effect": float(self.effect[f, s]),
                "std": float("nan") if spread is None else float(spread[f, s]),
            }
            for f, name in enumerate(self.feature_names)
            for s in range(self.effects.shape[1])
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers: the map of the output step explained (``effect`` (F, T)),
        its spread, the prediction and target over time."""
        out: dict = {
            "method": self.method,
            "note": self.note,
            "sequence": self.sequence,
            "output_step": self.output_step,
            "features": list(self.feature_names),
            "output": self.output,
            "counted": self.is_counted,
            "prediction": json_list(self.prediction),
            "target": None if self.target is None else json_list(self.target),
            "effect": json_list(self.effect),
            "std": None if self.spread is None else json_list(self.spread),
            "top_cells": [
                {"feature": f, "input_step": s, "effect": v} for f, s, v in self.top_cells()
            ],
        }
        if self.sigma is not None:
            out["sigma"] = self.sigma
        out["extra"] = {
            k: v for k, v in self.extra.items() if isinstance(v, bool | int | float | str)
        }
        return out


# --------------------------------------------------------------------------- computing


def params_from_config(config: Any) -> dict[str, dict[str, Any]]:
    """Each method's parameters in an experiment: perturbation's noise from the config's sigma
    and repeats; ablation, group and integrated gradients from each feature's mean (the
    middle of a drawn feature, the training mean of a standardised one: an ordinary value,
    where zero may be the edge of the range)."""
    return {
        "perturbation": {"sigma": config.sigma, "n_repeats": config.n_repeats},
        "ablation": {"baseline": "mean"},
        "group": {"baseline": "mean"},
        "integrated_gradients": {"baseline": "mean"},
    }


def sequence_attributions(
    ctx: Context,
    index: int,
    methods: Sequence[str] = SEQUENCE_METHODS,
    output_step: int | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, SequenceAttribution]:
    """:func:`sequence_attribution` of each of ``methods`` on sequence ``index`` of ``ctx.x``
    (the gradient methods only when the context has the Keras model)."""
    params = params or {}
    out = {}
    for name in methods:
        if name in ("saliency", "integrated_gradients") and ctx.model is None:
            continue
        out[name] = sequence_attribution(ctx, index, name, output_step, **params.get(name, {}))
    return out


def sequence_attribution(
    ctx: Context,
    index: int,
    method: str = "perturbation",
    output_step: int | None = None,
    *,
    sigma: float = 0.2,
    n_repeats: int = 5,
    baseline: str = "zero",
    steps: int = 32,
    window: int = 3,
) -> SequenceAttribution:
    """Signed effects of ``method`` (one of :data:`SEQUENCE_METHODS`) on sequence ``index``.

    ``output_step`` is the step explained (default: the last); the result holds every output
    step. ``sigma``/``n_repeats``: perturbation's noise; ``baseline`` ("zero", or "mean": each
    feature's mean over ``ctx.x``): ablation's, group's and integrated gradients' reference;
    ``steps``: integrated gradients' path intervals; ``window``: group's steps per window.
    """
    if method not in SEQUENCE_METHODS:
        raise ValueError(
            f"no per-sequence map for {method!r}; one of {', '.join(SEQUENCE_METHODS)}"
        )
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise ValueError(f"sequence must be a whole number, got {index!r}")
    if not 0 <= index < ctx.n:
        raise ValueError(f"sequence {index} is outside 0..{ctx.n - 1}: choose one of the sample")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    index = int(index)
    prediction = ctx.base[index]
    n_out = prediction.shape[0]
    t = n_out - 1 if output_step is None else output_step
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or not 0 <= t < n_out:
        raise ValueError(f"output step must be a whole number from 0 to {n_out - 1}, got {t!r}")
    x = ctx.x[index : index + 1]
    values = np.zeros(ctx.n_features, np.float32) if baseline == "zero" else ctx.feature_means
    spreads = None
    extra: dict = {}
    used_sigma = None
    if method == "perturbation":
        check_noise(sigma, n_repeats)
        effects, spreads = _perturbation(ctx, x, prediction, sigma, n_repeats, index)
        used_sigma, extra = float(sigma), {"n_repeats": n_repeats}
    elif method == "ablation":
        effects = _occlusion(ctx, x, prediction, values, [(s, s + 1) for s in range(ctx.seq_len)])
        extra = {"baseline": baseline}
    elif method == "group":
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a whole number >= 1, got {window!r}")
        size = min(window, ctx.seq_len)
        spans = [(a, min(a + size, ctx.seq_len)) for a in range(0, ctx.seq_len, size)]
        effects = _occlusion(ctx, x, prediction, values, spans)
        extra = {"baseline": baseline, "window": size}
    elif method == "saliency":
        effects = _gradients(ctx, x, n_out)
    else:
        effects, gap = _integrated(ctx, x, values, n_out, steps)
        extra = {"baseline": baseline, "steps": steps, "completeness_gap_abs": gap}
    target = None if ctx.y is None else ctx.y[index]
    counted = None if ctx.output_mask is None else ctx.output_mask[index]
    return SequenceAttribution(
        method,
        ctx.names,
        effects,
        spreads,
        index,
        int(t),
        ctx.x[index].astype(np.float64),
        prediction,
        target,
        counted,
        NOTES[method],
        extra,
        used_sigma,
    )


def _perturbation(
    ctx: Context, x: np.ndarray, base: np.ndarray, sigma: float, n_repeats: int, index: int
) -> tuple[np.ndarray, np.ndarray]:
    """(effects, spreads) (F, T, T_out): sigma times the mean and std of the finite-difference
    slopes over ``n_repeats`` draws per cell, from one generator per (seed, sequence)."""
    seq_len, n_features = x.shape[1:]
    rng = np.random.default_rng(np.random.SeedSequence([ctx.seed, index]))
    z = rng.standard_normal((n_features, seq_len, n_repeats), dtype=np.float32)
    z = np.where(np.abs(z) < 1e-3, np.float32(1e-3), z)  # never a zero step to divide by
    jobs = [(f, s, r) for f in range(n_features) for s in range(seq_len) for r in range(n_repeats)]
    applied = np.empty((n_features, seq_len, n_repeats))

    def edit(copy: np.ndarray, job: tuple[int, int, int]) -> None:
        f, s, r = job
        before = copy[0, s, f]
        copy[0, s, f] = before + z[f, s, r] * np.float32(sigma)
        applied[f, s, r] = float(copy[0, s, f]) - float(before)  # the step float32 really took

    slopes = np.empty((n_features, seq_len, n_repeats, base.shape[0]))
    for chunk, out in batched_copies(ctx.predict, x, jobs, edit, ctx.max_values):
        for k, (f, s, r) in enumerate(chunk):
            slopes[f, s, r] = (out[k, 0] - base) / applied[f, s, r]
    slopes *= sigma
    return slopes.mean(axis=2), slopes.std(axis=2)


def _occlusion(
    ctx: Context,
    x: np.ndarray,
    base: np.ndarray,
    values: np.ndarray,
    spans: list[tuple[int, int]],
) -> np.ndarray:
    """(F, T, T_out): y(x) - y(x with the cells of one span set to ``values``); a span of one
    step edits one cell (ablation), a longer one every feature over its steps (group)."""
    seq_len, n_features = x.shape[1:]
    single = all(b - a == 1 for a, b in spans)
    jobs = [(f, a, b) for f in range(n_features) for a, b in spans] if single else spans
    effects = np.zeros((n_features, seq_len, base.shape[0]))

    def edit(copy: np.ndarray, job) -> None:
        if single:
            f, a, b = job
            copy[0, a:b, f] = values[f]
        else:
            a, b = job
            copy[0, a:b, :] = values

    for chunk, out in batched_copies(ctx.predict, x, jobs, edit, ctx.max_values):
        for k, job in enumerate(chunk):
            change = base - out[k, 0]
            if single:
                f, a, _ = job
                effects[f, a] = change
            else:
                a, b = job
                effects[:, a:b] = change
    return effects


def _gradients(ctx: Context, x: np.ndarray, n_out: int) -> np.ndarray:
    """(F, T, T_out): d y_t / d x[s, f] at the sequence, one backward pass per output step."""
    from rnnviz.attr.methods import _check_model_fits, _grad_fns, _need_model, _np

    model = _need_model(ctx, "saliency")
    _check_model_fits(ctx, model)
    select = np.eye(n_out, dtype=np.float32)
    grads = _np(_grad_fns(model).grad_select, np.repeat(x, n_out, axis=0), select)
    return grads.transpose(2, 1, 0)  # (T_out, T, F) -> (F, T, T_out)


def _integrated(
    ctx: Context, x: np.ndarray, values: np.ndarray, n_out: int, steps: int
) -> tuple[np.ndarray, float]:
    """((F, T, T_out) integrated gradients of each output from the baseline ``values``, the
    largest completeness gap |sum of cells - (y_t(x) - y_t(b))| over outputs)."""
    from rnnviz.attr.methods import _check_model_fits, _grad_fns, _need_model, _np

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    model = _need_model(ctx, "integrated_gradients")
    _check_model_fits(ctx, model)
    fns = _grad_fns(model)
    seq_len, n_features = x.shape[1:]
    alphas = np.linspace(0.0, 1.0, steps + 1)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2
    b = np.broadcast_to(values, (seq_len, n_features)).astype(np.float32)
    diff = (x[0] - b).astype(np.float64)
    path = (b[None] + alphas[:, None, None] * diff[None]).astype(np.float32)  # (A, T, F)
    total = np.zeros((n_out, seq_len, n_features))
    rows = [(a, t) for a in range(len(alphas)) for t in range(n_out)]
    for part in row_chunks(len(rows), seq_len * n_features, ctx.max_values):
        chunk = rows[part]
        batch = np.stack([path[a] for a, _ in chunk])
        select = np.zeros((len(chunk), n_out), np.float32)
        select[np.arange(len(chunk)), [t for _, t in chunk]] = 1.0
        grads = _np(fns.grad_select, batch, select)
        for k, (a, t) in enumerate(chunk):
            total[t] += weights[a] * grads[k]
    attr = diff[None] * total  # (T_out, T, F)
    ends = _np(fns.forward, np.stack([x[0], b]))
    gap = float(np.abs(attr.sum(axis=(1, 2)) - (ends[0] - ends[1])).max())
    return attr.transpose(2, 1, 0), gap


# --------------------------------------------------------------------------- picking


def confident_picks(
    prediction: np.ndarray, target: np.ndarray | None, counted: np.ndarray | None = None
) -> dict[str, tuple[int, int] | None]:
    """(sequence, output step) of the most confident counted output, and of the most confident
    wrong one (None when no output is wrong or there are no labels): confidence is the
    distance of a probability from 0.5."""
    p = np.asarray(prediction, dtype=np.float64)
    mask = np.ones(p.shape, bool) if counted is None else np.asarray(counted, bool)
    sure = np.where(mask, np.abs(p - 0.5), -1.0)
    picks: dict[str, tuple[int, int] | None] = {"confident": _argmax2(sure), "wrong": None}
    if target is not None:
        wrong = mask & ((p > 0.5) != (np.asarray(target) > 0.5))
        if wrong.any():
            picks["wrong"] = _argmax2(np.where(wrong, sure, -1.0))
    return picks


def _argmax2(a: np.ndarray) -> tuple[int, int]:
    i, t = np.unravel_index(int(np.argmax(a)), a.shape)
    return int(i), int(t)


def mean_scores(scores: Iterable[dict[str, float | None]]) -> dict[str, float | None]:
    """The mean of each metric over per-sequence scores, leaving out the undefined (None)."""
    scores = list(scores)
    keys = scores[0].keys() if scores else ()
    out: dict[str, float | None] = {}
    for key in keys:
        values = [s[key] for s in scores if s[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    return out


# --------------------------------------------------------------------------- against a rule


def sequence_truth(attr: SequenceAttribution, rule) -> tuple[np.ndarray, np.ndarray | None]:
    """(cells the rule reads for the explained output (F, T), the cell that decided it (F, T)
    or None) of ``attr``'s sequence: :mod:`rnnviz.data.truth` at one sequence."""
    n_features, seq_len = attr.effect.shape
    t = attr.output_step
    reads = sequence_truth_mask(rule.ground_truth, seq_len, n_features, t)
    return reads, deciding_cells(rule, attr.inputs, t)


def truth_scores(
    attrs: Iterable[SequenceAttribution], rule, every_step: bool = True
) -> dict[str, float | None]:
    """Per-sequence maps scored against the rule, as the global maps are: ROC AUC and AUPR of
    |effect| against the cells read, per counted output step of each sequence (``every_step``
    False: the explained step only), then averaged;
    ``top_on_deciding``: the share of those outputs with a deciding cell (a window's max, a
    threshold's one cell) whose largest |effect| sits on it (None: no such output)."""
    scores, hits = [], []
    for attr in attrs:
        for t in range(attr.n_outputs) if every_step else [attr.output_step]:
            one = attr.at(t)
            if not one.is_counted:
                continue
            reads, decides = sequence_truth(one, rule)
            scores.append(sequence_scores(one.effect, reads))
            if decides is not None:
                top = np.unravel_index(int(np.argmax(np.abs(one.effect))), decides.shape)
                hits.append(bool(decides[top]))
    out = mean_scores(scores) if scores else {"auc": None, "aupr": None}
    out["top_on_deciding"] = float(np.mean(hits)) if hits else None
    return out
