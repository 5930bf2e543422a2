"""The tuning process of the notes: random values on the right scales, coarse to fine, panda or
caviar, every trial persisted in a study so that a killed run resumes where it stopped.

The tuner is the driver: it cuts rounds into populations, hands them to an executor
(:mod:`caviar.tuning.executors`: in process, local processes or a Ray cluster) as plain tasks,
and is the only one that writes the study, as outcomes come back."""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caviar import backend as backends
from caviar import sources
from caviar.config import TrainConfig
from caviar.cost import MemberCost, compute_backend
from caviar.data import Dataset
from caviar.errors import CaviarError
from caviar.model import Model
from caviar.train.population import Population, select_state, stack_states
from caviar.tuning.cost import choose_executor, choose_population_size, choose_strategy
from caviar.tuning.executors import Executor, cores, main_reruns_in_workers, make_executor
from caviar.tuning.samplers import sample
from caviar.tuning.settings import TuneSettings, open_study
from caviar.tuning.snapshots import EVERY_SECONDS, Snapshots
from caviar.tuning.space import SearchSpace, searched_and_fixed
from caviar.tuning.study import FINAL, Status, Study, StudyError, Trial, rank_key
from caviar.tuning.trials import Prepared, member_result
from caviar.tuning.zoom import narrow


@dataclass
class Group:
    """A population of trials between rungs: their study ids and configurations, in member
    order, its training state as arrays (None before it trained) and, once trained, each
    member's ``(status, result, metrics)``."""

    ids: list[int]
    configs: list[TrainConfig]
    state: dict[str, np.ndarray] | None = None
    results: list[tuple] | None = None


__all__ = ["Group", "Reporter", "TuneSettings", "Tuner", "best_trial", "open_study", "regroup"]


class Reporter:
    """What the tuner tells the outside world; the command line draws it. No-ops here."""

    def message(self, text: str) -> None: ...

    def trial_done(self, trial: Trial, done: int, total: int) -> None: ...

    def epoch_done(
        self, members: int, epoch: int, epochs: int, diverged: int, best_val_accuracy: float | None
    ) -> None:
        """A running population (or panda trial) of ``members`` finished ``epoch`` (from 0)."""

    def populations(self, running: int, done: int, retried: int, per_node: dict) -> None:
        """The executor's populations: ``running`` now, ``done`` and ``retried`` so far, and
        per node ``{node: {"running": n, "done": n, "retried": n}}``."""


class Tuner:
    """Runs (or resumes) the study at ``path`` for ``data``. Each trial is the config
    ``base`` updated with a point sampled from the round's space. ``executor`` is where the
    populations train: a name of :data:`caviar.tuning.executors.EXECUTORS` (``auto``: local or
    processes as :func:`~caviar.tuning.cost.choose_executor` picks for this tune) or an
    :class:`~caviar.tuning.executors.Executor`; the tuner starts and closes it. A population
    training on this machine (``local``, ``processes``) has its state checkpointed beside the
    study, by the process that trains it, at most every
    ``checkpoint_every`` seconds of training (None: never; :mod:`caviar.tuning.snapshots`),
    and a resumed tune continues it."""

    def __init__(
        self,
        study: Study,
        settings: TuneSettings,
        data: Dataset,
        reporter: Reporter | None = None,
        executor: Executor | str = "auto",
        *,
        checkpoint_every: float | None = EVERY_SECONDS,
    ):
        self.study, self.settings, self.data = study, settings, data
        self.reporter = reporter or Reporter()
        self.snapshots = Snapshots(self._checkpoint_folder(), checkpoint_every)
        self.base = TrainConfig.from_dict(settings.base)
        self.space = SearchSpace.from_dict(settings.space)
        self.executor = executor
        if isinstance(executor, str) and executor != "auto":
            self.executor = make_executor(executor)
        self._prepared: dict[tuple, Prepared] = {}
        self.train_seconds = 0.0

    # -- the process ---------------------------------------------------------------------
    def run(self) -> list[Trial]:
        start = time.perf_counter()
        session = self.study.start_session()
        self.study.reset_unfinished()
        searched, fixed = searched_and_fixed(self.settings.space, self.settings.base)
        self.reporter.message(f"searching {'; '.join(searched) or 'nothing'}")
        self.reporter.message(f"held fixed: {', '.join(fixed)}")
        strategy = self.choose_strategy()
        if self.executor == "auto":
            self.executor = self.choose_executor(strategy)
        self.executor.reporter = self.reporter
        with self.executor:
            for r, n in enumerate(self.settings.round_sizes()):
                self._ensure_round(r, n)
                pending = self.study.trials(r, status=(Status.PENDING,))
                self.reporter.message(
                    f"round {r + 1}/{self.settings.rounds}: {len(pending)} of {n} trials to run"
                )
                if strategy == "panda":
                    for trial in pending:
                        self._run_panda(trial)
                else:
                    self._run_caviar(pending)
        self.study.end_session(
            session, time.perf_counter() - start, self.train_seconds, self.executor.slots
        )
        self.snapshots.tidy()  # the checkpoints are gone once their trials are recorded
        return self.study.trials()

    def member_cost(self, config: TrainConfig) -> MemberCost:
        """What one member shaped like ``config`` costs on its training split."""
        data = self._prepare(config)
        return MemberCost.of(config, data.n_features, data.n_classes, data.n_train)

    def choose_strategy(self) -> str:
        """The strategy, and one line saying why when it was ``auto``."""
        s = self.settings
        if s.strategy != "auto":
            return s.strategy
        choice, why = choose_strategy(
            self.member_cost(self.base), s.trials, s.max_population, os.cpu_count() or 1
        )
        self.reporter.message(f"strategy auto → {choice}: {why}")
        return choice

    def choose_executor(self, strategy: str) -> Executor:
        """The executor ``auto`` stands for in this tune, and one line saying why."""
        seconds = self.settings.trials * self.member_cost(self.base).run_seconds
        name, why = choose_executor(
            strategy, seconds, cores(), spawn_safe=not main_reruns_in_workers()
        )
        self.reporter.message(f"executor auto → {name}: {why}")
        return make_executor(name)

    def _ensure_round(self, r: int, n: int) -> None:
        """Sample round r (its space narrowed around round r - 1's best) unless it exists."""
        stored = dict(self.study.rounds())
        if r in stored:
            return
        space = (
            self.space if r == 0 else self._narrowed(r - 1, SearchSpace.from_dict(stored[r - 1]))
        )
        points = sample(space, n, method=self.settings.sampler, seed=_seed(self.settings.seed, r))
        seeds = np.random.default_rng([self.settings.seed, r, 1]).integers(0, 2**31 - 1, size=n)
        base = self.base.to_dict()
        configs = [
            TrainConfig.from_dict({**base, "seed": int(seed), **point}).to_dict()
            for point, seed in zip(points, seeds, strict=True)
        ]
        self.study.add_round(r, space.to_dict(), configs)

    def _narrowed(self, r: int, space: SearchSpace) -> SearchSpace:
        done = [
            t for t in self.study.trials(r, status=(Status.FINISHED,)) if t.val_loss is not None
        ]
        if not done:
            return space
        done.sort(key=rank_key)
        top = done[: max(2, math.ceil(self.settings.top_fraction * len(done)))]
        return narrow(space, self.space, [t.config for t in top])

    # -- strategies ----------------------------------------------------------------------
    def _prepare(self, config: TrainConfig) -> Prepared:
        """The prepared splits ``config`` trains on, made once per key (:func:`_key`)."""
        key = _key(config)
        if key not in self._prepared:
            self._prepared[key] = Prepared.from_dataset(self.data, config)
        return self._prepared[key]

    def _data_key(self, config: TrainConfig) -> tuple:
        """The key of the prepared splits ``config`` trains on, handed to the executor."""
        self.executor.put_data(_key(config), self._prepare(config))
        return _key(config)

    def _run_caviar(self, pending: list[Trial]) -> None:
        if not self.settings.halving:
            pending = self._resume_populations(pending)
        groups: dict[tuple, list[tuple[Trial, TrainConfig]]] = defaultdict(list)
        for t in pending:
            config = TrainConfig.from_dict(t.config)
            groups[config.shape()].append((t, config))
        for group in groups.values():
            trials = [t for t, _ in group]
            configs = [c for _, c in group]
            key = self._data_key(configs[0])
            data = self._prepared[key]
            K, why = self._population_size(configs[0], len(trials))
            self.reporter.message(f"{len(trials)} trials of one shape: {why}")
            if self.settings.halving:
                self._halving(self._buildable(trials, configs, data, K), key, K)
                continue
            for i in range(0, len(trials), K):
                ids = [t.id for t in trials[i : i + K]]
                self._submit(Group(ids, configs[i : i + K]), key, configs[0].epochs)
        for task, outcome in self.executor.outcomes():
            self._settle(task, outcome)

    def _population_size(self, config: TrainConfig, n: int) -> tuple[int, str]:
        """K as the cost model and memory choose it for one executor slot, and no more than
        keeps every slot busy."""
        K, why = choose_population_size(
            self.member_cost(config),
            n,
            self.settings.max_population,
            memory=self.executor.memory_per_slot(),
        )
        slots = self.executor.slots
        if slots > 1 and K > math.ceil(n / slots):
            K = math.ceil(n / slots)
            why = f"K = {K}, to keep {slots} {self.executor.name} slots busy; was {why}"
        return K, why

    def _submit(self, group: Group, key: tuple, epochs: int) -> None:
        """Hand ``group`` to the executor, to train up to ``epochs``."""
        c = group.configs[0]
        cost = self.member_cost(c)
        task = {
            "ids": group.ids,
            "configs": [c.to_dict() for c in group.configs],
            "data": key,
            "epochs": epochs,
            # decided here, for every executor alike: a trial computes the same numbers
            # wherever it runs (the layer kernels agree with NumPy only to rounding)
            "backend": backends.resolve(compute_backend(cost)),
            "state": group.state,
            "memory": cost.bytes * len(group.ids),
        }
        self.study.mark_running(group.ids)
        if (
            self.snapshots.every is not None
            and not self.settings.halving
            and self.executor.shares_files
        ):  # where the task trains writes its checkpoint (an executor on this machine)
            folder, every = str(self.snapshots.folder), self.snapshots.every
            task["snapshots"] = {"folder": folder, "every": every}
        self.executor.submit(task, self._epoch_reporter(len(group.ids), c.epochs))

    def _settle(self, task: dict, outcome: dict) -> None:
        """Record a population's outcome. Members the data refuses together (a
        configuration such as more warm-up steps than the run has) are tried one by one;
        one that fails alone, and the members of a task whose worker was lost more often
        than the executor retries, are recorded ``failed`` with the reason."""
        ids = task["ids"]
        self.snapshots.remove(ids)  # recorded below, or retried from the start
        if outcome.get("lost") or (outcome["error"] and len(ids) == 1):
            for trial_id in ids:
                self._finish(
                    trial_id, Status.FAILED, {"error": outcome.get("lost") or outcome["error"]}, []
                )
        elif outcome["error"]:
            for trial_id, c in zip(ids, task["configs"], strict=True):
                self._submit(
                    Group([trial_id], [TrainConfig.from_dict(c)]), task["data"], task["epochs"]
                )
        else:
            self._record(Group(ids, [], outcome["state"], outcome["results"]), range(len(ids)))

    def _resume_populations(self, pending: list[Trial]) -> list[Trial]:
        """Continue every stored population checkpoint that holds pending trials (only
        those members); return the pending trials no checkpoint holds."""
        by_id = {t.id: t for t in pending}
        for snap in self.snapshots.stored():
            part = snap.only(set(by_id))
            configs = [TrainConfig.from_dict(by_id[i].config) for i in part.ids]
            if not part.ids or configs != [TrainConfig.from_dict(c) for c in part.configs]:
                if not set(snap.ids) & {t.id for t in self.study.trials(status=("pending",))}:
                    snap.path.unlink(missing_ok=True)  # its trials are recorded, or it is stale
                continue
            key = self._data_key(configs[0])
            data = self._prepared[key]
            try:  # a state that does not fit these trials is dropped: they train afresh
                pop = Population.from_state(
                    configs, data.n_features, data.n_classes, data.n_train, part.state
                )
            except CaviarError as err:
                self.reporter.message(f"{snap.path.name} is not usable ({err}); removed")
                snap.path.unlink(missing_ok=True)
                continue
            self.reporter.message(
                f"{len(part.ids)} trials continue from epoch {pop.history.epochs} of "
                f"{snap.epochs} ({snap.path.name})"
            )
            self._submit(Group(part.ids, configs, part.state), key, snap.epochs)
            for i in part.ids:
                del by_id[i]
        return [t for t in pending if t.id in by_id]

    def _buildable(self, trials, configs, data: Prepared, K: int) -> list[Group]:
        """The trials as groups of at most K; a trial that cannot be built (a
        configuration the data refuses, such as more warm-up steps than the run has) is
        recorded failed with the reason, and the others still form groups."""
        ok: list[tuple[int, TrainConfig]] = []
        for i in range(0, len(trials), K):
            chunk = list(zip([t.id for t in trials[i : i + K]], configs[i : i + K], strict=True))
            try:
                data.build([c for _, c in chunk])
            except CaviarError:
                for trial_id, c in chunk:
                    try:
                        data.build([c])
                    except CaviarError as err:
                        self._finish(trial_id, Status.FAILED, {"error": str(err)}, [])
                    else:
                        ok.append((trial_id, c))
            else:
                ok += chunk
        return [
            Group([i for i, _ in ok[s : s + K]], [c for _, c in ok[s : s + K]])
            for s in range(0, len(ok), K)
        ]

    def _halving(self, groups: list[Group], key: tuple, K: int) -> None:
        """Successive halving across populations: train all to a rung, keep the best
        1/eta by validation loss, regroup the survivors (their states selected and
        stacked, as arrays, in the driver), go on to the next rung."""
        if not groups:
            return
        eta, epochs = self.settings.halving, groups[0].configs[0].epochs
        s = int(math.floor(math.log(epochs) / math.log(eta) + 1e-9))
        rungs = sorted({max(1, round(epochs / eta**i)) for i in range(s, -1, -1)})
        for rung in rungs:
            for g in groups:
                self._submit(g, key, rung)
            trained = self._trained(groups)
            if not trained:
                return
            if rung == epochs:
                for g in trained:
                    self._record(g, range(len(g.ids)))
                return
            ranked = sorted(
                ((p, k) for p, g in enumerate(trained) for k in range(len(g.ids))),
                key=lambda pk: _val_loss(trained[pk[0]].results[pk[1]]),
            )
            keep = max(1, math.ceil(len(ranked) / eta))
            for p, k in ranked[keep:]:
                self._record(trained[p], [k], status=Status.PRUNED)
            survivors = ranked[:keep]
            groups = [regroup(trained, survivors[i : i + K]) for i in range(0, keep, K)]

    def _trained(self, groups: list[Group]) -> list[Group]:
        """The groups' outcomes, in the groups' order; a group that came back without one
        (its worker lost too often, or refused) has its trials recorded failed."""
        done = {}
        for task, outcome in self.executor.outcomes():
            if outcome.get("lost") or outcome["error"]:
                for trial_id in task["ids"]:
                    why = outcome.get("lost") or outcome["error"]
                    self._finish(trial_id, Status.FAILED, {"error": why}, [])
            else:
                done[tuple(task["ids"])] = (outcome["state"], outcome["results"])
        return [
            Group(g.ids, g.configs, *done[tuple(g.ids)]) for g in groups if tuple(g.ids) in done
        ]

    def _epoch_reporter(self, members: int, epochs: int):
        def report(pop, epoch: int, history) -> None:
            diverged = int((~history.divergence.active).sum())
            acc = np.where(history.divergence.active, history.val_accuracy[-1], np.nan)
            best = None if np.all(np.isnan(acc)) else float(np.nanmax(acc))
            self.reporter.epoch_done(members, epoch, epochs, diverged, best)

        return report

    def _record(self, group: Group, members, status: Status | None = None):
        for k in members:
            st, result, metrics = group.results[k]
            st = Status(st)
            self.train_seconds += float(result["seconds"])
            final = status if status and st != Status.DIVERGED else st
            self._finish(group.ids[k], final, result, metrics)

    def _run_panda(self, trial: Trial) -> None:
        """One trial alone, as `caviar train` runs it, with a checkpoint after every epoch."""
        config = TrainConfig.from_dict(trial.config)
        train, val, _ = sources.split(self.data, config)
        ckpt = self._checkpoint_path(trial)
        model = Model.load(ckpt) if ckpt.exists() else Model.create(config, train)
        self.study.mark_running([trial.id])
        start = time.perf_counter()
        report = self._epoch_reporter_panda(config.epochs)
        model.fit(train, val, on_epoch=lambda e, h: (model.save(ckpt), report(e, h)))
        seconds = time.perf_counter() - start
        self.train_seconds += seconds
        train_loss = model.evaluate(train, split="all")["loss"]
        self._finish(trial.id, *member_result(model.history, 0, seconds, train_loss))
        ckpt.unlink(missing_ok=True)

    def _epoch_reporter_panda(self, epochs: int):
        def report(epoch: int, history) -> None:
            active = bool(history.divergence.active[0])
            acc = float(history.val_accuracy[-1][0]) if active else None
            self.reporter.epoch_done(1, epoch, epochs, int(not active), acc)

        return report

    def _checkpoint_folder(self) -> Path:
        return self.study.path.with_name(self.study.path.name + ".checkpoints")

    def _checkpoint_path(self, trial: Trial) -> Path:
        return self._checkpoint_folder() / f"trial-{trial.id}.npz"

    def _finish(self, trial_id: int, status: str, result: dict, metrics: list[dict]) -> None:
        claim = getattr(self.study, "claim", None)  # open_study's (caviar.tuning.claim)
        if claim is not None and claim.lost:
            raise StudyError(
                f"{self.study.path}: another driver took this study over (this one's "
                "heartbeat went stale); stopping without writing more."
            )
        self.study.finish(trial_id, status, result, metrics)
        (trial,) = self.study.trials(id=trial_id)
        done = self.study.count(FINAL)
        self.reporter.trial_done(trial, done, self.settings.trials)


def best_trial(trials: list[Trial]) -> Trial | None:
    """The finished trial ranked first by :func:`~caviar.tuning.study.rank_key` (lowest
    validation loss, ties to the earliest)."""
    done = [t for t in trials if t.status == Status.FINISHED and t.val_loss is not None]
    return min(done, key=rank_key) if done else None


def regroup(groups: list[Group], picks: list[tuple[int, int]]) -> Group:
    """A new group of the members ``picks`` = [(group index, member)], in that order, each
    to continue exactly where it is: their states are selected and stacked as arrays."""
    return Group(
        [groups[p].ids[k] for p, k in picks],
        [groups[p].configs[k] for p, k in picks],
        stack_states([select_state(groups[p].state, [k]) for p, k in picks]),
    )


def _val_loss(member: tuple) -> float:
    """A trained member's validation loss for ranking (inf when diverged or not finite)."""
    status, result, _ = member
    v = result["val_loss"]
    return math.inf if status == Status.DIVERGED or v is None else v


def _key(config: TrainConfig) -> tuple:
    """What the prepared splits of ``config`` depend on besides the data."""
    return (config.val_fraction, config.test_fraction, config.data_seed, config.dtype)


def _seed(seed: int, r: int) -> int:
    return int(np.random.default_rng([seed, r, 0]).integers(0, 2**31 - 1))
