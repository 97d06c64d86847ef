"""Perturbation sensitivity for any sequence model: the Cross Validated thread's method, and finer.

Model-agnostic: scoring needs only ``predict(x) -> y`` with x of shape (n, T, F) and y of shape
(n, T_out) (numpy in, numpy out). For each feature, Gaussian noise N(0, sigma) is added

* to that feature at every step (the thread's method): ``importances`` (F, R), the RMS change of
  all predictions, and
* to that feature at one input step only: the response tensor ``response[f, s, t]`` (RMS over
  sequences of the change at output step t when feature f is perturbed at input step s), from
  which the per-cell effect ``cell[f, s]`` (RMS over sequences and output steps) derives.

``n_repeats`` independent noise draws give mean, std and every repeat, shaped like
scikit-learn's ``permutation_importance``. All perturbed copies go through the model in a few
large batched calls, chunked so that no call holds more than ``max_values`` input numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PredictFn = Callable[[np.ndarray], np.ndarray]

MAX_REPEATS = 1000
DEFAULT_MAX_VALUES = 4_000_000  # input numbers per predict call (16 MB of float32)


@dataclass(frozen=True)
class PerturbationResult:
    """Effects of N(0, sigma) noise, per feature and per (feature, input step, output step)."""

    sigma: float
    feature_names: tuple[str, ...]
    importances: np.ndarray  # (F, R): all steps of feature f perturbed
    response: np.ndarray | None  # (F, T_in, T_out, R): feature f perturbed at step s only

    @property
    def n_repeats(self) -> int:
        return self.importances.shape[1]

    @property
    def importances_mean(self) -> np.ndarray:
        return self.importances.mean(axis=1)

    @property
    def importances_std(self) -> np.ndarray:
        return self.importances.std(axis=1)

    @property
    def response_mean(self) -> np.ndarray:
        """(F, T_in, T_out) mean over repeats of the response tensor."""
        return self._need_response().mean(axis=-1)

    @property
    def cell(self) -> np.ndarray:
        """(F, T_in, R): RMS change of all outputs when feature f is perturbed at step s."""
        return np.sqrt((self._need_response() ** 2).mean(axis=2))

    @property
    def cell_mean(self) -> np.ndarray:
        return self.cell.mean(axis=-1)

    @property
    def cell_std(self) -> np.ndarray:
        return self.cell.std(axis=-1)

    def by_lag(self) -> np.ndarray:
        """(F, L): mean over output steps t of response[f, t - lag, t], for lag 0 .. T-1.

        Needs input and output steps aligned (T_out == T_in); this is where a lagged rule shows.
        """
        return lag_profile(self.response_mean)

    def _need_response(self) -> np.ndarray:
        if self.response is None:
            raise ValueError("this result was computed with per_step=False: no per-step effects")
        return self.response

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (means, stds and every repeat)."""
        out: dict = {
            "sigma": self.sigma,
            "n_repeats": self.n_repeats,
            "features": list(self.feature_names),
            "importances_mean": self.importances_mean.tolist(),
            "importances_std": self.importances_std.tolist(),
            "importances": self.importances.tolist(),
        }
        if self.response is not None:
            out["cell_mean"] = self.cell_mean.tolist()
            out["cell_std"] = self.cell_std.tolist()
            out["response_mean"] = self.response_mean.tolist()
        return out


def perturbation_importance(
    predict: PredictFn,
    x: np.ndarray,
    *,
    sigma: float = 0.2,
    n_repeats: int = 5,
    seed: int = 0,
    per_step: bool = True,
    feature_names: Sequence[str] | None = None,
    max_values: int = DEFAULT_MAX_VALUES,
) -> PerturbationResult:
    """Perturbation sensitivity of ``predict`` on ``x`` (n, T, F); see the module docstring.

    The same arguments and seed give identical numbers, whatever ``max_values`` is.
    """
    x = _check_inputs(x, sigma, n_repeats, max_values)
    n, seq_len, n_features = x.shape
    names = tuple(feature_names or (f"x{i + 1}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features")
    base = predict_rows(predict, x, n)
    importances = np.empty((n_features, n_repeats))
    response = np.empty((n_features, seq_len, base.shape[1], n_repeats)) if per_step else None
    for r in range(n_repeats):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r]))
        # Every draw is made up front in a fixed order, so chunking cannot change the numbers.
        noise_feature = rng.standard_normal((n_features, n, seq_len), dtype=np.float32) * sigma
        noise_cell = rng.standard_normal((n_features, seq_len, n), dtype=np.float32) * sigma
        jobs: list[tuple[int, int | None]] = [(f, None) for f in range(n_features)]
        if per_step:
            jobs += [(f, s) for f in range(n_features) for s in range(seq_len)]

        def add_noise(copy, job, noise_feature=noise_feature, noise_cell=noise_cell) -> None:
            f, s = job
            if s is None:
                copy[:, :, f] += noise_feature[f]
            else:
                copy[:, s, f] += noise_cell[f, s]

        for chunk, out in batched_copies(predict, x, jobs, add_noise, max_values):
            diff2 = (out - base[None]) ** 2  # (k, n, T_out)
            for k, (f, s) in enumerate(chunk):
                if s is None:
                    importances[f, r] = np.sqrt(diff2[k].mean())
                else:
                    response[f, s, :, r] = np.sqrt(diff2[k].mean(axis=0))
    return PerturbationResult(sigma, names, importances, response)


def _check_inputs(x: np.ndarray, sigma: float, n_repeats: int, max_values: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"x must have shape (sequences, steps, features), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    if not (isinstance(sigma, int | float) and np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    if not (isinstance(n_repeats, int) and 1 <= n_repeats <= MAX_REPEATS):
        raise ValueError(f"n_repeats must be a whole number from 1 to {MAX_REPEATS}")
    if max_values < 1:
        raise ValueError("max_values must be positive")
    return x


def predict_rows(predict: PredictFn, x: np.ndarray, rows: int) -> np.ndarray:
    """Call the model and check that it returned one row of outputs per sequence: (rows, T_out)."""
    y = np.asarray(predict(x), dtype=np.float64)
    if y.shape[:1] != (rows,):
        raise ValueError(f"predict returned shape {y.shape} for {rows} sequences")
    return y.reshape(rows, -1)


def batched_copies(
    predict: PredictFn,
    x: np.ndarray,
    jobs: Sequence[Any],
    edit: Callable[[np.ndarray, Any], None],
    max_values: int = DEFAULT_MAX_VALUES,
) -> Iterator[tuple[Sequence[Any], np.ndarray]]:
    """Predict one edited copy of ``x`` per job, as many copies per call as fit.

    ``edit(copy, job)`` changes an (n, T, F) copy in place. Yields (the chunk's jobs, outputs
    of shape (k, n, T_out)); no call holds more than ``max_values`` input numbers (but >= 1 copy).
    This is the one place where perturbed copies meet the model: a few large calls, never one
    call per perturbation.
    """
    n, seq_len, n_features = x.shape
    per_call = max(1, max_values // x.size)
    for start in range(0, len(jobs), per_call):
        chunk = jobs[start : start + per_call]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for k, job in enumerate(chunk):
            edit(batch[k], job)
        out = predict_rows(predict, batch.reshape(-1, seq_len, n_features), len(chunk) * n)
        yield chunk, out.reshape(len(chunk), n, -1)


def lag_profile(response: np.ndarray) -> np.ndarray:
    """(F, L) from a response tensor (F, T_in, T_out): mean over t of response[f, t - L, t].

    Needs input and output steps aligned (T_out == T_in); this is where a lagged rule shows.
    """
    n_in, n_out = response.shape[1:3]
    if n_in != n_out:
        raise ValueError("effect by lag needs one output per input step")
    return np.stack(
        [np.diagonal(response, offset=lag, axis1=1, axis2=2).mean(axis=-1) for lag in range(n_in)],
        axis=1,
    )
