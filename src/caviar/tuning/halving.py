"""Asynchronous successive halving by recycling rows, as a policy: the rungs, the rung
table's rule, and the rows of the populations it keeps full.

ASHA (Li et al. 2020) in its stopping form, inside vectorised populations. The rungs are at
``min_epochs · η^i`` epochs, below the full run (:func:`rungs`). The loop advances one epoch
at a time (a *tick*), every row of every population training that epoch. A member that
reaches a rung is compared with every member that reached that rung before it, in any
population (:class:`Ladder`): it goes on when its validation loss is among the best
``max(1, ⌊n / η⌋)`` of the ``n`` that have (itself included: the rule of Optuna's
``SuccessiveHalvingPruner``, so the first arrivals go on); otherwise it stops, recorded
``pruned`` at that epoch. The row of a member that stopped, diverged or finished is given
at once to the next configuration waiting, with fresh weights, moments, step count,
schedule and plateau state (:func:`caviar.train.population.recycle_row`); a row nobody
waits for leaves its population. Nothing waits for a rung to fill.

Each population (:class:`Lane`) was born at a loop epoch and trains on the shared
mini-batch order of the loop's epochs; a member that starts on a recycled row at the
lane's epoch ``s`` sees, at its own epoch ``e``, the order of loop epoch ``born + s + e``:
it records ``order_offset = born + s``, and ``caviar train`` with its configuration
reproduces it exactly. Decisions are taken in one fixed order (population, then row) once
every population finished the tick, so a tune gives the same trials with every executor,
and a resumed tune (:meth:`Plan.to_meta`, the lanes' states beside it) the same as an
uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from caviar.config import TrainConfig


def rungs(epochs: int, eta: float, min_epochs: int = 1) -> list[int]:
    """The epochs at which members are compared: ``round(min_epochs · η^i)`` for ``i = 0,
    1, …`` below ``epochs`` (the full run ends a member, it is no rung), ascending."""
    out: list[int] = []
    i = 0
    while (e := max(1, round(min_epochs * eta**i))) < epochs:
        if e not in out:
            out.append(e)
        i += 1
    return out


@dataclass
class Ladder:
    """The rung table: every validation loss recorded at each rung so far, in arrival
    order (``seen {rung: [loss, ...]}``)."""

    eta: float
    rungs: list[int]
    seen: dict[int, list[float]] = field(default_factory=dict)

    def goes_on(self, epoch: int, loss: float | None) -> bool:
        """Whether a member that finished ``epoch`` with validation ``loss`` trains on: True
        off the rungs; at a rung, whether its loss ranks among the best ``max(1, ⌊n / η⌋)``
        of the ``n`` recorded there (itself included; an earlier equal loss ranks first;
        a missing loss is the worst). Records the loss."""
        if epoch not in self.rungs:
            return True
        loss = math.inf if loss is None or not math.isfinite(loss) else float(loss)
        values = self.seen.setdefault(epoch, [])
        rank = sum(v <= loss for v in values)
        values.append(loss)
        return rank < max(1, math.floor(len(values) / self.eta))

    def to_meta(self) -> dict:
        return {str(r): [None if math.isinf(v) else v for v in vs] for r, vs in self.seen.items()}

    def load_meta(self, meta: dict) -> None:
        self.seen = {
            int(r): [math.inf if v is None else float(v) for v in vs] for r, vs in meta.items()
        }


@dataclass
class Row:
    """A row's member: its trial id, configuration (as the study holds it, order offset 0)
    and the lane epoch it started at."""

    trial: int
    config: TrainConfig
    start: int

    def done(self, lane_epochs: int) -> int:
        """The member's epochs once its lane has run ``lane_epochs``."""
        return lane_epochs - self.start


@dataclass
class Lane:
    """One population of rows, born at loop epoch ``born``: its rows and its training state
    (None before its first epoch: the rows are built fresh)."""

    born: int
    rows: list[Row]
    state: dict[str, np.ndarray] | None = None

    def configs(self) -> list[TrainConfig]:
        """The rows' configurations as the population holds them: every row on the lane's
        order, the rows' own starts in the schedule's state."""
        return [r.config.replace(order_offset=self.born) for r in self.rows]

    def recorded(self, row: Row) -> TrainConfig:
        """The configuration a row's trial records: where its mini-batch order starts."""
        return row.config.replace(order_offset=self.born + row.start)


@dataclass
class Plan:
    """Where an asynchronous halving stands: the loop's ``tick`` (epochs run), the trials
    still waiting (``queue``, ids in order), the lanes, the ladder, and the configuration
    of every trial it may hold (``configs {id: TrainConfig}``, order offset 0)."""

    tick: int
    queue: list[int]
    lanes: list[Lane]
    ladder: Ladder
    configs: dict[int, TrainConfig] = field(default_factory=dict)

    def to_meta(self) -> dict:
        """The plan as JSON (the lanes' states travel beside it as arrays)."""
        return {
            "tick": self.tick,
            "queue": list(self.queue),
            "lanes": [
                {"born": lane.born, "rows": [[r.trial, r.start] for r in lane.rows]}
                for lane in self.lanes
            ],
            "ladder": self.ladder.to_meta(),
        }
