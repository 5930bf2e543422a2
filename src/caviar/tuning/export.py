"""Taking a study's results elsewhere: rows of trials, CSV, JSON and a real Optuna study.

A row is one trial: its id, round, number, status, results, each searched hyperparameter as
``params_<name>`` (the name Optuna's ``trials_dataframe()`` uses) and every configuration key
as ``config_<name>``. Files are written to a temporary name beside the target and renamed, so a
refusal or a failure leaves no half-written file.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from caviar._files import usual_mode
from caviar.errors import InvalidArgument
from caviar.tuning.space import SearchSpace
from caviar.tuning.study import Status, Study, Trial

RESULT_KEYS = (
    "id",
    "round",
    "number",
    "status",
    "val_loss",
    "val_accuracy",
    "train_loss",
    "epochs",
    "seconds",
    "diverged_epoch",
    "diverged_step",
    "error",
)


def trial_rows(study: Study) -> list[dict]:
    """One flat dict per trial, in (round, number) order (see the module's docstring)."""
    free = study.searched()
    rows = []
    for t in study.trials():
        row = {k: getattr(t, k) for k in RESULT_KEYS}
        row |= {f"params_{k}": _cell(t.config.get(k)) for k in free}
        row |= {f"config_{k}": _cell(v) for k, v in sorted(t.config.items())}
        rows.append(row)
    return rows


def to_csv(study: Study, path: str | Path) -> Path:
    """Write :func:`trial_rows` as CSV with a header; lists (``hidden``) as ``64,64``."""
    rows = trial_rows(study)
    if not rows:
        raise InvalidArgument(f"{study.path}: the study holds no trials to export.")

    def write(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    return _atomic(path, write)


def to_json(study: Study, path: str | Path) -> Path:
    """Write the whole study as one JSON object: settings, rounds, time, and every trial with
    its configuration and per-epoch metrics."""
    spent = study.time_spent()
    doc = {
        "settings": study.settings(),
        "rounds": [{"round": r, "space": s} for r, s in study.rounds()],
        "seconds": spent.wall,
        "train_seconds": spent.training,
        "worker_seconds": spent.capacity,
        "trials": [t.as_dict() | {"metrics": study.metrics(t.id)} for t in study.trials()],
    }
    text = json.dumps(_finite(doc), indent=1)
    return _atomic(path, lambda f: f.write(text))


def _cell(v):
    return ",".join(str(x) for x in v) if isinstance(v, list | tuple) else v


def _finite(x):
    """JSON without NaN or infinity: such numbers become null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _atomic(path: str | Path, write: Callable) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InvalidArgument(f"{path} is a folder; give a file name to write.")
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".part")
    usual_mode(fd)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


# -- Optuna -------------------------------------------------------------------------------
STATES = {
    Status.FINISHED: "COMPLETE",
    Status.PRUNED: "PRUNED",
    Status.DIVERGED: "FAIL",
    Status.FAILED: "FAIL",
    Status.RUNNING: "RUNNING",
    Status.PENDING: "WAITING",
}


def to_optuna(study: Study, url: str, name: str | None = None) -> Path:
    """Write the study as a new Optuna study (SQLite file of ``url = sqlite:///PATH``).

    One Optuna trial per caviar trial, in order: the searched hyperparameters as ``params``
    with the distribution of the same scale (``log`` → ``FloatDistribution(log=True)``,
    ``log_int`` → ``IntDistribution(log=True)``, ``choice`` → ``CategoricalDistribution``); a
    ``one_minus_log`` β has no Optuna scale, so it goes as ``one_minus_<name>`` = 1 − β on a
    log scale. The value is the validation loss (direction minimize), each epoch's validation
    loss an intermediate value; states map by :data:`STATES` (diverged → FAIL, with the caviar
    status in the user attribute ``status``). The file must not exist yet.
    """
    optuna = _optuna()
    path = _sqlite_path(url)
    space = study.space()
    try:
        target = optuna.create_study(
            storage=url, study_name=name or Path(study.path).stem, direction="minimize"
        )
        target.set_user_attr("caviar_rounds", [s for _, s in study.rounds()])
        target.add_trials([_frozen(optuna, space, t, study.metrics(t.id)) for t in study.trials()])
    except BaseException:
        for leftover in (path, Path(f"{path}-journal")):
            leftover.unlink(missing_ok=True)
        raise
    return path


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InvalidArgument(
            "--optuna needs the optuna package: pip install optuna (or 'caviar-nn[test]')."
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sqlite_path(url: str) -> Path:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise InvalidArgument(
            f"The '--optuna' option takes sqlite:///PATH (a new SQLite file). Got {url!r}."
        )
    path = Path(url[len(prefix) :])
    if path.exists():
        raise InvalidArgument(f"{path} exists; --optuna writes a new file: choose another path.")
    return path


def _frozen(optuna, space: SearchSpace, t: Trial, metrics: list[dict]):
    params, dists = {}, {}
    for dim in space.free:
        key, value, dist = _param(optuna.distributions, dim, t.config[dim.name])
        params[key], dists[key] = value, dist
    state = getattr(optuna.trial.TrialState, STATES[t.status])
    finite = t.val_loss is not None and math.isfinite(t.val_loss)
    steps = {m["epoch"]: m["val_loss"] for m in metrics if _finite(m["val_loss"]) is not None}
    return optuna.trial.create_trial(
        state=state,
        value=t.val_loss if state == optuna.trial.TrialState.COMPLETE and finite else None,
        params=params if state != optuna.trial.TrialState.WAITING else {},
        distributions=dists if state != optuna.trial.TrialState.WAITING else {},
        intermediate_values=steps,
        user_attrs={
            "caviar_id": t.id,
            "round": t.round,
            "status": t.status,
            "val_accuracy": t.val_accuracy,
            "train_loss": t.train_loss,
            "seconds": t.seconds,
            "error": t.error,
            "config": t.config,
        },
    )


def _param(d, dim, value):
    """``(name, value, distribution)`` of one searched value in Optuna's terms."""
    if dim.dist == "one_minus_log":
        low, high = 1 - dim.high, 1 - dim.low
        return (
            f"one_minus_{dim.name}",
            min(max(1 - value, low), high),
            d.FloatDistribution(low, high, log=True),
        )
    if dim.dist in ("uniform", "log"):
        return dim.name, value, d.FloatDistribution(dim.low, dim.high, log=dim.dist == "log")
    if dim.dist in ("int", "log_int"):
        return dim.name, value, d.IntDistribution(dim.low, dim.high, log=dim.dist == "log_int")
    choices = [_choice(c) for c in dim.choices]
    return dim.name, _choice(value), d.CategoricalDistribution(choices)


def _choice(c):
    """Optuna's choices are None, bool, int, float or str: a layer list goes as ``"64,64"``."""
    return _cell(c) if isinstance(c, list | tuple) else c
