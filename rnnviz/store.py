"""Trained models kept by configuration: in memory, and on disk so they survive a restart.

One store serves every session of a process. It trains each configuration once (sessions asking
for the same one wait for it; in the app, trainings run in worker processes, ``rnnviz.worker``,
each with a store of its own on the same folder), and writes disk entries atomically (temporary
folder, then rename) with a checksum that is verified on read: a corrupt or half-written entry is
removed and retrained, never loaded. An unwritable cache folder degrades to memory only; a
write that fails for one entry keeps that model in memory and the disk in use for the others.

What the store owns on disk: the cache folder may hold other things (it may be pointed at a
folder that already has someone's work in it), so the store evicts, replaces or deletes only
its own entries. An entry is its own when its name is a training id (16 lowercase hex digits,
see ``Config.training_id``) AND it is a real folder carrying the marker file
``rnnviz-entry.json`` that names the same key and this entry format; the marker is written
inside the temporary folder before the rename, so every finished entry has it. Everything else
(files, other folders, a file or folder that merely has a key's name) is never loaded, moved or
deleted and does not count against ``max_disk``. A key whose name is taken by something
foreign is kept in memory only, and ``notice`` says so. Temporary folders are named
``.rnnviz-tmp-<key>-<random>``; those left by a killed write are removed when a store starts
(no other dot-folder is touched).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rnnviz.config import Config
from rnnviz.hosting import release_free_memory
from rnnviz.result import ProgressFn, TrainResult, load
from rnnviz.scoring import PerturbationResult


def train(config: Config, progress: ProgressFn | None = None) -> TrainResult:
    """``rnnviz.model.train``, imported on first use: TensorFlow loads only when a training
    (or a model) is needed, never to serve a cached experiment's pages."""
    from rnnviz.model import train as train_model

    return train_model(config, progress)


def save(result: TrainResult, folder: Path) -> Path:
    from rnnviz.model import save as save_model

    return save_model(result, folder)


# Bumped whenever scoring gives other numbers for the same model and knobs (2: only outputs
# with a defined target count), so saved scores of older code are never served.
SCORES_VERSION = 2
FORECAST_VERSION = 1  # the same for a real series' forecast scores (forecast.json)


def _write_scores(f, scores: PerturbationResult) -> None:
    arrays, plain = {}, {}
    for fld in dataclasses.fields(scores):
        value = getattr(scores, fld.name)
        if isinstance(value, np.ndarray):
            arrays[fld.name] = value
        else:
            plain[fld.name] = list(value) if isinstance(value, tuple) else value
    np.savez(f, __plain__=np.array(json.dumps(plain)), **arrays)


def _read_scores(path: Path, kind: type = PerturbationResult):
    with np.load(path, allow_pickle=False) as data:
        values = {name: data[name] for name in data.files if name != "__plain__"}
        plain = json.loads(str(data["__plain__"]))
    for name, value in plain.items():
        values[name] = tuple(value) if isinstance(value, list) else value
    return kind(**values)


ENTRY_MARKER = "rnnviz-entry.json"  # inside every entry the store wrote
ENTRY_FORMAT = 1
_KEY = re.compile(r"[0-9a-f]{16}")  # Config.training_id(): the only names entries have
TEMP_PREFIX = ".rnnviz-tmp-"  # + key + "-" + mkdtemp's random letters
# A temporary folder younger than this may be another process's write in progress (hosted mode
# warms the cache in processes of its own, rnnviz.warm): only older ones count as left behind.
STALE_TEMP_S = 600.0
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}-[a-z0-9_]+")
_KEPT_TEMP = re.compile(
    r"\.[a-z]+(-[0-9a-f]{16})?\.(npz|json)\.\d+\.\d+\.tmp"
)  # ModelStore._replace


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _marker(key: str) -> str:
    return json.dumps({"written_by": "rnnviz", "format": ENTRY_FORMAT, "key": key})


def _is_own_entry(path: Path) -> bool:
    """True only for a folder the store wrote: a key's name and a marker naming that key."""
    if not _KEY.fullmatch(path.name):
        return False
    marker = path / ENTRY_MARKER
    try:
        if path.is_symlink() or not path.is_dir() or marker.is_symlink() or not marker.is_file():
            return False
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and data.get("written_by") == "rnnviz"
        and data.get("format") == ENTRY_FORMAT
        and data.get("key") == path.name
    )


class ModelStore:
    """Get a trained model for a config, training it only when no valid cached copy exists."""

    def __init__(
        self,
        folder: str | Path | None = None,
        max_memory: int = 16,
        max_disk: int = 200,
    ) -> None:
        self.max_memory = max_memory
        self.max_disk = max_disk
        # what the user should know about the disk cache: turned off, or an entry it could not use
        self.notice: str | None = None
        self.trainings = 0  # trainings run by this store (the app's "did it retrain?" counter)
        self._memory: OrderedDict[str, TrainResult] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.folder: Path | None = None
        if folder is not None:
            self._use_folder(Path(folder))

    def _use_folder(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".rnnviz-probe-", delete=True)
            probe.close()
            self.folder = folder
        except OSError as exc:
            self.folder = None
            self.notice = f"cache folder {folder} is not writable ({exc.strerror}); memory only"
            return
        self._clean_temporaries()

    def _clean_temporaries(self) -> None:
        """Remove what a killed write left (older than STALE_TEMP_S: a younger one may be
        another process's write in progress): our temporary folders, and the temporary files
        of results kept beside a model inside our own entries; nothing else."""
        assert self.folder is not None
        try:
            leftovers = [p for p in self.folder.iterdir() if _TEMP.fullmatch(p.name)]
            for entry in self.folder.iterdir():
                if _KEY.fullmatch(entry.name) and _is_own_entry(entry):
                    leftovers += [p for p in entry.iterdir() if _KEPT_TEMP.fullmatch(p.name)]
        except OSError:
            return
        now = time.time()
        for path in leftovers:
            try:
                young = now - path.lstat().st_mtime < STALE_TEMP_S
            except OSError:
                continue
            if young or path.is_symlink():
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    # -- lookup -------------------------------------------------------------------------
    def has(self, config: Config) -> bool:
        """Whether a model of ``config`` is in memory or has an entry on disk (not verified)."""
        key = config.training_id()
        with self._lock:
            if key in self._memory:
                return True
        return self.folder is not None and _is_own_entry(self.folder / key)

    def get(self, config: Config) -> TrainResult | None:
        """The cached model for ``config`` (memory, then verified disk entry), or None."""
        key = config.training_id()
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        result = self._read(key, config)
        if result is not None:
            self._remember(key, result)
        return result

    def get_or_train(self, config: Config, progress: ProgressFn | None = None) -> TrainResult:
        """The model for ``config``: cached, or trained now (once, whoever else asks in this
        process). The app's trainings run in worker processes (``rnnviz.worker``), one job at
        a time each, which queue and order them; this store only trains."""
        key = config.training_id()
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self.get(config)
            if cached is not None:
                return cached
            result = train(config, progress)
            self.trainings += 1
            release_free_memory()  # a training's temporaries, back to the system
            self._remember(key, result)
            self._write(key, result)
            return result

    def on_disk(self, config: Config) -> bool:
        """Whether ``config``'s model has an entry of ours on disk (not verified)."""
        return self.folder is not None and _is_own_entry(self.folder / config.training_id())

    def model_bytes(self, config: Config) -> bytes:
        """``config``'s model as ``.keras`` file bytes, read from its entry (no TensorFlow)."""
        if not self.on_disk(config):
            raise LookupError("this model is not in the cache")
        assert self.folder is not None
        return (self.folder / config.training_id() / "model.keras").read_bytes()

    # -- scores kept with their model ---------------------------------------------------
    def get_scores(self, config: Config) -> PerturbationResult | None:
        """The perturbation scores of ``config``'s model saved by :meth:`put_scores` (same
        scoring knobs), or None. Reading them needs no model and no TensorFlow."""
        return self._get_kept(config, "scores", PerturbationResult)

    def put_scores(self, config: Config, scores: PerturbationResult) -> None:
        """Save ``scores`` (of ``config``'s scoring knobs) beside the model, atomically."""
        self._put_kept(config, "scores", scores)

    # -- interactions kept with their model (issue 11): like the scores, per scoring knobs --
    def get_interactions(self, config: Config):
        """The InteractionResult saved by :meth:`put_interactions` for these knobs, or None."""
        from rnnviz.interactions import InteractionResult

        return self._get_kept(config, "interactions", InteractionResult)

    def put_interactions(self, config: Config, result) -> None:
        """Save an InteractionResult of ``config``'s scoring knobs beside the model."""
        self._put_kept(config, "interactions", result)

    # -- a real series' forecast scores (issue 12), kept with the model ------------------
    def get_forecast(self, config: Config) -> dict | None:
        """The numbers of ``rnnviz.datasets.forecast_scores`` saved by :meth:`put_forecast`
        for ``config``'s model, or None. Reading them needs no model and no TensorFlow (the
        verdict is made from them: ``datasets.forecast_verdict``)."""
        path = self._forecast_path(config)
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
            if saved.get("version") != FORECAST_VERSION:
                raise ValueError("another format")
            forecast = dict(saved["forecast"])
            if not all(isinstance(v, (bool, int, float)) for v in forecast.values()):
                raise ValueError("not numbers")
            return forecast
        except Exception:  # damaged or from another format: recomputed and rewritten
            path.unlink(missing_ok=True)
            return None

    def put_forecast(self, config: Config, forecast: dict[str, float]) -> None:
        """Save ``forecast`` (numbers only) beside ``config``'s model, atomically."""
        path = self._forecast_path(config)
        if path is not None:
            numbers = {k: getattr(v, "item", lambda v=v: v)() for k, v in forecast.items()}
            body = {"version": FORECAST_VERSION, "forecast": numbers}  # bools, ints, floats
            self._replace(path, lambda f: f.write(json.dumps(body).encode()))

    def _forecast_path(self, config: Config) -> Path | None:
        if self.folder is None:
            return None
        entry = self.folder / config.training_id()
        return entry / "forecast.json" if _is_own_entry(entry) else None

    # -- one reader and one writer for every result kept beside a model -----------------
    def _get_kept(self, config: Config, prefix: str, kind: type):
        """The ``kind`` saved under ``prefix`` for ``config``'s scoring knobs, or None."""
        path = self._scores_path(config, prefix)
        if path is None or not path.is_file():
            return None
        try:
            return _read_scores(path, kind)
        except Exception:  # damaged or from another format: recomputed and rewritten
            path.unlink(missing_ok=True)
            return None

    def _put_kept(self, config: Config, prefix: str, result) -> None:
        """Save ``result`` under ``prefix`` beside ``config``'s model, atomically."""
        path = self._scores_path(config, prefix)
        if path is not None:
            self._replace(path, lambda f: _write_scores(f, result))

    @staticmethod
    def _replace(path: Path, write: Callable) -> None:
        """``write(file)`` to a temporary file beside ``path``, then renamed over it: readers
        see the old file or the whole new one. A failed write leaves nothing behind."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)

    def _scores_path(self, config: Config, prefix: str = "scores") -> Path | None:
        if self.folder is None:
            return None
        entry = self.folder / config.training_id()
        if not _is_own_entry(entry):
            return None
        knobs = json.dumps([SCORES_VERSION, config.sigma, config.n_repeats, config.n_score])
        return entry / f"{prefix}-{hashlib.sha256(knobs.encode()).hexdigest()[:16]}.npz"

    # -- memory -------------------------------------------------------------------------
    def _remember(self, key: str, result: TrainResult) -> None:
        with self._lock:
            self._memory[key] = result
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_memory:
                self._memory.popitem(last=False)

    # -- disk ---------------------------------------------------------------------------
    def _foreign(self, path: Path) -> None:
        self.notice = (
            f"{path} was not written by rnnviz; it is left alone, and this model is kept in "
            "memory only"
        )

    def _read(self, key: str, config: Config) -> TrainResult | None:
        if self.folder is None:
            return None
        entry = self.folder / key
        if not os.path.lexists(entry):
            return None
        if not _is_own_entry(entry):  # not ours: never loaded, never deleted
            self._foreign(entry)
            return None
        try:
            check = json.loads((entry / "checksum.json").read_text())
            ok = check.get("model.keras") == _digest(entry / "model.keras") and check.get(
                "meta.json"
            ) == _digest(entry / "meta.json")
            result = load(entry, lazy=True) if ok else None
            if result is not None and result.config.training_key() != config.training_key():
                result = None
        except Exception:  # any damage: unreadable, truncated, wrong format
            result = None
        if result is None:  # our own entry, damaged: remove it so it is retrained
            shutil.rmtree(entry, ignore_errors=True)
            return None
        os.utime(entry)  # LRU: most recently used entries are kept
        return result

    def _write(self, key: str, result: TrainResult) -> None:
        if self.folder is None or not _KEY.fullmatch(key):
            return
        final = self.folder / key
        if os.path.lexists(final) and not _is_own_entry(final):
            self._foreign(final)  # the name is taken by something else: write nothing
            return
        tmp: Path | None = None
        try:
            tmp = Path(tempfile.mkdtemp(dir=self.folder, prefix=f"{TEMP_PREFIX}{key}-"))
            save(result, tmp)
            check = {name: _digest(tmp / name) for name in ("model.keras", "meta.json")}
            (tmp / "checksum.json").write_text(json.dumps(check))
            (tmp / ENTRY_MARKER).write_text(_marker(key))
            if os.path.lexists(final):  # checked again: it may have appeared meanwhile
                if not _is_own_entry(final):
                    self._foreign(final)
                    return
                shutil.rmtree(final)  # our own older copy of this entry
            os.replace(tmp, final)
            tmp = None
            self._evict()
        except OSError as exc:  # this entry only: other keys keep using the disk
            self.notice = (
                f"could not write the disk cache entry {key} ({exc.strerror or exc}); "
                "that model is kept in memory only"
            )
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _evict(self) -> None:
        """Remove our least recently used entries beyond ``max_disk``; only ours are counted."""
        assert self.folder is not None
        entries: list[tuple[float, Path]] = []
        for path in self.folder.iterdir():
            if _is_own_entry(path):
                try:
                    entries.append((path.stat().st_mtime, path))
                except OSError:  # removed meanwhile
                    continue
        entries.sort()
        for _, old in entries[: max(0, len(entries) - self.max_disk)]:
            shutil.rmtree(old, ignore_errors=True)
