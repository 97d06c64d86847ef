"""Seeded synthetic sequences and their labels from a target rule.

x has shape (n, T, F), uniform on [0, 1) (chosen pairs of features rank-correlated through a
Gaussian copula, each still uniform); y has shape (n, T) with 0/1 labels and ``valid`` marks
the steps where the rule is defined (a lag or window that reaches before t = 0 masks the step).
"""

from __future__ import annotations

import math
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


def generate(
    rule: Rule,
    n: int,
    seq_len: int,
    n_features: int,
    seed: int,
    correlated: tuple[tuple[int, int, float], ...] = (),
) -> Dataset:
    """Draw n sequences uniform on [0, 1) and label them with ``rule``.

    ``correlated`` holds (a, b, rho): features xa and xb (1-based) get Spearman rank
    correlation rho at every step (see :func:`correlate`). Without pairs the draws are exactly
    those made before the knob existed.
    """
    rng = np.random.default_rng(seed)
    x = rng.random((n, seq_len, n_features), dtype=np.float32)
    if correlated:
        correlate(x, correlated, rng)
    y, valid = rule.labels(x)
    return Dataset(x=x, y=np.asarray(y, dtype=np.float32), valid=np.asarray(valid, dtype=bool))


def gaussian_correlation(spearman: float) -> float:
    """Pearson correlation r of two standard normals whose Spearman rank correlation is
    ``spearman``: r = 2 sin(pi rho_s / 6) (the copula's ranks are those of the normals)."""
    return 2.0 * math.sin(math.pi * spearman / 6.0)


_erf = np.frompyfunc(math.erf, 1, 1)  # numpy has no erf and SciPy is not a dependency


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = (1 + erf(z / sqrt 2)) / 2, elementwise, in float64."""
    return 0.5 * (1.0 + _erf(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64))


def correlate(
    x: np.ndarray, pairs: tuple[tuple[int, int, float], ...], rng: np.random.Generator
) -> None:
    """Redraw the paired features of ``x`` (n, T, F) in place through a Gaussian copula.

    For each pair (a, b, rho): standard normals z_a and e, z_b = r z_a + sqrt(1 - r^2) e with
    r = :func:`gaussian_correlation` (rho), then x = Phi(z): each feature stays uniform on
    [0, 1) and the pair has Spearman correlation rho. A feature is in one pair at most (the
    config checks it), so pairs are independent of each other and of the other features.
    """
    n, steps, _ = x.shape
    for a, b, rho in pairs:
        r = gaussian_correlation(rho)
        za = rng.standard_normal((n, steps))
        zb = r * za + math.sqrt(1.0 - r * r) * rng.standard_normal((n, steps))
        for feature, z in ((a, za), (b, zb)):
            # float32 rounding may reach 1.0 for z > ~5.4: keep the range [0, 1) of every input
            u = normal_cdf(z).astype(np.float32)
            x[:, :, feature - 1] = np.minimum(u, np.nextafter(np.float32(1), np.float32(0)))


def make_split(config: Config, split: str) -> Dataset:
    """The train, val or score split of a config, reproducible from its seed (or, for a real
    series, its time-ordered split: rnnviz.data.datasets)."""
    if config.dataset != "synthetic":
        from rnnviz.data.datasets import load_split

        return load_split(config, split).data
    n = {"train": config.n_train, "val": config.n_val, "score": config.n_score}[split]
    seed = np.random.SeedSequence([config.seed, _SPLITS[split]]).generate_state(1)[0]
    return generate(
        config.target(), n, config.seq_len, config.n_features, int(seed), config.correlated
    )


def target_scale(config: Config) -> tuple[float, float] | None:
    """(scale, offset) that maps a regression head's output to the target's units; None for a
    classification task (its head is a sigmoid)."""
    if config.task != "regression":
        return None
    from rnnviz.data.datasets import target_scale as series_scale

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
