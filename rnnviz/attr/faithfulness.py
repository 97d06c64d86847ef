"""Faithfulness without ground truth: deletion and insertion curves of an attribution.

An attribution claims an order of importance. Whether the model agrees can be measured without
knowing the truth: take the cells away in that order and watch the model's quality fall
(deletion), or start from nothing and put them back in that order and watch it rise
(insertion). A faithful order makes deletion fall and insertion rise sooner than a random order
of the same cells does.

Definitions followed:

* the curves are the *deletion* and *insertion* metrics of Petsiuk, Das & Saenko (2018), "RISE:
  Randomized Input Sampling for Explanation of Black-box Models" (BMVC; arXiv 1806.07421):
  the most important inputs first, the model's output measured against the share of inputs
  removed (or inserted), summarised by the area under the curve. Here what is measured is the
  model's quality on the explained sample (accuracy, or R² for a regression; or the loss), not
  one class probability, because rnnviz's attributions are global (one order for every
  sequence), not per image;
* the reference is a random order of as many cells, as in the perturbation analysis of time
  series attributions by Schlegel, Arnout, El-Assady, Oelke & Keim (2019), "Towards a Rigorous
  Evaluation of XAI Methods on Time Series" (arXiv 1909.07082), which compares the quality drop
  of the top-attributed time points with that of randomly chosen ones. The score is the area
  between the method's curve and the random one's, signed so that higher is more faithful on
  both curves (deletion: random's area minus the method's; insertion: the method's minus
  random's; reversed for a loss, where lower is better).

Grain: a method with a per-step map (``Attribution.cell``) is followed cell by cell (feature f
at input step s, in every sequence at once); a method with per-feature scores only, feature by
feature (all steps of the feature). Its random reference has the same grain. A removed cell
gets the baseline, the feature's mean over the explained sample (the value
:func:`rnnviz.attr.methods.ablation` puts in with its "mean" baseline).

Quality is measured on the outputs that count (``mask``): accuracy (share of outputs whose
0.5-thresholded prediction matches the 0/1 label), R² = 1 - MSE / variance of the counted
targets, or the loss (cross-entropy, mean squared error). Without labels (an upload without
``y``), the model's own predictions on the unchanged sample stand in for them: the curves then
say how far the model's answers move away from what it said (``agreement`` for classes).

Cost: every point of every curve is one edited copy of the sample; copies go through
``predict`` in a few large calls (:func:`rnnviz.attr.scoring.batched_copies`, chunked by
:func:`rnnviz.attr.scoring.row_chunks` so that no call holds more than ``max_values`` input
numbers). Shares that round to the same number of cells are one point: at most
``2 * len(shares) - 2`` copies per order (both ends are shared by the two curves).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.scoring import (
    DEFAULT_MAX_VALUES,
    batched_copies,
    check_max_values,
    check_x,
    output_mask,
    predict_rows,
)

if TYPE_CHECKING:
    import pandas as pd

PredictFn = Callable[[np.ndarray], np.ndarray]

# The shares of cells removed (or inserted) at which the model is measured.
SHARES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
N_RANDOM = 3  # random orders averaged into the reference curve
MAX_RANDOM = 20
TASKS = ("classification", "regression")
METRICS = ("auto", "loss")
CURVE_KINDS = ("deletion", "insertion")
# How each quality measure reads: (label, higher is better)
QUALITY = {
    "accuracy": ("accuracy", True),
    "agreement": ("agreement with the model's own answers", True),
    "r2": ("R²", True),
    "loss": ("loss", False),
}

__all__ = [
    "CURVE_KINDS",
    "N_RANDOM",
    "SHARES",
    "Curves",
    "curve_scores",
    "deletion_insertion",
    "quality",
]


@dataclass(frozen=True, eq=False)
class Curves:
    """One method's deletion and insertion curves beside the random order's, at one grain.

    ``shares`` (K,) the share of units removed (deletion) or put back (insertion) at each
    point, from 0 to 1; ``units`` how many there are (F x T cells, or F features). ``deletion``
    and ``insertion`` (K,) the quality there; ``random_deletion`` / ``random_insertion``
    (N, K) the same for N random orders (their mean is the reference).
    """

    method: str
    grain: str  # "cell" (feature x input step) or "feature"
    metric: str  # a key of QUALITY
    units: int
    shares: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    random_deletion: np.ndarray
    random_insertion: np.ndarray

    @property
    def higher_is_better(self) -> bool:
        return QUALITY[self.metric][1]

    @property
    def metric_label(self) -> str:
        return QUALITY[self.metric][0]

    @property
    def full(self) -> float:
        """The quality on the unchanged sample (nothing removed)."""
        return float(self.deletion[0])

    @property
    def empty(self) -> float:
        """The quality with every unit at its baseline (everything removed)."""
        return float(self.deletion[-1])

    def reference(self, kind: str) -> np.ndarray:
        """(K,) the random orders' mean curve of ``kind`` ("deletion" or "insertion")."""
        return self._random(kind).mean(axis=0)

    def _random(self, kind: str) -> np.ndarray:
        if kind not in CURVE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(CURVE_KINDS)}, got {kind!r}")
        return self.random_deletion if kind == "deletion" else self.random_insertion

    def curve(self, kind: str) -> np.ndarray:
        """(K,) the method's curve of ``kind``."""
        self._random(kind)  # checks kind
        return self.deletion if kind == "deletion" else self.insertion

    def score(self, kind: str) -> float:
        """The area between the method's curve and the random reference (share axis 0..1),
        signed so that higher = more faithful: a deletion curve below random's (for a quality
        where higher is better) and an insertion curve above it score above 0."""
        gap = _area(self.shares, self.curve(kind) - self.reference(kind))
        sign = 1.0 if self.higher_is_better else -1.0
        if kind == "deletion":
            sign = -sign
        return float(sign * gap)

    def random_spread(self, kind: str) -> float:
        """Standard deviation of the single random orders' scores: how far chance alone
        moves the score (0 with one random order)."""
        random = self._random(kind)
        if len(random) < 2:
            return 0.0
        gaps = np.array([_area(self.shares, r - random.mean(axis=0)) for r in random])
        return float(gaps.std(ddof=1))

    @property
    def deletion_score(self) -> float:
        return self.score("deletion")

    @property
    def insertion_score(self) -> float:
        return self.score("insertion")

    def at(self, share: float) -> int:
        """Index of the point nearest to ``share`` of the units removed (the smaller one of
        two as near), never the first point (nothing removed) when there are more."""
        first = 1 if len(self.shares) > 1 else 0
        return first + int(np.argmin(np.abs(self.shares[first:] - share)))

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: one row per curve (deletion, insertion), order (the method, random:
        the mean of the random orders) and point, with the share, the number of units and the
        quality; ``random_std`` the spread of the random orders there."""
        import pandas as pd

        rows = []
        counts = np.rint(self.shares * self.units).astype(int)
        for kind in CURVE_KINDS:
            random = self._random(kind)
            for order, values in (("method", self.curve(kind)), ("random", random.mean(axis=0))):
                for k, share in enumerate(self.shares):
                    rows.append(
                        {
                            "method": self.method,
                            "curve": kind,
                            "order": order,
                            "grain": self.grain,
                            "share": float(share),
                            "units": int(counts[k]),
                            "metric": self.metric,
                            "value": float(values[k]),
                            "random_std": float(random[:, k].std()) if order == "random" else 0.0,
                        }
                    )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready numbers: the curves, the reference and both scores."""
        return {
            "method": self.method,
            "grain": self.grain,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "units": self.units,
            "shares": self.shares.tolist(),
            "deletion": self.deletion.tolist(),
            "insertion": self.insertion.tolist(),
            "random_deletion": self.reference("deletion").tolist(),
            "random_insertion": self.reference("insertion").tolist(),
            "random_orders": len(self.random_deletion),
            "deletion_score": self.deletion_score,
            "insertion_score": self.insertion_score,
            "deletion_random_spread": self.random_spread("deletion"),
            "insertion_random_spread": self.random_spread("insertion"),
        }


def _area(shares: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid area of ``values`` over ``shares`` (0 for a single point)."""
    if len(shares) < 2:
        return 0.0
    return float(np.trapezoid(values, shares))


# --------------------------------------------------------------------------- quality


def quality(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None, task: str, metric: str
) -> np.ndarray:
    """The quality of predictions ``pred`` (..., n, T_out) against ``target`` (n, T_out) over
    the counted outputs (``mask``, None: all): "accuracy"/"agreement" (0.5 threshold), "r2"
    (1 - MSE / variance of the counted targets) or "loss" (cross-entropy for a
    classification, MSE for a regression). Returns (...)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.broadcast_to(np.asarray(target, dtype=np.float64), pred.shape[-2:])
    weight = np.ones(pred.shape[-2:]) if mask is None else np.asarray(mask, dtype=np.float64)
    total = weight.sum()

    def mean(values: np.ndarray) -> np.ndarray:
        return (values * weight).sum(axis=(-2, -1)) / total

    if metric in ("accuracy", "agreement"):
        return mean(((pred >= 0.5) == (target >= 0.5)).astype(np.float64))
    if metric == "loss" and task == "classification":
        p = np.clip(pred, 1e-7, 1 - 1e-7)
        return mean(-(target * np.log(p) + (1 - target) * np.log(1 - p)))
    mse = mean((pred - target) ** 2)
    if metric == "loss":
        return mse
    if metric != "r2":
        raise ValueError(f"unknown quality {metric!r}")
    centre = (target * weight).sum() / total
    variance = float(((target - centre) ** 2 * weight).sum() / total)
    if variance <= 0:
        raise ValueError(
            "every counted target is the same number: R² is undefined (use metric='loss')"
        )
    return 1.0 - mse / variance


def _metric_of(task: str, metric: str, labelled: bool) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "loss":
        return "loss"
    if task == "regression":
        return "r2"
    return "accuracy" if labelled else "agreement"


# --------------------------------------------------------------------------- orders and counts


def _grain_scores(attr: Attribution) -> tuple[str, np.ndarray]:
    """("cell", (F, T) mean cell scores) where the method has a per-step map, else
    ("feature", (F,) per-feature means)."""
    if attr.cell is not None:
        return "cell", attr.cell_mean
    return "feature", attr.importances_mean


def _order(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of ``scores`` from the most to the least important. Ties (equal scores,
    which no method can order) are broken at random, from ``rng``; NaN counts as least
    important."""
    flat = np.asarray(scores, dtype=np.float64).ravel()
    key = np.where(np.isfinite(flat), flat, -np.inf)
    return np.lexsort((rng.random(flat.size), -key))


def _counts(units: int, shares: Sequence[float]) -> np.ndarray:
    """The distinct numbers of units removed at ``shares`` (rounded), 0 and all included."""
    raw = np.rint(np.asarray(shares, dtype=np.float64) * units).astype(int)
    return np.unique(np.concatenate([[0, units], np.clip(raw, 0, units)]))


def _check_shares(shares: Sequence[float]) -> np.ndarray:
    values = np.asarray(shares, dtype=np.float64)
    if values.ndim != 1 or values.size < 2 or not np.isfinite(values).all():
        raise ValueError("shares must be at least two numbers from 0 to 1")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"shares must lie from 0 to 1, got {values.min():g} .. {values.max():g}")
    return values


# --------------------------------------------------------------------------- the curves


class _Probe:
    """The sample, its baseline and its reference outputs: measures orders of removal."""

    def __init__(
        self,
        predict: PredictFn,
        x: np.ndarray,
        y: np.ndarray | None,
        mask: np.ndarray | None,
        task: str,
        metric: str,
        baseline: np.ndarray | None,
        max_values: int,
    ) -> None:
        self.predict = predict
        self.x = check_x(x)
        check_max_values(max_values)
        self.max_values = max_values
        n, seq_len, n_features = self.x.shape
        if baseline is None:  # ablation's "mean" baseline: each feature's mean over x
            baseline = self.x.mean(axis=(0, 1), dtype=np.float64)
        baseline = np.asarray(baseline, dtype=np.float32)
        if baseline.shape != (n_features,) or not np.isfinite(baseline).all():
            raise ValueError(
                f"baseline must hold one finite value per feature ({n_features}), "
                f"got shape {baseline.shape}"
            )
        self.baseline = baseline
        self.metric = _metric_of(task, metric, y is not None)
        self.task = task
        self.base = predict_rows(predict, self.x, n)
        self.mask = output_mask(mask, self.base.shape)
        if y is None:
            target = self.base  # no labels: the model's own answers on the unchanged sample
        else:
            target = np.asarray(y, dtype=np.float64)
            if target.shape != self.base.shape:
                raise ValueError(
                    f"y must hold one target per output: shape {self.base.shape}, got "
                    f"{target.shape}"
                )
            if not np.isfinite(np.where(self._counted(), target, 0.0)).all():
                raise ValueError("y holds NaN or infinite values where outputs count")
            target = np.where(self._counted(), target, 0.0)
        self.target = target
        self.full = float(quality(self.base, target, self.mask, task, self.metric))
        self._empty: float | None = None

    def _counted(self) -> np.ndarray:
        return np.ones(self.base.shape, bool) if self.mask is None else self.mask

    def measure(
        self, grain: str, orders: Sequence[np.ndarray], counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(deletion, insertion), each (len(orders), len(counts)): the quality after the first
        ``counts[k]`` units of each order are removed (deletion) or are all that is kept
        (insertion). Both ends are measured once: nothing removed is the sample itself,
        everything removed is the all-baseline sample."""
        n, seq_len, n_features = self.x.shape
        inner = [int(c) for c in counts if 0 < c < counts[-1]]
        jobs = [(o, kind, c) for o in range(len(orders)) for kind in (0, 1) for c in inner]
        empty_job = (-1, 0, 0)
        if self._empty is None:
            jobs.append(empty_job)
        values: dict[tuple[int, int, int], float] = {}

        def edit(copy: np.ndarray, job: tuple[int, int, int]) -> None:
            o, kind, c = job
            if o < 0:  # everything at the baseline
                copy[:] = self.baseline
                return
            removed = orders[o][:c] if kind == 0 else orders[o][c:]
            if grain == "cell":
                f, s = np.divmod(removed, seq_len)
                copy[:, s, f] = self.baseline[f]
            else:
                copy[:, :, removed] = self.baseline[removed]

        for chunk, out in batched_copies(self.predict, self.x, jobs, edit, self.max_values):
            scores = quality(out, self.target, self.mask, self.task, self.metric)
            for job, value in zip(chunk, np.atleast_1d(scores), strict=True):
                values[job] = float(value)
        if self._empty is None:
            self._empty = values.pop(empty_job)
        deletion = np.empty((len(orders), len(counts)))
        insertion = np.empty_like(deletion)
        for o in range(len(orders)):
            for k, c in enumerate(counts):
                if c == 0:
                    deletion[o, k], insertion[o, k] = self.full, self._empty
                elif c == counts[-1]:
                    deletion[o, k], insertion[o, k] = self._empty, self.full
                else:
                    deletion[o, k], insertion[o, k] = values[(o, 0, c)], values[(o, 1, c)]
        return deletion, insertion


def curve_scores(
    predict: PredictFn,
    x: np.ndarray,
    y: np.ndarray | None,
    mask: np.ndarray | None,
    attributions: Mapping[str, Attribution],
    *,
    task: str = "classification",
    metric: str = "auto",
    baseline: np.ndarray | None = None,
    shares: Sequence[float] = SHARES,
    n_random: int = N_RANDOM,
    seed: int = 0,
    max_values: int = DEFAULT_MAX_VALUES,
) -> dict[str, Curves]:
    """Deletion and insertion curves of several methods on one sample, by name.

    ``predict`` maps (m, T, F) to (m, T_out); ``x`` (n, T, F) is the sample the methods
    explained; ``y`` (n, T_out) its labels (None: the model's own answers stand in); ``mask``
    (n, T_out) the outputs that count (None: all). ``task`` "classification" (quality =
    accuracy) or "regression" (R²); ``metric`` "loss" measures the loss instead. ``baseline``
    (F,) the value a removed cell gets (None: each feature's mean over ``x``). The random
    reference (``n_random`` orders drawn from ``seed``) is computed once per grain and shared
    by the methods of that grain. Same arguments => identical numbers.
    """
    shares = _check_shares(shares)
    if isinstance(n_random, bool) or not isinstance(n_random, int | np.integer):
        raise ValueError("n_random must be a whole number")
    if not 1 <= n_random <= MAX_RANDOM:
        raise ValueError(f"n_random must be from 1 to {MAX_RANDOM}, got {n_random}")
    probe = _Probe(predict, x, y, mask, task, metric, baseline, max_values)
    n_features, seq_len = probe.x.shape[2], probe.x.shape[1]
    units = {"cell": n_features * seq_len, "feature": n_features}
    grains = {name: _grain_scores(attr) for name, attr in attributions.items()}
    for name, (grain, scores) in grains.items():
        expected = (n_features, seq_len) if grain == "cell" else (n_features,)
        if scores.shape != expected:
            raise ValueError(
                f"{name}'s scores have shape {scores.shape}; this sample needs {expected}"
            )
    counts = {g: _counts(u, shares) for g, u in units.items()}
    references: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for grain in sorted({g for g, _ in grains.values()}):
        orders = [
            np.random.default_rng([seed, 0xDE1, r]).permutation(units[grain])
            for r in range(n_random)
        ]
        references[grain] = probe.measure(grain, orders, counts[grain])
    out: dict[str, Curves] = {}
    for name, (grain, scores) in grains.items():
        # Ties are broken from the seed and the method's name: the same whatever else runs.
        tie_break = np.random.default_rng([seed, 0x71E, zlib.crc32(name.encode())])
        order = _order(scores, tie_break)
        deletion, insertion = probe.measure(grain, [order], counts[grain])
        random_deletion, random_insertion = references[grain]
        out[name] = Curves(
            method=name,
            grain=grain,
            metric=probe.metric,
            units=units[grain],
            shares=counts[grain] / units[grain],
            deletion=deletion[0],
            insertion=insertion[0],
            random_deletion=random_deletion,
            random_insertion=random_insertion,
        )
    return out


def deletion_insertion(
    predict: PredictFn,
    x: np.ndarray,
    y: np.ndarray | None,
    mask: np.ndarray | None,
    attribution: Attribution,
    **options: Any,
) -> Curves:
    """One method's deletion and insertion curves (:func:`curve_scores`, same options)."""
    return curve_scores(predict, x, y, mask, {attribution.method: attribution}, **options)[
        attribution.method
    ]
