"""Results as downloads and display tables: CSV and JSON from the results' own ``to_frame()``
and ``to_dict()`` (pure functions, no streamlit)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from rnnviz.attr.attribution import PerturbationResult, drawn_lags
from rnnviz.attr.comparison import Comparison
from rnnviz.config import Config
from rnnviz.metrics import json_list
from rnnviz.report.readings import reading, step_ranges

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
    frame = result.to_frame()
    frame = frame[frame["kind"] != "lag"].drop(columns="lag")
    steps, total = _counted(result)
    frame.insert(3, "sigma", result.sigma)
    frame.insert(6, "output_steps_counted", steps)
    frame.insert(7, "outputs_counted", total)
    return frame.to_csv(index=False, lineterminator="\n")


def scores_json(result: PerturbationResult, config: Config) -> str:
    """The scores (``to_dict()``) together with the configuration."""
    return json.dumps({"config": config.to_dict(), "scores": result.to_dict()}, indent=2)


def _counted(result: PerturbationResult) -> tuple[str, int | str]:
    """(output steps counted, e.g. "2-9", number of (sequence, output step) pairs counted)."""
    counts = result.output_counts
    if counts is None:
        return "", ""
    return step_ranges(np.flatnonzero(counts)), int(np.sum(counts))


def timestep_csv(result: PerturbationResult) -> str:
    """The per-timestep page's numbers as a tidy CSV: the heatmap and the lag profile.

    ``kind`` ``cell``: one row per (feature, input_step), the RMS change of every counted output
    when the feature is nudged at that step only (``mean``, ``std`` over repeats); ``kind``
    ``lag``: one row per (feature, lag) drawn, the mean RMS change of output t when the feature
    is nudged at t - lag (``mean``; empty where no output counted, no ``std``). Both say which
    outputs counted: ``output_steps_counted`` and ``outputs_counted``.
    """
    frame = result.to_frame()
    shown, _ = drawn_lags(result)
    keep = (frame["kind"] == "cell") | ((frame["kind"] == "lag") & frame["lag"].isin(shown))
    frame = frame.loc[keep, ["kind", "feature", "input_step", "lag", "mean", "std"]]
    steps, total = _counted(result)
    frame.insert(4, "sigma", result.sigma)
    frame["output_steps_counted"] = steps
    frame["outputs_counted"] = total
    return frame.to_csv(index=False, lineterminator="\n")


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


def comparison_csv(comparison: Comparison, truth_features: Iterable[int]) -> str:
    """The truth table as CSV: raw numbers (empty where a method has no such grain), seconds,
    caveat and the method's reading."""
    truth = list(truth_features)
    frame = comparison.to_frame()
    frame["reading"] = [reading(comparison, name, truth) for name in comparison.methods]
    return frame.to_csv(index=False, lineterminator="\n")


def method_scores_csv(comparison: Comparison, truth_features: Iterable[int] | None) -> str:
    """Per-feature scores of every method: mean, std over repeats, share of the method's max
    (and whether the rule reads the feature; no such column without ground truth: None)."""
    frame = comparison.scores_frame(list(truth_features or ()))
    if truth_features is None:
        frame = frame.drop(columns="used_by_rule")
    return frame.to_csv(index=False, lineterminator="\n")
