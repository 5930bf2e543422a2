"""One driver per study: a claim row that the tuning process holds while it runs.

The row (pid, host, the process's start time, a random token, a heartbeat) is written in a
``BEGIN IMMEDIATE`` transaction, so of two processes starting at once exactly one wins and
the other is refused with one line naming the winner. A thread refreshes the heartbeat every
:data:`HEARTBEAT_SECONDS` while the claim is held.

How a dead driver is told from a live one:

- **same host** (the claim's host name is this machine's): the pid is alive
  (``os.kill(pid, 0)``), is not a zombie, and (where ``/proc`` exists) started at the
  recorded time, so a pid reused by another process does not pass for the driver;
- **another host** (a study on a shared file system): the heartbeat is younger than
  :data:`STALE_SECONDS`. This is as good as SQLite's locking on that file system, which
  network file systems often get wrong (see SQLite's "How To Corrupt" notes); caviar does not
  promise more there.

A stale claim is replaced inside the same transaction that read it, so two processes cannot
both take it over.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from caviar.tuning.study import StudyError

HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60.0  # twelve missed heartbeats

TABLE = """CREATE TABLE IF NOT EXISTS claim (
    id INTEGER PRIMARY KEY CHECK (id = 0), pid INTEGER NOT NULL, host TEXT NOT NULL,
    process_start TEXT, token TEXT NOT NULL, since REAL NOT NULL, heartbeat REAL NOT NULL)"""


@dataclass
class Holder:
    """Who holds a claim."""

    pid: int
    host: str
    process_start: str | None
    token: str
    since: float
    heartbeat: float

    def __str__(self) -> str:
        return f"pid {self.pid}@{self.host}"

    def alive(self, now: float | None = None) -> bool:
        if self.host != socket.gethostname():
            return (time.time() if now is None else now) - self.heartbeat < STALE_SECONDS
        return process_alive(self.pid, self.process_start)


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat``), or None."""
    stat = _stat(pid)
    return None if stat is None else stat[19]


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` is a running process on this host (not a zombie) that started at
    ``started`` (when both that and ``/proc`` are known)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    stat = _stat(pid)
    if stat is None:
        return True
    return stat[0] != "Z" and (started is None or stat[19] == started)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the state on (field 3)


class Claim:
    """This process's claim on ``study``; :meth:`acquire` it, :meth:`release` it."""

    def __init__(self, study, holder: Holder):
        self.study, self.holder = study, holder
        self.lost = False  # set when another driver replaced this claim
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="caviar-claim", daemon=True)

    @classmethod
    def acquire(cls, study) -> Claim:
        """Take the claim, or raise a StudyError naming the live process that holds it."""
        pid, now = os.getpid(), time.time()
        mine = Holder(pid, socket.gethostname(), process_start(pid), secrets.token_hex(8), now, now)
        db = study.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(TABLE)
            row = db.execute(
                "SELECT pid, host, process_start, token, since, heartbeat FROM claim"
            ).fetchone()
            if row is not None and Holder(*row).alive(now):
                holder = Holder(*row)
                raise StudyError(
                    f"{study.path}: {holder} is tuning this study (since "
                    f"{time.strftime('%H:%M:%S', time.localtime(holder.since))}); wait for it "
                    f"to end or stop it, then continue with --resume."
                )
            db.execute(
                "INSERT OR REPLACE INTO claim VALUES (0, ?, ?, ?, ?, ?, ?)",
                (mine.pid, mine.host, mine.process_start, mine.token, now, now),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        claim = cls(study, mine)
        claim._thread.start()
        return claim

    def release(self) -> None:
        """Stop the heartbeat and delete the row if it is still ours."""
        self._stop.set()
        self._thread.join()
        try:
            self.study.db.execute("DELETE FROM claim WHERE token = ?", (self.holder.token,))
        except sqlite3.Error:
            pass  # a full disk or a closed file: the next driver sees a dead claim

    def _beat(self) -> None:
        try:
            db = sqlite3.connect(self.study.path, timeout=30, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    cur = db.execute(
                        "UPDATE claim SET heartbeat = ? WHERE token = ?",
                        (time.time(), self.holder.token),
                    )
                except sqlite3.Error:
                    continue  # e.g. a full disk: try again at the next beat
                if cur.rowcount == 0:
                    self.lost = True
                    return
        finally:
            db.close()
