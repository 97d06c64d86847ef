"""Pairwise interactions: does the model combine two features, or use each on its own?

A per-feature bar cannot tell ``y = x1 + x2`` from ``y = x1 * x2``: both features matter in
both. What tells them apart is what happens when both are nudged at once. For each pair
(i, j), with the *same* noise draws ε_i, ε_j used for each feature alone,

    Δ_i  = f(x + ε_i) − f(x),   Δ_j = f(x + ε_j) − f(x),   Δ_ij = f(x + ε_i + ε_j) − f(x)

(ε_i added to feature i at every step), and the interaction strength is the RMS over the
counted (sequence, output step) pairs of Δ_ij − Δ_i − Δ_j: what the joint change has beyond the
sum of the two single changes. It is *not* the joint change's RMS minus the single changes'
RMS: RMS values do not add (on the thread's rule x1 alone moves the predictions by about 0.31,
x2 alone by 0.30, both together by 0.38, and the interaction is 0.27). The joint change's RMS is
kept too (``joint``), so a reading can quote all three. By hand: f = x1 + x2 gives exactly 0;
f = x1 · x2 gives the cross term ε_1 ε_2 at every output, whose RMS tends to σ²; f = x1 gives 0
for every pair. Whether a pair's number is a finding or noise is decided by
:mod:`rnnviz.attr.reliance` (the noise floor that pairs with an unread feature set).

Which outputs count: as in :func:`rnnviz.attr.scoring.perturbation_importance`, only those with
``valid`` true (outputs whose target is defined); ``valid=None`` counts every output.

Noise: repeat r draws its per-feature noise exactly as ``perturbation_importance`` does (the
first draw of ``default_rng(SeedSequence([seed, r]))``, shape (F, n, T), times σ), so with the
same seed the single effects here equal the per-feature bars' numbers.

The diagonal (a feature with itself) is not a pair: it is NaN in every matrix (``None`` in
JSON), so that no plot or ranking can mistake it for "no interaction".

Batched: per repeat, the F single copies and the F(F−1)/2 pair copies go through the model
together in as few calls as ``max_values`` allows (:func:`rnnviz.attr.scoring.batched_copies`);
the
unperturbed sample rides in the first of them (:func:`rnnviz.attr.scoring.base_and_copies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.attr.scoring import (
    DEFAULT_MAX_VALUES,
    PredictFn,
    base_and_copies,
    batched_copies,
    check_max_values,
    check_noise,
    check_x,
    output_counts,
)
from rnnviz.metrics import json_list, output_mask, rms


@dataclass(frozen=True)
class InteractionResult:
    """Interaction strength of every feature pair, per repeat (NaN on the diagonal)."""

    sigma: float
    feature_names: tuple[str, ...]
    importances: np.ndarray  # (R, F, F): RMS of Δ_ij − Δ_i − Δ_j, symmetric, NaN diagonal
    single: np.ndarray  # (R, F): RMS of Δ_i, the per-feature effect from the same draws
    output_counts: np.ndarray | None = None  # (T_out,) sequences counted at each output step
    joint: np.ndarray | None = None  # (R, F, F): RMS of Δ_ij, NaN diagonal (None: saved before)

    @property
    def n_repeats(self) -> int:
        return self.importances.shape[0]

    @property
    def importances_mean(self) -> np.ndarray:
        """(F, F) mean over repeats; NaN on the diagonal."""
        return self.importances.mean(axis=0)

    @property
    def importances_std(self) -> np.ndarray:
        """(F, F) standard deviation over repeats; NaN on the diagonal."""
        return self.importances.std(axis=0)

    @property
    def joint_mean(self) -> np.ndarray | None:
        """(F, F) mean RMS of the joint change Δ_ij over repeats (None when not kept)."""
        return None if self.joint is None else self.joint.mean(axis=0)

    @property
    def single_mean(self) -> np.ndarray:
        return self.single.mean(axis=0)

    @property
    def single_std(self) -> np.ndarray:
        return self.single.std(axis=0)

    def pairs(self) -> list[tuple[int, int, float, float]]:
        """Every pair (i < j) as (i, j, mean, std), strongest first (ties: in index order)."""
        mean, std = self.importances_mean, self.importances_std
        rows = [
            (i, j, float(mean[i, j]), float(std[i, j]))
            for i in range(len(self.feature_names))
            for j in range(i + 1, len(self.feature_names))
        ]
        return sorted(rows, key=lambda r: -r[2])

    def strongest(self) -> tuple[int, int, float]:
        """The pair (i, j) with the largest mean interaction, and that mean."""
        i, j, value, _ = self.pairs()[0]
        return i, j, value

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (null on the diagonal: a feature with itself is no pair)."""
        names = self.feature_names
        i, j, value = self.strongest()
        out: dict = {
            "sigma": self.sigma,
            "n_repeats": self.n_repeats,
            "features": list(names),
            "diagonal": "null: a feature with itself is not a pair",
            "importances_mean": json_list(self.importances_mean),
            "importances_std": json_list(self.importances_std),
            "importances": json_list(self.importances),
            "single_mean": self.single_mean.tolist(),
            "single_std": self.single_std.tolist(),
            "pairs": [
                {"pair": [names[a], names[b]], "mean": m, "std": s} for a, b, m, s in self.pairs()
            ],
            "strongest": {"pair": [names[i], names[j]], "mean": value},
        }
        if self.joint is not None:
            out["joint_mean"] = json_list(self.joint_mean)
        if self.output_counts is not None:
            out["outputs_counted"] = int(np.asarray(self.output_counts).sum())
        return out


def interaction_importance(
    predict: PredictFn,
    x: np.ndarray,
    *,
    sigma: float = 0.2,
    n_repeats: int = 5,
    seed: int = 0,
    valid: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    max_values: int = DEFAULT_MAX_VALUES,
) -> InteractionResult:
    """Interaction strength of every feature pair of ``predict`` on ``x`` (n, T, F).

    See the module docstring for the definition. ``valid`` (n, T_out) marks the outputs that
    count (None: all). The same arguments and seed give identical numbers, whatever
    ``max_values`` is.
    """
    x = check_x(x)
    if x.shape[2] < 2:
        raise ValueError("interactions need at least 2 features (a pair)")
    check_noise(sigma, n_repeats)
    check_max_values(max_values)
    n, seq_len, n_features = x.shape
    names = tuple(names or (f"x{i + 1}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features")
    pairs = [(i, j) for i in range(n_features) for j in range(i + 1, n_features)]
    jobs: list[tuple[int, ...]] = [(f,) for f in range(n_features)] + pairs
    importances = np.full((n_repeats, n_features, n_features), np.nan)
    joint = np.full((n_repeats, n_features, n_features), np.nan)
    single = np.empty((n_repeats, n_features))
    for r in range(n_repeats):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r]))
        noise = rng.standard_normal((n_features, n, seq_len), dtype=np.float32) * sigma

        def add_noise(copy: np.ndarray, job: tuple[int, ...], noise=noise) -> None:
            for f in job:
                copy[:, :, f] += noise[f]

        if r == 0:  # the unperturbed outputs come with the first repeat's copies
            base, chunks = base_and_copies(predict, x, jobs, add_noise, max_values)
            mask = output_mask(valid, base.shape)
        else:
            chunks = batched_copies(predict, x, jobs, add_noise, max_values)
        deltas = np.empty((n_features, *base.shape))  # Δ_i, kept for the pairs
        # Singles come first in ``jobs``, so every Δ_i is known before any pair's chunk.
        for chunk, out in chunks:
            change = out - base[None]  # (k, n, T_out)
            for k, job in enumerate(chunk):
                if len(job) == 1:
                    deltas[job[0]] = change[k]
                    single[r, job[0]] = rms(change[k] ** 2, mask)
                else:
                    i, j = job
                    extra = change[k] - deltas[i] - deltas[j]
                    importances[r, i, j] = importances[r, j, i] = rms(extra**2, mask)
                    joint[r, i, j] = joint[r, j, i] = rms(change[k] ** 2, mask)
    counts = output_counts(mask, base.shape)
    return InteractionResult(sigma, names, importances, single, counts, joint)


__all__ = [
    "InteractionResult",
    "interaction_importance",
]
