"""The upload page end to end (AppTest drives ``st.file_uploader``), and faults of the cache.

Uploads: valid weights + data become the session's subject and the results pages explain it
with no ground truth; refusals (Lambda model, wrong shape, non-numeric CSV, oversized file) are
messages on the page, never crashes; another session never sees an upload.
Faults: a corrupt cache entry is retrained, an unusable cache folder degrades to memory only
with a notice, an interrupted training leaves no entry (the store-level twin of the last one is
``tests/test_store.py::test_interrupted_training_leaves_no_entry``).
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.config import Config
from rnnviz.report import plots
from rnnviz.serve.store import LOCK_PREFIX, ModelStore
from rnnviz.training.model import build_model
from rnnviz.ui import cache, state

import apptools
from apptools import assert_clean, charts, go, private_cache, shown

ARCH = Config(seq_len=6, n_train=100)  # the model whose weights are uploaded (3 features)
TINY = {"seq_len": "5", "n_train": "300", "n_val": "100", "n_score": "40", "epochs": "2"}
TINY_CONFIG = Config(seq_len=5, n_train=300, n_val=100, n_score=40, epochs=2)
BIN = "application/octet-stream"


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    yield from private_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Weights of the built architecture, a Lambda .keras model and data, as uploaded bytes."""
    tmp = tmp_path_factory.mktemp("uploads")
    model = build_model(ARCH)
    model.save_weights(tmp / "w.weights.h5")
    inp = keras.Input((6, 3))
    keras.Model(inp, keras.layers.Lambda(lambda z: z[..., :1])(inp)).save(tmp / "lambda.keras")
    x = np.random.default_rng(0).random((30, 6, 3), dtype=np.float32)
    y = (x[:, :, 0] > 0.5).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    return {
        "weights": (tmp / "w.weights.h5").read_bytes(),
        "lambda": (tmp / "lambda.keras").read_bytes(),
        "npy": npy(x),
        "npz": buf.getvalue(),
    }


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def npy_header(shape) -> bytes:
    """An .npy file that is only a header declaring ``shape`` (float64), as a hostile one may be."""
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def make_app(params: dict[str, str] | None = None, page: str = "upload") -> AppTest:
    return apptools.make_app(params, page)


def upload(at: AppTest, data: tuple[str, bytes], model: tuple[str, bytes] | None = None):
    """Put files in the page's uploaders (and press the button when a model is given)."""
    at.file_uploader(key="up_data").set_value((*data, BIN))
    if model is not None:
        key = "up_keras" if model[0].endswith(".keras") else "up_weights"
        at.file_uploader(key=key).set_value((*model, BIN))
    at.run()
    if model is not None and not at.button(key="up_go").disabled:
        at.button(key="up_go").click().run()
    return at


# --------------------------------------------------------------------------- uploads


def test_weights_and_data_work_end_to_end(files):
    at = make_app().run()
    assert_clean(at)
    assert at.button(key="up_go").disabled  # nothing uploaded yet
    upload(at, ("x.npy", files["npy"]), ("w.weights.h5", files["weights"]))
    assert_clean(at)
    subject = at.session_state[state.UPLOAD_KEY]
    assert subject.data.shape == (30, 6, 3) and subject.y is None
    assert at.session_state[state.SUBJECT_KEY] == "upload"
    assert any("now explain **your uploaded model**" in s.value for s in at.success)
    assert at.sidebar.markdown[0].value == "### Shown: your uploaded model"

    at = go(at, "features")
    assert_clean(at)
    (chart,) = charts(at)
    assert "used by the rule" not in chart.proto.spec  # no ground-truth marks
    assert "perturbation effect" in chart.proto.spec
    captions = [c.value for c in at.caption]
    assert any("No ground truth for uploaded models" in c for c in captions)
    assert any("the first 30 of your 30 sequences" in c for c in captions)
    assert any("every output counts" in c for c in captions)  # no rule: nothing undefined
    assert any("skill is unknown" in i.value for i in at.info)
    assert "used by the rule" not in at.table[0].value.columns
    assert {b.label for b in at.download_button} == {
        "Scores (CSV)",
        "Scores + upload description (JSON)",
    }

    at = go(at, "timesteps")
    assert_clean(at)
    assert len(charts(at)) == 3
    assert plots.TRUTH_MARK not in "".join(c.proto.spec for c in charts(at))
    assert "no target defined" not in "".join(c.proto.spec for c in charts(at))
    # the notes beside the plots do not speak of marks that are not there
    notes = " ".join(m.value for m in at.markdown).lower()
    for mark in (plots.TRUTH_MARK, "dashed", "circles", "grey", "the rule"):
        assert mark not in notes, mark
    assert {b.label for b in at.download_button} == {
        "Heatmap + lag profile (CSV)",
        "Heatmap + lag profile + upload description (JSON)",
    }

    # the sidebar button goes back to the trained experiment; the upload is kept aside
    at.sidebar.button(key="sidebar_show_experiment").click()
    at = go(at, "upload")
    assert at.session_state[state.SUBJECT_KEY] == "experiment"
    assert any("show the trained experiment" in i.value for i in at.info)
    assert at.sidebar.markdown[0].value == "### Shown: the trained experiment"
    at.button(key="up_show").click().run()
    assert at.session_state[state.SUBJECT_KEY] == "upload"


def test_one_sequence_of_an_upload_is_explained(files):
    at = make_app().run()
    upload(at, ("xy.npz", files["npz"]), ("w.weights.h5", files["weights"]))
    assert_clean(at)
    at = go(at, "sequence")
    assert_clean(at)
    assert at.number_input(key="seq_index").label.startswith("Sequence (0 to 29 ")  # all 30
    methods = at.selectbox(key="seq_method").options
    assert "(saliency)" in " ".join(methods)  # an rnnviz architecture: gradients too
    keys = {c.proto.id.rsplit("-", 1)[-1] for c in charts(at)}
    assert "sequence" in keys
    assert plots.TRUTH_MARK not in "".join(c.proto.spec for c in charts(at))  # no rule
    assert not any("ROC AUC" in c.value for c in at.caption)
    assert {b.label for b in at.button} >= {"Most confident output", "Most confident wrong output"}
    at.slider(key="seq_step").set_value(2).run()
    assert_clean(at)
    assert "Output step 2 (" in "\n".join(m.value for m in at.markdown)


def test_labels_give_accuracy_against_the_majority_baseline(files):
    at = make_app().run()
    upload(at, ("xy.npz", files["npz"]), ("w.weights.h5", files["weights"]))
    assert_clean(at)
    subject = at.session_state[state.UPLOAD_KEY]
    assert subject.accuracy is not None and subject.baseline_accuracy is not None
    at = go(at, "features")
    assert not at.exception
    notes = [e.value for e in (*at.success, *at.warning)]
    assert any(
        f"accuracy {subject.accuracy:.1%}" in n and f"{subject.baseline_accuracy:.1%}" in n
        for n in notes
    ), notes


def test_another_session_never_sees_an_upload(files):
    mine = make_app().run()
    upload(mine, ("x.npy", files["npy"]), ("w.weights.h5", files["weights"]))
    assert state.UPLOAD_KEY in mine.session_state
    other = make_app(page="learn").run()
    assert state.UPLOAD_KEY not in other.session_state
    assert other.sidebar.markdown[0].value == "### Current experiment"
    other = go(other, "upload")
    assert not other.success and not [b for b in other.button if b.key == "up_back"]


def test_lambda_model_is_refused_outside_hosted_mode(files):
    assert not cache.settings().hosted
    at = make_app().run()
    at.radio(key="up_mode").set_value("keras").run()
    upload(at, ("x.npy", files["npy"]), ("lambda.keras", files["lambda"]))
    assert not at.exception
    (error,) = at.error
    assert "Lambda layer" in shown(error.value) and "refused" in shown(error.value)
    assert state.UPLOAD_KEY not in at.session_state


def test_weights_that_do_not_fit_the_form_are_refused(files):
    at = make_app().run()
    at.text_input(key="up_units").input("8, 4")
    upload(at, ("x.npy", files["npy"]), ("w.weights.h5", files["weights"]))
    assert not at.exception
    (error,) = at.error
    assert "do not fit the architecture" in shown(error.value) and "[8, 4]" in shown(error.value)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x.npy", npy(np.zeros((4, 3))), "x must have 3 dimensions"),
        ("x.csv", b"sequence,step,x1\n0,0,1.5\n0,1,abc\n", "column 'x1': 'abc' is not a number"),
        ("x.npz", npy(np.zeros((4, 6, 3))), "holds a single array (.npy)"),
        ("x.csv", b"sequence,step,x1\n0,0," + b"1" * 140_000 + b"\n", "longer than 10,000"),
        ("x.csv", b"sequence,step,x1\n0,0,1\n0,1.9,1\n", "step '1.9' must be a whole number"),
        ("x.npy", npy_header((10**6, 10**6, 8)), "x has 1,000,000 steps per sequence"),
    ],
    ids=[
        "wrong shape",
        "non-numeric csv",
        "npy named npz",
        "huge csv cell",
        "step 1.9",
        "npy bomb",
    ],
)
def test_bad_data_is_a_message_on_the_page(name, data, message, files):
    at = make_app().run()
    upload(at, (name, data), ("w.weights.h5", files["weights"]))
    assert not at.exception
    (error,) = at.error
    assert "This data file cannot be used" in error.value and message in shown(error.value)
    assert at.button(key="up_go").disabled


def test_oversized_file_is_refused(monkeypatch, files):
    monkeypatch.setenv("RNNVIZ_MAX_UPLOAD_MB", "0.01")
    cache.settings.clear()
    try:
        at = make_app().run()
        assert any("up to **0.01 MB**" in m.value for m in at.markdown)
        upload(at, ("x.npy", npy(np.zeros((300, 6, 3), dtype=np.float32))))
        assert not at.exception
        (error,) = at.error
        assert "the limit is 0.01 MB" in shown(error.value)
    finally:
        monkeypatch.delenv("RNNVIZ_MAX_UPLOAD_MB")
        cache.settings.clear()


def test_uploads_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("RNNVIZ_UPLOADS", "off")
    cache.settings.clear()
    try:
        at = make_app().run()
        assert not at.exception
        assert not at.file_uploader
        assert any("Uploads are turned off" in i.value for i in at.info)
    finally:
        monkeypatch.delenv("RNNVIZ_UPLOADS")
        cache.settings.clear()


# --------------------------------------------------------------------------- faults


def test_corrupt_cache_entry_is_retrained_and_the_page_works(cache_dir):
    config = TINY_CONFIG.replace(seed=11)
    cache.model_store().get_or_train(config)
    model_file = cache_dir / config.training_id() / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:200])  # as if half-written
    cache.model_store.clear()  # as after a restart: only the disk copy is left
    store = cache.model_store()
    at = make_app({**TINY, "seed": "11"}, page="features").run()
    assert_clean(at)
    assert len(charts(at)) == 2  # the bars and the interaction heatmap
    assert store.trainings == 1  # the damaged entry was detected and retrained
    assert ModelStore(cache_dir).get(config) is not None  # and written back, valid


def test_unusable_cache_folder_degrades_to_a_private_folder_with_a_notice(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RNNVIZ_CACHE_DIR", str(blocker / "cache"))
    cache.settings.clear()
    cache.model_store.clear()
    try:
        at = make_app({**TINY, "seed": "12"}, page="features").run()
        assert_clean(at)
        (notice,) = at.sidebar.warning
        assert "Model cache:" in notice.value and "until the server restarts" in notice.value
        assert str(blocker) not in notice.value  # no server path reaches a visitor
        assert len(charts(at)) == 2  # still trained, kept in a private temporary folder
        assert cache.model_store().trainings == 1
    finally:
        monkeypatch.undo()
        cache.settings.clear()
        cache.model_store.clear()


def test_a_worker_killed_mid_training_shows_a_clear_message_a_retry_and_leaves_no_entry(
    cache_dir,
):
    """The worker process dies (killed, out of memory) while it trains: the visitor reads what
    happened and gets a retry button, the store keeps nothing half-written, and the retry
    trains in a fresh process."""
    config = TINY_CONFIG.replace(seed=13, n_train=2000, epochs=40, patience=0)
    params = state.config_to_params(config)
    key = ("train", config.training_id())

    def kill_when_training() -> None:
        worker = cache.worker()
        for _ in range(3000):
            job = worker._jobs.get(key)
            if job is not None and job.wait_until(lambda j=job: j.progress is not None, 0.05):
                for pid in worker.pids():
                    os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_training, daemon=True)
    killer.start()
    try:
        at = make_app(params, page="features").run()
        killer.join(5)
        assert not at.exception
        (error,) = at.error
        assert "Training failed" in error.value and "worker process stopped" in shown(error.value)
        assert not charts(at)
        leftovers = [
            p.name
            for p in cache_dir.iterdir()
            if config.training_id() in p.name and not p.name.startswith(LOCK_PREFIX)
        ]
        assert leftovers == []  # no entry and no half-written temporary folder (a lock file
        # stays: other processes share it, see rnnviz.serve.store)
        assert cache.model_store().get(config) is None
        retry = [b for b in at.button if b.label == "Try again"]
        assert retry
    finally:
        cache.training_jobs().forget(config)


def test_regression_upload_shows_r2_against_the_mean_and_persistence(tmp_path):
    inp = keras.Input((6, 3))
    pick = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inp, pick(inp))
    pick.set_weights([np.array([[1.0], [0.0], [0.0]], dtype=np.float32)])  # y_hat = x1
    model.save(tmp_path / "r.keras")
    x = np.random.default_rng(1).random((20, 6, 3), dtype=np.float32) * 10
    y = x[:, :, 0] + 0.5  # numbers, not 0/1: a regression's targets
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    at = make_app().run()
    at.radio(key="up_task").set_value("regression").run()
    # a regression is only a whole .keras model: weights are not offered for it
    assert not [r for r in at.radio if r.key == "up_mode"]
    assert not [u for u in at.get("file_uploader") if u.proto.id.endswith("up_weights")]
    assert any("regression model comes as a whole `.keras` model" in c.value for c in at.caption)
    upload(at, ("xy.npz", buf.getvalue()), ("r.keras", (tmp_path / "r.keras").read_bytes()))
    assert_clean(at)
    subject = at.session_state[state.UPLOAD_KEY]
    assert subject.task == "regression" and subject.regression["mse"] == pytest.approx(0.25)
    at = go(at, "features")
    assert_clean(at)
    notes = " ".join(e.value for e in (*at.success, *at.warning))
    assert f"R² = {subject.regression['r2']:.3f}" in notes and "persistence" in notes
    assert "in your targets' units" in notes
