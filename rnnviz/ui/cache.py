"""The caching seam: one model store and one worker per process, results per knobs.

``model_store()`` is shared by every session (``st.cache_resource``) and keeps trained models
on disk under ``$RNNVIZ_CACHE_DIR`` (default ``.rnnviz_cache`` in the working directory;
``rnnviz.serve.hosting`` lists every setting), so a trained configuration is instant for everyone
and
survives a restart. Everything that needs TensorFlow (trainings, scorings, interactions,
comparisons, uploads) runs as a job of ``worker()`` (``rnnviz.serve.worker``: processes of its own,
memory bounded), never in this process: the web server renders, queues and reads the store.
What a job computes is kept beside its model, and cached per process here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import streamlit as st

from rnnviz.attr.registry import METHODS
from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import Bounds, Config
from rnnviz.serve.hosting import Settings, load_settings
from rnnviz.serve.jobs import StepwiseJobs, TrainingJobs, warm
from rnnviz.serve.store import ModelStore
from rnnviz.serve.uploads import Upload, UploadError
from rnnviz.serve.warm import preset_experiments
from rnnviz.serve.worker import Job, TaskValueError, Worker
from rnnviz.training.result import TrainResult

# Hosted mode starts the worker's processes this long after the first page: the pages of a server
# that just started come first (measured: a cached experiment's first chart after a restart took
# 4.9 s with the worker starting at once, against 3.7 s before the worker existed).
START_AFTER_S = 10.0

# Methods that retrain models: they run in a background job (stepwise_job), never in a script.
SLOW_METHODS = tuple(name for name, spec in METHODS.items() if not spec.fast)


def _secrets() -> dict:
    """``.streamlit/secrets.toml`` as a dict; empty when there is none."""
    try:
        return dict(st.secrets)
    except Exception:  # no secrets file: Streamlit raises its own not-found error
        return {}


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """How this process serves the app: hosted mode, cache folder and limits (read once)."""
    return load_settings(os.environ, _secrets())


def bounds() -> Bounds:
    """The knob bounds in force: tighter in hosted mode."""
    return settings().bounds


@st.cache_resource(show_spinner=False)
def worker() -> Worker:
    """The process-wide worker (``rnnviz.serve.worker``): every job that needs TensorFlow."""
    s = settings()
    worker = Worker(slots=s.max_training, budget_mb=s.worker_budget_mb)
    if s.hosted:  # a demo's visitors should not wait for the worker's TensorFlow import
        worker.start_processes(after=START_AFTER_S)
    return worker


@st.cache_resource(show_spinner=False)
def model_store() -> ModelStore:
    """The process-wide store of trained models. Models pass between this server and the
    worker's processes through its folder: where the configured one cannot be written, a
    private temporary folder serves (``notice`` says so: models then last until a restart).
    With ``warm_presets`` on, the preset experiments not yet kept are queued on the worker,
    behind every visitor."""
    s = settings()
    store = ModelStore(s.cache_dir, max_memory=s.max_memory_models, max_disk=s.max_disk_models)
    if store.folder is None:
        notice = store.notice
        store = ModelStore(
            tempfile.mkdtemp(prefix="rnnviz-cache-"),
            max_memory=s.max_memory_models,
            max_disk=s.max_disk_models,
        )
        store.notice = (
            "the cache folder cannot be written: models are kept until the server restarts"
            if notice
            else None
        )
    if s.warm_presets:
        warm(training_jobs(), store, preset_experiments(s.bounds))
    elif s.hosted:  # the worker's processes start now: a visitor's job need not wait for them
        worker()
    return store


@st.cache_resource(show_spinner=False)
def training_jobs() -> TrainingJobs:
    """The process-wide registry of trainings (one job per training configuration)."""
    return TrainingJobs(worker())


def _scoring(config: Config) -> tuple:
    """The scoring knobs of ``config`` as the cached functions take them."""
    return (config.sigma, config.n_repeats, config.n_score, config.effect_on)


def _knobs_key(config: Config, *extra: Any) -> str:
    knobs = [config.training_id(), *(v for _, v in config.scoring_key()), *extra]
    return hashlib.sha256(json.dumps(knobs, default=str).encode()).hexdigest()[:16]


def _kept_or_computed(result: TrainResult, scoring: tuple, kind: str):
    """The ``kind`` ("scores" or "interactions") of ``result`` for these scoring knobs (σ,
    repeats, sequences scored, effect_on): read from beside the model when the store kept it,
    else computed by the worker (which keeps it there)."""
    sigma, n_repeats, n_score, effect_on = scoring
    config = result.config.replace(
        sigma=sigma, n_repeats=n_repeats, n_score=n_score, effect_on=effect_on
    )
    store = model_store()
    saved = getattr(store, f"get_{kind}")(config)
    if saved is not None:
        return saved
    return worker().run(kind, _knobs_key(config), (str(store.folder), config))


@st.cache_data(max_entries=64, show_spinner="Scoring the model…")
def _scores(
    _result: TrainResult, training_id: str, scoring: tuple, seed: int
) -> PerturbationResult:
    return _kept_or_computed(_result, scoring, "scores")


def scores(result: TrainResult, config: Config) -> PerturbationResult:
    """Perturbation scores of ``result`` with the scoring knobs of ``config`` (cached)."""
    return _scores(result, config.training_id(), _scoring(config), config.seed)


@st.cache_data(max_entries=32, show_spinner="Measuring interactions…")
def _interactions(_result: TrainResult, training_id: str, scoring: tuple, seed: int):
    return _kept_or_computed(_result, scoring, "interactions")


def interactions(result: TrainResult, config: Config):
    """Pairwise interactions (``rnnviz.attr.interactions``) of ``result`` with the scoring knobs
    of
    ``config``: cached per process and kept on disk beside the model, so reruns and restarts
    do not recompute them."""
    return _interactions(result, config.training_id(), _scoring(config), config.seed)


def prepare_upload(*args: Any) -> Upload:
    """``rnnviz.serve.uploads.prepare_upload`` in the worker (it loads and runs the model); raises
    UploadError with what to change."""
    digest = hashlib.sha256()
    for part in args:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
    try:
        return worker().run("upload", digest.hexdigest(), args)
    except TaskValueError as exc:
        raise UploadError(str(exc)) from None


@st.cache_data(max_entries=32, show_spinner="Scoring your model…")
def _upload_scores(
    _upload: Upload, upload_key: str, n: int, sigma: float, n_repeats: int, seed: int
) -> PerturbationResult:
    key = f"{upload_key}-{n}-{sigma!r}-{n_repeats}-{seed}"
    return worker().run("upload_scores", key, (_upload, n, sigma, n_repeats, seed))


def upload_scores(
    upload: Upload, n: int, sigma: float, n_repeats: int, seed: int
) -> PerturbationResult:
    """Scores of an uploaded model on its first ``n`` uploaded sequences.

    ``upload.key`` is the sha256 of the uploaded bytes: the model and data themselves live only
    in their session (``st.session_state``), and a cached entry is reached only with the same
    bytes.
    """
    return _upload_scores(upload, upload.key, n, sigma, n_repeats, seed)


@st.cache_data(max_entries=32, show_spinner="Scoring the forecasts of the scored year…")
def _forecast(_result: TrainResult, training_id: str) -> tuple[dict[str, float], str]:
    from rnnviz.data.source import source_of
    from rnnviz.report.readings import forecast_verdict

    config, store = _result.config, model_store()
    saved = store.get_forecast(config)
    if saved is not None:
        try:
            return saved, forecast_verdict(saved, config.outcome, source_of(config).score_period)
        except (KeyError, TypeError, ValueError):  # numbers of another shape: made again
            pass
    return worker().run("forecast", training_id, (str(store.folder), config))


def forecast(result: TrainResult) -> tuple[dict[str, float], str]:
    """A real series' model against its baselines on the scored year: (numbers, verdict)
    (``rnnviz.report.readings.judge``; cached per process and kept on disk beside the model, so
    after a restart its pages draw without any job)."""
    return _forecast(result, result.config.training_id())


def model_bytes(result: TrainResult) -> bytes:
    """The trained model as ``.keras`` file bytes, read from the cache (no TensorFlow)."""
    return model_store().model_bytes(result.config)


# --------------------------------------------------------------------------- one sequence


@st.cache_data(max_entries=64, show_spinner="Explaining this sequence…")
def _sequence(_result: TrainResult, training_id: str, scoring: tuple, index: int) -> dict:
    sigma, n_repeats, n_score, effect_on = scoring
    config = _result.config.replace(
        sigma=sigma, n_repeats=n_repeats, n_score=n_score, effect_on=effect_on
    )
    key = _knobs_key(config, "sequence", index)
    return worker().run("sequence", key, (str(model_store().folder), config, index))


def sequence(result: TrainResult, config: Config, index: int) -> dict:
    """Per-sequence signed maps of scored sequence ``index`` ({method: SequenceAttribution},
    every output step; ``rnnviz.attr.sequence``), computed by the worker, cached per process
    and per scoring knobs (σ, repeats, sequences scored, the effect's scale)."""
    scoring = (config.sigma, config.n_repeats, config.n_score, config.effect_on)
    return _sequence(result, config.training_id(), scoring, int(index))


@st.cache_data(max_entries=32, show_spinner="Finding the most confident outputs…")
def _sequence_picks(_result: TrainResult, training_id: str, n_score: int) -> dict:
    config = _result.config.replace(n_score=n_score)
    key = _knobs_key(config, "sequence_picks")
    return worker().run("sequence_picks", key, (str(model_store().folder), config))


def sequence_picks(result: TrainResult, config: Config) -> dict:
    """What the One sequence page picks from (``rnnviz.serve.tasks.sequence_picks``), cached."""
    return _sequence_picks(result, config.training_id(), config.n_score)


@st.cache_data(max_entries=64, show_spinner="Explaining this sequence…")
def _upload_sequence(
    _upload: Upload, upload_key: str, n: int, index: int, sigma: float, n_repeats: int, seed: int
) -> dict:
    key = f"{upload_key}-sequence-{n}-{index}-{sigma!r}-{n_repeats}-{seed}"
    config = Config(sigma=sigma, n_repeats=n_repeats, seed=seed)  # the noise and seed it reads
    return worker().run("upload_sequence", key, (_upload, n, index, config))


def upload_sequence(upload: Upload, n: int, config: Config, index: int) -> dict:
    """Per-sequence signed maps of uploaded sequence ``index`` (of the first ``n``), with the
    config's noise and seed; cached per process by the upload's bytes (``upload.key``)."""
    args = (n, int(index), config.sigma, config.n_repeats, config.seed)
    return _upload_sequence(upload, upload.key, *args)


@st.cache_data(max_entries=32, show_spinner="Finding the most confident outputs…")
def _upload_sequence_picks(_upload: Upload, upload_key: str, n: int) -> dict:
    key = f"{upload_key}-sequence-picks-{n}"
    return worker().run("upload_sequence_picks", key, (_upload, n))


def upload_sequence_picks(upload: Upload, n: int) -> dict:
    """What the One sequence page picks from for an upload (its first ``n`` sequences)."""
    return _upload_sequence_picks(upload, upload.key, n)


# --------------------------------------------------------------------------- compare methods


def _freeze(params) -> tuple:
    """Hashable form of {method: {param: value}} (values are numbers, text or tuples)."""
    return tuple(sorted((m, tuple(sorted(dict(p).items()))) for m, p in (params or {}).items()))


@st.cache_data(max_entries=32, show_spinner=False)
def _comparison(
    _result: TrainResult,
    training_id: str,
    scoring: tuple,
    seed: int,
    methods: tuple[str, ...],
    frozen_params: tuple,
):
    sigma, n_repeats, n_score, effect_on = scoring
    config = _result.config.replace(
        sigma=sigma, n_repeats=n_repeats, n_score=n_score, effect_on=effect_on
    )
    params = {m: dict(items) for m, items in frozen_params}
    key = _knobs_key(config, methods, frozen_params)
    return worker().run("compare", key, (str(model_store().folder), config, methods, params))


def comparison(result: TrainResult, config: Config, methods, params=None):
    """``rnnviz.experiment.compare_methods`` of ``result`` (cached per model, knobs, methods).

    ``methods`` must hold no slow method (they retrain: see :func:`stepwise_job`); ``params``
    maps method name to its parameters. The random baseline is always included by the core.
    """
    methods = tuple(methods)
    if set(methods) & set(SLOW_METHODS):
        raise ValueError("stepwise elimination retrains models: run it through stepwise_job()")
    return _comparison(
        result,
        config.training_id(),
        _scoring(config),
        config.seed,
        methods,
        _freeze(params),
    )


@st.cache_resource(show_spinner=False)
def _stepwise_jobs() -> StepwiseJobs:
    """The process-wide registry of stepwise jobs (:class:`rnnviz.serve.jobs.StepwiseJobs`)."""
    return StepwiseJobs(worker())


def stepwise_job(result: TrainResult, config: Config) -> Job:
    """The background job of the slow methods (those that retrain) on ``config``'s trained
    model: running, finished, or started now."""
    return _stepwise_jobs().get(str(model_store().folder), config, SLOW_METHODS)


def forget_stepwise(config: Config) -> None:
    """Drop a finished (e.g. failed) stepwise job so that the next request runs it again."""
    _stepwise_jobs().forget(config)
