"""Save a trained result to a folder and read it back: ``model.keras`` beside ``meta.json``.

Importing this module imports no TensorFlow: :func:`save` uses the model's own ``save``, and
:func:`load` with ``lazy`` turns the file's bytes into a Keras model only on first use.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

from rnnviz.config import Config
from rnnviz.training.handle import ModelHandle
from rnnviz.training.result import TrainResult
from rnnviz.training.snapshots import Snapshot


def save(result: TrainResult, folder: str | Path) -> Path:
    """Write the model (``model.keras``) and its config and metrics (``meta.json``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.model.save(folder / "model.keras")
    meta = {"config": result.config.to_dict(), "history": result.history, **result.metrics()}
    meta["snapshots"] = [snap.to_dict() for snap in result.snapshots]
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder


def load(folder: str | Path, lazy: bool = False) -> TrainResult:
    """Read back what :func:`save` wrote (``safe_mode=True``: no arbitrary code runs).

    With ``lazy`` the file's bytes are read now and turned into a Keras model only when first
    used (no TensorFlow import until then).
    """
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    config = Config.from_dict(meta["config"])
    data = (folder / "model.keras").read_bytes()  # now: the entry may be evicted later
    read = functools.partial(model_from_bytes, data)
    return TrainResult(
        config=config,
        history=meta["history"],
        val_loss=meta["val_loss"],
        val_accuracy=meta["val_accuracy"],
        baseline_accuracy=meta["baseline_accuracy"],
        seconds=meta["seconds"],
        epochs_run=meta["epochs_run"],
        snapshots=tuple(Snapshot.from_dict(d) for d in meta.get("snapshots") or ()),
        handle=ModelHandle(load=read) if lazy else ModelHandle(read()),
    )


def model_from_bytes(data: bytes) -> Any:
    """The Keras model of a ``.keras`` file's bytes (``safe_mode``, not compiled)."""
    import keras

    with tempfile.TemporaryDirectory(prefix="rnnviz-load-") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return keras.models.load_model(path, safe_mode=True, compile=False)
