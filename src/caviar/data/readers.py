"""Readers for a user's own files: tables (CSV with a header, Parquet, Feather; read by
pyarrow), NPZ holding ``X`` and ``y``, and IDX (MNIST, Fashion-MNIST). Every problem is a
DataError naming the file, and where it helps the line and column.

``read(path)`` dispatches on what the path is; the ``read_*`` functions read one format.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from caviar.data.dataset import Dataset
from caviar.data.table import NUMERIC, table_from_columns
from caviar.errors import DataError, InvalidArgument, did_you_mean

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES, _LABELS = "-images-idx3-ubyte", "-labels-idx1-ubyte"
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".feather", ".arrow")
_FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".feather": "feather",
            ".arrow": "feather"}  # fmt: skip


def table_format(path: Path) -> str | None:
    """``"csv"``, ``"parquet"`` or ``"feather"`` by the file's suffix, or None."""
    name = path.name.lower()
    return next((f for suffix, f in _FORMATS.items() if name.endswith(suffix)), None)


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(".csv.gz")] if name.lower().endswith(".csv.gz") else path.stem


def read(
    path,
    target: str | None = None,
    categorical=(),
    numeric=(),
    drop=(),
    notices: list[str] | None = None,
) -> Dataset:
    """Read the data set at ``path``: a table (``.csv``, ``.parquet``, ``.feather``/``.arrow``),
    a ``.npz`` file, an IDX folder or an IDX images file (``*-images-idx3-ubyte[.gz]``, its
    labels file beside it).

    For an IDX folder this is the training part; :func:`read_idx` gives training and test.
    For a table, ``target`` names the label column (default: the last), and
    ``categorical``/``numeric``/``drop`` force column kinds (:func:`read_table`).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path")
    table = table_format(path) is not None
    if not table and (target is not None or categorical or numeric or drop):
        raise InvalidArgument(
            f"The 'target', 'categorical', 'numeric' and 'drop' parameters apply to tables "
            f"({', '.join(TABLE_SUFFIXES)} files). Got {path}."
        )
    if path.is_dir():
        return read_idx(path)[0]
    if _is_idx_images(path):
        return read_idx_images(path)
    if table:
        return read_table(path, target, categorical, numeric, drop, notices)
    if path.suffix.lower() == ".npz":
        return read_npz(path)
    raise DataError(
        f"{path}: caviar reads {', '.join(TABLE_SUFFIXES)} and .npz files, IDX folders and "
        f"*{_IMAGES}[.gz] files; the suffix {path.suffix!r} is none of them"
    )


@contextlib.contextmanager
def _about(path: Path):
    """Prefix DataErrors raised inside with the file they concern."""
    try:
        yield
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def read_features(path, feature_names) -> np.ndarray:
    """Features ``X (n, d)`` of unlabelled (or labelled) data for prediction, float64.

    A table's columns are matched by name to ``feature_names`` (the model's; any other
    column, such as a label, is ignored); a table with exactly ``d`` columns of other names
    is taken in order. An ``.npz`` file needs ``X``; an IDX images file gives its pixels.
    (A model trained on a table with text or missing cells reads :func:`read_columns`.)
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path")
    names = list(feature_names)
    if table_format(path) is not None:
        return _table_features(path, names)
    if path.suffix.lower() == ".npz":
        arrays = _npz_arrays(path)
        if "X" not in arrays:
            raise DataError(f"{path} lacks the array 'X'; it holds {sorted(arrays)}")
        return _finite_features(np.asarray(arrays["X"], dtype=np.float64), path)
    if path.is_dir() or _is_idx_images(path):
        return read(path).X.astype(np.float64)
    raise DataError(f"{path}: caviar predicts from table, .npz and IDX files")


def _table_features(path: Path, names: list[str]) -> np.ndarray:
    columns = read_columns(path)
    header = list(columns)
    if all(n in header for n in names):
        chosen = names
    elif len(header) == len(names):
        chosen = header
    else:
        missing = [n for n in names if n not in header][:5]
        raise DataError(
            f"{path}: the model needs the columns {names[:8]}{'...' if len(names) > 8 else ''}; "
            f"{missing} are missing (the header is {header[:8]})"
        )
    return np.stack([_numbers(columns[n], n, path) for n in chosen], axis=1)


def _finite_features(X: np.ndarray, path: Path) -> np.ndarray:
    if X.ndim != 2:
        raise DataError(f"{path}: X must be 2-D (rows, features); it has shape {X.shape}")
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{path}: row {row}, column {col} of X holds {X[row, col]}; remove or impute it"
        )
    big = np.abs(X) > np.finfo(np.float32).max
    if big.any():
        row, col = np.argwhere(big)[0]
        raise DataError(
            f"{path}: row {row}, column {col} of X holds {X[row, col]:g}, beyond the float32 "
            "range caviar computes in; rescale that column or remove the row"
        )
    return X


# --- tables: CSV, Parquet, Feather ------------------------------------------------------


def read_csv(path, target: str | None = None, delimiter: str = ",", **kinds) -> Dataset:
    """A CSV file with a header row (:func:`read_table`, with ``delimiter`` between fields)."""
    return read_table(path, target, delimiter=delimiter, **kinds)


def read_table(
    path,
    target: str | None = None,
    categorical=(),
    numeric=(),
    drop=(),
    notices: list[str] | None = None,
    delimiter: str = ",",
) -> Dataset:
    """A table file: features from every column but ``target`` (default: the last).

    Column kinds are inferred (numbers; text and booleans are categorical) unless forced by
    ``categorical``/``numeric``; ``drop`` leaves columns out; an identifier-like text column
    is dropped with a line added to ``notices``. A table of numbers without missing cells is
    a plain data set; one with text or missing cells keeps its raw rows (``ds.table``) and
    is encoded by :class:`~caviar.data.prep.Preprocessor`, refitted on the training part
    when split. Line numbers in messages count the header as line 1.
    """
    path = Path(path)
    columns = read_columns(path, delimiter)
    header = list(columns)
    t = _target_index(header, target, path)
    name = header[t]
    y = _labels_of(columns.pop(name), name, path)
    table = table_from_columns(columns, str(path), categorical, numeric, drop, notices)
    plain = all(k == NUMERIC for k in table.kinds) and not categorical
    if plain and not any(np.isnan(v).any() for v in table.values):
        pairs = zip(table.columns, table.values, strict=True)
        X = np.stack([_finite(v, c, path) for c, v in pairs], axis=1)
        with _about(path):
            return Dataset.from_arrays(X, y, _stem(path), table.columns, target=name)
    for c, k, v in zip(table.columns, table.kinds, table.values, strict=True):
        if k == NUMERIC:
            _finite(np.nan_to_num(v, nan=0.0), c, path)
    with _about(path):
        return Dataset.from_table(table, y, _stem(path), target=name)


def read_columns(path, delimiter: str = ",") -> dict[str, np.ndarray]:
    """Every column of a table file, ``{name: values}``: float64 (NaN: missing) for numbers,
    object arrays of ``str`` (None: missing) otherwise. CSV is read by pyarrow (types
    inferred; empty cells and NA/NaN/null are missing); Parquet and Feather by pyarrow too."""
    path = Path(path)
    kind = table_format(path)
    if kind == "csv":
        arrow = _arrow_csv(path, delimiter)
    elif kind == "parquet":
        arrow = _arrow_file(path, "parquet", "Parquet")
    else:
        arrow = _arrow_file(path, "feather", "Feather (Arrow IPC)")
    names = [str(n).strip() for n in arrow.column_names]
    if len(set(names)) != len(names):
        dup = sorted({h for h in names if names.count(h) > 1})
        raise DataError(f"{path}: the header repeats the column names {dup}; make them unique")
    if arrow.num_rows == 0:
        raise DataError(f"{path} is empty: it holds a header but no rows")
    return {n: _arrow_values(arrow.column(i)) for i, n in enumerate(names)}


def _arrow():
    try:
        import pyarrow
    except ImportError:
        raise InvalidArgument(
            "Reading tables needs pyarrow, which is not installed; pip install pyarrow"
        ) from None
    return pyarrow


def _arrow_csv(path: Path, delimiter: str):
    _arrow()
    from pyarrow import ArrowInvalid, csv

    bad: list = []

    def invalid(row) -> str:
        bad.append(row)
        return "skip"

    def attempt(threads: bool):
        return csv.read_csv(
            path,
            # 16 MB blocks: a 100 MB file read 1.5x faster than in pyarrow's 1 MB default
            read_options=csv.ReadOptions(use_threads=threads, block_size=1 << 24),
            parse_options=csv.ParseOptions(delimiter=delimiter, invalid_row_handler=invalid),
            convert_options=csv.ConvertOptions(strings_can_be_null=True, auto_dict_encode=True),
        )

    _refuse_non_utf8(path)
    try:
        table = attempt(True)
        if bad:  # again on one thread, which knows each row's line
            bad.clear()
            attempt(False)
            row = bad[0]
            raise DataError(
                f"{path}: line {_line(path, row.number)} has {row.actual_columns} fields but "
                f"the header "
                f"has {row.expected_columns}; every row needs one value per column"
            )
    except ArrowInvalid as err:
        if "Empty CSV file" in str(err):
            raise DataError(f"{path} is empty: it holds no header and no rows") from None
        raise DataError(f"{path} cannot be read as a UTF-8 CSV file: {err}") from None
    except OSError as err:
        raise DataError(f"{path} cannot be read: {err}") from None
    _refuse_other_delimiter(table.column_names, delimiter, path)
    return table


def _refuse_non_utf8(path: Path) -> None:
    """A DataError when the first megabyte of ``path`` is not UTF-8 text."""
    import codecs

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            codecs.getincrementaldecoder("utf-8")().decode(f.read(1 << 20), final=False)
    except UnicodeDecodeError as err:
        raise DataError(f"{path} cannot be read as a UTF-8 CSV file: {err}") from None
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} cannot be read: {err}") from None


def _line(path: Path, number: int) -> int:
    """The file's own line (1-based) of its ``number``-th non-blank line (the header is the
    first): pyarrow counts rows without the blank lines it skips."""
    if table_format(path) != "csv":  # Parquet, Feather: rows, not lines
        return number
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    seen = 0
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as f:
        for line_number, line in enumerate(f, 1):
            seen += bool(line.strip())
            if seen == number:
                return line_number
    return number


def _arrow_file(path: Path, module: str, what: str):
    _arrow()
    import importlib

    from pyarrow import ArrowException

    reader = importlib.import_module(f"pyarrow.{module}")
    try:
        return reader.read_table(path)
    except (ArrowException, OSError, ValueError) as err:
        raise DataError(
            f"{path} is not a {what} file ({err}); check the file, or give it the suffix "
            "of what it is (.csv, .parquet, .feather)"
        ) from None


def _arrow_values(column) -> np.ndarray:
    """One pyarrow column as float64 (NaN: missing) or an object array (None: missing)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_null(kind):
        return np.full(len(column), None, dtype=object)
    if hasattr(column, "unify_dictionaries"):  # a ChunkedArray (a table's column)
        column = column.unify_dictionaries().combine_chunks()
    if pa.types.is_dictionary(kind) and not pa.types.is_string(kind.value_type):
        column, kind = column.cast(kind.value_type), kind.value_type
    if not (pa.types.is_dictionary(kind) or pa.types.is_string(kind)):
        column = column.cast(pa.string())  # booleans, dates, times: their text
    # through a dictionary: one Python string per distinct value, not one per cell (6×
    # faster than to_numpy on a column of few levels, and far less memory)
    encoded = column if pa.types.is_dictionary(kind) else column.dictionary_encode()
    levels = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return levels[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]


def _refuse_other_delimiter(header: list[str], delimiter: str, path: Path) -> None:
    """A one-column header holding ';' (or a tab, or '|') and no ``delimiter``: say so."""
    if len(header) != 1:
        return
    for other in (";", "\t", "|"):
        if other != delimiter and other in header[0]:
            raise DataError(
                f"{path}: the file looks {other!r}-delimited (its header is {header[0]!r}); "
                f"caviar reads {delimiter!r}-delimited CSV: save it with {delimiter!r} between "
                f"fields, or read it with caviar.data.read_csv(path, delimiter={other!r})"
            )


def _target_index(header: list[str], target: str | None, path: Path) -> int:
    if len(header) < 2:
        raise DataError(f"{path}: the header names {header}; a feature and a target are needed")
    if target is None:
        return len(header) - 1
    if target not in header:
        raise DataError(
            f"{path}: no column is called {target!r}{did_you_mean(target, header)}; "
            f"the columns are {header}"
        )
    return header.index(target)


def _numbers(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    """One feature column ``(n,)`` as float64, finite; names the line of a bad cell."""
    if values.dtype.kind != "f":
        i = next((i for i, c in enumerate(values) if c is None or not _is_float(c)), None)
        if i is not None:
            what = "is empty" if values[i] is None else f"holds {str(values[i])!r}"
            raise DataError(
                f"{path}: column {name!r} is not numeric (line {_line(path, i + 2)} {what}); "
                "the model was "
                "trained on numbers there"
            )
        values = values.astype(np.float64)
    return _finite(values, name, path)


def _finite(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{path}: line {_line(path, i + 2)}, column {name!r} holds {values[i]}; remove or "
            "impute it"
        )
    return values


def _is_float(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _labels_of(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    """The target column ``(n,)``: int64 when every label is an integer, else the strings."""
    missing = np.isnan(values) if values.dtype.kind == "f" else np.equal(values, None)
    if missing.any():
        line = _line(path, int(np.argmax(missing)) + 2)
        raise DataError(f"{path}: line {line} has no {name!r} label")
    if values.dtype.kind == "f":
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    return values.astype(str)


# --- NPZ -----------------------------------------------------------------------------------


def read_npz(path) -> Dataset:
    """An ``.npz`` file holding ``X (n, d)`` and ``y (n,)`` (optionally ``feature_names (d,)``).

    Loaded without pickle: an object array is refused.
    """
    path = Path(path)
    arrays = _npz_arrays(path)
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        raise DataError(
            f"{path} lacks the arrays {missing}; it holds {sorted(arrays)}. "
            "Save it with np.savez(path, X=X, y=y)"
        )
    with _about(path):
        return Dataset.from_arrays(
            arrays["X"], arrays["y"], name=path.stem, feature_names=arrays.get("feature_names")
        )


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path} cannot be read as an .npz file: {err}") from None
    if not hasattr(loaded, "files"):
        raise DataError(f"{path} is not an .npz archive but one array; save it with np.savez")
    with loaded as npz:
        return {k: _npz_array(npz, k, path) for k in npz.files}


def _npz_array(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError:
        raise DataError(
            f"{path}: the array {key!r} holds Python objects, which caviar does not unpickle "
            f"(the file holds {sorted(npz.files)}); save numbers, and labels as a str array"
        ) from None


# --- IDX -----------------------------------------------------------------------------------


def read_idx(folder) -> tuple[Dataset, Dataset]:
    """The training and test parts of an IDX folder (MNIST, Fashion-MNIST).

    The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each possibly gzipped (``.gz``).
    Images become ``X (n, rows*cols)`` float32 in [0, 1]; the test part is coded with the
    training part's classes.
    """
    folder = Path(folder)
    found = {b: _idx_file(folder, b) for names in IDX_NAMES.values() for b in names}
    missing = [b for b, f in found.items() if f is None]
    if missing:
        raise DataError(
            f"{folder} is read as an IDX folder but lacks the files {missing} (each may end in .gz)"
        )
    train_files, test_files = ([found[b] for b in IDX_NAMES[p]] for p in ("train", "test"))
    train = _idx_dataset(*train_files, name=f"{folder.name}-train")
    return train, _idx_dataset(*test_files, name=f"{folder.name}-test", classes=train.classes)


def read_idx_images(images, labels=None) -> Dataset:
    """One IDX images file ``*-images-idx3-ubyte[.gz]`` and its labels file (by default the
    ``*-labels-idx1-ubyte[.gz]`` beside it)."""
    images = Path(images)
    if labels is None:
        base = images.name.removesuffix(".gz").replace(_IMAGES, _LABELS)
        labels = _idx_file(images.parent, base)
        if labels is None:
            raise DataError(f"{images}: its labels file {base}[.gz] is not beside it")
    return _idx_dataset(images, Path(labels), name=images.name.split(_IMAGES)[0])


def _is_idx_images(path: Path) -> bool:
    return path.name.removesuffix(".gz").endswith(_IMAGES)


def _idx_file(folder: Path, base: str) -> Path | None:
    for candidate in (folder / base, folder / f"{base}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_dataset(images: Path, labels: Path, name: str, classes=None) -> Dataset:
    pixels, codes = read_idx_array(images), read_idx_array(labels)
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise DataError(f"{images}: expected (n, rows, cols) unsigned bytes, got {pixels.shape}")
    if codes.ndim != 1 or codes.dtype.kind not in "iu" or len(codes) != len(pixels):
        raise DataError(
            f"{labels}: expected {len(pixels)} integer labels for {images.name}, "
            f"got an array of shape {codes.shape}"
        )
    n, rows, cols = pixels.shape
    X = pixels.reshape(n, rows * cols).astype(np.float32)
    X /= 255.0
    names = [f"pixel_{r}_{c}" for r in range(rows) for c in range(cols)]
    with _about(labels):
        return Dataset.from_arrays(X, codes, name=name, feature_names=names, classes=classes)


def read_idx_array(path) -> np.ndarray:
    """The array in one IDX file (gzipped when its name ends in ``.gz``).

    Header: two zero bytes, a dtype code, the number of dimensions, then each dimension as a
    big-endian uint32; the data follow, big-endian.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file: its magic number {data[:4].hex()!r} is wrong")
    ndim, start = data[3], 4 + 4 * data[3]
    if len(data) < start:
        raise DataError(f"{path} is truncated: its header ends after {len(data)} bytes")
    dims = struct.unpack(f">{ndim}I", data[4:start])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = math.prod(dims) * dtype.itemsize
    if len(data) - start != expected:
        state = "truncated" if len(data) - start < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: dimensions {dims} need {expected} bytes of data, "
            f"it holds {len(data) - start}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=start).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} cannot be read: {err}") from None
