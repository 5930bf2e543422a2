"""The SQLite file of a study: its schema, how it is opened (read-only, or for writing with
its columns brought up to date), the mark that tells caviar's files from others, and what
is wrong with a file that cannot be used, in one line that says what to do."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import urllib.parse
from pathlib import Path

from caviar.errors import CaviarError

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, space TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, round INTEGER NOT NULL, number INTEGER NOT NULL,
    config TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    train_loss REAL, val_loss REAL, val_accuracy REAL, epochs INTEGER,
    diverged_epoch INTEGER, diverged_step INTEGER, seconds REAL, finished REAL, error TEXT,
    seeds TEXT, UNIQUE (round, number));
CREATE TABLE IF NOT EXISTS metrics (
    trial INTEGER NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL,
    train_loss REAL, val_loss REAL, val_accuracy REAL, lr REAL,
    PRIMARY KEY (trial, epoch));
CREATE TABLE IF NOT EXISTS lineage (
    trial INTEGER NOT NULL REFERENCES trials(id), epoch INTEGER NOT NULL,
    parent INTEGER NOT NULL REFERENCES trials(id), before TEXT NOT NULL, after TEXT NOT NULL,
    PRIMARY KEY (trial, epoch));
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, seconds REAL, train_seconds REAL,
    slots INTEGER);
"""
# columns added after a table was first written, with their type: added on opening for writing
_ADDED = {"sessions": {"slots": "INTEGER"}, "trials": {"seeds": "TEXT"}}


class StudyError(CaviarError):
    """The study file cannot be used (not a study, or settings that contradict it)."""


APPLICATION_ID = 0x43415649
_COLUMNS = {"trials": {"id", "round", "number", "config", "status"}, "rounds": {"round", "space"}}


def check_folder(path: Path, readonly: bool) -> None:
    folder = path.parent
    if path.is_dir():
        raise StudyError(f"{path}: is a folder, not a study file; give a file path.")
    if not folder.is_dir():
        raise StudyError(
            f"{path}: the folder {folder} does not exist; create it or choose another path."
        )
    if not readonly and not os.access(folder, os.W_OK):
        raise StudyError(
            f"{path}: the folder {folder} cannot be written (read-only or not yours); a tune "
            "needs to write its study there: choose another path."
        )


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return sqlite3.connect(path, isolation_level=None, timeout=30)
    if not path.is_file():
        raise StudyError(f"{path}: no such study file.")
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    if not os.access(path.parent, os.W_OK):
        # WAL readers need to create the -shm file; an unwritable folder holds no live writer
        # (a tune could not run there), so the file can be read as it is
        wal = path.with_name(path.name + "-wal")
        if not wal.exists() or wal.stat().st_size == 0:
            return sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)
    return sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None, timeout=30)


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def add_columns(db: sqlite3.Connection) -> None:
    """Add the columns of :data:`_ADDED` that a study written before them lacks."""
    for table, added in _ADDED.items():
        have = columns(db, table)
        for column, kind in added.items():
            if column not in have:
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as err:  # another opener added it first
                    if "duplicate column" not in str(err):
                        raise


def check_is_study(db: sqlite3.Connection, path: Path) -> bool:
    """Whether the database is empty (a new study); raise a StudyError, before anything is
    written, unless it is caviar's: marked with :data:`APPLICATION_ID`, or (a study written
    before the mark) holding only caviar's tables, with caviar's columns."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return True
    if db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
        return False
    ours = {"settings", "rounds", "trials", "metrics", "sessions", "claim", "lineage"}
    columns = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in _COLUMNS}
    if (
        tables <= ours
        and "trials" in tables
        and all(need <= columns[t] for t, need in _COLUMNS.items() if t in tables)
    ):
        return False
    db.close()
    kind = "an Optuna study" if "version_info" in tables or "studies" in tables else "a database"
    raise StudyError(
        f"{path}: not a caviar study but {kind} that caviar did not write (tables "
        f"{', '.join(sorted(tables)[:6])}); caviar leaves it alone. Choose another --study "
        "path (or export a caviar study to Optuna with 'caviar study export STUDY --optuna sqlite:///PATH')."
    )


def study_error(path: Path, err: Exception) -> StudyError:
    """A one-line StudyError for an SQLite or OS error on the study at ``path``."""
    text = str(err)
    code = getattr(err, "sqlite_errorname", "") or ""
    if (
        code.startswith("SQLITE_FULL")
        or "disk is full" in text
        or _errno(err) == errno.ENOSPC
        or (code.startswith("SQLITE_IOERR") or "disk I/O error" in text)
        and _nearly_full(path)
    ):
        why = f"the disk holding it is full ({text}); free some space"
    elif code.startswith("SQLITE_READONLY") or "readonly" in text or _errno(err) == errno.EROFS:
        why = f"it cannot be written ({text}); make it writable or copy it elsewhere"
    elif code.startswith("SQLITE_CORRUPT") or "malformed" in text:
        why = f"the file is damaged ({text}); the sqlite3 shell's .recover may save its trials"
    elif code.startswith("SQLITE_NOTADB") or "not a database" in text:
        why = f"not a caviar study ({text})"
    elif code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        why = f"the file cannot be opened ({text}); check the path and its permissions"
    elif code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        why = f"another process holds it locked ({text}); try again when it is done"
    else:
        why = f"{type(err).__name__}: {text}"
    return StudyError(f"{path}: {why}.")


def _nearly_full(path: Path) -> bool:
    """Whether the file system holding ``path`` has less than 1 MiB free (SQLite reports some
    full disks as an I/O error)."""
    try:
        return shutil.disk_usage(path.parent).free < 2**20
    except OSError:
        return False


def _errno(err: Exception) -> int | None:
    return getattr(err, "errno", None)


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *exc) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def sidecar(path: Path, suffix: str) -> Path:
    """The SQLite file beside ``path`` with ``suffix`` (``-wal``, ``-shm``, ``-journal``)."""
    return path.with_name(path.name + suffix)
