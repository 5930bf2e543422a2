"""Where a command's data comes from: a bundled name or a file, and the split a model used.

A model records its data as ``Model.source = {"data": ..., "target": ...}``: the bundled
name as given, or the file's absolute path, so ``caviar resume`` and ``caviar evaluate``
find it again from any working directory.
"""

from __future__ import annotations

from pathlib import Path

from caviar.config import TrainConfig
from caviar.errors import DataError, InvalidArgument

SPLITS = ("train", "val", "test", "all")


def bundled_names() -> tuple[str, ...]:
    from caviar.data import LOADERS

    return tuple(LOADERS)


KINDS = ("categorical", "numeric", "drop")  # a table's forced column kinds
FLAGS = {"categorical": "--categorical", "numeric": "--numeric", "drop": "--drop-columns"}


def source(spec: str, target: str | None, **kinds) -> dict:
    """The ``{"data", "target"}`` record of ``--data spec --target target``, with the
    ``categorical``/``numeric``/``drop`` column lists of a table when given."""
    forced = {k: list(v) for k, v in kinds.items() if v}
    names = bundled_names()
    if spec in names:
        if forced:
            raise InvalidArgument(
                f"{', '.join(FLAGS[k] for k in forced)} apply to tables (CSV, Parquet, "
                f"Feather files); the bundled data set {spec!r} has its own columns."
            )
        return {"data": spec, "target": target}
    if not Path(spec).exists():
        raise DataError(
            f"{spec!r} is neither a bundled data set ({', '.join(names)}) nor an existing file "
            "or folder."
        )
    return {"data": str(Path(spec).resolve()), "target": target, **forced}


def load(src: dict, notices: list[str] | None = None):
    """The :class:`~caviar.data.Dataset` that ``src`` (from :func:`source`) names; what was
    done to a table's columns (an identifier dropped) is added to ``notices``."""
    from caviar import data

    spec, target = src["data"], src.get("target")
    if spec in data.LOADERS:
        if target is not None:
            raise InvalidArgument(
                f"--target applies to CSV files; the bundled data set {spec!r} has its own labels."
            )
        return data.load(spec)
    kinds = {k: tuple(src.get(k) or ()) for k in KINDS}
    return data.read(spec, target=target, notices=notices, **kinds)


def split(ds, config: TrainConfig):
    """``(train, val, test)`` exactly as training split them: the config's fractions and seed."""
    from caviar.data import train_val_test_split

    return train_val_test_split(
        ds, config.val_fraction, config.test_fraction, config.data_seed, config.preprocess
    )


def part(ds, config: TrainConfig, which: str):
    """One of :data:`SPLITS` of ``ds``: a part of the training split, or every row."""
    if which == "all":
        return ds
    return dict(zip(SPLITS, split(ds, config), strict=False))[which]


def same_data(a: dict, b: dict) -> bool:
    """Whether two source records name the same data (and target column)."""
    keys = ("data", "target", *KINDS)
    return all(a.get(k) == b.get(k) for k in keys)


def refuse_overwrite(out: str | None, flag: str, **inputs: str | None) -> None:
    """Refuse to write ``out`` (given as ``flag``) over one of the command's ``inputs``
    (``name=path``; names are shown as given, underscores as dashes)."""
    if out is None:
        return
    target = _written_path(out, flag)
    for name, path in inputs.items():
        if path is not None and Path(path).exists() and _same_file(target, Path(path)):
            raise InvalidArgument(
                f"{flag} {out} is the {name.replace('_', ' ')} this command reads; "
                "write to another path."
            )


def _written_path(out: str, flag: str) -> Path:
    # a model or checkpoint path gains .npz when it lacks it (caviar.checkpoint.save)
    path = Path(out)
    if flag in ("--save", "--checkpoint") and path.suffix != ".npz":
        path = path.with_suffix(path.suffix + ".npz")
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and a.samefile(b)
    except OSError:
        return False
