"""The one result shape: scores per feature and, where a method has that grain, per step and lag.

Every method (the thread's perturbation included) returns an :class:`Attribution`, shaped like
scikit-learn's ``permutation_importance``: ``importances`` (F, R) over R repeats (R = 1 for a
deterministic method; larger = more important) with ``importances_mean`` and
``importances_std``. Finer grains, where the method has them:

* ``cell`` (F, T, R): feature f at input step s;
* ``response`` (F, T_in, T_out, R): the effect of feature f at input step s on output step t
  (NaN where no output counted); ``cell`` derives from it when not given, and so does
  :meth:`Attribution.by_lag`, the mean along its diagonals, lag = t - s from -(T-1) to T-1;
* ``lag_scores`` (F, L): scores per lag 0 .. L-1 given directly (the random row).

A result turns into a tidy table with :meth:`Attribution.to_frame` and into JSON with
:meth:`Attribution.to_dict`; :meth:`Attribution.save` keeps it in a file that
:meth:`Attribution.load` reads back exactly; :mod:`rnnviz.report.plots` draws it.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnviz.metrics import json_list, lag_values

if TYPE_CHECKING:
    import pandas as pd

NOISE_NOTE = "noise can push inputs outside the range the model was trained on"
FILE_FORMAT = "rnnviz.attribution"  # the "format" of a saved result's metadata
FILE_VERSION = 1
_ARRAYS = ("importances", "cell", "response", "output_counts", "lag_scores")
_EXTRA = "extra."  # prefix of the extras kept as arrays in a saved file


@dataclass(frozen=True, eq=False)
class Attribution:
    """Scores of one method: per feature (F, R) and, where it has that grain, per step and lag."""

    method: str  # registry key
    feature_names: tuple[str, ...]
    importances: np.ndarray  # (F, R); larger = more important
    cell: np.ndarray | None = None  # (F, T, R) per feature x input step
    note: str = ""  # one-line caveat for the class of method
    extra: dict = field(default_factory=dict)  # method-specific extras (curves, signed, ...)
    response: np.ndarray | None = None  # (F, T_in, T_out, R): one input step, each output
    # (T_out,): sequences whose output t counted (its target is defined); None = all of them
    output_counts: np.ndarray | None = None
    lag_scores: np.ndarray | None = None  # (F, L) scores at lags 0 .. L-1, given directly
    sigma: float | None = None  # the noise scale, for the perturbation methods

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.feature_names)
        object.__setattr__(self, "feature_names", names)
        importances = np.asarray(self.importances, dtype=np.float64)
        if importances.ndim != 2 or importances.shape[0] != len(names):
            raise ValueError(
                f"feature scores must be (F, R) with F = {len(names)}, got {importances.shape}"
            )
        object.__setattr__(self, "importances", importances)
        if self.response is not None:
            response = np.asarray(self.response, dtype=np.float64)
            if response.ndim == 3:  # one repeat
                response = response[..., None]
            object.__setattr__(self, "response", response)
            if self.cell is None:
                object.__setattr__(self, "cell", pool_outputs(response, self.output_counts))
        if self.cell is not None:
            cell = np.asarray(self.cell, dtype=np.float64)
            if cell.ndim != 3 or cell.shape[0] != importances.shape[0]:
                raise ValueError(f"cell scores must be (F, T, R), got {cell.shape}")
            object.__setattr__(self, "cell", cell)

    # ----------------------------------------------------------------- per feature

    @property
    def n_repeats(self) -> int:
        return self.importances.shape[1]

    @property
    def importances_mean(self) -> np.ndarray:
        return self.importances.mean(axis=1)

    @property
    def importances_std(self) -> np.ndarray:
        return self.importances.std(axis=1)

    # ----------------------------------------------------------------- per step

    @property
    def cell_mean(self) -> np.ndarray | None:
        return None if self.cell is None else self.cell.mean(axis=-1)

    @property
    def cell_std(self) -> np.ndarray | None:
        return None if self.cell is None else self.cell.std(axis=-1)

    @property
    def response_mean(self) -> np.ndarray:
        """(F, T_in, T_out) mean over repeats of the response tensor (NaN: output not counted)."""
        return self._need_response().mean(axis=-1)

    @property
    def output_mask(self) -> np.ndarray | None:
        """(T_out,) bool: output steps where at least one sequence counted (None if unknown)."""
        if self.output_counts is not None:
            return np.asarray(self.output_counts) > 0
        if self.response is not None:
            return np.ones(self.response.shape[2], dtype=bool)
        return None

    # ----------------------------------------------------------------- per lag

    @property
    def has_lags(self) -> bool:
        """Whether :meth:`by_lag` has scores: given per lag, or a response with aligned steps."""
        if self.lag_scores is not None:
            return True
        return self.response is not None and self.response.shape[1] == self.response.shape[2]

    @property
    def lags(self) -> np.ndarray | None:
        """(L,) the lag of each column of :meth:`by_lag`: -(T-1) .. T-1 from a response,
        0 .. L-1 for scores given per lag; None without that grain."""
        if self.lag_scores is not None:
            return np.arange(np.shape(self.lag_scores)[1])
        if self.response is not None:
            return lag_values(self.response.shape[1])
        return None

    def by_lag(self) -> np.ndarray:
        """(F, L) scores per feature and lag (see :attr:`lags`).

        From a response: the mean over counted output steps t of response[f, t - lag, t], which
        needs input and output steps aligned (T_out == T_in); this is where a lagged rule shows.
        """
        if self.lag_scores is not None:
            return np.asarray(self.lag_scores, dtype=np.float64)
        return diagonal_means(self._need_response().mean(axis=-1), self.output_counts)

    def past_lags(self) -> np.ndarray | None:
        """(F, L) scores at lags 0 .. T-1 only (the lags a rule can read), or None."""
        if not self.has_lags:
            return None
        return self.by_lag()[:, self.lags >= 0]

    def _need_response(self) -> np.ndarray:
        if self.response is None:
            raise ValueError(
                f"{self.method} has no per-step effects here (computed with per_step=False, or "
                "a method without that grain)"
            )
        return self.response

    # ----------------------------------------------------------------- tables

    def to_frame(self) -> pd.DataFrame:
        """A tidy table: one row per feature (``kind`` feature), per (feature, input step)
        (``cell``) and per (feature, lag) (``lag``) the result has, with ``mean``, ``std`` over
        repeats and one ``repeat_<r>`` column per repeat (lag rows: the mean only; NaN where no
        output counted)."""
        import pandas as pd

        repeats = [f"repeat_{r + 1}" for r in range(self.n_repeats)]
        rows: list[dict[str, Any]] = []

        def add(kind: str, name: str, values: np.ndarray, step=pd.NA, lag=pd.NA) -> None:
            rows.append(
                {
                    "kind": kind,
                    "feature": name,
                    "input_step": step,
                    "lag": lag,
                    "mean": values.mean(),
                    "std": values.std(),
                    **dict(zip(repeats, values.tolist(), strict=True)),
                }
            )

        for f, name in enumerate(self.feature_names):
            add("feature", name, self.importances[f])
        if self.cell is not None:
            for f, name in enumerate(self.feature_names):
                for s in range(self.cell.shape[1]):
                    add("cell", name, self.cell[f, s], step=s)
        frame = pd.DataFrame(rows)
        if self.has_lags:
            lags = [
                {"kind": "lag", "feature": name, "lag": int(lag), "mean": value}
                for f, name in enumerate(self.feature_names)
                for lag, value in zip(self.lags, self.by_lag()[f], strict=True)
            ]
            frame = pd.concat([frame, pd.DataFrame(lags)], ignore_index=True)
        return frame.astype({"input_step": "Int64", "lag": "Int64"})

    def to_dict(self) -> dict:
        """Plain JSON-ready numbers (null = output not counted; extras that are not numbers or
        arrays are left out)."""
        out: dict = {"method": self.method, "note": self.note}
        if self.sigma is not None:
            out["sigma"] = self.sigma
        out |= {
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
        if self.cell is not None:
            out["cell_mean"] = json_list(self.cell_mean)
            out["cell_std"] = json_list(self.cell_std)
        if self.response is not None:
            out["response_mean"] = json_list(self.response_mean)
        if self.has_lags:
            out["lags"] = self.lags.tolist()
            out["by_lag"] = json_list(self.by_lag())
        extra = {}
        for key, value in self.extra.items():
            if isinstance(value, np.ndarray):
                extra[key] = json_list(value) if value.dtype.kind == "f" else value.tolist()
            elif isinstance(value, bool | int | float | str):
                extra[key] = value
            elif isinstance(value, tuple | list) and all(
                isinstance(v, int | float | str) for v in value
            ):
                extra[key] = list(value)
        out["extra"] = extra
        return out

    # ----------------------------------------------------------------- files

    def save(self, path: str | os.PathLike) -> None:
        """Keep this result in ``path`` (an ``.npz`` archive of its arrays and a JSON record of
        the rest) so that :meth:`load` gives back the same numbers, bit for bit.

        Extras must be arrays, numbers, text or lists of them; ValueError names any other.
        """
        arrays = {k: np.asarray(v) for k in _ARRAYS if (v := getattr(self, k)) is not None}
        extra: dict[str, Any] = {}
        tuples = []
        for key, value in self.extra.items():
            if isinstance(value, np.ndarray):
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"extra {key!r}: only arrays of numbers can be saved")
                arrays[_EXTRA + key] = value
            elif _plain(value):
                extra[key] = list(value) if isinstance(value, tuple) else value
                if isinstance(value, tuple):
                    tuples.append(key)
            else:
                raise ValueError(
                    f"extra {key!r} is a {type(value).__name__}: only arrays, numbers, text "
                    "and lists of them can be saved"
                )
        meta = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "kind": "perturbation" if isinstance(self, PerturbationResult) else "attribution",
            "method": self.method,
            "feature_names": list(self.feature_names),
            "note": self.note,
            "sigma": self.sigma,
            "extra": extra,
            "extra_tuples": tuples,
        }
        with open(path, "wb") as fh:  # the name as given (np.savez would append .npz)
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Attribution:
        """A result kept by :meth:`save` (a :class:`PerturbationResult` if it was one).

        ValueError, saying so, for a file that is missing, damaged or not a saved result.
        """
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"][()]))
                if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
                    raise ValueError("its record is not an rnnviz result's")
                if meta.get("version") != FILE_VERSION:
                    raise ValueError(f"format version {meta.get('version')!r}: not readable here")
                arrays = {k: archive[k] for k in archive.files if k != "meta"}
            extra = dict(meta["extra"])
            for key in meta["extra_tuples"]:
                extra[key] = tuple(extra[key])
            extra |= {k[len(_EXTRA) :]: v for k, v in arrays.items() if k.startswith(_EXTRA)}
            fields = {k: arrays.get(k) for k in _ARRAYS}
            common = {
                "feature_names": tuple(meta["feature_names"]),
                "note": meta["note"],
                "extra": extra,
                **fields,
            }
            if meta["kind"] == "perturbation":
                return PerturbationResult(sigma=meta["sigma"], method=meta["method"], **common)
            return Attribution(method=meta["method"], sigma=meta["sigma"], **common)
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"cannot read a saved result from {path}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path} is not a saved rnnviz result, or it is damaged ({exc}); save it again "
                "with Attribution.save"
            ) from None


@dataclass(frozen=True, eq=False, init=False)
class PerturbationResult(Attribution):
    """The thread's method's result: an :class:`Attribution` made from its noise scale,
    per-feature repeats and response tensor (``cell`` derives from ``response``)."""

    def __init__(
        self,
        sigma: float,
        feature_names: tuple[str, ...],
        importances: np.ndarray,
        response: np.ndarray | None = None,
        output_counts: np.ndarray | None = None,
        **fields: Any,
    ) -> None:
        fields.setdefault("method", "perturbation")
        fields.setdefault("note", NOISE_NOTE)
        Attribution.__init__(
            self,
            feature_names=feature_names,
            importances=importances,
            response=response,
            output_counts=output_counts,
            sigma=sigma,
            **fields,
        )


def _plain(value: Any) -> bool:
    """A number, text, None, or a list or tuple of them: kept in a saved result's JSON record."""
    if isinstance(value, tuple | list):
        return all(isinstance(v, bool | int | float | str) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


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


def diagonal_means(response: np.ndarray, counts: np.ndarray | None = None) -> np.ndarray:
    """(F, 2T-1) from a response tensor (F, T, T): mean over t of response[f, t - lag, t].

    lag = output step - input step runs from -(T-1) to T-1 (column j is lag j - (T - 1), see
    :func:`rnnviz.metrics.lag_values`); negative lags are effects of later inputs on earlier
    outputs, exactly zero for a causal model. The mean runs over the output steps t that
    counted, weighted by ``counts`` (T_out,) (None: all outputs, equally); NaN where no output
    at that lag counted.
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


def drawn_lags(result: Attribution) -> tuple[np.ndarray, np.ndarray]:
    """(lags, (F, L) scores) of the lag profile as drawn and downloaded: a causal model's
    negative lags, exactly zero, are left out (:func:`trim_lags`); NaN where no output counted."""
    return trim_lags(result.lags, result.by_lag())
