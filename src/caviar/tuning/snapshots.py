"""Population checkpoints: a running population's whole state beside its study, so that a
killed tune resumes in the middle of a population instead of training it again.

``{study}.checkpoints/pop-<first trial id>.npz`` holds :meth:`Population.state` (the
arrays, no pickle), the member trial ids, their configurations and the target epoch. It is
written at epoch ends, at most once every ``every`` seconds of training, atomically
(:func:`caviar.checkpoint.save`: a temporary file, fsync, rename), and removed once its
trials are recorded. A member continues from the state exactly, so a resumed trial gives
the numbers it would have given uninterrupted (its training time aside).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caviar import checkpoint
from caviar.errors import CheckpointError
from caviar.train.population import Population, select_state

# Seconds of training between two writes of one population's checkpoint: at most this much
# training is lost per kill; the write itself (a few MB, one fsync) costs milliseconds.
EVERY_SECONDS = 5.0


@dataclass
class Snapshot:
    """A stored population: its trial ids (member order), configurations (dicts), target
    epoch and state."""

    path: Path
    ids: list[int]
    configs: list[dict]
    epochs: int
    state: dict[str, np.ndarray]

    def only(self, ids: set[int]) -> Snapshot:
        """The members whose ids are in ``ids``, in order."""
        keep = [k for k, i in enumerate(self.ids) if i in ids]
        return Snapshot(
            self.path,
            [self.ids[k] for k in keep],
            [self.configs[k] for k in keep],
            self.epochs,
            select_state(self.state, keep),
        )


class Snapshots:
    """The population checkpoints of one study, in ``folder``."""

    def __init__(self, folder: Path, every: float = EVERY_SECONDS):
        self.folder, self.every = Path(folder), every

    def path(self, ids: list[int]) -> Path:
        return self.folder / f"pop-{ids[0]}.npz"

    def writer(self, ids: list[int], pop: Population, epochs: int):
        """An ``on_epoch`` hook that writes ``pop``'s state when ``every`` seconds of
        training have passed since the last write (or the start)."""
        path, start = self.path(ids), time.perf_counter()
        last = start
        seconds = pop.seconds.copy()

        def write(epoch: int, history) -> None:
            nonlocal last
            now = time.perf_counter()
            if now - last < self.every or history.epochs >= epochs:
                return  # the last epoch is recorded in the study at once: no need
            state = pop.state()
            state["time/seconds"] = seconds + (now - start) / pop.K  # train adds it at the end
            meta = {
                "kind": "population",
                "ids": list(ids),
                "configs": [c.to_dict() for c in pop.configs],
                "epochs": epochs,
            }
            checkpoint.save(path, state, meta)
            last = time.perf_counter()

        return write

    def stored(self) -> list[Snapshot]:
        """Every readable population checkpoint; a damaged one is removed (its trials train
        again from the start: nothing else is lost)."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("pop-*.npz")):
            try:
                arrays, meta = checkpoint.load(path)
                out.append(
                    Snapshot(path, meta["ids"], meta["configs"], int(meta["epochs"]), arrays)
                )
            except (CheckpointError, KeyError, TypeError, ValueError):
                path.unlink(missing_ok=True)
        return out

    def plan_path(self, kind: str, round: int, shape: tuple) -> Path:
        """Where a loop of ``kind`` (``halving``, ``pbt``) over round ``round``'s trials of
        one ``shape`` (:meth:`TrainConfig.shape`) keeps its plan."""
        digest = hashlib.sha1(json.dumps([str(v) for v in shape]).encode()).hexdigest()[:12]
        return self.folder / f"{kind}-r{round}-{digest}.npz"

    def remove(self, ids: list[int]) -> None:
        self.path(ids).unlink(missing_ok=True)

    def tidy(self) -> None:
        """Remove the folder when nothing is left in it."""
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


def save_plan(path: Path, meta: dict, states: list[dict[str, np.ndarray] | None]) -> None:
    """Write a loop's plan: its JSON ``meta`` and each lane's state (None: not trained yet)
    as arrays ``lane<i>/<name>``, atomically."""
    arrays = {
        f"lane{i}/{name}": v
        for i, state in enumerate(states)
        if state is not None
        for name, v in state.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(path, arrays, meta)


def load_plan(path: Path) -> tuple[dict, list[dict[str, np.ndarray] | None]]:
    """What :func:`save_plan` wrote: the meta and the state of each of its ``lanes`` (a
    CheckpointError for a damaged file, a KeyError for a meta without lanes)."""
    arrays, meta = checkpoint.load(path)
    states = []
    for i in range(len(meta["lanes"])):
        prefix = f"lane{i}/"
        state = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        states.append(state or None)
    return meta, states
