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
import types
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rnnviz.explain as _explain_package  # the room of methods: a docstring, nothing heavy

if TYPE_CHECKING:
    from rnnviz.config import Config
    from rnnviz.experiment import compare_methods, run
    from rnnviz.explain.attribution import Attribution
    from rnnviz.explain.scoring import perturbation_importance
    from rnnviz.training.model import Predictor, train

# public name -> the module that defines it (imported when the name is first read)
_API = {
    "Config": "rnnviz.config",
    "run": "rnnviz.experiment",
    "train": "rnnviz.training.model",
    "compare_methods": "rnnviz.experiment",
    "perturbation_importance": "rnnviz.explain.scoring",
    "Predictor": "rnnviz.training.model",
    "Attribution": "rnnviz.explain.attribution",
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


class _CallableExplain(types.ModuleType):
    """``rnnviz.explain`` is both the room of methods (``rnnviz.explain.scoring``, ...) and the
    API's :func:`rnnviz.experiment.explain`: a module attribute set by the import system cannot
    be replaced by a function for good (importing a submodule first would set it back), so the
    package itself is callable."""

    def __call__(self, result: Any, config: Config | None = None) -> Any:
        """Perturbation scores of a trained model: :func:`rnnviz.experiment.explain`."""
        from rnnviz.experiment import explain as explain_fn

        return explain_fn(result, config)


_explain_package.__class__ = _CallableExplain
explain = _explain_package


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
