"""The model store: trains once, survives a restart, and shrugs off damaged or unwritable caches."""

import numpy as np
import pytest

from rnnviz.config import Config
from rnnviz.data import make_split
from rnnviz.store import ModelStore

CFG = Config(n_train=300, n_val=100, n_score=40, epochs=1, seq_len=6)


def test_trains_once_and_survives_a_restart(tmp_path):
    store = ModelStore(tmp_path)
    a = store.get_or_train(CFG)
    assert store.trainings == 1
    assert store.get_or_train(CFG.replace(sigma=0.9, n_repeats=2)) is a  # scoring knobs only
    assert store.trainings == 1
    restarted = ModelStore(tmp_path)
    b = restarted.get_or_train(CFG)
    assert restarted.trainings == 0
    x = make_split(CFG, "score").x
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_corrupt_entry_is_detected_and_retrained(tmp_path):
    ModelStore(tmp_path).get_or_train(CFG)
    model_file = tmp_path / CFG.training_id() / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:100])  # half-written
    store = ModelStore(tmp_path)
    assert store.get(CFG) is None
    store.get_or_train(CFG)
    assert store.trainings == 1
    assert ModelStore(tmp_path).get(CFG) is not None


def test_unusable_folder_degrades_to_memory_only(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = ModelStore(blocker / "cache")  # cannot create a folder inside a file
    assert store.folder is None and "memory only" in store.notice
    store.get_or_train(CFG)
    store.get_or_train(CFG)
    assert store.trainings == 1


def test_interrupted_training_leaves_no_entry(tmp_path):
    store = ModelStore(tmp_path)

    def stop(_progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.get_or_train(CFG, progress=stop)
    assert store.get(CFG) is None
    assert not [p for p in tmp_path.iterdir()]


def test_disk_cache_is_capped_least_recently_used_first(tmp_path):
    store = ModelStore(tmp_path, max_disk=2)
    for seed in range(3):
        store.get_or_train(CFG.replace(seed=seed))
    kept = {p.name for p in tmp_path.iterdir()}
    assert kept == {CFG.replace(seed=s).training_id() for s in (1, 2)}
