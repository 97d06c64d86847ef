"""The model store: trains once, survives a restart, and shrugs off damaged or unwritable caches."""

import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import rnnviz.serve.store
from rnnviz.config import Config
from rnnviz.data.split import make_split
from rnnviz.serve.store import LOCK_PREFIX, ModelStore
from rnnviz.training.fit import train

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
    # nothing but the key's lock file (empty; it stays so that waiting processes share it)
    assert not _listing(tmp_path)


def _listing(folder):
    """What ``folder`` holds besides the keys' lock files (empty files that stay, so that
    processes waiting for a key share one)."""
    return [p for p in folder.iterdir() if not p.name.startswith(LOCK_PREFIX)]


def test_disk_cache_is_capped_least_recently_used_first(tmp_path):
    store = ModelStore(tmp_path, max_disk=2)
    for seed in range(3):
        store.get_or_train(CFG.replace(seed=seed))
    kept = {p.name for p in _listing(tmp_path)}
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
    """``rnnviz.serve.store.train`` returns the one tiny model, labelled with the config asked
    for."""

    def fake(config, progress=None, *args, **kwargs):
        return dataclasses.replace(tiny_result, config=config)

    monkeypatch.setattr(rnnviz.serve.store, "train", fake)


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
    own = {p.name for p in _listing(tmp_path)} - set(foreign)
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

    monkeypatch.setattr(rnnviz.serve.store.tempfile, "mkdtemp", spy)
    ModelStore(tmp_path).get_or_train(TINY)
    (temp,) = [p for p in made if p.parent == tmp_path]  # the write's temporary folder (Keras
    # makes its own elsewhere); renamed into the entry since
    assert not temp.exists()
    temp.mkdir()  # as if the process had been killed in the middle of that write
    (temp / "model.keras").write_bytes(b"half a model")
    young = tmp_path / f"{rnnviz.serve.store.TEMP_PREFIX}{TINY.replace(seed=2).training_id()}-abc"
    young.mkdir()  # another process's write in progress (e.g. python -m rnnviz.serve.warm)
    old = time.time() - 2 * rnnviz.serve.store.STALE_TEMP_S
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
    old = time.time() - 2 * rnnviz.serve.store.STALE_TEMP_S
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
    real_save = rnnviz.serve.store.save
    broken = TINY.replace(seed=1)

    def save(result, folder):
        if result.config == broken:
            raise OSError(28, "No space left on device")
        return real_save(result, folder)

    monkeypatch.setattr(rnnviz.serve.store, "save", save)
    store = ModelStore(tmp_path)
    store.get_or_train(broken)  # kept in memory; nothing half-written left behind
    assert "No space left" in store.notice and store.folder == tmp_path
    assert _listing(tmp_path) == []
    store.get_or_train(TINY)
    assert ModelStore(tmp_path).get(TINY) is not None  # other keys still use the disk


# --------------------------------------------------------------------------- kept results


@pytest.fixture
def kept(tmp_path, fake_train):
    """A store with TINY's model on disk, and TINY's real perturbation scores."""
    from rnnviz.experiment import explain

    store = ModelStore(tmp_path)
    return store, explain(store.get_or_train(TINY), TINY)


def _kept_file(tmp_path: Path, prefix: str) -> Path:
    (path,) = (tmp_path / TINY.training_id()).glob(f"{prefix}-*.npz")
    return path


def _rewrite_npz(path: Path, **changes) -> None:
    """The kept file with some members replaced, as someone editing it by hand would."""
    with np.load(path, allow_pickle=False) as data:
        members = {name: data[name] for name in data.files}
    np.savez(path.with_suffix(".tmp.npz"), **{**members, **changes})
    os.replace(path.with_suffix(".tmp.npz"), path)


def test_kept_scores_edited_by_hand_are_removed_and_recomputed(tmp_path, kept):
    import json

    store, scores = kept
    store.put_scores(TINY, scores)
    path = _kept_file(tmp_path, "scores")
    assert ModelStore(tmp_path).get_scores(TINY) is not None
    with np.load(path, allow_pickle=False) as data:
        plain = json.loads(str(data["__plain__"]))
    edits = {
        "a string sigma": {"__plain__": np.array(json.dumps({**plain, "sigma": "0.2"}))},
        "NaN everywhere": {"importances": np.full_like(scores.importances, np.nan)},
        "another shape": {"importances": np.zeros((5, 1))},
    }
    for what, change in edits.items():
        store.put_scores(TINY, scores)
        _rewrite_npz(path, **change)
        assert ModelStore(tmp_path).get_scores(TINY) is None, what
        assert not path.exists(), what  # removed: computed again and rewritten


def test_kept_scores_are_checked_against_their_config_even_with_a_good_checksum(tmp_path, kept):
    """What the store wrote itself is checked too: a result that cannot be this config's (a
    text σ, the wrong features, not finite) is never served."""
    from rnnviz.attr.scoring import PerturbationResult

    store, scores = kept
    F, T, R = TINY.n_features, TINY.seq_len, TINY.n_repeats
    counts = scores.output_counts

    def made(sigma=TINY.sigma, importances=scores.importances, response=scores.response):
        return PerturbationResult(
            sigma, scores.feature_names[: len(importances)], importances, response, counts
        )

    bad = {
        "a string sigma": made(sigma="0.2"),
        "another sigma": made(sigma=0.5),
        "all NaN": made(importances=np.full((F, R), np.nan), response=scores.response * np.nan),
        "fewer repeats": made(
            importances=scores.importances[:, :1], response=scores.response[..., :1]
        ),
        "fewer features": made(importances=scores.importances[:1], response=scores.response[:1]),
        "a longer sequence": made(response=np.zeros((F, T + 1, T + 1, R))),
    }
    for what, result in bad.items():
        store.put_scores(TINY, result)
        assert ModelStore(tmp_path).get_scores(TINY) is None, what
    store.put_scores(TINY, scores)
    back = ModelStore(tmp_path).get_scores(TINY)
    np.testing.assert_array_equal(back.importances, scores.importances)


def test_kept_interactions_of_the_wrong_shape_are_recomputed(tmp_path, kept):
    from rnnviz.experiment import explain_interactions

    store, _ = kept
    found = explain_interactions(store.get(TINY), TINY)
    store.put_interactions(TINY, found)
    assert ModelStore(tmp_path).get_interactions(TINY) is not None
    path = _kept_file(tmp_path, "interactions")
    _rewrite_npz(path, importances=np.zeros((TINY.n_repeats, 3, 3)))
    assert ModelStore(tmp_path).get_interactions(TINY) is None and not path.exists()
    store.put_interactions(TINY, dataclasses.replace(found, single=found.single[:, :1]))
    assert ModelStore(tmp_path).get_interactions(TINY) is None


SERIES = Config(
    dataset="seattle-weather",
    n_features=4,
    seq_len=28,
    input_scaling=False,
    units=(2,),
    activations=("tanh",),
    epochs=1,
)
FORECAST = {  # 337 days of 2015: accuracy - persistence = (model_only - persistence_only) / 337
    "days": 337.0,
    "accuracy": 244 / 337,
    "majority_accuracy": 207 / 337,
    "persistence_accuracy": 243 / 337,
    "model_only": 30.0,
    "persistence_only": 29.0,
    "beats_majority": 1.0,
    "beats_persistence": 0.0,
}


def test_a_forged_forecast_is_not_believed(tmp_path, fake_train):
    import json

    store = ModelStore(tmp_path)
    store.get_or_train(SERIES)
    store.put_forecast(SERIES, FORECAST)
    assert ModelStore(tmp_path).get_forecast(SERIES) == FORECAST
    path = tmp_path / SERIES.training_id() / "forecast.json"
    forged = {"version": 1, "forecast": {**FORECAST, "accuracy": 0.991}}
    path.write_text(json.dumps(forged))  # by hand: the green "99.1%" box
    assert ModelStore(tmp_path).get_forecast(SERIES) is None and not path.exists()
    # written through the store, numbers that cannot belong together are refused as well
    for what, change in {
        "an accuracy the counts contradict": {"accuracy": 0.991},
        "an accuracy above 1": {"accuracy": 1.5, "persistence_accuracy": 1.5 - 1 / 337},
        "another number of days": {"days": 300.0},
        "a missing number": {"majority_accuracy": None},
        "a text number": {"model_only": "30"},
    }.items():
        numbers = {k: v for k, v in {**FORECAST, **change}.items() if v is not None}
        store.put_forecast(SERIES, numbers)
        assert ModelStore(tmp_path).get_forecast(SERIES) is None, what


# --------------------------------------------------------------------------- read-only cache


def _read_only(monkeypatch, root: Path) -> None:
    """Every write and removal under ``root`` fails as on a file system remounted read-only
    (tests run as root, where chmod does not stop writes); reads, and the rest of the disk,
    work as before."""
    import builtins
    import errno
    import shutil
    import tempfile

    def inside(path) -> bool:
        return path is not None and str(path).startswith(str(root))

    def guard(real, where=lambda *a, **k: a[0] if a else None):
        def call(*args, **kwargs):
            if inside(where(*args, **kwargs)):
                raise OSError(errno.EROFS, "Read-only file system", str(where(*args, **kwargs)))
            return real(*args, **kwargs)

        return call

    def opener(path, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and inside(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return builtins.open(path, mode, *args, **kwargs)

    def rmtree(path, ignore_errors=False, *args, **kwargs):
        if not inside(path):
            return real_rmtree(path, ignore_errors, *args, **kwargs)
        if not ignore_errors:
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_rmtree = shutil.rmtree
    monkeypatch.setattr(rnnviz.serve.store, "open", opener, raising=False)
    for name in ("unlink", "write_bytes", "write_text", "mkdir", "rmdir", "touch"):
        monkeypatch.setattr(Path, name, guard(getattr(Path, name)))
    for name in ("replace", "rename", "utime", "unlink", "remove", "rmdir", "mkdir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    monkeypatch.setattr(tempfile, "mkdtemp", guard(tempfile.mkdtemp, lambda *a, **k: k.get("dir")))
    monkeypatch.setattr(
        tempfile,
        "NamedTemporaryFile",
        guard(tempfile.NamedTemporaryFile, lambda *a, **k: k.get("dir")),
    )


def test_a_cache_that_turns_read_only_never_fails_a_page_nor_shows_its_path(
    tmp_path, kept, monkeypatch
):
    store, scores = kept
    store.put_scores(TINY, scores)
    path = _kept_file(tmp_path, "scores")
    path.write_bytes(b"damaged")  # and it cannot even be removed now
    _read_only(monkeypatch, tmp_path)
    assert store.get_scores(TINY) is None  # recomputed by the caller
    store.put_scores(TINY.replace(sigma=0.5), scores)  # a new sigma: kept in memory only
    store.put_forecast(TINY, FORECAST)
    store.put_interactions(TINY, scores)
    assert store.notice and str(tmp_path) not in store.notice and "/" not in store.notice
    store._memory.clear()
    assert store.get(TINY) is not None  # the model on disk is still served
    store.get_or_train(TINY.replace(seed=3))  # a new model: in memory only
    assert store.notice and str(tmp_path) not in store.notice and "/" not in store.notice


def test_a_cache_folder_that_vanished_falls_back_to_memory(tmp_path, kept):
    import shutil

    store, scores = kept
    shutil.rmtree(tmp_path)
    store.put_scores(TINY, scores)
    assert store.get_scores(TINY) is None
    other = TINY.replace(seed=4)
    assert store.get_or_train(other) is not None and store.get(other) is not None
    assert store.notice and str(tmp_path) not in store.notice
