"""What a tune is (:class:`TuneSettings`), stored in its study so that ``--resume`` needs
nothing else, and how a tune starts or resumes (:func:`start`): the one sequence that
``caviar tune`` and :func:`caviar.tune` both call."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from caviar import sources
from caviar._validate import COUNT, NON_NEGATIVE_INT, SHARE, Interval, OneOf
from caviar.config import TrainConfig
from caviar.data import Dataset
from caviar.errors import InvalidArgument
from caviar.tuning import STRATEGIES
from caviar.tuning.guided import GUIDED
from caviar.tuning.samplers import SAMPLERS
from caviar.tuning.space import SearchSpace
from caviar.tuning.study import Study, StudyError, study_error


def _s(default=MISSING, rule=None):
    """A tune setting: its default and its rule (checked by :meth:`TuneSettings.check`, and
    the command line's option type, as TrainConfig's fields)."""
    return field(default=default, metadata={"rule": rule})


@dataclass
class TuneSettings:
    """What a tune is; stored in the study, so ``--resume`` needs nothing else. A setting
    that is None (``halving``, ``max_population``) is off."""

    data: str
    trials: int = _s(rule=COUNT)
    space: dict = _s()
    target: str | None = None
    # a table's forced column kinds: {"categorical": [...], "numeric": [...], "drop": [...]}
    columns: dict = field(default_factory=dict)
    base: dict = field(default_factory=dict)
    rounds: int = _s(1, COUNT)  # and at most trials
    strategy: str = _s("auto", OneOf(STRATEGIES))
    sampler: str = _s("random", OneOf((*SAMPLERS, *GUIDED)))
    seed: int = _s(0, NON_NEGATIVE_INT)
    halving: float | None = _s(None, Interval(1, None, low_open=True))
    min_epochs: int = _s(1, COUNT)  # halving's first rung
    top_fraction: float = _s(0.25, SHARE)
    max_population: int | None = _s(None, COUNT)
    keep: int = _s(8, NON_NEGATIVE_INT)  # the best trials' models kept beside the study
    repeats: int = _s(1, COUNT)  # seeds per configuration, as rows of one population
    pbt: bool = False  # population-based training (caviar.tuning.pbt)
    pbt_interval: int | None = _s(None, COUNT)  # epochs between exploits (None: epochs // 5)
    pbt_fraction: float | None = _s(None, Interval(0, 0.5, low_open=True))  # None: 0.25

    def check(self) -> TuneSettings:
        for f in fields(self):
            rule, value = f.metadata.get("rule"), getattr(self, f.name)
            if rule is not None and value is not None and not rule.contains(value):
                raise InvalidArgument(
                    f"The '{f.name}' parameter must be {rule.describe()}. Got {value!r} instead."
                )
        if self.sampler in GUIDED:  # Optuna (and what the sampler needs) before any write
            from caviar.tuning.guided import available

            available(self.sampler)
        if self.repeats > 1 and (self.halving or self.strategy == "panda"):
            raise InvalidArgument(
                "--repeats trains a configuration's seeds as rows of one population: it works "
                "with --strategy caviar (or auto) and without --halving."
            )
        self._check_pbt()
        if self.rounds > self.trials:
            raise InvalidArgument(
                f"The 'rounds' parameter must be in [1, trials = {self.trials}]. Got {self.rounds}."
            )
        SearchSpace.from_dict(self.space)
        if not TrainConfig.from_dict(self.base, "base configuration").val_fraction > 0:
            raise InvalidArgument(
                "A tune ranks trials on validation data: the 'val_fraction' parameter must be > 0."
            )
        return self

    def _check_pbt(self) -> None:
        """Refuse PBT's options without ``pbt``, and ``pbt`` with what it cannot be combined
        with or a space it cannot explore."""
        if not self.pbt:
            given = [o for o in ("pbt_interval", "pbt_fraction") if getattr(self, o) is not None]
            if given:
                flag = "--" + given[0].replace("_", "-")
                raise InvalidArgument(f"{flag} sets population-based training: add --pbt.")
            return
        clash = [
            flag
            for flag, on in (
                ("--halving", self.halving),
                ("--repeats", self.repeats > 1),
                ("--strategy panda", self.strategy == "panda"),
            )
            if on
        ]
        if clash:
            raise InvalidArgument(
                f"--pbt trains a population that copies its own rows; it does not combine with "
                f"{' or '.join(clash)}: drop one of them."
            )
        from caviar.tuning.pbt import check_space

        check_space(SearchSpace.from_dict(self.space))

    def source(self) -> dict:
        """The data record :func:`caviar.sources.load` reads."""
        return {"data": self.data, "target": self.target, **self.columns}

    @staticmethod
    def rule(name: str):
        """The rule of setting ``name`` (an Interval, a OneOf or None)."""
        return {f.name: f.metadata.get("rule") for f in fields(TuneSettings)}[name]

    def round_sizes(self) -> list[int]:
        """The trial budget split over the rounds, the first rounds taking the remainder."""
        q, r = divmod(self.trials, self.rounds)
        return [q + (i < r) for i in range(self.rounds)]


def start(
    path: str | Path, settings: TuneSettings | None, resume: bool
) -> tuple[Study, TuneSettings, Dataset]:
    """The study, settings and data of a tune to start (``settings`` given) or resume
    (``settings`` None: read from the study). A new tune's data is read before its study is
    written, so a bad data file leaves no study behind; a resumed tune's data is read from
    its stored settings, and the study is closed again if that fails."""
    if not resume:
        ds = sources.load(settings.source())
        study, settings = open_study(path, settings, resume=False)
        return study, settings, ds
    study, settings = open_study(path, None, resume=True)
    try:
        ds = sources.load(settings.source())
    except BaseException:
        study.close()
        raise
    return study, settings, ds


def open_study(
    path: str | Path, settings: TuneSettings | None, resume: bool
) -> tuple[Study, TuneSettings]:
    """Open a study to start (``settings`` given, study empty) or resume (settings stored),
    with this process's driver claim on it (:mod:`caviar.tuning.claim`), released when the
    study closes. Nothing is written before the settings are checked, resuming never
    creates a file, and a study this call created is removed again if it fails."""
    from caviar.tuning.claim import Claim

    path = Path(path)
    if resume and not path.is_file():
        raise StudyError(f"{path}: no such study file; start a tune without --resume.")
    if settings is not None:
        settings.check()
    created = not path.exists()
    try:
        study = Study(path)
    except StudyError as err:
        if created and "is full" in str(err):
            _remove(path)  # half made on a full disk (where a second starter fails too)
        raise
    try:
        claim = Claim.acquire(study)
    except BaseException as err:
        study.close()  # another driver's study (even one it just created): leave it be
        if isinstance(err, sqlite3.Error):
            raise study_error(path, err) from None
        raise
    study.claim = claim
    study._on_close.append(claim.release)
    try:
        try:
            return study, _settings(study, path, settings, resume)
        except sqlite3.Error as err:
            raise study_error(path, err) from None
    except BaseException:
        # we hold the claim, so no other run writes it now: remove it if we made it and it
        # holds no tune (a study another starter made a moment before us holds one)
        empty = created and not resume and not _holds_a_tune(study)
        study.close()
        if empty:
            _remove(path)
        raise


def _settings(study: Study, path: Path, settings: TuneSettings | None, resume: bool):
    stored = study.settings()
    _refuse_contents(path, stored, resume)
    if resume:
        return TuneSettings(**stored["tune"])
    study.save_settings({"tune": asdict(settings)})
    return settings


def _refuse_contents(path: Path, stored: dict, resume: bool) -> None:
    """A StudyError when a study's stored settings do not fit starting (none) or resuming."""
    if resume and not stored:
        raise StudyError(f"{path}: no tune to resume in this study; start one without --resume.")
    if not resume and stored:
        raise StudyError(
            f"{path}: this study already holds a tune; add --resume to continue it, or choose "
            "another --study path."
        )


def check_study(path: str | Path, resume: bool) -> None:
    """Refuse, reading only, a study that :func:`open_study` would refuse for what it holds
    (a missing file to resume, a tune to start over, a file that is no study), so that a
    command can say so before it starts workers or joins a cluster (seconds, for Ray)."""
    path = Path(path)
    if resume and not path.is_file():
        raise StudyError(f"{path}: no such study file; start a tune without --resume.")
    if not path.is_file() or path.stat().st_size == 0:
        return  # a new study
    try:
        with Study(path, readonly=True) as study:
            stored = study.settings()
    except sqlite3.Error as err:
        raise study_error(path, err) from None
    if resume and not stored:
        # a driver that has just claimed the study may not have written its settings yet:
        # open_study, which asks for the claim first, says who is tuning it (or, unclaimed,
        # that there is no tune to resume)
        return
    _refuse_contents(path, stored, resume)


def _holds_a_tune(study: Study) -> bool:
    try:
        return bool(study.settings())
    except sqlite3.Error:
        return True  # unreadable: not ours to judge


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):  # a read-only folder holds nothing of ours
            path.with_name(path.name + suffix).unlink(missing_ok=True)
