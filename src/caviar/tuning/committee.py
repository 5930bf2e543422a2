"""A study's kept models as an ensemble: chosen on the validation split, scored on the test
split beside the best single trial (:mod:`caviar.ensemble` holds the selection and the
file)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caviar import sources
from caviar.ensemble import Ensemble, greedy, log_loss, member_proba
from caviar.errors import InvalidArgument
from caviar.tuning.kept import Kept
from caviar.tuning.retrain import data_of
from caviar.tuning.study import Study


@dataclass
class Committee:
    """The ensemble and its figures: ``scores[part][who]`` for ``part`` in ``val``/``test``
    and ``who`` in ``ensemble``/``best`` (the best single trial by validation loss), each
    ``{"loss", "accuracy"}``; the test split never chose anything."""

    ensemble: Ensemble
    best_trial: int
    scores: dict

    def lines(self) -> list[str]:
        """What ``caviar study ensemble`` prints."""
        members = ", ".join(
            f"trial {t} × {w:.3g}"
            for t, w in zip(self.ensemble.trials, self.ensemble.weights, strict=True)
        )
        out = [f"ensemble of {len(self.ensemble.models)}: {members}"]
        for part in ("val", "test"):
            e, b = self.scores[part]["ensemble"], self.scores[part]["best"]
            if e is None:
                continue
            out.append(
                f"{part}: ensemble accuracy {e['accuracy']:.4f} (log loss {e['loss']:.4f}); "
                f"best single trial {self.best_trial}: {b['accuracy']:.4f} ({b['loss']:.4f})"
            )
        return out


def committee(study: Study, size: int) -> Committee:
    """Greedy ensemble selection of up to ``size`` picks over the study's kept models."""
    if size < 1:
        raise InvalidArgument(f"The ensemble size must be >= 1. Got {size}.")
    kept = Kept(study.path, 0).stored()
    ranked = [t for t in study.best(max(len(kept), 1)) if t.id in kept]
    if not ranked:
        raise InvalidArgument(
            f"{study.path} has no kept models (no finished trial, or tuned with --keep 0); "
            "tune with --keep N to keep the N best trials' models."
        )
    if size > len(ranked):
        raise InvalidArgument(
            f"An ensemble of {size} needs {size} kept models; {study.path} kept {len(ranked)}. "
            f"Ask for at most {len(ranked)}, or tune with --keep {size}."
        )
    from caviar.model import Model

    models = [Model.load(kept[t.id]) for t in ranked]
    split = sources.split(data_of(study), models[0].config)
    # the models chosen among read the same validation rows: those split as the best was
    same = [i for i, m in enumerate(models) if _split_key(m.config) == _split_key(models[0].config)]
    models, ids = [models[i] for i in same], [ranked[i].id for i in same]
    val = split[1]
    y = models[0]._codes(val)
    counts = greedy([member_proba(m, val) for m in models], y, size)
    chosen = np.flatnonzero(counts)
    ensemble = Ensemble(
        [models[i] for i in chosen], counts[chosen] / counts.sum(), [ids[i] for i in chosen],
        best=int(np.flatnonzero(chosen == 0)[0]),  # selection starts from the best (index 0)
    )  # fmt: skip
    scores = {}
    for name, part in (("val", split[1]), ("test", split[2])):
        if len(part) == 0:
            scores[name] = {"ensemble": None, "best": None}
            continue
        codes = models[0]._codes(part)
        scores[name] = {
            "ensemble": _score(ensemble.dataset_proba(part), codes),
            "best": _score(member_proba(models[0], part), codes),
        }
    return Committee(ensemble, ids[0], scores)


def _score(P: np.ndarray, y: np.ndarray) -> dict:
    return {"loss": log_loss(P, y), "accuracy": float(np.mean(np.argmax(P, axis=1) == y))}


def _split_key(config) -> tuple:
    return (config.val_fraction, config.test_fraction, config.data_seed, config.preprocess)
