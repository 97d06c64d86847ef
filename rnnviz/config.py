"""One frozen, validated configuration for an rnnviz experiment.

A :class:`Config` holds every knob (data, target rule, model, training, scoring). It is
hashable, so the app uses it as a cache key, and round-trips through a plain dict/JSON so it
can live in a shareable URL. Every value is checked against :class:`Bounds` when the object
is made: an invalid Config cannot exist. Hosted deployments validate again with tighter bounds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
HEADS = ("dense", "lstm")
# Recurrent cells of the stacked layers: "bilstm" is an LSTM per direction (Keras
# Bidirectional), so later inputs reach earlier outputs through the backward direction.
CELLS = ("lstm", "gru", "simple_rnn", "bilstm")
# Each cell's name in a sentence ("The GRU learned the rule"); see describe_model.
CELL_NAMES = {
    "lstm": "LSTM",
    "gru": "GRU",
    "simple_rnn": "simple RNN",
    "bilstm": "bidirectional LSTM",
}
HEAD_NAMES = {"dense": "dense head", "lstm": "1-unit LSTM head"}

# What a real series predicts (``outcome``) and the task it makes: classification (sigmoid head,
# cross-entropy) or regression (linear head, mean squared error). Rule-made data predicts the
# rule's 0/1 label: its outcome stays at the default, "rain", a classification.
OUTCOMES = {"rain": "classification", "temp_max": "regression"}
# The Seattle series: features are the 4 measurements, or 6 with the day of year as sin/cos; a
# window (seq_len, in days) short enough that every split keeps hundreds of windows.
REAL_FEATURES = (4, 6)
REAL_WINDOW = (7, 90)
# The sizes a real series takes from its splits, not from the config: each split's windows.
SERIES_COUNTS = {"n_train": "train", "n_val": "val", "n_score": "score"}
# What the output-based methods measure the change of (rnnviz.attr.saturation): the
# probability, or its log-odds, where a sure classifier's changes are not flattened to rounding.
# A regression's outputs are numbers: the knob does not apply there (kept at the first).
EFFECTS_ON = ("probability", "log-odds")


@dataclass(frozen=True, eq=False)
class DataKind:
    """What the foundation knows of one family of data (a value of ``Config.dataset``): enough
    to check and key the knobs without importing the data room, which builds the data
    (``rnnviz.data.source.source_of``). A new family is one entry in :data:`DATA_KINDS` here and
    one class there.

    ``rule_made``: sequences drawn from the seed and labelled by ``Config.rule`` (the rule knob
    applies). ``outcomes``: what it predicts (:data:`OUTCOMES` gives each one's task).
    ``splits``: a recorded series' inclusive date ranges per split; it trains on, validates on
    and scores every window of them, so n_train, n_val and n_score are counted, not knobs.
    ``n_features`` / ``window``: the feature counts and window lengths it allows (None: the
    bounds), ``n_features_text`` says what they are. ``standardised``: its features are
    standardised already (input scaling must be off). ``presets``: the preset a config of this
    data starts from, per outcome. ``step``: what one time step is, in words.
    """

    name: str
    rule_made: bool = False
    outcomes: tuple[str, ...] = ("rain",)
    splits: Mapping[str, tuple[str, str]] | None = None
    n_features: tuple[int, ...] | None = None
    n_features_text: str = ""
    window: tuple[int, int] | None = None
    standardised: bool = False
    presets: Mapping[str, str] = dataclasses.field(default_factory=dict)
    step: str = "step"

    @property
    def real(self) -> bool:
        """A recorded series: no rule, no ground truth, fixed time-ordered splits."""
        return self.splits is not None

    @property
    def counted(self) -> frozenset[str]:
        """The size knobs counted from the data's splits (not knobs there)."""
        return frozenset(SERIES_COUNTS) if self.real else frozenset()

    @property
    def ignores(self) -> frozenset[str]:
        """Knobs this data does not read: the rule without one, the training and validation
        sizes where its splits fix them."""
        return frozenset(() if self.rule_made else ("rule",)) | (self.counted - {"n_score"})

    @property
    def scoring_knobs(self) -> tuple[str, ...]:
        """The knobs that change a trained model's scores: σ, repeats and the sequences
        scored, unless the data scores every window of its scored split (not a knob then)."""
        return ("sigma", "n_repeats") + (() if "n_score" in self.counted else ("n_score",))

    def outcome_allowed(self) -> str:
        """The outcomes this data predicts, for the error message."""
        if self.rule_made:
            return f"{', '.join(self.outcomes)} (the {self.name} data is labelled by its rule)"
        return f"one of {', '.join(self.outcomes)}"

    def years(self, split: str) -> str:
        """The years of a recorded series' ``split`` ("2012-2013"); "" without date splits."""
        if self.splits is None:
            return ""
        return "-".join(sorted({d[:4] for d in self.splits[split]}))


# The planted-evidence boxes (rnnviz.data.boxes has their cells) and their (steps, features).
BOX_NAMES = ("middle", "raretime", "rarefeature")
BOX_SHAPE = (50, 50)

# Where the sequences come from: seeded synthetic data labelled by ``rule``, a real series
# built in (rnnviz.data.datasets), or planted evidence (rnnviz.data.boxes).
DATA_KINDS: dict[str, DataKind] = {
    "synthetic": DataKind("synthetic", rule_made=True),
    "seattle-weather": DataKind(
        "seattle-weather",
        outcomes=tuple(OUTCOMES),
        # time-ordered splits (inclusive dates): earlier years train, later ones judge
        splits={
            "train": ("2012-01-01", "2013-12-31"),
            "val": ("2014-01-01", "2014-12-31"),
            "score": ("2015-01-01", "2015-12-31"),
        },
        n_features=REAL_FEATURES,
        n_features_text=f"{REAL_FEATURES[0]} (the measurements) or {REAL_FEATURES[1]} (and the "
        "day of year as sin/cos)",
        window=REAL_WINDOW,
        standardised=True,
        presets={"rain": "seattle-weather", "temp_max": "seattle-temp"},
        step="day",
    ),
    # Planted evidence (rnnviz.data.boxes): the benchmark's N(0, 1) sequences of 50 steps and
    # 50 features with the label's evidence in one fixed box; one label per sequence. Its 50
    # features pass the general cap of 20 (Bounds.family_features allows it; hosted mode not).
    **{
        f"box-{box}": DataKind(
            f"box-{box}",
            n_features=(BOX_SHAPE[1],),
            n_features_text=f"{BOX_SHAPE[1]} (the benchmark's features)",
            window=(BOX_SHAPE[0], BOX_SHAPE[0]),
            standardised=True,
            presets={"rain": f"box-{box}"},
        )
        for box in BOX_NAMES
    },
}
DATASETS = tuple(DATA_KINDS)
# The recorded series (a --dataset or a data choice of these starts from its preset).
REAL_SERIES = tuple(name for name, kind in DATA_KINDS.items() if kind.real)
# The real series' time-ordered splits, by name (rnnviz.data.datasets reads its own).
SERIES_SPLITS = {name: kind.splits for name, kind in DATA_KINDS.items() if kind.splits}


def kind_of(dataset: Any) -> DataKind | None:
    """The :class:`DataKind` of ``dataset`` (a ``Config.dataset`` value); None for an unknown one
    (validation then names the datasets there are)."""
    return DATA_KINDS.get(dataset) if isinstance(dataset, str) else None


# Bumped whenever the training code makes different weights from the same config, so that cache
# entries written by older code are never served as this code's result. 2: every initialiser and
# each epoch's shuffle seeded from config.seed (no process-wide random state).
TRAINING_VERSION = 2

# Knobs that change the trained model; the rest (sigma, n_repeats, n_score) only change scoring.
SCORING_KNOBS = frozenset({"sigma", "n_repeats", "n_score", "effect_on"})
# Scoring knobs added after scores were kept: at these values they stay out of scoring_key, so
# the scores kept for older configs (and their links) are still found.
LATER_SCORING_KNOBS: dict[str, Any] = {"effect_on": "probability"}

# Knobs added after models were cached: at these values a config trains exactly as before they
# existed, so they stay out of training_key (and training_id) there and cached entries of older
# configs are still found. Any other value is in the key: another model, another entry.
LATER_KNOBS: dict[str, Any] = {
    "cell": "lstm",
    "correlated": (),
    "dataset": "synthetic",
    "outcome": "rain",
}


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother = 3, 80, 80
    short.maxlist = short.maxtuple = short.maxdict = 10
    return short


_SHORT = _short_repr()


def _short(value: Any) -> str:
    """``repr(value)`` cut short: untrusted values (a file's, a link's) may be nested or long."""
    return _SHORT.repr(value)


class ConfigError(ValueError):
    """A knob is out of bounds or malformed; the message names the knob and what is allowed."""

    def __init__(self, knob: str, value: Any, allowed: str) -> None:
        self.knob = knob
        self.value = value
        self.allowed = allowed
        super().__init__(f"{knob} = {_short(value)} is not allowed: {allowed}")


@dataclass(frozen=True)
class Bounds:
    """Inclusive limits on the knobs; a hosted demo uses tighter ones."""

    seq_len: tuple[int, int] = (2, 200)
    n_features: tuple[int, int] = (1, 20)
    sigma: tuple[float, float] = (0.0, 5.0)  # lower bound exclusive
    n_repeats: tuple[int, int] = (1, 50)
    n_train: tuple[int, int] = (50, 20000)
    n_val: tuple[int, int] = (50, 5000)
    n_score: tuple[int, int] = (10, 2000)
    layers: tuple[int, int] = (1, 3)
    units: tuple[int, int] = (1, 64)
    epochs: tuple[int, int] = (1, 100)
    batch_size: tuple[int, int] = (1, 1024)
    learning_rate: tuple[float, float] = (1e-5, 1.0)
    patience: tuple[int, int] = (0, 20)
    seed: tuple[int, int] = (0, 2**31 - 1)
    # Largest training array (sequences x steps x features) and training work
    # (epochs x sequences x steps): keeps memory and time of one training bounded.
    max_train_values: int = 20_000_000
    max_train_work: int = 50_000_000
    # Optimiser steps (epochs x batches) bound training time; input numbers pushed through the
    # model by one scoring (repeats x sequences x copies x steps x features) bound scoring time.
    max_train_steps: int = 500_000
    max_score_values: int = 1_000_000_000
    # A family of data whose DataKind names larger feature counts (the benchmark's boxes: 50)
    # may pass n_features' upper bound, up to this many.
    family_features: int = 64


DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True)
class Config:
    """Every knob of one experiment. Defaults: the reference task with a fast recipe that learns."""

    # data and target
    seq_len: int = 10
    n_features: int = 3
    rule: str = "reference"
    n_train: int = 3000
    n_val: int = 1000
    # (a, b, rho): features xa and xb (1-based, as rules name them) get Spearman correlation rho;
    # each stays uniform on [0, 1) (Gaussian copula, see rnnviz.data.split). A feature in one pair
    # only.
    correlated: tuple[tuple[int, int, float], ...] = ()
    # a real series instead (rule, n_train and n_val then unused; see rnnviz.data.datasets)
    dataset: str = "synthetic"
    outcome: str = "rain"
    # model: stacked recurrent layers of one cell type (CELLS), then a per-step head: sigmoid
    # (Dense or a 1-unit LSTM), or linear for a regression outcome
    cell: str = "lstm"  # one of CELLS
    units: tuple[int, ...] = (10, 5)
    activations: tuple[str, ...] = ("tanh", "tanh")
    head: str = "dense"
    input_scaling: bool = True  # map [0, 1) to [-1, 1) inside the model
    # training
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 0.03
    patience: int = 2  # early stopping on validation loss; 0 = off
    seed: int = 0
    # scoring
    sigma: float = 0.2
    n_repeats: int = 5
    n_score: int = 250
    # what the output-based methods measure: one of EFFECTS_ON (a regression: "probability",
    # its raw output, whatever was given: see not_applied)
    effect_on: str = "probability"

    def __post_init__(self) -> None:
        # A real series trains on, validates on and scores every window of its splits: those
        # counts replace whatever n_train, n_val and n_score were given (they are not knobs
        # there), so the bounds below count what really runs.
        windows = series_windows(self.dataset, self.seq_len)
        for knob, count in (windows or {}).items():
            object.__setattr__(self, knob, count)
        if OUTCOMES.get(self.outcome) == "regression" and self.effect_on in EFFECTS_ON:
            object.__setattr__(self, "effect_on", EFFECTS_ON[0])  # no log-odds of a number
        self.validate(DEFAULT_BOUNDS)
        # One order for equal pair lists (a < b, pairs sorted, rho a float): one cache key.
        pairs = tuple(sorted((min(a, b), max(a, b), float(r)) for a, b, r in self.correlated))
        object.__setattr__(self, "correlated", pairs)

    def validate(self, bounds: Bounds = DEFAULT_BOUNDS) -> Config:
        """Raise ConfigError naming the first knob outside ``bounds``; return self if all fit."""
        for name in ("seq_len", "n_train", "n_val", "n_score", "n_repeats"):
            _check_int(name, getattr(self, name), getattr(bounds, name))
        _check_int("n_features", self.n_features, _feature_bounds(self.dataset, bounds))
        for name in ("epochs", "batch_size", "patience", "seed"):
            _check_int(name, getattr(self, name), getattr(bounds, name))
        lo, hi = bounds.sigma
        if not (_is_number(self.sigma) and lo < self.sigma <= hi):
            raise ConfigError("sigma", self.sigma, f"a number > {lo:g} and <= {hi:g}")
        lo, hi = bounds.learning_rate
        if not (_is_number(self.learning_rate) and lo <= self.learning_rate <= hi):
            raise ConfigError("learning_rate", self.learning_rate, f"a number in [{lo:g}, {hi:g}]")
        lo, hi = bounds.layers
        if not isinstance(self.units, tuple) or not lo <= len(self.units) <= hi:
            raise ConfigError("units", self.units, f"{lo} to {hi} LSTM layer sizes")
        for u in self.units:
            _check_int("units", u, bounds.units)
        if not isinstance(self.activations, tuple) or len(self.activations) != len(self.units):
            raise ConfigError(
                "activations", self.activations, f"one activation per layer ({len(self.units)})"
            )
        for a in self.activations:
            if a not in ACTIVATIONS:
                raise ConfigError("activations", a, f"one of {', '.join(ACTIVATIONS)}")
        if not isinstance(self.cell, str) or self.cell not in CELLS:
            raise ConfigError("cell", self.cell, f"one of {', '.join(CELLS)}")
        _check_correlated(self.correlated, self.n_features)
        if self.head not in HEADS:
            raise ConfigError("head", self.head, f"one of {', '.join(HEADS)}")
        if not isinstance(self.input_scaling, bool):
            raise ConfigError("input_scaling", self.input_scaling, "true or false")
        values = self.n_train * self.seq_len * self.n_features
        if values > bounds.max_train_values:
            raise ConfigError(
                "n_train",
                self.n_train,
                f"n_train x seq_len x n_features must be <= {bounds.max_train_values:,} "
                f"(now {values:,}); use fewer sequences, steps or features",
            )
        work = self.epochs * self.n_train * self.seq_len
        if work > bounds.max_train_work:
            raise ConfigError(
                "epochs",
                self.epochs,
                f"epochs x n_train x seq_len must be <= {bounds.max_train_work:,} "
                f"(now {work:,}); use fewer epochs, sequences or steps",
            )
        steps = self.epochs * -(-self.n_train // self.batch_size)
        if steps > bounds.max_train_steps:
            raise ConfigError(
                "batch_size",
                self.batch_size,
                f"epochs x batches per epoch must be <= {bounds.max_train_steps:,} "
                f"(now {steps:,}); use a larger batch, fewer epochs or fewer sequences",
            )
        score = self.score_values()
        fixed = kind_of(self.dataset)
        if score > bounds.max_score_values and fixed is not None and "n_score" in fixed.counted:
            raise ConfigError(
                "n_repeats",
                self.n_repeats,
                f"a real series scores every window of its scored year ({self.n_score} windows "
                f"of {self.seq_len} days, {self.n_features} features): {self.n_repeats} "
                f"repeat(s) would push {score:,} numbers through the model (limit "
                f"{bounds.max_score_values:,}); use fewer repeats, a shorter window or fewer "
                "features",
            )
        if score > bounds.max_score_values:
            raise ConfigError(
                "n_score",
                self.n_score,
                f"scoring would push {score:,} numbers through the model (limit "
                f"{bounds.max_score_values:,}); use fewer repeats, sequences, steps or features",
            )
        self._validate_dataset()
        if not isinstance(self.effect_on, str) or self.effect_on not in EFFECTS_ON:
            raise ConfigError("effect_on", self.effect_on, f"one of {', '.join(EFFECTS_ON)}")
        if not isinstance(self.rule, str):
            raise ConfigError("rule", self.rule, "a preset name or an expression")
        self.target()  # raises RuleError (a ValueError) pointing at the bad part
        return self

    def _validate_dataset(self) -> None:
        kind = kind_of(self.dataset)
        if kind is None:
            raise ConfigError("dataset", self.dataset, f"one of {', '.join(DATASETS)}")
        if self.outcome not in OUTCOMES:
            raise ConfigError("outcome", self.outcome, f"one of {', '.join(OUTCOMES)}")
        if self.outcome not in kind.outcomes:
            raise ConfigError("outcome", self.outcome, kind.outcome_allowed())
        if kind.n_features is not None and self.n_features not in kind.n_features:
            raise ConfigError(
                "n_features",
                self.n_features,
                f"{kind.n_features_text} for dataset {self.dataset}",
            )
        if kind.window is not None and not kind.window[0] <= self.seq_len <= kind.window[1]:
            lo, hi = kind.window
            raise ConfigError(
                "seq_len",
                self.seq_len,
                f"a window of {lo} to {hi} {kind.step}s for dataset {self.dataset}",
            )
        if kind.standardised and self.input_scaling:
            raise ConfigError(
                "input_scaling",
                True,
                f"false for dataset {self.dataset}: its features are already standardised",
            )

    @property
    def data_kind(self) -> DataKind:
        """What family of data this config reads (:data:`DATA_KINDS`): which knobs apply, how
        its sizes are counted, what it can predict."""
        return DATA_KINDS[self.dataset]

    @property
    def task(self) -> str:
        """The task: "classification" (0/1 per step, sigmoid head, cross-entropy) or
        "regression" (a number per step, linear head, mean squared error)."""
        return OUTCOMES[self.outcome]

    def score_values(self) -> int:
        """Input numbers one full perturbation scoring pushes through the model."""
        copies = 1 + self.n_features * (1 + self.seq_len)
        return self.n_repeats * self.n_score * copies * self.seq_len * self.n_features

    def target(self):  # -> rules.Rule (imported lazily: rules does not depend on config)
        """The parsed target rule, checked against this config's features and length."""
        from rnnviz.rules import get_rule

        return get_rule(self.rule, n_features=self.n_features, seq_len=self.seq_len)

    def replace(self, **changes: Any) -> Config:
        """A validated copy with some knobs changed."""
        return dataclasses.replace(self, **changes)

    def training_key(self) -> tuple:
        """Hashable key of the knobs that affect training (scoring knobs excluded)."""
        ignores = self.data_kind.ignores
        return tuple(
            (f.name, getattr(self, f.name))
            for f in fields(self)
            if f.name not in SCORING_KNOBS
            and f.name not in ignores
            and not (f.name in LATER_KNOBS and getattr(self, f.name) == LATER_KNOBS[f.name])
        )

    def scoring_key(self) -> tuple:
        """The knobs that change a trained model's scores: σ, repeats and, for synthetic data,
        the sequences scored (a real series scores every window of its year: not a knob), and
        ``effect_on`` where it is not the probability (so keys kept before it still match)."""
        key = tuple((name, getattr(self, name)) for name in self.data_kind.scoring_knobs)
        later = tuple(
            (name, getattr(self, name))
            for name, default in LATER_SCORING_KNOBS.items()
            if getattr(self, name) != default
        )
        return key + later

    def training_id(self) -> str:
        """Short stable hex id of :meth:`training_key`, for cache file names."""
        import hashlib

        raw = json.dumps(
            [TRAINING_VERSION, self.training_key()],
            sort_keys=True,
            default=list,
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists; correlated pairs their text form)."""
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["correlated"] = format_correlated(self.correlated)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Config | None = None) -> Config:
        """Build from untrusted key/values (JSON or URL strings); missing keys come from ``base``.

        Unknown keys and uncoercible values raise ConfigError saying what to change.
        """
        base = base or cls()
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                name = key if len(str(key)) <= 40 else str(key)[:40] + "..."
                raise ConfigError(name, value, f"unknown setting; known: {', '.join(known)}")
            if key == "correlated":
                changes[key] = _coerce_correlated(value)
            else:
                changes[key] = _coerce(key, value, getattr(base, key))
        return dataclasses.replace(base, **changes)

    @classmethod
    def from_json(cls, text: str) -> Config:
        """Build from a JSON object of settings (:func:`parse_settings`, then from_dict)."""
        return cls.from_dict(parse_settings(text))


MAX_SETTINGS_DEPTH = 4  # {"correlated": [[1, 4, 0.95]]} is 3 deep: nothing needs more
_MAX_DIGITS = 100  # a whole number in a settings file; longer ones are refused, never parsed


class _LongNumber:
    """A number written with more digits than any setting takes (kept unparsed)."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a number of {self.digits} digits"

    __str__ = __repr__


def _too_deep(text: str) -> tuple[str, str] | None:
    """(the top-level key, the start of its value) where ``text`` nests lists or objects more
    than MAX_SETTINGS_DEPTH deep, else None: found by a scan, before any recursive parser."""
    depth, key, last, start, i = 0, "config", "", 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':  # skip a string (escapes included)
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            last, i = text[i + 1 : j], j + 1
            continue
        if c in "[{":
            depth += 1
            if depth == 2:
                start = i
            if depth > MAX_SETTINGS_DEPTH:
                return key, text[start : start + 12] + "..."
        elif c in "]}":
            depth -= 1
        elif c == ":" and depth == 1:
            key = last[:40]
        i += 1
    return None


def parse_settings(text: str) -> dict[str, Any]:
    """A JSON object of settings (a ``--config`` file, :meth:`Config.from_json`), read
    defensively: nesting deeper than any setting takes is refused and whole numbers of more
    than _MAX_DIGITS digits are kept unparsed, so every mistake becomes a ConfigError naming
    the setting (:meth:`Config.from_dict` then checks each value)."""
    deep = _too_deep(text)
    if deep is not None:
        key, start = deep
        raise ConfigError(
            key,
            start,
            f"nested more than {MAX_SETTINGS_DEPTH} levels deep; a setting is a number, a text "
            "or a short list",
        )

    def whole(digits: str) -> Any:
        n = len(digits.lstrip("-"))
        return int(digits) if n <= _MAX_DIGITS else _LongNumber(n)

    try:
        data = json.loads(text, parse_int=whole)
    except json.JSONDecodeError as exc:
        raise ConfigError("config", text[:40], f"valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError("config", data, "a JSON object of settings")
    return data


def describe_model(config: Config) -> str:
    """The model of ``config`` in words, its cell named, e.g. "GRU 10 → 5 (tanh, tanh), dense
    head": the one description the sidebar, the result titles, the verdicts' pages, the CLI and
    the uploads show, so a GRU is never called an LSTM."""
    layers = " → ".join(map(str, config.units))
    per = " per direction" if config.cell == "bilstm" else ""
    head = HEAD_NAMES.get(config.head, f"{config.head} head")
    return f"{CELL_NAMES[config.cell]} {layers}{per} ({', '.join(config.activations)}), {head}"


def describe_budget(config: Config) -> str:
    """The training budget in words: "3 epochs" ("1 epoch")."""
    return f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"


# How describe_changes names each knob that changes the trained model.
KNOB_NAMES = {
    "dataset": "data",
    "outcome": "outcome",
    "seq_len": "sequence length",
    "n_features": "features",
    "rule": "rule",
    "correlated": "correlated features",
    "n_train": "training sequences",
    "n_val": "validation sequences",
    "cell": "cell",
    "units": "layer sizes",
    "activations": "activations",
    "head": "head",
    "input_scaling": "input scaling",
    "epochs": "epochs",
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "patience": "early-stopping patience",
    "seed": "seed",
}


def _knob_text(config: Config, knob: str) -> str:
    value = getattr(config, knob)
    if knob == "cell":
        return CELL_NAMES[value]
    if knob == "rule" and config.data_kind.rule_made:
        try:
            return config.target().expression
        except ValueError:
            return value
    if knob == "correlated":
        return format_correlated(value) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_changes(old: Config, new: Config) -> str:
    """What differs between the models ``old`` and ``new`` would train, e.g. "training
    sequences 3,000 → 500; cell LSTM → GRU" ("" when they train the same model). Scoring knobs
    are left out: they do not change the model."""
    before, after = dict(old.training_key()), dict(new.training_key())
    knobs = [k for k in KNOB_NAMES if before.get(k) != after.get(k)]
    if old.data_kind is not new.data_kind:  # another source of data: its knobs do not compare
        knobs = ["dataset"]
    return "; ".join(f"{KNOB_NAMES[k]} {_knob_text(old, k)} → {_knob_text(new, k)}" for k in knobs)


def _feature_bounds(dataset: Any, bounds: Bounds) -> tuple[int, int]:
    """The n_features range for ``dataset``: the bounds', raised for a family of data whose
    DataKind names more features, up to ``bounds.family_features``."""
    lo, hi = bounds.n_features
    kind = kind_of(dataset)
    if kind is not None and kind.n_features:
        hi = max(hi, min(max(kind.n_features), bounds.family_features))
    return lo, hi


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_int(name: str, value: Any, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(name, value, f"a whole number from {lo} to {hi}")


_CORRELATED_FORM = "pairs like x1~x4:0.95 (features x1 and x4, Spearman rho 0.95), comma-separated"


def _check_correlated(pairs: Any, n_features: int) -> None:
    """ConfigError unless ``pairs`` is a tuple of (a, b, rho): distinct 1-based features in
    range, each in one pair at most (so the correlation matrix is valid), and |rho| < 1."""
    problem = _correlated_problem(pairs, n_features)
    if problem is not None:
        value, allowed, _ = problem
        raise ConfigError("correlated", value, allowed)


def _correlated_problem(pairs: Any, n_features: int) -> tuple[Any, str, str] | None:
    """The first thing wrong with correlated ``pairs`` as (value, allowed, what to change in
    plain words), or None when they are fine (see :func:`_check_correlated`)."""
    if not isinstance(pairs, tuple):
        allowed = f"a tuple of (a, b, rho); as text: {_CORRELATED_FORM}"
        return pairs, allowed, f"Write {_CORRELATED_FORM}."
    seen: set[int] = set()
    last = f"x{n_features}"
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 3):
            allowed = "(a, b, rho): two features and a correlation"
            return pair, allowed, f"Write {_CORRELATED_FORM}."
        a, b, rho = pair
        for f in (a, b):
            if isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= n_features:
                count = f"{n_features} features (x1 to {last})"
                if n_features == 1:
                    count = "1 feature (x1)"
                return (
                    f"x{f}",
                    f"a feature x1 .. {last} (n_features)",
                    f"x{f} is not a feature here: the data has {count}. Pick features from x1 "
                    f"to {last}, or add features above.",
                )
        if a == b:
            return (
                f"x{a}~x{b}",
                "two different features",
                f"x{a}~x{b} pairs x{a} with itself: pick two different features.",
            )
        if seen & {a, b}:
            twice = min(seen & {a, b})
            return (
                f"x{twice}",
                "each feature in one correlated pair at most",
                f"x{twice} is in two pairs: each feature can be in one pair at most.",
            )
        seen |= {a, b}
        if not (_is_number(rho) and -1.0 < rho < 1.0):
            return (
                rho,
                "a correlation rho with -1 < rho < 1",
                f"The correlation of x{a}~x{b} is {rho}: pick a number between -1 and 1, "
                "such as 0.95 (−1 and 1 themselves would make the two features copies).",
            )
    return None


def correlated_problem(text: str, n_features: int) -> str | None:
    """What is wrong with correlated pairs typed as ``text`` for data of ``n_features``
    features, in plain words saying what to change (for the form, under its field); None when
    they can be used. The knob-naming ConfigError of the same check is for links and the CLI."""
    try:
        pairs = parse_correlated(text)
    except ConfigError as exc:
        return f"“{exc.value}” is not a pair. Write {_CORRELATED_FORM}."
    problem = _correlated_problem(pairs, n_features)
    return None if problem is None else problem[2]


def format_correlated(pairs: tuple[tuple[int, int, float], ...]) -> str:
    """Text form of correlated pairs, e.g. ``x1~x4:0.95,x2~x3:-0.5`` ("" for none)."""
    return ",".join(f"x{a}~x{b}:{float(r)!r}" for a, b, r in pairs)


_PAIR = re.compile(r"\s*x(\d{1,3})\s*~\s*x(\d{1,3})\s*:\s*([-+]?[0-9.eE+-]{1,24})\s*")


def parse_correlated(text: str) -> tuple[tuple[int, int, float], ...]:
    """Correlated pairs from text like ``x1~x4:0.95, x2~x3:-0.5`` (``,`` or ``;`` between pairs;
    empty or "none" for none). Parsed by a pattern, never evaluated; ConfigError on bad text."""
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise ConfigError("correlated", str(text)[:40], _CORRELATED_FORM)
    if text.strip().lower() in ("", "none"):
        return ()
    pairs = []
    for part in re.split(r"[;,]", text):
        match = _PAIR.fullmatch(part)
        try:
            if match is None:
                raise ValueError
            rho = float(match.group(3))
        except ValueError:
            raise ConfigError("correlated", part.strip(), _CORRELATED_FORM) from None
        pairs.append((int(match.group(1)), int(match.group(2)), rho))
    return tuple(pairs)


def _coerce_correlated(value: Any) -> tuple[tuple[int, int, float], ...]:
    """Pairs from text (URL, CLI) or from a JSON list of [a, b, rho] lists."""
    if isinstance(value, str):
        return parse_correlated(value)
    if isinstance(value, list | tuple) and len(value) <= 10:
        out = []
        for pair in value:
            if not (isinstance(pair, list | tuple) and len(pair) == 3):
                break
            a, b, rho = pair
            if any(isinstance(v, bool) for v in pair) or not _is_number(rho):
                break
            if not (isinstance(a, int) and isinstance(b, int)):
                break
            out.append((a, b, float(rho)))
        else:
            return tuple(out)
    raise ConfigError("correlated", str(value)[:40], _CORRELATED_FORM)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


_MAX_TEXT = 400  # longest raw value accepted from a URL or file before any parsing


def _whole(value: Any) -> int:
    """A whole number from an int, an integral float or its text; ValueError otherwise (5.5
    and True are refused, never truncated or counted as 1)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError


def _allowed(like: Any) -> str:
    """What a knob whose default is ``like`` takes, for the error message."""
    if isinstance(like, bool):
        return "true or false"
    if isinstance(like, int):
        return "a whole number"
    if isinstance(like, float):
        return "a finite number"
    if isinstance(like, tuple):
        if like and isinstance(like[0], int):
            return "a list of whole numbers, e.g. 10,5"
        return "a list of names, e.g. tanh,tanh"
    return f"a value of type {type(like).__name__}"


def _coerce(key: str, value: Any, like: Any) -> Any:
    """Convert an untrusted value to the type of the default ``like``; ConfigError if it can't."""
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        raise ConfigError(key, value[:40] + "...", f"at most {_MAX_TEXT} characters")
    try:
        if isinstance(like, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if isinstance(like, int):
            return _whole(value)
        if isinstance(like, float):
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if not math.isfinite(out):
                raise ValueError
            return out
        if isinstance(like, tuple):
            if isinstance(value, str):
                items: list = value.split(",")
            elif isinstance(value, list | tuple):
                items = list(value)
            else:
                raise ValueError
            if len(items) > 10:
                raise ValueError
            if like and isinstance(like[0], int):
                return tuple(_whole(i) for i in items)
            if not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(i.strip() for i in items)
        if isinstance(like, str):
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError, OverflowError):
        pass
    raise ConfigError(key, value, _allowed(like))


def series_windows(dataset: Any, seq_len: Any) -> dict[str, int] | None:
    """``{"n_train": .., "n_val": .., "n_score": ..}``: the windows of ``seq_len`` days (each
    with a next day) in each split of the real series ``dataset``; None for synthetic data or
    a window the series does not allow (validation then says what to change)."""
    kind = kind_of(dataset)
    if kind is None or kind.splits is None or kind.window is None:
        return None
    lo, hi = kind.window
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or not lo <= seq_len <= hi:
        return None
    out = {}
    for knob, split in SERIES_COUNTS.items():
        first, last = (_date(d) for d in kind.splits[split])
        out[knob] = (last - first).days + 1 - seq_len
    return out


def _date(text: str):
    import datetime

    return datetime.date.fromisoformat(text)


# Real data (rnnviz.data.datasets): rain tomorrow in Seattle from the last 28 days of the four
# measurements, trained on 2012-2013, validated on 2014, scored on 2015. A small stacked LSTM
# (more units overfit the ~700 overlapping training windows), Adam 0.01 on batches of 32,
# early stopping on 2014: about 5 s of fitting. n_train, n_val and n_score are the series'
# window counts at 28 days (731, 365 and 365 days less the window): the data is fixed, but
# the bounds' arithmetic on training work and scoring reads them.
_SEATTLE = Config(
    dataset="seattle-weather",
    n_features=4,
    seq_len=28,
    n_train=703,
    n_val=337,
    n_score=337,
    input_scaling=False,
    units=(8, 4),
    epochs=20,
    batch_size=32,
    learning_rate=0.01,
    patience=3,
)

# Planted evidence (rnnviz.data.boxes): the benchmark's sizes (50 steps x 50 features, 1,000
# training and 100 test sequences; 100 more stop early) and its model, an LSTM of 20 units; the
# data is N(0, 1) already (no input scaling). One perturbation repeat: a full scoring of 100
# sequences pushes 2,551 copies of 2,500 numbers each through the model (638 M numbers).
_BOX = Config(
    dataset="box-raretime",
    seq_len=BOX_SHAPE[0],
    n_features=BOX_SHAPE[1],
    n_train=1000,
    n_val=100,
    n_score=100,
    input_scaling=False,
    units=(20,),
    activations=("tanh",),
    epochs=10,
    batch_size=32,
    learning_rate=0.01,
    patience=2,
    n_repeats=1,
)

PRESETS: dict[str, Config] = {
    "default": Config(),
    # The memory lesson: y_t reads x1 eight steps back, over 20 steps; the pair differs in the
    # cell only (default recipe). Measured (benchmarks/bench_cells.py --memory, seeds 0..9): the
    # simple RNN learned on 10/10 seeds, the LSTM partly learned on 10/10 (accuracy ~0.72; it
    # learns with 16 epochs: 97.7% at seed 0): in 3 epochs an LSTM's gates have not learned to
    # hold x1 yet, while 8 steps are still short enough for a simple RNN. Both lag profiles peak
    # at lag 8. The lesson shows the 16-epoch LSTM too, so the budget is not taken for memory.
    "memory-simple-rnn": Config(rule="x1[t-8] > 0.5", seq_len=20, cell="simple_rnn"),
    "memory-lstm": Config(rule="x1[t-8] > 0.5", seq_len=20, cell="lstm"),
    "memory-lstm-16": Config(rule="x1[t-8] > 0.5", seq_len=20, cell="lstm", epochs=16),
    # Correlated features share credit: x4 is a near-copy of x1 (Spearman 0.95), the rule reads
    # x1 only. Noise on x4 alone breaks the pair, so x4's effect is whatever the model made of it.
    "correlated": Config(rule="threshold", n_features=4, correlated=((1, 4, 0.95),)),
    # The Cross Validated thread's model and recipe, unchanged: relu LSTMs 10 -> 5 -> 1 with a
    # sigmoid LSTM head, batch 5, Adam 1e-3, 5 epochs over 5,000 sequences, seed 2019.
    "reference": Config(
        units=(10, 5),
        activations=("relu", "relu"),
        head="lstm",
        input_scaling=False,
        n_train=5000,
        epochs=5,
        batch_size=5,
        learning_rate=0.001,
        patience=0,
        seed=2019,
    ),
    "seattle-weather": _SEATTLE,
    # The same series and recipe, predicting tomorrow's max temperature (°C, regression).
    "seattle-temp": _SEATTLE.replace(outcome="temp_max"),
    **{f"box-{box}": _BOX.replace(dataset=f"box-{box}") for box in BOX_NAMES},
}


def not_applied(given: Mapping[str, Any], config: Config) -> str | None:
    """What to tell someone whose settings ``given`` (a link, a file, flags) set a count that
    ``config``'s real series does not read (n_train, n_val, n_score) to another value than the
    one it uses, or an effect_on a regression does not read; None when there is nothing to
    tell."""
    notes = [
        n for n in (_counts_not_applied(given, config), _effect_not_applied(given, config)) if n
    ]
    return " ".join(notes) or None


def _effect_not_applied(given: Mapping[str, Any], config: Config) -> str | None:
    """The note for an ``effect_on`` that a regression ignores (its outputs are no probability)."""
    value = given.get("effect_on")
    if config.task != "regression" or value is None or value == config.effect_on:
        return None
    return (
        f"effect_on = {_short(value)} does not apply to a regression ({config.outcome}) and was "
        "ignored: its outputs are numbers, not probabilities, so effects are in the outcome's "
        "units."
    )


def _counts_not_applied(given: Mapping[str, Any], config: Config) -> str | None:
    kind = config.data_kind
    if not kind.counted:
        return None
    ignored = []
    for knob in SERIES_COUNTS:
        if knob not in kind.counted:
            continue
        if knob not in given:
            continue
        try:
            value = _coerce(knob, given[knob], 0)
        except ConfigError:
            value = None
        if value != getattr(config, knob):
            ignored.append(f"{knob} = {_short(given[knob]) if value is None else value}")
    if not ignored:
        return None
    years = {split: kind.years(split) for split in ("train", "val", "score")}
    return (
        f"{', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to "
        f"{config.dataset} and {'was' if len(ignored) == 1 else 'were'} ignored: a real series "
        f"trains on every window of {years['train']}, stops early on {years['val']} and scores "
        f"every window of {years['score']} ({config.n_train}, {config.n_val} and "
        f"{config.n_score} windows of {config.seq_len} days)."
    )


# The preset a real series starts from, per outcome: it sets what the series needs (its
# features, no input scaling, its window) and a recipe that learns it in seconds.
SERIES_PRESETS = dict(DATA_KINDS["seattle-weather"].presets)


# The datasets a config starts from a preset of (a real series, the boxes): their shapes and
# recipes are their own, so a --dataset or a data choice of these starts there.
PRESET_DATASETS = tuple(name for name, kind in DATA_KINDS.items() if kind.presets)


def series_preset(dataset: str, outcome: str = "rain") -> Config:
    """The starting config of ``dataset`` (a real series, a box) predicting ``outcome``;
    ConfigError naming the knob when the dataset has no preset or the outcome is not its (the
    CLI and the setup page start here)."""
    kind = kind_of(dataset)
    if kind is None or not kind.presets:
        raise ConfigError("dataset", dataset, f"one of {', '.join(PRESET_DATASETS)}")
    if outcome not in kind.presets:
        raise ConfigError("outcome", outcome, f"one of {', '.join(kind.presets)}")
    return PRESETS[kind.presets[outcome]]


__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "CELL_NAMES",
    "DATASETS",
    "DATA_KINDS",
    "DEFAULT_BOUNDS",
    "EFFECTS_ON",
    "HEADS",
    "LATER_KNOBS",
    "LATER_SCORING_KNOBS",
    "OUTCOMES",
    "PRESETS",
    "PRESET_DATASETS",
    "REAL_SERIES",
    "SERIES_COUNTS",
    "SERIES_PRESETS",
    "SERIES_SPLITS",
    "Bounds",
    "Config",
    "ConfigError",
    "DataKind",
    "correlated_problem",
    "describe_budget",
    "describe_changes",
    "describe_model",
    "format_correlated",
    "kind_of",
    "not_applied",
    "parse_correlated",
    "parse_settings",
    "series_preset",
]
