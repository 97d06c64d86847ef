"""Several methods on one model, side by side: attributions, truth scores and rank agreement.

:func:`compare` runs registered methods (:mod:`rnnviz.attr.registry`) on one
:class:`rnnviz.attr.methods.Context`, always with the random row as chance, scores each against
the
rule's ground truth (:func:`rnnviz.data.truth.score_method`) and measures how alike the methods rank
the features (:func:`spearman`, with swaps inside the error bars as ties: :func:`noise_ties`).
Asked to (``curves=True``), it also measures each method's deletion and insertion curves
(:mod:`rnnviz.attr.faithfulness`): faithfulness to the model, which needs no ground truth.
A :class:`Comparison` turns into tidy tables with :meth:`Comparison.to_frame`,
:meth:`Comparison.scores_frame` and :meth:`Comparison.curves_frame`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.attr.attribution import Attribution
from rnnviz.attr.faithfulness import Curves, curve_scores
from rnnviz.attr.registry import RANDOM, method_label, resolve

if TYPE_CHECKING:
    import pandas as pd

    from rnnviz.attr.methods import Context


@dataclass(frozen=True, eq=False)
class Comparison:
    """Several methods on one context: attributions, truth scores and rank agreement."""

    methods: tuple[str, ...]  # in the order run; "random" always included
    attributions: dict[str, Attribution]
    scores: dict[str, dict[str, float | None]]  # per method: rnnviz.data.truth.score_method
    rank_agreement: np.ndarray  # (M, M) Spearman rho of per-feature means, noise ties tied
    seconds: dict[str, float]
    truth: frozenset[tuple[int, int]] | None = None  # the (feature, lag) pairs scored against
    # per method: its deletion and insertion curves (rnnviz.attr.faithfulness), when asked
    curves: dict[str, Curves] | None = None

    def chance_spread(self) -> tuple[int, int, float] | None:
        """How widely random scores' lag AUC strays from 0.5, from seed to seed, on this
        comparison's (feature, lag) cells: (true cells, all cells, standard deviation), from
        :func:`rnnviz.data.truth.chance_auc_sd`; None without ground truth or lag scores."""
        from rnnviz.data.truth import chance_auc_sd

        random = self.attributions.get(RANDOM)
        lags = None if random is None else random.past_lags()
        if self.truth is None or lags is None:
            return None
        n = lags.size
        k = len({(f, lag) for f, lag in self.truth if f < lags.shape[0] and lag < lags.shape[1]})
        sd = chance_auc_sd(k, n - k)
        return None if sd is None else (k, n, sd)

    def rows(self) -> list[dict[str, Any]]:
        """One tidy row per method: name, label, seconds and the truth metrics."""
        return [
            {
                "method": name,
                "label": method_label(name),
                "seconds": self.seconds[name],
                **self.scores.get(name, {}),
            }
            for name in self.methods
        ]

    def to_frame(self) -> pd.DataFrame:
        """The truth table: one row per method (random last) with its label, the truth metrics
        (NaN where the method has no such grain), seconds and caveat; with curves, also the
        deletion and insertion scores (:data:`CURVE_COLUMNS`, NaN for a method without)."""
        import pandas as pd

        frame = pd.DataFrame(
            [
                {
                    "method": name,
                    "label": method_label(name),
                    **{k: self.scores.get(name, {}).get(k) for k in METRICS},
                    **(self._curve_scores(name) if self.curves is not None else {}),
                    "seconds": self.seconds[name],
                    "caveat": self.attributions[name].note,
                }
                for name in self.methods
            ]
        )
        floats = METRICS + (CURVE_COLUMNS if self.curves is not None else ())
        return frame.astype({k: "float64" for k in floats})

    def _curve_scores(self, name: str) -> dict[str, float | None]:
        curves = (self.curves or {}).get(name)
        if curves is None:
            return dict.fromkeys(CURVE_COLUMNS)
        return {"deletion": curves.deletion_score, "insertion": curves.insertion_score}

    def curves_frame(self) -> pd.DataFrame:
        """Every method's deletion and insertion curves beside random's, one row per point
        (:meth:`rnnviz.attr.faithfulness.Curves.to_frame`); empty without curves."""
        import pandas as pd

        frames = [self.curves[m].to_frame() for m in self.methods if m in (self.curves or {})]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def scores_frame(self, truth_features: Sequence[int] = ()) -> pd.DataFrame:
        """Per-feature scores of every method: mean and std over repeats, the number of
        repeats and the share of the method's largest absolute score; whether the rule reads
        the feature."""
        import pandas as pd

        used = set(truth_features)
        rows = []
        for name in self.methods:
            attr = self.attributions[name]
            norm, _ = normalised_scores(attr.importances_mean)
            for f, feature in enumerate(attr.feature_names):
                rows.append(
                    {
                        "method": name,
                        "feature": feature,
                        "used_by_rule": f in used,
                        "mean": attr.importances_mean[f],
                        "std": attr.importances_std[f],
                        "repeats": attr.n_repeats,
                        "normalised": norm[f],
                    }
                )
        return pd.DataFrame(rows)


METRICS = ("feature_auc", "lag_auc", "aup", "aur", "aupr")
CURVE_COLUMNS = ("deletion", "insertion")  # faithfulness scores: area between method and random


def normalised_scores(scores: np.ndarray) -> tuple[np.ndarray, float]:
    """(scores / scale, scale) with scale = the largest absolute score (0: all zeros, kept).

    For the usual non-negative scores this is "divide by the maximum", so the top feature of
    every method is at 1; a method with negative scores (stepwise) keeps its signs.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scale = float(np.abs(scores).max()) if scores.size else 0.0
    if not np.isfinite(scale) or scale == 0.0:
        return np.zeros_like(scores), 0.0
    return scores / scale, scale


# Scores of one method closer than this share of its largest score are tied even without
# repeats: less than a pixel of the bars the page draws, and no ranking anyone could read.
TIE_FLOOR = 0.005


def noise_ties(attr: Attribution) -> np.ndarray:
    """(F, F) features that ``attr`` cannot tell apart: their mean ± std intervals over the
    repeats overlap (|mean_i - mean_j| <= std_i + std_j), or their means differ by at most
    TIE_FLOOR of the method's largest absolute score. Symmetric, true on the diagonal; not
    transitive (x1 ~ x2 and x2 ~ x3 while x1 is clearly above x3 is possible).
    """
    mean, std = attr.importances_mean, attr.importances_std
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
    *,
    curves: bool = False,
    labels: np.ndarray | None = None,
    task: str = "classification",
) -> Comparison:
    """Run ``methods`` (plus the random baseline) on ``ctx`` and score them.

    ``params`` maps method name to its parameters; ``truth`` is ``Rule.ground_truth`` (or a
    Rule), and each method gets :func:`rnnviz.data.truth.score_method` of its per-feature means and
    lag scores. Every call is checked before any runs.

    ``curves``: also each method's deletion and insertion curves on ``ctx``'s sample
    (:func:`rnnviz.attr.faithfulness.curve_scores`, cells replaced by ``ctx.feature_means``
    like ablation's "mean" baseline), against ``labels`` (n, T_out) (None: ``ctx.y``; without
    either, the model's own answers) with the quality of ``task``: accuracy for a
    "classification", R² for a "regression".
    """
    from rnnviz.data.truth import score_method

    params = dict(params or {})
    names = list(dict.fromkeys([*methods, RANDOM]))
    stray = sorted(set(params) - set(names))
    if stray:
        raise ValueError(f"parameters given for methods not compared: {', '.join(stray)}")
    calls = {name: resolve(name, ctx, dict(params.get(name, {}))) for name in names}
    truth_pairs = getattr(truth, "ground_truth", truth)
    truth_pairs = (
        None if truth_pairs is None else frozenset((int(f), int(g)) for f, g in truth_pairs)
    )
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
            scores[name] = score_method(attr.importances_mean, attr.past_lags(), truth_pairs)
    faithfulness = None
    if curves:
        faithfulness = curve_scores(
            ctx.predict,
            ctx.x,
            ctx.y if labels is None else labels,
            ctx.output_mask,
            attributions,
            task=task,
            baseline=ctx.feature_means,
            seed=ctx.seed,
            max_values=ctx.max_values,
        )
    return Comparison(
        tuple(names),
        attributions,
        scores,
        agreement_matrix(attributions, names),
        seconds,
        truth_pairs,
        faithfulness,
    )


def merge_comparisons(first: Comparison, second: Comparison) -> Comparison:
    """One comparison of both runs' methods (``first``'s where both ran; random row last).

    Lets an expensive method (stepwise elimination) be run and cached apart from the rest.
    """
    names = [m for m in first.methods if m != RANDOM]
    names += [m for m in second.methods if m not in names and m != RANDOM] + [RANDOM]

    def pick(field: str) -> dict:
        a, b = getattr(first, field), getattr(second, field)
        return {m: a[m] if m in a else b[m] for m in names if m in a or m in b}

    attributions = pick("attributions")
    curves = None
    if first.curves is not None or second.curves is not None:
        a, b = first.curves or {}, second.curves or {}
        curves = {m: a[m] if m in a else b[m] for m in names if m in a or m in b}
    return Comparison(
        tuple(names),
        attributions,
        pick("scores"),
        agreement_matrix(attributions, names),
        pick("seconds"),
        first.truth if first.truth is not None else second.truth,
        curves,
    )


def agreement_matrix(attributions: Mapping[str, Attribution], names: Sequence[str]) -> np.ndarray:
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
                attributions[names[i]].importances_mean,
                attributions[names[j]].importances_mean,
                ties[i] | ties[j],
            )
            agreement[i, j] = agreement[j, i] = rho
    return agreement


__all__ = [
    "CURVE_COLUMNS",
    "TIE_FLOOR",
    "Comparison",
    "agreement_matrix",
    "compare",
    "merge_comparisons",
    "noise_ties",
    "normalised_scores",
    "spearman",
]
