"""What every source of data yields: a :class:`Dataset` (inputs, labels, the mask of defined
steps) and :class:`DataError` when data cannot be used; :func:`check_balance` refuses labels of
(almost) one class.

The bottom of the data room: it imports nothing from rnnviz, so the rule-made sequences, the
real series and the source that chooses between them (``rnnviz.data.source``) all build on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A class share below this (on valid steps) means there is almost nothing to learn.
MIN_CLASS_SHARE = 0.02


class DataError(ValueError):
    """The data cannot be used (e.g. the rule yields one class only); says what to change."""


@dataclass(frozen=True)
class Dataset:
    """Inputs, labels and the mask of steps where the label is defined."""

    x: np.ndarray  # (n, T, F) float32
    y: np.ndarray  # (n, T) float32, 0/1
    valid: np.ndarray  # (n, T) bool

    @property
    def positive_share(self) -> float:
        """Share of label 1 among the valid steps."""
        n = int(self.valid.sum())
        return float(self.y[self.valid].sum() / n) if n else 0.0

    @property
    def majority_accuracy(self) -> float:
        """Accuracy of always predicting the more common class: the baseline to beat."""
        p = self.positive_share
        return max(p, 1.0 - p)


def check_balance(data: Dataset, min_share: float = MIN_CLASS_SHARE) -> None:
    """Raise DataError when a class is (almost) absent, since nothing can be learned then."""
    p = data.positive_share
    if min(p, 1.0 - p) < min_share:
        which = "1 (true)" if p < 0.5 else "0 (false)"
        raise DataError(
            f"the rule labels only {min(p, 1 - p):.1%} of steps as {which}: almost one class, "
            "so there is nothing to learn. Change the threshold so both outcomes are common "
            "(features are uniform on [0, 1))."
        )
