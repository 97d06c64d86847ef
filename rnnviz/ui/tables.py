"""Scores as text: the thread's table, a tidy CSV and JSON (pure functions, no streamlit)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

import numpy as np

from rnnviz.config import Config
from rnnviz.scoring import PerturbationResult, json_list, step_ranges, trim_lags


def thread_lines(result: PerturbationResult) -> str:
    """The Cross Validated thread's format: ``Variable 1, perturbation effect: 0.1162``."""
    return "\n".join(
        f"Variable {i + 1}, perturbation effect: {m:.4f}"
        for i, m in enumerate(result.importances_mean)
    )


FEATURE_COLUMNS = ("variable", "perturbation effect", "± std over repeats", "used by the rule")
DECIMALS = 4  # effects and their spreads, as in the thread's "perturbation effect: 0.1162"


def effect_text(value: float) -> str:
    """An effect (or its std) as shown: always DECIMALS decimals, trailing zeros kept."""
    return f"{float(value):.{DECIMALS}f}"


def feature_table(
    result: PerturbationResult, truth_features: Iterable[int] = ()
) -> dict[str, list[str]]:
    """Columns (FEATURE_COLUMNS) of the per-feature table as text: name, mean and std over
    repeats with one precision (``effect_text``), whether the rule uses the feature."""
    used = set(truth_features)
    n = len(result.feature_names)
    return dict(
        zip(
            FEATURE_COLUMNS,
            (
                [f"Variable {i + 1} ({result.feature_names[i]})" for i in range(n)],
                [effect_text(v) for v in result.importances_mean],
                [effect_text(v) for v in result.importances_std],
                ["yes" if i in used else "no" for i in range(n)],
            ),
            strict=True,
        )
    )


def scores_csv(result: PerturbationResult) -> str:
    """Tidy CSV: one row per feature (all steps perturbed) and per (feature, input step).

    Columns: ``kind`` (``feature`` or ``cell``), ``feature``, ``input_step`` (empty for
    ``feature`` rows), ``sigma``, ``mean``, ``std``, which outputs counted (those with a defined
    target): ``output_steps_counted`` (e.g. ``2-9``) and ``outputs_counted`` (the number of
    (sequence, output step) pairs), then one column per repeat.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    repeats = [f"repeat_{r + 1}" for r in range(result.n_repeats)]
    writer.writerow(
        [
            "kind",
            "feature",
            "input_step",
            "sigma",
            "mean",
            "std",
            "output_steps_counted",
            "outputs_counted",
            *repeats,
        ]
    )
    counts = result.output_counts
    steps = "" if counts is None else step_ranges(np.flatnonzero(counts))
    total = "" if counts is None else int(np.sum(counts))
    for f, name in enumerate(result.feature_names):
        row = result.importances[f]
        writer.writerow(
            ["feature", name, "", result.sigma, row.mean(), row.std(), steps, total, *row.tolist()]
        )
    if result.response is not None:
        cell = result.cell  # (F, T, R)
        for f, name in enumerate(result.feature_names):
            for s in range(cell.shape[1]):
                row = cell[f, s]
                writer.writerow(
                    ["cell", name, s, result.sigma, row.mean(), row.std(), steps, total]
                    + row.tolist()
                )
    return out.getvalue()


def scores_json(result: PerturbationResult, config: Config) -> str:
    """The scores (``PerturbationResult.to_dict()``) together with the configuration."""
    return json.dumps({"config": config.to_dict(), "scores": result.to_dict()}, indent=2)


def _counted(result: PerturbationResult) -> tuple[str, int | str]:
    """(output steps counted, e.g. "2-9", number of (sequence, output step) pairs counted)."""
    counts = result.output_counts
    if counts is None:
        return "", ""
    return step_ranges(np.flatnonzero(counts)), int(np.sum(counts))


def drawn_lags(result: PerturbationResult) -> tuple[np.ndarray, np.ndarray]:
    """(lags, (F, L) mean RMS change) of the lag profile as drawn: a causal model's negative
    lags, exactly zero, are left out (``trim_lags``); NaN where no output counted."""
    return trim_lags(result.lags, result.by_lag())


def timestep_csv(result: PerturbationResult) -> str:
    """The per-timestep page's numbers as a tidy CSV: the heatmap and the lag profile.

    ``kind`` ``cell``: one row per (feature, input_step), the RMS change of every counted output
    when the feature is nudged at that step only (``mean``, ``std`` over repeats); ``kind``
    ``lag``: one row per (feature, lag) drawn, the mean RMS change of output t when the feature
    is nudged at t - lag (``mean``; empty where no output counted, no ``std``). Both say which
    outputs counted: ``output_steps_counted`` and ``outputs_counted``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "kind",
            "feature",
            "input_step",
            "lag",
            "sigma",
            "mean",
            "std",
            "output_steps_counted",
            "outputs_counted",
        ]
    )
    steps, total = _counted(result)
    mean, std = result.cell_mean, result.cell_std
    for f, name in enumerate(result.feature_names):
        for s in range(mean.shape[1]):
            writer.writerow(
                ["cell", name, s, "", result.sigma, mean[f, s], std[f, s], steps, total]
            )
    lags, profile = drawn_lags(result)
    for f, name in enumerate(result.feature_names):
        for j, lag in enumerate(lags):
            value = "" if np.isnan(profile[f, j]) else profile[f, j]
            writer.writerow(["lag", name, "", int(lag), result.sigma, value, "", steps, total])
    return out.getvalue()


def timestep_json(result: PerturbationResult, about: dict) -> str:
    """The heatmap and the lag profile (as drawn) as JSON, after the entries of ``about`` (the
    configuration, or a description of an uploaded model). Missing values are null."""
    lags, profile = drawn_lags(result)
    mask = result.output_mask
    data = {
        **about,
        "sigma": result.sigma,
        "n_repeats": result.n_repeats,
        "features": list(result.feature_names),
        "output_steps_counted": [] if mask is None else np.flatnonzero(mask).tolist(),
        "heatmap": {
            "about": "RMS change of every counted output, one feature nudged at one input step",
            "input_steps": list(range(result.cell_mean.shape[1])),
            "mean": json_list(result.cell_mean),
            "std": json_list(result.cell_std),
        },
        "lag_profile": {
            "about": "mean RMS change of output t, the feature nudged at input step t - lag",
            "lags": [int(k) for k in lags],
            "mean": json_list(profile),
        },
    }
    return json.dumps(data, indent=2, allow_nan=False)
