"""The one checked container every reader and loader returns.

A :class:`Dataset` is built through :meth:`Dataset.from_arrays`, which checks the data once
(shape, numbers, finiteness, labels) so that nothing downstream checks it again. Its arrays are
read-only: a transformation makes a new data set (``dataclasses.replace(ds, X=...)``).

Shapes: n rows, d features, C classes.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

from caviar.data.prep import Preprocessor
from caviar.data.table import Table
from caviar.errors import DataError

_SHOWN = 10  # how many offending labels a message lists
# A target with more classes than this, and more than MAX_CLASS_SHARE of its rows as classes,
# is an identifier or a measurement, not a label (fewer than two rows per class on average)
MIN_CLASSES_REFUSED = 20
MAX_CLASS_SHARE = 0.5


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Features, class codes and what the codes mean.

    Attributes:
        X: ``(n, d)`` float32, C-contiguous, finite, read-only.
        y: ``(n,)`` int64 class codes in ``0..C-1``, read-only.
        classes: ``(C,)`` the original labels, sorted (ints or strings); ``classes[y]`` gives
            the original labels back.
        feature_names: ``d`` column names.
        name: what the data set is called in messages.
        test_start: for a benchmark with a standard split, the first row of its own test part
            (rows ``test_start:``); :func:`~caviar.data.train_val_test_split` then tests on
            exactly those rows, so figures compare with the benchmark's. None otherwise.
        table: for a table with text columns or missing cells, its raw rows
            (:class:`~caviar.data.table.Table`); ``X`` is then their encoding by ``prep``.
        prep: the :class:`~caviar.data.prep.Preprocessor` that made ``X`` from ``table``:
            fitted on these rows, or on the training part they were split from.

    Example:
        >>> ds = Dataset.from_arrays([[0.0, 1.0], [2.0, 3.0]], ["cat", "dog"], name="pets")
        >>> ds.y, ds.classes
        (array([0, 1]), array(['cat', 'dog'], dtype='<U3'))
        >>> ds.decode([1, 0]).tolist()
        ['dog', 'cat']
    """

    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    feature_names: tuple[str, ...]
    name: str
    test_start: int | None = None
    table: Table | None = None
    prep: Preprocessor | None = None

    def __post_init__(self) -> None:
        # Cheap structural invariants only; the data checks live in from_arrays.
        n = self.X.shape[0] if self.X.ndim == 2 else -1
        if self.X.dtype != np.float32 or n < 0 or not self.X.flags.c_contiguous:
            raise DataError(f"Data set '{self.name}': X must be C-contiguous float32 (n, d)")
        if self.y.dtype != np.int64 or self.y.shape != (n,):
            raise DataError(f"Data set '{self.name}': y must be an int64 array of shape ({n},)")
        if len(self.feature_names) != self.X.shape[1]:
            raise DataError(f"Data set '{self.name}': {self.X.shape[1]} columns need as many names")
        for array in (self.X, self.y, self.classes):
            array.flags.writeable = False

    @classmethod
    def from_arrays(
        cls,
        X,
        y,
        name: str = "data",
        feature_names=None,
        classes=None,
        test_start=None,
        target: str | None = None,
    ) -> Dataset:
        """Check ``X (n, d)`` and raw labels ``y (n,)`` once and build a data set.

        ``y`` may hold any ints or strings; they are mapped to codes ``0..C-1`` in sorted order.
        Pass ``classes`` (sorted, unique) to fix the code of every label, e.g. for a test part
        that lacks a class; otherwise the classes are those found in ``y``. ``target`` names
        the label column in messages.

        caviar classifies: a target that is a measurement is refused, not turned into one
        class per distinct value. That is a numeric target with values that are not all
        integers (scikit-learn's ``type_of_target`` calls it ``continuous``; strings that all
        read as such numbers count too), or one with more than ``MIN_CLASSES_REFUSED`` classes
        and more classes than ``MAX_CLASS_SHARE`` of its rows.

        Raises:
            DataError: X is not 2-D or not numeric (naming the column), holds NaN or infinity
                (naming row and column), is empty, differs in length from y; y is continuous,
                has fewer than two classes or nearly one class per row, or labels outside
                ``classes``.
        """
        X = np.asarray(X)
        names = _feature_names(feature_names, X.shape[1], name) if X.ndim == 2 else ()
        X = _features(X, name, names)
        _check_finite(X, names, name)
        raw = _labels(y, name, target)
        if raw.shape[0] != X.shape[0]:
            raise DataError(
                f"Data set '{name}': X has {X.shape[0]} rows but y has {raw.shape[0]} labels; "
                "they must match one to one"
            )
        if classes is None:
            classes = np.unique(raw)
            _refuse_measurement(raw, classes, name, target)
        else:
            classes = _classes(classes, name)
        if classes.shape[0] < 2:
            raise DataError(
                f"Data set '{name}' holds only one class ({_show(classes[0])}); "
                "a classifier needs at least two"
            )
        y = _encode(raw, classes, name)
        if test_start is not None and not 0 < test_start < X.shape[0]:
            raise DataError(f"Data set '{name}': test_start must be in 1..{X.shape[0] - 1}")
        return cls(X=X, y=y, classes=classes, feature_names=names, name=name, test_start=test_start)

    @classmethod
    def from_table(
        cls,
        table: Table,
        y,
        name: str = "data",
        preprocess: str = "standard",
        target: str | None = None,
        test_start=None,
        classes=None,
    ) -> Dataset:
        """A data set of a raw table: labels checked as :meth:`from_arrays` checks them, ``X``
        the table encoded by a :class:`Preprocessor` fitted on all its rows (a split refits it
        on the training part: :func:`~caviar.data.train_val_test_split`)."""
        if table.n_rows == 0:
            raise DataError(f"Data set '{name}' is empty: it holds no rows")
        prep = Preprocessor.fit(table, preprocess)
        plain = cls.from_arrays(
            prep.transform(table), y, name, prep.feature_names, classes, test_start, target
        )
        return replace(plain, table=table, prep=prep)

    def refit(self, preprocess: str | None = None) -> Dataset:
        """For a table: the encoding fitted on these rows (with ``preprocess``, default the
        current one); other data sets are returned as they are."""
        if self.table is None:
            return self
        prep = Preprocessor.fit(self.table, preprocess or self.prep.preprocess)
        return self.encoded(prep)

    def encoded(self, prep: Preprocessor) -> Dataset:
        """For a table: ``X`` made by ``prep`` (fitted elsewhere, e.g. on the training part)."""
        X = prep.transform(self.table)
        return replace(self, X=X, feature_names=tuple(prep.feature_names), prep=prep)

    def summary(self) -> str | None:
        """For a table, one line of what was done to it (and its labels); None otherwise."""
        if self.prep is None:
            return None
        labels = ", ".join(str(c) for c in self.classes[:8])
        more = ", ..." if self.n_classes > 8 else ""
        return f"{self.prep.summary()}; labels: {labels}{more}"

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return self.classes.shape[0]

    def __len__(self) -> int:
        return self.X.shape[0]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}, classes={self.classes.tolist()!r})"
        )

    def subset(self, index, name: str | None = None) -> Dataset:
        """Rows ``index`` (a slice, integer or boolean array) with the same classes and names
        (and no standard test part of its own)."""
        rows = np.arange(self.n_samples)[index]
        return Dataset(
            X=np.ascontiguousarray(self.X[rows]),
            y=self.y[rows].copy(),
            classes=self.classes,
            feature_names=self.feature_names,
            name=self.name if name is None else name,
            table=None if self.table is None else self.table.subset(rows),
            prep=self.prep,
        )

    def encode_labels(self, raw) -> np.ndarray:
        """Map raw labels ``(m,)`` to codes ``(m,)`` int64 with this data set's classes.

        Raises DataError naming the labels never seen in this data set (prediction-time data).
        """
        return _encode(_labels(raw, self.name), self.classes, self.name)

    def decode(self, codes) -> np.ndarray:
        """Map codes ``(m,)`` in ``0..C-1`` back to the original labels ``(m,)``."""
        codes = np.asarray(codes)
        if codes.dtype.kind not in "iu" or (codes.size and not _in_range(codes, self.n_classes)):
            raise DataError(
                f"Data set '{self.name}': codes must be integers in [0, {self.n_classes}); "
                f"got {codes.ravel()[:_SHOWN].tolist()!r}"
            )
        return self.classes[codes]


def _show(value) -> str:
    """``repr`` of a plain Python value: ``'a'``, not ``np.str_('a')``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _in_range(codes: np.ndarray, C: int) -> bool:
    return bool(codes.min() >= 0 and codes.max() < C)


def _features(X, name: str, names: tuple[str, ...]) -> np.ndarray:
    """``X`` as a fresh C-contiguous float32 ``(n, d)`` array, or a DataError (also for a
    finite value beyond float32's range, which the cast would turn into infinity)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise DataError(
            f"Data set '{name}': X must be 2-D (n rows, d features); got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise DataError(f"Data set '{name}' is empty: it holds no rows")
    if X.dtype.kind not in "biuf":
        _raise_non_numeric(X, name)
    if X.dtype.kind == "f" and X.dtype.itemsize > 4:
        with np.errstate(invalid="ignore"):
            big = np.isfinite(X) & (np.abs(X) > np.finfo(np.float32).max)
        if big.any():
            i, j = (int(k) for k in np.argwhere(big)[0])
            raise DataError(
                f"Data set '{name}': row {i}, column '{names[j]}' holds {X[i, j]:g}, beyond the "
                f"float32 range (±{np.finfo(np.float32).max:.3g}) caviar computes in; rescale "
                "that column or remove the row"
            )
    return np.array(X, dtype=np.float32, order="C", copy=True)


def _raise_non_numeric(X: np.ndarray, name: str) -> None:
    for j in range(X.shape[1]):
        for i, value in enumerate(X[:, j]):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise DataError(
                    f"Data set '{name}': column {j} is not numeric (row {i} holds {_show(value)}); "
                    "encode it as numbers or drop it"
                )
    raise DataError(f"Data set '{name}': X has dtype {X.dtype}; features must be numbers")


def _feature_names(names, d: int, name: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"x{j}" for j in range(d))
    names = tuple(str(n) for n in names)
    if len(names) != d:
        raise DataError(f"Data set '{name}': {len(names)} feature names given for {d} columns")
    return names


def _check_finite(X: np.ndarray, names: tuple[str, ...], name: str) -> None:
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise DataError(
            f"Data set '{name}': row {i}, column '{names[j]}' holds {X[i, j]}; remove or impute it"
        )


def _labels(y, name: str, target: str | None = None) -> np.ndarray:
    """Raw labels as a 1-D int64 or str array; a continuous target is a DataError."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"Data set '{name}': y must be 1-D (n,); got shape {y.shape}")
    kind = y.dtype.kind
    if kind in "biu":
        return y.astype(np.int64)
    if kind == "f":
        if not np.all(np.isfinite(y)):
            bad = y[~np.isfinite(y)][0]
            raise DataError(
                f"Data set '{name}': labels must be integers or strings; y holds {_show(bad)}"
            )
        if np.any(y != np.round(y)):
            _refuse_continuous(y, name, target)
        return y.astype(np.int64)
    if kind in "US":
        _refuse_numeric_strings(y.astype(str), name, target)
        return y.astype(str)
    if kind == "O":
        return _object_labels(y, name)
    raise DataError(f"Data set '{name}': labels must be integers or strings; y has {y.dtype}")


def _refuse_numeric_strings(y: np.ndarray, name: str, target: str | None) -> None:
    """Strings that all read as numbers, some of them not integers (a CSV column of
    measurements) are a continuous target."""
    values = np.unique(y)
    if not values.size:
        return
    try:
        numbers_ = values.astype(np.float64)
    except ValueError:
        return
    if np.all(np.isfinite(numbers_)) and np.any(numbers_ != np.round(numbers_)):
        _refuse_continuous(numbers_, name, target)


def _refuse_continuous(values: np.ndarray, name: str, target: str | None) -> None:
    distinct = np.unique(values)
    shown = ", ".join(f"{v:g}" for v in distinct[:3])
    column = f"the target {target!r}" if target else "the target y"
    raise DataError(
        f"Data set '{name}': {column} is continuous ({distinct.size} distinct numbers such as "
        f"{shown}, not all integers): caviar classifies, it does not regress; to classify "
        f"ranges of it, bin it into a label column first (e.g. pandas.cut(column, bins=4)) "
        "and give that column as the target"
    )


def _refuse_measurement(raw: np.ndarray, classes: np.ndarray, name: str, target) -> None:
    C, n = classes.shape[0], raw.shape[0]
    if C > MIN_CLASSES_REFUSED and C > MAX_CLASS_SHARE * n:
        column = f"the target {target!r}" if target else "the target y"
        raise DataError(
            f"Data set '{name}': {column} has {C} distinct values in {n} rows, fewer than two "
            f"rows per class: it looks like an identifier or a measurement, not a label; "
            "choose the label column (--target NAME), or bin it into fewer classes first"
        )


def _object_labels(y: np.ndarray, name: str) -> np.ndarray:
    if all(isinstance(v, str) for v in y):
        return y.astype(str)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in y):
        return y.astype(np.int64)
    raise DataError(
        f"Data set '{name}': labels must be all integers or all strings; y mixes "
        f"{sorted({type(v).__name__ for v in y})}"
    )


def _classes(classes, name: str) -> np.ndarray:
    classes = _labels(classes, name)
    if classes.size and (np.any(classes[1:] <= classes[:-1])):
        raise DataError(f"Data set '{name}': classes must be sorted and unique")
    return classes


def _encode(raw: np.ndarray, classes: np.ndarray, name: str) -> np.ndarray:
    """Codes ``(n,)`` with ``classes[codes] == raw``, or a DataError naming unseen labels."""
    if (raw.dtype.kind == "U") != (classes.dtype.kind == "U"):
        seen = np.zeros(raw.shape, dtype=bool)
        codes = np.zeros(raw.shape, dtype=np.int64)
    else:
        codes = np.searchsorted(classes, raw).astype(np.int64)
        codes = np.minimum(codes, classes.shape[0] - 1)
        seen = classes[codes] == raw
    if not np.all(seen):
        unseen = np.unique(raw[~seen])
        raise DataError(
            f"Data set '{name}': labels {unseen[:_SHOWN].tolist()!r} were not seen in training "
            f"(known classes: {classes[:_SHOWN].tolist()!r}); predict only on known classes "
            "or retrain with them"
        )
    return codes
