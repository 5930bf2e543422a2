"""What a tune's trials train on and what the study records of each: the prepared splits,
and a member's status, result and per-epoch metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caviar import sources
from caviar.config import TrainConfig
from caviar.data import Dataset, Standardizer
from caviar.errors import CaviarError
from caviar.train import History, evaluate
from caviar.train.batches import batch_bounds
from caviar.train.population import Population, schedule_for
from caviar.tuning.study import Status


@dataclass
class Prepared:
    """The splits of one data set as a configuration asks for them, standardised on the
    training split as :class:`caviar.model.Model` does (the same :class:`Standardizer`, the
    same cast), so a trial reproduces in ``caviar train``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int

    @classmethod
    def from_dataset(cls, ds: Dataset, config: TrainConfig) -> Prepared:
        train, val, _ = sources.split(ds, config)
        std = Standardizer.fit(train.X)
        dtype = np.dtype(config.dtype)
        return cls(
            std.transform(train.X).astype(dtype),
            train.y,
            std.transform(val.X).astype(dtype),
            val.y,
            ds.n_classes,
        )

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def build(self, configs: list[TrainConfig]) -> Population:
        """A fresh population of ``configs`` for this data."""
        return Population.build(configs, self.n_features, self.n_classes, self.n_train)

    def refusal(self, config: TrainConfig) -> str | None:
        """Why this data refuses ``config``, or None, without building anything. The one
        data-dependent rule is the schedule's (warmup_cosine's warm-up must be shorter than
        the run's steps); every other rule is checked when the TrainConfig is made."""
        steps = len(batch_bounds(self.n_train, config.batch_size))
        try:
            schedule_for([config], steps)
        except CaviarError as err:
            return str(err)
        return None

    def train(self, pop: Population, epochs: int, on_epoch=None) -> None:
        """Train ``pop`` up to ``epochs`` on the training split, validating each epoch."""
        pop.train(self.X_train, self.y_train, epochs, (self.X_val, self.y_val), on_epoch)


def member_results(
    pop: Population, data: Prepared, rows: list[int] | None = None
) -> list[tuple[Status, dict, list[dict]]]:
    """Every member's ``(status, result, per-epoch metrics)`` for the study; the result's
    ``train_loss`` is the trained model's cost on the training split in inference mode, as
    ``caviar train`` reports it, for the members ``rows`` (None: all; the others' is None)."""
    batch = pop.configs[0].batch_size
    train_loss = np.full(pop.K, np.nan)
    with np.errstate(all="ignore"):
        if rows is None:
            train_loss = evaluate(pop.net, data.X_train, data.y_train, batch)[0]
        elif rows:
            part = pop.select(rows).net
            train_loss[rows] = evaluate(part, data.X_train, data.y_train, batch)[0]
    return [
        member_result(pop.history, k, float(pop.seconds[k]), train_loss[k]) for k in range(pop.K)
    ]


def member_result(
    history: History, k: int, seconds: float, train_loss: float
) -> tuple[Status, dict, list[dict]]:
    """``(status, result, per-epoch metrics)`` of member k of a training history; the
    per-epoch ``train_loss`` is the epoch's mean training cost, the result's is
    ``train_loss`` (the final model's)."""
    h, d = history, history.divergence
    rows = {key: np.array(getattr(h, key))[:, k] for key in ("loss", "lr", "val_loss")}
    rows["val_accuracy"] = np.array(h.val_accuracy)[:, k]
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
        return Status.DIVERGED, result, metrics
    return Status.FINISHED, result, metrics


def _num(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None
