"""Score an attribution against the ground truth that a synthetic rule makes known.

A rule such as ``x1[t-2] > 0.5`` says exactly which ``(feature, lag)`` pairs the label ``y_t``
reads (``Rule.ground_truth``, feature 0-based). A good importance method should rank those
first. The metrics follow Ismail et al., "Benchmarking Deep Learning Interpretability in Time
Series Predictions" (NeurIPS 2020), adapted to rnnviz's grains:

Feature grain, ``feature_auc(scores, true_features)``
    ROC AUC of the per-feature scores: the probability that a randomly chosen true feature
    scores higher than a randomly chosen irrelevant one, ties counting one half. 1 = every true
    feature outranks every irrelevant one, 0.5 = chance (or all tied), 0 = reversed. Undefined
    (None) when all or no features are true.

Lag grain, ``(F, L)`` scores for feature f at lag L (effect of input step t-L on output t,
averaged over t), against ``lag_truth_mask`` (True at each ``(f, L)`` of the rule):

* ``lag_auc``: the ROC AUC above over the F x L cells.
* ``aup`` / ``aur``: saliency-weighted precision and recall (Ismail et al.). Sort the cells
  by score, highest first, and for each threshold (each distinct score; tied cells enter
  together) call the cells at or above it *positive*. With S(c) the score of cell c:
  precision = sum of S over positive true cells / sum of S over positive cells (0 if that
  sum is 0), recall = sum of S over positive true cells / sum of S over all true cells (0 if
  that sum is 0). AUP and AUR are the areas under these curves against the share of cells
  called positive (k / N, a step function, so both lie in [0, 1]).
* ``aupr``: the usual (unweighted) area under the precision-recall curve, i.e. average
  precision with counts instead of weights: sum over thresholds of (recall increase) x
  precision. Chance level is the share of true cells.

The three PR metrics are None when no cell is true.

Why lags rather than input steps: rnnviz's per-cell scores ``(feature, input step s)`` add up
the effect on *every* output step. A rule term ``(f, L)`` makes input step s matter for
output ``t = s + L``, so every step of a true feature is relevant for some output and a
``(feature, step)`` mask (:func:`cell_truth_mask`) is almost the feature mask; it cannot tell
``x1`` from ``x1[t-2]``. The lag grain can, so the PR metrics use lags.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Truth = Iterable[tuple[int, int]]

__all__ = [
    "cell_truth_mask",
    "chance_auc_sd",
    "deciding_cells",
    "feature_auc",
    "interacting_pairs",
    "lag_truth_mask",
    "map_auc",
    "saliency_precision_recall",
    "score_method",
    "sequence_scores",
    "sequence_truth_mask",
]


def feature_auc(scores: np.ndarray, true_features: Iterable[int]) -> float | None:
    """ROC AUC of ``scores`` (F,) for the true features: P(true outranks irrelevant), ties 1/2.

    None when all or no features are true (nothing to rank against).
    """
    scores = _finite(scores, "scores").ravel()
    true = np.zeros(scores.size, dtype=bool)
    for f in true_features:
        if not 0 <= int(f) < scores.size:
            raise ValueError(f"true feature index {f} is outside 0..{scores.size - 1}")
        true[int(f)] = True
    return _auc(scores, true)


def map_auc(scores: np.ndarray, mask: np.ndarray) -> float | None:
    """ROC AUC of a map of ``scores`` against a same-shaped ``mask`` of true cells (a (F, T)
    cell map against a planted box, say): P(a true cell outranks another), ties 1/2. None when
    all or no cells are true."""
    scores = _finite(scores, "scores")
    mask = np.asarray(mask, dtype=bool)
    if scores.shape != mask.shape:
        raise ValueError(f"scores {scores.shape} and mask {mask.shape} differ in shape")
    return _auc(scores.ravel(), mask.ravel())


def chance_auc_sd(n_true: int, n_false: int) -> float | None:
    """How far the ROC AUC of random scores strays from 0.5, from seed to seed: its standard
    deviation sqrt((n_true + n_false + 1) / (12 · n_true · n_false)) (the Mann-Whitney U
    statistic under the null, continuous scores: no ties). None when either count is 0.

    With one true cell the AUC is only the rank of that cell among the others, uniform on
    0, 1/n_false, ..., 1: for one true (feature, lag) cell among 30 the spread is ±0.30, so
    a random row's lag AUC of 0.97 is one draw of that spread, not a finding.
    """
    if n_true <= 0 or n_false <= 0:
        return None
    return float(np.sqrt((n_true + n_false + 1) / (12.0 * n_true * n_false)))


def _auc(scores: np.ndarray, true: np.ndarray) -> float | None:
    pos, neg = scores[true], scores[~true]
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def _pairs(truth: Truth) -> set[tuple[int, int]]:
    pairs = set()
    for item in truth:
        f, lag = (int(v) for v in item)
        if f < 0 or lag < 0:
            raise ValueError(f"ground truth ({f}, {lag}) has a negative feature or lag")
        pairs.add((f, lag))
    return pairs


def cell_truth_mask(truth: Truth, seq_len: int, n_features: int) -> np.ndarray:
    """(F, T) bool: True at (f, s) when input step s of feature f feeds a *defined* label.

    Cell scores aggregate over all output steps, so (f, s) is relevant when the rule reads
    ``(f, L)`` for some output ``t = s + L`` where the label is defined, i.e.
    ``max_lag <= s + L <= T - 1`` (``max_lag`` = largest lag of the rule; earlier labels are
    masked). For a rule without lags this is the whole row of every true feature.
    """
    pairs = _pairs(truth)
    mask = np.zeros((n_features, seq_len), dtype=bool)
    if not pairs:
        return mask
    max_lag = max(lag for _, lag in pairs)
    for f, lag in pairs:
        if f >= n_features:
            raise ValueError(f"ground truth names feature {f} but there are {n_features}")
        lo, hi = max(0, max_lag - lag), seq_len - 1 - lag
        if hi >= lo:
            mask[f, lo : hi + 1] = True
    return mask


def lag_truth_mask(truth: Truth, n_lags: int, n_features: int) -> np.ndarray:
    """(F, L) bool: True at (f, L) exactly when the rule reads feature f at lag L."""
    mask = np.zeros((n_features, n_lags), dtype=bool)
    for f, lag in _pairs(truth):
        if f >= n_features:
            raise ValueError(f"ground truth names feature {f} but there are {n_features}")
        if lag >= n_lags:
            raise ValueError(f"ground truth lag {lag} does not fit {n_lags} lags (0..{n_lags - 1})")
        mask[f, lag] = True
    return mask


def saliency_precision_recall(scores: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    """AUP, AUR (saliency-weighted, Ismail et al. 2020) and AUPR of ``scores`` >= 0 vs ``mask``.

    See the module docstring for the exact definitions. All three are None when ``mask`` has
    no True cell.
    """
    s = _finite(scores, "scores").ravel()
    m = np.asarray(mask, dtype=bool).ravel()
    if np.shape(scores) != np.shape(mask):
        raise ValueError(f"scores {np.shape(scores)} and mask {np.shape(mask)} differ in shape")
    if (s < 0).any():
        raise ValueError("saliency-weighted precision and recall need scores >= 0")
    if not m.any():
        return {"aup": None, "aur": None, "aupr": None}
    order = np.argsort(-s, kind="stable")
    s_sorted, m_sorted = s[order], m[order]
    ends = np.r_[np.nonzero(np.diff(s_sorted))[0], s.size - 1]  # last cell of each tie group
    k = ends + 1
    sizes = np.diff(np.r_[0, k])
    tp_w = np.cumsum(s_sorted * m_sorted)[ends]
    all_w = np.cumsum(s_sorted)[ends]
    true_w = float((s * m).sum())
    precision_w = np.divide(tp_w, all_w, out=np.zeros_like(tp_w), where=all_w > 0)
    recall_w = tp_w / true_w if true_w > 0 else np.zeros_like(tp_w)
    tp_c = np.cumsum(m_sorted)[ends]
    precision_c = tp_c / k
    recall_c = tp_c / m.sum()
    return {
        "aup": float((sizes * precision_w).sum() / s.size),
        "aur": float((sizes * recall_w).sum() / s.size),
        "aupr": float((np.diff(np.r_[0.0, recall_c]) * precision_c).sum()),
    }


def score_method(
    feature_scores: np.ndarray,
    lag_scores: np.ndarray | None,
    truth: Truth,
) -> dict[str, float | None]:
    """All truth metrics of one method: feature_auc, lag_auc, aup, aur, aupr.

    ``feature_scores`` (F,) are the per-feature means; ``lag_scores`` (F, L) or None when the
    method has no lag grain (then the lag metrics are None). ``truth`` is
    ``Rule.ground_truth``.
    """
    pairs = _pairs(truth)
    feature_scores = np.asarray(feature_scores, dtype=np.float64).ravel()
    out: dict[str, float | None] = {
        "feature_auc": feature_auc(feature_scores, {f for f, _ in pairs}),
        "lag_auc": None,
        "aup": None,
        "aur": None,
        "aupr": None,
    }
    if lag_scores is not None:
        lag_scores = _finite(lag_scores, "lag_scores")
        if lag_scores.ndim != 2 or lag_scores.shape[0] != feature_scores.size:
            raise ValueError(
                f"lag_scores must be (F, L) with F = {feature_scores.size}, got {lag_scores.shape}"
            )
        mask = lag_truth_mask(pairs, lag_scores.shape[1], lag_scores.shape[0])
        out["lag_auc"] = _auc(lag_scores.ravel(), mask.ravel())
        out.update(saliency_precision_recall(lag_scores, mask))
    return out


# --------------------------------------------------------------------------- interactions


def _is_additive(node) -> bool:
    """True for nodes whose value is a sum of functions of their children taken one at a time.

    ``+``, ``-``, unary minus, ``not`` (1 − b), ``mean`` over a window (a sum of shifted copies)
    and a product or quotient by a feature-free factor (``(x1 + x2) * 2``, ``x1 / 4``) are
    additive; every other node (products and quotients of features, abs, min, max, wmin, wmax,
    comparisons, and, or) is not.
    """
    from rnnviz.rules import Binary, Neg, Not, Num, Ref, Window

    if isinstance(node, Num | Ref | Neg | Not):
        return True
    if isinstance(node, Binary):
        if node.op in "+-":
            return True
        if node.op == "*":
            return not (node.left.truth() and node.right.truth())
        return not node.right.truth()  # "/": additive when the divisor reads no feature
    return isinstance(node, Window) and node.func == "mean"


def interacting_pairs(rule) -> dict[tuple[int, int], str]:
    """The feature pairs a rule combines, each with the innermost node where they meet.

    Definition (a pair is interacting when it appears under one non-additive node of the
    rule's tree): features i < j (0-based, any lags) interact when some node that is not
    additive (see :func:`_is_additive`) reads both in its subtree. The value is the source text
    of the innermost such node: ``x1 * x2 < 0.25`` gives ``{(0, 1): "x1 * x2"}``.

    Honest consequence: every rule is a condition, and a threshold is not additive
    (from x1 = x2 = 0.45, ``x1 + x2 > 1`` switches when both are nudged up by 0.06, though
    neither nudge alone switches it), so *every* pair of features a rule reads interacts, at
    the latest at its final comparison or ``and`` / ``or``; the node tells where they meet,
    e.g. in a product before the threshold (``x1 * x2``) or only at it (``x1 + x2 > 1``,
    ``x1 > x2``). One feature at several lags (``x1[t-1] * x1``) is no pair of features.
    Degenerate rules that cancel a feature out (``x1 - x1 + x2 > 0.5``) are judged by their
    tree, not by their values.
    ``rule`` is a :class:`rnnviz.rules.Rule` (or the root node of its tree).
    """
    root = getattr(rule, "tree", rule)
    found: dict[tuple[int, int], str] = {}

    def visit(node) -> None:
        for child in node.children():  # innermost first: children before their parent
            visit(child)
        if _is_additive(node):
            return
        features = sorted({f for f, _ in node.truth()})
        text = None
        for a, i in enumerate(features):
            for j in features[a + 1 :]:
                if (i, j) not in found:
                    text = text or node.source()
                    found[(i, j)] = text

    visit(root)
    return dict(sorted(found.items()))


def _finite(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return a


# --------------------------------------------------------------------------- one sequence


def sequence_truth_mask(truth: Truth, seq_len: int, n_features: int, t: int) -> np.ndarray:
    """(F, T) bool: the cells the rule reads for output ``t``: (f, t - L) for each (f, L) of the
    rule that stays inside the sequence (a lag reaching before step 0 reads nothing)."""
    mask = np.zeros((n_features, seq_len), dtype=bool)
    if not 0 <= t < seq_len:
        raise ValueError(f"output step {t} is outside 0..{seq_len - 1}")
    for f, lag in _pairs(truth):
        if f >= n_features:
            raise ValueError(f"ground truth names feature {f} but there are {n_features}")
        if t - lag >= 0:
            mask[f, t - lag] = True
    return mask


def deciding_cells(rule, x: np.ndarray, t: int) -> np.ndarray | None:
    """(F, T) bool: the cell that decided output ``t`` of one sequence ``x`` (T, F), where the
    rule has one; None where it does not (a product, a mean, several conditions).

    Rules with one: a threshold on one cell (``x1[t-2] > 0.5``: that cell) and a threshold on
    the largest or smallest value of one feature over a window (``wmax(x1, 5) > 0.9``: the step
    where the maximum sits; the first of them on a tie), also under ``not``.
    """
    from rnnviz.rules import Compare, Not, Ref, Window

    x = np.asarray(x, dtype=np.float64)
    node = getattr(rule, "tree", rule)
    while isinstance(node, Not):
        node = node.operand
    if not isinstance(node, Compare):
        return None
    sides = [s for s in (node.left, node.right) if s.truth()]
    if len(sides) != 1:
        return None
    side = sides[0]
    mask = np.zeros((x.shape[1], x.shape[0]), dtype=bool)
    if isinstance(side, Ref):
        s = t - side.lag
        if s < 0:
            return None
        mask[side.feature, s] = True
        return mask
    if isinstance(side, Window) and side.func != "mean" and isinstance(side.operand, Ref):
        ref = side.operand
        stop = t - ref.lag + 1
        start = stop - side.k
        if start < 0:
            return None
        values = x[start:stop, ref.feature]
        pick = np.argmax(values) if side.func == "wmax" else np.argmin(values)
        mask[ref.feature, start + int(pick)] = True
        return mask
    return None


def sequence_scores(effect: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    """A per-sequence map (F, T) of signed effects against the cells the rule reads (F, T):
    ROC AUC and AUPR of |effect|, as the global maps are scored (None without both classes)."""
    size = np.abs(_finite(effect, "effect"))
    mask = np.asarray(mask, dtype=bool)
    if size.shape != mask.shape:
        raise ValueError(f"effect {size.shape} and mask {mask.shape} differ in shape")
    pr = saliency_precision_recall(size, mask)
    return {"auc": _auc(size.ravel(), mask.ravel()), "aupr": pr["aupr"]}
