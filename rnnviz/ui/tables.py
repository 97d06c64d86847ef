"""Scores as text: the thread's table, a tidy CSV and JSON (pure functions, no streamlit)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

import numpy as np

from rnnviz.config import Config
from rnnviz.scoring import PerturbationResult, step_ranges


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
