"""rnnviz: which inputs does a recurrent network rely on, and when?

The public API, loaded on first use (PEP 562), so ``import rnnviz`` stays light: TensorFlow is
imported only when a model is trained or a :class:`Predictor` is made.

* :class:`Config` — every knob of an experiment (data, rule, model, training, scoring);
* :func:`run` — train the model of a config and score it (the CLI's default run, in one call);
* :func:`train` — the trained model and its verdict (a ``TrainResult``);
* :func:`explain` — perturbation scores of a trained model on its config's score split;
* :func:`compare_methods` — several attribution methods on one model, scored against the rule;
* :func:`perturbation_importance` — the method itself, for any ``predict(x) -> y``;
* :class:`Predictor` — a Keras model as ``predict(x) -> y`` in large, fixed-shape batches;
* :class:`Attribution` — the one result shape (per feature, step and lag; save and load).

>>> import rnnviz
>>> config = rnnviz.Config(rule="lagged", epochs=2)  # doctest: +SKIP
>>> result, scores = rnnviz.run(config)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import tomllib
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnnviz.attr.attribution import Attribution
    from rnnviz.attr.scoring import perturbation_importance
    from rnnviz.config import Config
    from rnnviz.experiment import compare_methods, explain, run
    from rnnviz.training.fit import train
    from rnnviz.training.predictor import Predictor

# public name -> the module that defines it (imported when the name is first read)
_API = {
    "Config": "rnnviz.config",
    "run": "rnnviz.experiment",
    "train": "rnnviz.training.fit",
    "explain": "rnnviz.experiment",
    "compare_methods": "rnnviz.experiment",
    "perturbation_importance": "rnnviz.attr.scoring",
    "Predictor": "rnnviz.training.predictor",
    "Attribution": "rnnviz.attr.attribution",
}

__all__ = [
    "Attribution",
    "Config",
    "Predictor",
    "__version__",
    "compare_methods",
    "explain",
    "perturbation_importance",
    "run",
    "train",
]


def _version() -> str:
    """The installed distribution's version; from a checkout that is not installed, the version
    its pyproject.toml declares."""
    try:
        return metadata.version("rnnviz")
    except metadata.PackageNotFoundError:
        pass
    try:
        with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "0+unknown"


__version__ = _version()


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'rnnviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # read once: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    """The public API (what ``from rnnviz import *`` gives)."""
    return sorted(__all__)
