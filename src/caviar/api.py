"""``caviar.tune`` and ``caviar.load``: the tuner and saved models from Python.

>>> import caviar
>>> study = caviar.tune("iris", {"lr": {"dist": "log", "low": 1e-3, "high": 0.3}},
...                     trials=4, epochs=2, hidden=(16,))
>>> len(study.trials), str(study.best_trial.status)
(4, 'finished')
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import fields
from pathlib import Path

from caviar.errors import InvalidArgument

_SETTINGS = (
    "rounds",
    "strategy",
    "sampler",
    "seed",
    "halving",
    "min_epochs",
    "pbt",
    "pbt_interval",
    "pbt_fraction",
    "top_fraction",
    "max_population",
    "keep",
    "repeats",
)


def load(path):
    """The model saved at ``path`` (``caviar train --save``, ``caviar study train``, a kept
    model): it has ``predict``, ``predict_proba``, ``evaluate``, ``history``, ``classes``,
    ``feature_names``; or the :class:`~caviar.ensemble.Ensemble` saved there (``caviar study
    ensemble``), which has ``predict``, ``predict_proba``, ``evaluate``, ``models`` and
    ``weights``."""
    from caviar.ensemble import load as load_any

    return load_any(path)


def tune(
    data: str,
    space=None,
    trials: int = 32,
    *,
    study: str | Path | None = None,
    resume: bool = False,
    target: str | None = None,
    categorical=(),
    numeric=(),
    drop_columns=(),
    config=None,
    executor="auto",
    verbose: bool = True,
    ensemble: int | None = None,
    **options,
) -> StudyResults:
    """Run ``caviar tune`` from Python and return the study's results.

    ``data``: a bundled name or a file path, as ``--data``; for a table, ``target``,
    ``categorical``, ``numeric`` and ``drop_columns`` are the command's ``--target``,
    ``--categorical``, ``--numeric`` and ``--drop-columns`` (lists of column names).
    ``space``: a dict like the TOML ``[space]`` table, a TOML path or a
    :class:`~caviar.tuning.SearchSpace` (default: lr, β1, β2). ``study``: the SQLite file
    (default: a new one in a temporary folder, kept as long as the returned object).
    ``config``: a TOML/JSON path or dict of fixed TrainConfig keys.
    ``options``: the command's tune settings (``rounds``, ``strategy``, ``sampler``, ``seed``,
    ``halving``, ``min_epochs``, ``pbt``, ``pbt_interval``, ``pbt_fraction``,
    ``top_fraction``, ``max_population``, ``keep``, ``repeats``) and any TrainConfig field
    (``epochs=3``, ``hidden=(64, 64)``) fixed for every trial. ``executor``: where the
    populations train, ``"auto"`` (worker processes for a large tune, else this process),
    ``"local"``, ``"processes"``, ``"ray"`` or an
    :class:`~caviar.tuning.executors.Executor` (e.g. ``make_executor("ray", address=...)``).
    ``ensemble``: at the end, an ensemble of up to that many picks over the kept models
    (``caviar tune --ensemble``), saved beside the study as ``<study>.ensemble.npz`` and
    returned by ``.ensemble()`` of the result without choosing again.
    ``verbose``: say on standard error what ``caviar tune`` says (the strategy and executor
    chosen and why, each round, the best trial at the end) with its progress bars on a
    terminal or in a notebook; False: silent.
    """
    from caviar.tuning.settings import start
    from caviar.tuning.tuner import Tuner

    keep = None
    if study is None:
        if resume:
            raise InvalidArgument("resume=True needs study=PATH (the study to continue).")
        keep = tempfile.TemporaryDirectory(prefix="caviar-study-")
        study = Path(keep.name) / "study.db"
    columns = {"categorical": categorical, "numeric": numeric, "drop": drop_columns}
    settings = None if resume else _settings(data, target, space, trials, config, options, columns)
    s, settings, ds = start(study, settings, resume)
    with s:
        if not verbose:
            Tuner(s, settings, ds, executor=executor).run()
        else:
            from caviar.tuning.progress import ConsoleReporter

            with ConsoleReporter(settings.trials) as reporter:
                start = time.perf_counter()
                Tuner(s, settings, ds, reporter, executor).run()
                seconds = time.perf_counter() - start
    results = StudyResults(study, _keep=keep)
    if verbose:
        reporter.message(results.summary(seconds))
    if ensemble is not None and results.best_trial is not None:
        made = results.ensemble(ensemble)
        made.save(f"{results.path}.ensemble.npz")
        results._ensemble = made
        if verbose:
            reporter.message(f"ensemble of {len(made.models)} saved to {results.path}.ensemble.npz")
    return results


def _settings(data, target, space, trials, config, options, columns):
    from caviar import sources
    from caviar.config import TrainConfig
    from caviar.tuning import SearchSpace, default_space
    from caviar.tuning.tuner import TuneSettings

    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(options) - known - set(_SETTINGS))
    if unknown:
        raise InvalidArgument(
            f"caviar.tune got unknown option(s) {unknown}; it takes {list(_SETTINGS)} and "
            "TrainConfig's fields."
        )
    if isinstance(config, dict):
        base = TrainConfig.from_dict(config)
    else:
        base = TrainConfig() if config is None else TrainConfig.from_file(config)
    fixed = {k: v for k, v in options.items() if k in known}
    base = TrainConfig.from_dict(base.to_dict() | fixed, source="options of caviar.tune")
    if space is None:
        space = default_space()
    elif isinstance(space, str | Path):
        space = SearchSpace.from_toml(space)
    elif isinstance(space, dict):
        space = SearchSpace.from_dict(space)
    return TuneSettings(
        data=sources.source(data, target, **columns)["data"],
        target=target,
        columns={k: list(v) for k, v in columns.items() if v},
        trials=trials,
        space=space.to_dict(),
        base=base.to_dict(),
        **{k: v for k, v in options.items() if k in _SETTINGS},
    )


class StudyResults:
    """A finished (or stored) study, read from its file: ``trials``, ``best_trial`` (lowest
    validation loss), ``most_accurate_trial``, ``searched`` (the names the tune searched),
    ``best_params`` (the best trial's searched values), ``model(trial_id)`` (the kept or
    retrained model), ``trials_dataframe()`` (pandas) and ``report(path)``."""

    def __init__(self, path: str | Path, _keep=None):
        from caviar.tuning.study import Study

        self.path = Path(path)
        self._keep = _keep  # the temporary folder of a default study lives as long as this
        with Study(self.path, readonly=True) as s:
            self.trials = s.trials()
            self.rounds = s.rounds()
            self.searched = s.searched()
            self.settings = s.settings().get("tune", {})

    @property
    def best_trial(self):
        from caviar.tuning.study import best_trial

        return best_trial(self.trials)

    @property
    def most_accurate_trial(self):
        from caviar.tuning.study import most_accurate

        return most_accurate(self.trials)

    @property
    def best_params(self) -> dict:
        best = self.best_trial
        if best is None:
            return {}
        return {k: best.config[k] for k in self.searched}

    def metrics(self, trial_id: int) -> list[dict]:
        """Trial ``trial_id``'s per-epoch metrics (epoch, train_loss, val_loss, ...)."""
        from caviar.tuning.study import Study

        with Study(self.path, readonly=True) as s:
            return s.metrics(trial_id)

    def model(self, trial_id: int | None = None):
        """Trial ``trial_id``'s :class:`~caviar.model.Model` (default: the best trial's): the
        one the tune kept beside the study (``keep``), else trained again as ``caviar study
        train`` does."""
        from caviar.tuning import retrain
        from caviar.tuning.study import Study

        if trial_id is None:
            if self.best_trial is None:
                raise InvalidArgument(f"{self.path} has no finished trial to make a model of.")
            trial_id = self.best_trial.id
        with Study(self.path, readonly=True) as s:
            trial = retrain.find_trial(s, trial_id)
            return (retrain.kept_model(s, trial) or retrain.retrain(s, trial)).model

    def ensemble(self, size: int | None = None):
        """An :class:`~caviar.ensemble.Ensemble` of up to ``size`` picks (default 8) over the
        kept models, chosen on the validation split (``caviar study ensemble``); its figures,
        beside the best single trial's, are in ``.scores``. Without ``size``, the one
        ``caviar.tune(..., ensemble=M)`` made, when it made one."""
        from caviar.tuning.committee import committee
        from caviar.tuning.study import Study

        if size is None and getattr(self, "_ensemble", None) is not None:
            return self._ensemble
        size = 8 if size is None else size

        with Study(self.path, readonly=True) as s:
            made = committee(s, size)
        made.ensemble.scores = made.scores
        return made.ensemble

    def trials_dataframe(self):
        """One row per trial (as ``caviar study export --csv``); needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("trials_dataframe() needs pandas: pip install pandas.") from None
        from caviar.tuning.export import trial_rows
        from caviar.tuning.study import Study

        with Study(self.path, readonly=True) as s:
            return pd.DataFrame(trial_rows(s))

    def report(self, path: str | Path = "report.html", test: bool = True) -> Path:
        """Write the HTML report of the study (see ``caviar report``)."""
        from caviar.report import write_report

        return write_report(self.path, path, test=test)

    def summary(self, seconds: float) -> str:
        """One line: the trials, the time, and the best trial by validation loss."""
        best = self.best_trial
        line = f"{len(self.trials)} trials in {seconds:.1f} s"
        if best is None:
            return f"{line}; no trial finished with a finite validation loss"
        return (
            f"{line}; best (lowest val_loss): trial {best.id}, val_accuracy "
            f"{best.val_accuracy:.4f}, val_loss {best.val_loss:.4f} ("
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in self.best_params.items()
            )
            + ")"
        )

    def __repr__(self) -> str:
        best = self.best_trial
        what = "no finished trial" if best is None else f"best trial {best.id}"
        return f"StudyResults({str(self.path)!r}: {len(self.trials)} trials, {what})"
