"""The tuning process of the notes: random values on the right scales, coarse to fine, panda or
caviar, every trial persisted in a study so that a killed run resumes where it stopped."""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caviar.config import TrainConfig
from caviar.data import Dataset, train_val_test_split
from caviar.errors import CaviarError
from caviar.model import Model
from caviar.train.population import Population, member_flops, select_state, stack_states
from caviar.tune.cost import (
    available_memory,
    choose_population_size,
    member_bytes,
    population_size,
)
from caviar.tune.samplers import sample
from caviar.tune.settings import TuneSettings, open_study
from caviar.tune.snapshots import EVERY_SECONDS, Snapshots
from caviar.tune.space import SearchSpace
from caviar.tune.study import FINAL, Status, Study, StudyError, Trial, rank_key
from caviar.tune.trials import Prepared, member_result, member_results
from caviar.tune.zoom import narrow


@dataclass
class Group:
    """A population of trials training together: the trials' study ids, in member order."""

    ids: list[int]
    pop: Population


__all__ = ["Group", "Reporter", "TuneSettings", "Tuner", "best_trial", "open_study", "regroup"]


class Reporter:
    """What the tuner tells the outside world; the command line draws it. No-ops here."""

    def message(self, text: str) -> None: ...

    def trial_done(self, trial: Trial, done: int, total: int) -> None: ...

    def epoch_done(
        self, members: int, epoch: int, epochs: int, diverged: int, best_val_accuracy: float | None
    ) -> None:
        """A running population (or panda trial) of ``members`` finished ``epoch`` (from 0)."""


class Tuner:
    """Runs (or resumes) the study at ``path`` for ``data``. Each trial is the config
    ``base`` updated with a point sampled from the round's space. A running population's
    state is checkpointed beside the study at most every ``checkpoint_every`` seconds of
    training (None: never; :mod:`caviar.tune.snapshots`), and a resumed tune continues it."""

    def __init__(
        self,
        study: Study,
        settings: TuneSettings,
        data: Dataset,
        reporter: Reporter | None = None,
        *,
        checkpoint_every: float | None = EVERY_SECONDS,
    ):
        self.study, self.settings, self.data = study, settings, data
        self.reporter = reporter or Reporter()
        self.snapshots = Snapshots(self._checkpoint_folder(), checkpoint_every)
        self.base = TrainConfig.from_dict(settings.base)
        self.space = SearchSpace.from_dict(settings.space)
        self._prepared: dict[tuple, Prepared] = {}
        self.train_seconds = 0.0

    # -- the process ---------------------------------------------------------------------
    def run(self) -> list[Trial]:
        start = time.perf_counter()
        session = self.study.start_session()
        self.study.reset_unfinished()
        strategy = self.choose_strategy()
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
        self.study.end_session(session, time.perf_counter() - start, self.train_seconds)
        self.snapshots.tidy()  # the checkpoints are gone once their trials are recorded
        return self.study.trials()

    def choose_strategy(self) -> str:
        """The strategy, and one line saying why when it was ``auto``."""
        s = self.settings
        if s.strategy != "auto":
            return s.strategy
        free, cores = available_memory(), os.cpu_count() or 1
        per = member_bytes(self.base, self.data.n_features, self.data.n_classes)
        gflop = member_flops(self.base, self.data.n_features, self.data.n_classes, len(self.data))
        gflop /= 1e9
        if s.trials == 1:
            choice, why = "panda", "one trial: babysit it"
        elif 2 * per > 0.5 * free:
            choice, why = (
                "panda",
                (
                    f"one trial needs {per / 2**30:.1f} GiB of the "
                    f"{free / 2**30:.1f} GiB free: one at a time"
                ),
            )
        else:
            K = population_size(
                self.base,
                self.data.n_features,
                self.data.n_classes,
                s.trials,
                s.max_population,
                free,
            )
            choice, why = (
                "caviar",
                (
                    f"{s.trials} trials of ~{gflop:.2g} GFLOP each, up to {K} "
                    f"per population in {free / 2**30:.1f} GiB free on "
                    f"{cores} cores"
                ),
            )
        self.reporter.message(f"strategy auto → {choice}: {why}")
        return choice

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
    def _prepared_for(self, config: TrainConfig) -> Prepared:
        key = (config.val_fraction, config.test_fraction, config.data_seed, config.dtype)
        if key not in self._prepared:
            self._prepared[key] = Prepared.from_dataset(self.data, config)
        return self._prepared[key]

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
            data = self._prepared_for(configs[0])
            K, why = choose_population_size(
                configs[0],
                data.n_features,
                data.n_classes,
                len(trials),
                data.n_train,
                self.settings.max_population,
            )
            self.reporter.message(f"{len(trials)} trials of one shape: {why}")
            if self.settings.halving:
                self._halving(self._buildable(trials, configs, data, K), data, K)
                continue
            for i in range(0, len(trials), K):
                self._run_population([t.id for t in trials[i : i + K]], configs[i : i + K], data)

    def _buildable(self, trials, configs, data: Prepared, K: int) -> list[Group]:
        """The trials as populations of at most K; a trial that cannot be built (a
        configuration the data refuses, such as more warm-up steps than the run has) is
        recorded failed with the reason, and the others still form populations."""
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
            Group([i for i, _ in ok[s : s + K]], data.build([c for _, c in ok[s : s + K]]))
            for s in range(0, len(ok), K)
        ]

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
            data = self._prepared_for(configs[0])
            try:
                pop = Population.from_state(
                    configs, data.n_features, data.n_classes, data.n_train, part.state
                )
            except CaviarError as err:  # not this population's state: train it afresh
                self.reporter.message(f"{snap.path.name} is not usable ({err}); removed")
                snap.path.unlink(missing_ok=True)
                continue
            self.reporter.message(
                f"{len(part.ids)} trials continue from epoch {pop.history.epochs} of "
                f"{snap.epochs} ({snap.path.name})"
            )
            self._run_population(part.ids, configs, data, pop)
            snap.path.unlink(missing_ok=True)
            for i in part.ids:
                del by_id[i]
        return [t for t in pending if t.id in by_id]

    def _run_population(
        self,
        ids: list[int],
        configs: list[TrainConfig],
        data: Prepared,
        pop: Population | None = None,
    ) -> None:
        """Train these trials as one population (``pop``, or a fresh one); if that cannot
        be done (a configuration the data refuses, such as more warm-up steps than the run
        has), try each alone and record the ones that fail as ``failed``, with the reason,
        instead of ending the tune."""
        try:
            group = Group(ids, pop or data.build(configs))
            self.study.mark_running(ids)
            epochs = configs[0].epochs
            hooks = [self._epoch_reporter(group)]
            if self.snapshots.every is not None:
                hooks.append(self.snapshots.writer(ids, group.pop, epochs))
            data.train(group.pop, epochs, _each(hooks))
        except CaviarError as err:
            self.snapshots.remove(ids)
            if len(ids) > 1:
                for i, c in zip(ids, configs, strict=True):
                    self._run_population([i], [c], data)
                return
            self._finish(ids[0], Status.FAILED, {"error": str(err)}, [])
            return
        self._record(group, data, range(len(ids)))
        self.snapshots.remove(ids)

    def _halving(self, groups: list[Group], data: Prepared, K: int) -> None:
        """Successive halving across populations: train all to a rung, keep the best
        1/eta by validation loss, regroup the survivors (their states selected and
        stacked), go on to the next rung."""
        if not groups:
            return
        eta, epochs = self.settings.halving, groups[0].pop.configs[0].epochs
        s = int(math.floor(math.log(epochs) / math.log(eta) + 1e-9))
        rungs = sorted({max(1, round(epochs / eta**i)) for i in range(s, -1, -1)})
        for rung in rungs:
            for g in groups:
                self.study.mark_running(g.ids)
                data.train(g.pop, rung, self._epoch_reporter(g))
            if rung == epochs:
                for g in groups:
                    self._record(g, data, range(len(g.ids)))
                return
            ranked = sorted(
                ((p, k) for p, g in enumerate(groups) for k in range(len(g.ids))),
                key=lambda pk: _val_loss(groups[pk[0]].pop, pk[1]),
            )
            keep = max(1, math.ceil(len(ranked) / eta))
            for p, k in ranked[keep:]:
                self._record(groups[p], data, [k], status=Status.PRUNED)
            survivors = ranked[:keep]
            groups = [regroup(groups, survivors[i : i + K]) for i in range(0, keep, K)]

    def _epoch_reporter(self, group: Group):
        def report(epoch: int, history) -> None:
            diverged = int((~history.divergence.active).sum())
            acc = np.where(history.divergence.active, history.val_accuracy[-1], np.nan)
            best = None if np.all(np.isnan(acc)) else float(np.nanmax(acc))
            epochs = group.pop.configs[0].epochs
            self.reporter.epoch_done(len(group.ids), epoch, epochs, diverged, best)

        return report

    def _record(self, group: Group, data: Prepared, members, status: Status | None = None):
        self.train_seconds += float(sum(group.pop.seconds[k] for k in members))
        results = member_results(group.pop, data)
        for k in members:
            st, result, metrics = results[k]
            final = status if status and st != Status.DIVERGED else st
            self._finish(group.ids[k], final, result, metrics)

    def _run_panda(self, trial: Trial) -> None:
        """One trial alone, as `caviar train` runs it, with a checkpoint after every epoch."""
        config = TrainConfig.from_dict(trial.config)
        train, val, _ = train_val_test_split(
            self.data, config.val_fraction, config.test_fraction, seed=config.data_seed
        )
        ckpt = self._checkpoint_path(trial)
        model = Model.load(ckpt) if ckpt.exists() else Model.create(config, train)
        self.study.mark_running([trial.id])
        start = time.perf_counter()
        report = self._epoch_reporter_panda(config.epochs)
        model.fit(train, val, on_epoch=lambda e, h: (model.save(ckpt), report(e, h)))
        seconds = time.perf_counter() - start
        self.train_seconds += seconds
        train_loss = model.evaluate(train)["loss"]
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
        claim = getattr(self.study, "claim", None)  # open_study's (caviar.tune.claim)
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
    """The finished trial ranked first by :func:`~caviar.tune.study.rank_key` (lowest
    validation loss, ties to the earliest)."""
    done = [t for t in trials if t.status == Status.FINISHED and t.val_loss is not None]
    return min(done, key=rank_key) if done else None


def regroup(groups: list[Group], picks: list[tuple[int, int]]) -> Group:
    """A new group of the members ``picks`` = [(group index, member)], in that order, each
    continuing exactly where it is: their states are selected and stacked as arrays."""
    states = {p: groups[p].pop.state() for p in {p for p, _ in picks}}
    first = groups[picks[0][0]].pop
    pop = Population.from_state(
        [groups[p].pop.configs[k] for p, k in picks],
        first.n_features,
        first.n_classes,
        first.n_train,
        stack_states([select_state(states[p], [k]) for p, k in picks]),
        first.net.backend,
    )
    return Group([groups[p].ids[k] for p, k in picks], pop)


def _each(hooks):
    """One ``on_epoch`` hook calling every one of ``hooks`` (none of them stops training)."""

    def on_epoch(epoch: int, history) -> None:
        for hook in hooks:
            hook(epoch, history)

    return on_epoch


def _val_loss(pop: Population, k: int) -> float:
    if not pop.history.divergence.active[k]:
        return math.inf
    v = float(pop.history.val_loss[-1][k])
    return v if math.isfinite(v) else math.inf


def _seed(seed: int, r: int) -> int:
    return int(np.random.default_rng([seed, r, 0]).integers(0, 2**31 - 1))
