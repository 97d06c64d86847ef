"""Short teaching texts, shared by the Learn page and the "how to read" notes beside the plots,
and the helpers that put user text (rules, file names, error messages) into Markdown literally."""

from __future__ import annotations

import re
import string

# --------------------------------------------------------------------------- user text in Markdown

# CommonMark lets a backslash escape any ASCII punctuation character, which is then literal text.
_PUNCTUATION = frozenset(string.punctuation)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Streamlit rewrites ":material/" to ":material_" in the whole source (code included) before
# parsing, to draw icons; a word joiner (U+2060, invisible) keeps user text from becoming one.
_ICON = ":material/"
_ICON_SAFE = ":\u2060material/"


def _one_line(value: object) -> str:
    """Text on one line: line breaks, tabs and other control characters become spaces."""
    return _CONTROL.sub(" ", str(value))


def md_escape(value: object) -> str:
    """``value`` as literal text in Streamlit Markdown (st.markdown, st.error, captions, labels).

    Every ASCII punctuation character is backslash-escaped, so nothing in it becomes bold,
    italics, a code span, math ($), HTML, a link, a colour directive, an emoji or an icon; line
    breaks become spaces (the text cannot start a heading, a list or a new paragraph).
    """
    return "".join("\\" + c if c in _PUNCTUATION else c for c in _one_line(value))


def md_code(value: object) -> str:
    """``value`` as an inline code span (for rules and file names), literal whatever it holds.

    Backslashes do not escape inside code, so the span is fenced by one more backtick than the
    longest run of backticks in the text, with spaces inside when the text touches a backtick.
    """
    text = _one_line(value).replace(_ICON, _ICON_SAFE)
    fence = "`" * (_longest_run(text, "`") + 1)
    if text.startswith("`") or text.endswith("`") or not text.strip(" "):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def md_fence(value: object, language: str = "text") -> str:
    """``value`` (several lines allowed) as a fenced code block that nothing in it can close."""
    text = str(value).replace(_ICON, _ICON_SAFE)
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


# --------------------------------------------------------------------------- teaching texts

QUESTION = """
**Which inputs does a recurrent network rely on, and when?** An LSTM reads a sequence of
feature vectors and predicts y at every step. We trained it on a rule we wrote ourselves, so we
*know* which features (and how many steps back) really matter, and can check whether the
explanation finds them.
"""

METHOD = """
**Nudge one input, watch the output move.** Take a sample of sequences and the model's
predictions. Add Gaussian noise of scale σ to one feature only and predict again. The
root-mean-square (RMS) change of the predictions is that feature's *perturbation effect*:
large means the model relies on it, near zero means it ignores it. Repeating with fresh noise
gives error bars. Nudging a feature at **one step only** shows *when* it matters.
"""

FORMULA_FEATURE = (
    r"\text{effect}_i = \sqrt{\frac{1}{|D|}\sum_{(n,t) \in D}"
    r"\left(\hat y_{n,t}(x) - \hat y_{n,t}(x + \varepsilon\, e_i)\right)^2}"
)
FORMULA_NOISE = (
    r"$D$ is the set of pairs (sequence $n$, output step $t$) whose target $y_{n,t}$ is "
    r"defined, over $N$ sequences of $T$ steps numbered $t = 0, \dots, T-1$ as in the plots; "
    r"$x + \varepsilon\, e_i$ adds noise to feature $i$ only, with "
    r"$\varepsilon_{n,t} \sim \mathcal{N}(0, \sigma^2)$ drawn afresh for every sequence and step."
)

FORMULA_RESPONSE = (
    r"r_{i,s,t} = \sqrt{\frac{1}{|D_t|}\sum_{n \in D_t}"
    r"\left(\hat y_{n,t}(x) - \hat y_{n,t}(x + \varepsilon\, e_{i,s})\right)^2}"
)
FORMULA_RESPONSE_NOTE = (
    r"$D_t$ holds the sequences whose target at output step $t$ is defined; where it is empty "
    r"the response is missing (grey in the response map), not zero."
)

COUNTED = """
**Only outputs with a defined target count.** Where the rule's lag or window reaches before
t = 0 (for `x1[t-2] > 0.5`, at output steps 0 and 1), y_t is undefined. The model was never
trained there, so its outputs at those steps are left out of every effect, in every method.
Counting them made input steps near the start look important when they were not. For an
uploaded model there is no rule, so every output counts.
"""


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


READ_BARS = """
**Per-feature bars.** One bar per feature: the RMS change of all predictions (those with a
defined target) when that feature is nudged at every step. Whiskers are ±1 standard deviation
over the repeats. Hatched orange bars are the features the rule really uses; a model that
learned the rule shows tall orange bars and near-zero grey ones.
"""

READ_HEATMAP = """
**Heatmap (feature × input step).** Each cell nudges one feature at one input step and
measures how much *all* predictions with a defined target move. ★ marks features the rule
uses. Late steps can only affect the few outputs after them, and a lagged rule fades out over
its last steps.
"""

READ_RESPONSE = """
**Response map (input step × output step).** Nudge the chosen feature at input step s (rows)
and see which output steps t (columns) move. A causal network cannot react before the nudge,
so everything below the diagonal stays at zero: the *causal triangle*. A rule that reads the
feature k steps back lights up the line t = s + k (dashed). Grey columns are output steps
with no defined target (the rule reaches before t = 0 there); they count nowhere.
"""

READ_LAG = """
**Effect against lag.** The response map averaged along its diagonals: how much output t
moves when the feature is nudged k = t − s steps earlier. Circles mark the (feature, lag) pairs
the rule reads; a lagged rule peaks at its lag, not at 0. Negative lags (a later input moving
an earlier output) appear only for a model that reads ahead, e.g. a bidirectional LSTM; for a
causal network they are exactly zero and are not drawn.
"""

# The same notes for an uploaded model: no rule, so no marks of what should matter.
READ_HEATMAP_UPLOAD = """
**Heatmap (feature × input step).** Each cell nudges one feature at one input step and
measures how much *all* predictions move. Bright cells are the features and steps your model
relies on. Late steps can only affect the few outputs after them.
"""

READ_RESPONSE_UPLOAD = """
**Response map (input step × output step).** Nudge the chosen feature at input step s (rows)
and see which output steps t (columns) move. A causal network cannot react before the nudge,
so everything below the diagonal stays at zero: the *causal triangle*. A model that reads the
feature k steps back lights up the line t = s + k.
"""

READ_LAG_UPLOAD = """
**Effect against lag.** The response map averaged along its diagonals: how much output t
moves when the feature is nudged k = t − s steps earlier. A peak at lag k means the model
reads the feature k steps back. Negative lags (a later input moving an earlier output) appear
only for a model that reads ahead, e.g. a bidirectional LSTM; for a causal network they are
exactly zero and are not drawn.
"""

CAVEATS = """
- **σ is in the feature's units.** Here every feature is uniform on [0, 1), so σ = 0.2 is a
  large nudge (about two thirds of a feature's standard deviation). With real data, put
  features on a common scale (or pick σ per feature's spread) before comparing effects.
- **Noise leaves the data distribution.** x + noise can fall outside [0, 1), where the model
  never saw data; a big σ measures extrapolation as much as reliance.
- **Correlated features share credit.** Nudging one of two correlated features creates
  combinations that never occur, and a model can use either: a low effect does not prove a
  feature is irrelevant in the world.
- **It explains the model, not the world.** If the model did not learn the rule (see the
  verdict), its effects describe a guess, not the rule.
"""

SIGMA_HELP = (
    "Standard deviation of the Gaussian noise added to one feature. Features are uniform on "
    "[0, 1); the thread used 0.2. Changing it only re-scores the trained model."
)
REPEATS_HELP = "Independent noise draws; the error bars are the spread over these repeats."
SAMPLE_HELP = "How many fresh sequences (from the score split) are perturbed and predicted."


def heatmap_vs_bars(result) -> str:
    """Why the heatmap's cells are smaller than the bars, with the numbers of ``result`` (a
    PerturbationResult with per-step effects): its feature with the largest bar as example."""
    import numpy as np

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


# --------------------------------------------------------------------------- interactions

INTERACTIONS_HEADING = "Do features combine?"
READ_INTERACTIONS = r"""
A bar says *that* a feature matters, not *how*: $y = x_1 + x_2$ and $y = x_1 \cdot x_2$ give
both features tall bars. The difference shows when **both are nudged at once**, with the very
noise each got alone: for a sum the joint change is exactly the two single changes added up,
for a product it has an extra cross term $\varepsilon_1 \varepsilon_2$. Each cell is the RMS
(over sequences and counted outputs) of

$\Delta_{ij} - \Delta_i - \Delta_j$ = joint change − change from $i$ alone − change from $j$ alone.

Zero means the model uses the two features separately; a large value means it combines them.
★ marks the pairs the rule combines: every pair of features a rule reads meets at least at its
final threshold (a threshold is not additive), some already before it (as in a product).
"""
INTERACTION_FLAT_SHARE = 0.01  # strongest pair below 1% of the largest single effect: "none"


def interaction_reading(result, rule_pairs: dict[tuple[int, int], str] | None = None) -> str:
    """One or two sentences from the numbers of ``result`` (an InteractionResult): the
    strongest pair and its strength against the single-feature effects, and whether and where
    the rule combines that pair (``rule_pairs`` from ``rnnviz.truth.interacting_pairs``; None
    when there is no rule)."""
    names = result.feature_names
    i, j, value = result.strongest()
    singles = result.single_mean
    top_single = float(max(singles.max(), 0.0))
    if value <= INTERACTION_FLAT_SHARE * top_single or value == 0.0:
        return (
            f"**No pair combines noticeably:** the largest interaction ({names[i]} with "
            f"{names[j]}) is {value:.4f}, against single-feature effects up to {top_single:.4f}: "
            "nudging two features at once moves the predictions as the two nudges add up."
        )
    std = float(result.importances_std[i, j])
    smaller = float(min(singles[i], singles[j]))
    share = f" ({value / smaller:.0%} of the smaller one)" if smaller > 0 else ""
    text = (
        f"**Strongest pair: {names[i]} and {names[j]}.** Nudged together they move the "
        f"predictions by {value:.4f} ± {std:.4f} (RMS) beyond the sum of their single nudges, "
        f"against {singles[i]:.4f} for {names[i]} alone and {singles[j]:.4f} for {names[j]} "
        f"alone{share}."
    )
    if rule_pairs is None:
        return text
    where = rule_pairs.get((i, j))
    if where is None:
        return text + " The rule does not combine these two: this combination is the model's own."
    return text + f" The rule combines them in {md_code(where)}."


# --------------------------------------------------------------------------- training replay

REPLAY_HEADING = "Watch reliance emerge while the network trains"
READ_REPLAY = """
During the training the network was scored again and again: at evenly spaced optimiser
steps, a small perturbation scoring (one noise draw, the same at every step, on up to 100
held-out sequences) measured each feature's effect and its lag profile. Slide through the
steps, or press replay: the moment the rule's features rise above the others, and the moment
a lag peak forms, is the moment the network learned to use them. The dashed line is the loss
on those sequences.
"""
NO_SNAPSHOTS = (
    "This model was trained before rnnviz kept snapshots of its training, so there is nothing "
    "to replay. Train it again (e.g. with another seed) to watch reliance emerge."
)
HALF_WAY = 0.5  # a feature "rose" at the first snapshot reaching this share of its final effect


def replay_reading(snapshots, truth_features=None) -> str:
    """When each feature reached half its final effect, and which stayed flat, from the
    numbers of ``snapshots`` (``rnnviz.snapshots.Snapshot``, in step order)."""
    import numpy as np

    effects = np.stack([s.effects for s in snapshots])  # (K, F)
    steps = [s.step for s in snapshots]
    final = effects[-1]
    top = float(final.max()) if final.size else 0.0
    names = [f"x{i + 1}" for i in range(effects.shape[1])]
    risen, flat = [], []
    for f, name in enumerate(names):
        if final[f] <= 0.1 * top or final[f] == 0.0:
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
        parts.append(f"Stayed below a tenth of the largest effect: {', '.join(flat)}.")
    if truth_features is not None:
        used = ", ".join(names[f] for f in sorted(truth_features) if f < len(names))
        parts.append(f"The rule reads {used}.")
    return " ".join(parts)
