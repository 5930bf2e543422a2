"""A committee of models: greedy ensemble selection over a tune's kept models, and the one
file that holds the result.

:func:`greedy` is Caruana et al. (2004)'s forward selection with replacement: start from the
model with the lowest validation log loss, then repeatedly add the model (any, again
included) whose addition most lowers the log loss of the running mean of the chosen
models' validation probabilities; stop after ``size`` additions or when no addition
lowers it. A model chosen twice carries twice the weight. Only validation rows choose.

An :class:`Ensemble` predicts the weighted mean of its members' probabilities,
``p = Σ_i w_i p_i`` (``Σ w_i = 1``). Members may differ in shape (layers, batch norm,
activation) but share the classes; each reads raw rows with its own standardisation and
encoding. Its file is one ``.npz`` (the members' arrays under ``m<i>/``, no pickle) whose
JSON names the format (``"kind": "caviar-ensemble"``) and holds each member's metadata, the
weights and the study's trial ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caviar import checkpoint
from caviar.errors import CheckpointError, InvalidArgument

KIND = "caviar-ensemble"
_EPS = 1e-15  # log loss: probabilities are clipped to [_EPS, 1]


def log_loss(P: np.ndarray, y: np.ndarray) -> float:
    """Mean ``-log p[y]`` of probabilities ``P (n, C)`` for labels ``y (n,)``."""
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], _EPS, 1.0))))


def greedy(probabilities: list[np.ndarray], y: np.ndarray, size: int) -> np.ndarray:
    """How often each of the models is chosen, ``(M,)`` ints, by forward selection with
    replacement on the validation probabilities ``probabilities[i] (n, C)``, labels ``y``."""
    if size < 1:
        raise InvalidArgument(f"The ensemble 'size' must be >= 1. Got {size}.")
    losses = [log_loss(P, y) for P in probabilities]
    counts = np.zeros(len(probabilities), dtype=np.int64)
    first = int(np.argmin(losses))
    counts[first], total, current = 1, probabilities[first].copy(), losses[first]
    for _ in range(size - 1):
        n = counts.sum()
        trial = [log_loss((total + P) / (n + 1), y) for P in probabilities]
        best = int(np.argmin(trial))
        if not trial[best] < current:
            break
        counts[best] += 1
        total += probabilities[best]
        current = trial[best]
    return counts


@dataclass
class Ensemble:
    """Members (:class:`~caviar.model.Model`), their ``weights (M,)`` summing to 1, and the
    study ``trials`` they came from (None where unknown)."""

    models: list
    weights: np.ndarray
    trials: list
    best: int = 0  # the member that is the best single trial (greedy selection starts there)

    def __post_init__(self):
        classes = self.models[0].classes
        if any(not np.array_equal(m.classes, classes) for m in self.models):
            raise InvalidArgument("The models of an ensemble must share their classes.")
        self.weights = np.asarray(self.weights, dtype=np.float64)

    # what a single model offers, for the commands that use either
    classes = property(lambda self: self.models[0].classes)
    config = property(lambda self: self.models[0].config)  # the split the members share
    source = property(lambda self: self.models[0].source)
    feature_names = property(lambda self: self.models[0].feature_names)
    prep = property(lambda self: self.models[0].prep)

    def predict_proba(self, X) -> np.ndarray:
        """``Σ_i w_i p_i(X)``, ``(n, C)`` float64, columns in ``classes``."""
        return sum(w * m.predict_proba(X).astype(np.float64)
                   for w, m in zip(self.weights, self.models, strict=True))  # fmt: skip

    def predict(self, X) -> np.ndarray:
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    def dataset_proba(self, ds) -> np.ndarray:
        """The ensemble's probabilities ``(n, C)`` for the rows of a data set."""
        return sum(w * member_proba(m, ds) for w, m in zip(self.weights, self.models, strict=True))

    def evaluate(self, ds, split: str = "auto") -> dict:
        """As :meth:`caviar.model.Model.evaluate`: loss, accuracy and confusion matrix."""
        rows, split = self.models[0]._rows(ds, split)
        y = self.models[0]._codes(rows)
        P = self.dataset_proba(rows)
        pred = np.argmax(P, axis=1)
        C = len(self.classes)
        confusion = np.bincount(y * C + pred, minlength=C * C).reshape(C, C)
        return {
            "loss": log_loss(P, y),
            "accuracy": float(np.mean(pred == y)),
            "confusion": confusion,
            "split": split,
            "n": len(rows),
        }

    def weights_finite(self) -> bool:
        return all(m.weights_finite() for m in self.models)

    def save(self, path) -> str:
        """One ``.npz``: each member's arrays under ``m<i>/``, the JSON of the ensemble."""
        arrays, members = {}, []
        for i, m in enumerate(self.models):
            arrays |= {f"m{i}/{k}": v for k, v in m.save_arrays().items()}
            members.append(m._meta())
        meta = {
            "kind": KIND,
            "weights": self.weights.tolist(),
            "trials": list(self.trials),
            "best": self.best,
            "members": members,
        }
        return str(checkpoint.save(path, arrays, meta))

    @classmethod
    def from_checkpoint(cls, arrays: dict, meta: dict, path) -> Ensemble:
        from caviar.model import Model

        models = []
        try:
            for i, member in enumerate(meta["members"]):
                prefix = f"m{i}/"
                own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
                models.append(Model._from_checkpoint(own, member))
            weights = np.asarray(meta["weights"], dtype=np.float64)
            if weights.shape != (len(models),) or not np.isclose(weights.sum(), 1.0):
                raise ValueError("its weights do not match its members")
        except (KeyError, ValueError, TypeError, CheckpointError) as e:
            raise CheckpointError(f"{path}: a damaged ensemble ({e}).") from None
        trials = list(meta.get("trials") or [None] * len(models))
        return cls(models, weights, trials, int(meta.get("best", 0)))


def member_proba(model, ds) -> np.ndarray:
    """A model's probabilities ``(n, C)`` float64 for the rows of a data set (read with the
    model's own standardisation and encoding)."""
    X, _ = model._arrays(ds)
    return np.concatenate(
        [model.net.predict_proba(X[s : s + 4096])[0] for s in range(0, len(X), 4096)]
    ).astype(np.float64)


def load(path):
    """The model or the ensemble saved at ``path``."""
    from caviar.model import Model

    arrays, meta = checkpoint.load(path)
    if meta.get("kind") == KIND:
        return Ensemble.from_checkpoint(arrays, meta, Path(path))
    return Model.load(path)
