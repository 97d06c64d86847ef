"""Texts of the Compare methods page, and pure functions that turn a Comparison into words.

Every reading is derived from the numbers of the :class:`rnnviz.methods.Comparison` passed in
(no Streamlit here), so the page says only what the scores show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from math import comb

import numpy as np

from rnnviz.methods import TIE_FLOOR
from rnnviz.plots import method_label

WEIGHT_METHODS = ("connection_weights", "garson")
RECURRENCE = "it reads only input weights: it cannot see the recurrence"

INTRO = (
    "The Cross Validated thread lists the MLP methods (connection weights, Garson's algorithm, "
    "partial derivatives, input perturbation, sensitivity analysis, backward stepwise "
    "elimination) and asks which of them work for an LSTM. Here they all run on the same "
    "trained LSTM, side by side, and because we wrote the rule we can score each one against "
    "the truth."
)

WEIGHTS_CONTRAST = (
    "**Connection weights (Olden) and Garson's algorithm ignore the recurrence.** They multiply "
    "or share out the *input* weights of the network and never look at the recurrent weights, "
    "the gates' interplay or time. For an MLP that is the whole network; for an LSTM it is not. "
    "They are here as a teaching contrast."
)

STEPWISE_NOTE = (
    "Backward stepwise elimination retrains the model {n} times, once without each feature (the "
    "model already trained is the one with all features), so it takes about {n}× a training. "
    "It runs once per trained model and is then remembered."
)

STEPWISE_TOO_MANY = (
    "Backward stepwise elimination is not offered: it would retrain the model {n} times, and it "
    "is limited to {limit} features."
)

TSR_HELP = (
    "Temporal saliency rescaling (Ismail et al. 2020): first find which input steps matter "
    "(mask a whole step), then keep the perturbation scores of those steps only. Adds a row."
)

READ_MULTIPLES = """
**Small multiples.** One panel per method, each feature's score divided by that method's
largest score, so the *shapes* compare even though the units do not (an RMS change, a gradient,
a weight share, a loss). Orange hatched bars (★) are the features the rule reads: a method that
works puts them at the top and the grey ones near zero. The last panel is random scores: what
a method must beat.
"""

READ_TABLE = (
    "Each number scores a method against the rule we wrote. The lag columns score "
    "(feature, steps back) pairs, for the methods that give one score per lag; "
    '"—" means the method has no such grain.'
)

# One plain line per metric column: what the number says in words.
METRIC_READINGS = {
    "feature AUC": "how often a feature the rule reads outscores one it ignores "
    "(1 = always, 0.5 = a coin toss, 0 = never).",
    "lag AUC": "the same for (feature, steps back) pairs: does the method find *when* the rule "
    "looks, not only which feature?",
    "AUP": "how much of the score the method hands out lands on the pairs the rule reads "
    "(score-weighted precision; 1 = all of it).",
    "AUR": "how soon the rule's pairs are found, going from the highest score down "
    "(score-weighted recall; 1 = at once).",
    "AUPR": "the usual precision-recall area over the pairs, counting instead of weighing "
    "(chance = the share of pairs the rule reads).",
    "seconds": "how long the method took on this sample.",
}

LEAD_CHOICE = "A lagged example, where the methods disagree"
OWN_CHOICE = "Your experiment"

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


READ_AGREEMENT = f"""
**Rank agreement.** Each cell compares two methods' orderings of the features (Spearman's ρ):
1 = the same order, 0 = unrelated, −1 = reversed. Two features that either method cannot tell
apart (their ±1 std error bars overlap, or their scores differ by at most {TIE_FLOOR:.1%} of the
method's largest) count as tied, so a swap inside the noise is no disagreement. With few
features ρ can only take a few values, and one real swap moves it a lot. A blank cell: a
method could not tell any of the features apart.
"""

READ_LEK = """
**Lek's profiles (the thread's "sensitivity analysis").** Sweep one feature from its smallest
to its largest value while every other feature is held at one of its quantiles, the same value
at every step, and plot the mean prediction. A flat panel means the model ignores that feature.
The sequences are constant, far from anything the LSTM saw while training.
"""

READ_SWEEP = """
**Noise scale σ.** The thread's perturbation at several noise scales. Small σ measures a local
slope; large σ pushes the inputs far outside [0, 1). If the lines cross, the ranking, and the
verdict, depends on the σ you picked.
"""

PARAM_LABELS = {
    "sigma": "Noise scale σ",
    "n_repeats": "Repeats",
    "per_step": "Also score each (feature, step)",
    "baseline": "Baseline",
    "per_lag": "Per-output gradients (lag scores)",
    "steps": "Integration steps",
    "integration": "Integration rule",
    "n_points": "Points per curve",
    "quantiles": "Others held at quantiles",
    "sigmas": "Noise scales σ",
}

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
    clause = feature_clause(attr.feature_mean, names, truth)
    if method == "sigma_sweep" and "sigma" in attr.extra:
        clause = f"at σ = {attr.extra['sigma']:g} (the middle of the sweep) it {clause}"
    auc = scores.get("feature_auc")
    chance = comparison.scores.get("random", {}).get("feature_auc")
    n, k = len(names), len([f for f in truth if f < len(names)])
    odds = comb(n, k) if 0 < k < n else None
    if method == "random":
        lead = "chance level: " + ("by luck it " if auc == 1.0 else "it ") + clause
        if auc == 1.0 and odds:
            lead += f" (random scores do this 1 time in {odds})"
        parts.append(lead)
        if scores.get("lag_auc") is not None:
            parts.append(f"lag AUC {scores['lag_auc']:.2f}")
    else:
        parts.append(clause)
        if auc is not None and chance is not None and auc < 1.0 and auc <= chance:
            parts.append("no better than the random row")
        lag = _lag_clause(scores)
        if lag:
            parts.append(lag)
    if method in WEIGHT_METHODS:
        parts.append(RECURRENCE)
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def verdict(comparison, truth_features: Iterable[int]) -> str:
    """Who finds the rule's features and who does not, in one sentence from the feature AUCs.

    Methods with feature AUC 1 are named together; every other one gets its
    :func:`feature_clause` and AUC; the random row's AUC closes the sentence.
    """
    truth = {int(f) for f in truth_features}
    methods = [m for m in comparison.methods if m != "random"]
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
        clause = feature_clause(comparison.attributions[m].feature_mean, names, truth)
        parts.append(f"{method_label(m)} {clause}, feature AUC {auc[m]:.2f}")
    text = "; ".join(parts)
    if not bad:
        text += ": on this model they agree"
    if auc.get("random") is not None:
        text += f". Random scores get {auc['random']:.2f}"
    return text + "."


def chance_note(comparison, truth_features: Iterable[int]) -> str | None:
    """When the random row ranks the rule's features first by luck, say so (else None)."""
    truth = {int(f) for f in truth_features}
    random = comparison.attributions.get("random")
    if random is None or comparison.scores.get("random", {}).get("feature_auc") != 1.0:
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


def table(comparison, truth_features: Iterable[int]) -> dict[str, list[str]]:
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


def table_csv(comparison, truth_features: Iterable[int]) -> str:
    """The truth table as CSV: raw numbers (empty where a method has no such grain)."""
    truth = list(truth_features)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = ("feature_auc", "lag_auc", "aup", "aur", "aupr")
    writer.writerow(["method", "label", *keys, "seconds", "caveat", "reading"])
    for name in comparison.methods:
        s = comparison.scores.get(name, {})
        writer.writerow(
            [
                name,
                method_label(name),
                *("" if s.get(k) is None else s[k] for k in keys),
                comparison.seconds[name],
                comparison.attributions[name].note,
                reading(comparison, name, truth),
            ]
        )
    return out.getvalue()


def scores_csv(comparison, truth_features: Iterable[int]) -> str:
    """Per-feature scores of every method: mean, std over repeats, share of the method's max."""
    from rnnviz.plots import normalised_scores

    used = set(truth_features)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["method", "feature", "used_by_rule", "mean", "std", "repeats", "normalised"])
    for name in comparison.methods:
        attr = comparison.attributions[name]
        norm, _ = normalised_scores(attr.feature_mean)
        for f, feature in enumerate(attr.feature_names):
            writer.writerow(
                [
                    name,
                    feature,
                    f in used,
                    attr.feature_mean[f],
                    attr.feature_std[f],
                    attr.n_repeats,
                    norm[f],
                ]
            )
    return out.getvalue()


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
