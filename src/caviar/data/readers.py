"""Readers for a user's own files: CSV with a header, NPZ holding ``X`` and ``y``, and IDX
(MNIST, Fashion-MNIST). Every problem is a DataError naming the file, and where it helps the
line and column.

``read(path)`` dispatches on what the path is; the ``read_*`` functions read one format.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from caviar.data.dataset import Dataset
from caviar.errors import DataError, InvalidArgument, did_you_mean

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES, _LABELS = "-images-idx3-ubyte", "-labels-idx1-ubyte"
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read(path, target: str | None = None) -> Dataset:
    """Read the data set at ``path``: a ``.csv`` file, a ``.npz`` file, an IDX folder or an
    IDX images file (``*-images-idx3-ubyte[.gz]``, its labels file beside it).

    For an IDX folder this is the training part; :func:`read_idx` gives training and test.
    ``target`` names the label column of a CSV file (default: the last column).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path")
    if target is not None and path.suffix.lower() != ".csv":
        raise InvalidArgument(f"The 'target' parameter applies to CSV files only. Got {path}.")
    if path.is_dir():
        return read_idx(path)[0]
    if _is_idx_images(path):
        return read_idx_images(path)
    if path.suffix.lower() == ".csv":
        return read_csv(path, target)
    if path.suffix.lower() == ".npz":
        return read_npz(path)
    raise DataError(
        f"{path}: caviar reads .csv files, .npz files, IDX folders and *{_IMAGES}[.gz] files; "
        f"the suffix {path.suffix!r} is none of them"
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

    A CSV file's columns are matched by name to ``feature_names`` (the model's; any other
    column, such as a label, is ignored); a file with exactly ``d`` columns of other names is
    taken in order. An ``.npz`` file needs ``X``; an IDX images file gives its pixels.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; check the path")
    names = list(feature_names)
    if path.suffix.lower() == ".csv":
        return _csv_features(path, names)
    if path.suffix.lower() == ".npz":
        arrays = _npz_arrays(path)
        if "X" not in arrays:
            raise DataError(f"{path} lacks the array 'X'; it holds {sorted(arrays)}")
        return _finite_features(np.asarray(arrays["X"], dtype=np.float64), path)
    if path.is_dir() or _is_idx_images(path):
        return read(path).X.astype(np.float64)
    raise DataError(f"{path}: caviar predicts from .csv, .npz and IDX files")


def _csv_features(path: Path, names: list[str]) -> np.ndarray:
    header, rows, lines = _csv_rows(path, ",")
    cells = np.char.strip(np.array(rows, dtype=str))
    if all(n in header for n in names):
        columns = [header.index(n) for n in names]
    elif len(header) == len(names):
        columns = list(range(len(names)))
    else:
        missing = [n for n in names if n not in header][:5]
        raise DataError(
            f"{path}: the model needs the columns {names[:8]}{'...' if len(names) > 8 else ''}; "
            f"{missing} are missing (the header is {header[:8]})"
        )
    return np.stack([_csv_numbers(cells[:, j], header[j], lines, path) for j in columns], axis=1)


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


# --- CSV -----------------------------------------------------------------------------------


def read_csv(path, target: str | None = None, delimiter: str = ",") -> Dataset:
    """A CSV file with a header row: features ``X (n, d)`` from every column but ``target``.

    Blank lines are skipped; line numbers in messages are the file's own (1-based).
    """
    path = Path(path)
    header, rows, lines = _csv_rows(path, delimiter)
    t = _target_index(header, target, path)
    cells = np.char.strip(np.array(rows, dtype=str))
    features = [j for j in range(len(header)) if j != t]
    X = np.stack([_csv_numbers(cells[:, j], header[j], lines, path) for j in features], axis=1)
    y = _csv_labels(cells[:, t], header[t], lines, path)
    names = [header[j] for j in features]
    with _about(path):
        return Dataset.from_arrays(X, y, name=path.stem, feature_names=names, target=header[t])


def _csv_rows(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the data rows and their line numbers; blank lines are skipped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = next(reader, None)
            rows, lines = _data_rows(reader, len(header or ()), path)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path} cannot be read as a UTF-8 CSV file: {err}") from None
    if header is None:
        raise DataError(f"{path} is empty: it holds no header and no rows")
    _refuse_other_delimiter(header, delimiter, path)
    if not rows:
        raise DataError(f"{path} is empty: it holds a header but no rows")
    return [h.strip() for h in header], rows, lines


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


def _data_rows(reader, width: int, path: Path) -> tuple[list[list[str]], list[int]]:
    rows, lines = [], []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            raise DataError(
                f"{path}: line {reader.line_num} has {len(row)} fields but the header "
                f"has {width}; every row needs one value per column"
            )
        rows.append(row)
        lines.append(reader.line_num)
    return rows, lines


def _target_index(header: list[str], target: str | None, path: Path) -> int:
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: the header repeats the column names {dup}; make them unique")
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


def _csv_numbers(column: np.ndarray, name: str, lines: list[int], path: Path) -> np.ndarray:
    """One feature column ``(n,)`` as float64; names the line of a non-number or non-finite."""
    try:
        values = column.astype(np.float64)
    except ValueError:
        i = next(i for i, c in enumerate(column) if not _is_float(c))
        what = "is empty" if not column[i] else f"holds {str(column[i])!r}"
        raise DataError(
            f"{path}: column {name!r} is not numeric (line {lines[i]} {what}); "
            "encode it as numbers, impute or drop it"
        ) from None
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{path}: line {lines[i]}, column {name!r} holds {column[i]!s}; remove or impute it"
        )
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_labels(column: np.ndarray, name: str, lines: list[int], path: Path) -> np.ndarray:
    """The target column ``(n,)``: int64 when every label is an integer, else the strings."""
    empty = column == ""
    if empty.any():
        raise DataError(f"{path}: line {lines[int(np.argmax(empty))]} has no {name!r} label")
    try:
        return column.astype(np.int64)
    except ValueError:
        return column


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
