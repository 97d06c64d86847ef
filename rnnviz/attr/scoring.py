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
large batched calls, chunked so that no call holds more than ``max_values`` input numbers; the
unperturbed sample rides in the first of them (:func:`base_and_copies`).

Lags: with input and output steps aligned (T_out == T_in = T), ``by_lag()`` averages the
response along its diagonals, lag = t_out - s_in from -(T-1) to T-1 (column j is lag
j - (T - 1); :func:`rnnviz.metrics.lag_values` gives the lags). A causal model has
exactly zero effect at every negative lag; a bidirectional one does not. The result type,
:class:`rnnviz.attr.attribution.PerturbationResult`, is the one every method returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from rnnviz.attr.attribution import PerturbationResult, trim_lags
from rnnviz.metrics import output_mask, rms

__all__ = [
    "DEFAULT_MAX_VALUES",
    "PerturbationResult",
    "base_and_copies",
    "batched_copies",
    "check_x",
    "copy_effects",
    "copy_jobs",
    "perturbation_importance",
    "predict_rows",
    "row_chunks",
    "trim_lags",
]

PredictFn = Callable[[np.ndarray], np.ndarray]

REPEATS_GUARD = 1000  # for direct calls; the app bounds n_repeats by Config (registry.MAX_REPEATS)
DEFAULT_MAX_VALUES = 4_000_000  # input numbers per predict call (16 MB of float32)

Job = tuple[int, int | None]  # (feature, None: every step | one input step)


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
    """Perturbation sensitivity of ``predict`` on ``x``: how much its outputs move when
    N(0, ``sigma``) noise is added to one feature (see the module docstring).

    The same arguments and seed give identical numbers, whatever ``max_values`` is.

    Parameters
    ----------
    predict : callable
        ``predict(x) -> y``: inputs (m, T, F) to outputs (m, T_out), numpy in and out (a
        :class:`rnnviz.training.predictor.Predictor` wraps a Keras model so).
    x : ndarray, shape (n, T, F)
        The sequences to perturb.
    sigma : float
        Standard deviation of the added noise, in the inputs' units.
    n_repeats : int
        Independent noise draws; their spread is ``importances_std``.
    seed : int
        Seed of the noise.
    per_step : bool
        Also perturb each input step alone: the ``response`` tensor, ``cell`` effects and
        ``by_lag()`` (F x T more calls' worth of copies).
    feature_names : sequence of str, optional
        One name per feature (default x1, x2, ...).
    max_values : int
        Most input numbers in one call of ``predict`` (memory bound; numbers do not change).
    valid : ndarray of bool, shape (n, T_out), optional
        The outputs whose target is defined, the only ones that count (None: all).

    Returns
    -------
    PerturbationResult
        ``importances`` (F, n_repeats): the RMS change of the counted outputs when the feature
        is perturbed at every step; with ``per_step`` also ``response`` (F, T, T_out, R) and
        ``cell`` (F, T, R).

    Examples
    --------
    An output that reads x1 at the same step and x2 one step back, and never x3:

    >>> import numpy as np
    >>> def predict(x):
    ...     y = x[:, :, 0].copy()
    ...     y[:, 1:] += x[:, :-1, 1]
    ...     return y
    >>> x = np.random.default_rng(0).random((50, 4, 3), dtype=np.float32)
    >>> scores = perturbation_importance(predict, x, sigma=0.1, n_repeats=2)
    >>> scores.feature_names
    ('x1', 'x2', 'x3')
    >>> scores.importances_mean[2]  # x3 is never read: exactly no effect
    np.float64(0.0)
    >>> bool(scores.importances_mean[0] > scores.importances_mean[1] > 0)  # x2: 3 of 4 steps
    True
    >>> round(float(scores.importances_mean[0]), 1)  # each output moves by x1's noise: sigma
    0.1

    By lag (output step minus input step), x2 acts one step later, and only then:

    >>> from rnnviz.attr.attribution import drawn_lags
    >>> lags, profile = drawn_lags(scores)
    >>> lags.tolist(), [bool(v > 0) for v in profile[1]]
    ([0, 1, 2, 3], [False, True, False, False])
    """
    x = check_x(x)
    check_max_values(max_values)
    check_noise(sigma, n_repeats)
    n, seq_len, n_features = x.shape
    names = tuple(feature_names or (f"x{i + 1}" for i in range(n_features)))
    if len(names) != n_features:
        raise ValueError(f"{len(names)} feature names for {n_features} features")
    jobs = copy_jobs(n_features, seq_len, per_step)
    importances = np.empty((n_features, n_repeats))
    response = None
    for r in range(n_repeats):
        rng = np.random.default_rng(np.random.SeedSequence([seed, r]))
        # Every draw is made up front in a fixed order, so chunking cannot change the numbers.
        noise_feature = rng.standard_normal((n_features, n, seq_len), dtype=np.float32) * sigma
        noise_cell = rng.standard_normal((n_features, seq_len, n), dtype=np.float32) * sigma

        def add_noise(copy, job, noise_feature=noise_feature, noise_cell=noise_cell) -> None:
            f, s = job
            if s is None:
                copy[:, :, f] += noise_feature[f]
            else:
                copy[:, s, f] += noise_cell[f, s]

        if r == 0:  # the unperturbed outputs come with the first repeat's copies
            base, chunks = base_and_copies(predict, x, jobs, add_noise, max_values)
            mask = output_mask(valid, base.shape)
            if per_step:
                response = np.empty((n_features, seq_len, base.shape[1], n_repeats))
        else:
            chunks = batched_copies(predict, x, jobs, add_noise, max_values)
        feature, cells = _tally_effects(chunks, x.shape, base, mask, per_step)
        importances[:, r] = feature
        if response is not None:
            response[..., r] = cells
    return PerturbationResult(sigma, names, importances, response, output_counts(mask, base.shape))


def copy_jobs(n_features: int, seq_len: int, per_step: bool = True) -> list[Job]:
    """The copies of the perturbation loop, in its order: each feature at every step, then
    (``per_step``) each (feature, input step)."""
    jobs: list[Job] = [(f, None) for f in range(n_features)]
    if per_step:
        jobs += [(f, s) for f in range(n_features) for s in range(seq_len)]
    return jobs


def copy_effects(
    predict: PredictFn,
    x: np.ndarray,
    base: np.ndarray,
    mask: np.ndarray | None,
    edit: Callable[[np.ndarray, Job], None],
    per_step: bool = True,
    max_values: int = DEFAULT_MAX_VALUES,
    on_feature: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The perturbation loop every copy-editing method shares: each feature edited at every
    step, then (``per_step``) at each input step alone, and the RMS change of the outputs.

    ``edit(copy, (f, s))`` changes an (n, T, F) copy in place (``s`` None: every step).
    Returns (F,) the RMS change of all counted outputs, and (F, T, T_out) the RMS over the
    counted sequences per output step (NaN where none counted), or None without ``per_step``.
    ``on_feature(f, outputs)`` sees the (n, T_out) outputs of each whole-feature copy.
    """
    jobs = copy_jobs(x.shape[2], x.shape[1], per_step)
    chunks = batched_copies(predict, x, jobs, edit, max_values)
    return _tally_effects(chunks, x.shape, base, mask, per_step, on_feature)


def _tally_effects(
    chunks: Iterator[tuple[Sequence[Job], np.ndarray]],
    shape: tuple[int, ...],
    base: np.ndarray,
    mask: np.ndarray | None,
    per_step: bool = True,
    on_feature: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`copy_effects`'s RMS changes from the outputs of its copies (every job of
    :func:`copy_jobs` for a sample of ``shape`` (n, T, F), in any chunking)."""
    _, seq_len, n_features = shape
    feature = np.empty(n_features)
    response = np.empty((n_features, seq_len, base.shape[1])) if per_step else None
    for chunk, out in chunks:
        diff2 = (out - base[None]) ** 2  # (k, n, T_out)
        for k, (f, s) in enumerate(chunk):
            if s is None:
                feature[f] = rms(diff2[k], mask)
                if on_feature is not None:
                    on_feature(f, out[k])
            else:
                response[f, s] = rms_per_output(diff2[k], mask)
    return feature, response


def output_counts(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """(T_out,) sequences counted at each output step."""
    if mask is None:
        return np.full(shape[1], shape[0], dtype=np.int64)
    return mask.sum(axis=0).astype(np.int64)


def rms_per_output(diff2: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(T_out,) RMS over the counted sequences of squared changes (n, T_out); NaN where none."""
    if mask is None:
        return np.sqrt(diff2.mean(axis=0))
    counts = mask.sum(axis=0)
    total = np.where(mask, diff2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.sqrt(total / counts), np.nan)


def check_x(x: np.ndarray) -> np.ndarray:
    """``x`` as float32 (sequences, steps, features), finite: the one check of a sample."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"x must have shape (sequences, steps, features), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    return x


def check_noise(sigma: float, n_repeats: int) -> None:
    """The noise of a perturbation: a positive finite ``sigma`` and 1 .. REPEATS_GUARD draws."""
    if not (isinstance(sigma, int | float) and np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma!r}")
    if not (isinstance(n_repeats, int) and 1 <= n_repeats <= REPEATS_GUARD):
        raise ValueError(f"n_repeats must be a whole number from 1 to {REPEATS_GUARD}")


def check_max_values(max_values: int) -> None:
    """``max_values`` (input numbers per model call) must be a positive whole number."""
    if isinstance(max_values, bool) or not isinstance(max_values, int | np.integer):
        raise ValueError("max_values must be a whole number")
    if max_values < 1:
        raise ValueError("max_values must be positive")


def row_chunks(rows: int, values_per_row: int, max_values: int) -> Iterator[slice]:
    """Slices of ``rows`` rows, as many per slice as keep ``values_per_row`` x rows within
    ``max_values`` (but >= 1 row): the one chunking of every batched predict and gradient."""
    per_call = max(1, max_values // values_per_row)
    for start in range(0, rows, per_call):
        yield slice(start, min(start + per_call, rows))


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
    for part in row_chunks(len(jobs), x.size, max_values):
        chunk = jobs[part]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for k, job in enumerate(chunk):
            edit(batch[k], job)
        out = predict_rows(predict, batch.reshape(-1, seq_len, n_features), len(chunk) * n)
        yield chunk, out.reshape(len(chunk), n, -1)


_UNEDITED = object()  # the job of base_and_copies's unedited copy (no caller's job is this)


def base_and_copies(
    predict: PredictFn,
    x: np.ndarray,
    jobs: Sequence[Any],
    edit: Callable[[np.ndarray, Any], None],
    max_values: int = DEFAULT_MAX_VALUES,
) -> tuple[np.ndarray, Iterator[tuple[Sequence[Any], np.ndarray]]]:
    """(outputs of ``x`` itself (n, T_out), :func:`batched_copies` of ``jobs``), the unedited
    ``x`` riding in the first call as one more copy.

    A model fed fixed-shape batches (:class:`rnnviz.training.predictor.Predictor`) pads every
    call to its batch size, so a call of the n originals alone costs as much as a full one: sharing
    the first call saves it. The originals are predicted at once; the copies as the iterator
    runs.
    """

    def edit_or_not(copy: np.ndarray, job: Any) -> None:
        if job is not _UNEDITED:
            edit(copy, job)

    chunks = batched_copies(predict, x, [_UNEDITED, *jobs], edit_or_not, max_values)
    first, out = next(chunks)
    base = out[0]
    if len(first) == 1:
        return base, chunks
    return base, itertools.chain([(first[1:], out[1:])], chunks)
