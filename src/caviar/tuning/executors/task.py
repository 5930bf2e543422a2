"""What the driver hands an executor (:class:`Task`) and what comes back (:class:`Outcome`):
small typed values whose wire form (``to_dict``/``from_dict``) is plain data, so that they
travel to another process or machine without caviar objects in them. State arrays travel
as they are, ``{name: (K, ...) array}``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, fields, replace

import numpy as np


@dataclass(frozen=True)
class Task:
    """One population to train: the study's trial ``ids`` (member order), their
    ``configs`` (``TrainConfig.to_dict()`` each), the key of the prepared ``data``, train up
    to ``epochs``, the kernel ``backend`` (``"numpy"`` or ``"numba"``, chosen by the driver so
    a trial computes the same numbers wherever it runs), its ``state`` (None: fresh members),
    the ``memory`` it needs in bytes (Ray's resource), ``snapshots`` (None, or ``{"folder",
    "every"}``: write the population's checkpoint there, :mod:`caviar.tuning.snapshots`),
    the ``attempt`` (how often it was started again after a lost worker) and ``final``: the
    members whose cost on the training split the outcome gives (None: all; asynchronous
    halving asks for the rows that end their run)."""

    ids: list[int]
    configs: list[dict]
    data: Hashable
    epochs: int
    backend: str
    state: dict[str, np.ndarray] | None = None
    memory: int = 0
    snapshots: dict | None = None
    attempt: int = 0
    final: list[int] | None = None

    def again(self) -> Task:
        """The same task, started once more."""
        return replace(self, attempt=self.attempt + 1)

    def to_dict(self) -> dict:
        return _shallow(self)

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        return cls(**d)


@dataclass
class Step:
    """A population that a loop of the tuner keeps across tasks (halving's, PBT's lanes), as
    one task: its trial ids and configurations (TrainConfig, member order), the epoch to
    train up to, its state (None: fresh) and the members whose cost on the training split
    the outcome gives (None: all)."""

    ids: list[int]
    configs: list
    epochs: int
    state: dict[str, np.ndarray] | None
    final: list[int] | None


@dataclass
class Outcome:
    """What training a task gave, on ``node``: the population's new ``state``, each member's
    ``(status, result, metrics)`` in ``results`` (status as a string), the ``seconds`` it
    took; or ``error``, the message of the :class:`~caviar.errors.CaviarError` that stopped
    it (a fact about the configurations, the same wherever it runs); or ``lost``, why its
    worker did not return (after the executor's retries). ``pid``: the worker process."""

    node: str
    state: dict[str, np.ndarray] | None = None
    results: list = field(default_factory=list)
    error: str | None = None
    lost: str | None = None
    seconds: float = 0.0
    pid: int | None = None

    @property
    def failure(self) -> str | None:
        """Why the task's trials failed, or None when it trained."""
        return self.lost or self.error

    def to_dict(self) -> dict:
        return _shallow(self)

    @classmethod
    def from_dict(cls, d: dict) -> Outcome:
        return cls(**d)


def _shallow(value) -> dict:
    # not dataclasses.asdict: it deep-copies every state array
    return {f.name: getattr(value, f.name) for f in fields(value)}
