"""Snapshots of reliance while a network trains: per-feature effects and lag profile, step by step.

During a training (``rnnviz.training.fit.train``) the weights are captured at ``SNAPSHOT_TARGET``
evenly spaced optimiser steps from 0 (the initial weights) to the last (:func:`snapshot_steps`),
and each capture is scored here by :func:`snapshot_scores`: a
small perturbation scoring on at most ``SNAPSHOT_SEQUENCES`` held-out sequences (fewer with
many features, :func:`snapshot_rows`) in ONE call of the model:

* per-feature effect: feature f nudged by N(0, σ) at every step, RMS change of the counted
  outputs (the thread's method, as :func:`rnnviz.attr.scoring.perturbation_importance`, 1
  repeat);
* lag profile: in one more copy per feature, sequence k is nudged at input step s_k = k mod T
  only, so the copy covers every input step across the sequences; the profile at lag L is the
  RMS of the changes at the counted outputs t = s_k + L, pooled over sequences and outputs.
  (The full scoring's profile averages per-output RMS values over t from every sequence at
  every step; this one needs 1 copy per feature instead of T, and estimates the same shape.)
* the loss and accuracy of the un-nudged predictions on those sequences (held out, so the
  same yardstick at every step).

Every snapshot of a training uses the SAME noise (drawn from the config's seed), so a change
between snapshots is a change of the model, never of the draw. Nothing here reads or writes
the weights being trained: a training gives the same weights with and without snapshots.
Plain numpy (no TensorFlow): results read back from the disk cache carry their snapshots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.metrics import accuracy as accuracy_of
from rnnviz.metrics import cross_entropy, json_list, lag_values, mse, output_mask, rms

SNAPSHOT_TARGET = 20  # at least this many evenly spaced snapshots when a training has the steps
SNAPSHOT_SEQUENCES = 100  # held-out sequences scored per snapshot (fewer when features are many)
SNAPSHOT_MAX_ROWS = 256  # sequences (copies included) in a snapshot's one model call
SNAPSHOT_STREAM = 13  # separates the snapshots' noise from the other streams of config.seed


def snapshot_steps(total_steps: int, target: int = SNAPSHOT_TARGET) -> list[int]:
    """The optimiser steps after which a snapshot is taken, step 0 (the initial weights)
    included: ``target`` steps evenly spaced over 0 .. ``total_steps``, round(k * total /
    (target - 1)) for k = 0 .. target - 1 (the last is the last step), or every step of a
    shorter training."""
    total = int(total_steps)
    if total < target:
        return list(range(total + 1))
    return sorted({round(k * total / (target - 1)) for k in range(target)})


def snapshot_rows(n_features: int, n_available: int, seq_len: int = 1) -> int:
    """Sequences scored per snapshot: at most SNAPSHOT_SEQUENCES (and those available); as many
    as let the base copy and 2 copies per feature fit in SNAPSHOT_MAX_ROWS rows (one small
    model call), but not fewer than ``seq_len`` (one per input step for the lag copies)."""
    fit = SNAPSHOT_MAX_ROWS // (1 + 2 * n_features)
    return max(1, min(SNAPSHOT_SEQUENCES, n_available, max(fit, seq_len)))


@dataclass(frozen=True, eq=False)  # arrays inside: == would be elementwise, so identity
class Snapshot:
    """What the network relies on after ``step`` optimiser steps."""

    step: int  # optimiser steps done (0: the initial weights)
    epoch: float  # step in epochs (step / steps per epoch)
    loss: float | None  # binary cross-entropy (regression: MSE) on held-out sequences
    accuracy: float | None  # on the same sequences, threshold 0.5
    train_loss: float | None  # Keras's running mean of this epoch's batch losses (None at 0)
    effects: np.ndarray  # (F,) RMS change when feature f is nudged at every step
    by_lag: np.ndarray  # (F, 2T-1) lags -(T-1) .. T-1 (NaN: no counted output at that lag)
    sequences: int | None = None  # held-out sequences scored (None: read from an older cache)
    sigma: float | None = None  # the noise scale of the nudges (None: an older cache)

    @property
    def lags(self) -> np.ndarray:
        return lag_values((self.by_lag.shape[1] + 1) // 2)

    def to_dict(self) -> dict:
        """JSON-ready (null: no counted output at that lag)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "train_loss": self.train_loss,
            "effects": [float(v) for v in self.effects],
            "by_lag": json_list(self.by_lag),
            "sequences": self.sequences,
            "sigma": self.sigma,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Snapshot:
        return cls(
            step=int(data["step"]),
            epoch=float(data["epoch"]),
            loss=_maybe(data.get("loss")),
            accuracy=_maybe(data.get("accuracy")),
            train_loss=_maybe(data.get("train_loss")),
            effects=np.asarray(data["effects"], dtype=np.float64),
            by_lag=np.array(
                [[np.nan if v is None else v for v in row] for row in data["by_lag"]],
                dtype=np.float64,
            ),
            sequences=None if data.get("sequences") is None else int(data["sequences"]),
            sigma=_maybe(data.get("sigma")),
        )


def _maybe(v) -> float | None:
    return None if v is None else float(v)


def snapshot_noise(seed: int, n: int, seq_len: int, n_features: int, sigma: float):
    """The draws every snapshot of a training shares: (F, n, T) for the every-step copies and
    (F, n) for the one-step copies."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SNAPSHOT_STREAM]))
    every = rng.standard_normal((n_features, n, seq_len), dtype=np.float32) * np.float32(sigma)
    one = rng.standard_normal((n_features, n), dtype=np.float32) * np.float32(sigma)
    return every, one


def snapshot_batch(x: np.ndarray, noise) -> np.ndarray:
    """(1 + 2F) copies of ``x`` (n, T, F) stacked: the base, F every-step nudges, F one-step
    nudges (sequence k at step k mod T)."""
    n, seq_len, n_features = x.shape
    every, one = noise
    batch = np.repeat(np.asarray(x, dtype=np.float32)[None], 1 + 2 * n_features, axis=0)
    steps = np.arange(n) % seq_len
    for f in range(n_features):
        batch[1 + f, :, :, f] += every[f]
        batch[1 + n_features + f, np.arange(n), steps, f] += one[f]
    return batch.reshape(-1, seq_len, n_features)


def _snapshot(
    out, n_features, y, valid, step, epoch, train_loss, regression=False, sigma=None
) -> Snapshot:
    base = out[0]
    n, seq_len = base.shape
    mask = output_mask(valid, base.shape)
    counted = np.ones_like(base, dtype=bool) if mask is None else mask
    effects = np.array([rms((out[1 + f] - base) ** 2, mask) for f in range(n_features)])
    lag_index = (np.arange(seq_len)[None, :] - (np.arange(n) % seq_len)[:, None]) + seq_len - 1
    idx = lag_index[counted]
    counts = np.bincount(idx, minlength=2 * seq_len - 1)
    by_lag = np.empty((n_features, 2 * seq_len - 1))
    for f in range(n_features):
        sums = np.bincount(idx, ((out[1 + n_features + f] - base) ** 2)[counted], 2 * seq_len - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            by_lag[f] = np.where(counts > 0, np.sqrt(sums / np.maximum(counts, 1)), np.nan)
    loss = accuracy = None
    if y is not None:  # the same numbers as the validation's (rnnviz.training.fit.evaluate)
        t = np.asarray(y)[counted]
        if regression:  # a continuous target: mean squared error, no accuracy
            loss = mse(t, base[counted])
        else:
            loss, accuracy = cross_entropy(base[counted], t), accuracy_of(base[counted], t)
    return Snapshot(
        step=int(step),
        epoch=float(epoch),
        loss=loss,
        accuracy=accuracy,
        train_loss=None if train_loss is None or not math.isfinite(train_loss) else train_loss,
        effects=effects,
        by_lag=by_lag,
        sequences=int(n),
        sigma=None if sigma is None else float(sigma),
    )


def snapshot_scores(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    y: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    sigma: float = 0.2,
    seed: int = 0,
    step: int = 0,
    epoch: float = 0.0,
    train_loss: float | None = None,
    regression: bool = False,
) -> Snapshot:
    """One snapshot of ``predict`` on ``x`` (n, T, F) in one call (see the module docstring).

    ``y`` (n, T) labels give the loss and accuracy (``regression``: targets give the mean
    squared error, and there is no accuracy); ``valid`` (n, T) marks the counted outputs.
    """
    x = np.asarray(x, dtype=np.float32)
    n, seq_len, n_features = x.shape
    noise = snapshot_noise(seed, n, seq_len, n_features, sigma)
    out = np.asarray(predict(snapshot_batch(x, noise)), dtype=np.float64)
    out = out.reshape(1 + 2 * n_features, n, -1)
    if out.shape[2] != seq_len:
        raise ValueError("snapshots need one output per input step")
    return _snapshot(out, n_features, y, valid, step, epoch, train_loss, regression, sigma)


def stack(snapshots: Sequence[Snapshot]) -> dict[str, np.ndarray]:
    """Arrays over snapshots, for plots: step, epoch, loss, accuracy, train_loss (K,),
    effects (K, F), by_lag (K, F, 2T-1) and lags (2T-1,)."""
    if not snapshots:
        raise ValueError("no snapshots")

    def column(name: str) -> np.ndarray:
        return np.array(
            [np.nan if getattr(s, name) is None else getattr(s, name) for s in snapshots],
            dtype=np.float64,
        )

    return {
        "step": np.array([s.step for s in snapshots]),
        "epoch": column("epoch"),
        "loss": column("loss"),
        "accuracy": column("accuracy"),
        "train_loss": column("train_loss"),
        "effects": np.stack([s.effects for s in snapshots]),
        "by_lag": np.stack([s.by_lag for s in snapshots]),
        "lags": snapshots[0].lags,
    }


__all__ = [
    "SNAPSHOT_TARGET",
    "Snapshot",
    "snapshot_batch",
    "snapshot_steps",
    "snapshot_noise",
    "snapshot_rows",
    "snapshot_scores",
    "stack",
]
