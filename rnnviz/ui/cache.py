"""The caching seam: one model store per process, scores per (model, sigma, repeats, sample).

``model_store()`` is shared by every session (``st.cache_resource``) and keeps trained models in
memory and on disk under ``$RNNVIZ_CACHE_DIR`` (default ``.rnnviz_cache`` in the working
directory; ``rnnviz.hosting`` lists every setting), so a trained configuration is instant for
everyone and survives a restart. Its ``trainings`` counter says whether anything was
(re)trained. ``training_jobs()`` runs trainings in background threads that pages poll, so a
click during a training never restarts it.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import streamlit as st

from rnnviz.config import Bounds, Config
from rnnviz.experiment import explain
from rnnviz.hosting import Settings, limit_memory_arenas, load_settings
from rnnviz.jobs import StepwiseJob, StepwiseJobs, TrainingJobs, preset_experiments, warm
from rnnviz.registry import METHODS
from rnnviz.result import TrainResult
from rnnviz.scoring import PerturbationResult
from rnnviz.store import ModelStore
from rnnviz.warm import start as warm_in_background

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
    s = load_settings(os.environ, _secrets())
    if s.hosted:
        limit_memory_arenas()
    keep_keras_state()
    return s


def _clean_problem_modules() -> None:
    """Streamlit's end-of-run cleanup without its Keras part (matplotlib's stays)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


def keep_keras_state() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Streamlit 1.67 ends each run with it when Keras is imported. Nothing of Keras's global state
    belongs to a session here (models live in the store, trainings in background threads), and
    the call cost a full garbage collection (~170 ms holding the GIL) per run, and reset Keras's
    state and TensorFlow's kernel cache under the trainings of other threads: with a class of 30
    it took 9% of the server's time (issue 8). Idempotent.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _clean_problem_modules


_frozen = threading.Lock()


def import_tensorflow() -> None:
    """Import TensorFlow (``rnnviz.model``) and freeze the objects that exist then out of the
    garbage collector (``gc.freeze``, once per process).

    Streamlit runs ``gc.collect(2)`` after every script run (``runner.postScriptGC``, kept for
    the sessions' garbage). With TensorFlow's ~350,000 objects each took ~170 ms holding the
    GIL; frozen, a full collection walks only what came later. Whatever else is alive at that
    moment is frozen too (a first training's or page's objects: a one-time few MB at most, left
    to reference counting). Pages and trainings that need TensorFlow call it at once
    (``warm_tensorflow(now=True)``), so the freeze comes with the first import.
    """
    import rnnviz.model  # noqa: F401

    if _frozen.acquire(blocking=False):  # never released: once per process
        gc.collect()
        gc.freeze()


def bounds() -> Bounds:
    """The knob bounds in force: tighter in hosted mode."""
    return settings().bounds


@st.cache_resource(show_spinner=False)
def model_store() -> ModelStore:
    """The process-wide store of trained models (memory + disk); with ``warm_presets`` on, the
    preset experiments not yet on disk are trained by ``python -m rnnviz.warm`` in the
    background (``rnnviz.warm``: processes of their own, at a lower priority)."""
    s = settings()
    store = ModelStore(
        s.cache_dir,
        max_memory=s.max_memory_models,
        max_disk=s.max_disk_models,
        max_training=s.max_training,
    )
    if s.warm_presets:
        if store.folder is not None:  # in processes of their own: the server stays lean
            proc = warm_in_background(store.folder, preset_experiments())
            if proc is not None:
                _warming.append(proc)
        else:  # memory only: nowhere to share models through, so in this process
            warm(training_jobs(), store, preset_experiments())
    return store


@st.cache_resource(show_spinner=False)
def training_jobs() -> TrainingJobs:
    """The process-wide registry of background trainings (one per training configuration)."""
    return TrainingJobs(memory_limit_mb=settings().memory_limit_mb)


def _kept_or_computed(
    result: TrainResult, sigma: float, n_repeats: int, n_score: int, kind: str, compute
):
    """``compute(result, config)`` for these scoring knobs: read from beside the model on disk
    when the store kept it (no TensorFlow needed), else computed and kept there. ``kind`` names
    the store's pair of methods: ``"scores"`` (get_scores/put_scores) or ``"interactions"``."""
    config = result.config.replace(sigma=sigma, n_repeats=n_repeats, n_score=n_score)
    store = model_store()
    saved = getattr(store, f"get_{kind}")(config)
    if saved is not None:
        return saved
    warm_tensorflow(now=True)  # the model predicts: TensorFlow, frozen out of the collector
    computed = compute(result, config)
    getattr(store, f"put_{kind}")(config, computed)
    return computed


@st.cache_data(max_entries=64, show_spinner="Scoring the model…")
def _scores(
    _result: TrainResult, training_id: str, sigma: float, n_repeats: int, n_score: int, seed: int
) -> PerturbationResult:
    return _kept_or_computed(_result, sigma, n_repeats, n_score, "scores", explain)


def scores(result: TrainResult, config: Config) -> PerturbationResult:
    """Perturbation scores of ``result`` with the scoring knobs of ``config`` (cached)."""
    return _scores(
        result, config.training_id(), config.sigma, config.n_repeats, config.n_score, config.seed
    )


@st.cache_data(max_entries=32, show_spinner="Measuring interactions…")
def _interactions(
    _result: TrainResult, training_id: str, sigma: float, n_repeats: int, n_score: int, seed: int
):
    from rnnviz.experiment import explain_interactions

    return _kept_or_computed(
        _result, sigma, n_repeats, n_score, "interactions", explain_interactions
    )


def interactions(result: TrainResult, config: Config):
    """Pairwise interactions (``rnnviz.interactions``) of ``result`` with the scoring knobs of
    ``config``: cached per process and kept on disk beside the model, so reruns and restarts
    do not recompute them."""
    return _interactions(
        result, config.training_id(), config.sigma, config.n_repeats, config.n_score, config.seed
    )


@st.cache_data(max_entries=32, show_spinner="Scoring your model…")
def upload_scores(
    _predict, _x, upload_key: str, n: int, sigma: float, n_repeats: int, seed: int
) -> PerturbationResult:
    """Scores of an uploaded model on its first ``n`` uploaded sequences.

    ``upload_key`` is the sha256 of the uploaded bytes: the model and data themselves live only
    in their session (``st.session_state``), and a cached entry is reached only with the same
    bytes.
    """
    from rnnviz.scoring import perturbation_importance

    return perturbation_importance(_predict, _x[:n], sigma=sigma, n_repeats=n_repeats, seed=seed)


@st.cache_data(max_entries=32, show_spinner="Scoring the forecasts of the scored year…")
def _forecast(_result: TrainResult, training_id: str) -> tuple[dict[str, float], str]:
    from rnnviz.datasets import forecast_verdict, judge

    config, store = _result.config, model_store()
    saved = store.get_forecast(config)
    if saved is not None:
        try:
            return saved, forecast_verdict(saved, config.outcome)
        except (KeyError, TypeError, ValueError):  # numbers of another shape: made again
            pass
    warm_tensorflow(now=True)
    numbers, verdict = judge(config, _result.predict)
    store.put_forecast(config, numbers)
    return numbers, verdict


def forecast(result: TrainResult) -> tuple[dict[str, float], str]:
    """A real series' model against its baselines on the scored year: (numbers, verdict)
    (``rnnviz.datasets.judge``; cached per process and kept on disk beside the model, so after
    a restart its pages draw without TensorFlow)."""
    return _forecast(result, result.config.training_id())


IDLE_BEFORE_IMPORT_S = 5.0  # the background import waits for this long without a page run
_warming: list = []  # the warming process (rnnviz.warm.start) this process started, if any


def warming() -> bool:
    """Whether the preset warming this server started is still running: it stops by itself
    once this process loads TensorFlow (``rnnviz.warm.warm_missing``), so the background import
    waits for it; a visitor's training does not."""
    return any(proc.poll() is None for proc in _warming)


_last_page = [0.0]  # time.monotonic() at the end of the latest page run that asked
_import_now = threading.Event()


def warm_tensorflow(now: bool = False) -> None:
    """Import TensorFlow in the background (a cached experiment's pages need none), so that a
    later training or new σ does not wait for the import.

    Called at the end of a page, it waits until no page has ended for
    ``IDLE_BEFORE_IMPORT_S``: the import is ~5 s of CPU, and run at once it delayed the charts
    of the visitors arriving just then by about a second (``benchmarks/bench_app.py``, after a
    restart). It also waits for the preset warming to finish (:func:`warming`: a warming child
    and this process, both with TensorFlow, would not fit a 1 GB host). ``now``: a training is
    about to need it, import at once (the warming then stops by itself).
    """
    _last_page[0] = time.monotonic()
    if now:
        _import_now.set()
    _importer()


@st.cache_resource(show_spinner=False)
def _importer() -> threading.Thread:
    """The one thread per process that imports TensorFlow (see :func:`warm_tensorflow`)."""

    def wait_then_import() -> None:
        while not _import_now.is_set():
            idle = time.monotonic() - _last_page[0]
            if idle >= IDLE_BEFORE_IMPORT_S and not warming():
                break
            _import_now.wait(max(IDLE_BEFORE_IMPORT_S - idle, 1.0))
        import_tensorflow()

    thread = threading.Thread(target=wait_then_import, name="rnnviz-import-tensorflow", daemon=True)
    thread.start()
    return thread


def model_bytes(result: TrainResult) -> bytes:
    """The trained model as ``.keras`` file bytes (made on demand, when a download is asked)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        result.model.save(path)
        return path.read_bytes()


# --------------------------------------------------------------------------- compare methods


def _freeze(params) -> tuple:
    """Hashable form of {method: {param: value}} (values are numbers, text or tuples)."""
    return tuple(sorted((m, tuple(sorted(dict(p).items()))) for m, p in (params or {}).items()))


@st.cache_data(max_entries=32, show_spinner=False)
def _comparison(
    _result: TrainResult,
    training_id: str,
    sigma: float,
    n_repeats: int,
    n_score: int,
    seed: int,
    methods: tuple[str, ...],
    frozen_params: tuple,
):
    from rnnviz.experiment import compare_methods

    config = _result.config.replace(sigma=sigma, n_repeats=n_repeats, n_score=n_score)
    params = {m: dict(items) for m, items in frozen_params}
    return compare_methods(_result, config, methods, params)


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
        config.sigma,
        config.n_repeats,
        config.n_score,
        config.seed,
        methods,
        _freeze(params),
    )


@st.cache_resource(show_spinner=False)
def _stepwise_jobs() -> StepwiseJobs:
    """The process-wide registry of stepwise jobs (:class:`rnnviz.jobs.StepwiseJobs`)."""
    return StepwiseJobs()


def stepwise_job(result: TrainResult, config: Config) -> StepwiseJob:
    """The background job of the slow methods (those that retrain) on ``config``'s trained
    model: running, finished, or started now."""
    return _stepwise_jobs().get(result, config, SLOW_METHODS)


def forget_stepwise(config: Config) -> None:
    """Drop a finished (e.g. failed) stepwise job so that the next request runs it again."""
    _stepwise_jobs().forget(config)
