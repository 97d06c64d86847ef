"""Planted evidence: the three fixed boxes of Ismail et al. (2020), "Benchmarking deep learning
interpretability in time series predictions" (NeurIPS; ``Scripts/createDatasets.py`` and
``createSimulationDataProcesses.py`` of ayaabdelsalam91/TS-Interpretability-Benchmark).

Every sequence is T = 50 steps of F = 50 features drawn from N(0, 1), with one 0/1 label; inside
the box every value is shifted by +1 (label 1) or -1 (label 0), outside it nothing is. So the
label is in the box and nowhere else: the box is the ground truth at the (feature, step) grain.

==============  =============  ==============
box             steps          features
==============  =============  ==============
``middle``      10-39 (30)     10-39 (30)
``raretime``    22-27 (6)      5-44 (40)
``rarefeature`` 5-44 (40)      22-27 (6)
==============  =============  ==============

One label per sequence: the model is trained and scored on its last output only (``valid`` is
true at the last step alone, the mask that keeps undefined outputs out of training and scores).
Labels are exactly balanced (half of each split, shuffled; the paper draws each label with
probability 1/2). Sentences about the box live in ``rnnviz.report.readings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rnnviz.data.base import DataError, Dataset

SEQ_LEN = 50
N_FEATURES = 50
SHIFT = 1.0  # the box's values are N(+SHIFT, 1) for label 1, N(-SHIFT, 1) for label 0


@dataclass(frozen=True)
class Box:
    """A box of cells: input steps [step_start, step_stop) of features [feature_start,
    feature_stop), 0-based and half-open like Python slices (so Middle is steps 10-39:
    ``Box("middle", 10, 40, 10, 40)``)."""

    name: str
    step_start: int
    step_stop: int
    feature_start: int
    feature_stop: int
    label: str = ""

    @property
    def steps(self) -> slice:
        return slice(self.step_start, self.step_stop)

    @property
    def features(self) -> slice:
        return slice(self.feature_start, self.feature_stop)

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """(step start, step stop, feature start, feature stop), the group methods' order."""
        return (self.step_start, self.step_stop, self.feature_start, self.feature_stop)

    @property
    def n_cells(self) -> int:
        return (self.step_stop - self.step_start) * (self.feature_stop - self.feature_start)

    def mask(self, seq_len: int = SEQ_LEN, n_features: int = N_FEATURES) -> np.ndarray:
        """(F, T) bool: True at (feature, step) inside the box (the maps' orientation)."""
        out = np.zeros((n_features, seq_len), dtype=bool)
        out[self.features, self.steps] = True
        return out

    def describe(self) -> str:
        """ "steps 22-27 of x6-x45" (1-based feature names, as the plots show them)."""
        return (
            f"steps {self.step_start}–{self.step_stop - 1} of "
            f"x{self.feature_start + 1}–x{self.feature_stop}"
        )


# createDatasets.py: StartImpTimeSteps / ImpTimeSteps and StartImpFeatures / ImpFeatures of the
# Middle (10 + 30, 10 + 30), RareTime (22 + 6, 5 + 40) and RareFeature (5 + 40, 22 + 6) boxes.
BOXES: dict[str, Box] = {
    "middle": Box("middle", 10, 40, 10, 40, "Middle"),
    "raretime": Box("raretime", 22, 28, 5, 45, "RareTime"),
    "rarefeature": Box("rarefeature", 5, 45, 22, 28, "RareFeature"),
}
PREFIX = "box-"
# Each box as a value of ``Config.dataset``: "box-middle", "box-raretime", "box-rarefeature".
DATASETS = {PREFIX + name: box for name, box in BOXES.items()}


def draw_noise(n: int, seq_len: int, n_features: int, seed: int) -> np.ndarray:
    """(n, T, F) float32 N(0, 1): the data before the box is shifted (drawn first from ``seed``)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, seq_len, n_features), dtype=np.float32)


def draw_labels(n: int, seed: int) -> np.ndarray:
    """(n,) float32 0/1 labels, n // 2 ones (exactly balanced), in an order drawn from ``seed``
    (a stream apart from the noise's, so either can be drawn alone)."""
    rng = np.random.default_rng([seed, 1])
    y = np.zeros(n, dtype=np.float32)
    y[: n // 2] = 1.0
    return rng.permutation(y)


def generate(box: Box, n: int, seq_len: int, n_features: int, seed: int) -> Dataset:
    """n sequences of ``box``'s data: N(0, 1), shifted by +1 (label 1) or -1 (label 0) inside
    the box; the label sits on the last step, the only one that counts (``valid``)."""
    if box.step_stop > seq_len or box.feature_stop > n_features:
        raise DataError(
            f"the {box.label} box ({box.describe()}) does not fit {seq_len} steps of "
            f"{n_features} features: use at least {box.step_stop} steps and "
            f"{box.feature_stop} features"
        )
    x = draw_noise(n, seq_len, n_features, seed)
    labels = draw_labels(n, seed)
    x[:, box.steps, box.features] += (2.0 * labels - 1.0)[:, None, None] * np.float32(SHIFT)
    y = np.zeros((n, seq_len), dtype=np.float32)
    y[:, -1] = labels
    valid = np.zeros((n, seq_len), dtype=bool)
    valid[:, -1] = True
    return Dataset(x=x, y=y, valid=valid)


class BoxTruth:
    """The box as ground truth, in the shape the rest of rnnviz reads a rule's: the features
    it holds (``features``), and (feature, lag) pairs (``ground_truth``). With one output, at
    the last step T - 1, input step s acts at lag T - 1 - s, so the lag pairs are the box's
    cells exactly and the lag-grain scores (AUC, AUP, AUR, AUPR) score the cell map against
    the box. ``mask`` is the (F, T) box itself, ``rect`` its outline for the plots.

    It also answers the few questions asked of a rule's tree (:meth:`children`, :meth:`truth`,
    :meth:`source`), as one threshold node over every cell, so the pairs it "combines" are
    every pair of its features, met at the label's threshold, as for any rule that sums
    features and compares.
    """

    def __init__(self, box: Box, seq_len: int = SEQ_LEN, n_features: int = N_FEATURES) -> None:
        self.box = box
        self.seq_len = seq_len
        self.n_features = n_features
        self.name = PREFIX + box.name
        self.expression = f"the mean of the {box.label} box ({box.describe()}) > 0"
        self.description = f"the {box.label} box: {box.describe()}"
        self.max_lag = seq_len - 1  # only the last output has a target
        self.n_features_used = box.feature_stop

    def __repr__(self) -> str:
        return f"BoxTruth({self.box.name!r})"

    @property
    def rect(self) -> tuple[int, int, int, int]:
        return self.box.rect

    @cached_property
    def mask(self) -> np.ndarray:
        """(F, T) bool: the box's cells."""
        return self.box.mask(self.seq_len, self.n_features)

    @cached_property
    def features(self) -> frozenset[int]:
        return frozenset(range(self.box.feature_start, self.box.feature_stop))

    @cached_property
    def ground_truth(self) -> frozenset[tuple[int, int]]:
        last = self.seq_len - 1
        return frozenset(
            (f, last - s)
            for f in range(self.box.feature_start, self.box.feature_stop)
            for s in range(self.box.step_start, self.box.step_stop)
        )

    def describe_truth(self) -> str:
        return f"{self.box.describe()} (the box: {self.box.n_cells} cells)"

    # as a rule's tree: one node, no children, reading every cell of the box
    @property
    def tree(self) -> BoxTruth:
        return self

    def children(self) -> tuple:
        return ()

    def truth(self) -> frozenset[tuple[int, int]]:
        return self.ground_truth

    def source(self) -> str:
        return self.expression


__all__ = [
    "BOXES",
    "DATASETS",
    "N_FEATURES",
    "SEQ_LEN",
    "SHIFT",
    "Box",
    "BoxTruth",
    "draw_labels",
    "draw_noise",
    "generate",
]
