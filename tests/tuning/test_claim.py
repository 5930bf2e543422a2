"""One driver per study: a live claim refuses a second tune, a dead one is taken over, and two
tunes started at once never crash."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from caviar.tuning.claim import STALE_SECONDS, process_start
from caviar.tuning.settings import TuneSettings, open_study
from caviar.tuning.study import StudyError

SETTINGS = dict(data="digits", trials=2, space={"lr": {"dist": "log", "low": 1e-3, "high": 1e-1}})


def _settings():
    return TuneSettings(**SETTINGS, base={"hidden": [8], "epochs": 1})


def _set_claim(path, pid, host, started, heartbeat):
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE claim SET pid = ?, host = ?, process_start = ?, token = 'other', heartbeat = ?",
            (pid, host, started, heartbeat),
        )


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_second_driver_is_refused_naming_the_first(tmp_path):
    path = tmp_path / "s.db"
    study, _ = open_study(path, _settings(), resume=False)
    with study:
        with pytest.raises(StudyError) as err:
            open_study(path, None, resume=True)
        message = str(err.value)
        assert f"pid {os.getpid()}@{socket.gethostname()} is tuning this study" in message
        assert "\n" not in message
    study, _ = open_study(path, None, resume=True)  # released when the first closed
    study.close()


def test_a_dead_drivers_claim_is_taken_over(tmp_path):
    path = tmp_path / "s.db"
    study, _ = open_study(path, _settings(), resume=False)
    study._on_close.clear()  # as if killed: the claim row stays behind
    study.close()
    _set_claim(path, _dead_pid(), socket.gethostname(), None, time.time())
    study, _ = open_study(path, None, resume=True)
    with study:
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT pid FROM claim").fetchone()[0] == os.getpid()


def test_a_reused_pid_is_not_the_driver(tmp_path):
    """Our own pid, alive, but started at another time than the claim records: dead."""
    path = tmp_path / "s.db"
    study, _ = open_study(path, _settings(), resume=False)
    study._on_close.clear()
    study.close()
    if process_start(os.getpid()) is None:
        pytest.skip("no /proc: a reused pid cannot be told from the driver here")
    _set_claim(path, os.getpid(), socket.gethostname(), "1", time.time())
    open_study(path, None, resume=True)[0].close()


def test_another_hosts_claim_lives_while_its_heartbeat_does(tmp_path):
    path = tmp_path / "s.db"
    study, _ = open_study(path, _settings(), resume=False)
    study._on_close.clear()
    study.close()
    _set_claim(path, 1, "elsewhere.example", None, time.time())
    with pytest.raises(StudyError, match=r"pid 1@elsewhere\.example is tuning"):
        open_study(path, None, resume=True)
    _set_claim(path, 1, "elsewhere.example", None, time.time() - STALE_SECONDS - 1)
    open_study(path, None, resume=True)[0].close()


START = """
import sys
from caviar.cli.main import main
main(["tune", "--data", "iris", "--trials", "2", "--epochs", "1", "--hidden", "4",
      "--study", sys.argv[1]])
"""


def test_two_tunes_started_at_once_never_crash(tmp_path):
    script = tmp_path / "start.py"
    script.write_text(START)
    for attempt in range(4):
        path = tmp_path / f"s{attempt}.db"
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
        codes = sorted(code for code, _ in outcomes)
        assert codes == [0, 2], outcomes
        (err,) = [e for code, e in outcomes if code == 2]
        lines = err.strip().splitlines()
        assert "Traceback" not in err and len(lines) == 1, err
        said = ("is tuning this study", "already holds a tune", "another process holds it locked")
        assert any(s in lines[0] for s in said), err  # the last: both created it at once


LONG = """
import sys
from caviar.cli.main import main
main(["tune", "--data", "digits", "--trials", "8", "--epochs", "40", "--hidden", "64",
      "--strategy", "caviar", "--study", sys.argv[1]])
"""


def test_a_second_resume_while_the_first_runs_is_refused_then_takes_over_after_kill_9(
    tmp_path,
):
    from click.testing import CliRunner

    from caviar.cli.main import main

    script = tmp_path / "long.py"
    script.write_text(LONG)
    path = tmp_path / "s.db"
    first = subprocess.Popen([sys.executable, str(script), str(path)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # claimed with its settings stored: a kill between the two leaves no tune to resume
        while not (_claimed_by(path, first.pid) and _has_settings(path)):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        second = CliRunner().invoke(main, ["tune", "--resume", "--study", str(path)])
        assert second.exit_code == 2, second.stderr
        assert f"pid {first.pid}@{socket.gethostname()} is tuning this study" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.kill()
        first.communicate()
    taken = CliRunner().invoke(main, ["tune", "--resume", "--study", str(path), "--json"])
    assert taken.exit_code == 0, taken.stderr
    with sqlite3.connect(path) as db:
        assert (
            db.execute("SELECT COUNT(*) FROM trials WHERE status = 'finished'").fetchone()[0] == 8
        )
        assert db.execute("SELECT COUNT(*) FROM claim").fetchone()[0] == 0  # released


def _claimed_by(path, pid) -> bool:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            row = db.execute("SELECT pid FROM claim").fetchone()
        return bool(row) and row[0] == pid
    except sqlite3.Error:
        return False


def _has_settings(path) -> bool:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM settings").fetchone()[0] > 0
    except sqlite3.Error:
        return False
