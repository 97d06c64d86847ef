"""What a worker process does: every piece of work that needs TensorFlow, one function each.

The web server never imports this module: ``rnnviz.serve.worker`` runs these functions in worker
processes (forked from a server that imported this module, and so TensorFlow, once). Each takes
the cache folder the server's model store uses, so models and what is kept beside them pass
between the server and the workers through the disk (written atomically and checksummed by
``rnnviz.serve.store``); what a function returns is small (scores, numbers, a verdict) and is
pickled
back to the server. ``progress`` forwards training progress to the page that waits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import rnnviz.training.fit  # noqa: F401  (TensorFlow and Keras, imported once in the forkserver)
from rnnviz.attr.scoring import perturbation_importance
from rnnviz.config import Config
from rnnviz.data.source import source_of
from rnnviz.experiment import compare_methods, explain, explain_interactions
from rnnviz.report.readings import judge
from rnnviz.serve.store import ModelStore
from rnnviz.serve.uploads import Upload, model_from_upload, prepare_upload
from rnnviz.training.result import ProgressFn, TrainResult

KEPT_MODELS = 4  # models a worker keeps loaded between jobs (scoring one model again is common)

_stores: dict[Path, ModelStore] = {}


def store_of(folder: str | Path) -> ModelStore:
    """This process's store of the server's cache ``folder`` (models kept loaded between jobs)."""
    folder = Path(folder)
    if folder not in _stores:
        _stores[folder] = ModelStore(folder, max_memory=KEPT_MODELS)
    return _stores[folder]


def _model(folder: str | Path, config: Config) -> TrainResult:
    result = store_of(folder).get(config)
    if result is None:  # evicted meanwhile (or never trained): the page asks again
        raise LookupError(f"the model of this experiment is no longer in the cache ({folder})")
    return result


def warm_one(store: ModelStore, config: Config, progress: ProgressFn | None = None) -> None:
    """Train ``config`` into ``store`` (if not there yet) with what its pages read: its scores,
    its interactions and, for a real series, its forecast scores
    (``rnnviz.serve.warm.complete``)."""
    result = store.get_or_train(config, progress=progress)
    if store.get_scores(config) is None:
        store.put_scores(config, explain(result, config))
    if config.n_features >= 2 and store.get_interactions(config) is None:
        store.put_interactions(config, explain_interactions(result, config))
    source = source_of(config)
    if source.has_forecast and store.get_forecast(config) is None:
        store.put_forecast(config, source.forecast(result.predict))


def train(
    folder: str, config: Config, complete: bool = False, progress: ProgressFn | None = None
) -> int:
    """Train ``config`` into the cache (once: an entry already there is kept); ``complete``
    (warming): with everything its pages read (:func:`warm_one`). Returns how many
    trainings ran (0: the model was in the cache already)."""
    store = store_of(folder)
    before = store.trainings
    if complete:
        warm_one(store, config, progress)
    else:
        store.get_or_train(config, progress=progress)
    if not store.has(config):  # the entry could not be written
        raise OSError(f"the trained model could not be kept: {store.notice}")
    return store.trainings - before


def scores(folder: str, config: Config, progress: ProgressFn | None = None):
    """Perturbation scores of ``config``'s model with its scoring knobs, kept beside it."""
    store = store_of(folder)
    computed = explain(_model(folder, config), config)
    store.put_scores(config, computed)
    return computed


def interactions(folder: str, config: Config, progress: ProgressFn | None = None):
    """Pairwise interactions of ``config``'s model with its scoring knobs, kept beside it."""
    store = store_of(folder)
    computed = explain_interactions(_model(folder, config), config)
    store.put_interactions(config, computed)
    return computed


def forecast(folder: str, config: Config, progress: ProgressFn | None = None):
    """A real series' model against its baselines: (numbers, verdict), numbers kept."""
    numbers, verdict = judge(config, _model(folder, config).predict)
    store_of(folder).put_forecast(config, numbers)
    return numbers, verdict


def compare(
    folder: str,
    config: Config,
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressFn | None = None,
):
    """``rnnviz.experiment.compare_methods`` on ``config``'s model (stepwise trainings report
    through ``progress``)."""
    return compare_methods(_model(folder, config), config, methods, params, progress=progress)


def sequence(folder: str, config: Config, index: int, progress: ProgressFn | None = None):
    """Per-sequence signed maps (:mod:`rnnviz.attr.sequence`) of scored sequence ``index`` of
    ``config``'s model, every method with that grain, every output step: {method: map}."""
    from rnnviz.attr.sequence import params_from_config, sequence_attributions
    from rnnviz.experiment import method_context

    ctx = method_context(_model(folder, config), config)
    return sequence_attributions(ctx, index, params=params_from_config(config))


def sequence_picks(folder: str, config: Config, progress: ProgressFn | None = None) -> dict:
    """What the One sequence page offers to pick from: the number of scored sequences, the
    (sequence, output step) of the most confident output and of the most confident wrong one
    (classification only), and for a real series the day each output forecasts (ISO dates,
    (n, T))."""
    import numpy as np

    from rnnviz.attr.sequence import confident_picks

    result = _model(folder, config)
    source = source_of(config)
    data = source.split("score")
    prediction = result.predict(data.x)
    out: dict = {"n": int(data.x.shape[0]), "confident": None, "wrong": None, "days": None}
    if config.task == "classification":
        out |= confident_picks(prediction, data.y, data.valid)
    series = getattr(source, "series", None)
    if source.has_forecast and series is not None:
        days = series("score").days + np.timedelta64(1, "D")  # a forecast is for the next day
        out["days"] = days.astype(str)
    return out


def upload(*args: Any, progress: ProgressFn | None = None, **kwargs: Any) -> Upload:
    """``rnnviz.serve.uploads.prepare_upload``: the files checked, the model loaded and run on the
    data; what comes back holds the files' bytes, not the model."""
    return prepare_upload(*args, **kwargs)


_UPLOADED: dict[str, Callable] = {}  # the last uploads' predictors in this worker, by key


def _uploaded_model(upload: Upload):
    """The upload's model as a ``Predictor``, loaded once per worker process."""
    predict = _UPLOADED.get(upload.key)
    if predict is None:
        predict = model_from_upload(upload)
        _UPLOADED.clear()  # one upload's model at a time: a worker's memory is bounded
        _UPLOADED[upload.key] = predict
    return predict


def upload_scores(upload: Upload, n: int, sigma: float, n_repeats: int, seed: int, progress=None):
    """Perturbation scores of an uploaded model on its first ``n`` uploaded sequences."""
    x = upload.x[:n]
    return perturbation_importance(
        _uploaded_model(upload), x, sigma=sigma, n_repeats=n_repeats, seed=seed
    )


def upload_sequence(upload: Upload, n: int, index: int, config: Config, progress=None):
    """Per-sequence signed maps of uploaded sequence ``index`` (of the first ``n``): the
    perturbation and occlusion methods, and the gradient ones for an rnnviz architecture (a
    whole Keras model may hold layers the traced gradients do not take), with ``config``'s
    noise and seed."""
    from rnnviz.attr.methods import Context
    from rnnviz.attr.sequence import SEQUENCE_METHODS, params_from_config, sequence_attributions

    predict = _uploaded_model(upload)
    y = None if upload.y is None else upload.y[:n]
    ctx = Context(
        predict,
        upload.x[:n],
        y=y,
        model=predict.model if upload.kind == "weights" else None,
        seed=config.seed,
        feature_names=upload.feature_names,
    )
    return sequence_attributions(ctx, index, SEQUENCE_METHODS, params=params_from_config(config))


def upload_sequence_picks(upload: Upload, n: int, progress=None) -> dict:
    """What the One sequence page picks from for an upload: its first ``n`` sequences and,
    for 0/1 labels, the most confident output and the most confident wrong one."""
    from rnnviz.attr.sequence import confident_picks

    out: dict = {"n": int(n), "confident": None, "wrong": None, "days": None}
    if upload.task == "classification":
        prediction = _uploaded_model(upload)(upload.x[:n])
        y = None if upload.y is None else upload.y[:n]
        out |= confident_picks(prediction, y, None)
    return out


TASKS: dict[str, Callable[..., Any]] = {
    "train": train,
    "scores": scores,
    "interactions": interactions,
    "forecast": forecast,
    "compare": compare,
    "upload": upload,
    "sequence": sequence,
    "sequence_picks": sequence_picks,
    "upload_scores": upload_scores,
    "upload_sequence": upload_sequence,
    "upload_sequence_picks": upload_sequence_picks,
}
