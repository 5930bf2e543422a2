"""A study: one SQLite file holding a tune's settings, rounds, trials and per-epoch metrics.

The file is the single source of truth (standard-library ``sqlite3``, WAL mode). A round's
trials are written as ``pending`` when the round is sampled; each trial is finished in one
transaction (its status, results and every epoch's metrics together), so a run killed at any
moment loses only unfinished trials, which ``reset_unfinished`` returns to ``pending``.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from caviar.tuning.space import SearchSpace
from caviar.tuning.study_file import (
    APPLICATION_ID,
    SCHEMA,
    StudyError,
    Transaction,
    add_columns,
    check_folder,
    check_is_study,
    columns,
    connect,
    sidecar,
    study_error,
)


class Status(str, Enum):
    """A trial's status. ``pending`` (sampled, not started) and ``running`` are open; the
    others are final, and a final trial is never written again."""

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    DIVERGED = "diverged"
    PRUNED = "pruned"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self not in (Status.PENDING, Status.RUNNING)


FINAL = tuple(s.value for s in Status if s.is_final)


def rank_key(trial: Trial) -> tuple:
    """The ranking of trials: lowest validation loss, ties to the earliest sampled."""
    return (trial.val_loss, trial.round, trial.number)


def accuracy_key(trial: Trial) -> tuple:
    """The second ranking, shown beside the first: highest validation accuracy, ties to the
    lower validation loss, then the earlier trial (a key to maximise)."""
    loss = trial.val_loss if trial.val_loss is not None else math.inf
    return (trial.val_accuracy, -(loss if math.isfinite(loss) else math.inf), -trial.id)


def best_trial(trials: list[Trial]) -> Trial | None:
    """The finished trial ranked first by :func:`rank_key` (lowest validation loss, ties to
    the earliest)."""
    done = [t for t in trials if t.status == Status.FINISHED and t.val_loss is not None]
    return min(done, key=rank_key) if done else None


def most_accurate(trials: list[Trial]) -> Trial | None:
    """The finished trial ranked first by :func:`accuracy_key` (highest validation
    accuracy)."""
    done = [t for t in trials if t.status == Status.FINISHED and t.val_accuracy is not None]
    return max(done, key=accuracy_key) if done else None


@dataclass
class Trial:
    """One row of ``trials``; ``config`` is the full training configuration (a dict)."""

    id: int
    round: int
    number: int
    config: dict
    status: str
    train_loss: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    epochs: int | None = None
    diverged_epoch: int | None = None
    diverged_step: int | None = None
    seconds: float | None = None
    error: str | None = None
    # with --repeats: each seed's {"seed", "val_loss", "val_accuracy", "train_loss"}; the
    # trial's figures above are their means
    seeds: list | None = None

    def __post_init__(self):
        self.status = Status(self.status)

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["status"] = self.status.value
        return d


class Study:
    """Open (or create) the study at ``path``. Use as a context manager or call ``close``.

    ``readonly=True`` only reads (``study show``): it writes nothing, and works in a folder
    that cannot be written. Problems with the file or its folder are one-line StudyErrors
    (:func:`study_error`)."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self._on_close: list = []  # called before the connection closes (the driver claim)
        check_folder(self.path, readonly)
        # a reader of a WAL study makes its -wal and -shm files when there are none; SQLite
        # leaves them behind when the file turns out damaged: those are removed again
        self._sidecars = (
            [p for p in (sidecar(self.path, "-wal"), sidecar(self.path, "-shm")) if not p.exists()]
            if readonly
            else []
        )
        try:
            self.db = connect(self.path, readonly)
            fresh = check_is_study(self.db, self.path)
            if readonly:
                if fresh:
                    self.db.close()
                    raise StudyError(f"{self.path}: an empty database, not a caviar study.")
                return
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # one transaction: a second opener at the same moment sees no table or all of
            # them with the mark, never a half-made study it would call foreign
            mark = f"PRAGMA application_id = {APPLICATION_ID};" if fresh else ""
            self.db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} {mark} COMMIT;")
            add_columns(self.db)
        except sqlite3.Error as e:
            if hasattr(self, "db"):
                self.db.close()
            self._remove_sidecars(e)
            raise study_error(self.path, e) from None

    def __enter__(self) -> Study:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        self._remove_sidecars(exc)

    def _remove_sidecars(self, err: BaseException | None) -> None:
        """After a read that found the file damaged (not merely busy), remove the -wal and
        -shm files this reader made. Never for a healthy study: a tune that opens it in
        the meantime would lose its write-ahead index."""
        damaged = isinstance(err, sqlite3.DatabaseError) and not isinstance(
            err, sqlite3.OperationalError
        )
        if damaged:
            for p in self._sidecars:
                p.unlink(missing_ok=True)

    def close(self) -> None:
        while self._on_close:
            self._on_close.pop()()
        self.db.close()

    def _tx(self):
        return Transaction(self.db)

    # -- settings ------------------------------------------------------------------------
    def settings(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM settings")}

    def save_settings(self, settings: dict) -> None:
        with self._tx():
            for k, v in settings.items():
                self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (k, json.dumps(v)))

    # -- rounds and trials ---------------------------------------------------------------
    def add_round(self, round: int, space: dict, configs: list[dict]) -> None:
        """Store round ``round``'s space and its trials (``pending``) in one transaction."""
        with self._tx():
            self.db.execute(
                "INSERT INTO rounds VALUES (?, ?, ?)", (round, json.dumps(space), time.time())
            )
            self.db.executemany(
                "INSERT INTO trials (round, number, config) VALUES (?, ?, ?)",
                [(round, i, json.dumps(c, sort_keys=True)) for i, c in enumerate(configs)],
            )

    def rounds(self) -> list[tuple[int, dict]]:
        rows = self.db.execute("SELECT round, space FROM rounds ORDER BY round")
        return [(r, json.loads(s)) for r, s in rows]

    def trials(
        self,
        round: int | None = None,
        status: tuple[str, ...] | None = None,
        id: int | None = None,
    ) -> list[Trial]:
        """Trials in (round, number) order, optionally of one round, statuses or id."""
        sql, args = "SELECT * FROM trials", []
        where = []
        if id is not None:
            where.append("id = ?")
            args.append(id)
        if round is not None:
            where.append("round = ?")
            args.append(round)
        if status is not None:
            where.append(f"status IN ({','.join('?' * len(status))})")
            args.extend(str(s) for s in status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY round, number", args).fetchall()
        names = [d[0] for d in self.db.execute("SELECT * FROM trials LIMIT 0").description]
        out = []
        for row in rows:
            d = dict(zip(names, row, strict=True))
            d.pop("finished")
            d["config"] = json.loads(d["config"])
            d["seeds"] = json.loads(d["seeds"]) if d.get("seeds") else None
            out.append(Trial(**d))
        return out

    def add_lineage(self, events: list) -> None:
        """Record exploits of population-based training (:class:`caviar.tuning.pbt.Event`);
        one of a member and epoch already recorded (a resumed tune replaying) is replaced."""
        with self._tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO lineage VALUES (?, ?, ?, ?, ?)",
                [
                    (e.trial, e.epoch, e.parent, json.dumps(e.before), json.dumps(e.after))
                    for e in events
                ],
            )

    def lineage(self) -> dict[int, list]:
        """Every trial's exploits (:class:`caviar.tuning.pbt.Event`), in epoch order: ``{trial:
        [event, ...]}``; empty for a tune without ``--pbt`` (or a study older than it)."""
        from caviar.tuning.pbt import Event

        try:
            rows = self.db.execute(
                "SELECT trial, epoch, parent, before, after FROM lineage ORDER BY trial, epoch"
            ).fetchall()
        except sqlite3.OperationalError:  # a study written before the table existed
            return {}
        out: dict[int, list] = {}
        for trial, epoch, parent, before, after in rows:
            out.setdefault(trial, []).append(
                Event(trial, epoch, parent, json.loads(before), json.loads(after))
            )
        return out

    def count(self, status: tuple[str, ...]) -> int:
        """How many trials have one of the ``status`` values."""
        marks = ",".join("?" * len(status))
        sql = f"SELECT COUNT(*) FROM trials WHERE status IN ({marks})"
        return self.db.execute(sql, [str(s) for s in status]).fetchone()[0]

    def counts(self) -> dict[Status, int]:
        """The number of trials in every status (zeros included), in :class:`Status` order."""
        rows = dict(self.db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status"))
        return {s: rows.get(s.value, 0) for s in Status}

    def best(self, n: int = 1) -> list[Trial]:
        """The ``n`` best finished trials by :func:`rank_key` (lowest validation loss)."""
        done = [t for t in self.trials(status=(Status.FINISHED,)) if t.val_loss is not None]
        return sorted(done, key=rank_key)[:n]

    def most_accurate(self) -> Trial | None:
        """The finished trial with the highest validation accuracy (:func:`accuracy_key`)."""
        return most_accurate(self.trials(status=(Status.FINISHED,)))

    def space(self) -> SearchSpace:
        """The first round's space (every later round lies inside it); empty for a new
        study."""
        rounds = self.rounds()
        return SearchSpace.from_dict(rounds[0][1] if rounds else {})

    def searched(self) -> tuple[str, ...]:
        """The names the tune searched (its space's free dimensions), in the space's order."""
        return tuple(dim.name for dim in self.space().free)

    def reset_unfinished(self) -> int:
        """Return every trial not in a final state to ``pending``; the number reset."""
        marks = ",".join("?" * len(FINAL))
        with self._tx():
            cur = self.db.execute(
                f"UPDATE trials SET status = 'pending' WHERE status NOT IN ({marks})", FINAL
            )
            return cur.rowcount

    def mark_running(self, ids: list[int]) -> None:
        with self._tx():
            self.db.executemany(
                "UPDATE trials SET status = 'running' WHERE id = ?", [(i,) for i in ids]
            )

    def finish(
        self,
        trial_id: int,
        status: str,
        result: dict,
        metrics: list[dict],
        config: dict | None = None,
    ) -> None:
        """Record a finished trial and its per-epoch ``metrics`` in one transaction, with
        its ``config`` when training settled part of it (the order offset of a trial that
        asynchronous halving started on a recycled row)."""
        if str(status) not in FINAL:
            raise StudyError(f"A trial finishes as one of {FINAL}. Got {status!r} instead.")
        with self._tx():
            row = self.db.execute("SELECT status FROM trials WHERE id = ?", (trial_id,)).fetchone()
            if row is None:
                raise StudyError(f"{self.path}: no trial {trial_id} in this study.")
            if Status(row[0]).is_final:
                raise StudyError(
                    f"{self.path}: trial {trial_id} is already {row[0]}; a finished trial is "
                    "never written again."
                )
            self.db.execute(
                "UPDATE trials SET status = ?, train_loss = ?, val_loss = ?, val_accuracy = ?, "
                "epochs = ?, diverged_epoch = ?, diverged_step = ?, seconds = ?, finished = ?, "
                "error = ?, seeds = ? WHERE id = ?",
                (
                    str(status),
                    result.get("train_loss"),
                    result.get("val_loss"),
                    result.get("val_accuracy"),
                    result.get("epochs"),
                    result.get("diverged_epoch"),
                    result.get("diverged_step"),
                    result.get("seconds"),
                    time.time(),
                    result.get("error"),
                    json.dumps(result["seeds"]) if result.get("seeds") else None,
                    trial_id,
                ),
            )
            if config is not None:
                self.db.execute(
                    "UPDATE trials SET config = ? WHERE id = ?",
                    (json.dumps(config, sort_keys=True), trial_id),
                )
            self.db.execute("DELETE FROM metrics WHERE trial = ?", (trial_id,))
            self.db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        trial_id,
                        e,
                        m.get("train_loss"),
                        m.get("val_loss"),
                        m.get("val_accuracy"),
                        m.get("lr"),
                    )
                    for e, m in enumerate(metrics)
                ],
            )

    def metrics(self, trial_id: int) -> list[dict]:
        rows = self.db.execute(
            "SELECT epoch, train_loss, val_loss, val_accuracy, lr FROM metrics "
            "WHERE trial = ? ORDER BY epoch",
            (trial_id,),
        )
        return [
            dict(zip(("epoch", "train_loss", "val_loss", "val_accuracy", "lr"), r, strict=True))
            for r in rows
        ]

    # -- time accounting -----------------------------------------------------------------
    def start_session(self) -> int:
        with self._tx():
            return self.db.execute(
                "INSERT INTO sessions (started) VALUES (?)", (time.time(),)
            ).lastrowid

    def end_session(
        self, session: int, seconds: float, train_seconds: float, slots: int = 1
    ) -> None:
        """Session ``session`` took ``seconds`` of wall time, in which ``slots`` populations
        could train at once (the executor's workers) for ``train_seconds`` in all."""
        with self._tx():
            self.db.execute(
                "UPDATE sessions SET seconds = ?, train_seconds = ?, slots = ? WHERE id = ?",
                (seconds, train_seconds, slots, session),
            )

    def time_spent(self) -> TimeSpent:
        """The wall time, training time and worker capacity of every session that ended."""
        has_slots = "slots" in columns(self.db, "sessions")
        capacity = "seconds * COALESCE(slots, 1)" if has_slots else "seconds"
        row = self.db.execute(
            "SELECT COALESCE(SUM(seconds), 0), COALESCE(SUM(train_seconds), 0), "
            f"COALESCE(SUM({capacity}), 0) FROM sessions WHERE seconds IS NOT NULL"
        ).fetchone()
        return TimeSpent(*(float(v) for v in row))


@dataclass(frozen=True)
class TimeSpent:
    """Where a study's time went, in seconds.

    ``training`` is summed over the populations, wherever they trained: with several workers
    at once it is worker time and may exceed ``wall``. ``capacity`` is the wall time times
    the workers each session had (``wall`` for one), so ``training / capacity`` is the share
    of the workers' time spent training, and ``capacity - training`` the workers' time spent
    otherwise: waiting for the tuner (sampling, grouping, data, storage) or idle.
    """

    wall: float
    training: float
    capacity: float

    @property
    def workers(self) -> float:
        """The workers on average over the wall time (1 for the local executor)."""
        return self.capacity / self.wall if self.wall > 0 else 1.0

    @property
    def other(self) -> float:
        """Worker seconds not spent training (never below 0)."""
        return max(self.capacity - self.training, 0.0)

    def share(self, seconds: float) -> float:
        """``seconds`` as a share of the workers' capacity."""
        return seconds / self.capacity if self.capacity > 0 else 0.0

    def sentence(self, digits: int = 1) -> str:
        """One line: the wall time, then training and the rest as shares of the workers'."""
        f = f".{digits}f"
        if round(self.workers, 2) == 1:
            where = f"{self.wall:{f}} s"
        else:
            where = (
                f"{self.wall:{f}} s of wall time on {self.workers:.3g} workers "
                f"({self.capacity:{f}} worker-seconds)"
            )
        return (
            f"{where}: {self.training:{f}} s training ({100 * self.share(self.training):.0f} %), "
            f"{self.other:{f}} s the tuner's own work and idle workers "
            f"({100 * self.share(self.other):.0f} %)"
        )


# "CAVI" in ASCII: SQLite's header field for the program that owns a file (PRAGMA application_id)
