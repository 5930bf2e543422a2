"""Checkpoint files: one ``.npz`` of named arrays plus JSON metadata, never pickle.

Written to a temporary file beside the target and renamed over it, so a crash leaves the
previous checkpoint (or none), never half of one; the temporary file's name holds the
writer's pid, and the next save of that path removes those of writers that died (kill -9)
mid-write. Read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from caviar._files import usual_mode
from caviar.errors import CheckpointError

META_KEY = "__meta__"
FORMAT = "caviar-checkpoint"
FORMAT_VERSION = 2  # 2: the training state as arrays (caviar.train.population)


def save(path: str | Path, arrays: dict[str, np.ndarray], meta: dict, durable: bool = True) -> Path:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) to ``path`` atomically; ``durable``:
    on disk (fsync) before the rename, so a power cut leaves the old file or the new one.
    Without it (what can be computed again), a cut may leave a torn file, which
    :func:`load` refuses as corrupt."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    payload = {**arrays, META_KEY: np.array(json.dumps(meta))}
    _remove_dead_writers(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    usual_mode(fd)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _remove_dead_writers(path: Path) -> None:
    """Delete ``.<name>.<pid>.*.tmp`` files beside ``path`` whose pid is not running here:
    the partial writes of a save that was killed (kill -9 runs no clean-up). Called by
    every save and load of ``path``; a folder this process may not write is left alone."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load(path: str | Path, required: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint: ``(arrays, meta)``. Refuses, with a CheckpointError naming the file,
    a missing, truncated or non-caviar file, pickled objects and missing ``required`` arrays."""
    path = Path(path)
    _remove_dead_writers(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: {_what_it_is(path)}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise CheckpointError(
                f"{path}: holds pickled Python objects; caviar refuses to load them "
                "(they can run code). Only a checkpoint written by caviar can be loaded."
            ) from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({e}).") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise CheckpointError(
            f"{path}: truncated or corrupt checkpoint ({type(e).__name__}: {e})."
        ) from None
    meta = _meta(path, arrays.pop(META_KEY, None))
    if required and meta.get("kind") == "caviar-ensemble":
        raise CheckpointError(
            f"{path}: an ensemble of {len(meta.get('members', []))} models, not one model; "
            "caviar predict, evaluate, info and export take it, resume and partial_fit need "
            "a single model (a member's own file in the study's .models folder)."
        )
    missing = [k for k in required if k not in arrays]
    if missing:
        raise CheckpointError(
            f"{path}: lacks the array(s) {missing}; it is not a model of this kind."
        )
    return arrays, meta


def _what_it_is(path: Path) -> str:
    """What a file that is no ``.npz`` archive looks like, and what to give instead."""
    with open(path, "rb") as f:
        head = f.read(4096)
    instead = "give a model saved by caviar train --save (an .npz file)"
    if head.startswith(b"SQLite format 3\0"):
        return (
            f"an SQLite database (a caviar study?), not a model; {instead}, or take one out "
            "of a study with caviar study train STUDY --trial N --save MODEL.npz"
        )
    if path.suffix.lower() == ".onnx":
        return (
            "an ONNX graph (what caviar export --onnx writes), not a caviar model; run it with "
            f"onnxruntime, or {instead}"
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if head and text is not None and "\x00" not in text:
        kind = "a CSV file" if path.suffix.lower() == ".csv" or "," in text else "a text file"
        return f"{kind}, not a model: data goes after --data; {instead} as MODEL"
    return f"truncated or corrupt checkpoint (not an .npz archive); {instead}"


def _meta(path: Path, raw) -> dict:
    if raw is None or raw.dtype.kind != "U" or raw.shape != ():
        raise CheckpointError(f"{path}: has no caviar metadata; it is not a caviar checkpoint.")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({e}).") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a caviar checkpoint (format {meta.get('format')!r}).")
    if meta.get("format_version", 0) < FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by an older caviar (format {meta.get('format_version')}), whose "
            "training state this one no longer reads; train the model again."
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by a newer caviar (format {meta['format_version']}); upgrade caviar."
        )
    return meta
