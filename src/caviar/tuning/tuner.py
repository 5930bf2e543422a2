"""The tuning process of the notes: random values on the right scales, coarse to fine, panda or
caviar, every trial persisted in a study so that a killed run resumes where it stopped.

The tuner is the driver: it cuts rounds into populations, hands them to an executor
(:mod:`caviar.tuning.executors`: in process, local processes or a Ray cluster) as plain tasks,
and is the only one that writes the study, as outcomes come back."""

from __future__ import annotations

import functools
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
from caviar.model import Model
from caviar.train.population import select_state
from caviar.tuning import exploiting, recycling
from caviar.tuning.cost import choose_executor, choose_population_size, choose_strategy
from caviar.tuning.executors import Executor, cores, main_reruns_in_workers, make_executor
from caviar.tuning.executors.task import Outcome, Step, Task
from caviar.tuning.guided import GUIDED, guided_sample
from caviar.tuning.kept import Kept
from caviar.tuning.progress import Reporter
from caviar.tuning.samplers import sample
from caviar.tuning.settings import TuneSettings, open_study
from caviar.tuning.snapshots import EVERY_SECONDS, Snapshots
from caviar.tuning.space import SearchSpace, searched_and_fixed
from caviar.tuning.study import FINAL, Status, Study, StudyError, Trial, best_trial, rank_key
from caviar.tuning.trials import Prepared, member_result
from caviar.tuning.zoom import narrow

__all__ = ["Reporter", "TuneSettings", "Tuner", "best_trial", "open_study"]


@dataclass
class Group:
    """A population of trials to train: their study ids and configurations, in member
    order, its training state as arrays (None: fresh) and, once trained, each member's
    ``(status, result, metrics)``."""

    ids: list[int]
    configs: list[TrainConfig]
    state: dict[str, np.ndarray] | None = None
    results: list[tuple] | None = None


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
        self._train_parts: dict[tuple, Dataset] = {}  # for the kept models' preprocessing
        self.kept = Kept(study.path, settings.keep)
        self.train_seconds = 0.0

    # -- the process ---------------------------------------------------------------------
    def run(self) -> list[Trial]:
        start = time.perf_counter()
        session = self.study.start_session()
        self.study.reset_unfinished()
        lost = self.kept.missing(self.study)
        if lost:
            self.reporter.message(
                f"the models of trials {lost} were not kept (the tune stopped before it "
                "wrote them); caviar study train STUDY --trial N trains one again"
            )
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
        if s.pbt:
            self.reporter.message("strategy auto → caviar: --pbt trains its members as rows")
            return "caviar"
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
        method = self.settings.sampler
        if method in GUIDED:  # the whole space every round; Optuna learns from the earlier
            space = self.space
            history = [
                (
                    t.config,
                    t.val_loss if t.status in (Status.FINISHED, Status.PRUNED) else None,
                    t.epochs if t.status == Status.PRUNED else None,
                )
                for t in self.study.trials()
                if t.round < r and t.status in FINAL
            ]
            points = guided_sample(method, space, n, _seed(self.settings.seed, r), history)
        else:
            space = (
                self.space
                if r == 0
                else self._narrowed(r - 1, SearchSpace.from_dict(stored[r - 1]))
            )
            points = sample(space, n, method=method, seed=_seed(self.settings.seed, r))
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
        loop = recycling if self.settings.halving else exploiting if self.settings.pbt else None
        if loop is None:
            pending = self._resume_populations(pending)
        groups: dict[tuple, list[tuple[Trial, TrainConfig]]] = defaultdict(list)
        for t in pending:
            config = TrainConfig.from_dict(t.config)
            groups[config.shape()].append((t, config))
        R = self.settings.repeats
        for group in groups.values():
            key = self._data_key(group[0][1])
            K, why = self._population_size(group[0][1], len(group) * R)
            self.reporter.message(
                f"{len(group)} trials of one shape{f' × {R} seeds' if R > 1 else ''}: {why}"
            )
            if loop is not None:
                figures = loop.run(self, self._accepted(group, key), key, K)
                if figures.get("offered"):
                    self.reporter.message(
                        f"asynchronous halving: rows trained a member in "
                        f"{figures['used'] / figures['offered']:.1%} of the row-epochs while "
                        "configurations waited"
                    )
                if figures.get("exploits"):
                    self.reporter.message(
                        f"population-based training: {figures['exploits']} exploits, "
                        f"{figures['copies']} copies of a better member "
                        "(caviar study show STUDY --trial N prints a member's schedule)"
                    )
                continue
            per = max(1, K // R)  # a trial's seeds train in one population
            for i in range(0, len(group), per):
                chunk = group[i : i + per]
                ids = [t.id for t, _ in chunk for _ in range(R)]
                configs = [row for _, c in chunk for row in repeated(c, R)]
                self._submit(Group(ids, configs), key, configs[0].epochs)
        for task, outcome in self.executor.outcomes():
            self._settle(task, outcome)

    def train_lanes(self, lanes: list[Step], key: tuple, cost, final: set, while_training=None):
        """Train every lane (:class:`Step`) as one executor task (its trials marked running
        unless in ``final``), call ``while_training()`` once all are handed over, and return
        their outcomes in lane order: one step of a loop over lanes (halving's, PBT's)."""
        backend = backends.resolve(compute_backend(cost))
        order = {}
        for i, lane in enumerate(lanes):
            task = Task(
                ids=lane.ids,
                configs=[c.to_dict() for c in lane.configs],
                data=key,
                epochs=lane.epochs,
                backend=backend,
                state=lane.state,
                memory=cost.bytes * len(lane.ids),
                final=lane.final,
            )
            self.study.mark_running([t for t in lane.ids if t not in final])
            order[tuple(lane.ids)] = i
            self.executor.submit(task)
        if while_training is not None:
            while_training()
        outcomes = {order[tuple(t.ids)]: o for t, o in self.executor.outcomes()}
        return [outcomes[i] for i in range(len(lanes))]

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
        cost = self.member_cost(group.configs[0])
        snapshots = None
        if (
            self.snapshots.every is not None
            and not self.settings.halving
            and self.executor.shares_files
        ):  # where the task trains writes its checkpoint (an executor on this machine)
            snapshots = {"folder": str(self.snapshots.folder), "every": self.snapshots.every}
        task = Task(
            ids=group.ids,
            configs=[c.to_dict() for c in group.configs],
            data=key,
            epochs=epochs,
            # decided here, for every executor alike: a trial computes the same numbers
            # wherever it runs (the layer kernels agree with NumPy only to rounding)
            backend=backends.resolve(compute_backend(cost)),
            state=group.state,
            memory=cost.bytes * len(group.ids),
            snapshots=snapshots,
        )
        self.study.mark_running(group.ids)
        self.executor.submit(task, self._epoch_reporter(len(group.ids), group.configs[0].epochs))

    def _settle(self, task: Task, outcome: Outcome) -> None:
        """Record a population's outcome. A population continued from a checkpoint that its
        trials refuse starts again afresh. Members the data refuses together are tried one
        by one; one that fails alone, and the members of a task whose worker was lost more
        often than the executor retries, are recorded ``failed`` with the reason."""
        self.snapshots.remove(task.ids)  # recorded below, or retried from the start
        configs = [TrainConfig.from_dict(c) for c in task.configs]
        if outcome.error and task.state is not None and not outcome.lost:
            self.reporter.message(
                f"the checkpoint of trials {task.ids} is not usable ({outcome.error}); "
                "they train afresh"
            )
            self._submit(Group(task.ids, configs), task.data, task.epochs)
        elif outcome.lost or (outcome.error and len(task.ids) == 1):
            self._fail(task.ids, outcome.failure)
        elif outcome.error:
            for trial_id, c in zip(task.ids, configs, strict=True):
                self._submit(Group([trial_id], [c]), task.data, task.epochs)
        else:
            group = Group(task.ids, configs, outcome.state, outcome.results)
            self._record(group, range(len(task.ids)))

    def _resume_populations(self, pending: list[Trial]) -> list[Trial]:
        """Continue every stored population checkpoint that holds pending trials (only
        those members); return the pending trials no checkpoint holds. A state that does
        not fit its trials is found where it is loaded, and they train afresh
        (:meth:`_settle`)."""
        by_id = {t.id: t for t in pending}
        for snap in self.snapshots.stored():
            part = snap.only(set(by_id))
            configs = rows_of(part.ids, by_id, self.settings.repeats)
            if not part.ids or configs != [TrainConfig.from_dict(c) for c in part.configs]:
                if not set(snap.ids) & {t.id for t in self.study.trials(status=(Status.PENDING,))}:
                    snap.path.unlink(missing_ok=True)  # its trials are recorded, or it is stale
                continue
            done = part.state.get("history/loss", np.empty((0, 0))).shape[-1]
            self.reporter.message(
                f"{len(part.ids)} trials continue from epoch {done} of "
                f"{snap.epochs} ({snap.path.name})"
            )
            self._submit(
                Group(part.ids, configs, part.state), self._data_key(configs[0]), snap.epochs
            )
            for i in part.ids:
                del by_id[i]
        return [t for t in pending if t.id in by_id]

    def _accepted(self, group: list[tuple[Trial, TrainConfig]], key: tuple) -> list:
        """The trials of ``group`` the data accepts; one it refuses (more warm-up steps than
        the run has, say) is recorded failed with the reason."""
        accepted = []
        for trial, config in group:
            why = self._prepared[key].refusal(config)
            if why is None:
                accepted.append((trial, config))
            else:
                self._fail([trial.id], why)
        return accepted

    def _fail(self, ids: list[int], why: str) -> None:
        """Record trials ``ids`` failed, with the reason."""
        for trial_id in ids:
            self._finish(trial_id, Status.FAILED, {"error": why}, [])

    def _epoch_reporter(self, members: int, epochs: int):
        def report(pop, epoch: int, history) -> None:
            diverged = int((~history.divergence.active).sum())
            acc = np.where(history.divergence.active, history.val_accuracy[-1], np.nan)
            best = None if np.all(np.isnan(acc)) else float(np.nanmax(acc))
            self.reporter.epoch_done(members, epoch, epochs, diverged, best)

        return report

    def _record(self, group: Group, members, status: Status | None = None):
        finished = {}
        rows: dict[int, list[int]] = defaultdict(list)  # a trial's rows (its seeds)
        for k in members:
            rows[group.ids[k]].append(k)
        for trial_id, ks in rows.items():
            results = [group.results[k] for k in ks]
            for _, result, _ in results:
                self.train_seconds += float(result["seconds"])
            st, result, metrics = results[0] if len(ks) == 1 else over_seeds(
                results, [group.configs[k].seed for k in ks]
            )  # fmt: skip
            st = Status(st)
            final = status if status and st != Status.DIVERGED else st
            self._finish(trial_id, final, result, metrics)
            if final == Status.FINISHED and group.state is not None:
                k = ks[0]  # the kept model: the trial's own seed
                state = functools.partial(select_state, group.state, [k])
                finished[trial_id] = functools.partial(self._model, group.configs[k], state)
        self.kept.offer(self.study, finished)

    def _model(self, config: TrainConfig, state) -> Model:
        """The model of one trained member (``state()`` its arrays, K = 1), as ``caviar
        train`` would have saved it: the training split's standardisation and encoding, the
        tune's data."""
        key = _key(config)
        if key not in self._train_parts:
            self._train_parts[key] = sources.split(self.data, config)[0]
        model = Model.create(config, self._train_parts[key])
        model.pop.load_state(state())
        model.source = self.settings.source()
        return model

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
        status, result, metrics = member_result(model.history, 0, seconds, train_loss)
        self._finish(trial.id, status, result, metrics)
        if status == Status.FINISHED:
            model.source = self.settings.source()
            self.kept.offer(self.study, {trial.id: lambda: model})
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

    def _finish(
        self, trial_id: int, status: str, result: dict, metrics: list[dict], config=None
    ) -> None:
        claim = getattr(self.study, "claim", None)  # open_study's (caviar.tuning.claim)
        if claim is not None and claim.lost:
            raise StudyError(
                f"{self.study.path}: another driver took this study over (this one's "
                "heartbeat went stale); stopping without writing more."
            )
        self.study.finish(trial_id, status, result, metrics, config)
        (trial,) = self.study.trials(id=trial_id)
        done = self.study.count(FINAL)
        self.reporter.trial_done(trial, done, self.settings.trials)


def repeated(config: TrainConfig, R: int) -> list[TrainConfig]:
    """The ``R`` rows of one configuration: its own seed, then ``R − 1`` seeds drawn from it
    (the same for the same seed, wherever the tune runs)."""
    seeds = [config.seed] + [
        int(np.random.default_rng([config.seed, r, 1]).integers(0, 2**31 - 1)) for r in range(1, R)
    ]
    return [config.replace(seed=s) for s in seeds]


def rows_of(ids: list[int], trials: dict, R: int) -> list[TrainConfig]:
    """The configurations of a population's rows ``ids`` (a trial's id once per seed)."""
    seen: dict[int, int] = defaultdict(int)
    out = []
    for i in ids:
        out.append(repeated(TrainConfig.from_dict(trials[i].config), R)[seen[i]])
        seen[i] += 1
    return out


def over_seeds(results: list[tuple], seeds: list[int]) -> tuple[Status, dict, list[dict]]:
    """One trial's ``(status, result, metrics)`` from its seeds' rows: the mean of each
    figure over the seeds (ranking uses the mean), each seed's figures in ``seeds``, their
    standard deviations as ``*_std``; diverged when any seed diverged."""
    keys = ("val_loss", "val_accuracy", "train_loss")
    pairs = zip(seeds, results, strict=True)
    per_seed = [{"seed": s, **{k: r[k] for k in keys}} for s, (_, r, _) in pairs]
    diverged = [i for i, (st, _, _) in enumerate(results) if Status(st) == Status.DIVERGED]
    first = results[diverged[0] if diverged else 0]
    result = dict(first[1])
    result["seconds"] = sum(float(r["seconds"]) for _, r, _ in results)
    result["seeds"] = per_seed
    if not diverged:
        for k in keys:
            values = np.array([r[k] for _, r, _ in results], dtype=float)
            result[k], result[f"{k}_std"] = float(values.mean()), float(values.std())
    epochs = min(len(m) for _, _, m in results)
    metrics = [
        {k: _mean([m[e][k] for _, _, m in results]) for k in results[0][2][e]}
        for e in range(epochs)
    ]
    return (Status.DIVERGED if diverged else Status.FINISHED), result, metrics


def _mean(values: list) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def _key(config: TrainConfig) -> tuple:
    """What the prepared splits of ``config`` depend on besides the data."""
    return (
        config.val_fraction,
        config.test_fraction,
        config.data_seed,
        config.dtype,
        config.preprocess,
    )


def _seed(seed: int, r: int) -> int:
    return int(np.random.default_rng([seed, r, 0]).integers(0, 2**31 - 1))
