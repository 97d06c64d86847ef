"""Seeded synthetic sequences and their labels from a target rule.

x has shape (n, T, F), uniform on [0, 1); y has shape (n, T) with 0/1 labels and ``valid`` marks
the steps where the rule is defined (a lag or window that reaches before t = 0 masks the step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.config import Config
from rnnviz.rules import Rule

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


# Separate streams per split so that changing n_val never changes the training data.
_SPLITS = {"train": 0, "val": 1, "score": 2}


def generate(rule: Rule, n: int, seq_len: int, n_features: int, seed: int) -> Dataset:
    """Draw n sequences uniform on [0, 1) and label them with ``rule``."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, seq_len, n_features), dtype=np.float32)
    y, valid = rule.labels(x)
    return Dataset(x=x, y=np.asarray(y, dtype=np.float32), valid=np.asarray(valid, dtype=bool))


def make_split(config: Config, split: str) -> Dataset:
    """The train, val or score split of a config, reproducible from its seed (or, for a real
    series, its time-ordered split: rnnviz.datasets)."""
    if config.dataset != "synthetic":
        from rnnviz.datasets import load_split

        return load_split(config, split).data
    n = {"train": config.n_train, "val": config.n_val, "score": config.n_score}[split]
    seed = np.random.SeedSequence([config.seed, _SPLITS[split]]).generate_state(1)[0]
    return generate(config.target(), n, config.seq_len, config.n_features, int(seed))


def target_scale(config: Config) -> tuple[float, float] | None:
    """(scale, offset) that maps a regression head's output to the target's units; None for a
    classification task (its head is a sigmoid)."""
    if config.task != "regression":
        return None
    from rnnviz.datasets import target_scale as series_scale

    return series_scale(config)


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
