"""A scikit-learn classifier around :class:`~caviar.model.Model`.

:class:`Classifier` follows the estimator contract (hyperparameters stored verbatim in
``__init__``, learned state in attributes ending in ``_``, checks in ``fit``), so it composes
with ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and the rest of scikit-learn.

Shapes: n rows, d features, C classes.
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from caviar import _validate as check
from caviar.config import TrainConfig
from caviar.data import Dataset, train_val_test_split
from caviar.data.table import frame_columns, table_from_columns
from caviar.errors import DataError, UnknownParameter
from caviar.model import Model

# TrainConfig fields that are no estimator parameter: fit trains on all the data it is given.
SPLIT_FIELDS = ("val_fraction", "test_fraction")
# fields the estimator does not take: the split is its own, and a tune's order offset is no
# parameter of a model one fits
NOT_PARAMETERS = (*SPLIT_FIELDS, "order_offset")
# scikit-learn's MLPClassifier names a user reaches for, and what caviar calls them. They are
# refused with caviar's name, not taken as aliases: an estimator's parameters are its
# __init__'s names (get_params, clone), and one thing with two names would break them.
SKLEARN_NAMES = {
    "hidden_layer_sizes": "hidden",
    "max_iter": "epochs",
    "random_state": "seed",
    "learning_rate_init": "lr",
    "learning_rate": "schedule",
    "alpha": "l2",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "epsilon": "eps",
    "solver": "optimizer",
    "n_iter_no_change": "early_stopping",
}
_DTYPES = (np.float64, np.float32)


class Classifier(ClassifierMixin, BaseEstimator):
    """A fully connected classifier trained by caviar, as a scikit-learn estimator.

    Every parameter but ``validation_fraction`` is the :class:`~caviar.config.TrainConfig`
    field of the same name, with the same default and meaning (see its help); the split
    fields ``val_fraction`` and ``test_fraction`` are left out, since ``fit`` trains on all
    the data it is given. With ``early_stopping > 0``, ``fit`` holds out a stratified
    ``validation_fraction`` of that data (drawn with ``data_seed``) to watch the validation
    loss, and keeps the weights of the best epoch. Parameters are checked by ``fit``; a bad
    one raises a ValueError (:class:`~caviar.errors.InvalidArgument`) naming it.

    Features are standardised inside the model with statistics of the training rows, so a
    ``StandardScaler`` in front is harmless but not needed. Labels may be any integers or
    strings; ``classes_`` holds them sorted as ``np.unique`` sorts them.

    Shapes: ``fit(X (n, d), y (n,))``; ``predict_proba(X (m, d)) → (m, C)``, columns in
    ``classes_`` order, in the model's ``dtype``; ``predict(X (m, d)) → (m,)`` labels.

    Attributes:
        classes_: ``(C,)`` the class labels, sorted.
        n_features_in_: d, the number of features seen in ``fit``.
        feature_names_in_: ``(d,)`` column names, when ``X`` in ``fit`` had string names.
        model_: the trained :class:`~caviar.model.Model` (its ``history``, ``save``, ...);
            it knows the classes as codes ``0..C-1`` into ``classes_``.
        n_iter_: epochs trained.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = Classifier(hidden=(16,), epochs=20, batch_size=16, lr=0.01).fit(X, y)
        >>> clf.classes_, clf.predict_proba(X[:4]).shape
        (array([0, 1, 2]), (4, 3))
        >>> bool(clf.score(X, y) > 0.9)
        True
    """

    def __new__(cls, *args, **kwargs):
        # Python would refuse an unknown keyword with a bare TypeError from __init__; say it
        # in caviar's words first, naming caviar's parameter (__init__ then runs as usual)
        _refuse_unknown(cls, kwargs)
        return super().__new__(cls)

    def __init__(
        self,
        hidden=(64, 64),
        batchnorm=True,
        bn_position="before",
        activation="relu",
        init="auto",
        optimizer="adam",
        lr=1e-3,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        schedule="constant",
        decay_rate=1.0,
        decay_base=0.95,
        decay_k=1.0,
        drop=0.5,
        epochs_per_drop=10,
        warmup_steps=0,
        alpha_min=0.0,
        plateau_factor=0.1,
        plateau_patience=10,
        batch_size=64,
        epochs=20,
        seed=0,
        data_seed=0,
        keep_prob=1.0,
        l2=0.0,
        bn_momentum=0.9,
        dtype="float32",
        preprocess="standard",
        early_stopping=0,
        validation_fraction=0.1,
    ):
        self.hidden = hidden
        self.batchnorm = batchnorm
        self.bn_position = bn_position
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.decay_rate = decay_rate
        self.decay_base = decay_base
        self.decay_k = decay_k
        self.drop = drop
        self.epochs_per_drop = epochs_per_drop
        self.warmup_steps = warmup_steps
        self.alpha_min = alpha_min
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.batch_size = batch_size
        self.epochs = epochs
        self.seed = seed
        self.data_seed = data_seed
        self.keep_prob = keep_prob
        self.l2 = l2
        self.bn_momentum = bn_momentum
        self.dtype = dtype
        self.preprocess = preprocess
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction

    def fit(self, X, y) -> Classifier:
        """Train a fresh model for ``epochs`` on ``X (n, d)``, labels ``y (n,)``; returns self.

        A pandas DataFrame with text columns or missing cells is a table: its encoding
        (one-hot, median + indicator, ``preprocess``) is fitted on the training rows and kept
        in ``model_``, and ``predict`` then takes such DataFrames (unseen levels are fine)."""
        config = self._config()
        if _is_table(X):
            y = self._table_columns(X, y, reset=True)
            self.classes_ = _classes(y)
            data = self._table_dataset(X, y, "fit data", config.preprocess)
        else:
            X, y = validate_data(self, X, y, dtype=_DTYPES)
            self.classes_ = _classes(y)
            data = self._dataset(X, y, "fit data")
        train, val = self._holdout(data, config)
        self.model_ = Model.create(config, train)
        self.model_.fit(train, val)
        self._after_training()
        return self

    def partial_fit(self, X, y, classes=None) -> Classifier:
        """Train one more epoch on ``X (n, d)``, ``y (n,)``; returns self.

        The first call (on a fresh or cloned estimator) builds the model: its classes are
        ``classes`` (every label the stream will hold) or, when None, the labels in ``y``; its
        standardisation comes from this first batch; the hyperparameters are read now and
        kept. Each later call continues the same model, whether built here or by ``fit``:
        the same optimizer state (moments, step count), schedule and history, the epoch
        counter advancing by one, so the epoch's mini-batch order and an epoch-based
        learning rate move on as in ``fit``. ``epochs`` only sizes a step-based schedule
        (``warmup_cosine`` plans ``epochs`` passes of the first batch's size), and
        ``early_stopping`` is ignored: ``partial_fit`` holds no data out.
        """
        first = not hasattr(self, "model_")
        config = self._config() if first else None
        table = _is_table(X) or (not first and self.model_.prep is not None)
        if table:
            y = self._table_columns(X, y, reset=first)
        else:
            X, y = validate_data(self, X, y, reset=first, dtype=_DTYPES)
        check_classification_targets(y)
        if first:
            self.classes_ = _classes(y if classes is None else np.asarray(classes))
        else:
            self._check_same_classes(classes)
        if table:
            preprocess = config.preprocess if first else self.model_.prep.preprocess
            data = self._table_dataset(X, y, "partial_fit data", preprocess)
        else:
            data = self._dataset(X, y, "partial_fit data")
        if first:
            self.model_ = Model.create(config, data)
        _one_more_epoch(self.model_, data)
        self._after_training()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(m, C)`` for ``X (m, d)``, columns in ``classes_`` order."""
        check_is_fitted(self, "model_")
        if self.model_.prep is not None:  # a table: its columns by name, as in fit
            return self.model_.predict_proba(X)
        X = validate_data(self, X, reset=False, dtype=_DTYPES)
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """The most probable label ``(m,)`` for each row of ``X (m, d)``."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __getstate__(self) -> dict:
        # The model travels as its checkpoint: no caviar internals in the pickle, and a load
        # with joblib's mmap_mode (read-only arrays) still gives a model that can train on.
        state = dict(super().__getstate__())  # a copy: it may be self.__dict__ itself
        if "model_" in state:
            state["model_"] = _checkpoint_bytes(state["model_"])
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _model_from_bytes(state["model_"])}
        super().__setstate__(state)

    # -- helpers -------------------------------------------------------------------------
    def _config(self) -> TrainConfig:
        """The parameters as a checked TrainConfig (types and each field's rule)."""
        names = [f.name for f in fields(TrainConfig) if f.name not in NOT_PARAMETERS]
        config = TrainConfig.from_dict(
            {name: getattr(self, name) for name in names}, source="Classifier's parameters"
        )
        holdout = check.scalar("validation_fraction", self.validation_fraction, check.OPEN_UNIT)
        val = holdout if config.early_stopping > 0 else 0.0
        return config.replace(val_fraction=val, test_fraction=0.0)

    def _dataset(self, X: np.ndarray, y: np.ndarray, name: str) -> Dataset:
        """``X`` with ``y`` encoded as codes into ``classes_``; a DataError names unknown labels."""
        codes = self._codes(y, name)
        names = getattr(self, "feature_names_in_", None)
        classes = np.arange(len(self.classes_))
        return Dataset.from_arrays(X, codes, name, feature_names=names, classes=classes)

    def _codes(self, y: np.ndarray, name: str) -> np.ndarray:
        """``y`` as codes into ``classes_``; a DataError names unknown labels."""
        C = len(self.classes_)
        codes = np.minimum(np.searchsorted(self.classes_, y), C - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise DataError(
                f"{name}: label(s) {np.unique(y[unknown])[:10].tolist()} are not among the "
                f"classes {self.classes_[:10].tolist()}; pass every label in `classes` on the "
                "first call to partial_fit, or refit."
            )
        return codes

    def _table_columns(self, X, y, reset: bool) -> np.ndarray:
        """Record a table's columns (``n_features_in_``, ``feature_names_in_``) on the first
        call; ``y`` as an array of as many labels as ``X`` has rows."""
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(
                f"y must be 1-D with one label per row of X ({len(X)} rows); got shape {y.shape}"
            )
        if reset:
            self.n_features_in_ = X.shape[1]
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return y

    def _table_dataset(self, X, y: np.ndarray, name: str, preprocess: str) -> Dataset:
        """A table's rows, labels coded into ``classes_``, encoded by a fresh preprocessor
        (the model encodes later batches with its own)."""
        codes = self._codes(y, name)
        table = table_from_columns(frame_columns(X, name), name)
        classes = np.arange(len(self.classes_))
        return Dataset.from_table(table, codes, name, preprocess, classes=classes)

    def _holdout(self, data: Dataset, config: TrainConfig) -> tuple[Dataset, Dataset | None]:
        """(training, validation) parts: a stratified hold-out only when early stopping."""
        if config.early_stopping == 0:
            return data, None
        train, val, _ = train_val_test_split(data, config.val_fraction, 0.0, config.data_seed)
        return train, val

    def _check_same_classes(self, classes) -> None:
        if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise DataError(
                f"partial_fit: classes={np.asarray(classes).tolist()} differ from the classes "
                f"of the first call, {self.classes_.tolist()}; pass the same classes or refit."
            )

    def _after_training(self) -> None:
        history = self.model_.history
        self.n_iter_ = history.epochs
        for report in history.divergence.report():
            warnings.warn(
                f"Training diverged at epoch {report['epoch']}, step {report['step']}: the loss "
                "or a weight stopped being finite, and the model stopped learning there. "
                "Lower lr, or standardise extreme features.",
                ConvergenceWarning,
                stacklevel=3,
            )


def _is_table(X) -> bool:
    """A pandas DataFrame with a text (or boolean, or categorical) column or a missing cell."""
    if not (hasattr(X, "columns") and hasattr(X, "dtypes")):
        return False
    if len({str(c) for c in X.columns}) != len(X.columns):
        return True  # read as a table, whose reader names the repeated columns
    if any(dtype.kind not in "iuf" for dtype in X.dtypes):
        return True
    return bool(X.isna().to_numpy().any())


def _classes(y: np.ndarray) -> np.ndarray:
    """The sorted distinct labels of ``y (n,)``; a DataError when there are fewer than two."""
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise DataError(
            f"Classifier needs at least two classes to learn; y holds only one class "
            f"({classes.tolist()}). Add examples of another class."
        )
    return classes


def _one_more_epoch(model: Model, data: Dataset) -> None:
    """Train ``model`` one more epoch on ``data``, continuing its optimizer, schedule, history."""
    # no held-out data here: no early stopping, nothing to restore at the end; the epoch
    # count moves on, the plan (``epochs``, which sizes a step-based schedule) stays
    model.change(early_stopping=0)
    model.fit(data, epochs=model.history.epochs + 1)


def _checkpoint_bytes(model: Model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(model.save(Path(tmp) / "model.npz")).read_bytes()


def _model_from_bytes(data: bytes) -> Model:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        path.write_bytes(data)
        return Model.load(path)


def _refuse_unknown(cls, kwargs: dict) -> None:
    """An UnknownParameter for the first keyword ``cls.__init__`` does not take: caviar's
    name for a scikit-learn name, else the closest of its own names."""
    import difflib

    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for name, value in kwargs.items():
        if name in known:
            continue
        what = f"caviar.Classifier has no parameter {name!r}"
        if name == "verbose":
            raise UnknownParameter(
                f"{what}: fit trains silently; its epochs are in model_.history after fit "
                "(loss, val_loss, val_accuracy, lr per epoch)"
            )
        ours = SKLEARN_NAMES.get(name)
        if ours is not None:
            raise UnknownParameter(
                f"{what} (scikit-learn's MLPClassifier name); did you mean {ours}={value!r}? "
                f"See help(caviar.Classifier) for what {ours} means here"
            )
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}={value!r}?" if close else ";"
        raise UnknownParameter(f"{what}{hint} it takes {', '.join(known)}")


# inspect.signature(Classifier) would read __new__'s (*args, **kwargs); scikit-learn's checks
# read the class's signature for its parameters, which are __init__'s
Classifier.__signature__ = inspect.signature(Classifier.__init__).replace(
    parameters=list(inspect.signature(Classifier.__init__).parameters.values())[1:]
)
