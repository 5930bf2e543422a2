"""A study's trial trained again, alone, as ``caviar train --config`` would train it.

A trial's numbers do not depend on its population (its seed and data order are its own), so
the retrained model's validation figures are the tune's, to float rounding; its test split,
which the tune never looked at, gives the trial's test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

from caviar.config import TrainConfig
from caviar.errors import CheckpointError, InvalidArgument
from caviar.tuning.study import Study, Trial


@dataclass
class Retrained:
    """The model and its ``parts = (train, val, test)`` of the study's data."""

    trial: Trial
    model: object
    parts: tuple
    path: str | None = None  # the kept model's file, when it was not trained again

    def scores(self) -> dict:
        """``{"val_loss", "val_accuracy", "test_loss", "test_accuracy"}`` of the model."""
        out = {}
        for name, ds in zip(("val", "test"), self.parts[1:], strict=True):
            empty = {"loss": None, "accuracy": None}
            s = self.model.evaluate(ds, split="all") if len(ds) else empty
            out[f"{name}_loss"], out[f"{name}_accuracy"] = s["loss"], s["accuracy"]
        return out


def find_trial(study: Study, trial_id: int) -> Trial:
    """The trial with ``trial_id`` (the id ``caviar tune`` and ``study show`` print)."""
    found = study.trials(id=trial_id)
    if not found:
        ids = [t.id for t in study.trials()]
        span = f"ids {min(ids)} to {max(ids)}" if ids else "no trials"
        raise InvalidArgument(f"{study.path} has no trial {trial_id} ({span}).")
    return found[0]


def data_of(study: Study):
    """The study's data set, loaded as the tune loaded it."""
    from caviar import sources

    tune = study.settings().get("tune")
    if not tune:
        raise InvalidArgument(f"{study.path} records no tune (no data to train on).")
    return sources.load(source_of(tune))


def source_of(tune: dict) -> dict:
    """The data record of a study's stored tune settings (a table's forced column kinds
    included)."""
    return {"data": tune["data"], "target": tune.get("target"), **tune.get("columns", {})}


def kept_model(study: Study, trial: Trial, dataset=None) -> Retrained | None:
    """The model the tune kept for ``trial`` (``<study>.models/trial-<id>.npz``), with the
    parts of the study's data it was trained on, or None when there is none."""
    from caviar import sources
    from caviar.model import Model
    from caviar.tuning.kept import Kept

    path = Kept(study.path, 0).path(trial.id)
    if not path.exists():
        return None
    try:
        model = Model.load(path)
    except CheckpointError:  # torn (kept models are written without fsync): train again
        return None
    ds = data_of(study) if dataset is None else dataset
    return Retrained(trial, model, sources.split(ds, model.config), str(path))


def retrain(study: Study, trial: Trial, dataset=None, on_epoch=None) -> Retrained:
    """Train ``trial``'s configuration on the study's data (or ``dataset``) from scratch."""
    from caviar import sources
    from caviar.model import Model

    config = TrainConfig.from_dict(trial.config, source=f"configuration of trial {trial.id}")
    ds = data_of(study) if dataset is None else dataset
    parts = sources.split(ds, config)
    model = Model.create(config, parts[0])
    tune = study.settings()["tune"]
    model.source = source_of(tune)
    model.fit(parts[0], parts[1], on_epoch=on_epoch)
    return Retrained(trial, model, parts)
