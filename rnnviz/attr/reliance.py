"""One criterion for "relied on": clear of the noise floor that the unread features set.

A trained network never ignores a feature exactly. On the thread's rule x3, which the rule never
reads, still moves the predictions by about 0.007; on ``x1 > 0.5`` x3 moves them by about 0.018,
and nudging x1 and x3 together leaves an interaction of about 0.024. These are what the model
picked up from finite data, not something the rule uses: noise. A number is evidence only when
it stands clear of what such features show *on the same model*. Every reading and lesson verdict
that decides whether a feature is relied on, or whether a pair combines, uses this one test:

* **Noise features**: the features the rule does not read and that are not correlated with one
  it reads (a near-copy of a read feature can carry its information: it is judged, not used as
  noise). Without a rule (a real series, an upload) no feature is known to be unused.
* **Noise floor of single effects**: the largest ``mean + SPREAD * std`` (std over the repeats)
  among the noise features' effects, and at least ``MIN_SHARE`` of the largest effect of any
  feature (so float rounding on a model that ignores a feature exactly is no finding).
* **Relied on**: a feature whose mean effect is more than ``NOISE_FACTOR`` times that floor.
* **Noise floor of pairs**: the largest ``mean + SPREAD * std`` among the interactions
  (:mod:`rnnviz.attr.interactions`) of pairs with at least one noise feature, and at least
  ``MIN_SHARE`` of the largest single effect. **A pair combines** when its mean interaction is
  more than ``NOISE_FACTOR`` times that floor.

By hand: for ``f = x1 + x2`` with x3 unread, x3's effect and every interaction with x3 are
exactly 0, so both floors are ``MIN_SHARE`` of σ; x1 and x2 (effect σ) are relied on, and the
x1–x2 interaction (exactly 0 up to rounding) does not combine. For ``f = x1 · x2`` the x1–x2
interaction (RMS of ε₁ε₂, about σ²) does.

A noise feature sets the floor, so it never clears it itself: with one unread feature (x3 on the
thread's rule) that feature *is* the yardstick, and the readings say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.data.source import source_of

NOISE_FACTOR = 2.0  # relied on / combines: more than this many times the noise floor
SPREAD = 2.0  # a noise cell counts as its mean plus this many std over the repeats
MIN_SHARE = 0.01  # the floor is never below this share of the largest single effect


@dataclass(frozen=True)
class NoiseFloor:
    """A noise floor: its value, what set it, and the bar a number must clear.

    ``sources`` are the noise features (ints) or pairs ((i, j)) whose ``mean + SPREAD * std``
    is the floor; empty when the floor is only ``MIN_SHARE`` of ``top`` (no noise feature is
    known, or every noise cell lies below that). ``noise`` are all the noise features: () when
    the rule reads every feature (or a near-copy of one), None when there is no rule.
    """

    value: float
    sources: tuple
    noise: tuple[int, ...] | None
    top: float  # the largest single-feature effect
    spread: bool = True  # the noise cells include SPREAD std over repeats (False: one draw)

    @property
    def bar(self) -> float:
        """What a number must exceed to count: NOISE_FACTOR times the floor."""
        return NOISE_FACTOR * self.value

    def clears(self, value: float) -> bool:
        """True when ``value`` stands clear of the floor (more than :attr:`bar`)."""
        return bool(value > self.bar)

    def times(self, value: float) -> float | None:
        """``value`` in multiples of the floor (None when the floor is 0)."""
        return value / self.value if self.value > 0 else None


def noise_features(
    n_features: int,
    read: Iterable[int] | None,
    correlated: Sequence[tuple[int, int, float]] = (),
) -> tuple[int, ...] | None:
    """The 0-based features that set the noise floor: not read by the rule (``read``, 0-based)
    and not correlated with a feature it reads (``correlated``: pairs (a, b, ρ) of 1-based
    features, as ``Config.correlated``). None when there is no rule (``read`` None)."""
    if read is None:
        return None
    read = {int(f) for f in read}
    copies = set()
    for a, b, _ in correlated:
        if a - 1 in read:
            copies.add(b - 1)
        if b - 1 in read:
            copies.add(a - 1)
    return tuple(f for f in range(n_features) if f not in read and f not in copies)


def noise_of(config) -> tuple[int, ...] | None:
    """:func:`noise_features` of a :class:`rnnviz.config.Config` (None for a real series)."""
    rule = source_of(config).truth
    if rule is None:
        return None
    return noise_features(config.n_features, rule.features, config.correlated)


def _noise(noise: Iterable[int] | None) -> tuple[int, ...] | None:
    return None if noise is None else tuple(int(f) for f in noise)


def _floor(
    cells: list[tuple[object, float]],
    top: float,
    noise: tuple[int, ...] | None,
    spread: bool = True,
) -> NoiseFloor:
    minimum = MIN_SHARE * top
    worst = max((v for _, v in cells), default=0.0)
    if worst <= minimum:
        return NoiseFloor(float(minimum), (), noise, float(top), spread)
    sources = tuple(s for s, v in cells if v == worst)
    return NoiseFloor(float(worst), sources, noise, float(top), spread)


def feature_floor(
    mean: np.ndarray, std: np.ndarray | None, noise: Iterable[int] | None
) -> NoiseFloor:
    """The noise floor of single effects (per-feature ``mean`` and ``std`` over repeats; ``std``
    None for a single draw, such as a training snapshot)."""
    mean = np.asarray(mean, dtype=np.float64)
    spread = std is not None
    std = np.zeros_like(mean) if std is None else np.asarray(std, dtype=np.float64)
    noise = _noise(noise)
    top = float(max(np.nanmax(mean), 0.0)) if mean.size else 0.0
    cells = [(f, float(mean[f] + SPREAD * std[f])) for f in noise or ()]
    return _floor(cells, top, noise, spread)


def relied_on(mean: np.ndarray, std: np.ndarray | None, noise: Iterable[int] | None) -> list[int]:
    """0-based features whose mean effect clears :func:`feature_floor` (in index order)."""
    floor = feature_floor(mean, std, noise)
    return [f for f, m in enumerate(np.asarray(mean, dtype=np.float64)) if floor.clears(m)]


def pair_floor(interactions, noise: Iterable[int] | None) -> NoiseFloor:
    """The noise floor of pairs of an :class:`rnnviz.attr.interactions.InteractionResult`: the
    largest mean + SPREAD·std of a pair with a noise feature, at least MIN_SHARE of the largest
    single effect."""
    noise = _noise(noise)
    mean, std = interactions.importances_mean, interactions.importances_std
    singles = np.asarray(interactions.single_mean, dtype=np.float64)
    top = float(max(singles.max(), 0.0)) if singles.size else 0.0
    n = len(interactions.feature_names)
    cells = [
        ((i, j), float(mean[i, j] + SPREAD * std[i, j]))
        for i in range(n)
        for j in range(i + 1, n)
        if i in (noise or ()) or j in (noise or ())
    ]
    return _floor(cells, top, noise)


def combined_pairs(
    interactions, noise: Iterable[int] | None
) -> list[tuple[int, int, float, float]]:
    """The pairs (i, j, mean, std) whose interaction clears :func:`pair_floor`, strongest first."""
    floor = pair_floor(interactions, noise)
    return [p for p in interactions.pairs() if floor.clears(p[2])]


__all__ = [
    "MIN_SHARE",
    "NOISE_FACTOR",
    "SPREAD",
    "NoiseFloor",
    "combined_pairs",
    "feature_floor",
    "noise_features",
    "noise_of",
    "pair_floor",
    "relied_on",
]
