"""What a script run costs the server after it ends (issue 8: a class of 30 at once).

Streamlit ends every script run by calling ``keras.backend.clear_session()`` when Keras is
imported (``script_runner._clean_problem_modules``), then ``gc.collect(2)``
(``runner.postScriptGC``). With TensorFlow loaded each was a full collection over ~350,000
objects (about 170 ms each, holding the GIL), and clear_session also reset Keras's global state
and TensorFlow's kernel cache under the trainings running in other threads. A class profile
(py-spy) put 17% of the server's samples there. The app keeps Keras's state (nothing of it
belongs to a session) and freezes TensorFlow's objects out of the collector once imported.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import keras
import pytest

from rnnviz.ui import cache

import apptools
from apptools import ROOT, assert_clean, private_cache

cache_dir = pytest.fixture(scope="module", autouse=True)(private_cache)


def test_a_script_run_leaves_keras_state_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(1))
    at = apptools.make_app({}, "learn").run()
    assert_clean(at)
    at.run()  # a rerun, as a click gives
    assert calls == []


def test_tensorflow_objects_are_left_out_of_full_collections():
    cache.import_tensorflow()
    import tensorflow as tf

    tracked = {id(obj) for obj in gc.get_objects()}
    assert id(tf.constant) not in tracked  # frozen: a full collection no longer walks it
    assert gc.get_freeze_count() > 100_000


IMPORTER = """
import json, sys, time
from rnnviz.ui import cache

class Warming:  # stands for the preset warming's process (rnnviz.warm.start)
    code = None
    def poll(self):
        return self.code

{case}
cache._importer().join(300)
print(json.dumps({{"early": early, "later": "tensorflow" in sys.modules}}))
"""

CASES = {
    "waits for an idle server; a training imports at once": """
cache.IDLE_BEFORE_IMPORT_S = 600.0
cache.warm_tensorflow()  # the end of a page: waits for the server to be idle
time.sleep(1.0)
early = "tensorflow" in sys.modules
cache.warm_tensorflow(now=True)  # a training is about to need it
""",
    "waits for the preset warming to end": """
warming = Warming()
cache._warming.append(warming)
cache.IDLE_BEFORE_IMPORT_S = 0.1
cache.warm_tensorflow()
time.sleep(2.5)  # idle, but the warming runs
early = "tensorflow" in sys.modules
warming.code = 0  # it ended
""",
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_background_import_waits_for_an_idle_server_unless_a_training_needs_it(case):
    """Imported at once after a page, TensorFlow (~5 s of CPU) delayed the charts of visitors
    arriving just then: it waits for IDLE_BEFORE_IMPORT_S without a page run and for the preset
    warming (whose child also loads TensorFlow) to end; a training starts it at once."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORTER.format(case=CASES[case])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"early": False, "later": True}
