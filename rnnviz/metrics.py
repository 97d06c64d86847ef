"""Numbers only: accuracy, losses, R², the verdict's grades, paired tests and small array helpers.

This module imports nothing from rnnviz, so every room (data, training, explain, report, serve)
can use it without climbing back up. Sentences made from these numbers live in
:mod:`rnnviz.report.readings`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

# The verdict grades a model by its error ratio: its validation error rate divided by the error
# rate of always guessing the majority class (the baseline). Both ends are inclusive.
#   learned         error ratio <= 0.2: it makes at most a fifth of the baseline's errors. The
#                   majority class is right at least half the time, so this also means at least
#                   90% accuracy (an error rate <= 0.2 x 50%). The default recipe stays at or
#                   under 0.13 on every preset rule (benchmarks/bench_recipe.py --seeds 3).
#   partly learned  error ratio <= 0.7: it closes at least 30% of the gap between the baseline
#                   and perfect, but still gets many steps wrong (75% against a 50% baseline is
#                   0.5; 79% against 64.7% is 0.59).
#   did not learn   error ratio > 0.7: barely (or not) better than always guessing.
LEARNED_ERROR_RATIO = 0.2
PARTLY_ERROR_RATIO = 0.7
EPS = 1e-9  # a number exactly on a boundary (up to float rounding) counts as inside it

Grade = Literal["learned", "partly learned", "did not learn"]
GRADES: tuple[Grade, ...] = ("learned", "partly learned", "did not learn")


def error_ratio(accuracy: float, baseline_accuracy: float) -> float | None:
    """Error rate over the majority-class error rate; None when the baseline makes no error."""
    base_err = 1.0 - baseline_accuracy
    return None if base_err <= 0 else (1.0 - accuracy) / base_err


def grade_of(accuracy: float, baseline_accuracy: float) -> Grade:
    """The verdict's grade for an accuracy against the majority-class accuracy.

    learned: error <= 20% of the baseline's error (so accuracy >= 90%); partly learned: error
    <= 70% of the baseline's error; did not learn: otherwise. Boundaries are inclusive.
    """
    err, base_err = 1.0 - accuracy, 1.0 - baseline_accuracy
    if err <= LEARNED_ERROR_RATIO * base_err + EPS:
        return "learned"
    if err <= PARTLY_ERROR_RATIO * base_err + EPS:
        return "partly learned"
    return "did not learn"


def regression_grade(r2: float) -> Grade:
    """The grade of an R² against the training mean, by the same error ratios as an accuracy
    against the majority class: learned at R² >= 0.8, partly learned at R² >= 0.3."""
    return grade_of(r2, 0.0)


def skill(error: float, baseline_error: float) -> float | None:
    """1 - error / baseline_error: the share of a baseline's error a model removes (0: none,
    1: all, negative: worse). None when the baseline makes no error."""
    return None if baseline_error <= 0 else 1.0 - error / baseline_error


# --------------------------------------------------------------------------- scores


def accuracy(prob: Sequence[float], y: Sequence[float]) -> float:
    """Share of steps where ``prob >= 0.5`` matches ``y`` (0/1)."""
    p, t = _arrays(prob, y)
    return float(((p >= 0.5) == (t >= 0.5)).mean())


def majority_accuracy(y: Sequence[float]) -> float:
    """Accuracy of always guessing the class more common in ``y`` (0/1) itself."""
    (t,) = _arrays(y)
    share = float((t >= 0.5).mean())
    return max(share, 1.0 - share)


def persistence_accuracy(y: Sequence[float], today: Sequence[float]) -> float:
    """Accuracy of "tomorrow like today": ``today[i]`` (0/1) as the guess for ``y[i]``."""
    return accuracy(today, y)


def cross_entropy(prob: Sequence[float], y: Sequence[float]) -> float:
    """Mean binary cross-entropy of probabilities ``prob`` (clipped to 1e-7 … 1 - 1e-7) against
    0/1 ``y``: the training loss, computed in numpy (validation, snapshots)."""
    p, t = _arrays(prob, y)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def mse(y: Sequence[float], pred: Sequence[float]) -> float:
    """Mean squared error of ``pred`` against ``y``."""
    t, p = _arrays(y, pred)
    return float(((p - t) ** 2).mean())


def r2_against(y: Sequence[float], pred: Sequence[float], mean: float) -> float:
    """R² against always predicting ``mean`` (the training mean): 1 - MSE(pred) / MSE(mean).

    1 is perfect, 0 no better than the mean, below 0 worse. Raises ValueError when every ``y``
    equals ``mean`` (no error left to explain).
    """
    t, p = _arrays(y, pred)
    base = float(((t - mean) ** 2).sum())
    if base <= 0:
        raise ValueError("R² is undefined: every target equals the mean")
    return 1.0 - float(((p - t) ** 2).sum()) / base


# --------------------------------------------------------------------------- paired tests


def paired_counts(
    y: Sequence[float], pred_a: Sequence[float], pred_b: Sequence[float]
) -> tuple[int, int]:
    """(steps only ``pred_a`` gets right, steps only ``pred_b`` gets right), 0/1 at 0.5."""
    t, a, b = _arrays(y, pred_a, pred_b)
    right_a, right_b = (a >= 0.5) == (t >= 0.5), (b >= 0.5) == (t >= 0.5)
    return int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())


def clearly_better(a_only: int, b_only: int, z: float = 2.0) -> bool:
    """True when A's wins over B (``a_only`` vs ``b_only`` from :func:`paired_counts`) are more
    than chance: a sign test, a_only - b_only > z * sqrt(a_only + b_only) (about 95% at z = 2).
    Neighbouring days are not independent, so this is lenient rather than strict."""
    return a_only - b_only > z * math.sqrt(a_only + b_only)


def clearly_lower(errors_a: Sequence[float], errors_b: Sequence[float], z: float = 2.0) -> bool:
    """True when the paired errors ``errors_a`` (e.g. squared) are lower than ``errors_b`` by
    more than chance: mean(b - a) > z * its standard error."""
    a, b = _arrays(errors_a, errors_b)
    d = b - a
    if len(d) < 2:
        return False
    return float(d.mean()) > z * float(d.std(ddof=1)) / math.sqrt(len(d))


def _arrays(*values: Sequence[float]) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if any(len(a) != len(out[0]) for a in out) or not len(out[0]):
        raise ValueError(f"need equally long, non-empty arrays, got {[len(a) for a in out]}")
    return out


# --------------------------------------------------------------------------- array helpers


def output_mask(valid: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """``valid`` checked against the outputs' shape (n, T_out); None when every output counts.

    A (T_out,) mask applies to every sequence. Raises ValueError when no output counts.
    """
    if valid is None:
        return None
    mask = np.asarray(valid)
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("valid must hold true/false (or 0/1) for each output")
        mask = mask.astype(bool)
    if mask.shape == shape[1:]:
        mask = np.broadcast_to(mask, shape)
    if mask.shape != tuple(shape):
        raise ValueError(
            f"valid must mark each output: shape {tuple(shape)} (sequences, output steps), "
            f"got {mask.shape}"
        )
    if not mask.any():
        raise ValueError("no output has a defined target (valid is all false): nothing to score")
    return None if mask.all() else mask


def rms(diff2: np.ndarray, mask: np.ndarray | None) -> float:
    """RMS over the counted entries of squared changes (n, T_out)."""
    if mask is None:
        return float(np.sqrt(diff2.mean()))
    return float(np.sqrt(np.where(mask, diff2, 0.0).sum() / mask.sum()))


def lag_values(seq_len: int) -> np.ndarray:
    """(2T-1,) lags -(T-1) .. T-1: lag = output step - input step."""
    return np.arange(1 - seq_len, seq_len)


def json_list(a: np.ndarray) -> list:
    """Nested lists of floats, with None where ``a`` is NaN (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()
