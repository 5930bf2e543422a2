"""Raw tables: columns of numbers and of text, with missing cells, as users bring them.

A :class:`Table` is what a CSV, Parquet or Feather file or a pandas DataFrame holds before
anything is learnt from it: each column is numeric (``float64``, NaN where a cell is
missing) or categorical (``object`` array of ``str``, ``None`` where a cell is missing).
Booleans are categorical (``"True"``/``"False"``). :func:`table_from_frame` infers the kinds
(forced ones win) and drops identifier-like text columns; :mod:`caviar.data.prep` learns
the encoding from the training rows of a table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caviar.errors import DataError, did_you_mean

NUMERIC, CATEGORICAL = "numeric", "categorical"
KINDS = (NUMERIC, CATEGORICAL)
# a text column with more distinct values than this share of its rows (and more than
# ID_MIN_DISTINCT of them) names rows rather than groups them: an identifier, dropped
ID_SHARE, ID_MIN_DISTINCT = 0.9, 20


@dataclass(frozen=True, eq=False)
class Table:
    """Columns of one table, in order.

    Attributes:
        columns: the column names.
        kinds: ``"numeric"`` or ``"categorical"`` per column.
        values: per column, ``(n,)`` float64 (NaN: missing) or ``(n,)`` object of ``str``
            (None: missing).
    """

    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    values: tuple[np.ndarray, ...]

    @property
    def n_rows(self) -> int:
        return len(self.values[0]) if self.values else 0

    def __len__(self) -> int:
        return self.n_rows

    def subset(self, rows) -> Table:
        """The rows ``rows`` (indices, a slice or a mask) of every column."""
        return Table(self.columns, self.kinds, tuple(v[rows] for v in self.values))

    def column(self, name: str) -> np.ndarray:
        return self.values[self.columns.index(name)]

    def missing(self) -> dict[str, int]:
        """``{column: number of missing cells}`` for the columns that have any."""
        pairs = zip(self.columns, self.values, strict=True)
        counts = {c: int(_is_missing(v).sum()) for c, v in pairs}
        return {c: n for c, n in counts.items() if n}

    def select(self, columns, kinds, source: str) -> Table:
        """The columns ``columns`` in that order, each read as the given kind (a model's
        inputs): a missing column, or text in a numeric one, is a DataError naming it."""
        absent = [c for c in columns if c not in self.columns]
        if absent:
            raise DataError(
                f"{source}: the model needs the column(s) {absent[:5]}, which the data lacks "
                f"(it has {list(self.columns)[:10]}); add them (empty cells are fine)"
            )
        values = []
        for name, kind in zip(columns, kinds, strict=True):
            v = self.column(name)
            values.append(_as_kind(v, kind, name, source))
        return Table(tuple(columns), tuple(kinds), tuple(values))


def _is_missing(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        return np.isnan(v)
    return np.array([x is None for x in v], dtype=bool)


def _as_kind(v: np.ndarray, kind: str, name: str, source: str) -> np.ndarray:
    if kind == CATEGORICAL:
        return _texts(v)
    if v.dtype.kind == "f":
        return v
    numbers = _numbers(v)
    if numbers is None:
        bad = next(x for x in v if x is not None and _number(x) is None)
        raise DataError(
            f"{source}: column {name!r} is numeric in the model but holds {bad!r}; "
            "give numbers there (an empty cell is a missing value)"
        )
    return numbers


def _number(x) -> float | None:
    if isinstance(x, (bool, np.bool_)):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _numbers(v: np.ndarray) -> np.ndarray | None:
    """``v`` as float64 (None → NaN), or None when a present cell is not a number."""
    out = np.empty(len(v), dtype=np.float64)
    for i, x in enumerate(v):
        if x is None:
            out[i] = np.nan
            continue
        number = _number(x)
        if number is None:
            return None
        out[i] = number
    return out


def _texts(v: np.ndarray) -> np.ndarray:
    """``v`` as an object array of ``str`` with None for missing cells; numbers read as text
    are written without a trailing ``.0`` (``3.0`` → ``"3"``) so a code column stays a code."""
    out = np.empty(len(v), dtype=object)
    for i, x in enumerate(v):
        if x is None or (isinstance(x, float) and np.isnan(x)):
            out[i] = None
        elif isinstance(x, (float, np.floating)) and float(x).is_integer():
            out[i] = str(int(x))
        elif isinstance(x, (bool, np.bool_)):
            out[i] = str(bool(x))
        else:
            out[i] = str(x).strip()
    return out


def frame_columns(frame, source: str) -> dict[str, np.ndarray]:
    """``{name: object or float array}`` of a pandas DataFrame (missing cells as NaN or None);
    duplicate or non-string column names are a DataError."""
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{source}: the column names {dup} repeat; make every name unique")
    out = {}
    for name, col in zip(names, frame.columns, strict=True):
        series = frame[col]
        if series.dtype.kind in "iuf":
            out[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        elif series.dtype.kind == "b":
            out[name] = np.array([str(bool(x)) for x in series], dtype=object)
        else:
            values = series.astype(object).to_numpy()
            out[name] = np.array([None if _missing_cell(x) else x for x in values], dtype=object)
    return out


def _missing_cell(x) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, pandas.NA (raises: not missing), NaT
    except (TypeError, ValueError):
        return False


def as_table(X, names, kinds, source: str = "data") -> Table:
    """The rows ``X`` as a :class:`Table` of the columns ``names`` read as ``kinds``: ``X`` a
    pandas DataFrame, a ``{name: values}`` mapping or a Table (columns found by name, others
    ignored), or a 2-D array with exactly those columns in that order."""
    if isinstance(X, Table):
        return X.select(names, kinds, source)
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # a pandas DataFrame
        columns = frame_columns(X, source)
    elif isinstance(X, dict):
        columns = {str(k): np.asarray(v, dtype=object) for k, v in X.items()}
        columns = {k: np.array([None if _missing_cell(x) else x for x in v], dtype=object)
                   for k, v in columns.items()}  # fmt: skip
    else:
        X = np.asarray(X, dtype=object)
        if X.ndim != 2 or X.shape[1] != len(names):
            raise DataError(
                f"{source}: the model reads the {len(names)} columns {list(names)[:8]}; got an "
                f"array of shape {X.shape} (give a DataFrame, or the columns in that order)"
            )
        columns = {
            n: np.array([None if _missing_cell(x) else x for x in X[:, j]], dtype=object)
            for j, n in enumerate(names)
        }
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise DataError(f"{source}: the columns differ in length ({sorted(lengths)})")
    table = Table(tuple(columns), tuple(CATEGORICAL for _ in columns), tuple(columns.values()))
    return table.select(names, kinds, source)


def numeric_table(ds) -> Table:
    """The columns of a plain (all-numeric) data set ``ds`` as a Table, by their names."""
    X = np.asarray(ds.X, dtype=np.float64)
    return Table(
        tuple(ds.feature_names),
        tuple(NUMERIC for _ in ds.feature_names),
        tuple(np.ascontiguousarray(X[:, j]) for j in range(X.shape[1])),
    )


def infer_kind(v: np.ndarray) -> str:
    """``"numeric"`` for float arrays and text whose every present cell reads as a number;
    ``"categorical"`` otherwise (text, booleans)."""
    if v.dtype.kind == "f":
        return NUMERIC
    return NUMERIC if _numbers(v) is not None and any(x is not None for x in v) else CATEGORICAL


def table_from_columns(
    columns: dict[str, np.ndarray],
    source: str,
    categorical=(),
    numeric=(),
    drop=(),
    notices: list[str] | None = None,
) -> Table:
    """A :class:`Table` of ``columns`` with inferred kinds: ``categorical``/``numeric`` force
    a column's kind, ``drop`` leaves it out; an identifier-like text column (more than
    ``ID_SHARE`` of its rows distinct) is left out with a line in ``notices``."""
    names = list(columns)
    for flag, asked in (
        ("--categorical", categorical),
        ("--numeric", numeric),
        ("--drop-columns", drop),
    ):
        for c in asked:
            if c not in names:
                raise DataError(
                    f"{source}: {flag} names the column {c!r}, which the data lacks"
                    f"{did_you_mean(c, names)}; the columns are {names[:12]}"
                )
    both = sorted(set(categorical) & set(numeric))
    if both:
        raise DataError(f"{source}: {both} is given both --categorical and --numeric; pick one")
    kept, kinds, values = [], [], []
    for name in names:
        if name in drop:
            continue
        v = columns[name]
        kind = CATEGORICAL if name in categorical else NUMERIC if name in numeric else infer_kind(v)
        if kind == NUMERIC and name in numeric and v.dtype.kind != "f":
            if _numbers(v) is None:
                bad = next(x for x in v if x is not None and _number(x) is None)
                raise DataError(
                    f"{source}: column {name!r} is given as --numeric but holds {bad!r}; "
                    "drop it from --numeric (it is read as categories), or clean that column"
                )
        if kind == NUMERIC:
            v = _as_kind(v, NUMERIC, name, source)
        else:
            v = _texts(v)
            if name not in categorical and _identifier_like(v):
                if notices is not None:
                    distinct = len({x for x in v if x is not None})
                    notices.append(
                        f"column {name!r} dropped: {distinct} distinct values in {len(v)} rows "
                        "look like an identifier (--categorical to keep it)"
                    )
                continue
        kept.append(name)
        kinds.append(kind)
        values.append(v)
    if not kept:
        raise DataError(
            f"{source}: no feature column is left ({', '.join(names) or 'none'} dropped or "
            "the target); keep at least one (see --drop-columns and --categorical)"
        )
    return Table(tuple(kept), tuple(kinds), tuple(values))


def _identifier_like(v: np.ndarray) -> bool:
    present = [x for x in v if x is not None]
    distinct = len(set(present))
    return distinct > ID_MIN_DISTINCT and distinct > ID_SHARE * len(v)
