"""The model store: trains once, survives a restart, and shrugs off damaged or unwritable caches."""

import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import rnnviz.store
from rnnviz.config import Config
from rnnviz.data import make_split
from rnnviz.model import train
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


# ---------------------------------------------------------------- the store deletes only its own
# A cache folder may be pointed at a folder that holds other things. The store must never evict,
# move or delete anything it did not write. Training is faked (one tiny real model, relabelled
# per config) so that dozens of entries are cheap.

TINY = Config(
    n_train=50,
    n_val=50,
    n_score=10,
    epochs=1,
    batch_size=50,
    units=(2,),
    activations=("tanh",),
    seq_len=3,
    n_features=2,
)


@pytest.fixture(scope="module")
def tiny_result():
    return train(TINY)


@pytest.fixture
def fake_train(monkeypatch, tiny_result):
    """``rnnviz.store.train`` returns the one tiny model, labelled with the config asked for."""

    def fake(config, progress=None, *args, **kwargs):
        return dataclasses.replace(tiny_result, config=config)

    monkeypatch.setattr(rnnviz.store, "train", fake)


def _snapshot(root: Path, names) -> dict[str, bytes | None]:
    """Every file and folder under the given top-level names, with file bytes (None = folder)."""
    out: dict[str, bytes | None] = {}
    for name in names:
        top = root / name
        for p in [top, *sorted(top.rglob("*"))] if top.is_dir() else [top]:
            out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


def _foreign_folder(root: Path) -> list[str]:
    """Fill ``root`` with things the store did not write; return their top-level names."""
    (root / "my_project").mkdir()
    (root / "my_project" / "thesis.tex").write_text("\\documentclass{article} % years of work\n")
    (root / "notes.txt").write_text("not a cache entry\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for i in range(40):
        # some plain names, some that look exactly like cache keys (16 hex digits)
        name = f"{i:016x}" if i % 2 else f"folder-{i:02d}"
        (root / name).mkdir()
        (root / name / "data.bin").write_bytes(bytes([i]) * (100 + i))
    return sorted(p.name for p in root.iterdir())


def test_eviction_never_touches_foreign_files(tmp_path, fake_train):
    foreign = _foreign_folder(tmp_path)
    before = _snapshot(tmp_path, foreign)
    store = ModelStore(tmp_path, max_disk=30)
    configs = [TINY.replace(seed=s) for s in range(35)]
    for config in configs:
        store.get_or_train(config)
    assert store.folder == tmp_path  # the disk cache stayed on throughout
    assert _snapshot(tmp_path, foreign) == before  # every foreign file there, byte-identical
    own = {p.name for p in tmp_path.iterdir()} - set(foreign)
    assert own == {c.training_id() for c in configs[-30:]}  # cap counts only the store's entries
    assert ModelStore(tmp_path).get(configs[-1]) is not None


def test_foreign_folder_named_like_a_key_is_neither_loaded_nor_deleted(tmp_path, fake_train):
    entry = tmp_path / TINY.training_id()
    entry.mkdir()
    (entry / "model.keras").write_bytes(b"someone else's file")
    (entry / "meta.json").write_text("{}")
    before = _snapshot(tmp_path, [entry.name])
    store = ModelStore(tmp_path)
    assert store.get(TINY) is None
    assert _snapshot(tmp_path, [entry.name]) == before
    result = store.get_or_train(TINY)  # trained, kept in memory, the folder left alone
    assert store.trainings == 1 and store.get(TINY) is result
    assert _snapshot(tmp_path, [entry.name]) == before
    assert store.folder == tmp_path and entry.name in store.notice
    assert ModelStore(tmp_path).get(TINY) is None  # still not loaded after a restart
    assert _snapshot(tmp_path, [entry.name]) == before


def test_leftover_temp_folders_are_cleaned_on_start_but_foreign_dot_folders_are_not(
    tmp_path, fake_train, monkeypatch
):
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def spy(*args, **kwargs):
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(rnnviz.store.tempfile, "mkdtemp", spy)
    ModelStore(tmp_path).get_or_train(TINY)
    (temp,) = [p for p in made if p.parent == tmp_path]  # the write's temporary folder (Keras
    # makes its own elsewhere); renamed into the entry since
    assert not temp.exists()
    temp.mkdir()  # as if the process had been killed in the middle of that write
    (temp / "model.keras").write_bytes(b"half a model")
    young = tmp_path / f"{rnnviz.store.TEMP_PREFIX}{TINY.replace(seed=2).training_id()}-abc"
    young.mkdir()  # another process's write in progress (e.g. python -m rnnviz.warm)
    old = time.time() - 2 * rnnviz.store.STALE_TEMP_S
    os.utime(temp, (old, old))  # killed long ago
    foreign = [".config", f".{TINY.replace(seed=1).training_id()}-abcd1234", ".rnnviz_notes"]
    for name in foreign:
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep.txt").write_text(name)
    before = _snapshot(tmp_path, foreign)
    store = ModelStore(tmp_path)
    assert not temp.exists()  # the store's own leftover is removed on start
    assert young.exists()  # a write in progress elsewhere is left alone
    assert _snapshot(tmp_path, foreign) == before  # dot-folders it did not make are kept
    assert store.get(TINY) is not None  # the finished entry is untouched


def test_temporary_files_of_kept_results_left_by_a_killed_write_are_cleaned_on_start(
    tmp_path, fake_train
):
    """A warming child is killed whenever the server loads TensorFlow for a visitor: killed
    inside ``ModelStore._replace`` it leaves a temporary file inside an entry."""
    ModelStore(tmp_path).get_or_train(TINY)
    entry = tmp_path / TINY.training_id()
    names = [".scores-0123456789abcdef.npz.41.77.tmp", ".forecast.json.41.77.tmp"]
    old = time.time() - 2 * rnnviz.store.STALE_TEMP_S
    for name in names:
        (entry / name).write_bytes(b"half written")
        os.utime(entry / name, (old, old))
    young = entry / ".interactions-0123456789abcdef.npz.42.78.tmp"
    young.write_bytes(b"being written now")
    foreign = tmp_path / "my_project"  # not the store's: left alone whatever it holds
    foreign.mkdir()
    (foreign / names[0]).write_bytes(b"mine")
    os.utime(foreign / names[0], (old, old))
    store = ModelStore(tmp_path)
    assert not any((entry / name).exists() for name in names)
    assert young.exists() and (foreign / names[0]).read_bytes() == b"mine"
    assert store.get(TINY) is not None


def test_a_stray_file_named_like_an_entry_does_not_turn_the_disk_cache_off(tmp_path, fake_train):
    stray = tmp_path / TINY.training_id()
    stray.write_text("a file, not an entry")
    store = ModelStore(tmp_path)
    store.get_or_train(TINY)  # cannot be written to disk under that name: memory only
    assert stray.read_text() == "a file, not an entry"
    assert store.folder == tmp_path
    other = TINY.replace(seed=1)
    store.get_or_train(other)
    assert (tmp_path / other.training_id()).is_dir()  # the disk is still used for other keys
    restarted = ModelStore(tmp_path)
    assert restarted.get(other) is not None
    assert restarted.get(TINY) is None
    assert stray.read_text() == "a file, not an entry"


def test_a_failed_write_skips_that_entry_only(tmp_path, fake_train, monkeypatch):
    real_save = rnnviz.store.save
    broken = TINY.replace(seed=1)

    def save(result, folder):
        if result.config == broken:
            raise OSError(28, "No space left on device")
        return real_save(result, folder)

    monkeypatch.setattr(rnnviz.store, "save", save)
    store = ModelStore(tmp_path)
    store.get_or_train(broken)  # kept in memory; nothing half-written left behind
    assert "No space left" in store.notice and store.folder == tmp_path
    assert list(tmp_path.iterdir()) == []
    store.get_or_train(TINY)
    assert ModelStore(tmp_path).get(TINY) is not None  # other keys still use the disk
