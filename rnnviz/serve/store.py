"""Trained models kept by configuration: in memory, and on disk so they survive a restart.

One store serves every session of a process. It trains each configuration once (sessions asking for
the same one wait for it; in the app, trainings run in worker processes, ``rnnviz.serve.worker``,
each with a store of its own on the same folder), and writes disk entries atomically (temporary
folder, then rename) with a checksum that is verified on read: a corrupt or half-written entry is
removed and retrained, never loaded. An unwritable cache folder degrades to memory only; a write
that fails for one entry keeps that model in memory and the disk in use for the others.

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
(no other dot-folder is touched). Training and writing an entry holds the key's lock file
(``.rnnviz-lock-<key>``, ``filelock``): another process asking for the same config meanwhile
(a sweep's workers, a second machine on a shared folder) waits, then reads the entry.
"""

from __future__ import annotations

import contextlib
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
from filelock import FileLock

from rnnviz.attr.scoring import PerturbationResult
from rnnviz.config import Config
from rnnviz.data.datasets import check_forecast
from rnnviz.serve.hosting import release_free_memory
from rnnviz.training.result import ProgressFn, TrainResult
from rnnviz.training.saving import load


def train(config: Config, progress: ProgressFn | None = None) -> TrainResult:
    """``rnnviz.training.fit.train``, imported on first use: TensorFlow loads only when a training
    (or a model) is needed, never to serve a cached experiment's pages."""
    from rnnviz.training.fit import train as train_model

    return train_model(config, progress)


def save(result: TrainResult, folder: Path) -> Path:
    from rnnviz.training.saving import save as save_model

    return save_model(result, folder)


# Bumped whenever scoring gives other numbers for the same model and knobs (2: only outputs
# with a defined target count), so saved scores of older code are never served.
SCORES_VERSION = 2
# A real series' forecast scores (forecast.json); 2: written with a checksum.
FORECAST_VERSION = 2
_CHECKSUM = "__checksum__"  # the member of a kept .npz that holds its checksum


def _kept_digest(binding: str, plain: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 of what a kept file holds, bound to where it belongs (``binding``: the entry's
    key and the file's name), so a file edited by hand or copied from elsewhere fails it."""
    digest = hashlib.sha256()
    for part in (binding, plain):
        digest.update(len(part.encode()).to_bytes(8, "little") + part.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        head = json.dumps([name, a.dtype.str, list(a.shape)]).encode()
        digest.update(len(head).to_bytes(8, "little") + head + a.tobytes())
    return digest.hexdigest()


def _write_scores(f, scores, binding: str) -> None:
    arrays, plain = {}, {}
    for fld in dataclasses.fields(scores):
        value = getattr(scores, fld.name)
        if isinstance(value, np.ndarray):
            arrays[fld.name] = value
        else:
            plain[fld.name] = list(value) if isinstance(value, tuple) else value
    text = json.dumps(plain)
    check = _kept_digest(binding, text, arrays)
    np.savez(f, __plain__=np.array(text), **{_CHECKSUM: np.array(check)}, **arrays)


def _read_scores(path: Path, kind: type, binding: str):
    """The ``kind`` kept at ``path``; ValueError unless its checksum (bound to ``binding``)
    holds."""
    with np.load(path, allow_pickle=False) as data:
        values = {name: data[name] for name in data.files if name not in ("__plain__", _CHECKSUM)}
        text = str(data["__plain__"])
        check = str(data[_CHECKSUM]) if _CHECKSUM in data.files else None
    if check != _kept_digest(binding, text, values):
        raise ValueError("checksum does not match")
    plain = json.loads(text)
    for name, value in plain.items():
        values[name] = tuple(value) if isinstance(value, list) else value
    return kind(**values)


def _array(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float array of ``shape``; ValueError otherwise."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise ValueError(f"{what} is not an array of numbers")
    if value.shape != shape:
        raise ValueError(f"{what} has shape {value.shape}, not {shape}")
    return value.astype(np.float64)


def _check_common(result, config: Config) -> None:
    """σ and feature names of a kept result, against the config it is kept for."""
    sigma = result.sigma
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or sigma != config.sigma:
        raise ValueError(f"sigma {sigma!r} is not {config.sigma}")
    names = result.feature_names
    if len(names) != config.n_features or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{len(names)} feature names for {config.n_features} features")


def _counts(value, config: Config) -> np.ndarray | None:
    """The kept output counts: per output step, 0 .. the sequences scored."""
    if value is None:
        return None
    counts = _array(value, (config.seq_len,), "output_counts")
    if not ((counts >= 0) & (counts <= config.n_score) & (counts == np.round(counts))).all():
        raise ValueError("output_counts are not sequence counts")
    return counts


def _check_scores(scores, config: Config) -> None:
    """ValueError unless ``scores`` can be the perturbation scores of ``config``'s model with
    its scoring knobs: types, shapes and finite values (NaN only where no output counted)."""
    if not isinstance(scores, PerturbationResult) or scores.method != "perturbation":
        raise ValueError("not perturbation scores")
    _check_common(scores, config)
    F, T, R = config.n_features, config.seq_len, config.n_repeats
    importances = _array(scores.importances, (F, R), "importances")
    if not (np.isfinite(importances).all() and (importances >= 0).all()):
        raise ValueError("importances are not finite non-negative numbers")
    counts = _counts(scores.output_counts, config)
    response = _array(scores.response, (F, T, T, R), "response")
    counted = response if counts is None else response[:, :, counts > 0]
    if not np.isfinite(counted).all():
        raise ValueError("the response is not finite where outputs count")
    if not np.isfinite(_array(scores.cell, (F, T, R), "cell")).all():
        raise ValueError("the per-step scores are not finite")
    if config.task == "classification":  # the saturation check is made from what they carry
        near = scores.extra.get("outputs_near") if isinstance(scores.extra, dict) else None
        share = near.get("share") if isinstance(near, dict) else None
        if not (isinstance(share, float) and 0.0 <= share <= 1.0):
            raise ValueError("kept without the share of sure outputs (older code)")


def _check_interactions(found, config: Config) -> None:
    """ValueError unless ``found`` can be the InteractionResult of ``config``'s model."""
    _check_common(found, config)
    F, R = config.n_features, config.n_repeats
    pairs = _array(found.importances, (R, F, F), "importances")
    off = ~np.eye(F, dtype=bool)
    if not (np.isfinite(pairs[:, off]).all() and (pairs[:, off] >= 0).all()):
        raise ValueError("pair interactions are not finite non-negative numbers")
    if not np.isfinite(_array(found.single, (R, F), "single")).all():
        raise ValueError("single effects are not finite")
    _counts(found.output_counts, config)


ENTRY_MARKER = "rnnviz-entry.json"  # inside every entry the store wrote
ENTRY_FORMAT = 1
_KEY = re.compile(r"[0-9a-f]{16}")  # Config.training_id(): the only names entries have
TEMP_PREFIX = ".rnnviz-tmp-"  # + key + "-" + mkdtemp's random letters
# A key's lock file: held while one process trains and writes that key's entry, so processes
# sharing the folder (a sweep's workers, machines on a shared disk) never train it twice at once.
LOCK_PREFIX = ".rnnviz-lock-"  # + key
# A temporary folder younger than this may be another process's write in progress (hosted mode
# warms the cache in processes of its own, rnnviz.serve.warm): only older ones count as left behind.
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
            reason = exc.strerror or type(exc).__name__
            self.notice = f"cache folder {folder.name!r} is not writable ({reason}); memory only"
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
        process). The app's trainings run in worker processes (``rnnviz.serve.worker``), one job at
        a time each, which queue and order them; this store only trains."""
        key = config.training_id()
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self.get(config)
            if cached is not None:
                return cached
            with self._entry_lock(key):
                cached = self.get(config)  # another process may have written it meanwhile
                if cached is not None:
                    return cached
                result = train(config, progress)
                self.trainings += 1
                release_free_memory()  # a training's temporaries, back to the system
                self._remember(key, result)
                self._write(key, result)
                return result

    @contextlib.contextmanager
    def _entry_lock(self, key: str):
        """Hold ``key``'s lock file while training and writing its entry (other processes on
        the folder wait, then find the entry); no lock without a disk cache, or where the lock
        file cannot be made (a cache that turned read-only: nothing is written there either)."""
        lock = None
        # a cache folder that vanished is not made again by the lock (the write then fails:
        # memory only, as without the lock)
        if self.folder is not None and self.folder.is_dir() and _KEY.fullmatch(key):
            try:
                lock = FileLock(str(self.folder / f"{LOCK_PREFIX}{key}"))
                lock.acquire()
            except OSError:
                lock = None
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

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

    # -- interactions kept with their model: like the scores, per scoring knobs --
    def get_interactions(self, config: Config):
        """The InteractionResult saved by :meth:`put_interactions` for these knobs, or None."""
        from rnnviz.attr.interactions import InteractionResult

        return self._get_kept(config, "interactions", InteractionResult)

    def put_interactions(self, config: Config, result) -> None:
        """Save an InteractionResult of ``config``'s scoring knobs beside the model."""
        self._put_kept(config, "interactions", result)

    # -- a real series' forecast scores, kept with the model ---------------------------
    def get_forecast(self, config: Config) -> dict | None:
        """The numbers of ``rnnviz.data.datasets.forecast_scores`` saved by :meth:`put_forecast`
        for ``config``'s model, or None. Reading them needs no model and no TensorFlow (the
        verdict is made from them: ``readings.forecast_verdict``). Numbers that fail their
        checksum or cannot be this model's forecasts (``datasets.check_forecast``) are
        removed: recomputed and rewritten by the caller."""
        path = self._forecast_path(config)
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
            if saved.get("version") != FORECAST_VERSION:
                raise ValueError("another format")
            text = json.dumps(saved["forecast"], sort_keys=True)
            if saved.get("checksum") != _kept_digest(self._binding(path), text, {}):
                raise ValueError("checksum does not match")
            forecast = dict(saved["forecast"])
            check_forecast(forecast, config)
            return forecast
        except Exception:  # damaged, forged or from another format: recomputed and rewritten
            self._discard(path)
            return None

    def put_forecast(self, config: Config, forecast: dict[str, float]) -> None:
        """Save ``forecast`` (numbers only) beside ``config``'s model, atomically."""
        path = self._forecast_path(config)
        if path is not None:
            numbers = {k: getattr(v, "item", lambda v=v: v)() for k, v in forecast.items()}
            text = json.dumps(numbers, sort_keys=True)  # bools, ints, floats
            check = _kept_digest(self._binding(path), text, {})
            body = {"version": FORECAST_VERSION, "forecast": numbers, "checksum": check}
            self._replace(path, lambda f: f.write(json.dumps(body).encode()))

    def _forecast_path(self, config: Config) -> Path | None:
        if self.folder is None:
            return None
        entry = self.folder / config.training_id()
        return entry / "forecast.json" if _is_own_entry(entry) else None

    # -- one reader and one writer for every result kept beside a model -----------------
    _CHECKS = {"scores": _check_scores, "interactions": _check_interactions}

    @staticmethod
    def _binding(path: Path) -> str:
        """What a kept file's checksum binds it to: its entry's key and its own name."""
        return f"{path.parent.name}/{path.name}"

    def _get_kept(self, config: Config, prefix: str, kind: type):
        """The ``kind`` saved under ``prefix`` for ``config``'s scoring knobs, or None. A file
        that fails its checksum or cannot be this config's result (types, shapes, finite
        values) is removed: the caller recomputes and rewrites it."""
        path = self._scores_path(config, prefix)
        if path is None or not path.is_file():
            return None
        try:
            found = _read_scores(path, kind, self._binding(path))
            self._CHECKS[prefix](found, config)
            return found
        except Exception:  # damaged, edited or from another format: recomputed and rewritten
            self._discard(path)
            return None

    def _put_kept(self, config: Config, prefix: str, result) -> None:
        """Save ``result`` under ``prefix`` beside ``config``'s model, atomically."""
        path = self._scores_path(config, prefix)
        if path is not None:
            self._replace(path, lambda f: _write_scores(f, result, self._binding(path)))

    def _discard(self, path: Path) -> None:
        """Remove a kept file that cannot be used; on a cache that turned read-only it stays
        (it is refused again on every read, never served)."""
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            self._kept_only_in_memory(exc)

    def _replace(self, path: Path, write: Callable) -> None:
        """``write(file)`` to a temporary file beside ``path``, then renamed over it: readers
        see the old file or the whole new one. A failed write (a full disk, a cache folder that
        turned read-only or vanished) leaves nothing behind when it can, never raises, and
        sets :attr:`notice`: the result stays in the caller's memory only."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except OSError as exc:
            self._kept_only_in_memory(exc)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # e.g. read-only: nothing could be written there either
                pass

    def _kept_only_in_memory(self, exc: OSError) -> None:
        # never the path: the notice is shown to visitors, and the cache's place is the server's
        reason = exc.strerror or type(exc).__name__
        self.notice = (
            f"computed results could not be kept in the disk cache ({reason}); they are kept "
            "in memory only"
        )

    def _scores_path(self, config: Config, prefix: str = "scores") -> Path | None:
        if self.folder is None:
            return None
        entry = self.folder / config.training_id()
        if not _is_own_entry(entry):
            return None
        # σ, repeats and (synthetic data only) the sequences scored: a real series scores
        # every window of its year, so n_score is no part of its key; effect_on only where it
        # is not the probability (Config.scoring_key), so older files keep their names
        knobs = json.dumps([SCORES_VERSION, *(v for _, v in config.scoring_key())])
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
            f"{path.name} in the cache folder was not written by rnnviz; it is left alone, and "
            "this model is kept in memory only"
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
        try:
            os.utime(entry)  # LRU: most recently used entries are kept
        except OSError:  # a cache that turned read-only still serves what it holds
            pass
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
                f"could not write the disk cache entry {key} "
                f"({exc.strerror or type(exc).__name__}); "
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
