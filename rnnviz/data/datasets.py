"""Real data: "will it rain in Seattle tomorrow?" (and tomorrow's max temperature).

The series is the ``seattle-weather`` table that the ``vega_datasets`` package ships in its
files (pinned in requirements.txt; read with the csv module, nothing is downloaded): one row a
day from 2012-01-01 to 2015-12-31 with precipitation (mm), max and min temperature (°C) and
wind (m/s). Its ``weather`` column (sun, rain, fog, ...) is not used: it is a derived label.

The experiment, with the honesty real data needs:

* Windows of the last ``seq_len`` days (default 28: four weeks, long enough for the by-lag
  profile to show how far back the model reads, short enough that every split keeps more than
  330 windows) slide one day at a time. Step t of a window holds day d's measurements and its
  target is about day d + 1: rain tomorrow (precipitation > 0, classification) or tomorrow's
  max temperature in °C (regression). Every step's target is known, so every step counts.
* Time-ordered splits: train on 2012-2013, validate on 2014, score on 2015. A window never
  straddles a split boundary (its input days and target days all lie in one split), so no
  date of the score split appears in any training window.
* Features are standardised with the training split's mean and standard deviation only (the
  later years are never looked at to scale the data); see :data:`SIGMA_MEANING`.
* There is no ground truth: nobody knows which inputs tomorrow's weather "really" depends on.
  The effects describe what this model relies on; the verdict compares it with the majority
  class, the training mean and persistence ("tomorrow like today").

Measured with ``PRESETS["seattle-weather"]`` / ``["seattle-temp"]`` (seeds 0-4, the 337
forecast days of 2015 that have a full window): rain tomorrow 72.4-75.1% correct (mean 73.7%)
against 61.4% for "never rain" and 72.1% for persistence, never better than persistence by
more than chance (a sign test); it relies most on precipitation of the last 1-2 days.
Tomorrow's max temperature: R² 0.871-0.876 against the training mean, MSE 7.2-7.5 °C² against
8.6 for persistence (better by more than chance); it relies most on today's max temperature.
The day of year as sin/cos (``n_features=6``) made both worse on 2015 (rain 70.6%, R² 0.862,
no longer better than persistence), a warmer year than the training ones, so the default is
the four measurements alone. Precipitation is kept in mm (log1p did not change the accuracy).

This module gives the numbers (the splits, the baselines' scores, the reach of a lag profile)
and the series' labels; ``rnnviz.data.source.SeriesSource`` serves them to the rest of rnnviz
and ``rnnviz.report.readings`` (``judge``, ``series_reading``) makes their sentences.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnviz import metrics
from rnnviz.config import DATA_KINDS, Config
from rnnviz.data.base import DataError, Dataset

NAME = "seattle-weather"
PACKAGE = "vega_datasets"
PACKAGE_PIN = "vega_datasets==0.9.0"
MEASUREMENTS = ("precipitation", "temp_max", "temp_min", "wind")
SEASON = ("season_sin", "season_cos")  # day of year on the unit circle (n_features = 6)
UNITS = {"precipitation": "mm", "temp_max": "°C", "temp_min": "°C", "wind": "m/s"}
DESCRIPTIONS = {
    "precipitation": "precipitation",
    "temp_max": "max temperature",
    "temp_min": "min temperature",
    "wind": "wind",
    "season_sin": "day of year (sin)",
    "season_cos": "day of year (cos)",
}
OUTCOME_TEXT = {"rain": "rain tomorrow", "temp_max": "tomorrow's max temperature"}
# The effects' axis label: a change of a probability (rain) or of a temperature (°C).
EFFECT_AXIS = {
    "rain": "RMS change of P(rain tomorrow)",
    "temp_max": "RMS change of the forecast (°C)",
}

# Inclusive date ranges of the time-ordered splits: earlier years train, later years judge.
SPLITS: Mapping[str, tuple[str, str]] = DATA_KINDS[NAME].splits or {}  # config counts them
DEFAULT_WINDOW = 28

# The teaching sentence for the σ slider on a real series (the synthetic features are uniform on
# [0, 1), where σ is in the features' own units).
SIGMA_MEANING = (
    "Each feature is standardised with the training years' mean and standard deviation, so σ "
    "is a share of a feature's spread: σ = 0.2 adds noise of a fifth of a standard deviation "
    "of that measurement (for max temperature about 1.5 °C)."
)

# Two features move together (and share credit) when |ρ| on the training days reaches this.
CORRELATED = 0.7


class DatasetError(DataError):
    """The table cannot be used (missing column, bad value, gap in the days); says what to fix."""


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Table:
    """A daily series: ``dates`` (D,) datetime64[D], consecutive, and one float array a column."""

    dates: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.dates)

    def between(self, first: str, last: str) -> Table:
        """The rows from ``first`` to ``last`` (ISO dates, inclusive)."""
        keep = (self.dates >= np.datetime64(first)) & (self.dates <= np.datetime64(last))
        return Table(self.dates[keep], {k: v[keep] for k, v in self.columns.items()})


def read_table(source: str | Path | io.TextIOBase, columns: Sequence[str] = MEASUREMENTS) -> Table:
    """Parse a daily CSV with a ``date`` column (YYYY/MM/DD or YYYY-MM-DD) and ``columns``.

    Raises DatasetError naming the line and what to fix: a missing column, a value that is not
    a finite number, a date out of order or a missing day (windows need consecutive days).
    """
    if isinstance(source, str | Path):
        with open(source, newline="", encoding="utf-8") as f:
            return _parse(f, str(source), columns)
    return _parse(source, getattr(source, "name", "the table"), columns)


def _parse(lines: Iterable[str], where: str, columns: Sequence[str]) -> Table:
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    missing = [c for c in ("date", *columns) if c not in header]
    if missing:
        raise DatasetError(
            f"{where}: missing column(s) {', '.join(missing)}; the header must name date and "
            f"{', '.join(columns)} (found: {', '.join(header) or 'no header'})"
        )
    dates: list[dt.date] = []
    values: dict[str, list[float]] = {c: [] for c in columns}
    for row in reader:
        line = reader.line_num
        text = (row.get("date") or "").strip()
        try:
            day = dt.date.fromisoformat(text.replace("/", "-"))
        except ValueError:
            raise DatasetError(
                f"{where}, line {line}: date {text!r} is not a date; write YYYY/MM/DD or YYYY-MM-DD"
            ) from None
        if dates and day != dates[-1] + dt.timedelta(days=1):
            raise DatasetError(
                f"{where}, line {line}: {day} follows {dates[-1]}; the days must be consecutive "
                "and in order (fill or remove the gap)"
            )
        dates.append(day)
        for c in columns:
            raw = (row.get(c) or "").strip()
            try:
                v = float(raw)
            except ValueError:
                v = math.nan
            if not math.isfinite(v):
                raise DatasetError(
                    f"{where}, line {line}: {c} = {raw!r} is not a number; every day needs "
                    f"a finite value of {c}"
                )
            values[c].append(v)
    if not dates:
        raise DatasetError(f"{where}: no rows after the header")
    return Table(
        np.array(dates, dtype="datetime64[D]"),
        {c: np.array(v, dtype=np.float64) for c, v in values.items()},
    )


@functools.lru_cache(maxsize=1)
def seattle_weather() -> Table:
    """The full table from the installed ``vega_datasets`` package's files (read once)."""
    from importlib.resources import files

    try:
        resource = files(PACKAGE) / "_data" / "seattle-weather.csv"
        text = resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        raise DatasetError(
            f"the {NAME} data ships in the {PACKAGE} package: install it with "
            f"`pip install {PACKAGE_PIN}` (it is in requirements.txt)"
        ) from None
    return _parse(io.StringIO(text), f"{PACKAGE}/_data/seattle-weather.csv", MEASUREMENTS)


# --------------------------------------------------------------------------- features, windows


def feature_names(n_features: int) -> tuple[str, ...]:
    """The 4 measurements, then the day of year as sin/cos when ``n_features`` is 6."""
    if n_features == len(MEASUREMENTS):
        return MEASUREMENTS
    if n_features == len(MEASUREMENTS) + len(SEASON):
        return MEASUREMENTS + SEASON
    raise DatasetError(f"{NAME} has 4 features (or 6 with the day of year), not {n_features}")


def raw_features(table: Table, names: Sequence[str]) -> np.ndarray:
    """(D, F) the named features of every day, in their own units (season: sin/cos)."""
    day_of_year = (table.dates - table.dates.astype("datetime64[Y]")).astype(int)
    angle = 2 * np.pi * day_of_year / 365.25
    extra = {"season_sin": np.sin(angle), "season_cos": np.cos(angle)}
    return np.stack([extra[n] if n in extra else table.columns[n] for n in names], axis=1)


def outcome_series(table: Table, outcome: str) -> np.ndarray:
    """(D,) each day's value of the outcome: rain (1 if precipitation > 0, else 0) or °C."""
    if outcome == "rain":
        return (table.columns["precipitation"] > 0).astype(np.float64)
    if outcome == "temp_max":
        return table.columns["temp_max"].astype(np.float64)
    raise DatasetError(f"unknown outcome {outcome!r}: use rain or temp_max")


def windows(
    values: np.ndarray, target: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sliding windows of ``window`` days, one day apart, and their next-day targets.

    ``values`` (D, F) and ``target`` (D,) of consecutive days give n = D - window windows:
    ``x[i, t] = values[i + t]``, ``y[i, t] = target[i + t + 1]`` (tomorrow's), and ``start[i]
    = i``. Every day a window reads, and every day its targets are about, lies among the D.
    """
    n = len(values) - window
    if n < 1:
        raise DatasetError(
            f"{len(values)} days give no window of {window} days with a next day; use a "
            "shorter window or a longer range"
        )
    idx = np.arange(n)[:, None] + np.arange(window)[None, :]  # (n, T) day index of step t
    return values[idx], target[idx + 1], idx


@dataclass(frozen=True)
class Scaler:
    """Per-feature mean and standard deviation of the training split (never of later years)."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,)

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std


@dataclass(frozen=True)
class SeriesSplit:
    """One split of a real series: the model's ``Dataset`` and what a page needs to explain it.

    ``data.x`` is standardised (float32), ``data.y`` the targets in the outcome's units (0/1 or
    °C), ``data.valid`` all true. ``days[i, t]`` is the day step t of window i reads (its target
    is about the next day); ``persistence[i, t]`` the persistence forecast (today's value of the
    outcome: rain today, today's max temperature). ``target_mean``/``target_std``: the outcome
    on the training days, the "predict the training mean" baseline and the regression head's
    scale.
    """

    data: Dataset
    split: str
    outcome: str
    feature_names: tuple[str, ...]
    days: np.ndarray  # (n, T) datetime64[D]
    persistence: np.ndarray  # (n, T) float32
    scaler: Scaler
    target_mean: float
    target_std: float

    @property
    def task(self) -> str:
        return "regression" if self.outcome == "temp_max" else "classification"

    @property
    def unit(self) -> str:
        """The outcome's unit ("" for rain: effects are changes of a probability)."""
        return "°C" if self.outcome == "temp_max" else ""


def build_split(
    table: Table,
    split: str,
    *,
    outcome: str = "rain",
    window: int = DEFAULT_WINDOW,
    n_features: int = len(MEASUREMENTS),
    ranges: Mapping[str, tuple[str, str]] = SPLITS,
) -> SeriesSplit:
    """The ``split`` of ``table``: windows inside its date range, scaled on the train range."""
    if split not in ranges:
        raise DatasetError(f"unknown split {split!r}: use one of {', '.join(ranges)}")
    names = feature_names(n_features)
    train = table.between(*ranges["train"])
    if len(train) < 2:
        raise DatasetError(f"the training range {ranges['train']} holds {len(train)} days")
    scaler = Scaler.fit(raw_features(train, names))
    train_target = outcome_series(train, outcome)
    part = table.between(*ranges[split])
    x, y, idx = windows(
        scaler.apply(raw_features(part, names)), outcome_series(part, outcome), window
    )
    today = outcome_series(part, outcome)[idx]
    data = Dataset(
        x=_frozen(x.astype(np.float32)),
        y=_frozen(y.astype(np.float32)),
        valid=_frozen(np.ones(y.shape, dtype=bool)),
    )
    return SeriesSplit(
        data=data,
        split=split,
        outcome=outcome,
        feature_names=names,
        days=_frozen(part.dates[idx]),
        persistence=_frozen(today.astype(np.float32)),
        scaler=scaler,
        target_mean=float(train_target.mean()),
        target_std=float(train_target.std()) or 1.0,
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def correlations(table: Table, names: Sequence[str] = MEASUREMENTS) -> dict[tuple[str, str], float]:
    """Pearson ρ of each pair of features over ``table``'s days (pass the training range)."""
    values = raw_features(table, names)
    rho = np.corrcoef(values, rowvar=False)
    return {
        (a, b): float(rho[i, j]) for i, a in enumerate(names) for j, b in enumerate(names) if i < j
    }


def training_correlations(config: Config) -> dict[tuple[str, str], float]:
    """ρ of each pair of ``config``'s features on the training days."""
    return correlations(
        seattle_weather().between(*SPLITS["train"]), feature_names(config.n_features)
    )


# --------------------------------------------------------------------------- the verdict's numbers


def forecast_scores(predict: Any, split: SeriesSplit) -> dict[str, float]:
    """The model against the baselines on ``split``, each forecast day counted once.

    The last step of every window is a forecast with the full window of history, and the
    windows' last steps cover each day of the split after the first window once. Rain: the
    accuracies of the model, of always guessing the more common outcome and of persistence,
    and the days only the model (or only the baseline) gets right. Max temperature: the MSE of
    the model and of persistence, both R² against the training mean, and whether the model's
    squared errors are lower than persistence's by more than chance (1.0 or 0.0).
    """
    y = np.asarray(split.data.y[:, -1], dtype=np.float64)
    today = np.asarray(split.persistence[:, -1], dtype=np.float64)
    pred = np.asarray(predict(split.data.x), dtype=np.float64)[:, -1]
    out: dict[str, float] = {"days": float(len(y))}
    if split.task == "classification":
        common = np.full_like(y, float(y.mean() >= 0.5))
        model_only, persistence_only = metrics.paired_counts(y, pred, today)
        over_majority, majority_only = metrics.paired_counts(y, pred, common)
        out.update(
            accuracy=metrics.accuracy(pred, y),
            majority_accuracy=metrics.majority_accuracy(y),
            persistence_accuracy=metrics.persistence_accuracy(y, today),
            model_only=float(model_only),
            persistence_only=float(persistence_only),
            beats_majority=float(metrics.clearly_better(over_majority, majority_only)),
            beats_persistence=float(metrics.clearly_better(model_only, persistence_only)),
        )
    else:
        out.update(
            mse=metrics.mse(y, pred),
            persistence_mse=metrics.mse(y, today),
            r2=metrics.r2_against(y, pred, split.target_mean),
            persistence_r2=metrics.r2_against(y, today, split.target_mean),
            beats_persistence=float(metrics.clearly_lower((pred - y) ** 2, (today - y) ** 2)),
        )
    return out


# What forecast_scores returns, per task: the numbers a kept forecast must hold.
FORECAST_KEYS = {
    "classification": (
        "days",
        "accuracy",
        "majority_accuracy",
        "persistence_accuracy",
        "model_only",
        "persistence_only",
        "beats_majority",
        "beats_persistence",
    ),
    "regression": ("days", "mse", "persistence_mse", "r2", "persistence_r2", "beats_persistence"),
}


def check_forecast(scores: Mapping[str, Any], config: Config) -> None:
    """ValueError unless ``scores`` can be :func:`forecast_scores`' numbers for a model of
    ``config``: finite numbers in their ranges, for a real series exactly its task's numbers
    over its scored windows, and the sums that tie them together (e.g. accuracy minus
    persistence's = (days only the model gets right - days only persistence does) / days),
    so numbers written by hand or damaged are not believed."""
    for key, value in scores.items():
        if isinstance(value, bool):
            continue
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{key} = {value!r} is not a finite number")
    if config.data_kind.real:  # a recorded series scores every window of its scored split
        if sorted(scores) != sorted(FORECAST_KEYS[config.task]):
            raise ValueError(f"not the numbers of a {config.task} forecast")
        if scores["days"] != config.n_score:
            raise ValueError(f"{scores['days']} days, not the {config.n_score} scored")
    days = scores.get("days")
    if days is None or days < 1 or days != round(days):
        raise ValueError("days is not a number of days")
    for key, value in scores.items():
        if key.startswith("beats_") and value not in (0, 1):
            raise ValueError(f"{key} is not true or false")
        if key.endswith("accuracy") and not 0 <= value <= 1:
            raise ValueError(f"{key} is not a share")
        if key.endswith("_only") and not (0 <= value <= days and value == round(value)):
            raise ValueError(f"{key} is not a count of days")
        if key.endswith("mse") and value < 0:
            raise ValueError(f"{key} is negative")
        if key.endswith("r2") and value > 1:
            raise ValueError(f"{key} is above 1")
    pieces = ("accuracy", "persistence_accuracy", "model_only", "persistence_only")
    if all(k in scores for k in pieces):
        gap = (scores["accuracy"] - scores["persistence_accuracy"]) * days
        if not math.isclose(gap, scores["model_only"] - scores["persistence_only"], abs_tol=1e-6):
            raise ValueError("the accuracies and the counts of days disagree")
    if all(k in scores for k in ("mse", "persistence_mse", "r2", "persistence_r2")):
        # both R² share the training mean's error: (1 - R²) / MSE is one number for both
        a = (1 - scores["r2"]) * scores["persistence_mse"]
        b = (1 - scores["persistence_r2"]) * scores["mse"]
        if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12):
            raise ValueError("the errors and the R² disagree")


def forecast_standing(scores: Mapping[str, float]) -> str:
    """Where :func:`forecast_scores`' model stands, as its verdict says: "persistence" (it
    beats persistence), "simple" (only the simpler baseline: the more common outcome, or the
    training mean with a grade above "did not learn") or "none". The pages colour by it."""
    if scores["beats_persistence"]:
        return "persistence"
    if "beats_majority" in scores:
        simple = bool(scores["beats_majority"])
    else:
        simple = metrics.regression_grade(scores["r2"]) != "did not learn"
    return "simple" if simple else "none"


def reach(profile: np.ndarray, lags: np.ndarray, share: float = 0.5) -> list[int]:
    """The lags >= 0 whose effect is at least ``share`` of the largest effect at a lag >= 0."""
    keep = lags >= 0
    values = np.nan_to_num(np.asarray(profile, dtype=np.float64)[keep])
    if not len(values) or values.max() <= 0:
        return []
    return [
        int(lag) for lag, v in zip(lags[keep], values, strict=True) if v >= share * values.max()
    ]


# --------------------------------------------------------------------------- labels


def describe(config: Config) -> str:
    """The real-series experiment in a few words, for titles and the sidebar (no Markdown)."""
    what = OUTCOME_TEXT.get(config.outcome, config.outcome)
    names = ", ".join(DESCRIPTIONS[n] for n in feature_names(config.n_features))
    return f"Seattle weather: {what} from the last {config.seq_len} days of {names}"


def effect_meaning(outcome: str) -> str:
    """What one effect number is, in the outcome's units (for the pages' and tables' labels)."""
    if outcome == "temp_max":
        return "Effects are in °C: the RMS change of the forecast of tomorrow's max temperature."
    return (
        "Effects are changes of the predicted probability of rain tomorrow (0 to 1, RMS): "
        "0.05 means the forecast moves by about 5 percentage points."
    )
