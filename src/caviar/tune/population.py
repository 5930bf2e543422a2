"""Trials as rows of one population: prepare the data once, size populations to memory,
train them, regroup survivors, and read each member's result."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from caviar.config import SHAPE_FIELDS, TrainConfig
from caviar.data import Dataset, Standardizer, train_val_test_split
from caviar.nn.network import Network
from caviar.optim import Optimizer, Schedule
from caviar.population import build, parameter_count
from caviar.train import Divergence, History, evaluate, fit
from caviar.train.batches import batch_bounds

HISTORY_KEYS = ("loss", "lr", "val_loss", "val_accuracy")


@dataclass
class Prepared:
    """The splits of one data set as a configuration asks for them, standardised on the
    training split exactly as :class:`caviar.model.Model` does (so results reproduce)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int

    @classmethod
    def from_dataset(cls, ds: Dataset, config: TrainConfig) -> Prepared:
        train, val, _ = train_val_test_split(
            ds, config.val_fraction, config.test_fraction, seed=config.data_seed
        )
        std = Standardizer.fit(train.X)
        dtype = np.dtype(config.dtype)
        return cls(
            std.transform(train.X).astype(dtype),
            train.y,
            std.transform(val.X).astype(dtype),
            val.y,
            ds.n_classes,
        )

    def steps(self, batch_size: int) -> int:
        return len(batch_bounds(len(self.y_train), batch_size))


def shape_key(config: TrainConfig) -> tuple:
    """Trials with equal keys can share a population."""
    return tuple(getattr(config, f) for f in SHAPE_FIELDS)


def member_bytes(config: TrainConfig, n_features: int, n_classes: int) -> int:
    """Memory one member needs, in bytes::

        itemsize · ( P · (1 param + 1 grad + M moments + 1 scratch)
                   + B · Σ_l n_l · 8 )

    with P the parameter count, M the optimizer's moments (Adam 2, momentum and RMSprop 1,
    gradient descent 0) and 8 buffers of ``(B, n_l)`` per layer at most (forward output,
    normalised values, backward output, masks and temporaries)."""
    sizes = [n_features, *config.hidden, n_classes]
    P = parameter_count(config, n_features, n_classes)
    M = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2, "adamw": 2}.get(config.optimizer, 2)
    activations = config.batch_size * sum(sizes) * 8
    return np.dtype(config.dtype).itemsize * (P * (3 + M) + activations)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; the physical size elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    cap: int | None = None,
    memory: int | None = None,
) -> int:
    """K for trials shaped like ``config``: as many as half the available memory holds,
    ``K = ⌊0.5 · available / member_bytes⌋``, at most ``n_trials`` (and ``cap``), at least 1."""
    memory = available_memory() if memory is None else memory
    K = int(0.5 * memory // member_bytes(config, n_features, n_classes))
    return max(1, min(K, n_trials, cap or n_trials))


@dataclass
class Population:
    """K trials training together: their configurations, network, optimizer, schedule and
    history. ``ids`` are the trials' study ids, in member order."""

    ids: list[int]
    configs: list[TrainConfig]
    net: Network
    optimizer: Optimizer
    schedule: Schedule
    history: History
    seconds: np.ndarray  # (K,) each member's share of the training time so far
    data: Prepared | None = None  # what it trained on last
    train_loss: np.ndarray | None = None  # (K,) final training cost, computed when asked

    @classmethod
    def new(cls, ids: Sequence[int], configs: Sequence[TrainConfig], data: Prepared) -> Population:
        net, opt, sched = build(
            configs, data.X_train.shape[1], data.n_classes, data.steps(configs[0].batch_size)
        )
        return cls(
            list(ids),
            list(configs),
            net,
            opt,
            sched,
            History(divergence=Divergence.new(len(configs))),
            np.zeros(len(configs)),
        )

    def train(self, data: Prepared, epochs: int, on_epoch=None) -> None:
        """Train every member up to ``epochs`` (continuing from where it is);
        ``on_epoch(epoch, history)`` after each epoch."""
        c = self.configs[0]
        start = time.perf_counter()
        fit(
            self.net,
            self.optimizer,
            data.X_train,
            data.y_train,
            epochs=epochs,
            batch_size=c.batch_size,
            schedule=self.schedule,
            seed=c.data_seed,
            validation=(data.X_val, data.y_val),
            history=self.history,
            on_epoch=on_epoch,
        )
        self.seconds += (time.perf_counter() - start) / len(self.ids)
        self.train_loss, self.data = None, data

    def result(self, k: int) -> tuple[str, dict, list[dict]]:
        """Member k's ``(status, result, per-epoch metrics)`` for the study; its
        ``train_loss`` is the trained model's cost on the training split in inference mode,
        as ``caviar train`` reports it."""
        if self.train_loss is None:
            with np.errstate(all="ignore"):
                self.train_loss = evaluate(
                    self.net, self.data.X_train, self.data.y_train, self.configs[0].batch_size
                )[0]
        return member_result(self.history, k, float(self.seconds[k]), self.train_loss[k])


def gather(
    pops: Sequence[Population], picks: Sequence[tuple[int, int]], data: Prepared
) -> Population:
    """A new population of the members ``picks`` = [(population index, member)], with every
    array of their training state copied exactly, so they continue as if never moved."""
    src = [(pops[p], k) for p, k in picks]
    new = Population.new([p.ids[k] for p, k in src], [p.configs[k] for p, k in src], data)
    for i, param in enumerate(new.net.params):
        param[...] = np.stack([p.net.params[i][k] for p, k in src])
    old_buffers = [p.net.buffers() for p, _ in src]
    for name, buf in new.net.buffers().items():
        buf[...] = np.stack([b[name][k] for b, (_, k) in zip(old_buffers, src, strict=True)])
    states = [p.optimizer.state_dict() for p, _ in src]
    new.optimizer.load_state_dict(
        {
            key: np.stack([s[key][k] for s, (_, k) in zip(states, src, strict=True)])
            for key in states[0]
        }
    )
    if new.net.rng_states():
        new.net.set_rng_states([p.net.rng_states()[k] for p, k in src])
    if new.schedule.plateau is not None:
        for f in ("best", "bad", "scale"):
            getattr(new.schedule.plateau, f)[...] = [
                getattr(p.schedule.plateau, f)[k] for p, k in src
            ]
    h = new.history
    for key in HISTORY_KEYS:
        setattr(
            h,
            key,
            [
                np.array([getattr(p.history, key)[e][k] for p, k in src])
                for e in range(src[0][0].history.epochs)
            ],
        )
    h.steps = src[0][0].history.steps
    for f in ("active", "epoch", "step"):
        getattr(h.divergence, f)[...] = [getattr(p.history.divergence, f)[k] for p, k in src]
    new.seconds[...] = [p.seconds[k] for p, k in src]
    return new


def member_result(
    history: History, k: int, seconds: float, train_loss: float
) -> tuple[str, dict, list[dict]]:
    """``(status, result, per-epoch metrics)`` of member k of a training history; the
    per-epoch ``train_loss`` is the epoch's mean training cost, the result's is
    ``train_loss`` (the final model's)."""
    h, d = history, history.divergence
    rows = {key: np.array(getattr(h, key))[:, k] for key in HISTORY_KEYS}
    metrics = [
        {
            "train_loss": _num(rows["loss"][e]),
            "val_loss": _num(rows["val_loss"][e]),
            "val_accuracy": _num(rows["val_accuracy"][e]),
            "lr": _num(rows["lr"][e]),
        }
        for e in range(h.epochs)
    ]
    result = {**metrics[-1], "train_loss": _num(train_loss), "epochs": h.epochs, "seconds": seconds}
    if not d.active[k]:
        result |= {
            "diverged_epoch": int(d.epoch[k]),
            "diverged_step": int(d.step[k]),
            "val_loss": None,
            "val_accuracy": None,
        }
        return "diverged", result, metrics
    return "finished", result, metrics


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None
