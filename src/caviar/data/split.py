"""Stratified train / validation / test splits and a standardiser fitted on training data only."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from caviar._validate import FRACTION, scalar
from caviar.data.dataset import Dataset
from caviar.errors import CheckpointError, DataError, InvalidArgument


def train_val_test_split(
    ds: Dataset, val: float = 0.1, test: float = 0.2, seed: int = 0, preprocess: str | None = None
) -> tuple[Dataset, Dataset, Dataset]:
    """Split ``ds`` into training, validation and test parts, stratified by class.

    Each class of n_c rows gives ``round(test * n_c)`` rows to test and ``round(val * n_c)`` to
    validation, at least one to each non-zero part while the class has rows to spare, and the
    rest (at least one) to training; part sizes can so differ from ``val * n`` by up to C rows.
    Rows keep their original order inside each part. Same seed, same split. A part asked to be
    0 is an empty data set. A data set with a standard split of its own (``ds.test_start``,
    as MNIST-1D's last 1,000 of 5,000) tests on exactly those rows and draws validation from
    the rows before them (``val`` of those); ``test`` is then not used.

    A table (``ds.table``: text columns, missing cells) has its encoding fitted again on the
    training part alone, ``preprocess`` (default: the data set's) its numeric transform, and
    all three parts encoded with it: nothing of the validation or test rows leaks into it.

    Example:
        >>> ds = Dataset.from_arrays(np.arange(20.0).reshape(10, 2), [0, 1] * 5)
        >>> [len(part) for part in train_val_test_split(ds, val=0.2, test=0.2)]
        [6, 2, 2]
    """
    val = scalar("val", val, FRACTION)
    test = scalar("test", test, FRACTION)
    if val + test >= 1.0:
        raise InvalidArgument(
            f"The 'val' and 'test' parameters must sum to less than 1. Got {val + test:g} instead."
        )
    if ds.test_start is not None:
        return _encoded(_standard_split(ds, val, seed), preprocess)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in range(ds.n_classes):
        rows = rng.permutation(np.flatnonzero(ds.y == c))
        n_train, n_val, _ = _class_counts(len(rows), val, test)
        for part, chunk in zip(parts, np.split(rows, [n_train, n_train + n_val]), strict=True):
            part.append(chunk)
    names = ("train", "val", "test")
    return _encoded(
        tuple(
            ds.subset(np.sort(np.concatenate(p)), f"{ds.name}-{k}")
            for p, k in zip(parts, names, strict=True)
        ),
        preprocess,
    )


def _encoded(parts: tuple[Dataset, ...], preprocess: str | None) -> tuple[Dataset, ...]:
    """For a table, every part encoded by a preprocessor fitted on the training part."""
    train = parts[0]
    if train.table is None:
        return parts
    train = train.refit(preprocess)
    return (train, *(p.encoded(train.prep) for p in parts[1:]))


def _standard_split(ds: Dataset, val: float, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """The data set's own test rows; training and validation stratified from the rows before."""
    head = ds.subset(slice(None, ds.test_start))
    train, validation, _ = train_val_test_split(head, val, 0.0, seed)
    return (
        train.subset(slice(None), f"{ds.name}-train"),
        validation.subset(slice(None), f"{ds.name}-val"),
        ds.subset(slice(ds.test_start, None), f"{ds.name}-test"),
    )


def _class_counts(n_c: int, val: float, test: float) -> tuple[int, int, int]:
    """Rows of one class for (train, val, test): training keeps one first, then test, then val."""
    n_test = max(_round(test * n_c), 1 if test > 0 else 0)
    n_val = max(_round(val * n_c), 1 if val > 0 else 0)
    n_test = min(n_test, n_c - 1)
    n_val = min(n_val, n_c - 1 - n_test)
    return n_c - n_val - n_test, n_val, n_test


def _round(x: float) -> int:
    return math.floor(x + 0.5)  # half up, unlike round()'s half to even


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-feature standardisation ``(X - mean) / std`` with statistics of training data only.

    Attributes:
        mean: ``(d,)`` float32 column means of the training X.
        std: ``(d,)`` float32 column standard deviations; 1 for a constant column.

    Example:
        >>> s = Standardizer.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
        >>> s.transform(np.array([[1.0, 7.0]]))
        array([[0., 2.]], dtype=float32)
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X) -> Standardizer:
        """Statistics of the training features ``X (n, d)``."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise DataError(f"Standardizer.fit needs a non-empty (n, d) array; got {X.shape}")
        std = X.std(axis=0, dtype=np.float64)
        constant = X.max(axis=0) == X.min(axis=0)
        return cls(
            mean=X.mean(axis=0, dtype=np.float64).astype(np.float32),
            std=np.where(constant, 1.0, std).astype(np.float32),
        )

    def transform(self, X) -> np.ndarray:
        """``(X - mean) / std`` for ``X (m, d)``, as a new float32 ``(m, d)`` array."""
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.mean.shape[0]:
            raise DataError(
                f"Standardizer was fitted on {self.mean.shape[0]} features; "
                f"got X of shape {X.shape}"
            )
        return (X - self.mean) / self.std

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``{'mean': (d,), 'std': (d,)}``, ready for ``np.savez`` (no pickle)."""
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_arrays(cls, arrays) -> Standardizer:
        """The inverse of :meth:`to_arrays` (a dict or an opened ``.npz``)."""
        try:
            mean, std = (np.asarray(arrays[k], dtype=np.float32) for k in ("mean", "std"))
        except KeyError as err:
            raise CheckpointError(f"Standardizer arrays lack {err}; need 'mean', 'std'") from None
        if mean.ndim != 1 or mean.shape != std.shape or not np.all(std > 0):
            raise CheckpointError(
                f"Standardizer arrays need 'mean' (d,) and positive 'std' (d,); "
                f"got shapes {mean.shape} and {std.shape}"
            )
        return cls(mean=mean, std=std)
