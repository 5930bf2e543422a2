"""One trained (or training) classifier: what a user saves, resumes, evaluates and predicts with.

A :class:`Model` is a population of one (:class:`~caviar.train.population.Population`, K = 1)
plus what turns raw data into its inputs and its outputs into labels: the standardisation
fitted on the training split, the class labels, the feature names and where the data came
from. Its checkpoint is the population's state (arrays) with the standardisation, the classes
and the early-stopping best weights, plus a small JSON of configuration and versions, so
training resumes exactly where it stopped.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path

import numpy as np

from caviar import __version__, checkpoint, sources
from caviar.config import FIELDS, TrainConfig
from caviar.data import Dataset, Standardizer
from caviar.data.prep import Preprocessor
from caviar.data.table import as_table, numeric_table
from caviar.errors import CheckpointError, DataError, InvalidArgument
from caviar.optim import SCHEDULES, Plateau
from caviar.train import History, evaluate
from caviar.train.population import Population, schedule_for

# What may change between two runs of one model (resume, partial_fit): how it learns from
# here on, never what it is.
CHANGEABLE = ("lr", "schedule", "epochs", "early_stopping") + tuple(
    name for name, f in FIELDS.items() if set(f.metadata["to"]) & set(SCHEDULES)
)


# the rows Model.evaluate scores: "auto" is the test part for the model's own data
EVALUATED_SPLITS = ("auto", "train", "val", "test", "all")


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
        prep: Preprocessor | None = None,
    ):
        self.classes = np.asarray(classes)
        self.standardizer = standardizer
        self.feature_names = tuple(feature_names)
        # a table's encoding (text columns, missing cells), fitted on the training split;
        # None for data that was numbers already
        self.prep = prep
        self.pop = Population.build([config], n_features, len(self.classes), n_train)
        self.best: dict | None = None  # early stopping: best val loss, its epoch, its arrays
        # where the training data came from, e.g. {"data": "digits", "target": None}; saved
        # in the checkpoint so that `caviar resume` can find the data again
        self.source: dict = {}
        # what the command line showed while it trained ({"live", "log_every"}), so that
        # `caviar resume` shows the same
        self.display: dict = {}

    # the population's parts, by the names a single model's users know
    config = property(lambda self: self.pop.configs[0])
    net = property(lambda self: self.pop.net)
    optimizer = property(lambda self: self.pop.optimizer)
    schedule = property(lambda self: self.pop.schedule)
    history = property(lambda self: self.pop.history)
    n_train = property(lambda self: self.pop.n_train)
    steps_per_epoch = property(lambda self: self.pop.steps_per_epoch)

    def change(self, **changes) -> None:
        """Continue this run with new ``lr``, ``schedule`` (and its arguments), ``epochs``
        (the new total) or ``early_stopping``; None means unchanged. The optimizer's moments
        and step counts stay; the schedule is rebuilt from the new configuration at the
        current epoch and step, so it does not restart (a plateau schedule keeps its
        reduction state). The one way to change a run: resume and ``partial_fit`` use it."""
        changes = {k: v for k, v in changes.items() if v is not None}
        fixed = sorted(set(changes) - set(CHANGEABLE))
        if fixed:
            raise InvalidArgument(
                f"{fixed} cannot change in a running model (only {list(CHANGEABLE)} can); "
                "train a new model instead."
            )
        if not changes:
            return
        done = self.history.epochs
        if "epochs" in changes and changes["epochs"] <= done:
            raise InvalidArgument(
                f"The 'epochs' parameter is the total number of epochs and {done} already ran; "
                f"give more than {done}. Got {changes['epochs']} instead."
            )
        config = TrainConfig.from_dict(self.config.to_dict() | changes, source="changes")
        schedule = schedule_for([config], self.steps_per_epoch)
        if isinstance(schedule, Plateau) and isinstance(self.schedule, Plateau):
            schedule.state = self.schedule.state
        self.pop.configs, self.pop.schedule = [config], schedule
        if config.early_stopping == 0:
            self.best = None

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
            train.prep,
        )

    # -- training -----------------------------------------------------------------------
    def fit(
        self,
        train: Dataset,
        val: Dataset | None = None,
        on_epoch: Callable[[int, History], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        epochs: int | None = None,
    ) -> History:
        """Train up to ``config.epochs`` (or ``epochs``, without changing the plan: what
        ``partial_fit`` asks), continuing a resumed model, with early stopping on validation
        loss when ``config.early_stopping > 0`` (the best weights are restored)."""
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

        self.pop.train(
            *self._arrays(train),
            c.epochs if epochs is None else epochs,
            validation=validation,
            on_epoch=epoch_end,
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
            learned = self.net.state_arrays().items()
            arrays = {k: v for k, v in learned if k.startswith(("param/", "buffer/"))}
            self.best = {"val_loss": loss, "epoch": epoch, "arrays": arrays}
        return epoch - self.best["epoch"] >= patience

    def _restore_best(self) -> None:
        self.net.load_state_arrays(self.net.state_arrays() | self.best["arrays"])

    def _arrays(self, ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Standardised features and class codes of ``ds`` in this model's class order (a
        table's rows encoded by this model's own preprocessing, whatever ``ds.X`` holds)."""
        X = ds.X
        if self.prep is not None and ds.prep is not self.prep:
            # a table of numbers without missing cells was read as a plain data set: its
            # columns, by name, are the raw rows (a text column the model needs is missing)
            table = ds.table if ds.table is not None else numeric_table(ds)
            X = self.prep.transform(table.select(self.prep.inputs, self.prep.kinds, ds.name))
        self._check_features(X)
        return self.standardizer.transform(X).astype(self.net.dtype), self._codes(ds)

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
        """Class probabilities ``(n, C)`` for raw features ``X (n, d)``, columns in ``classes``.

        A model trained on a table (``self.prep``) takes its raw rows: a pandas DataFrame
        (columns found by name; text and missing cells as in training, unseen levels fine),
        a ``{column: values}`` dict or an array with the input columns in order."""
        X = self._features(X)
        return np.concatenate(
            [self.net.predict_proba(X[s : s + 4096])[0] for s in range(0, len(X), 4096)]
        )

    def weights_finite(self) -> bool:
        """Whether every weight and running statistic is finite (False for a model that
        diverged, or a file damaged or written by another program)."""
        arrays = [*self.net.get_params().values(), *self.net.buffers().values()]
        return all(bool(np.isfinite(a).all()) for a in arrays)

    def predict(self, X) -> np.ndarray:
        """Predicted labels ``(n,)`` (the original labels, not codes)."""
        return self.classes[np.argmax(self.predict_proba(X), axis=1)]

    def evaluate(self, ds: Dataset, split: str = "auto") -> dict:
        """``{"loss", "accuracy", "confusion", "split", "n"}`` on rows of ``ds``;
        ``confusion[i, j]`` counts examples of class i predicted as j.

        ``split`` says which rows: ``"all"`` of them, or ``"train"``, ``"val"`` or ``"test"``,
        the part of the model's own split cut from ``ds`` as training cut it (its fractions
        and data seed). ``"auto"`` (the default) scores the test part when ``ds`` is the data
        the model was trained on (as ``caviar evaluate`` does), so a model is never scored on
        its training rows by accident, and every row of any other data set. The result says
        which (``split``) and how many rows (``n``).
        """
        rows, split = self._rows(ds, split)
        X, y = self._arrays(rows)
        loss, acc = evaluate(self.net, X, y, self.config.batch_size)  # as training does
        with np.errstate(all="ignore"):  # a diverged model predicts garbage, quietly
            pred = np.argmax(self.net.predict_proba(X)[0], axis=1)
        C = len(self.classes)
        confusion = np.bincount(y * C + pred, minlength=C * C).reshape(C, C)
        return {
            "loss": float(loss[0]),
            "accuracy": float(acc[0]),
            "confusion": confusion,
            "split": split,
            "n": len(rows),
        }

    def _rows(self, ds: Dataset, split: str) -> tuple[Dataset, str]:
        """The rows of ``ds`` that :meth:`evaluate` scores for ``split``, and the split."""
        if split not in EVALUATED_SPLITS:
            raise InvalidArgument(
                f"The 'split' parameter must be one of {list(EVALUATED_SPLITS)}. Got {split!r}."
            )
        if split == "auto":
            split = "test" if self._trained_on(ds) else "all"
        if split == "all":
            return ds, split
        return dict(zip(("train", "val", "test"), self._split(ds), strict=True))[split], split

    def _split(self, ds: Dataset) -> tuple[Dataset, Dataset, Dataset]:
        return sources.split(ds, self.config)

    def _trained_on(self, ds: Dataset) -> bool:
        """Whether ``ds`` is the data this model records it was trained on: the same name (a
        bundled name, or a file's stem), columns, and training-part size once split."""
        data = self.source.get("data")
        if not data or ds.name not in (data, Path(data).stem):
            return False
        if self.prep is not None:
            return ds.table is not None and len(self._split(ds)[0]) == self.n_train
        if ds.n_features != self.net.sizes[0]:
            return False
        if self.feature_names and tuple(ds.feature_names) != self.feature_names:
            return False
        return len(self._split(ds)[0]) == self.n_train

    def _features(self, X) -> np.ndarray:
        if self.prep is not None:
            table = as_table(X, self.prep.inputs, self.prep.kinds)
            return self.standardizer.transform(self.prep.transform(table)).astype(self.net.dtype)
        X = np.asarray(X, dtype=np.float64)
        self._check_features(X)
        if not np.all(np.isfinite(X)):
            row, col = np.argwhere(~np.isfinite(X))[0]
            raise DataError(f"row {row}, column {col} holds {X[row, col]}; remove or impute it.")
        top = np.finfo(np.float32).max
        if np.any(np.abs(X) > top):  # the float32 cast below would make it infinite
            row, col = np.argwhere(np.abs(X) > top)[0]
            raise DataError(
                f"row {row}, column {col} holds {X[row, col]:g}, beyond the float32 range "
                f"(±{top:.3g}) caviar computes in; rescale that column or remove the row."
            )
        return self.standardizer.transform(X).astype(self.net.dtype)

    def _check_features(self, X) -> None:
        d = self.net.sizes[0]
        if X.ndim != 2 or X.shape[1] != d:
            raise DataError(
                f"The model was trained on {d} features; the data has shape {X.shape}. "
                "Use data with the same columns as the training data."
            )

    # -- checkpoints ---------------------------------------------------------------------
    def save(self, path, durable: bool = True) -> str:
        """Write the whole model (and training state) to one ``.npz``; returns its path
        (``durable``: see :func:`caviar.checkpoint.save`)."""
        return str(checkpoint.save(path, self.save_arrays(), self._meta(), durable))

    def save_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the model's file (its metadata is :meth:`_meta`)."""
        arrays = self.pop.state()
        arrays |= {f"std/{k}": v for k, v in self.standardizer.to_arrays().items()}
        arrays["classes"] = self.classes
        if self.best is not None:
            arrays |= {f"best/{k}": v for k, v in self.best["arrays"].items()}
        return arrays

    def _meta(self) -> dict:
        return {
            "config": self.config.to_dict(),
            "source": self.source,
            "display": self.display,
            "n_features": self.net.sizes[0],
            "n_train": self.n_train,
            "feature_names": list(self.feature_names),
            "preprocessing": None if self.prep is None else self.prep.to_dict(),
            "best": None
            if self.best is None
            else {"val_loss": self.best["val_loss"], "epoch": self.best["epoch"]},
            "versions": {
                "caviar": __version__,
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
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
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
            None
            if meta.get("preprocessing") is None
            else Preprocessor.from_dict(meta["preprocessing"]),
        )
        model.pop.load_state(arrays)
        model.source = meta.get("source", {})
        display = meta.get("display")
        model.display = display if isinstance(display, dict) else {}
        if meta["best"] is not None:
            names = [k for k in arrays if k.startswith(("param/", "buffer/"))]
            best = {k: arrays[f"best/{k}"] for k in names}
            model.best = {**meta["best"], "arrays": best}
        return model
