"""Seeded synthetic sequences and their labels from a target rule.

x has shape (n, T, F), uniform on [0, 1) (chosen pairs of features rank-correlated through a
Gaussian copula, each still uniform); y has shape (n, T) with 0/1 labels and ``valid`` marks
the steps where the rule is defined (a lag or window that reaches before t = 0 masks the step).
"""

from __future__ import annotations

import math

import numpy as np

from rnnviz.data.base import DataError, Dataset
from rnnviz.rules import Rule

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


def split_seed(seed: int, split: str) -> int:
    """The seed of the ``split`` (train, val or score) of an experiment seeded ``seed``: one
    stream per split, so changing n_val never changes the training data."""
    if split not in _SPLITS:
        raise DataError(f"unknown split {split!r}: use one of {', '.join(_SPLITS)}")
    return int(np.random.SeedSequence([seed, _SPLITS[split]]).generate_state(1)[0])
