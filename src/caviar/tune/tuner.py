"""The tuning process of the notes: random values on the right scales, coarse to fine, panda or
caviar, every trial persisted in a study so that a killed run resumes where it stopped."""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from caviar.config import TrainConfig
from caviar.data import Dataset, train_val_test_split
from caviar.errors import CaviarError, InvalidArgument
from caviar.model import Model
from caviar.population import parameter_count
from caviar.tune.cost import choose_population_size
from caviar.tune.population import (
    Population,
    Prepared,
    available_memory,
    gather,
    member_bytes,
    member_result,
    population_size,
    shape_key,
)
from caviar.tune.samplers import sample
from caviar.tune.space import SearchSpace
from caviar.tune.study import FINAL, Study, StudyError, Trial
from caviar.tune.zoom import narrow

STRATEGIES = ("auto", "caviar", "panda")


@dataclass
class TuneSettings:
    """What a tune is; stored in the study, so ``--resume`` needs nothing else."""

    data: str
    trials: int
    space: dict
    target: str | None = None
    base: dict = field(default_factory=dict)
    rounds: int = 1
    strategy: str = "auto"
    sampler: str = "random"
    seed: int = 0
    halving: float | None = None
    top_fraction: float = 0.25
    max_population: int | None = None

    def check(self) -> TuneSettings:
        if self.trials < 1:
            raise InvalidArgument(f"The 'trials' parameter must be >= 1. Got {self.trials}.")
        if not 1 <= self.rounds <= self.trials:
            raise InvalidArgument(
                f"The 'rounds' parameter must be in [1, trials = {self.trials}]. Got {self.rounds}."
            )
        if self.strategy not in STRATEGIES:
            raise InvalidArgument(
                f"The 'strategy' parameter must be one of {STRATEGIES}. Got {self.strategy!r}."
            )
        if self.halving is not None and self.halving <= 1:
            raise InvalidArgument(f"The 'halving' parameter must be > 1. Got {self.halving}.")
        if not 0 < self.top_fraction <= 1:
            raise InvalidArgument(
                f"The 'top_fraction' parameter must be in (0, 1]. Got {self.top_fraction}."
            )
        SearchSpace.from_dict(self.space)
        if not TrainConfig.from_dict(self.base).val_fraction > 0:
            raise InvalidArgument(
                "A tune ranks trials on validation data: the 'val_fraction' parameter must be > 0."
            )
        return self

    def round_sizes(self) -> list[int]:
        """The trial budget split over the rounds, the first rounds taking the remainder."""
        q, r = divmod(self.trials, self.rounds)
        return [q + (i < r) for i in range(self.rounds)]


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
    ``base`` updated with a point sampled from the round's space."""

    def __init__(
        self, study: Study, settings: TuneSettings, data: Dataset, reporter: Reporter | None = None
    ):
        self.study, self.settings, self.data = study, settings, data
        self.reporter = reporter or Reporter()
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
            pending = self.study.trials(r, status=("pending",))
            self.reporter.message(
                f"round {r + 1}/{self.settings.rounds}: {len(pending)} of {n} trials to run"
            )
            if strategy == "panda":
                for trial in pending:
                    self._run_panda(trial)
            else:
                self._run_caviar(pending)
        self.study.end_session(session, time.perf_counter() - start, self.train_seconds)
        folder = self._checkpoint_path(Trial(0, 0, 0, {}, "")).parent
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # panda's per-trial checkpoints are gone once their trials finish
        return self.study.trials()

    def choose_strategy(self) -> str:
        """The strategy, and one line saying why when it was ``auto``."""
        s = self.settings
        if s.strategy != "auto":
            return s.strategy
        free, cores = available_memory(), os.cpu_count() or 1
        per = member_bytes(self.base, self.data.n_features, self.data.n_classes)
        params = parameter_count(self.base, self.data.n_features, self.data.n_classes)
        gflop = 6 * params * len(self.data) * self.base.epochs / 1e9  # ~6 flops/param/example
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
        done = [t for t in self.study.trials(r, status=("finished",)) if t.val_loss is not None]
        if not done:
            return space
        done.sort(key=lambda t: t.val_loss)
        top = done[: max(2, math.ceil(self.settings.top_fraction * len(done)))]
        return narrow(space, self.space, [t.config for t in top])

    # -- strategies ----------------------------------------------------------------------
    def _prepared_for(self, config: TrainConfig) -> Prepared:
        key = (config.val_fraction, config.test_fraction, config.data_seed, config.dtype)
        if key not in self._prepared:
            self._prepared[key] = Prepared.from_dataset(self.data, config)
        return self._prepared[key]

    def _run_caviar(self, pending: list[Trial]) -> None:
        groups: dict[tuple, list[tuple[Trial, TrainConfig]]] = defaultdict(list)
        for t in pending:
            config = TrainConfig.from_dict(t.config)
            groups[shape_key(config)].append((t, config))
        for group in groups.values():
            trials = [t for t, _ in group]
            configs = [c for _, c in group]
            data = self._prepared_for(configs[0])
            K, why = choose_population_size(
                configs[0],
                data.X_train.shape[1],
                data.n_classes,
                len(trials),
                len(data.y_train),
                self.settings.max_population,
            )
            self.reporter.message(f"{len(trials)} trials of one shape: {why}")
            chunks = [list(range(i, min(i + K, len(trials)))) for i in range(0, len(trials), K)]
            if self.settings.halving:
                try:
                    pops = [
                        Population.new([trials[i].id for i in c], [configs[i] for i in c], data)
                        for c in chunks
                    ]
                except CaviarError:
                    pass  # some trial cannot be built: run them plainly, failures recorded
                else:
                    self._halving(pops, data, K)
                    continue
            for c in chunks:
                self._run_population([trials[i].id for i in c], [configs[i] for i in c], data)

    def _run_population(self, ids: list[int], configs: list[TrainConfig], data: Prepared) -> None:
        """Train these trials as one population; if that cannot be done (a configuration
        the data refuses, such as more warm-up steps than the run has), try each alone and
        record the ones that fail as ``failed``, with the reason, instead of ending the tune."""
        epochs = configs[0].epochs
        try:
            pop = Population.new(ids, configs, data)
            self.study.mark_running(pop.ids)
            pop.train(data, epochs, self._epoch_reporter(pop, epochs))
        except CaviarError as err:
            if len(ids) > 1:
                for i, c in zip(ids, configs, strict=True):
                    self._run_population([i], [c], data)
                return
            self._finish(ids[0], "failed", {"error": str(err)}, [])
            return
        self._record(pop, range(len(ids)))

    def _halving(self, pops: list[Population], data: Prepared, K: int) -> None:
        """Successive halving across populations: train all to a rung, keep the best
        1/eta by validation loss, regroup the survivors, go on to the next rung."""
        eta, epochs = self.settings.halving, pops[0].configs[0].epochs
        s = int(math.floor(math.log(epochs) / math.log(eta) + 1e-9))
        rungs = sorted({max(1, round(epochs / eta**i)) for i in range(s, -1, -1)})
        for rung in rungs:
            for pop in pops:
                self.study.mark_running(pop.ids)
                pop.train(data, rung, self._epoch_reporter(pop, epochs))
            if rung == epochs:
                for pop in pops:
                    self._record(pop, range(len(pop.ids)))
                return
            ranked = sorted(
                ((p, k) for p in range(len(pops)) for k in range(len(pops[p].ids))),
                key=lambda pk: _val_loss(pops[pk[0]], pk[1]),
            )
            keep = max(1, math.ceil(len(ranked) / eta))
            for p, k in ranked[keep:]:
                self._record(pops[p], [k], status="pruned")
            survivors = ranked[:keep]
            pops = [gather(pops, survivors[i : i + K], data) for i in range(0, keep, K)]

    def _epoch_reporter(self, pop: Population, epochs: int):
        def report(epoch: int, history) -> None:
            diverged = int((~history.divergence.active).sum())
            acc = np.where(history.divergence.active, history.val_accuracy[-1], np.nan)
            best = None if np.all(np.isnan(acc)) else float(np.nanmax(acc))
            self.reporter.epoch_done(len(pop.ids), epoch, epochs, diverged, best)

        return report

    def _record(self, pop: Population, members, status: str | None = None) -> None:
        self.train_seconds += float(sum(pop.seconds[k] for k in members))
        for k in members:
            st, result, metrics = pop.result(k)
            self._finish(pop.ids[k], status if status and st != "diverged" else st, result, metrics)

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

    def _checkpoint_path(self, trial: Trial) -> Path:
        return (
            self.study.path.with_name(self.study.path.name + ".checkpoints")
            / f"trial-{trial.id}.npz"
        )

    def _finish(self, trial_id: int, status: str, result: dict, metrics: list[dict]) -> None:
        self.study.finish(trial_id, status, result, metrics)
        (trial,) = self.study.trials(id=trial_id)
        done = self.study.count(FINAL)
        self.reporter.trial_done(trial, done, self.settings.trials)


def best_trial(trials: list[Trial]) -> Trial | None:
    """The finished trial with the lowest validation loss (ties: the earliest)."""
    done = [t for t in trials if t.status == "finished" and t.val_loss is not None]
    return min(done, key=lambda t: (t.val_loss, t.round, t.number)) if done else None


def open_study(
    path: str | Path, settings: TuneSettings | None, resume: bool
) -> tuple[Study, TuneSettings]:
    """Open a study to start (``settings`` given, study empty) or resume (settings stored)."""
    study = Study(path)
    stored = study.settings()
    if resume:
        if not stored:
            study.close()
            raise StudyError(
                f"{path}: no tune to resume in this study; start one without --resume."
            )
        return study, TuneSettings(**stored["tune"])
    if stored:
        study.close()
        raise StudyError(
            f"{path}: this study already holds a tune; add --resume to continue it, or choose "
            "another --study path."
        )
    study.save_settings({"tune": asdict(settings.check())})
    return study, settings


def _val_loss(pop: Population, k: int) -> float:
    if not pop.history.divergence.active[k]:
        return math.inf
    v = float(pop.history.val_loss[-1][k])
    return v if math.isfinite(v) else math.inf


def _seed(seed: int, r: int) -> int:
    return int(np.random.default_rng([seed, r, 0]).integers(0, 2**31 - 1))
