"""Guided lessons: a question, a guess, a prepared experiment, a reveal read off its numbers.

Each :class:`Lesson` names the experiment(s) it opens (preset configs, so hosted mode warms them
and they open at once), the options a student commits to, and one change to try next. The
``reveal_*`` functions turn the real scores into the option they support and sentences that
quote the numbers, so what a student is told is what the model did, whatever it did. No
streamlit here: the Lessons page (``rnnviz/ui/pages/lessons.py``) only draws these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.attr.reliance import feature_floor, pair_floor
from rnnviz.config import CELL_NAMES, PRESETS, Config, describe_budget
from rnnviz.report.readings import join, noise_floor_text

# Relied on, combined and "nothing" are decided by one test, rnnviz.attr.reliance: clear of the
# noise floor that the features the rule does not read set on the same model. The copy takes as
# much credit as the original from this share of the original's effect.
AS_MUCH_SHARE = 0.8


@dataclass(frozen=True)
class Lesson:
    """One guided lesson: what to ask, which experiments answer it, and what to try next."""

    slug: str  # its link: /lessons?lesson=<slug>
    title: str
    question: str  # Markdown; a rule in it is ours, never user text
    options: tuple[str, ...]  # the guesses a student may commit to
    configs: tuple[Config, ...]  # the prepared experiments, opened together
    kind: str  # which reveal reads its numbers (the Lessons page draws each kind)
    try_next: str  # one change to try, in words
    try_config: Config  # that change
    # the pages its buttons open: the change to try, and the lesson's experiment to explore
    # ("setup", "features" or "compare")
    try_page: str = "setup"
    open_page: str = "features"


@dataclass(frozen=True)
class Reveal:
    """What the numbers say: the option they support (None when no option fits) and why."""

    answer: str | None
    reading: str

    def verdict_on(self, guess: str | None) -> str:
        """One sentence on the student's guess against the numbers."""
        if guess is None:
            return "You did not commit to a guess."
        if self.answer is None:
            return f"You guessed “{guess}”. None of the options fits what this model did."
        if guess == self.answer:
            return f"You guessed “{guess}”: that is what the model shows."
        return f"You guessed “{guess}”; the model shows “{self.answer}”."


def _names(names: Sequence[str], idx: Iterable[int]) -> str:
    return join(names[i] for i in idx)


FEATURE_OPTIONS = {
    "x1 only": (0,),
    "x1 and x2": (0, 1),
    "x1, x2 and x3": (0, 1, 2),
    "x3 only": (2,),
}


def reveal_features(
    scores, noise: Sequence[int] | None, options: Mapping[str, tuple[int, ...]] = FEATURE_OPTIONS
) -> Reveal:
    """Which features the model relies on: those clear of the noise floor that ``noise`` (the
    features the rule does not read, :func:`rnnviz.attr.reliance.noise_of`) sets, with the values
    and the criterion in words."""
    mean, std = scores.importances_mean, scores.importances_std
    names = scores.feature_names
    floor = feature_floor(mean, std, noise)
    used = [f for f in range(len(names)) if floor.clears(mean[f])]
    answer = next((o for o, s in options.items() if tuple(s) == tuple(used)), None)
    ignored = [i for i in range(len(names)) if i not in used]
    if used:
        head = f"Perturbing {_names(names, used)} moves the predictions most: " + ", ".join(
            f"{names[i]} by {mean[i]:.3f} ± {std[i]:.3f}" for i in used
        )
    else:
        head = "No feature moves the predictions clearly more than noise"
    parts = [head]
    if ignored:
        parts.append(", ".join(f"{names[i]} by only {mean[i]:.3f} ± {std[i]:.3f}" for i in ignored))
    text = "; ".join(parts) + ". " + noise_floor_text(floor, names)
    verdict = [names[f] for f in used]
    text += (
        f": {join(verdict)} {'is' if len(verdict) == 1 else 'are'}." if verdict else ": none is."
    )
    yardstick = [names[f] for f in floor.noise or () if f in ignored]
    if yardstick:
        which = join(yardstick)
        text += (
            f" {which}, which the rule does not read, cannot clear the floor: "
            f"{'it is' if len(yardstick) == 1 else 'they are'} the yardstick."
        )
    return Reveal(answer, text)


LAG_OPTIONS = {"0 steps (the same step)": 0, "1 step": 1, "2 steps": 2, "3 or more steps": 3}


def peak_lag(scores, feature: int) -> tuple[int, float]:
    """The lag (≥ 0) at which ``feature``'s effect on later outputs peaks, and that effect."""
    past = scores.past_lags()
    if past is None:
        raise ValueError("these scores have no lag profile (input and output steps differ)")
    profile = past[feature]
    lag = int(np.nanargmax(profile))
    return lag, float(profile[lag])


def reveal_lag(scores, feature: int = 0, options: Mapping[str, int] = LAG_OPTIONS) -> Reveal:
    """How far back the model reads ``feature``: the peak of its lag profile, with the runner-up."""
    names = scores.feature_names
    lag, value = peak_lag(scores, feature)
    profile = scores.past_lags()[feature]
    last = max(options.values())
    answer = next((o for o, v in options.items() if v == min(lag, last)), None)
    others = np.delete(profile, lag)
    second = float(np.nanmax(others)) if others.size else 0.0
    steps = "step" if lag == 1 else "steps"
    where = "at the same step" if lag == 0 else f"{lag} {steps} later"
    reading = (
        f"A nudge to {names[feature]} at one step moves the output {where} the most "
        f"({value:.3f}); at any other lag at most {second:.3f}"
    )
    if value > 0:
        reading += f" ({second / value:.0%} of the peak)"
    return Reveal(answer, reading + ".")


COMBINE = "It combines them: the effect of one depends on the other"
ADD_UP = "Their effects simply add up"


def reveal_interaction(
    interactions, noise: Sequence[int] | None, pair: tuple[int, int] = (0, 1)
) -> Reveal:
    """Whether ``pair`` combines: its interaction (the RMS of Δ_ij − Δ_i − Δ_j, not a
    difference of RMS values) against the noise floor that pairs with a feature of ``noise``
    show (:func:`rnnviz.attr.reliance.pair_floor`)."""
    names = interactions.feature_names
    i, j = pair
    a, b = names[i], names[j]
    mean, std = interactions.importances_mean, interactions.importances_std
    single = interactions.single_mean
    value = float(mean[i, j])
    floor = pair_floor(interactions, noise)
    combines = floor.clears(value)
    reading = (
        f"Alone, {a} moves the predictions by {single[i]:.3f} and {b} by {single[j]:.3f} (RMS)"
    )
    joint = interactions.joint_mean
    if joint is not None:
        reading += (
            f"; together by {joint[i, j]:.3f}, not {single[i]:.3f} + {single[j]:.3f}: RMS "
            "changes do not add up"
        )
    reading += (
        f". The interaction is the RMS of what the joint change holds beyond the two single "
        f"changes, Δ({a} and {b}) − Δ({a}) − Δ({b}): {value:.3f} ± {float(std[i, j]):.3f}. "
        + noise_floor_text(floor, names, pairs=True)
        + f": {a} and {b} {'do' if combines else 'do not'}"
    )
    others = [(p, q, m) for p, q, m, _ in interactions.pairs() if {p, q} != {i, j}]
    if others:
        p, q, m = others[0]
        reading += f". The strongest other pair, {names[p]} and {names[q]}, scores {m:.3f}"
    return Reveal(COMBINE if combines else ADD_UP, reading + ".")


NONE = "Nothing: the rule never reads x4"
SOME = "Something, but less than x1"
AS_MUCH = "As much as x1"


def reveal_correlated(
    scores, rho: float, original: int = 0, copy: int = 3, unrelated: Sequence[int] = (1, 2)
) -> Reveal:
    """How much credit the near-copy takes, against the original and against the noise floor.

    ``unrelated``: features the rule never reads and nothing copies: they set the noise floor
    (:func:`rnnviz.attr.reliance.feature_floor`), what "nothing" looks like on this model. The
    copy
    shows nothing when it does not clear that floor, as much as the original from
    AS_MUCH_SHARE of the original's effect.
    """
    names = scores.feature_names
    mean = scores.importances_mean
    a, b = float(mean[original]), float(mean[copy])
    floor = feature_floor(mean, scores.importances_std, unrelated)
    share = b / a if a > 0 else float("nan")
    if not floor.clears(b):
        answer = NONE
    elif share >= AS_MUCH_SHARE:
        answer = AS_MUCH
    else:
        answer = SOME
    reading = (
        f"{names[original]} moves the predictions by {a:.3f}, its near-copy {names[copy]} "
        f"(rank correlation {rho:.2f}) by {b:.3f}"
    )
    if a > 0:
        reading += f", {share:.0%} of {names[original]}'s effect"
    if unrelated:
        top = max(float(mean[i]) for i in unrelated)
        reading += (
            f"; {_names(names, unrelated)}, which nothing reads or copies, by at most {top:.3f}"
        )
    reading += ". " + noise_floor_text(floor, names)
    times = floor.times(b)
    reading += f": {names[copy]} {'is' if floor.clears(b) else 'is not'}"
    if times is not None:
        reading += f", at {times:.1f}× the floor"
    if answer == SOME:
        reading += f", though its effect is under {AS_MUCH_SHARE:.0%} of {names[original]}'s"
    return Reveal(answer, reading + ".")


ALL_AGREE = "All of them"
NOT_ALL = "Not all of them"


def reveal_methods(comparison, truth_features: Iterable[int]) -> Reveal:
    """Whether every method ranks the rule's features first (feature AUC 1), in one sentence."""
    from rnnviz.attr.registry import RANDOM
    from rnnviz.report.readings import verdict

    auc = [
        comparison.scores.get(m, {}).get("feature_auc") for m in comparison.methods if m != RANDOM
    ]
    known = [a for a in auc if a is not None]
    answer = (ALL_AGREE if all(a >= 1.0 for a in known) else NOT_ALL) if known else None
    return Reveal(answer, verdict(comparison, truth_features))


ONLY_LSTM = "Only the LSTM"
ONLY_SIMPLE = "Only the simple RNN"
BOTH = "Both"
NEITHER = "Neither"


def _model(result) -> str:
    """A lesson's model by its cell and its training budget: "The LSTM (3 epochs)"."""
    config = result.config
    return f"The {CELL_NAMES[config.cell]} ({describe_budget(config)})"


def reveal_cells(results: Sequence, scores: Sequence, feature: int = 0) -> Reveal:
    """Which cells learned within the same budget (their verdict grades), where each one's lag
    profile peaks, and what a longer budget did for the LSTM.

    ``results`` and ``scores`` follow the lesson's configs: the simple RNN and the LSTM with
    the same budget (the option they support), then optionally the LSTM with more epochs, so
    a cell that is slower to learn is not read as one that remembers worse.
    """
    simple, lstm, *longer = results
    answer = {
        (False, True): ONLY_LSTM,
        (True, False): ONLY_SIMPLE,
        (True, True): BOTH,
        (False, False): NEITHER,
    }[(simple.grade == "learned", lstm.grade == "learned")]
    parts = []
    for result, s in zip(results, scores, strict=True):
        lag, value = peak_lag(s, feature)
        parts.append(
            f"{_model(result)} {result.grade} (validation accuracy {result.val_accuracy:.1%} "
            f"against {result.baseline_accuracy:.1%} for always guessing the majority); a nudge "
            f"to {s.feature_names[feature]} moves its output {lag} steps later the most "
            f"({value:.3f})"
        )
    if longer:
        long, short = describe_budget(longer[0].config), describe_budget(lstm.config)
        if longer[0].grade == "learned" and lstm.grade != "learned":
            budget = (
                f"So the budget of {short} was too short for the LSTM, not its memory: given "
                f"{long} it learned the rule"
            )
            if simple.grade == "learned":
                budget += (
                    f". Within {short} the simple RNN learned sooner, which does not make it "
                    "remember better"
                )
            parts.append(budget)
        elif longer[0].grade != "learned":
            parts.append(f"Even given {long} the LSTM {longer[0].grade}")
    return Reveal(answer, ". ".join(parts) + ".")


IN_BOX = "Where the evidence was planted"
LAST_STEPS = "At the last steps, just before the answer"
ELSEWHERE = "Somewhere else"
# The lesson's per-cell method, its window scale and how close to "everything removed" a
# deletion curve must come to count as having found the evidence.
SURE_CELL_METHOD = "perturbation"
SURE_WINDOW = {"grouping": "window", "window": 6, "overlap": "sliding"}
LAST = 5  # "the last steps": the last five
FOUND_MARGIN = 0.1  # within 10 points of the accuracy with every cell removed


def _first_share(curve: np.ndarray, shares: np.ndarray, level: float) -> float | None:
    """The first share of cells removed at which ``curve`` is at or below ``level``."""
    hit = np.flatnonzero(np.asarray(curve) <= level)
    return float(shares[hit[0]]) if hit.size else None


def reveal_sure(
    comparison,
    truth,
    sure_share: float | None = None,
    cell_method: str = SURE_CELL_METHOD,
    window_method: str = "group",
) -> Reveal:
    """Where a sure model's per-cell map points, against the planted box (``truth``: its
    ``mask`` (F, T) and ``rect``), and what the window scale and the deletion curve find.

    The option: where ``cell_method``'s per-step profile (its cell map's mean over features)
    peaks: inside the box's steps, in the last LAST steps, or elsewhere. The reading quotes
    the largest one-cell effect and the box's, the map's ROC AUC against the box, the window
    method's strongest window and its AUC, and the share of cells each order (the window
    method's, random's) removes before accuracy falls to within FOUND_MARGIN of its value
    with every cell removed (``comparison.curves``). ``sure_share``: the share of outputs
    within 1e-3 of 0 or 1, where known."""
    from rnnviz.data.truth import map_auc

    cell = comparison.attributions[cell_method].cell_mean
    n_features, seq_len = cell.shape
    s0, s1, f0, f1 = truth.rect
    profile = cell.mean(axis=0)
    peak = int(np.argmax(profile))
    if s0 <= peak < s1:
        answer = IN_BOX
    elif peak >= seq_len - LAST:
        answer = LAST_STEPS
    else:
        answer = ELSEWHERE
    mask = np.asarray(truth.mask, bool)
    top_f, top_s = np.unravel_index(int(np.argmax(cell)), cell.shape)
    auc = map_auc(cell, mask)
    parts = [
        f"Nudging one cell moves the output by at most {cell.max():.1e} (x{top_f + 1} at step "
        f"{top_s}); the box's cells by {cell[mask].mean():.1e} on average, the last {LAST} "
        f"steps' by {cell[:, -LAST:].mean():.1e}. The per-step effects peak at step {peak}, "
        f"and the map ranks the box's cells above the others with a ROC AUC of {auc:.2f} "
        "(0.5 is chance)"
    ]
    sure = (
        f"The model is sure: {sure_share:.0%} of its answers are within 0.001 of 0 or 1, "
        "where a sigmoid barely moves"
        if sure_share is not None
        else "Effects this small are what a sigmoid output pinned near 0 or 1 does"
    )
    parts.append(
        f"{sure}; and the evidence is redundant: {int(mask.sum())} cells say the same thing, "
        "so taking one away changes nothing"
    )
    group = comparison.attributions.get(window_method)
    if group is not None and "group_effects" in group.extra:
        effects = np.asarray(group.extra["group_effects"]).mean(axis=1)
        spans = np.asarray(group.extra["groups"])
        best = int(np.argmax(effects))
        inside = (spans[:, 0] < s1) & (spans[:, 1] > s0)  # windows that touch the box
        outside = effects[~inside]
        g0, g1 = int(spans[best, 0]), int(spans[best, 1])
        text = (
            f"Occlude whole windows of {g1 - g0} steps of every feature instead: steps "
            f"{g0}–{g1 - 1} move the output by {effects[best]:.2f}"
        )
        if outside.size:
            text += f", no window clear of the box by more than {outside.max():.1e}"
        text += f"; this map's ROC AUC against the box is {map_auc(group.cell_mean, mask):.2f}"
        parts.append(text)
    curves = (comparison.curves or {}).get(window_method)
    if curves is not None:
        level = curves.empty + FOUND_MARGIN
        mine = _first_share(curves.deletion, curves.shares, level)
        chance = _first_share(curves.reference("deletion"), curves.shares, level)
        box_share = mask.sum() / mask.size
        text = (
            f"Deleting cells in that order, accuracy falls from {curves.full:.0%} to within "
            f"{FOUND_MARGIN * 100:.0f} points of its {curves.empty:.0%} with every cell removed"
        )
        text += f" after {mine:.0%} of the cells" if mine is not None else " only at the very end"
        text += f" (the box is {box_share:.1%} of them); in a random order after " + (
            f"{chance:.0%}" if chance is not None else "all of them"
        )
        parts.append(text)
    return Reveal(answer, ". ".join(parts) + ".")


_COUNT = {2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight"}


def _lessons() -> tuple[Lesson, ...]:
    from rnnviz.attr.registry import first_methods, method_label
    from rnnviz.experiment import DISAGREEMENT_EXAMPLE

    methods = first_methods()
    labels = [method_label(m) for m in methods]
    listed = join(labels)

    from rnnviz.data.boxes import BOXES

    raretime, rarefeature = BOXES["raretime"], BOXES["rarefeature"]
    correlated = PRESETS["correlated"]
    memory = (PRESETS["memory-simple-rnn"], PRESETS["memory-lstm"], PRESETS["memory-lstm-16"])
    budget = memory[0].epochs
    return (
        Lesson(
            "thread",
            "The thread's rule",
            "The network is trained on $y_t$ = 1 when `x1 * x2 < 0.25`, with three features "
            "x1, x2 and x3. Which features will perturbing show that the trained network "
            "relies on?",
            tuple(FEATURE_OPTIONS),
            (Config(),),
            "features",
            "Give the network two more features that the rule never reads (5 features): do "
            "they stay flat too?",
            Config(n_features=5),
        ),
        Lesson(
            "memory",
            "Memory and lags",
            "Now $y_t$ = 1 when `x1[t-2] > 0.5`. Nudge x1 at one step only: how many steps "
            "later does the output move most?",
            tuple(LAG_OPTIONS),
            (Config(rule="lagged"),),
            "lag",
            "Move the lag to 4 steps (`x1[t-4] > 0.5`) and train for 6 epochs instead of 3 (a "
            "longer memory takes longer to learn: in 3 epochs this rule is only partly learned): "
            "does the peak follow?",
            Config(rule="x1[t-4] > 0.5", epochs=6),
        ),
        Lesson(
            "interaction",
            "An interaction",
            "In the thread's rule `x1 * x2 < 0.25` whether x1 matters depends on x2. Perturb "
            "both at once: does the network combine them, or do their effects simply add up?",
            (COMBINE, ADD_UP),
            (Config(),),
            "interaction",
            "Try a rule with no pair to combine, `x1 > 0.5`: what is left in the matrix?",
            Config(rule="threshold"),
        ),
        Lesson(
            "correlated",
            "Correlated features",
            "The rule reads only x1 (`x1 > 0.5`), but x4 is a near-copy of x1 (rank "
            "correlation 0.95). How much will perturbing x4 move the predictions?",
            (NONE, SOME, AS_MUCH),
            (correlated,),
            "correlated",
            "Loosen the copy to a rank correlation of 0.5: does x4's share shrink?",
            correlated.replace(correlated=((1, 4, 0.5),)),
        ),
        Lesson(
            "methods",
            "Which method to trust?",
            f"{_COUNT.get(len(methods), len(methods))} ways of scoring features run on one "
            f"trained model: {listed}. Its rule reads only x1, two steps back "
            "(`x1[t-2] > 0.5`). Will every method rank x1 above the other features?",
            (ALL_AGREE, NOT_ALL),
            (DISAGREEMENT_EXAMPLE,),
            "methods",
            "Run the same comparison on the thread's rule `x1 * x2 < 0.25` (no memory needed).",
            DISAGREEMENT_EXAMPLE.replace(rule="reference"),
            try_page="compare",
            open_page="compare",
        ),
        Lesson(
            "sure",
            "Sure and redundant",
            "Each sequence is 50 steps of 50 features of pure noise, with one label. The "
            f"label's evidence is planted in a box: {raretime.describe()}, shifted up by 1 for "
            "label 1 and down by 1 for label 0; nothing else carries it. An LSTM learns it "
            "(one answer per sequence, at the last step). Nudge one cell, a feature at one "
            "step, at a time: where will the largest effects be?",
            (IN_BOX, LAST_STEPS, ELSEWHERE),
            (PRESETS["box-raretime"],),
            "sure",
            "The box can be narrow in features instead (RareFeature: "
            f"{rarefeature.describe()}): windows of every feature cannot tell the features "
            "apart. Compare the methods there, with blocks or tiles for the group method.",
            PRESETS["box-rarefeature"],
            try_page="compare",
            open_page="compare",
        ),
        Lesson(
            "cells",
            "Cell memory",
            "The rule reads x1 eight steps back (`x1[t-8] > 0.5`, 20 steps per sequence). Two "
            f"networks train with the same recipe and the same budget of {budget} epochs: one "
            f"with simple RNN cells, one with LSTM cells. Which learns the rule within those "
            f"{budget} epochs?",
            (ONLY_LSTM, ONLY_SIMPLE, BOTH, NEITHER),
            memory,
            "cells",
            "Move x1 twelve steps back (`x1[t-12] > 0.5`, 30 steps per sequence): does the "
            f"simple RNN still learn it in {budget} epochs?",
            memory[0].replace(rule="x1[t-12] > 0.5", seq_len=30),
        ),
    )


LESSONS: tuple[Lesson, ...] = _lessons()
BY_SLUG: dict[str, Lesson] = {lesson.slug: lesson for lesson in LESSONS}


def lesson_experiments() -> list[Config]:
    """Every experiment the lessons open, each once, in lesson order (hosted mode warms them)."""
    seen: dict[Config, None] = {}
    for lesson in LESSONS:
        for config in lesson.configs:
            seen.setdefault(config, None)
    return list(seen)


__all__ = [
    "BY_SLUG",
    "LESSONS",
    "Lesson",
    "Reveal",
    "lesson_experiments",
    "peak_lag",
    "reveal_cells",
    "reveal_correlated",
    "reveal_features",
    "reveal_interaction",
    "reveal_lag",
    "reveal_methods",
    "reveal_sure",
]
