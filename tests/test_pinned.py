"""Same numbers for the same seeds: a few scores pinned from the code before the refactor.

``pinned_numbers.json`` was written by this file (``python tests/test_pinned.py``) on the code of
main before the scoring core was refactored into methods; the test asserts that today's code
reproduces every number to 1e-6. The model is a tiny LSTM built here with fixed weights (no
training, so nothing but the scoring code can move the numbers). Regenerate only on purpose, when
scores are meant to change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).with_name("pinned_numbers.json")
N, T, F = 12, 5, 3
TRUTH = frozenset({(0, 2), (1, 0)})  # as the rule "x1[t-2] ... x2" would read
METHODS = (
    "perturbation",
    "ablation",
    "permutation",
    "saliency",
    "integrated_gradients",
    "connection_weights",
    "garson",
    "lek",
    "sigma_sweep",
    "tsr:perturbation",
)


def _model():
    import keras

    rng = np.random.default_rng(11)
    inputs = keras.Input((T, F))
    hidden = keras.layers.LSTM(4, return_sequences=True, name="lstm")(inputs)
    out = keras.layers.Dense(1, activation="sigmoid", name="head")(hidden)
    model = keras.Model(inputs, out)
    for layer in (model.get_layer("lstm"), model.get_layer("head")):
        layer.set_weights([rng.normal(0, 0.8, w.shape).astype(np.float32) for w in layer.weights])
    return model


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.random((N, T, F), dtype=np.float32)
    y = (x[:, :, 1] > 0.5).astype(np.float32)
    valid = np.broadcast_to(np.arange(T) >= 2, (N, T)).copy()
    return x, y, valid


def _plain(a) -> list | float | None:
    if a is None:
        return None
    return np.asarray(a, dtype=np.float64).tolist()


def compute() -> dict:
    """Today's numbers: perturbation_importance on a function, then every fast method."""
    from rnnviz.attr.comparison import compare
    from rnnviz.attr.methods import Context
    from rnnviz.attr.scoring import perturbation_importance
    from rnnviz.training.predictor import Predictor

    x, y, valid = _inputs()

    def f(a: np.ndarray) -> np.ndarray:
        out = np.zeros(a.shape[:2])
        out[:, 2:] = np.tanh(a[:, :-2, 0] * 2 - a[:, 2:, 1])
        return out

    scores = perturbation_importance(f, x, sigma=0.3, n_repeats=3, seed=4, valid=valid)
    numbers: dict = {
        "function": {
            "importances": _plain(scores.importances),
            "cell": _plain(scores.cell),
            "by_lag": _plain(np.nan_to_num(scores.by_lag(), nan=-1.0)),
        }
    }
    model = _model()
    ctx = Context(Predictor(model), x, y=y, valid=valid, model=model, seed=9)
    comparison = compare(ctx, METHODS, {"perturbation": {"n_repeats": 3}}, truth=TRUTH)
    for name, attr in comparison.attributions.items():
        lags = attr.by_lag() if attr.has_lags else None
        numbers[name] = {
            "importances": _plain(attr.importances),
            "cell": _plain(attr.cell),
            "by_lag": None if lags is None else _plain(np.nan_to_num(lags, nan=-1.0)),
            "scores": comparison.scores[name],
        }
    numbers["rank_agreement"] = _plain(np.nan_to_num(comparison.rank_agreement, nan=-9.0))
    return numbers


def _assert_close(actual, expected, where: str) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}.{key}")
    elif expected is None:
        assert actual is None, where
    else:
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6, err_msg=where)


def test_scores_are_the_pinned_ones() -> None:
    expected = json.loads(FIXTURE.read_text())
    _assert_close(compute(), expected, "pinned")


if __name__ == "__main__":  # regenerate on purpose only
    FIXTURE.write_text(json.dumps(compute(), indent=1) + "\n")
    print(f"wrote {FIXTURE}")
