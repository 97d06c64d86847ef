"""The splits of an experiment, whatever its data: :func:`make_split` and :func:`target_scale`
ask the config's source (``rnnviz.data.source.source_of``), chosen once there.

The records and the rule-made draws live below (``rnnviz.data.base``,
``rnnviz.data.synthetic``); their names are also read from here, where training and the tests
have always found them.
"""

from __future__ import annotations

from rnnviz.config import Config
from rnnviz.data.base import MIN_CLASS_SHARE, DataError, Dataset, check_balance
from rnnviz.data.source import source_of
from rnnviz.data.synthetic import correlate, gaussian_correlation, generate, normal_cdf


def make_split(config: Config, split: str) -> Dataset:
    """The train, val or score split of ``config``: drawn from its seed and labelled by its
    rule, or a real series' time-ordered split (the same for the same config)."""
    return source_of(config).split(split)


def target_scale(config: Config) -> tuple[float, float] | None:
    """(scale, offset) that maps a regression head's output to the target's units; None for a
    classification task (its head is a sigmoid)."""
    return source_of(config).target_scale()


__all__ = [
    "MIN_CLASS_SHARE",
    "DataError",
    "Dataset",
    "check_balance",
    "correlate",
    "gaussian_correlation",
    "generate",
    "make_split",
    "normal_cdf",
    "target_scale",
]
