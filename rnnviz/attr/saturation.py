"""When local effects cannot be trusted: a sure classifier, and effects on the log-odds scale.

A classifier's output is a probability p = sigmoid(z). Where the model is sure (|z| large), p
sits next to 0 or 1 and the sigmoid is flat there: its slope p(1 - p) is below 1e-3 when p is
within 1e-3 of 0 or 1, at least 250 times flatter than at p = 0.5 (slope 0.25). Nudging one
input then barely moves the probability, and when the changes come down to float32's rounding
of a probability (steps of 6e-8 next to 1), the per-step maps rank rounding noise, not what the
model reads. The remedy is to measure effects on the log-odds z = log(p / (1 - p)) instead,
where a sure model's changes are as large as anywhere else.

:func:`saturation_check` says whether that happened (a :class:`Saturation` record: numbers and
``saturated``); :func:`on_effect_scale` wraps a model's predict so that the output-based
methods measure the change of the log-odds (the ``effect_on`` knob of
:class:`rnnviz.config.Config`). The sentence made from the numbers is
:func:`rnnviz.report.readings.saturation_warning`.

Thresholds (why these):

* ``NEAR`` = 1e-3: an output within 1e-3 of 0 or 1 has sigmoid slope below 1e-3 (see above).
* ``SHARE_LIMIT`` = 0.5: saturated when at least half of the counted outputs are that near:
  most of what an RMS over outputs adds up is then flattened.
* ``PRECISION_FLOOR`` = 1000 float32 eps (1.2e-4): a probability next to 1 is rounded in steps
  of eps / 2 (6e-8); when the largest effect on the probability is below 1000 eps, every
  effect is at most ~2,000 rounding steps, and the differences between cells that order them
  are a few steps: the ranking is rounding. The effects then say nothing, whatever the share.

A regression's outputs are numbers, not probabilities: the check does not apply (``applies``
False, never saturated) and ``effect_on`` has no effect there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rnnviz.config import EFFECTS_ON

__all__ = [
    "CLIP",
    "NEAR",
    "PRECISION_FLOOR",
    "SHARE_LIMIT",
    "Saturation",
    "from_log_odds",
    "largest_effect",
    "near_share",
    "on_effect_scale",
    "saturation_check",
    "to_log_odds",
]

PredictFn = Callable[[np.ndarray], np.ndarray]

NEAR = 1e-3
SHARE_LIMIT = 0.5
PRECISION_FLOOR = 1000 * float(np.finfo(np.float32).eps)
CLIP = 1e-7  # log-odds of a probability clipped to [CLIP, 1 - CLIP]: |z| <= 16.1, never inf


def to_log_odds(p: Any) -> np.ndarray:
    """log(p / (1 - p)) in float64, of ``p`` clipped to [CLIP, 1 - CLIP] (a probability of
    exactly 0 or 1 gives -16.1 or 16.1, not infinity)."""
    p = np.clip(np.asarray(p, dtype=np.float64), CLIP, 1.0 - CLIP)
    return np.log(p) - np.log1p(-p)


def from_log_odds(z: Any) -> np.ndarray:
    """The probability of log-odds ``z`` (float64, stable for large |z|)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def on_effect_scale(predict: PredictFn, effect_on: str = "probability") -> PredictFn:
    """``predict`` as the output-based methods should see it: unchanged for "probability",
    the log-odds of its (clipped) probabilities for "log-odds"; ValueError otherwise."""
    if effect_on not in EFFECTS_ON:
        raise ValueError(f"effect_on must be one of {', '.join(EFFECTS_ON)}, got {effect_on!r}")
    if effect_on == "probability":
        return predict

    def log_odds(x: np.ndarray) -> np.ndarray:
        return to_log_odds(predict(x))

    log_odds.probability_predict = predict  # type: ignore[attr-defined]
    return log_odds


def near_share(probabilities: Any, mask: Any = None) -> tuple[float, int]:
    """(share of the counted outputs within NEAR of 0 or 1, how many outputs counted).

    ``probabilities`` (n, T_out); ``mask`` (n, T_out) or (T_out,) bool, the outputs whose
    target is defined (None: all of them)."""
    p = np.asarray(probabilities, dtype=np.float64)
    counted = (
        np.ones(p.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), p.shape)
    )
    n = int(counted.sum())
    if n == 0:
        return float("nan"), 0
    near = (np.minimum(p, 1.0 - p) <= NEAR) & counted
    return float(near.sum() / n), n


def largest_effect(attribution: Any) -> float | None:
    """The largest finite effect of an attribution: its per-step map (mean over repeats) when
    it has one, else its per-feature scores; None when it has none."""
    cell = getattr(attribution, "cell_mean", None)
    values = cell if cell is not None else getattr(attribution, "importances_mean", None)
    if values is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(np.abs(finite).max()) if finite.size else None


@dataclass(frozen=True)
class Saturation:
    """What :func:`saturation_check` found.

    ``applies``: a classification (probabilities); ``share`` of the ``n_outputs`` counted
    outputs within ``near`` of 0 or 1; ``largest_effect`` the largest effect measured (on
    ``effect_on``'s scale; None when none was given); ``saturated`` the verdict (see the
    module docstring); ``warn``: saturated while the effects are on the probability, which
    the log-odds would remedy.
    """

    applies: bool
    share: float
    n_outputs: int
    largest_effect: float | None
    effect_on: str = "probability"
    near: float = NEAR
    share_limit: float = SHARE_LIMIT
    precision_floor: float = PRECISION_FLOOR

    @property
    def at_precision(self) -> bool:
        """The effects on the probability are within PRECISION_FLOOR of zero: rounding."""
        return (
            self.applies
            and self.effect_on == "probability"
            and self.largest_effect is not None
            and self.largest_effect < self.precision_floor
        )

    @property
    def saturated(self) -> bool:
        """Most outputs sit on the sigmoid's flat ends, or the probability effects are rounding."""
        return self.applies and (self.share >= self.share_limit or self.at_precision)

    @property
    def warn(self) -> bool:
        """Saturated with effects on the probability: the pages and the CLI warn."""
        return self.saturated and self.effect_on == "probability"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON numbers (the CLI's ``--json``), the verdicts included."""
        out = asdict(self)
        out["share"] = None if not np.isfinite(self.share) else self.share
        return out | {
            "at_precision": self.at_precision,
            "saturated": self.saturated,
            "warn": self.warn,
        }


def saturation_check(
    probabilities: Any,
    mask: Any = None,
    effects: Any = None,
    *,
    effect_on: str = "probability",
    task: str = "classification",
) -> Saturation:
    """Is this classifier sure enough that its local effects on the probability mislead?

    ``probabilities`` (n, T_out): the model's predictions on the scored sequences; ``mask`` the
    counted outputs (the output mask; None: all); ``effects`` an attribution (its largest
    effect is read, :func:`largest_effect`) or a number, on ``effect_on``'s scale. A
    ``task`` of "regression" is not applicable: no share, never saturated.
    """
    if effect_on not in EFFECTS_ON:
        raise ValueError(f"effect_on must be one of {', '.join(EFFECTS_ON)}, got {effect_on!r}")
    if task != "classification":
        return Saturation(False, float("nan"), 0, None, effect_on)
    share, n = near_share(probabilities, mask)
    largest = (
        effects if effects is None or isinstance(effects, int | float) else largest_effect(effects)
    )
    return Saturation(True, share, n, None if largest is None else float(largest), effect_on)


def saturation_of(attribution: Any, task: str, effect_on: str = "probability") -> Saturation | None:
    """The check of scores that carry their outputs' share (``extra["outputs_near"]``, written
    by :func:`rnnviz.experiment.explain`), with the largest of their own effects; None when
    they do not carry it (a regression: not applicable)."""
    if task != "classification":
        return Saturation(False, float("nan"), 0, None, effect_on)
    kept = getattr(attribution, "extra", {}).get("outputs_near")
    if not isinstance(kept, Mapping):
        return None
    return Saturation(
        True,
        float(kept["share"]),
        int(kept["n_outputs"]),
        largest_effect(attribution),
        effect_on,
    )
