"""Perturbation sensitivity for any sequence model: the Cross Validated thread's method, and finer.

Model-agnostic: scoring needs only ``predict(x) -> y`` with x of shape (n, T, F) and y of shape
(n, T_out) (numpy in, numpy out). For each feature, Gaussian noise N(0, sigma) is added

* to that feature at every step (the thread's method): ``importances`` (F, R), the RMS change of
  all counted predictions, and
* to that feature at one input step only: the response tensor ``response[f, s, t]`` (RMS over
  the counted sequences of the change at output step t when feature f is perturbed at input
  step s), from which the per-cell effect ``cell[f, s]`` (RMS over counted outputs) derives.

Which outputs count: ``valid`` (n, T_out) marks the outputs whose target is defined. Where a
rule's lag or window reaches before t = 0, y_t is undefined, the model was never trained
there, and its outputs there say nothing about the rule: they count in no effect. Every RMS
runs over the (sequence, output step) pairs with ``valid`` true only; an output step where no
sequence counts is missing (NaN) in ``response``, never zero. ``valid=None`` counts every output
(an uploaded model without a rule), and a mask that is all true gives the same numbers, bit
for bit, as no mask.

``n_repeats`` independent noise draws give mean, std and every repeat, shaped like
scikit-learn's ``permutation_importance``. All perturbed copies go through the model in a few
large batched calls, chunked so that no call holds more than ``max_values`` input numbers.

Lags: with input and output steps aligned (T_out == T_in = T), ``by_lag()`` averages the
response along its diagonals, lag = t_out - s_in from -(T-1) to T-1 (column j is lag
j - (T - 1); :func:`lag_values` gives the lags). A causal model has exactly zero effect at
every negative lag; a bidirectional one does not.
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
    # (T_out,): sequences whose output t counted (its target is defined); None = all of them
    output_counts: np.ndarray | None = None

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
    def output_mask(self) -> np.ndarray | None:
        """(T_out,) bool: output steps where at least one sequence counted (None if unknown)."""
        if self.output_counts is not None:
            return np.asarray(self.output_counts) > 0
        if self.response is not None:
            return np.ones(self.response.shape[2], dtype=bool)
        return None

    @property
    def response_mean(self) -> np.ndarray:
        """(F, T_in, T_out) mean over repeats of the response tensor (NaN: output not counted)."""
        return self._need_response().mean(axis=-1)

    @property
    def cell(self) -> np.ndarray:
        """(F, T_in, R): RMS change of all counted outputs when feature f is perturbed at step s."""
        return pool_outputs(self._need_response(), self.output_counts)

    @property
    def cell_mean(self) -> np.ndarray:
        return self.cell.mean(axis=-1)

    @property
    def cell_std(self) -> np.ndarray:
        return self.cell.std(axis=-1)

    @property
    def lags(self) -> np.ndarray:
        """(2T-1,) the lag of each column of :meth:`by_lag`: -(T-1) .. T-1."""
        return lag_values(self._need_response().shape[1])

    def by_lag(self) -> np.ndarray:
        """(F, 2T-1): mean over counted output steps t of response[f, t - lag, t].

        Column j is lag j - (T - 1) (see :attr:`lags`). Needs input and output steps aligned
        (T_out == T_in); this is where a lagged rule shows.
        """
        return lag_profile(self.response_mean, self.output_counts)

    def _need_response(self) -> np.ndarray:
        if self.response is None:
            raise ValueError("this result was computed with per_step=False: no per-step effects")
        return self.response

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (means, stds and every repeat; null = output not counted)."""
        out: dict = {
            "sigma": self.sigma,
            "n_repeats": self.n_repeats,
            "features": list(self.feature_names),
            "importances_mean": self.importances_mean.tolist(),
            "importances_std": self.importances_std.tolist(),
            "importances": self.importances.tolist(),
        }
        if self.output_counts is not None:
            counts = np.asarray(self.output_counts)
            out["output_counts"] = counts.tolist()
            out["output_steps_counted"] = np.flatnonzero(counts).tolist()
            out["outputs_counted"] = int(counts.sum())
        if self.response is not None:
            out["cell_mean"] = self.cell_mean.tolist()
            out["cell_std"] = self.cell_std.tolist()
            out["response_mean"] = json_list(self.response_mean)
            if self.response.shape[1] == self.response.shape[2]:
                out["lags"] = self.lags.tolist()
                out["by_lag"] = json_list(self.by_lag())
        return out


def json_list(a: np.ndarray) -> list:
    """Nested lists of floats, with None where ``a`` is NaN (JSON has no NaN)."""
    a = np.asarray(a, dtype=np.float64)
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


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
    valid: np.ndarray | None = None,
) -> PerturbationResult:
    """Perturbation sensitivity of ``predict`` on ``x`` (n, T, F); see the module docstring.

    ``valid`` (n, T_out) bool: the outputs whose target is defined, the only ones that count
    (None: all). The same arguments and seed give identical numbers, whatever ``max_values`` is.
    """
    x = _check_inputs(x, sigma, n_repeats, max_values)
    n, seq_len, n_features = x.shape
    names = tuple(feature_names or (f"x{i + 1}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features")
    base = predict_rows(predict, x, n)
    mask = output_mask(valid, base.shape)
    counts = output_counts(mask, base.shape)
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
                    importances[f, r] = rms(diff2[k], mask)
                else:
                    response[f, s, :, r] = rms_per_output(diff2[k], mask)
    return PerturbationResult(sigma, names, importances, response, counts)


def output_mask(valid: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """``valid`` checked against the outputs' shape (n, T_out); None when every output counts.

    A (T_out,) mask applies to every sequence. Raises ValueError when no output counts.
    """
    if valid is None:
        return None
    mask = np.asarray(valid)
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("valid must hold true/false (or 0/1) for each output")
        mask = mask.astype(bool)
    if mask.shape == shape[1:]:
        mask = np.broadcast_to(mask, shape)
    if mask.shape != tuple(shape):
        raise ValueError(
            f"valid must mark each output: shape {tuple(shape)} (sequences, output steps), "
            f"got {mask.shape}"
        )
    if not mask.any():
        raise ValueError("no output has a defined target (valid is all false): nothing to score")
    return None if mask.all() else mask


def output_counts(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """(T_out,) sequences counted at each output step."""
    if mask is None:
        return np.full(shape[1], shape[0], dtype=np.int64)
    return mask.sum(axis=0).astype(np.int64)


def rms(diff2: np.ndarray, mask: np.ndarray | None) -> float:
    """RMS over the counted entries of squared changes (n, T_out)."""
    if mask is None:
        return float(np.sqrt(diff2.mean()))
    return float(np.sqrt(np.where(mask, diff2, 0.0).sum() / mask.sum()))


def rms_per_output(diff2: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(T_out,) RMS over the counted sequences of squared changes (n, T_out); NaN where none."""
    if mask is None:
        return np.sqrt(diff2.mean(axis=0))
    counts = mask.sum(axis=0)
    total = np.where(mask, diff2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.sqrt(total / counts), np.nan)


def pool_outputs(response: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """RMS over output steps (axis 2) of per-output RMS values, each weighted by its count.

    ``response`` (F, T_in, T_out, ...) holds, per output step, the RMS over the sequences
    counted there; weighting by ``counts`` (T_out,) gives the RMS over every counted
    (sequence, output step) pair. Output steps with no count (NaN) drop out.
    """
    if counts is None or _all_equal(counts):
        return np.sqrt((response**2).mean(axis=2))
    counts = np.asarray(counts, dtype=np.float64)
    shape = [1] * response.ndim
    shape[2] = -1
    weights = (counts / counts.sum()).reshape(shape)
    squares = np.where(weights > 0, response**2, 0.0)
    return np.sqrt((squares * weights).sum(axis=2))


def _all_equal(counts: np.ndarray) -> bool:
    counts = np.asarray(counts)
    return bool(counts.size and counts[0] > 0 and (counts == counts[0]).all())


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


def lag_values(seq_len: int) -> np.ndarray:
    """(2T-1,) lags -(T-1) .. T-1: the columns of :func:`lag_profile`."""
    return np.arange(1 - seq_len, seq_len)


def lag_profile(response: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """(F, 2T-1) from a response tensor (F, T, T): mean over t of response[f, t - lag, t].

    lag = output step - input step runs from -(T-1) to T-1 (column j is lag j - (T - 1), see
    :func:`lag_values`); negative lags are effects of later inputs on earlier outputs, exactly
    zero for a causal model. The mean runs over the output steps t that counted, weighted by
    ``counts`` (T_out,) (None: all outputs, equally); NaN where no output at that lag counted.
    Needs input and output steps aligned (T_out == T_in); this is where a lagged rule shows.
    """
    n_in, n_out = response.shape[1:3]
    if n_in != n_out:
        raise ValueError(
            f"effect by lag needs one output per input step; this model has {n_out} output "
            f"step(s) for {n_in} input steps"
        )
    equal = counts is None or _all_equal(counts)
    columns = []
    for lag in lag_values(n_in):
        diagonal = np.diagonal(response, offset=lag, axis1=1, axis2=2)  # (F, ..., outputs t)
        if equal:
            columns.append(diagonal.mean(axis=-1))
            continue
        t = np.arange(max(0, lag), n_out + min(0, lag))
        weights = np.asarray(counts, dtype=np.float64)[t]
        if weights.sum() == 0:
            columns.append(np.full(diagonal.shape[:-1], np.nan))
            continue
        values = np.where(weights > 0, diagonal, 0.0)
        columns.append((values * weights).sum(axis=-1) / weights.sum())
    return np.stack(columns, axis=1)


def trim_lags(lags: np.ndarray, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the negative lags when every effect there is exactly zero (or not counted).

    For a causal model the lag axis then starts at 0; a model that reads later inputs (e.g. a
    bidirectional LSTM) keeps them. ``profile`` is (F, L) over ``lags`` (L,).
    """
    lags = np.asarray(lags)
    profile = np.asarray(profile, dtype=np.float64)
    negative = lags < 0
    quiet = profile[:, negative]
    if np.all((quiet == 0.0) | np.isnan(quiet)):
        return lags[~negative], profile[:, ~negative]
    return lags, profile


def step_ranges(steps: Sequence[int]) -> str:
    """Steps as ranges: [0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8" (empty: "none")."""
    steps = sorted(int(s) for s in steps)
    if not steps:
        return "none"
    runs: list[list[int]] = []
    for step in steps:
        if runs and step == runs[-1][1] + 1:
            runs[-1][1] = step
        else:
            runs.append([step, step])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def counted_outputs(result: PerturbationResult) -> str:
    """Which outputs counted, in words: all of them, or the output steps with a target."""
    mask = result.output_mask
    if mask is None or mask.all():
        return "every output counted"
    counted = step_ranges(np.flatnonzero(mask))
    missing = step_ranges(np.flatnonzero(~mask))
    return (
        f"only outputs with a defined target counted: output steps {counted} "
        f"(no target at steps {missing})"
    )
