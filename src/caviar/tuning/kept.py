"""The kept models of a study: the weights of its best trials, beside it, in the model format.

``<study>.models/trial-<id>.npz`` is what ``caviar train --save`` writes (arrays and JSON, no
pickle; standardisation, a table's encoding and the classes included), so ``caviar.load``,
``predict``, ``evaluate`` and ``export`` take it as they take any model. A tune offers each
finished trial as its population finishes (:meth:`Kept.offer`): it is written when it ranks
among the ``n`` best finished trials by validation loss, and a kept model that falls out of
them is removed. Nothing is kept with ``n = 0``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_NAME = re.compile(r"trial-(\d+)\.npz")


class Kept:
    """The kept-models folder of the study at ``study_path``, keeping ``n``."""

    def __init__(self, study_path, n: int):
        self.folder = Path(f"{study_path}.models")
        self.n = n

    def path(self, trial_id: int) -> Path:
        return self.folder / f"trial-{trial_id}.npz"

    def stored(self) -> dict[int, Path]:
        """``{trial id: path}`` of the models in the folder."""
        if not self.folder.is_dir():
            return {}
        found = (_NAME.fullmatch(p.name) for p in self.folder.iterdir())
        return {int(m[1]): self.folder / m[0] for m in found if m}

    def missing(self, study) -> list[int]:
        """The ids of the ``n`` best finished trials that have no kept model: a tune that
        died between recording a population and writing its models (their weights are
        gone; ``caviar study train`` trains them again)."""
        if self.n <= 0:
            return []
        stored = self.stored()
        return [t.id for t in study.best(self.n) if t.id not in stored]

    def offer(self, study, models: dict[int, Callable[[], object]]) -> None:
        """Keep the trials of ``models`` (``{trial id: a function building its model}``,
        called only for a trial kept) that rank among the ``n`` best finished trials of
        ``study``; remove kept models that no longer do. A population offers its members
        together, so a trial its own population pushes out is never written. Written
        without fsync: a kept model can always be trained again (``--retrain``)."""
        if self.n <= 0 or not models:
            return
        best = {t.id for t in study.best(self.n)}
        for trial_id, model in models.items():
            if trial_id in best and not self.path(trial_id).exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                model().save(self.path(trial_id), durable=False)
        for other, path in self.stored().items():
            if other not in best:
                path.unlink(missing_ok=True)
