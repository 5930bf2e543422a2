"""One trained (or training) classifier: what a user saves, resumes, evaluates and predicts with.

A :class:`Model` composes the configuration, the standardisation fitted on the training
split, the class labels, the network (K = 1), its optimizer, schedule and history. Its
checkpoint holds every one of those, so training resumes exactly where it stopped.
"""

from __future__ import annotations

import platform
from collections.abc import Callable

import numpy as np

import caviar
from caviar import checkpoint
from caviar.config import TrainConfig
from caviar.data import Dataset, Standardizer
from caviar.errors import CheckpointError, DataError, InvalidArgument
from caviar.population import build
from caviar.train import Divergence, History, evaluate, fit
from caviar.train.batches import batch_bounds

HISTORY_KEYS = ("loss", "lr", "val_loss", "val_accuracy")


class Model:
    """A single classifier with its preprocessing. Build with :meth:`create` or :meth:`load`."""

    def __init__(
        self,
        config: TrainConfig,
        n_features: int,
        classes: np.ndarray,
        standardizer: Standardizer,
        n_train: int,
        feature_names=(),
    ):
        self.config = config
        self.classes = np.asarray(classes)
        self.standardizer = standardizer
        self.n_train = n_train
        self.feature_names = tuple(feature_names)
        steps = len(batch_bounds(n_train, config.batch_size))
        self.net, self.optimizer, self.schedule = build(
            [config], n_features, len(self.classes), steps
        )
        self.history = History(divergence=Divergence.new(1))
        self.best: dict | None = None  # early stopping: best val loss, its epoch, its arrays
        # where the training data came from, e.g. {"data": "digits", "target": None}; saved
        # in the checkpoint so that `caviar resume` can find the data again
        self.source: dict = {}

    @classmethod
    def create(cls, config: TrainConfig, train: Dataset) -> Model:
        """A fresh model for ``train``: standardisation fitted on it, weights from the seed."""
        return cls(
            config,
            train.n_features,
            train.classes,
            Standardizer.fit(train.X),
            len(train),
            train.feature_names,
        )

    # -- training -----------------------------------------------------------------------
    def fit(
        self,
        train: Dataset,
        val: Dataset | None = None,
        on_epoch: Callable[[int, History], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> History:
        """Train up to ``config.epochs`` (continuing a resumed model), with early stopping on
        validation loss when ``config.early_stopping > 0`` (the best weights are restored)."""
        c = self.config
        validation = None if val is None or len(val) == 0 else self._arrays(val)
        if c.early_stopping > 0 and validation is None:
            raise InvalidArgument(
                "Early stopping needs validation data: set val_fraction > 0 (or pass a "
                "validation set), or early_stopping = 0."
            )

        def epoch_end(epoch: int, history: History) -> bool:
            # early stopping first, so that a checkpoint written by on_epoch holds its state
            stop = self._early_stop(epoch, history) if validation is not None else False
            if on_epoch is not None:
                on_epoch(epoch, history)
            return stop

        fit(
            self.net,
            self.optimizer,
            *self._arrays(train),
            epochs=c.epochs,
            batch_size=c.batch_size,
            schedule=self.schedule,
            seed=c.data_seed,
            validation=validation,
            on_epoch=epoch_end,
            history=self.history,
            should_stop=should_stop,
        )
        if self.best is not None and self.history.stopped_early:
            # training is over: hand back the best weights (had every epoch run, the last
            # weights stay, so that the checkpoint resumes as an uninterrupted run would)
            self._restore_best()
        return self.history

    def _early_stop(self, epoch: int, history: History) -> bool:
        patience = self.config.early_stopping
        if patience <= 0:
            return False
        loss = float(history.val_loss[-1][0])
        if self.best is None or loss < self.best["val_loss"]:
            arrays = {
                **self.net.get_params(),
                **{k: v.copy() for k, v in self.net.buffers().items()},
            }
            self.best = {"val_loss": loss, "epoch": epoch, "arrays": arrays}
        return epoch - self.best["epoch"] >= patience

    def _restore_best(self) -> None:
        arrays = self.best["arrays"]
        self.net.set_params({k: arrays[k] for k in self.net.param_names})
        for k, buf in self.net.buffers().items():
            buf[...] = arrays[k]

    def _arrays(self, ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Standardised features and class codes of ``ds`` in this model's class order."""
        self._check_features(ds.X)
        return self.standardizer.transform(ds.X).astype(self.net.dtype), self._codes(ds)

    def _codes(self, ds: Dataset) -> np.ndarray:
        if np.array_equal(ds.classes, self.classes):
            return ds.y
        return self.encode(ds.classes[ds.y], source=ds.name)

    # -- using it ------------------------------------------------------------------------
    def encode(self, labels, source: str = "data") -> np.ndarray:
        """Class codes for raw ``labels``; a DataError names labels unseen in training."""
        labels = np.asarray(labels)
        lookup = {str(c): i for i, c in enumerate(self.classes)}
        unseen = sorted({str(v) for v in labels} - set(lookup))
        if unseen:
            raise DataError(
                f"{source}: label(s) {unseen[:5]} were not seen in training (the model knows "
                f"{[str(c) for c in self.classes][:10]}); drop those rows or retrain with them."
            )
        return np.array([lookup[str(v)] for v in labels], dtype=np.int64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, C)`` for raw features ``X (n, d)``, columns in ``classes``."""
        X = self._features(X)
        return np.concatenate(
            [self.net.predict_proba(X[s : s + 4096])[0] for s in range(0, len(X), 4096)]
        )

    def predict(self, X) -> np.ndarray:
        """Predicted labels ``(n,)`` (the original labels, not codes)."""
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    def evaluate(self, ds: Dataset) -> dict:
        """``{"loss", "accuracy", "confusion"}`` on ``ds``; ``confusion[i, j]`` counts examples
        of class i predicted as j."""
        X, y = self._arrays(ds)
        loss, acc = evaluate(self.net, X, y, self.config.batch_size)  # as training does
        with np.errstate(all="ignore"):  # a diverged model predicts garbage, quietly
            pred = np.argmax(self.net.predict_proba(X)[0], axis=1)
        C = len(self.classes)
        confusion = np.bincount(y * C + pred, minlength=C * C).reshape(C, C)
        return {"loss": float(loss[0]), "accuracy": float(acc[0]), "confusion": confusion}

    def _features(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        self._check_features(X)
        if not np.all(np.isfinite(X)):
            row, col = np.argwhere(~np.isfinite(X))[0]
            raise DataError(f"row {row}, column {col} holds {X[row, col]}; remove or impute it.")
        return self.standardizer.transform(X).astype(self.net.dtype)

    def _check_features(self, X) -> None:
        d = self.net.sizes[0]
        if X.ndim != 2 or X.shape[1] != d:
            raise DataError(
                f"The model was trained on {d} features; the data has shape {X.shape}. "
                "Use data with the same columns as the training data."
            )

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path) -> str:
        """Write the whole model (and training state) to one ``.npz``; returns its path."""
        arrays = {f"param/{k}": v for k, v in self.net.get_params().items()}
        arrays |= {f"buffer/{k}": v.copy() for k, v in self.net.buffers().items()}
        arrays |= {f"opt/{k}": v for k, v in self.optimizer.state_dict().items()}
        arrays |= {f"std/{k}": v for k, v in self.standardizer.to_arrays().items()}
        arrays["classes"] = self.classes
        h = self.history
        for key in HISTORY_KEYS:
            arrays[f"history/{key}"] = np.array(getattr(h, key)).reshape(-1, 1)
        if h.partial is not None:
            arrays["history/partial"] = h.partial
        if self.best is not None:
            arrays |= {f"best/{k}": v for k, v in self.best["arrays"].items()}
        return str(checkpoint.save(path, arrays, self._meta()))

    def _meta(self) -> dict:
        h, d = self.history, self.history.divergence
        plateau = self.schedule.plateau
        return {
            "config": self.config.to_dict(),
            "source": self.source,
            "n_features": self.net.sizes[0],
            "n_train": self.n_train,
            "feature_names": list(self.feature_names),
            "steps": h.steps,
            "epoch_start": h.epoch_start,
            "interrupted": h.interrupted,
            "stopped_early": h.stopped_early,
            "divergence": {
                "active": d.active.tolist(),
                "epoch": d.epoch.tolist(),
                "step": d.step.tolist(),
            },
            "rng_states": self.net.rng_states(),
            "plateau": None
            if plateau is None
            else {
                "best": plateau.best.tolist(),
                "bad": plateau.bad.tolist(),
                "scale": plateau.scale.tolist(),
            },
            "best": None
            if self.best is None
            else {"val_loss": self.best["val_loss"], "epoch": self.best["epoch"]},
            "versions": {
                "caviar": caviar.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }

    @classmethod
    def load(cls, path) -> Model:
        """Read a model saved by :meth:`save`; a CheckpointError names what is wrong."""
        arrays, meta = checkpoint.load(path, required=("classes", "std/mean", "std/std"))
        try:
            return cls._from_checkpoint(arrays, meta)
        except CheckpointError:
            raise
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(
                f"{path}: inconsistent checkpoint ({type(e).__name__}: {e})."
            ) from None

    @classmethod
    def _from_checkpoint(cls, arrays: dict, meta: dict) -> Model:
        config = TrainConfig.from_dict(meta["config"], source="checkpoint's configuration")
        model = cls(
            config,
            meta["n_features"],
            arrays["classes"],
            Standardizer.from_arrays({"mean": arrays["std/mean"], "std": arrays["std/std"]}),
            meta["n_train"],
            meta["feature_names"],
        )
        for k, param in zip(model.net.param_names, model.net.params, strict=True):
            param[...] = _array(arrays, f"param/{k}", param.shape)
        for k, buf in model.net.buffers().items():
            buf[...] = _array(arrays, f"buffer/{k}", buf.shape)
        model.optimizer.load_state_dict(
            {k[len("opt/") :]: v for k, v in arrays.items() if k.startswith("opt/")}
        )
        if meta["rng_states"]:
            model.net.set_rng_states(meta["rng_states"])
        model.history = _history(arrays, meta)
        model.source = meta.get("source", {})
        if meta["plateau"] is not None:
            p = model.schedule.plateau
            p.best[...], p.bad[...], p.scale[...] = (
                meta["plateau"][k] for k in ("best", "bad", "scale")
            )
        if meta["best"] is not None:
            names = list(model.net.param_names) + list(model.net.buffers())
            model.best = {**meta["best"], "arrays": {k: arrays[f"best/{k}"] for k in names}}
        return model


def _array(arrays: dict, key: str, shape) -> np.ndarray:
    if key not in arrays:
        raise CheckpointError(f"the checkpoint lacks the array '{key}'.")
    if arrays[key].shape != tuple(shape):
        raise CheckpointError(
            f"the checkpoint's array '{key}' has shape {arrays[key].shape}; "
            f"expected {tuple(shape)}."
        )
    return arrays[key]


def _history(arrays: dict, meta: dict) -> History:
    d = meta["divergence"]
    h = History(
        divergence=Divergence(
            np.array(d["active"], dtype=bool), np.array(d["epoch"]), np.array(d["step"])
        )
    )
    for key in HISTORY_KEYS:
        setattr(h, key, [row for row in arrays[f"history/{key}"]])
    h.steps, h.epoch_start = meta["steps"], meta["epoch_start"]
    h.partial = arrays.get("history/partial")
    h.interrupted, h.stopped_early = meta["interrupted"], meta["stopped_early"]
    return h
