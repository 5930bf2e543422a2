"""The tuner's asynchronous halving loop: populations that stay full by recycling rows
(the policy: :mod:`caviar.tuning.halving`).

Each tick every lane trains one epoch as an executor task (its state travels as arrays, as
every population's does); once every lane is back, the rows are settled in lane and row
order: a member that diverged, finished or was pruned at a rung is recorded, and its row
goes to the next waiting configuration. The plan and the lanes' states are written beside
the study at most every ``Snapshots.every`` seconds (and before the first tick), so a
killed tune resumes from the last one and replays the ticks since: they compute the same
numbers, and a trial the study already holds is not written again.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from caviar.config import TrainConfig
from caviar.errors import CheckpointError
from caviar.train.batches import batch_bounds
from caviar.train.population import Population, recycle_row, select_state, solo_state
from caviar.tuning.cost import choose_population_size
from caviar.tuning.executors.task import Step
from caviar.tuning.halving import Ladder, Lane, Plan, Row, rungs
from caviar.tuning.snapshots import load_plan, save_plan
from caviar.tuning.study import FINAL, Status, Trial


def run(tuner, accepted: list[tuple[Trial, TrainConfig]], key: tuple, K: int) -> dict:
    """Run (or resume) asynchronous halving over ``accepted`` (one round's trials of one
    shape, in id order) in lanes of at most ``K`` rows; return its figures
    (``ticks``; ``used`` and ``offered``: the row-epochs that trained a member and the
    row-epochs the lanes had, summed over the ticks while configurations were waiting)."""
    if not accepted:
        return {}
    s = tuner.settings
    config = accepted[0][1]
    data = tuner._prepare(config)
    spe = len(batch_bounds(data.n_train, config.batch_size))
    r = accepted[0][0].round
    path = tuner.snapshots.plan_path("halving", r, config.shape())
    configs = {  # every trial of the round and shape, as it started (a resumed plan's rows)
        t.id: c
        for t in tuner.study.trials(r)
        if (c := TrainConfig.from_dict(t.config).replace(order_offset=0)).shape() == config.shape()
    }
    plan = _stored(path, configs, tuner) or _fresh(
        accepted, _rows_K(tuner, config, len(accepted)), tuner.executor.slots, s
    )
    capacity = sum(len(lane.rows) for lane in plan.lanes)  # full while configurations wait
    final = {t.id for t in tuner.study.trials() if t.status in FINAL}
    cost = tuner.member_cost(config)
    every = tuner.snapshots.every
    last = -np.inf
    figures = {"ticks": 0, "offered": 0, "used": 0}
    while plan.lanes:
        save = every is not None and (plan.tick == 0 or time.perf_counter() - last >= every)
        # written while the lanes train: the plan as this tick started
        outcomes = tuner.train_lanes(
            _steps(plan), key, cost, final, functools.partial(_save, path, plan) if save else None
        )
        last = time.perf_counter() if save else last
        if plan.queue:  # rows offered and rows that trained a member, while configs wait
            figures["offered"] += capacity
            figures["used"] += sum(len(lane.rows) for lane in plan.lanes)
        plan.tick += 1
        figures["ticks"] += 1
        lanes = []
        for i, lane in enumerate(plan.lanes):
            outcome = outcomes[i]
            if outcome.failure:
                tuner._fail([r.trial for r in lane.rows if r.trial not in final], outcome.failure)
                final.update(r.trial for r in lane.rows)
                continue
            lane.state = outcome.state
            _settle(tuner, plan, lane, outcome.results, data, spe, final)
            if lane.rows:
                lanes.append(lane)
        if plan.queue and len(lanes) < len(plan.lanes):  # a lane failed: a new one, born now
            lanes.append(_lane(plan, plan.tick, K))
        plan.lanes = lanes
    path.unlink(missing_ok=True)
    return figures


def _fresh(accepted, K: int, slots: int, settings) -> Plan:
    """The plan at tick 0: ``R = min(n, 2K)`` rows (two populations of the cost model's size
    ``K``), fixed by the tune alone, cut into as many lanes as keep the executor's slots
    busy (consecutive blocks, every lane born now: the decisions, taken in row order, are
    the same however the rows are cut, so every executor runs the same halving)."""
    ids = [t.id for t, _ in accepted]
    configs = [c for _, c in accepted]
    epochs = configs[0].epochs
    ladder = Ladder(settings.halving, rungs(epochs, settings.halving, settings.min_epochs))
    plan = Plan(0, ids, [], ladder, dict(zip(ids, configs, strict=True)))
    rows = min(len(ids), 2 * K)
    lanes = max(-(-rows // K), min(slots, rows))
    for i in range(lanes):
        plan.lanes.append(_lane(plan, 0, rows // lanes + (i < rows % lanes)))
    return plan


def _rows_K(tuner, config: TrainConfig, n: int) -> int:
    """The population size of the tune, whatever the executor: the cost model's, at most
    ``n``, ``--max-population`` and what memory here holds."""
    return choose_population_size(tuner.member_cost(config), n, tuner.settings.max_population)[0]


def _lane(plan: Plan, born: int, K: int) -> Lane:
    rows = [Row(i, plan.configs[i], 0) for i in plan.queue[:K]]
    del plan.queue[:K]
    return Lane(born, rows)


def _steps(plan: Plan) -> list[Step]:
    """One epoch of every lane, as the tuner trains lanes."""
    steps = []
    for lane in plan.lanes:
        epochs = plan.tick + 1 - lane.born
        done = [k for k, r in enumerate(lane.rows) if r.done(epochs) >= r.config.epochs]
        ids = [r.trial for r in lane.rows]
        steps.append(Step(ids, lane.configs(), epochs, lane.state, done))
    return steps


def _settle(tuner, plan: Plan, lane: Lane, results, data, spe: int, final: set) -> None:
    """Record the lane's members that ended this tick and give their rows to the queue's
    next configurations (rows nobody waits for leave the lane)."""
    lane_epochs = plan.tick - lane.born
    keep = []
    for k, row in enumerate(lane.rows):
        status, result, metrics = results[k]
        e = row.done(lane_epochs)
        mine = metrics[row.start :]
        status = Status(status)
        if status == Status.FINISHED and e < row.config.epochs:
            if plan.ladder.goes_on(e, mine[-1]["val_loss"]):
                keep.append(k)
                continue
            status = Status.PRUNED
        _record(tuner, lane, row, k, status, result, mine, spe, final)
        if plan.queue:
            new = plan.queue.pop(0)
            config = plan.configs[new]
            fresh = _fresh_state(config.replace(order_offset=lane.born), data)
            recycle_row(lane.state, k, fresh, lane_epochs, spe)
            lane.rows[k] = Row(new, config, lane_epochs)
            keep.append(k)
    if len(keep) < len(lane.rows):
        lane.rows = [lane.rows[k] for k in keep]
        lane.state = select_state(lane.state, keep)


def _record(tuner, lane: Lane, row: Row, k: int, status, result, metrics, spe, final) -> None:
    """Record row ``k``'s member (unless the study holds it: a resumed tune replaying), its
    figures counted from its own start, its configuration with its order offset; a
    finished member is offered to the kept models."""
    if row.trial in final:
        return
    final.add(row.trial)
    result = dict(result)
    train_loss = result["train_loss"]  # the task computed it for the rows that finished
    result.update(metrics[-1])  # its last epoch's figures (a pruned member's train_loss
    result["epochs"] = len(metrics)  # is that epoch's mean training cost)
    if status == Status.FINISHED:
        result["train_loss"] = train_loss
    if status == Status.DIVERGED:
        result["diverged_epoch"] -= row.start
        result["diverged_step"] -= row.start * spe
        result["val_loss"] = result["val_accuracy"] = None
    recorded = lane.recorded(row)
    tuner._finish(row.trial, status, result, metrics, recorded.to_dict())
    if status == Status.FINISHED and tuner.settings.keep:
        state = functools.partial(solo_state, select_state(lane.state, [k]), row.start, spe)
        tuner.kept.offer(tuner.study, {row.trial: functools.partial(tuner._model, recorded, state)})


def _fresh_state(config: TrainConfig, data) -> dict[str, np.ndarray]:
    """A new member's state (K = 1), its weights from its seed."""
    return Population.build([config], data.n_features, data.n_classes, data.n_train).state()


# -- the plan beside the study ---------------------------------------------------------------
def _save(path: Path, plan: Plan) -> None:
    save_plan(path, {"kind": "halving", **plan.to_meta()}, [lane.state for lane in plan.lanes])


def _stored(path: Path, configs: dict, tuner) -> Plan | None:
    """The plan a killed tune left, or None (none, or one that does not fit these trials:
    they start afresh, and a damaged file is said and removed)."""
    if not path.is_file():
        return None
    try:
        meta, states = load_plan(path)
        s = tuner.settings
        epochs = next(iter(configs.values())).epochs
        ladder = Ladder(s.halving, rungs(epochs, s.halving, s.min_epochs))
        ladder.load_meta(meta["ladder"])
        lanes = []
        for lane, state in zip(meta["lanes"], states, strict=True):
            rows = [Row(int(t), configs[int(t)], int(start)) for t, start in lane["rows"]]
            lanes.append(Lane(int(lane["born"]), rows, state))
        plan = Plan(int(meta["tick"]), [int(i) for i in meta["queue"]], lanes, ladder, configs)
    except (CheckpointError, KeyError, TypeError, ValueError) as err:
        tuner.reporter.message(f"{path.name} is not usable ({err}); these trials start afresh")
        path.unlink(missing_ok=True)
        return None
    tuner.reporter.message(f"asynchronous halving continues from epoch {plan.tick} ({path.name})")
    return plan
