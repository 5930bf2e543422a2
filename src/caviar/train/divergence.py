"""Per-member divergence: detect a non-finite loss or parameter, freeze that member, report."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Divergence:
    """Which members are still training, and when each frozen one diverged.

    ``active (K,)`` bool; ``epoch (K,)`` and ``step (K,)`` hold -1 until member k diverges,
    then the epoch (from 0) and the global step (from 0) at which its loss or a parameter
    stopped being finite. A frozen member's updates are masked to zero by the optimizer;
    the other members compute exactly what they would have without it.
    """

    active: np.ndarray
    epoch: np.ndarray
    step: np.ndarray

    @classmethod
    def new(cls, K: int) -> Divergence:
        return cls(np.ones(K, dtype=bool), np.full(K, -1), np.full(K, -1))

    def check_loss(self, loss: np.ndarray, epoch: int, step: int) -> None:
        """Freeze every active member whose loss ``(K,)`` is not finite."""
        self._freeze(~np.isfinite(loss), epoch, step)

    def check_params(self, params: list[np.ndarray], epoch: int, step: int) -> None:
        """Freeze every active member with a non-finite parameter (one pass over them)."""
        bad = np.zeros(self.active.shape, dtype=bool)
        for p in params:
            bad |= ~np.isfinite(p).reshape(p.shape[0], -1).all(axis=1)
        self._freeze(bad, epoch, step)

    def _freeze(self, bad: np.ndarray, epoch: int, step: int) -> None:
        new = bad & self.active
        if new.any():
            self.active &= ~new
            self.epoch[new] = epoch
            self.step[new] = step

    def state_arrays(self) -> dict[str, np.ndarray]:
        """``active``, ``epoch`` and ``step``, each ``(K,)`` (copies)."""
        return {"active": self.active.copy(), "epoch": self.epoch.copy(), "step": self.step.copy()}

    @classmethod
    def from_state_arrays(cls, state: dict[str, np.ndarray]) -> Divergence:
        return cls(
            np.array(state["active"], dtype=bool),
            np.array(state["epoch"], dtype=np.int64),
            np.array(state["step"], dtype=np.int64),
        )

    @property
    def diverged(self) -> np.ndarray:
        return ~self.active

    def report(self) -> list[dict]:
        """One entry per diverged member: ``{"member", "epoch", "step"}``."""
        return [
            {"member": int(k), "epoch": int(self.epoch[k]), "step": int(self.step[k])}
            for k in np.flatnonzero(~self.active)
        ]
