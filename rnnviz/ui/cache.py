"""The caching seam: one model store per process, scores per (model, sigma, repeats, sample).

``model_store()`` is shared by every session (``st.cache_resource``) and keeps trained models in
memory and on disk under ``$RNNVIZ_CACHE_DIR`` (default ``.rnnviz_cache`` in the working
directory; ``rnnviz.hosting`` lists every setting), so a trained configuration is instant for
everyone and survives a restart. Its ``trainings`` counter says whether anything was
(re)trained. ``training_jobs()`` runs trainings in background threads that pages poll, so a
click during a training never restarts it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import streamlit as st

from rnnviz.config import Bounds, Config
from rnnviz.experiment import explain
from rnnviz.hosting import Settings, load_settings
from rnnviz.jobs import TrainingJobs
from rnnviz.model import TrainResult
from rnnviz.scoring import PerturbationResult
from rnnviz.store import ModelStore


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
def model_store() -> ModelStore:
    """The process-wide store of trained models (memory + disk)."""
    s = settings()
    return ModelStore(
        s.cache_dir,
        max_memory=s.max_memory_models,
        max_disk=s.max_disk_models,
        max_training=s.max_training,
    )


@st.cache_resource(show_spinner=False)
def training_jobs() -> TrainingJobs:
    """The process-wide registry of background trainings (one per training configuration)."""
    return TrainingJobs()


@st.cache_data(max_entries=64, show_spinner="Scoring the model…")
def _scores(
    _result: TrainResult, training_id: str, sigma: float, n_repeats: int, n_score: int, seed: int
) -> PerturbationResult:
    config = _result.config.replace(sigma=sigma, n_repeats=n_repeats, n_score=n_score)
    return explain(_result, config)


def scores(result: TrainResult, config: Config) -> PerturbationResult:
    """Perturbation scores of ``result`` with the scoring knobs of ``config`` (cached)."""
    return _scores(
        result, config.training_id(), config.sigma, config.n_repeats, config.n_score, config.seed
    )


def model_bytes(result: TrainResult) -> bytes:
    """The trained model as ``.keras`` file bytes (made on demand, when a download is asked)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        result.model.save(path)
        return path.read_bytes()
