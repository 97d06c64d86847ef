"""Hosted mode: one switch that makes a public demo safe on a small shared machine.

Turn it on with the environment variable ``RNNVIZ_HOSTED=1`` (or ``hosted = true`` in
``.streamlit/secrets.toml``). It tightens the knob bounds, lets one training run at a time
(others queue), caps the disk cache, and allows only weight uploads (never a whole ``.keras``
model, whose loading has had code-execution holes). Each setting can be overridden by an
environment variable or a secret of the same name (lower case in secrets.toml).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnviz.config import DEFAULT_BOUNDS, Bounds

# A Streamlit Community Cloud-class host: ~1 GB of memory, a shared CPU, many visitors.
HOSTED_BOUNDS = Bounds(
    seq_len=(2, 50),
    n_features=(1, 8),
    n_repeats=(1, 10),
    n_train=(50, 5000),
    n_val=(50, 1000),
    n_score=(10, 500),
    units=(1, 32),
    epochs=(1, 20),
    batch_size=(5, 512),
    max_train_values=2_000_000,
    max_train_work=1_000_000,
    max_train_steps=5_000,
    max_score_values=50_000_000,
    # The benchmark's boxes (50 features) are beyond this host: one scoring of 100 sequences
    # pushes 638 M numbers through the model, 13x max_score_values.
    family_features=8,
)


# A worker process (rnnviz.serve.worker) whose own memory passed this after a job is replaced.
WORKER_BUDGET_MB = 200.0


@dataclass(frozen=True)
class Settings:
    """How this process serves the app."""

    hosted: bool = False
    cache_dir: str = ".rnnviz_cache"
    # Worker processes (rnnviz.serve.worker), each running one job at a time; the rest queue and see
    # their position and an estimated wait. Two at once finished a queue of six trainings 1.5x
    # sooner on 2 cores than one at a time (benchmarks/bench_parallel.py); hosted mode runs one,
    # since each keeps up to its budget of TensorFlow state beside the shared import.
    max_training: int = 2
    # A worker process whose own memory (beyond what it shares with the forkserver) passed this
    # after a job is replaced by a fresh one: memory is bounded whatever architectures visitors
    # choose. Measured: ~140 MB after the default training, ~400 MB after four architectures.
    worker_budget_mb: float = WORKER_BUDGET_MB
    max_disk_models: int = 200  # disk cache entries kept (least recently used evicted)
    max_memory_models: int = 16
    uploads: bool = True
    whole_model_uploads: bool = True  # a whole .keras file (never in hosted mode)
    max_upload_mb: float = 20.0
    warm_presets: bool = False  # train the preset experiments at start, behind visitors
    # A finished sweep's --out folder (``rnnviz sweep``): the Compare page shows its rows of
    # the experiment on screen over seeds. Set by whoever runs the server, never by a visitor.
    sweep_dir: str = ""

    @property
    def bounds(self) -> Bounds:
        return HOSTED_BOUNDS if self.hosted else DEFAULT_BOUNDS


def _libc():
    """glibc, or None where there is none (macOS, Windows, musl)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def release_free_memory() -> None:
    """Return the heap's free memory to the system (glibc ``malloc_trim``; no-op elsewhere)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from environment variables (``RNNVIZ_*``) and secrets; env wins."""
    env = os.environ if env is None else env
    secrets = secrets or {}

    def get(name: str) -> Any:
        return env.get(f"RNNVIZ_{name.upper()}", secrets.get(name))

    hosted = _flag(get("hosted") or False)
    base = (
        Settings(
            hosted=True,
            max_disk_models=30,
            max_memory_models=6,
            max_upload_mb=5.0,
            max_training=1,
            warm_presets=True,
        )
        if hosted
        else Settings()
    )
    values: dict[str, Any] = {"hosted": hosted}
    for name, kind in (
        ("cache_dir", str),
        ("max_disk_models", int),
        ("max_memory_models", int),
        ("uploads", _flag),
        ("max_upload_mb", float),
        ("worker_budget_mb", float),
        ("max_training", int),
        ("warm_presets", _flag),
        ("sweep_dir", str),
    ):
        raw = get(name)
        if raw is not None and str(raw) != "":
            try:
                values[name] = kind(raw)
            except ValueError:
                raise ValueError(f"setting {name}={raw!r} is not a valid {kind.__name__}") from None
    settings = Settings(**{**base.__dict__, **values})
    if hosted:  # loading a whole model file can run code: never on a public host
        settings = Settings(**{**settings.__dict__, "whole_model_uploads": False})
    if not 1 <= settings.max_training <= 8:
        raise ValueError("max_training must be in 1..8")
    if settings.max_disk_models < 1 or settings.max_memory_models < 1:
        raise ValueError("max_disk_models and max_memory_models must be >= 1")
    if not settings.worker_budget_mb > 0:
        raise ValueError("worker_budget_mb must be > 0")
    if not 0 < settings.max_upload_mb <= 200:
        raise ValueError("max_upload_mb must be in (0, 200]")
    return settings
