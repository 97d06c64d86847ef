"""The registry: every method's facts in one :class:`MethodSpec`, the single source of truth.

A method is one function in :mod:`rnnviz.attr.methods` plus one spec here: its label, whether it
is
fast (no retraining), which parameters it takes (with labels, bounds and the values the page
offers), what it needs, an optional ``validate`` hook and, where it has one, the figure the
Compare page draws for it. The Compare page, :func:`rnnviz.experiment.compare_methods`, the
comparison, the command line and the tests all iterate :data:`METHODS`.

A method run on top of another one (temporal saliency rescaling) is called ``<name>:<base>``
(e.g. ``tsr:perturbation``); its spec's ``base`` says which methods it takes, and it gets the
base's Attribution. :func:`run_method` is the checked entry point: it rejects unknown
methods, unknown parameters and out-of-bounds values with a ValueError naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.attr import methods as m
from rnnviz.attr.attribution import Attribution
from rnnviz.attr.methods import Context
from rnnviz.config import DEFAULT_BOUNDS

if TYPE_CHECKING:
    from rnnviz.config import Config

MAX_REPEATS = DEFAULT_BOUNDS.n_repeats[1]
MAX_SIGMA = DEFAULT_BOUNDS.sigma[1]
IG_STEPS = (4, 256)
LEK_POINTS = (3, 200)
MAX_QUANTILES = 11
MAX_SIGMAS = 10
RANDOM = "random"  # the chance row every comparison adds
# Noise scales offered by the app wherever σ is chosen.
SIGMA_STEPS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
QUANTILE_STEPS = (0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)
BASELINES = ("zero", "mean")  # ablation and integrated gradients: zero, or each feature's mean
MAX_WINDOW = DEFAULT_BOUNDS.seq_len[1]  # a group's steps: capped by the sequence length in force
MAX_BLOCK = DEFAULT_BOUNDS.n_features[1]  # a group's features


@dataclass(frozen=True, kw_only=True)
class Param:
    """One method parameter: default, bounds, label, and the values the app offers."""

    name: str
    kind: str  # int, float, bool, choice, floats, trainer (filled in by compare_methods)
    default: Any = None
    label: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low bound exclusive
    choices: tuple = ()
    length: tuple[int, int] = (1, 1)  # for "floats": allowed number of values
    required: bool = False
    help: str = ""
    bound: str | None = None  # the Config knob whose bounds in force cap ``high`` in the app
    grid: tuple[float, ...] = ()  # values the app offers (a slider or a multiselect)

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
        if self.kind == "trainer":
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


Validate = Callable[[Context, Mapping[str, Any]], None]


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """One registered method: how to call it, what it needs and gives, how the app shows it."""

    name: str
    label: str  # for a method on a base: a template with {base}
    fn: Callable[..., Attribution]
    description: str
    params: tuple[Param, ...] = ()
    fast: bool = True  # False: it retrains models (run apart, on request)
    by_default: bool = True  # run by compare_methods when no methods are named
    first: bool = False  # the Compare page opens with it
    needs_model: bool = False  # reads the Keras model (gradients, weights)
    reads_weights: bool = False  # reads input weights only: blind to the recurrence
    repeats: bool = False  # draws noise or shuffles: scores over repeats
    cell: bool = False  # has (feature, input step) grain
    validate: Validate | None = None  # checks beyond each parameter's bounds
    base: Callable[[MethodSpec], bool] | None = None  # runs on these methods: "<name>:<base>"
    figure: str | None = None  # a builder in rnnviz.report.plots: (attribution, truth_features)
    figure_title: str = ""
    figure_reading: str | None = None  # a function in rnnviz.report.readings: (attribution, truth)
    # Parameter values taken from the experiment's Config (the app's defaults too).
    from_config: Callable[[Config], dict[str, Any]] | None = None


def _increasing_sigmas(ctx: Context, params: Mapping[str, Any]) -> None:
    sigmas = params.get("sigmas", ())
    if any(b <= a for a, b in zip(sigmas, sigmas[1:], strict=False)):
        raise ValueError(f"sigma_sweep: sigmas must be increasing, got {tuple(sigmas)}")


def _int(name: str, default: int, label: str, low: int, high: int, **more: Any) -> Param:
    return Param(name=name, kind="int", default=default, label=label, low=low, high=high, **more)


def _choice(name: str, default: str, label: str, choices: tuple[str, ...]) -> Param:
    return Param(name=name, kind="choice", default=default, label=label, choices=choices)


def _bool(name: str, label: str, help: str) -> Param:
    return Param(name=name, kind="bool", default=True, label=label, help=help)


def _floats(name: str, default: tuple, label: str, high: float, **more: Any) -> Param:
    return Param(name=name, kind="floats", default=default, label=label, low=0.0, high=high, **more)


_SIGMA = Param(
    name="sigma",
    kind="float",
    default=0.2,
    label="Noise scale σ",
    low=0.0,
    high=MAX_SIGMA,
    low_open=True,
    help="noise scale",
    bound="sigma",
    grid=SIGMA_STEPS,
)
_REPEATS = _int(
    "n_repeats", 5, "Repeats", 1, MAX_REPEATS, help="independent draws", bound="n_repeats"
)
_PER_STEP = _bool(
    "per_step", "Also score each (feature, step)", "also score each (feature, step) cell"
)
_LOSS = Param(
    name="loss",
    kind="choice",
    default="auto",
    label="Loss",
    choices=m.LOSSES,
    help="the model's loss: auto = cross-entropy for 0/1 labels, mean squared error otherwise",
)


METHODS: dict[str, MethodSpec] = {
    s.name: s
    for s in (
        MethodSpec(
            name="perturbation",
            label="Input perturbation (noise)",
            fn=m.perturbation,
            description="Add N(0, sigma) noise to one feature and measure the RMS change of "
            "predictions.",
            params=(_SIGMA, _REPEATS, _PER_STEP),
            first=True,
            repeats=True,
            cell=True,
            from_config=lambda config: {"sigma": config.sigma, "n_repeats": config.n_repeats},
        ),
        MethodSpec(
            name="sigma_sweep",
            label="Perturbation across noise scales",
            fn=m.sigma_sweep,
            description="Input perturbation at several sigmas, to see whether the ranking "
            "depends on it.",
            params=(
                _floats(
                    "sigmas",
                    (0.05, 0.1, 0.2, 0.4, 0.8),
                    "Noise scales σ",
                    MAX_SIGMA,
                    low_open=True,
                    length=(2, MAX_SIGMAS),
                    bound="sigma",
                    grid=SIGMA_STEPS,
                ),
                _REPEATS,
            ),
            by_default=False,
            repeats=True,
            validate=_increasing_sigmas,
            figure="sigma_sweep_curves",
            figure_title="Does the ranking depend on σ?",
            figure_reading="sweep_reading",
        ),
        MethodSpec(
            name="ablation",
            label="Ablation (occlusion)",
            fn=m.ablation,
            description="Replace one feature (or one feature at one step) by zero or its mean.",
            params=(_choice("baseline", "mean", "Baseline", BASELINES), _PER_STEP),
            cell=True,
        ),
        MethodSpec(
            name="permutation",
            label="Permutation",
            fn=m.permutation,
            description="Shuffle one feature across sequences; with labels, also the rise in loss.",
            params=(_REPEATS, _PER_STEP),
            first=True,
            repeats=True,
            cell=True,
        ),
        MethodSpec(
            name="saliency",
            label="Partial derivatives (saliency)",
            fn=m.saliency,
            description="Mean absolute gradient of the outputs with respect to each input.",
            params=(
                _bool(
                    "per_lag",
                    "Per-output gradients (lag scores)",
                    "per-output gradients for lag scores",
                ),
            ),
            first=True,
            needs_model=True,
            cell=True,
        ),
        MethodSpec(
            name="integrated_gradients",
            label="Integrated gradients",
            fn=m.integrated_gradients,
            description="Gradients averaged along the straight path from a baseline to the input.",
            params=(
                _choice("baseline", "zero", "Baseline", BASELINES),
                _int("steps", 32, "Integration steps", *IG_STEPS),
                _choice("integration", "trapezoid", "Integration rule", ("trapezoid", "midpoint")),
            ),
            needs_model=True,
            cell=True,
        ),
        MethodSpec(
            name="connection_weights",
            label="Connection weights (Olden)",
            fn=m.connection_weights,
            description="Product of the input kernels (summed over gates) from input to output.",
            first=True,
            needs_model=True,
            reads_weights=True,
        ),
        MethodSpec(
            name="garson",
            label="Garson's algorithm",
            fn=m.garson,
            description="Shares of absolute input weights of the first LSTM, weighted by later "
            "layers.",
            needs_model=True,
            reads_weights=True,
        ),
        MethodSpec(
            name="lek",
            label="Sensitivity analysis (Lek's profiles)",
            fn=m.lek,
            description="Sweep one feature over its range with the others held at quantiles.",
            params=(
                _int("n_points", 20, "Points per curve", *LEK_POINTS),
                _floats(
                    "quantiles",
                    (0.0, 0.25, 0.5, 0.75, 1.0),
                    "Others held at quantiles",
                    1.0,
                    length=(1, MAX_QUANTILES),
                    grid=QUANTILE_STEPS,
                ),
            ),
            figure="lek_profiles",
            figure_title="Sensitivity analysis: response curves",
        ),
        MethodSpec(
            name="stepwise",
            label="Backward stepwise elimination",
            fn=m.stepwise,
            description="Retrain without each feature and measure the rise in validation loss.",
            params=(
                Param(
                    name="train_fn",
                    kind="trainer",
                    required=True,
                    help="see rnnviz.experiment.make_stepwise_trainer",
                ),
            ),
            fast=False,
            by_default=False,
            validate=m.check_stepwise,
        ),
        MethodSpec(
            name="group",
            label="Group occlusion / perturbation (windows, blocks, tiles)",
            fn=m.group_occlusion,
            description="Edit a window of steps, a block of features or a tile of both at once: "
            "finds evidence spread over many cells, which no single cell shows.",
            params=(
                Param(
                    name="grouping",
                    kind="choice",
                    default="window",
                    label="Scale: group",
                    choices=m.GROUPINGS,
                    help="window: w consecutive steps of every feature; block: b consecutive "
                    "features at every step; tile: b features over w steps",
                ),
                _int(
                    "window",
                    5,
                    "Window w (steps)",
                    1,
                    MAX_WINDOW,
                    help="steps per window (a window longer than the sequence covers all of it)",
                    bound="seq_len",
                ),
                _int(
                    "block",
                    1,
                    "Block b (features)",
                    1,
                    MAX_BLOCK,
                    help="features per block (more than there are covers all of them)",
                    bound="n_features",
                ),
                Param(
                    name="overlap",
                    kind="choice",
                    default="none",
                    label="Groups",
                    choices=m.OVERLAPS,
                    help="none: side by side, each cell in one group; sliding: one group "
                    "starting at every step, each cell gets the mean of the groups covering it",
                ),
                Param(
                    name="edit",
                    kind="choice",
                    default="occlude",
                    label="Edit",
                    choices=m.GROUP_EDITS,
                    help="occlude: replace the group by the baseline (like ablation); noise: add "
                    "N(0, σ) to it (like input perturbation)",
                ),
                Param(
                    name="baseline",
                    kind="choice",
                    default="mean",
                    label="Baseline (occlude)",
                    choices=BASELINES,
                    help="what an occluded cell becomes: zero, or its feature's mean",
                ),
                _SIGMA,
                _REPEATS,
            ),
            by_default=False,
            cell=True,
            figure="group_map",
            figure_title="Effects at a coarser scale: groups of cells",
            from_config=lambda config: {"sigma": config.sigma, "n_repeats": config.n_repeats},
        ),
        MethodSpec(
            name="iss1",
            label="Improved stepwise selection 1 (fix one input at its mean)",
            fn=m.improved_stepwise_1,
            description="Fix one input at its mean (no retraining) and measure the rise in the "
            "model's loss: ablation with the mean, scored by the loss (Gevrey et al. 2003).",
            params=(_PER_STEP, _LOSS),
            by_default=False,
            cell=True,
            figure="stepwise_losses",
            figure_title="Improved stepwise selection 1: the loss with one input fixed",
        ),
        MethodSpec(
            name="iss2",
            label="Improved stepwise selection 2 (fix inputs one after another)",
            fn=m.improved_stepwise_2,
            description="Fix inputs at their means one after another, each time the one that "
            "costs least (no retraining): a deletion curve in the model's own order (Gevrey "
            "et al. 2003).",
            params=(_LOSS,),
            by_default=False,
            figure="stepwise_losses",
            figure_title="Improved stepwise selection 2: inputs fixed one after another",
        ),
        MethodSpec(
            name="tsr",
            label="TSR on {base}",
            fn=m.temporal_saliency_rescaling,
            description="Temporal saliency rescaling: keep a method's per-step scores on the "
            "steps that matter.",
            by_default=False,
            base=lambda spec: spec.cell and spec.name != RANDOM,
        ),
        MethodSpec(
            name=RANDOM,
            label="Random scores (chance)",
            fn=lambda ctx: m.random_baseline(ctx),
            description="Uniform random scores: what chance looks like on every metric.",
            by_default=False,
            repeats=True,
            cell=True,
        ),
    )
}


def default_methods() -> tuple[str, ...]:
    """What :func:`rnnviz.experiment.compare_methods` runs when no methods are named."""
    return tuple(name for name, spec in METHODS.items() if spec.by_default)


def first_methods() -> tuple[str, ...]:
    """The methods the Compare page opens with (random scores are always added)."""
    return tuple(name for name, spec in METHODS.items() if spec.first)


def split_name(name: str) -> tuple[str, str | None]:
    """``"tsr:perturbation"`` -> ("tsr", "perturbation"); ``"lek"`` -> ("lek", None)."""
    head, sep, base = name.partition(":")
    return head, (base if sep else None)


def spec_of(name: str) -> MethodSpec:
    """The spec of a registered method (or of ``<name>`` in ``<name>:<base>``)."""
    head, _ = split_name(name)
    if head not in METHODS:
        raise ValueError(
            f"unknown method {head!r}; known: {', '.join(METHODS)} "
            "(and <method>:<base> for a method on a base, e.g. tsr:perturbation)"
        )
    return METHODS[head]


def method_label(name: str) -> str:
    """The registry label of a method ("TSR on Input perturbation (noise)" for tsr:perturbation);
    an unknown name is its own label."""
    head, base = split_name(name)
    if head not in METHODS:
        return name
    label = METHODS[head].label
    return label.format(base=method_label(base)) if base is not None else label


def check_name(name: str) -> MethodSpec:
    """The spec of ``name``, a registered method or ``<name>:<base>`` with a base its spec
    takes; a ValueError naming the valid names otherwise. Needs no model: the command line
    checks names before it trains."""
    if not isinstance(name, str):
        raise ValueError(f"a method name must be text, got {name!r}")
    head, base = split_name(name)
    spec = spec_of(name)
    if base is not None or spec.base is not None:
        if spec.base is None:
            raise ValueError(f"{head} does not run on another method")
        takes = ", ".join(k for k, s in METHODS.items() if spec.base(s))
        if base is None or not spec.base(spec_of(base)):
            raise ValueError(f"{head} needs a method with per-step scores: {head}:<one of {takes}>")
    return spec


def resolve(name: str, ctx: Context, params: Mapping[str, Any]) -> Callable[[], Attribution]:
    """Check a method call (name, needs, parameters, validate hook) without running it."""
    spec = check_name(name)
    _, base = split_name(name)
    if base is not None:
        inner = resolve(base, ctx, params)  # the parameters are the base method's
        return lambda: spec.fn(ctx, base=inner())
    if spec.needs_model and ctx.model is None:
        raise ValueError(f"{name} needs the Keras model: pass Context(model=...)")
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
            hint = f" ({p.help})" if p.help else ""
            raise ValueError(f"{name} needs the parameter {p.name}{hint}")
    if spec.validate is not None:
        spec.validate(ctx, checked)
    return lambda: spec.fn(ctx, **checked)


def run_method(name: str, ctx: Context, **params: Any) -> Attribution:
    """Run a registered method (or ``<name>:<base>``) after checking its needs and parameters.

    Raises ValueError with a message naming the method and the parameter for unknown methods,
    unknown parameters, values out of bounds, and a missing model.
    """
    return resolve(name, ctx, params)()


__all__ = [
    "METHODS",
    "RANDOM",
    "MethodSpec",
    "Param",
    "check_name",
    "default_methods",
    "first_methods",
    "method_label",
    "resolve",
    "run_method",
    "spec_of",
]
