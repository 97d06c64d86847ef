"""Readings: the sentences that turn a result's numbers into words (pure, no Streamlit).

Every reading is derived from the numbers passed in (a
:class:`rnnviz.attr.comparison.Comparison`,
an Attribution, a rule's ground truth), so the pages and the command line say only what the
scores show. Teaching prose that holds no numbers lives in :mod:`rnnviz.ui.text`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from math import comb
from typing import Any

import numpy as np

from rnnviz.attr.registry import RANDOM, method_label, spec_of
from rnnviz.attr.reliance import (
    MIN_SHARE,
    NOISE_FACTOR,
    SPREAD,
    NoiseFloor,
    feature_floor,
    pair_floor,
)
from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import CELL_NAMES, Config
from rnnviz.data import datasets
from rnnviz.data.source import source_of
from rnnviz.metrics import LEARNED_ERROR_RATIO, error_ratio, regression_grade, skill
from rnnviz.training.result import (
    UNTRAINED_LOSS,
    TrainResult,
    still_improving,
)

RECURRENCE = "it reads only input weights: it cannot see the recurrence"


def step_ranges(steps: Sequence[int]) -> str:
    """Steps as ranges: [0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8" (empty: "none")."""
    steps = sorted(int(s) for s in steps)
    if not steps:
        return "none"
    runs: list[list[int]] = []
    for step in steps:
        if runs and step == runs[-1][1] + 1:
            runs[-1][1] = step
        else:
            runs.append([step, step])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def thread_lines(result, with_std: bool = False) -> str:
    """The Cross Validated thread's format, ``Variable 1, perturbation effect: 0.1162``, one
    line per feature (``with_std``: and ``  (std 0.0123)`` over the repeats). Named features
    (a real series') say their name: ``Variable 1 (precipitation), perturbation effect: ...``."""
    names = tuple(result.feature_names)
    named = names != tuple(f"x{i + 1}" for i in range(len(names)))
    return "\n".join(
        f"Variable {i + 1}{f' ({names[i]})' if named else ''}, perturbation effect: {m:.4f}"
        + (f"  (std {s:.4f})" if with_std else "")
        for i, (m, s) in enumerate(
            zip(result.importances_mean, result.importances_std, strict=True)
        )
    )


def counted_outputs(result) -> str:
    """Which outputs counted, in words: all of them, or the output steps with a target."""
    mask = result.output_mask
    if mask is None or mask.all():
        return "every output counted"
    counted = step_ranges(np.flatnonzero(mask))
    missing = step_ranges(np.flatnonzero(~mask))
    return (
        f"only outputs with a defined target counted: output steps {counted} "
        f"(no target at steps {missing})"
    )


LEAD_WHY = (
    "**Why this example?** Your experiment's rule reads {own_truth}; with {n} features of "
    "which {k} are used, even random scores rank them first 1 time in {odds}, so a perfect "
    "score there says little. This rule, $y_t$ = 1 when `{expression}`, reads {lead_truth}: "
    "that input reaches the output only through the LSTM's memory, which connection weights "
    "never read (they multiply input weights only). We picked this model (seed {seed}) because "
    "the methods disagree on it; on other seeds connection weights can rank the rule's feature "
    "first by luck. The other pages still show your experiment."
)


def lead_why(own, lead) -> str:
    """:data:`LEAD_WHY` for the session's config ``own`` and the example ``lead`` (Configs)."""
    rule, example = own.target(), lead.target()
    n, k = own.n_features, len(rule.features)
    return LEAD_WHY.format(
        own_truth=_reads(rule.ground_truth),
        n=n,
        k=k,
        odds=comb(n, k) if 0 < k < n else 1,
        expression=example.expression,
        lead_truth=_reads(example.ground_truth),
        seed=lead.seed,
    )


MARGIN = 0.25  # an ignored feature scoring this share of a used one is worth a mention

COLUMNS = ("method", "feature AUC", "lag AUC", "AUP", "AUR", "AUPR", "seconds", "caveat")


def _reads(pairs) -> str:
    """A rule's (feature, lag) pairs in words: "x1 and x2 at the current step"."""
    by_lag: dict[int, list[int]] = {}
    for f, lag in sorted(pairs):
        by_lag.setdefault(lag, []).append(f)
    parts = []
    for lag, features in sorted(by_lag.items()):
        when = "at the current step" if lag == 0 else f"{lag} step{'s' * (lag > 1)} back"
        parts.append(f"{_list(f'x{f + 1}' for f in features)} {when}")
    return _list(parts)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _seconds(value: float) -> str:
    return "< 0.01 s" if value < 0.01 else f"{value:.2f} s"


def _list(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def join(names: Iterable[str]) -> str:
    """Names joined in words: "a", "a and b", "a, b and c"."""
    return _list(names)


def feature_clause(scores: np.ndarray, names: tuple[str, ...], truth_features: set[int]) -> str:
    """What the per-feature scores say about the rule's features, e.g. "ranks x3 above x2"."""
    scores = np.asarray(scores, dtype=np.float64)
    true = sorted(f for f in truth_features if 0 <= f < len(scores))
    other = [f for f in range(len(scores)) if f not in truth_features]
    if not true:
        return "has nothing to rank (the rule reads none of these features)"
    if not other:
        return "has nothing to rank (the rule reads every feature)"
    if np.ptp(scores) == 0:
        return "gives every feature the same score: no ranking at all"
    bad = [(i, t) for t in true for i in other if scores[i] >= scores[t]]
    if not bad:
        which = "feature" if len(true) == 1 else "features"
        text = f"ranks the rule's {which} ({_list(names[t] for t in true)}) above every other one"
        # ... but by how much? An ignored feature close to a used one is a weak verdict.
        t = min(true, key=lambda g: scores[g])
        i = max(other, key=lambda g: scores[g])
        if scores[t] > 0 and scores[i] / scores[t] >= MARGIN:
            text += f", but {names[i]} still scores {scores[i] / scores[t]:.0%} of {names[t]}"
        return text
    # The worst inversion: the highest-scoring ignored feature over the lowest true one.
    i = max(other, key=lambda g: scores[g])
    t = min(true, key=lambda g: scores[g])
    pairs = len(true) * len(other)
    if scores[i] > scores[t]:
        text = f"ranks {names[i]} above {names[t]}"
    else:
        text = f"cannot tell {names[i]} from {names[t]} (equal scores)"
    if len(bad) > 1:
        text += f" ({len(bad)} of {pairs} pairs out of order)"
    return text


def _lag_clause(scores: dict) -> str:
    lag_auc = scores.get("lag_auc")
    if lag_auc is None:
        return ""
    if lag_auc >= 1.0:
        return f"finds the rule's lags too (lag AUC {lag_auc:.2f})"
    if lag_auc > 0.5:
        return f"finds the rule's lags only in part (lag AUC {lag_auc:.2f})"
    return f"misses the rule's lags (lag AUC {lag_auc:.2f}, chance 0.50)"


def _chance_lag(comparison, lag_auc: float) -> str:
    """The random row's lag AUC with how widely it strays from seed to seed (from the number
    of true (feature, lag) cells: :meth:`rnnviz.attr.comparison.Comparison.chance_spread`)."""
    text = f"lag AUC {lag_auc:.2f}"
    spread = comparison.chance_spread()
    if spread is None:
        return text
    k, n, sd = spread
    cells = "cell" if k == 1 else "cells"
    text += (
        f", one draw of a wide spread: with {k} true (feature, lag) {cells} among {n}, random "
        f"scores' lag AUC is 0.50 ± {sd:.2f} from seed to seed"
    )
    if k == 1:
        text += " (it is only the rank of that one cell, anywhere from 0 to 1)"
    return text + f", so compare a method's lag AUC with 0.50 ± {sd:.2f}, not with this one draw"


def reading(comparison, method: str, truth_features: Iterable[int]) -> str:
    """One sentence on ``method``'s verdict, derived from the comparison's numbers.

    Says which features it ranks wrongly (or that it ranks every true feature first), compares
    it with the random row, adds the lag-level verdict where the method has that grain, and
    for connection weights and Garson's algorithm says they cannot see the recurrence.
    """
    attr = comparison.attributions[method]
    truth = set(int(f) for f in truth_features)
    scores = comparison.scores.get(method, {})
    names = attr.feature_names
    parts = []
    clause = feature_clause(attr.importances_mean, names, truth)
    if "sigma" in attr.extra:  # a sweep: its per-feature scores are at one of its sigmas
        clause = f"at σ = {attr.extra['sigma']:g} (the middle of the sweep) it {clause}"
    auc = scores.get("feature_auc")
    chance = comparison.scores.get(RANDOM, {}).get("feature_auc")
    n, k = len(names), len([f for f in truth if f < len(names)])
    odds = comb(n, k) if 0 < k < n else None
    if method == RANDOM:
        lead = "chance level: " + ("by luck it " if auc == 1.0 else "it ") + clause
        if auc == 1.0 and odds:
            lead += f" (random scores do this 1 time in {odds})"
        parts.append(lead)
        if scores.get("lag_auc") is not None:
            parts.append(_chance_lag(comparison, scores["lag_auc"]))
    else:
        parts.append(clause)
        if auc is not None and chance is not None and auc < 1.0 and auc <= chance:
            parts.append("no better than the random row")
        lag = _lag_clause(scores)
        if lag:
            parts.append(lag)
    if spec_of(method).reads_weights:
        parts.append(RECURRENCE)
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def verdict(comparison, truth_features: Iterable[int]) -> str:
    """Who finds the rule's features and who does not, in one sentence from the feature AUCs.

    Methods with feature AUC 1 are named together; every other one gets its
    :func:`feature_clause` and AUC; the random row's AUC closes the sentence.
    """
    truth = {int(f) for f in truth_features}
    methods = [m for m in comparison.methods if m != RANDOM]
    if not methods:
        return ""
    names = comparison.attributions[methods[0]].feature_names
    used = [f for f in sorted(truth) if f < len(names)]
    which = "feature" if len(used) == 1 else "features"
    rule = f"the rule's {which} ({_list(names[f] for f in used)})"
    auc = {m: comparison.scores.get(m, {}).get("feature_auc") for m in comparison.methods}
    good = [m for m in methods if auc[m] is not None and auc[m] >= 1.0]
    bad = [m for m in methods if auc[m] is not None and auc[m] < 1.0]
    if not good and not bad:
        return "Nothing to score here: the rule reads all of the features, or none."
    parts = []
    if good:
        verb = "ranks" if len(good) == 1 else "rank"
        parts.append(
            f"{_list(method_label(m) for m in good)} {verb} {rule} above every other feature "
            "(feature AUC 1.00)"
        )
    for m in bad:
        clause = feature_clause(comparison.attributions[m].importances_mean, names, truth)
        parts.append(f"{method_label(m)} {clause}, feature AUC {auc[m]:.2f}")
    text = "; ".join(parts)
    if not bad:
        text += ": on this model they agree"
    if auc.get(RANDOM) is not None:
        text += f". Random scores get {auc[RANDOM]:.2f}"
    return text + "."


def chance_note(comparison, truth_features: Iterable[int]) -> str | None:
    """When the random row ranks the rule's features first by luck, say so (else None)."""
    truth = {int(f) for f in truth_features}
    random = comparison.attributions.get(RANDOM)
    if random is None or comparison.scores.get(RANDOM, {}).get("feature_auc") != 1.0:
        return None
    n = len(random.feature_names)
    k = len([f for f in truth if f < n])
    if not 0 < k < n:
        return None
    return (
        f"**Chance got lucky here.** The random row also ranks the rule's features first: "
        f"random scores do that 1 time in {comb(n, k)} with {n} features of which {k} are used. "
        "So a feature AUC of 1 alone does not show that a method beats chance on this "
        "experiment; the lag columns and the shape of the bars (how far the grey ones fall) can."
    )


def truth_table(comparison, truth_features: Iterable[int]) -> dict[str, list[str]]:
    """Display columns of the truth table (one row per method, random last; "—" = no grain)."""
    truth = list(truth_features)
    out: dict[str, list[str]] = {c: [] for c in (*COLUMNS, "reading")}
    for name in comparison.methods:
        s = comparison.scores.get(name, {})
        out["method"].append(method_label(name))
        out["feature AUC"].append(_fmt(s.get("feature_auc")))
        out["lag AUC"].append(_fmt(s.get("lag_auc")))
        out["AUP"].append(_fmt(s.get("aup")))
        out["AUR"].append(_fmt(s.get("aur")))
        out["AUPR"].append(_fmt(s.get("aupr")))
        out["seconds"].append(_seconds(comparison.seconds[name]))
        out["caveat"].append(comparison.attributions[name].note)
        out["reading"].append(reading(comparison, name, truth))
    return out


def rankings(comparison) -> str:
    """Each method's order of the features, for a model without ground truth (a real series,
    where nothing says which order is right): what the methods agree on is all there is."""
    methods = [m for m in comparison.methods if m != RANDOM]
    lines = [
        f"- **{method_label(m)}:** {_order(a.importances_mean, a.feature_names)}"
        for m in methods
        for a in [comparison.attributions[m]]
    ]
    return (
        "No ground truth here: nothing says which order is right, so the methods are not "
        "scored, only compared with each other (and with the random row).\n\n" + "\n".join(lines)
    )


def _order(values: np.ndarray, names: tuple[str, ...], top: int = 5) -> str:
    order = np.argsort(-np.asarray(values), kind="stable")
    text = " > ".join(names[i] for i in order[:top])
    return text + (" > …" if len(order) > top else "")


def _span(a: float, b: float) -> str:
    return f"σ = {a:g}" if a == b else f"σ = {a:g}–{b:g}"


def sweep_reading(attribution, truth_features: Iterable[int] | None = None) -> str:
    """What the σ sweep shows: whether the rule's features lead at every σ, whether the order
    changes, and whether the swaps are larger than the spread over repeats (else noise).
    """
    sigmas = np.asarray(attribution.extra["sigmas"], dtype=np.float64)
    curves = np.asarray(attribution.extra["curves"], dtype=np.float64)  # (F, S)
    stds = np.asarray(attribution.extra["curves_std"], dtype=np.float64)
    names = attribution.feature_names
    n = len(names)
    out = []
    truth = sorted({int(f) for f in truth_features or ()} & set(range(n)))
    if 0 < len(truth) < n:
        beaten = []
        for j, s in enumerate(sigmas):
            worst_true = min(truth, key=lambda f: curves[f, j])
            best_other = max((f for f in range(n) if f not in truth), key=lambda f: curves[f, j])
            if curves[best_other, j] >= curves[worst_true, j]:
                beaten.append(f"σ = {s:g} ({names[best_other]} over {names[worst_true]})")
        if not beaten:
            out.append(
                f"The rule's features ({_list(names[f] for f in truth)}) lead at every σ "
                f"from {sigmas[0]:g} to {sigmas[-1]:g}."
            )
        else:
            out.append("A feature the rule ignores outranks one it reads at " + _list(beaten) + ".")
    orders = [_order(curves[:, j], names) for j in range(len(sigmas))]
    runs: list[list] = []
    for s, order in zip(sigmas, orders, strict=True):
        if runs and runs[-1][2] == order:
            runs[-1][1] = s
        else:
            runs.append([s, s, order])
    if len(runs) == 1:
        out.append(f"The order is the same at every σ: {orders[0]}.")
        return " ".join(out)
    out.append(
        "The order changes with σ: " + "; ".join(f"{_span(a, b)}: {o}" for a, b, o in runs) + "."
    )
    # Pairs whose order flips somewhere: are they ever further apart than their spread?
    flips = set()
    for a in range(n):
        for b in range(a + 1, n):
            sign = np.sign(curves[a] - curves[b])
            if (sign > 0).any() and (sign < 0).any():
                flips.add((a, b))
    if flips:
        real = []
        for a, b in sorted(flips):
            gap, spread = curves[a] - curves[b], stds[a] + stds[b]
            if (gap > spread).any() and (-gap > spread).any():
                real.append(f"{names[a]}/{names[b]}")
        pairs = _list(f"{names[a]}/{names[b]}" for a, b in sorted(flips))
        if not real:
            out.append(
                f"No swap ({pairs}) is clear: each one happens within the error bars "
                "(±1 std over the repeats), so it is noise rather than a dependence on σ."
            )
        else:
            out.append(
                f"{_list(real)} really swap: each leads the other by more than the error bars "
                "at some σ."
            )
    return " ".join(out)


def heatmap_vs_bars(result) -> str:
    """Why the heatmap's cells are smaller than the bars, with the numbers of ``result`` (a
    PerturbationResult with per-step effects): its feature with the largest bar as example."""
    f = int(np.argmax(result.importances_mean))
    name = result.feature_names[f]
    bar = float(result.importances_mean[f])
    cells = np.asarray(result.cell_mean[f], dtype=np.float64)
    steps = cells.size
    rss = float(np.sqrt(np.sum(cells**2)))
    text = (
        "**Why are the heatmap's cells smaller than the bars?** A bar nudges a feature at "
        "*every* step, a cell at *one step* only, and both are the RMS change over *all* "
        f"counted outputs. Here {name}'s bar is {bar:.4f} and its cells run from "
        f"{cells.min():.4f} to {cells.max():.4f} over T = {steps} input steps: a nudge at one "
        "step moves only the outputs that remember it, and the RMS spreads that over every "
        f"output, so a cell is about bar / √{steps} = {bar / np.sqrt(steps):.4f} when every "
        "step matters alike. "
    )
    if bar > 0 and abs(rss / bar - 1.0) <= 0.25:
        return text + (
            f"Nudges at different steps add up (roughly, for small σ): the row's root-sum-square "
            f"√(Σₛ cell²) = {rss:.4f} comes back close to the bar."
        )
    return text + (
        f"The row's root-sum-square √(Σₛ cell²) = {rss:.4f} is not close to the bar here: "
        "nudges at different steps do not simply add up in this model."
    )


# --------------------------------------------------------------------------- counted outputs


def counted_here(max_lag: int, seq_len: int) -> str:
    """Which output steps count for a rule reading ``max_lag`` steps back (0-based, as plotted)."""
    if max_lag <= 0:
        return f"Here every output step 0 … {seq_len - 1} has a target, so every output counts."
    if max_lag >= seq_len:
        return "Here no output step has a target: the rule reaches further back than a sequence."
    missing = "step 0 has" if max_lag == 1 else f"steps 0 … {max_lag - 1} have"
    back = "1 step" if max_lag == 1 else f"{max_lag} steps"
    return (
        f"Here output {missing} no target (the rule reads up to {back} back), so only output "
        f"steps {max_lag} … {seq_len - 1} count."
    )


# --------------------------------------------------------------------------- correlated features


def correlated_credit(pairs: tuple[tuple[int, int, float], ...], used: frozenset[int]) -> str:
    """Why a feature correlated with one the rule reads shows some effect, or none: the
    "correlated features share credit" caveat, for this config's pairs (``used``: 0-based
    features the rule reads)."""
    lines = []
    for a, b, rho in pairs:
        pair = f"x{a} and x{b} are correlated (Spearman ρ = {rho:g})"
        read = [f"x{f}" for f in (a, b) if f - 1 in used]
        if len(read) == 1:
            other = f"x{b}" if read[0] == f"x{a}" else f"x{a}"
            lines.append(
                f"- {pair}; of these two the rule reads {read[0]}, not {other}. In the training "
                f"data {other} "
                f"carries almost the same information, so the model could lean on either. "
                f"Noise on {other} alone moves it away from {read[0]}: the nudged sequences "
                f"have combinations that never occur in the data. Whatever effect {other} shows "
                f"here, some or none, is the model's own choice between two near-copies, not "
                "evidence about the rule."
            )
        else:
            who = "reads both" if read else "reads neither"
            lines.append(f"- {pair}; the rule {who}.")
    return (
        "**Correlated features share credit.** Nudging one feature with independent noise "
        "breaks its correlation with its partner, so each bar measures the model on data it "
        "never saw.\n" + "\n".join(lines)
    )


# --------------------------------------------------------------------------- interactions


def noise_floor_text(
    floor: NoiseFloor, names: Sequence[str], *, pairs: bool = False, digits: int = 3
) -> str:
    """The noise floor (:mod:`rnnviz.attr.reliance`) in words, and the test it sets: what set it,
    its value, and the bar a feature (``pairs``: a pair's interaction) must clear. Two
    sentences; the second has no closing period, so a verdict can follow ("…: x1 is.")."""
    v, bar = f"{floor.value:.{digits}f}", f"{floor.bar:.{digits}f}"
    share = f"{MIN_SHARE:.0%} of the largest single effect"
    what = (
        "a pair with a feature the rule has no use for"
        if pairs
        else "a feature the rule has no use for"
    )
    if floor.sources:
        if pairs:
            src = _list(f"{names[i]} with {names[j]}" for i, j in floor.sources)
        else:
            src = _list(names[f] for f in floor.sources)
        spread = f", mean + {SPREAD:g} std over the repeats" if floor.spread else ""
        head = f"The noise floor is what {what} shows on this model: {v} ({src}{spread})"
    elif floor.noise is None:
        head = f"No feature is known to be unused here, so the noise floor is only {share}: {v}"
    elif not floor.noise:
        head = (
            "The rule reads every feature or a near-copy of one, so none shows what noise looks "
            f"like, and the noise floor is only {share}: {v}"
        )
    else:
        unread = _list(names[f] for f in floor.noise)
        head = (
            f"What the features the rule does not read show ({unread}) stays under {share}, so "
            f"that is the noise floor: {v}"
        )
    test = (
        "A pair counts as combined when its interaction"
        if pairs
        else "A feature counts as relied on when its effect"
    )
    return f"{head}. {test} is more than {NOISE_FACTOR:g}× the floor, above {bar}"


def interaction_reading(
    result,
    rule_pairs: dict[tuple[int, int], str] | None = None,
    noise: Sequence[int] | None = None,
) -> str:
    """A few sentences from the numbers of ``result`` (an InteractionResult): whether any pair
    stands clear of the noise floor (:func:`rnnviz.attr.reliance.pair_floor`; ``noise``: the
    features that set it, :func:`rnnviz.attr.reliance.noise_of`, None without a rule), and for
    the
    strongest pair that does: its joint change against the single ones, what its interaction
    measures, and whether and where the rule combines it (``rule_pairs`` from
    ``rnnviz.data.truth.interacting_pairs``; None when there is no rule)."""
    names = result.feature_names
    singles = result.single_mean
    floor = pair_floor(result, noise)
    ranked = result.pairs()
    clear = [p for p in ranked if floor.clears(p[2])]
    floor_text = noise_floor_text(floor, names, pairs=True, digits=4)
    if not clear:
        i, j, value, std = ranked[0]
        return (
            f"**No pair stands clear of the noise floor.** The largest interaction, {names[i]} "
            f"with {names[j]}, is {value:.4f} ± {std:.4f}. {floor_text}. Nudging two features at "
            "once moves the predictions as the two single nudges add up, up to noise."
        )
    i, j, value, std = clear[0]
    a, b = names[i], names[j]
    joint = result.joint_mean
    text = f"**Strongest pair: {a} and {b}.** "
    if joint is not None:
        text += (
            f"Nudged together they move the predictions by {joint[i, j]:.4f} (RMS of the joint "
            f"change), {a} alone by {singles[i]:.4f} and {b} alone by {singles[j]:.4f}: RMS "
            "changes do not add up. "
        )
    else:
        text += (
            f"Alone, {a} moves the predictions by {singles[i]:.4f} and {b} by {singles[j]:.4f}. "
        )
    times = floor.times(value)
    text += (
        f"What the joint change holds beyond the two single changes, the RMS of "
        f"Δ({a} and {b}) − Δ({a}) − Δ({b}), is {value:.4f} ± {std:.4f}"
        + (f", {times:.0f}× the noise floor" if times is not None else "")
        + f". {floor_text}."
    )
    if len(clear) > 1:
        text += " Also clear of the floor: " + _list(
            f"{names[p]} and {names[q]} ({m:.4f})" for p, q, m, _ in clear[1:]
        )
        text += "."
    if rule_pairs is None:
        return text
    where = rule_pairs.get((i, j))
    if where is None:
        return text + " The rule does not combine these two: this combination is the model's own."
    # a rule's source is names, numbers and operators (no backtick): a plain code span holds it
    return text + f" The rule combines them in `{where}`."


# --------------------------------------------------------------------------- training replay


HALF_WAY = 0.5  # a feature "rose" at the first snapshot reaching this share of its final effect


def replay_reading(
    snapshots: Sequence,
    truth_features: Iterable[int] | None = None,
    names: Sequence[str] | None = None,
    noise: Sequence[int] | None = None,
) -> str:
    """When each feature reached half its final effect, and which never stood clear of the
    noise floor (:mod:`rnnviz.attr.reliance`, on the last snapshot), from the numbers of
    ``snapshots`` (``rnnviz.training.snapshots.Snapshot``, in step order). ``names``: the features'
    names (default x1..xF); ``truth_features``: the rule's, None without a rule; ``noise``: the
    features that set the floor (:func:`rnnviz.attr.reliance.noise_of`; default: those the rule
    does
    not read)."""
    effects = np.stack([s.effects for s in snapshots])  # (K, F)
    steps = [s.step for s in snapshots]
    final = effects[-1]
    names = list(names or (f"x{i + 1}" for i in range(effects.shape[1])))
    if noise is None and truth_features is not None:
        noise = [f for f in range(len(names)) if f not in set(truth_features)]
    floor = feature_floor(final, None, noise)
    risen, flat = [], []
    for f, name in enumerate(names):
        if not floor.clears(final[f]):
            flat.append(f"{name} ({final[f]:.3f})")
            continue
        first = int(np.argmax(effects[:, f] >= HALF_WAY * final[f]))
        risen.append((steps[first], f"{name} after step {steps[first]} (final {final[f]:.3f})"))
    parts = []
    if risen:
        ordered = ", ".join(t for _, t in sorted(risen))
        parts.append(
            f"**Half of the final effect** was reached by {ordered}, of {steps[-1]} steps."
        )
    if flat:
        parts.append(
            f"Not clear of the noise floor at the last step: {', '.join(flat)}. "
            + noise_floor_text(floor, names)
            + "."
        )
    if truth_features is not None:
        used = ", ".join(names[f] for f in sorted(truth_features) if f < len(names))
        parts.append(f"The rule reads {used}.")
    return " ".join(parts)


# --------------------------------------------------------------------------- real series
# A real series has no rule: its verdict is its forecasts against the baselines, its reading
# says what the model relies on and what real data leaves open. The numbers come from the
# data's source (rnnviz.data.source); the words are made here.

# What a reading of real data must say, whatever the numbers (the reading fills in its own).
SERIES_CAVEATS = {
    "correlated": "Correlated features: features that move together share credit. The model "
    "can lean on either, and noise on one alone makes days that never occur, so their effects "
    "split or blur the credit of what they measure together.",
    "shift": "Distribution shift: the model is scored on a later year than it was trained on; "
    "effects and accuracy describe that year.",
    "seasonality": "Seasonality: one scoring year holds each season once, and much of what the "
    "inputs tell is the season itself.",
    "truth": "No ground truth: nobody knows what tomorrow's weather depends on. The effects say "
    "what this model relies on, not what causes the weather; another seed may share credit "
    "differently.",
}


def forecast_verdict(scores: Mapping[str, float], outcome: str, year: str = "2015") -> str:
    """The verdict sentence for the numbers of a real series' forecasts
    (``rnnviz.data.datasets.forecast_scores``) against its baselines."""
    what = datasets.OUTCOME_TEXT.get(outcome, outcome)
    if "accuracy" in scores:
        return classification_verdict(
            scores["accuracy"],
            scores["majority_accuracy"],
            scores["persistence_accuracy"],
            beats_majority=bool(scores["beats_majority"]),
            beats_persistence=bool(scores["beats_persistence"]),
            what=what,
            when=f"the {scores['days']:.0f} forecast days of {year}",
        )
    return regression_verdict(
        scores["r2"],
        scores["mse"],
        scores["persistence_mse"],
        beats_persistence=bool(scores["beats_persistence"]),
        unit=datasets.UNITS["temp_max"],
        what=what,
    )


def _days_back(lags: list[int]) -> str:
    if lags == [0]:
        return "of today (the last day the model sees)"
    if lags == list(range(len(lags))):
        return f"of the last {len(lags)} days"
    return "of " + ", ".join(str(lag) for lag in lags) + " days back"


def _effect(value: float, outcome: str) -> str:
    if outcome == "temp_max":
        return f"{value:.2f} {datasets.UNITS['temp_max']}"
    return f"{value:.3f}"


def weather_reading(
    scores: Any,
    correlations: Mapping[tuple[str, str], float],
    *,
    outcome: str = "rain",
    target_means: tuple[float, float] | None = None,
    correlated: float = datasets.CORRELATED,
) -> str:
    """What the model relies on, in words built from its numbers, then the caveats.

    ``scores``: a ``PerturbationResult`` with per-step effects (feature names set);
    ``correlations``: ρ of feature pairs on the training days; ``target_means``: the outcome's
    mean on the training days and on the scored days (for the distribution-shift caveat).
    """
    words = datasets.DESCRIPTIONS
    names = list(scores.feature_names)
    label = [words.get(n, n) for n in names]
    imp = np.asarray(scores.importances_mean, dtype=np.float64)
    order = [int(i) for i in np.argsort(-imp, kind="stable")]
    top = order[0]
    unit = "the forecast" if outcome == "temp_max" else "the forecast probability of rain"
    days = _days_back(datasets.reach(scores.by_lag()[top], scores.lags))
    lead = f"{label[top].capitalize()} {days} matters most"
    if len(order) > 1 and imp[order[1]] >= 0.8 * imp[top]:
        lead = f"{label[top].capitalize()} ({days}) and {label[order[1]]} matter about equally"
    parts = [
        f"{lead}: noise of σ = {scores.sigma:g} on it moves {unit} by "
        f"{_effect(imp[top], outcome)} (RMS{'' if outcome == 'temp_max' else ', on 0 to 1'})."
    ]
    rest = [f"{label[i]} {_effect(imp[i], outcome)}" for i in order[1:]]
    if rest:
        parts.append("Then " + ", ".join(rest) + ".")
    pairs = sorted(
        ((a, b, rho) for (a, b), rho in correlations.items() if a in names and b in names),
        key=lambda p: -abs(p[2]),
    )
    together = [(a, b, rho) for a, b, rho in pairs if abs(rho) >= correlated]
    for a, b, rho in together:
        parts.append(
            f"{words.get(a, a).capitalize()} and {words.get(b, b)} share credit "
            f"because they move together (ρ = {rho:.2f} on the training days)."
        )
    caveats = ["Caveats (real data):"]
    if together:
        a, b, rho = together[0]
        caveats.append(
            f"- Correlated features: {words.get(a, a)} and {words.get(b, b)} "
            f"move together (ρ = {rho:.2f}), so the model can lean on either, and noise on one "
            "alone makes days that never occur: their effects split or blur the credit of what "
            "they measure together."
        )
    else:
        caveats.append("- " + SERIES_CAVEATS["correlated"])
    if target_means is not None:
        train_mean, score_mean = target_means
        if outcome == "temp_max":
            shift = (
                f"tomorrow's max averaged {train_mean:.1f} °C on the training days and "
                f"{score_mean:.1f} °C on the scored days"
            )
        else:
            shift = (
                f"it rained on {train_mean:.0%} of the training days and {score_mean:.0%} of "
                "the scored days"
            )
        caveats.append(f"- Distribution shift: {shift}; effects and accuracy describe that year.")
    else:
        caveats.append("- " + SERIES_CAVEATS["shift"])
    caveats += ["- " + SERIES_CAVEATS["seasonality"], "- " + SERIES_CAVEATS["truth"]]
    return " ".join(parts) + "\n\n" + "\n".join(caveats)


def judge(config: Config, predict: Any) -> tuple[dict[str, float], str]:
    """(the forecast numbers, :func:`forecast_verdict`) of a model of ``config``'s real series
    on its scored split: what the CLI prints and the pages show instead of "learned the rule"."""
    source = source_of(config)
    forecast = source.forecast(predict)
    return forecast, forecast_verdict(forecast, config.outcome, source.score_period)


def series_reading(config: Config, scores: Any) -> str:
    """:func:`weather_reading` of ``scores`` (a ``PerturbationResult`` of ``config``'s model)
    with the training days' correlations and the outcome's mean on the training and scored
    days (the distribution-shift caveat)."""
    source = source_of(config)
    names = source.feature_names
    if tuple(scores.feature_names) != names:  # e.g. scores saved before they carried names
        scores = PerturbationResult(
            scores.sigma, names, scores.importances, scores.response, scores.output_counts
        )
    return weather_reading(
        scores,
        source.correlations(),
        outcome=config.outcome,
        target_means=source.target_means(),
    )


# --------------------------------------------------------------------------- faithfulness

READ_SHARE = 0.1  # the share of cells the deletion sentence reads off the curves
CHANCE_SPREADS = 2  # a score within this many random orders' spreads is no better than chance


def _quality_value(value: float, metric: str) -> str:
    return f"{value:.0%}" if metric in ("accuracy", "agreement") else f"{value:.2f}"


def _moves(before: float, after: float, metric: str) -> str:
    """ "drops accuracy from 97% to 61%" (or raises, or leaves it at)."""
    name = {"accuracy": "accuracy", "agreement": "agreement", "r2": "R²", "loss": "the loss"}[
        metric
    ]
    a, b = _quality_value(before, metric), _quality_value(after, metric)
    if a == b:
        return f"leaves {name} at {a}"
    return f"{'drops' if after < before else 'raises'} {name} from {a} to {b}"


def removal_sentence(curves, label: str | None = None) -> str:
    """What removing a method's top cells (about READ_SHARE of them) or top feature does to
    the model's quality, beside as many random ones, from the
    :class:`rnnviz.attr.faithfulness.Curves`: "removing perturbation's top 10% of cells
    (6 of 60) drops accuracy from 97% to 61%; random cells: to 95% (mean of 3 orders)"."""
    label = label or method_label(curves.method)
    k = curves.at(READ_SHARE)
    count = int(round(curves.shares[k] * curves.units))
    random = curves.reference("deletion")
    if curves.grain == "cell":
        what = f"top {curves.shares[k]:.0%} of cells ({count} of {curves.units})"
        others = "as many random cells"
    else:
        features = "feature" if count == 1 else f"{count} features"
        what = f"top {features} ({count} of {curves.units}, every step)"
        others = "as many random features"
    orders = len(curves.random_deletion)
    return (
        f"removing {label}'s {what} {_moves(curves.full, curves.deletion[k], curves.metric)}; "
        f"{others}: to {_quality_value(random[k], curves.metric)} "
        f"(mean of {orders} random order{'s' * (orders > 1)})"
    )


def faithfulness_reading(comparison) -> str | None:
    """The most and least faithful methods by their deletion score (the area between their
    curve and random's), with what removing the best one's top cells does; None without
    curves."""
    curves = {m: c for m, c in (comparison.curves or {}).items() if m != RANDOM}
    if not curves:
        return None
    ranked = sorted(curves, key=lambda m: -curves[m].deletion_score)
    best = curves[ranked[0]]
    quality = best.metric_label
    lines = [
        f"Most faithful to this model by deletion: **{method_label(ranked[0])}** (score "
        f"{best.deletion_score:+.3f}, the average gap between random's {quality} curve and its "
        f"own): {removal_sentence(best)}."
    ]
    if len(ranked) > 1:
        worst = curves[ranked[-1]]
        lines.append(
            f"Least: **{method_label(ranked[-1])}** ({worst.deletion_score:+.3f}): "
            f"{removal_sentence(worst)}."
        )
    grains = {c.grain for c in curves.values()}
    if grains == {"cell", "feature"}:
        lines.append(
            "Methods with a per-step map are followed cell by cell, the others feature by "
            "feature; each is scored against random orders of its own grain."
        )
    return " ".join(lines)


def faithfulness_table(comparison) -> dict[str, list[str]]:
    """Display columns of the curves' scores: one row per method with curves (random last),
    its grain, both scores (signed, higher = more faithful) and what removing its top cells
    does."""
    out: dict[str, list[str]] = {
        c: [] for c in ("method", "removed by", "deletion", "insertion", "reading")
    }
    for name in comparison.methods:
        curves = (comparison.curves or {}).get(name)
        if curves is None:
            continue
        out["method"].append(method_label(name))
        out["removed by"].append("cell" if curves.grain == "cell" else "feature")
        for kind in ("deletion", "insertion"):
            score, spread = curves.score(kind), curves.random_spread(kind)
            chance = " (chance)" if abs(score) <= CHANCE_SPREADS * spread else ""
            out[kind].append(f"{score:+.3f}{chance}")
        line = removal_sentence(curves)
        out["reading"].append(f"{line[0].upper()}{line[1:]}.")
    return out


# --------------------------------------------------------------------------- training verdicts


def classification_verdict(
    accuracy: float,
    majority: float,
    persistence: float,
    *,
    beats_majority: bool,
    beats_persistence: bool,
    what: str = "the target",
    when: str = "the scored steps",
) -> str:
    """The model's accuracy against always guessing the more common class and persistence;
    ``beats_*`` say whether it is better by more than chance
    (:func:`rnnviz.metrics.clearly_better`)."""
    text = (
        f"The model forecasts {what} correctly on {accuracy:.1%} of {when}, against "
        f"{majority:.1%} for always guessing the more common outcome and {persistence:.1%} for "
        'persistence ("tomorrow like today").'
    )
    if beats_majority and beats_persistence:
        share = error_ratio(accuracy, persistence)
        text += " It beats both" + (
            f": it makes {share:.0%} of persistence's errors." if share is not None else "."
        )
    elif beats_majority:
        text += (
            " It beats the more common outcome but not clearly persistence: it adds little to "
            "repeating today, so read its effects as those of a persistence-like model."
        )
    else:
        text += (
            " It does not clearly beat always guessing the more common outcome: its effects "
            "describe a model that learned (almost) nothing."
        )
    return text + " There is no ground truth to reach: part of tomorrow cannot be told."


def regression_verdict(
    r2: float,
    model_mse: float,
    persistence_mse: float,
    *,
    beats_persistence: bool,
    unit: str = "",
    what: str = "the target",
) -> str:
    """R² against the training mean, RMSE in the target's units and the skill over persistence
    (``beats_persistence``: lower error by more than chance,
    :func:`rnnviz.metrics.clearly_lower`)."""
    u = f" {unit}" if unit else ""
    text = (
        f"The model forecasts {what} with R² = {r2:.2f} against predicting the training mean "
        f"(grade: {regression_grade(r2)}); its typical error (RMSE) is "
        f"{math.sqrt(model_mse):.2f}{u}, against {math.sqrt(persistence_mse):.2f}{u} for "
        'persistence ("tomorrow like today").'
    )
    gain = skill(model_mse, persistence_mse)
    if beats_persistence and gain is not None:
        text += f" It removes {gain:.0%} of persistence's squared error."
    else:
        text += " It does not clearly beat persistence: it adds little to repeating today."
    return text


def training_verdict(result: TrainResult) -> str:
    """The grade in one to three sentences, with the accuracy, the baseline and their ratio;
    it names the cell ("The GRU learned the rule"), so a verdict shown beside another
    model's says which model it is about."""
    acc, base = result.val_accuracy, result.baseline_accuracy
    if result.config.data_kind.real:  # no rule to learn: its forecasts are judged
        return real_series_verdict(result.config.task, acc, base)
    ratio = error_ratio(acc, base)
    share = "" if ratio is None else f" It makes {ratio:.0%} of the baseline's errors"
    model = f"The {CELL_NAMES[result.config.cell]}"
    # planted evidence has labels to learn, not a rule
    goal = "the rule" if result.config.data_kind.rule_made else "the task"
    if result.grade == "learned":
        return (
            f"{model} learned {goal}: validation accuracy {acc:.1%} against {base:.1%} "
            f"for always guessing the majority class.{share}{share and '.'}"
        )
    if result.grade == "partly learned":
        return (
            f"{model} only PARTLY learned {goal}: validation accuracy {acc:.1%} against "
            f"{base:.1%} for always guessing the majority class.{share} (learned means at "
            f"most {LEARNED_ERROR_RATIO:.0%}). Its effects describe a model that is only "
            "partly right; train longer or change the recipe."
        )
    return (
        f"{model} did NOT learn {goal}: validation accuracy {acc:.1%} is not clearly "
        f"above the {base:.1%} of always guessing the majority class.{share}{share and '.'} "
        "Its effects describe an untrained model; train longer or change the recipe."
    )


def real_series_verdict(task: str, val_score: float, baseline: float) -> str:
    """The validation numbers of a model of a real series, without the synthetic verdict's
    "learned the rule" (there is none): ``val_score`` is the accuracy (classification) or R²
    against the training mean (regression). The comparison with persistence on the score
    split is ``rnnviz.data.datasets.forecast_verdict``."""
    if task == "regression":
        text = f"Validation R² = {val_score:.2f} against predicting the training mean"
    else:
        text = (
            f"Validation accuracy {val_score:.1%} against {baseline:.1%} for always guessing "
            "the more common outcome"
        )
    return (
        f"{text}. A real series has no rule to learn and no known ceiling: judge the model "
        'against persistence ("tomorrow like today") on the scored year.'
    )


def improving_note(history: Mapping[str, Sequence[float]]) -> str | None:
    """A sentence saying that validation loss was still falling, with its numbers; None when
    :func:`rnnviz.training.result.still_improving` is false."""
    if not still_improving(history):
        return None
    losses = history["val_loss"]
    if len(losses) == 1:
        return (
            f"Validation loss was still falling: after the only epoch it was {losses[0]:.4f}, "
            f"below the {UNTRAINED_LOSS:.4f} (ln 2) of an untrained model."
        )
    return (
        f"Validation loss was still falling at the last epoch: {losses[-2]:.4f} → "
        f"{losses[-1]:.4f} (epoch {len(losses) - 1} → {len(losses)}), its lowest."
    )


def upload_regression_verdict(scores: dict[str, float]) -> str:
    """The regression verdict against the uploaded targets: R², MSE against the targets' mean,
    and against persistence where there is a previous step (the numbers of
    ``rnnviz.serve.uploads.regression_scores``)."""
    text = (
        f"Against your targets: R² = {scores['r2']:.3f} against always predicting their mean "
        f"({scores['target_mean']:.4g}); MSE {scores['mse']:.4g} against {scores['mean_mse']:.4g} "
        f"for the mean (grade: {regression_grade(scores['r2'])})."
    )
    if "persistence_mse" in scores:
        model, base = scores["model_mse_after_first"], scores["persistence_mse"]
        text += (
            f" From step 1 on, persistence (the previous step's target as the forecast) has "
            f"MSE {base:.4g}, the model {model:.4g}"
        )
        gain = skill(model, base)
        if gain is not None:
            text += (
                f": it removes {gain:.0%} of persistence's squared error."
                if gain > 0
                else ": it does not beat persistence."
            )
        else:
            text += "."
    return text


# --------------------------------------------------------------------------- a sure model

REMEDY_PAGE = "switch the effect to log-odds"
REMEDY_CLI = "rerun with --effect-on log-odds"


def saturation_warning(saturation, remedy: str = REMEDY_PAGE) -> str | None:
    """The warning of a saturation check (:class:`rnnviz.attr.saturation.Saturation`) whose
    effects are on the probability, from its numbers, ending in ``remedy``; None when there is
    nothing to warn of (not saturated, a regression, or the effects are on log-odds already)."""
    if saturation is None or not saturation.warn:
        return None
    share = f"{saturation.share:.0%}"
    if share == "100%" and saturation.share < 1:
        share = "over 99%"
    text = (
        f"{share} of this model's outputs are within {saturation.near:g} of 0 or 1: nudging "
        "one input barely moves a probability, so these per-step effects can rank noise"
    )
    if saturation.at_precision:
        text += (
            f" (the largest effect, {saturation.largest_effect:.1e}, is below "
            f"{saturation.precision_floor:.1e}, a thousand float32 rounding steps of a "
            "probability: their order is rounding)"
        )
    return f"{text}; {remedy}."


def effect_scale_note(config: Config) -> str | None:
    """What the effects are measured on when it is not the probability (a caption), else None."""
    if config.task != "classification" or config.effect_on == "probability":
        return None
    return (
        "Effects are on the log-odds of the model's probability (effect on: log-odds), clipped "
        "to [1e-7, 1 − 1e-7]: a change of 1 multiplies the odds by e ≈ 2.7, however sure the "
        "model is."
    )


def probability_only_note(config: Config, methods: Iterable[str]) -> str | None:
    """Which of ``methods`` stay on the probability although ``config`` asks for log-odds: the
    gradient methods (they read the Keras model's probability output) and the stepwise
    selections (they score a loss, a function of the probability); None when none or when
    effects are on the probability."""
    if effect_scale_note(config) is None:
        return None
    kept = [method_label(m) for m in methods if _on_probability(m)]
    if not kept:
        return None
    return (
        f"{_list(kept)} stay on the probability: gradients are taken of the model's probability "
        "output and a loss is a function of the probability."
    )


def _on_probability(name: str) -> bool:
    """Whether method ``name`` (or, for "tsr:<base>", its base) measures the probability
    whatever effect_on says: a gradient method or a stepwise selection (weights read no output)."""
    base = name.split(":", 1)[-1]
    spec = spec_of(base)
    return (spec.needs_model and not spec.reads_weights) or base in ("iss1", "iss2")


# --------------------------------------------------------------------------- one sequence

_SEQUENCE_UNITS = {
    "perturbation": "change of the output per σ of noise",
    "ablation": "output minus the output with the cell set to its baseline",
    "group": "output minus the output with the cell's window set to its baseline",
    "saliency": "slope of the output per unit of input",
    "integrated_gradients": "share of output minus output at the baseline",
}


def sequence_label(method: str) -> str:
    """A per-sequence method's name (group occlusion here edits windows of steps only)."""
    return f"Window occlusion ({method})" if method == "group" else method_label(method)


def sequence_units(method: str) -> str:
    """What one signed number of a per-sequence map is, for ``method``."""
    return _SEQUENCE_UNITS.get(method, "signed effect")


def _step(s: int, step_names: Sequence[str] | None) -> str:
    return f"step {s}" if step_names is None else f"{step_names[s]} (step {s})"


def sequence_cell_lines(
    attr, k: int = 5, step_names: Sequence[str] | None = None, digits: int = 2
) -> list[str]:
    """The ``k`` cells of largest |effect| of a per-sequence map, signed: "x1 at step 5:
    +0.79", with "± spread" over repeats where the method repeats."""
    spread = attr.spread
    names = list(attr.feature_names)
    lines = []
    for name, s, value in attr.top_cells(k):
        line = f"{name} at {_step(s, step_names)}: {value:+.{digits}f}"
        if spread is not None:
            line += f" ± {spread[names.index(name), s]:.{digits}f}"
        lines.append(line)
    return lines


def sequence_reading(attr, step_names: Sequence[str] | None = None) -> str:
    """One sentence on the cell that moved the explained output most, from its numbers: for an
    occlusion, "x1 at step 5 pushed the output from 0.12 to 0.91" (the output without the
    cell's value, then with it); for the other methods, the signed size in the method's
    units. Says so when no cell moved it, or when the output's target is undefined."""
    t = attr.output_step
    head = f"Output step {t} ({attr.output:.2f})"
    if not attr.is_counted:
        head += ", whose target is undefined (the rule reads before step 0),"
    top = attr.top_cells(1)
    if not top or top[0][2] == 0.0:
        return f"{head}: no cell moved it in this {sequence_label(attr.method)} map."
    name, s, value = top[0]
    where = f"{name} at {_step(s, step_names)}"
    if attr.method in ("ablation", "group"):
        without = attr.output - value
        verb = "pushed" if value > 0 else "pulled"
        return (
            f"{head}: {where} {verb} the output from {without:.2f} to {attr.output:.2f} "
            "(against the baseline), more than any other cell."
        )
    direction = "up" if value > 0 else "down"
    return (
        f"{head}: {where} moved it most, {direction} ({value:+.2g}: {sequence_units(attr.method)})."
    )


def sequence_truth_line(scores: Mapping[str, float | None]) -> str:
    """How a per-sequence map scores against the rule's cells for its output: AUC and AUPR of
    |effect|, and whether its largest effect sits on the cell that decided the output."""
    auc, aupr = scores.get("auc"), scores.get("aupr")
    if auc is None:
        return (
            "Against the rule: nothing to score for this output (no cell, or every cell, is read)."
        )
    line = (
        f"Against the cells the rule reads for this output: ROC AUC {auc:.2f}, "
        f"AUPR {aupr:.2f} (1 = the cells read have the largest effects)"
    )
    top = scores.get("top_on_deciding")
    if top is not None:
        line += (
            "; the largest effect sits on the cell that decided it"
            if top == 1.0
            else ("; the largest effect is not on the cell that decided it")
        )
    return line + "."


# --------------------------------------------------------------------------- over seeds (a sweep)

SEED_COLUMNS = ("method", "truth first", "feature AUC", "deletion", "seeds")
# A feature AUC this close to 1 counts as 1: every feature the rule reads outranks every other.
FIRST_AUC = 1.0 - 1e-9


def _over_seeds(rows) -> list[dict[str, Any]]:
    """Per method (in the rows' order), from a sweep's rows of one task (columns of
    :data:`rnnviz.sweep.work.COLUMNS`): its label, seeds, failed seeds, how many scored seeds
    put the truth first (feature AUC 1), and the feature AUC and deletion scores of its seeds."""
    out = []
    for method in dict.fromkeys(rows["method"]):
        mine = rows[rows["method"] == method]
        ok = mine[mine["error"] == ""]
        auc = ok["feature_auc"].dropna().to_numpy(float)
        out.append(
            {
                "label": method_label(method),
                "seeds": int(mine["seed"].nunique()),
                "failed": int(mine.loc[mine["error"] != "", "seed"].nunique()),
                "auc": auc,
                "first": int((auc >= FIRST_AUC).sum()),
                "deletion": ok["deletion"].dropna().to_numpy(float),
            }
        )
    return out


def _median_range(values: np.ndarray, fmt: str) -> str:
    """ "0.92 (0.75–1.00)": the median over seeds, lowest–highest in brackets; "—" without."""
    if values.size == 0:
        return "—"
    median = format(float(np.median(values)), fmt)
    if values.size == 1:
        return median
    low, high = format(float(values.min()), fmt), format(float(values.max()), fmt)
    return f"{median} ({low} to {high})" if fmt.startswith("+") else f"{median} ({low}–{high})"


def seeds_reading(rows) -> str | None:
    """One sentence over a sweep's seeds of one task: per method, in how many seeds it ranked
    the rule's features first (feature AUC 1), best first ("Over 5 seeds, Input perturbation
    ranks the rule's features first in 5/5, Connection weights in 2/5."); without truth (a real
    series), the methods most and least faithful by median deletion score. None without rows."""
    if rows is None or len(rows) == 0:
        return None
    stats = _over_seeds(rows)
    n = int(rows["seed"].nunique())
    head = f"Over {n} seed{'s' * (n != 1)}"
    failed = int(rows.loc[rows["error"] != "", "seed"].nunique())
    tail = f" ({failed} of {n} failed in the sweep)" if failed else ""
    scored = sorted((s for s in stats if s["auc"].size), key=lambda s: -s["first"] / s["auc"].size)
    if scored:
        parts = [f"{s['first']}/{s['auc'].size}" for s in scored]
        first = f"{scored[0]['label']} ranks the rule's features first in {parts[0]}"
        others = [f"{s['label']} in {p}" for s, p in zip(scored[1:], parts[1:], strict=True)]
        return f"{head}{tail}, {join([first, *others])}."
    faithful = sorted(
        (s for s in stats if s["deletion"].size), key=lambda s: -float(np.median(s["deletion"]))
    )
    if not faithful:
        return f"{head}{tail}, no method has a score to compare."
    best = faithful[0]
    line = (
        f"{head}{tail}, with no ground truth to rank against, the most faithful by deletion is "
        f"{best['label']} (median {float(np.median(best['deletion'])):+.3f})"
    )
    if len(faithful) > 1:
        worst = faithful[-1]
        line += f", the least {worst['label']} ({float(np.median(worst['deletion'])):+.3f})"
    return line + "."


def seeds_table(rows) -> dict[str, list[str]]:
    """Display columns (:data:`SEED_COLUMNS`) of a sweep's seeds of one task, one row per
    method: seeds ranking the truth first ("3/5", "—" without truth), the feature AUC and the
    deletion score as median (lowest–highest), and the seeds counted (failed ones said)."""
    out: dict[str, list[str]] = {c: [] for c in SEED_COLUMNS}
    for s in _over_seeds(rows):
        out["method"].append(s["label"])
        out["truth first"].append(f"{s['first']}/{s['auc'].size}" if s["auc"].size else "—")
        out["feature AUC"].append(_median_range(s["auc"], ".2f"))
        out["deletion"].append(_median_range(s["deletion"], "+.3f"))
        failed = f" ({s['failed']} failed)" if s["failed"] else ""
        out["seeds"].append(f"{s['seeds']}{failed}")
    return out
