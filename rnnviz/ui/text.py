"""Short teaching texts, shared by the Learn and Compare pages and the "how to read" notes beside
the plots, and the helpers that put user text (rules, file names, error messages) into Markdown
literally. Sentences made from a result's numbers are in :mod:`rnnviz.report.readings`."""

from __future__ import annotations

import re
import string

from rnnviz.attr.comparison import TIE_FLOOR
from rnnviz.config import CELL_NAMES as CORE_CELL_NAMES

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
EFFECT_ON_LABEL = "Effect on"
EFFECT_ON_HELP = (
    "What a nudge is measured on. Probability: the change of the model's output. Log-odds: "
    "the change of log(p / (1 − p)). A sure model's probabilities sit next to 0 or 1, where "
    "the sigmoid is flat and a nudge barely moves them: its effects on the probability can "
    "rank rounding noise, its effects on the log-odds do not. Changing it only re-scores."
)
EFFECT_ON_NAMES = {"probability": "probability", "log-odds": "log-odds"}
TO_LOG_ODDS = "Measure effects on the log-odds"


# --------------------------------------------------------------------------- Setup page

SETUP_CAPTION = (
    "Does a recurrent network find the inputs its target depends on? Train a small one on a "
    "synthetic rule, where we know the answer, or on real weather, where nobody does; then open "
    "the effects pages to see what it relies on."
)
# A lesson whose experiment is beyond the bounds in force (the planted boxes in hosted mode).
LESSON_BEYOND_BOUNDS = (
    "This lesson's experiment (50 steps × 50 features, 1,000 training sequences) is larger "
    "than this demo can run for a class. Run rnnviz on your own machine to open it "
    '(`pip install ".[app]"` in a checkout of rnnviz, then `rnnviz app`).'
)

LESSONS_POINTER = (
    "New here? Start with the guided lessons: guess first, then see what the network does"
)


# --------------------------------------------------------------------------- Compare methods page

INTRO = (
    "The Cross Validated thread lists the MLP methods (connection weights, Garson's algorithm, "
    "partial derivatives, input perturbation, sensitivity analysis, backward stepwise "
    "elimination) and asks which of them work for an LSTM. Here they all run on the same "
    "trained network, side by side."
)
# Said only where a rule gives the truth (a synthetic experiment; a real series has none).
INTRO_RULE = "Because we wrote the rule, each method is scored against the truth."

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

READ_GROUP = """
**Groups of cells.** Every other map edits one cell at a time. Where the evidence is spread
over many cells that say the same thing, or the model is sure of its answer, removing one cell
changes nothing and the one-cell maps point anywhere. Here a whole window of steps (every
feature), block of features (every step) or tile of both is occluded or nudged at once, and
every cell of the group shows the group's effect. Change the scale under *Method settings*: a
group as large as the evidence lights up where one cell does not. The price is resolution: the
cells of one group cannot be told apart.
"""

READ_ISS1 = """
**Improved stepwise selection 1** (Gevrey, Dimopoulos & Lek 2003). Unlike backward stepwise
elimination, nothing is retrained: each input in turn is fixed at its mean and the rise of the
model's loss is its importance. It is ablation with the mean as the baseline, scored by the
loss instead of the RMS change of the predictions. The dotted line is the loss with every input.
"""

READ_ISS2 = """
**Improved stepwise selection 2** (Gevrey, Dimopoulos & Lek 2003). Inputs are fixed at their
means one after another, each time the one whose fixing raises the loss least, and they rank by
when they went (the last one matters most). The bars are a deletion curve in the model's own
order: the loss after each removal, least important first, with nothing retrained.
"""

# The note beside each method's own figure on the Compare page (see MethodSpec.figure).
FIGURE_NOTES = {
    "lek": READ_LEK,
    "sigma_sweep": READ_SWEEP,
    "group": READ_GROUP,
    "iss1": READ_ISS1,
    "iss2": READ_ISS2,
}


# --------------------------------------------------------------------------- cells and correlation

# The cells' names as labels (capitalised): the core's names (rnnviz.config.CELL_NAMES).
CELL_NAMES = {cell: name[:1].upper() + name[1:] for cell, name in CORE_CELL_NAMES.items()}

CELL_HELP = (
    "The recurrent layers. LSTM (the thread's) and GRU keep memory in gates; a simple RNN has "
    "none, so what it saw many steps ago fades. A bidirectional LSTM reads each sequence forwards "
    "and backwards, so its output at step t also sees the inputs after t."
)

BIDIRECTIONAL = """
**A bidirectional model reads ahead.** Each layer runs one LSTM forwards and another backwards
over the sequence and joins their outputs, so the output at step t depends on every input,
also the later ones: a nudge at input step s moves the outputs *before* s through the backward
direction. The response map therefore fills on both sides of the diagonal (no causal
triangle), and the lag profile has negative lags (t − s < 0: a later input moving an earlier
output). The rule never reads ahead, so a model that learned it should still put its largest
effects at the rule's own lags; what shows at negative lags is what the backward direction
picked up anyway.
"""

CORRELATED_HELP = (
    "Make pairs of features correlated, e.g. x1~x4:0.95 (Spearman rank correlation 0.95; "
    "several pairs comma-separated, each feature in one pair at most). Each feature stays "
    "uniform on [0, 1). Leave empty for independent features."
)


# --------------------------------------------------------------------------- interactions

INTERACTIONS_HEADING = "Do features combine?"
READ_INTERACTIONS = r"""
A bar says *that* a feature matters, not *how*: $y = x_1 + x_2$ and $y = x_1 \cdot x_2$ give
both features tall bars. The difference shows when **both are nudged at once**, with the very
noise each got alone: for a sum the joint change is exactly the two single changes added up,
for a product it has an extra cross term $\varepsilon_1 \varepsilon_2$. Each cell is the RMS
(over sequences and counted outputs) of

$\Delta_{ij} - \Delta_i - \Delta_j$ = joint change − change from $i$ alone − change from $j$ alone,

taken sequence by sequence *before* the RMS. It is not the RMS of the joint change minus the
two bars: RMS values do not add up (two changes can partly cancel), so the bars cannot be
subtracted from each other.

Zero means the model uses the two features separately. A trained network is never exactly
zero, so a cell counts only when it stands clear of the **noise floor**: what pairs with an
unused feature show on the same model (with a rule, the features it has no use for; the reading
says which). The colours run up to the largest
single-feature effect, so a cell glows only when the pair's interaction is comparable to what
one feature does alone.
"""
READ_INTERACTIONS_RULE = """
★ marks the pairs the rule combines: every pair of features a rule reads meets at least at its
final threshold (a threshold is not additive), some already before it (as in a product).
"""


# --------------------------------------------------------------------------- training replay

REPLAY_HEADING = "Watch reliance emerge while the network trains"
READ_REPLAY = """
During the training the network was scored again and again: at evenly spaced optimiser
steps, a small perturbation scoring (one noise draw, the same at every step, on a few dozen
held-out sequences: the subtitle says how many) measured each feature's effect and its lag
profile. Slide through the steps, or press ▶: the moment the rule's features rise above the
others, and the moment a lag peak forms, is the moment the network learned to use them. The
dashed line is the loss on those sequences.
"""
REPLAY_VS_FULL = """
**The last frame is the final model, scored quickly.** Its weights are the trained ones, but
each sequence is nudged at one step only, so a value at one lag rests on one draw per sequence
and can sit a few hundredths away from the full scoring of the Per-timestep page (its scoring
sample, every step nudged, with repeats). The hollow circles ○ mark the full scoring: trust
their numbers, and read the replay for *when* each feature started to matter. If σ was changed
after the training, the snapshots keep the σ of the training: the subtitle gives both.
"""
NO_SNAPSHOTS = (
    "This model was trained before rnnviz kept snapshots of its training, so there is nothing "
    "to replay. Train it again (e.g. with another seed) to watch reliance emerge."
)


# --------------------------------------------------------------------------- real series

DATASET_NAMES = {
    "synthetic": "Synthetic rule",
    "seattle-weather": "Seattle weather (real data)",
    "box-middle": "Planted box: Middle",
    "box-raretime": "Planted box: RareTime",
    "box-rarefeature": "Planted box: RareFeature",
}
# Planted evidence (rnnviz.data.boxes), on the setup page.
PLANTED_HELP = (
    "The benchmark of Ismail et al. (2020): each sequence is 50 steps of 50 features of "
    "N(0, 1) noise with one label, and the label is planted in a fixed box of cells, shifted "
    "by +1 for label 1 and −1 for label 0. Nothing outside the box carries it, so the box is "
    "the ground truth of every (feature, step) map. One answer per sequence: only the last "
    "output counts."
)
OUTCOME_NAMES = {"rain": "Rain tomorrow", "temp_max": "Tomorrow's max temperature (°C)"}
SERIES_FEATURES = {
    4: "The 4 measurements",
    6: "The 4 measurements and the day of year (sin, cos)",
}
SERIES_HELP = (
    "Daily weather in Seattle, 2012–2015 (precipitation, max and min temperature, wind), from "
    "the vega_datasets package (shipped with rnnviz's dependencies, nothing is downloaded). "
    "Windows of the last days predict tomorrow; the model trains on 2012–2013, stops early on "
    "2014 and is scored on 2015."
)
SERIES_NO_TRUTH = (
    "No ground truth: nobody knows which inputs tomorrow's weather really depends on, so "
    "nothing marks the inputs that should matter. The plots show what this model relies on."
)
READ_BARS_SERIES = """
**Per-feature bars.** One bar per measurement: the RMS change of all forecasts when that
measurement is nudged on every day of the window. Whiskers are ±1 standard deviation over the
repeats. Tall bars are what the model relies on; there is no ground truth to compare with.
"""
READ_HEATMAP_SERIES = """
**Heatmap (measurement × days back).** Every day of a window has its own forecast (of the next
day). Each cell nudges one measurement k days before a forecast's day and measures how much that
forecast moves, on average over the window: k = 0 is today, the last day the forecast sees.
Bright cells are the measurements and days the model relies on, the same numbers as the lag
profile beside it and the reading above. (Per position in the window the oldest days would
look brightest only because every later forecast follows them.)
"""
READ_LAG_SERIES = READ_LAG_UPLOAD + (
    "Here a lag is a number of days: lag 0 is today's measurement for tomorrow's forecast.\n"
)

READ_CURVES = """
**Deletion and insertion.** No ground truth is needed to ask whether a method's order is the
model's: replace its most important cells by their feature's mean (as ablation does), a few at a
time, and measure the model again. If the order is right, the accuracy (R² for a number) falls
at once and then stays low (*deletion*), and putting the cells back in that order into an
all-mean sample brings it back at once (*insertion*). Grey is the same done in random orders.
A method's score is the area between its curve and random's: above 0 = more faithful than
chance. It scores the order, not the size of the scores, and only the cells the method ranks
(a method without a per-step map is followed feature by feature). Replacing cells makes inputs
the model never saw, so a drop can also mean "surprised", not "relied on" (Petsiuk et al.
2018; Schlegel et al. 2019).
"""


# --------------------------------------------------------------------------- one sequence

SEQUENCE_CAPTION = (
    "Why did the model predict *this*? For one sequence and one output step, the signed effect "
    "of each input cell: red pushed the output up, blue pulled it down. The other pages average "
    "over sequences; here the evidence shows where it sits in this sequence."
)
READ_SEQUENCE = (
    "**Reading the figure.** Each feature is a line over the input steps; behind it, each "
    "step's colour is that cell's signed effect on the explained output (the dotted line). "
    "A causal model's later inputs have no effect on it. The last panel is the model's output "
    "over time, the target as squares. Perturbation's numbers are the output's change per σ of "
    "noise (a local slope, ± its spread over draws); occlusion's are the output minus the "
    "output with the cell set to the feature's mean."
)

SEEDS_NOTE = (
    "From the sweep run for this class (`rnnviz sweep`): the same task, cell, size and training "
    "recipe as this experiment, one model per seed. *Truth first*: in how many seeds every feature "
    "the rule reads scored above every other (feature AUC 1.00). Medians over seeds, lowest to "
    "highest in brackets; deletion is the area between random orders' curve and the method's "
    "(higher = more faithful)."
)
