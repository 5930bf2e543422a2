"""Successive halving across populations, as pure functions the tuner loops over.

Every group (population) trains to a rung; then the members of all groups are ranked by
validation loss, the best ``⌈n / η⌉`` survive and the rest are pruned; the survivors are
regrouped (their states selected and stacked as arrays, so each continues exactly where it
is) and go on to the next rung. The rungs are ``round(epochs / η^i)`` for ``i = s, …, 0``
with ``s = ⌊log_η epochs⌋``, so the last rung is the full run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from caviar.config import TrainConfig
from caviar.train.population import select_state, stack_states
from caviar.tuning.study import Status


@dataclass
class Group:
    """A population of trials between rungs: their study ids and configurations, in member
    order, its training state as arrays (None before it trained) and, once trained, each
    member's ``(status, result, metrics)``."""

    ids: list[int]
    configs: list[TrainConfig]
    state: dict[str, np.ndarray] | None = None
    results: list[tuple] | None = None


Member = tuple[int, int]  # (group index, member index)


def rungs(epochs: int, eta: float) -> list[int]:
    """The epochs at which the members are compared: ``round(epochs / η^i)`` for
    ``i = s, …, 0`` (``s = ⌊log_η epochs⌋``), each at least 1, ascending, ending at
    ``epochs``."""
    s = int(math.floor(math.log(epochs) / math.log(eta) + 1e-9))
    return sorted({max(1, round(epochs / eta**i)) for i in range(s, -1, -1)})


def survivors(trained: list[Group], eta: float) -> tuple[list[Member], list[Member]]:
    """``(kept, pruned)``: every member of the ``trained`` groups ranked by validation loss
    (a diverged member last; ties to the earlier group and member), the best
    ``max(1, ⌈n / η⌉)`` kept in rank order and the rest pruned."""
    ranked = sorted(
        ((p, k) for p, g in enumerate(trained) for k in range(len(g.ids))),
        key=lambda pk: val_loss(trained[pk[0]].results[pk[1]]),
    )
    keep = max(1, math.ceil(len(ranked) / eta))
    return ranked[:keep], ranked[keep:]


def regroup(groups: list[Group], picks: list[Member]) -> Group:
    """A new group of the members ``picks``, in that order, each to continue exactly where
    it is: their states are selected and stacked as arrays."""
    return Group(
        [groups[p].ids[k] for p, k in picks],
        [groups[p].configs[k] for p, k in picks],
        stack_states([select_state(groups[p].state, [k]) for p, k in picks]),
    )


def regrouped(groups: list[Group], kept: list[Member], K: int) -> list[Group]:
    """The ``kept`` members as groups of at most K, in rank order."""
    return [regroup(groups, kept[i : i + K]) for i in range(0, len(kept), K)]


def val_loss(member: tuple) -> float:
    """A trained member's validation loss for ranking (inf when diverged or not finite)."""
    status, result, _ = member
    v = result["val_loss"]
    return math.inf if status == Status.DIVERGED or v is None else v
