"""Offline HTML reports of a study or a model: one self-contained file, plotly charts inlined.

``write_report(source, out)`` looks at ``source``'s first bytes: an SQLite file is a study
(:mod:`caviar.report.study`), an ``.npz`` (zip) is a model (:mod:`caviar.report.model`).
Plotly is an optional dependency (``pip install 'caviar-nn[report]'``).
"""

from __future__ import annotations

from pathlib import Path

from caviar.errors import InvalidArgument


def write_report(source: str | Path, out: str | Path, test: bool = True) -> Path:
    """Write the report of the study or model at ``source`` to ``out``; returns ``out``.

    ``test``: for a study, retrain its two best trials to give their test accuracy.
    """
    kind = file_kind(source)
    if kind == "study":
        from caviar.report.study import study_page

        return study_page(source, test=test).write(out)
    from caviar.model import Model
    from caviar.report.model import model_page

    return model_page(Model.load(source), name=Path(source).name).write(out)


def file_kind(path: str | Path) -> str:
    """``"study"`` (SQLite) or ``"model"`` (a zip: ``.npz``); anything else is refused."""
    path = Path(path)
    if not path.is_file():
        raise InvalidArgument(f"{path}: no such file (a study .db or a model .npz).")
    head = path.open("rb").read(16)
    if head.startswith(b"SQLite format 3"):
        return "study"
    if head.startswith(b"PK"):
        return "model"
    raise InvalidArgument(f"{path} is neither a caviar study (SQLite) nor a model (.npz).")
