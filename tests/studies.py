"""Helpers for tests that kill a tune and look at its study from outside, and compare the
numbers two studies hold."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from caviar.tuning.study import Study


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


def trial_numbers(path: Path, key=lambda t: t.id) -> dict:
    """Every trial of the study at ``path`` by ``key(trial)`` (default its id): ``(config,
    status, train_loss, val_loss, val_accuracy, epochs, diverged_step, per-epoch metrics)``,
    everything a run computes but its wall-clock seconds."""
    with Study(path) as study:
        return {
            key(t): (
                t.config,
                t.status.value,
                t.train_loss,
                t.val_loss,
                t.val_accuracy,
                t.epochs,
                t.diverged_step,
                study.metrics(t.id),
            )
            for t in study.trials()
        }
