"""A cached experiment is served without TensorFlow: after a restart its pages draw at once.

TensorFlow's import takes 4-6 s here. A visitor of an experiment already on disk needs only its
history, its verdict and its scores, which the model store keeps beside the model; the Keras
model is read only when something needs a prediction. Each visit below runs in a fresh Python
process, as a freshly started server would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnnviz.config import PRESETS, Config
from rnnviz.serve.store import ModelStore
from rnnviz.ui import state

from apptools import ROOT, TINY

VISIT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, "tests")
    from apptools import make_app
    from rnnviz.ui import cache

    at = make_app(json.loads(sys.argv[1]), page="features").run()
    texts = [m.value for m in at.markdown] + [c.value for c in at.code]
    print(json.dumps({
        "tensorflow": "tensorflow" in sys.modules,
        "table": [t for t in texts if "perturbation effect" in t],
        "verdicts": [e.value for e in (*at.success, *at.info, *at.warning)],
        "errors": [e.value for e in at.exception] + [e.value for e in at.error],
        "trainings": cache.worker().completed["train"],
    }))
    """
)


def _visit(params: dict, cache_dir) -> dict:
    env = {**os.environ, "RNNVIZ_CACHE_DIR": str(cache_dir), "RNNVIZ_WARM_PRESETS": "0"}
    done = subprocess.run(
        [sys.executable, "-c", VISIT, json.dumps(params)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_server_trains_and_scores_without_tensorflow_and_a_restart_reads_them_back(tmp_path):
    params = {**TINY, "rule": "threshold", "seed": "11"}
    first = _visit(params, tmp_path)  # trains, scores, and keeps both on disk
    assert first["trainings"] == 1 and first["table"] and not first["errors"]
    assert first["tensorflow"] is False  # the worker trained and scored: not the server
    again = _visit(params, tmp_path)  # a fresh process: the server after a restart
    assert again["trainings"] == 0 and not again["errors"]
    assert again["table"] == first["table"]  # the same numbers, read back
    assert again["tensorflow"] is False


def test_saved_scores_equal_the_computed_ones_and_are_kept_per_scoring_knobs(tmp_path):
    from rnnviz.experiment import explain

    config = Config(**{k: int(v) for k, v in TINY.items()}, rule="lagged")
    store = ModelStore(tmp_path)
    result = store.get_or_train(config)
    scores = explain(result, config)
    store.put_scores(config, scores)
    other = config.replace(sigma=0.5)
    assert store.get_scores(other) is None  # other knobs: not these scores
    back = ModelStore(tmp_path).get_scores(config)
    assert back is not None
    assert back.feature_names == scores.feature_names and back.sigma == scores.sigma
    np.testing.assert_array_equal(back.importances, scores.importances)
    np.testing.assert_array_equal(back.response, scores.response)
    np.testing.assert_array_equal(back.output_counts, scores.output_counts)
    path = next((tmp_path / config.training_id()).glob("scores-*.npz"))
    path.write_bytes(b"not a zip")  # damaged: recomputed, never an error
    assert ModelStore(tmp_path).get_scores(config) is None


def test_a_cached_series_shows_its_forecast_verdict_without_tensorflow_after_a_restart(tmp_path):
    pytest.importorskip("vega_datasets")
    params = state.config_to_params(PRESETS["seattle-weather"].replace(epochs=1, n_repeats=1))
    first = _visit(params, tmp_path)  # trains, scores the forecasts, keeps them on disk
    verdict = [v for v in first["verdicts"] if "persistence" in v]
    assert first["trainings"] == 1 and verdict and not first["errors"]
    again = _visit(params, tmp_path)  # a fresh process: the server after a restart
    assert again["trainings"] == 0 and not again["errors"]
    assert [v for v in again["verdicts"] if "persistence" in v] == verdict  # the same words
    assert again["table"] == first["table"]
    assert again["tensorflow"] is False


def test_saved_forecast_scores_round_trip_and_a_damaged_file_is_recomputed(tmp_path):
    config = Config(**{k: int(v) for k, v in TINY.items()}, rule="threshold")
    store = ModelStore(tmp_path)
    store.get_or_train(config)
    assert store.get_forecast(config) is None
    numbers = {"days": 337, "accuracy": np.float64(0.724), "beats_persistence": np.bool_(True)}
    store.put_forecast(config, numbers)
    back = ModelStore(tmp_path).get_forecast(config)
    assert back == {"days": 337, "accuracy": 0.724, "beats_persistence": True}
    assert type(back["days"]) is int and type(back["beats_persistence"]) is bool
    assert ModelStore(None).get_forecast(config) is None  # memory only: nothing kept
    path = tmp_path / config.training_id() / "forecast.json"
    for bad in (b"{not json", b'{"version": 0, "forecast": {"days": 1}}', b'{"version": 1}'):
        path.write_bytes(bad)
        assert ModelStore(tmp_path).get_forecast(config) is None
        assert not path.exists()  # removed: recomputed and rewritten on the next visit


def test_the_app_imports_pandas_before_any_page_draws():
    """plotly imports pandas lazily and reads sys.modules first: sessions drawing their first
    chart at once got a half-imported pandas (a class's first students saw an error box)."""
    code = "import sys, rnnviz.ui.components; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split()[-1] == "True", out.stderr[-2000:]
