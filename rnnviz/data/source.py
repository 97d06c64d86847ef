"""Where an experiment's data comes from, chosen once: :func:`source_of` (config) -> a Source.

Every question the rest of rnnviz asks about the data is a method or attribute here, so no
module tests which dataset a config names: the splits, the features' names, the ground truth
(or None), the neutral value of a feature, the regression head's scale, the forecast numbers
the verdict compares with its baselines, and the data's words for titles and axes.

* :class:`SyntheticSource`: sequences drawn from the config's seed, labelled by its rule (the
  rule is the ground truth).
* :class:`SeriesSource`: a recorded series (Seattle weather): windows of fixed, time-ordered
  splits, no ground truth, judged against persistence and the simpler baselines.

A new family of data (planted evidence, an uploaded table) is one class here with one entry in
:data:`SOURCES`, and one :class:`rnnviz.config.DataKind` in ``rnnviz.config.DATA_KINDS`` (what
the foundation needs to check its knobs). Sentences made from these numbers live in
``rnnviz.report.readings``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np

from rnnviz.config import Config, DataKind
from rnnviz.data import boxes, datasets, synthetic
from rnnviz.data.base import DataError, Dataset
from rnnviz.rules import Rule

Predict = Callable[[np.ndarray], np.ndarray]


class Source(ABC):
    """The data of one config: what a family of data answers for every page and function.

    Made cheaply (nothing is read or drawn until a split is asked for), so callers can ask
    :func:`source_of` whenever they need it.
    """

    #: the ``Config.dataset`` value this source serves
    name: ClassVar[str]
    #: the value that stands for "no information" in one feature (occlusion, stepwise dropping)
    fill: ClassVar[float] = 0.5
    #: whether its verdict is a forecast of the scored split against baselines
    #: (:meth:`forecast`); otherwise the validation accuracy against the majority class judges
    has_forecast: ClassVar[bool] = False

    def __init__(self, config: Config) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.dataset!r})"

    @property
    def kind(self) -> DataKind:
        """The foundation's record of this data (which knobs apply, how sizes are counted)."""
        return self.config.data_kind

    @property
    def task(self) -> str:
        """ "classification" or "regression" (the config's outcome decides)."""
        return self.config.task

    @property
    def fixed_counts(self) -> bool:
        """True when the data fixes how many sequences train, validate and score (every
        window of its splits): n_train, n_val and n_score are counted, not chosen."""
        return bool(self.kind.counted)

    @property
    @abstractmethod
    def feature_names(self) -> tuple[str, ...]:
        """The input features' names, in column order."""

    @abstractmethod
    def split(self, name: str) -> Dataset:
        """The ``name`` split (train, val or score), the same for the same config."""

    @property
    def rule(self) -> Rule | None:
        """The rule that labels the data (the config's rule); None for data without one."""
        return None

    @property
    def truth(self) -> Rule | None:
        """What the methods are scored against: the rule for rule-made data; None when nobody
        knows what the target depends on (a real series)."""
        return self.rule

    def target_scale(self) -> tuple[float, float] | None:
        """(scale, offset) that maps a regression head's output to the target's units; None for
        a classification task (its head is a sigmoid)."""
        return None

    def forecast(self, predict: Predict) -> dict[str, float]:
        """The model (``predict``) against the data's baselines on the scored split: the numbers
        its verdict reads. DataError for data judged by its validation accuracy instead."""
        raise DataError(
            f"dataset {self.config.dataset} has no forecasts to score: its verdict is the "
            "validation accuracy against the majority class"
        )

    def correlations(self) -> dict[tuple[str, str], float]:
        """ρ of feature pairs (by name) measured on the training data, where the source
        measures them (features that move together share credit); {} otherwise."""
        return {}

    def target_means(self) -> tuple[float, float] | None:
        """The target's mean on the training data and on the scored outputs, where they can
        differ (a later period); None otherwise."""
        return None

    @abstractmethod
    def description(self) -> str:
        """The experiment's data and target in a few words (plain text, no Markdown)."""

    #: what σ means for these features, beyond "in the features' own units" (None: nothing)
    sigma_meaning: ClassVar[str | None] = None

    @property
    def effect_axis(self) -> str | None:
        """The effects' axis title in the outcome's units; None: the plots' generic title."""
        return None

    @property
    def effect_meaning(self) -> str | None:
        """What one effect number is, in the outcome's units; None: nothing to add."""
        return None

    @property
    def score_period(self) -> str:
        """When the scored sequences are, in words ("2015"); "" for drawn sequences."""
        return ""


class SyntheticSource(Source):
    """Sequences uniform on [0, 1), drawn from the config's seed (one stream per split) and
    labelled by its rule, which is also the ground truth (``rnnviz.data.synthetic``)."""

    name = "synthetic"
    fill = 0.5  # the middle of a feature's [0, 1)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x{i + 1}" for i in range(self.config.n_features))

    @property
    def rule(self) -> Rule:
        return self.config.target()

    def split(self, name: str) -> Dataset:
        c = self.config
        seed = synthetic.split_seed(c.seed, name)  # DataError for an unknown split
        n = {"train": c.n_train, "val": c.n_val, "score": c.n_score}[name]
        return synthetic.generate(self.rule, n, c.seq_len, c.n_features, seed, c.correlated)

    def description(self) -> str:
        return f"y_t = 1 when {self.rule.expression}"


class SeriesSource(Source):
    """A recorded daily series (``rnnviz.data.datasets``): windows of the last ``seq_len``
    days, fixed time-ordered splits, standardised features, no ground truth; its verdict
    compares the model with persistence and the more common outcome (or the training mean)."""

    name = datasets.NAME
    fill = 0.0  # a standardised feature's training mean
    has_forecast = True
    sigma_meaning = datasets.SIGMA_MEANING

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._series: dict[str, datasets.SeriesSplit] = {}

    @property
    def feature_names(self) -> tuple[str, ...]:
        return datasets.feature_names(self.config.n_features)

    def series(self, name: str) -> datasets.SeriesSplit:
        """The ``name`` split with its days, persistence forecasts and training scale (built
        once per source)."""
        if name not in self._series:
            c = self.config
            self._series[name] = datasets.build_split(
                datasets.seattle_weather(),
                name,
                outcome=c.outcome,
                window=c.seq_len,
                n_features=c.n_features,
            )
        return self._series[name]

    def split(self, name: str) -> Dataset:
        return self.series(name).data

    def target_scale(self) -> tuple[float, float] | None:
        """(std, mean) of the outcome on the training days for a regression: the head maps its
        standardised output back to the outcome's units with them."""
        if self.task != "regression":
            return None
        train = self.series("train")
        return train.target_std, train.target_mean

    def forecast(self, predict: Predict) -> dict[str, float]:
        """:func:`rnnviz.data.datasets.forecast_scores` on the scored split."""
        return datasets.forecast_scores(predict, self.series("score"))

    def correlations(self) -> dict[tuple[str, str], float]:
        """ρ of each pair of features on the training days (they share credit)."""
        return datasets.training_correlations(self.config)

    def target_means(self) -> tuple[float, float]:
        """The outcome's mean on the training days and on the scored forecast days (the
        distribution-shift caveat)."""
        score = self.series("score")
        return score.target_mean, float(score.data.y[:, -1].mean())

    def description(self) -> str:
        return datasets.describe(self.config)

    @property
    def effect_axis(self) -> str:
        return datasets.EFFECT_AXIS[self.config.outcome]

    @property
    def effect_meaning(self) -> str:
        return datasets.effect_meaning(self.config.outcome)

    @property
    def score_period(self) -> str:
        return self.kind.years("score")


class BoxSource(Source):
    """Planted evidence (``rnnviz.data.boxes``): N(0, 1) sequences whose one label shifts a
    fixed box of cells by +-1; the box is the ground truth, the last output the only one that
    counts. One class serves the three boxes (``box-middle``, ``box-raretime``,
    ``box-rarefeature``), each through its own subclass (:func:`box_sources`) in
    :data:`SOURCES`."""

    name = ""  # each box's subclass names its dataset
    fill = 0.0  # the features' mean (N(0, 1) outside the box)
    sigma_meaning = "a share of a feature's standard deviation (the data is N(0, 1))"

    @property
    def box(self) -> boxes.Box:
        return boxes.DATASETS[self.config.dataset]

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x{i + 1}" for i in range(self.config.n_features))

    @property
    def truth(self) -> boxes.BoxTruth:
        return boxes.BoxTruth(self.box, self.config.seq_len, self.config.n_features)

    def split(self, name: str) -> Dataset:
        c = self.config
        seed = synthetic.split_seed(c.seed, name)  # DataError for an unknown split
        n = {"train": c.n_train, "val": c.n_val, "score": c.n_score}[name]
        return boxes.generate(self.box, n, c.seq_len, c.n_features, seed)

    def description(self) -> str:
        return (
            f"one label a sequence, planted in the {self.box.label} box ({self.box.describe()}): "
            "+1 there for label 1, -1 for label 0"
        )


def box_sources() -> list[type[BoxSource]]:
    """One :class:`BoxSource` subclass per box, named by its dataset (``name``)."""
    return [
        type(f"BoxSource_{box.name}", (BoxSource,), {"name": dataset, "__doc__": BoxSource.__doc__})
        for dataset, box in boxes.DATASETS.items()
    ]


# Each family of data (``Config.dataset``) and the class that builds it: one entry a family
# (the three boxes share one class).
SOURCES: dict[str, type[Source]] = {
    **{cls.name: cls for cls in (SyntheticSource, SeriesSource)},
    **{cls.name: cls for cls in box_sources()},
}


def source_of(config: Config) -> Source:
    """The source of ``config``'s data; DataError naming the known datasets for another."""
    cls = SOURCES.get(config.dataset)
    if cls is None:
        known = ", ".join(sorted(SOURCES))
        raise DataError(f"no source of data for dataset {config.dataset!r}; known: {known}")
    return cls(config)


__all__ = [
    "SOURCES",
    "BoxSource",
    "SeriesSource",
    "Source",
    "SyntheticSource",
    "source_of",
]
