"""Helpers for tests that kill a tune and look at its study from outside."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def wait_for_finished(path: Path, at_least: int, proc, timeout: float = 120) -> int:
    """Wait until ``path``'s study holds ``at_least`` finished or diverged trials while
    ``proc`` runs; their number."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the tune ended before it could be killed")
        if path.exists():
            try:
                with sqlite3.connect(path, timeout=1) as db:
                    n = db.execute(
                        "SELECT COUNT(*) FROM trials WHERE status IN ('finished', 'diverged')"
                    ).fetchone()[0]
                if n >= at_least:
                    return n
            except sqlite3.OperationalError:
                pass
        time.sleep(0.02)
    raise AssertionError("no trial finished in time")
