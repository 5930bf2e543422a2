"""The encoding of a raw table into the numbers a network reads, learnt from training rows.

:meth:`Preprocessor.fit` looks at the training rows of a :class:`~caviar.data.table.Table`
only; :meth:`Preprocessor.transform` turns any rows of the same columns into ``X (n, d)``:

- a numeric column gives its value, a missing cell the training median, plus a 0/1
  "missing" indicator column when the column had any missing cell in training; with
  ``preprocess="quantile"`` the value is first mapped through the training quantiles to
  [0, 1] (piecewise linear between ``QUANTILES`` knots, clipped at the ends);
- a categorical column gives one 0/1 column per level seen at least ``RARE`` times in
  training, one for ``(missing)`` when training had missing cells, and one ``(other)``
  column for rare levels and levels never seen: an unknown value at prediction time is not
  an error (nor a missing cell in a column that had none: it goes to ``(other)`` too).

Everything fitted is plain data (:meth:`to_dict`, JSON), stored in the model file; the
standardisation caviar does for every data set follows it (:class:`~caviar.data.Standardizer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caviar.data.table import CATEGORICAL, NUMERIC, Table
from caviar.errors import CheckpointError, InvalidArgument

PREPROCESS = ("standard", "quantile")
RARE = 5  # a level seen fewer times in training joins (other)
QUANTILES = 101  # knots of the quantile transform
MISSING, OTHER = "(missing)", "(other)"


@dataclass(frozen=True)
class Column:
    """How one input column is encoded.

    Numeric: ``median`` fills a missing cell, ``indicator`` adds the 0/1 missing column,
    ``knots (q,)``/``levels (q,)`` map values piecewise linearly to [0, 1] (quantile only).
    Categorical: ``categories`` are the one-hot levels in order (``(missing)`` among them
    when training had missing cells); an ``(other)`` column follows them.
    """

    name: str
    kind: str
    median: float = 0.0
    indicator: bool = False
    knots: tuple[float, ...] = ()
    levels: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def outputs(self) -> list[str]:
        """The names of the encoded columns this column gives."""
        if self.kind == NUMERIC:
            return [self.name] + ([f"{self.name} (missing)"] if self.indicator else [])
        return [f"{self.name}={c}" for c in self.categories] + [f"{self.name}={OTHER}"]


@dataclass(frozen=True)
class Preprocessor:
    """The fitted encoding of every input column, in order (see the module docstring)."""

    columns: tuple[Column, ...]
    preprocess: str = "standard"

    @classmethod
    def fit(cls, table: Table, preprocess: str = "standard") -> Preprocessor:
        """Learn the encoding from ``table`` (the training rows only)."""
        if preprocess not in PREPROCESS:
            raise InvalidArgument(
                f"The 'preprocess' parameter must be one of {list(PREPROCESS)}. "
                f"Got {preprocess!r} instead."
            )
        cols = []
        for name, kind, v in zip(table.columns, table.kinds, table.values, strict=True):
            if kind == NUMERIC:
                cols.append(_fit_numeric(name, v, preprocess == "quantile"))
            else:
                cols.append(_fit_categorical(name, v))
        return cls(tuple(cols), preprocess)

    @property
    def inputs(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self.columns]

    @property
    def feature_names(self) -> list[str]:
        """The encoded columns' names, ``d`` of them."""
        return [name for c in self.columns for name in c.outputs]

    def transform(self, table: Table) -> np.ndarray:
        """``X (n, d)`` float32 of ``table``'s rows (its columns read by name)."""
        table = table.select(self.inputs, self.kinds, "data")
        parts = []
        for c, v in zip(self.columns, table.values, strict=True):
            parts.extend(_numeric(c, v) if c.kind == NUMERIC else [_one_hot(c, v)])
        return np.ascontiguousarray(np.column_stack(parts), dtype=np.float32)

    def summary(self) -> str:
        """One line: what was done to which columns."""
        numeric = [c for c in self.columns if c.kind == NUMERIC]
        text = [c for c in self.columns if c.kind == CATEGORICAL]
        filled = sum(c.indicator for c in numeric)
        how = "quantiles" if self.preprocess == "quantile" else "standardised"
        parts = [f"{len(numeric)} numeric ({how}"]
        parts[0] += f"; {filled} with missing cells: median + indicator)" if filled else ")"
        if text:
            onehot = sum(len(c.categories) + 1 for c in text)
            parts.append(f"{len(text)} text → {onehot} one-hot columns")
        return f"{len(self.columns)} columns: " + ", ".join(parts)

    def to_dict(self) -> dict:
        """Plain data (JSON-ready)."""
        return {
            "preprocess": self.preprocess,
            "columns": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(c).items()}
                for c in self.columns
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        """The inverse of :meth:`to_dict`; a CheckpointError says what is wrong."""
        try:
            cols = tuple(
                Column(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in c.items()})
                for c in d["columns"]
            )
            if d["preprocess"] not in PREPROCESS or any(c.kind not in (NUMERIC, CATEGORICAL)
                                                       for c in cols):  # fmt: skip
                raise ValueError("unknown kind")
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"its preprocessing record is damaged ({err})") from None
        return cls(cols, d["preprocess"])


def _fit_numeric(name: str, v: np.ndarray, quantile: bool) -> Column:
    present = v[~np.isnan(v)]
    median = float(np.median(present)) if present.size else 0.0
    knots, levels = (), ()
    if quantile and present.size:
        q = np.linspace(0.0, 1.0, QUANTILES)
        at = np.quantile(present, q)
        unique, first = np.unique(at, return_index=True)
        # a tie (several knots at one value) maps to the middle of its levels
        last = np.append(first[1:], len(at)) - 1
        knots, levels = tuple(unique.tolist()), tuple(((q[first] + q[last]) / 2).tolist())
    return Column(name, NUMERIC, median, bool(np.isnan(v).any()), knots, levels)


def _fit_categorical(name: str, v: np.ndarray) -> Column:
    labels = np.array([MISSING if x is None else x for x in v], dtype=object)
    values, counts = np.unique(labels.astype(str), return_counts=True)
    kept = tuple(str(x) for x, n in zip(values, counts, strict=True) if n >= RARE or x == MISSING)
    return Column(name, CATEGORICAL, categories=kept)


def _numeric(c: Column, v: np.ndarray) -> list[np.ndarray]:
    missing = np.isnan(v)
    filled = np.where(missing, c.median, v)
    if c.knots:
        filled = np.interp(filled, c.knots, c.levels) if len(c.knots) > 1 else filled * 0 + 0.5
    return [filled] + ([missing.astype(np.float64)] if c.indicator else [])


def _one_hot(c: Column, v: np.ndarray) -> np.ndarray:
    """``(n, len(categories) + 1)``: the level's column, or (other)'s."""
    index = {cat: i for i, cat in enumerate(c.categories)}
    other = len(c.categories)
    codes = np.array([index.get(MISSING if x is None else x, other) for x in v], dtype=np.int64)
    out = np.zeros((len(v), other + 1))
    out[np.arange(len(v)), codes] = 1.0
    return out
