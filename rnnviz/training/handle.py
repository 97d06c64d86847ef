"""A trained result's Keras model behind a small handle: given at once, or loaded on first use.

Read back from the disk cache, a model is turned into Keras objects only when something needs it
(a prediction, a download): the pages of a cached experiment whose scores are on disk draw
without importing TensorFlow at all, so a freshly started server answers in about a second
instead of waiting for TensorFlow's import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class ModelHandle:
    """The Keras model of a result: ``model`` now, or ``load()`` on first use (once, under a lock).

    ``predict`` stands in for the model's own predictor (a hand-made result: a plain function
    of x, no model). Pickled, a handle keeps its loader (or, without one, its model) and its
    stand-in ``predict``, never a loaded copy or a traced predictor: a copy in another process
    loads the model again when it needs it.
    """

    def __init__(
        self,
        model: Any = None,
        load: Callable[[], Any] | None = None,
        predict: Callable[[Any], Any] | None = None,
    ) -> None:
        self._model = model
        self._load = load
        self._predict = predict
        self._built: Callable[[Any], Any] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True when the Keras model is in memory (given, or loaded already)."""
        return self._model is not None

    def get(self) -> Any:
        """The Keras model (loaded now if it was not yet); None for a handle without one."""
        if self._model is None and self._load is not None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def predictor(self) -> Callable[[Any], Any]:
        """``predict(x) -> y`` of the model: the stand-in given, or a
        :class:`rnnviz.training.predictor.Predictor` made on first use (TensorFlow imported
        then)."""
        if self._predict is not None:
            return self._predict
        if self._built is None:
            model = self.get()
            if model is None:
                raise ValueError("this result has no model to predict with")
            from rnnviz.training.predictor import Predictor

            with self._lock:
                if self._built is None:
                    self._built = Predictor(model)
        return self._built

    def __getstate__(self) -> dict[str, Any]:
        return {
            "model": None if self._load is not None else self._model,
            "load": self._load,
            "predict": self._predict,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["model"], state["load"], state["predict"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"ModelHandle(loaded={self.loaded}, lazy={self._load is not None})"
