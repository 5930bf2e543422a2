"""Population checkpoints: a tune interrupted mid-population resumes from the population's
state, and every trial's numbers equal those of an uninterrupted tune, to the bit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from caviar.data import load
from caviar.tuning import snapshots
from caviar.tuning.tuner import Reporter, Tuner, TuneSettings, open_study
from tests.studies import trial_numbers

SPACE = {"lr": {"dist": "log", "low": 1e-4, "high": 1.0}}
BASE = {"hidden": [32], "epochs": 4, "batch_size": 64, "keep_prob": 0.9}


@pytest.fixture(scope="module")
def digits():
    return load("digits")


class Messages(Reporter):
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def _tune(path, data, resume=False, every=0.0, reporter=None, **kw):
    settings = None
    if not resume:
        kw = {"trials": 8, "rounds": 2, "strategy": "caviar", "max_population": 3, "keep": 0} | kw
        settings = TuneSettings(data="digits", space=SPACE, base=BASE, **kw)
    study, settings = open_study(path, settings, resume=resume)
    with study:
        return Tuner(study, settings, data, reporter, checkpoint_every=every).run()


class Killed(Exception):
    pass


def _interrupt_after(monkeypatch, writes: int):
    """Make the tune die right after its ``writes``-th checkpoint hook call."""
    original, calls = snapshots.Snapshots.writer, [0]

    def writer(self, ids, pop, epochs):
        write = original(self, ids, pop, epochs)

        def hook(epoch, history):
            write(epoch, history)
            calls[0] += 1
            if calls[0] == writes:
                raise Killed

        return hook

    monkeypatch.setattr(snapshots.Snapshots, "writer", writer)


@pytest.mark.parametrize("writes", [1, 2, 5, 7])
def test_resume_mid_population_equals_an_uninterrupted_tune(tmp_path, digits, monkeypatch, writes):
    _tune(tmp_path / "whole.db", digits, every=None)
    with monkeypatch.context() as m:
        _interrupt_after(m, writes)
        with pytest.raises(Killed):
            _tune(tmp_path / "cut.db", digits)
    folder = tmp_path / "cut.db.checkpoints"
    assert [p.name for p in folder.iterdir()], "a population checkpoint was written"
    said = Messages()
    _tune(tmp_path / "cut.db", digits, resume=True, reporter=said)
    assert any("continue from epoch" in line for line in said.lines), said.lines
    assert trial_numbers(tmp_path / "cut.db") == trial_numbers(tmp_path / "whole.db")
    assert not folder.exists()  # removed once its trials are recorded


def test_checkpoints_are_throttled_and_skip_the_last_epoch(tmp_path, digits, monkeypatch):
    saved = []
    real = snapshots.checkpoint.save
    monkeypatch.setattr(
        snapshots.checkpoint, "save", lambda p, a, m: saved.append(m["ids"]) or real(p, a, m)
    )
    _tune(tmp_path / "a.db", digits, every=3600.0, trials=3, rounds=1)
    assert saved == []  # never an hour of training between two epochs here
    _tune(tmp_path / "b.db", digits, every=0.0, trials=3, rounds=1)
    assert len(saved) == BASE["epochs"] - 1  # every epoch end but the last, one population


def test_a_damaged_population_checkpoint_is_dropped_and_its_trials_train_again(
    tmp_path, digits, monkeypatch
):
    _tune(tmp_path / "whole.db", digits, every=None)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(Killed):
            _tune(tmp_path / "cut.db", digits)
    (ck,) = (tmp_path / "cut.db.checkpoints").iterdir()
    ck.write_bytes(ck.read_bytes()[:100])  # truncated
    _tune(tmp_path / "cut.db", digits, resume=True)
    assert trial_numbers(tmp_path / "cut.db") == trial_numbers(tmp_path / "whole.db")


def test_a_checkpoint_whose_state_does_not_fit_its_trials_is_trained_afresh(
    tmp_path, digits, monkeypatch
):
    """A readable checkpoint whose state lacks an array is refused where the population is
    rebuilt (no population is built in the driver to probe it); its trials start again
    from scratch and end as in an uninterrupted tune."""
    from caviar import checkpoint

    _tune(tmp_path / "whole.db", digits, every=None)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(Killed):
            _tune(tmp_path / "cut.db", digits)
    (ck,) = (tmp_path / "cut.db.checkpoints").iterdir()
    arrays, meta = checkpoint.load(ck)
    del arrays["time/seconds"]
    checkpoint.save(ck, arrays, meta)
    said = Messages()
    _tune(tmp_path / "cut.db", digits, resume=True, reporter=said)
    assert any("is not usable" in line and "train afresh" in line for line in said.lines)
    assert trial_numbers(tmp_path / "cut.db") == trial_numbers(tmp_path / "whole.db")
    assert not list((tmp_path / "cut.db.checkpoints").glob("*.npz"))


KILLABLE = textwrap.dedent("""
    import sys
    from caviar.data import load
    from caviar.tuning.tuner import Reporter, Tuner, TuneSettings, open_study

    class Say(Reporter):
        def message(self, text):
            print(text, flush=True)

    path, resume = sys.argv[1], sys.argv[2] == "resume"
    settings = None if resume else TuneSettings(
        data="digits", trials=16, rounds=2, strategy="caviar", max_population=4,
        space={space!r}, base={base!r})
    data = load("digits")
    study, settings = open_study(path, settings, resume=resume)
    with study:
        Tuner(study, settings, data, Say(), checkpoint_every=0.0).run()
""")
# long enough (about 20 s of training on a quiet 2-core machine, more than ten kills of at
# most 1.5 s each take) that ten kills land before it ends
KILL_BASE = {"hidden": [128, 128], "epochs": 64, "batch_size": 64, "keep_prob": 0.9}


def test_kill_9_at_ten_seeded_moments_loses_nothing_and_changes_nothing(tmp_path, digits):
    """Ten kill -9s of one tune, each at a seeded moment after the driver took the study;
    no finished trial is lost or changed, and the end equals an uninterrupted tune."""
    script = tmp_path / "tune.py"
    script.write_text(KILLABLE.format(space=SPACE, base=KILL_BASE))
    path = tmp_path / "killed.db"
    delays = np.random.default_rng(9).uniform(0.2, 1.5, size=10)
    kept: dict = {}
    out = []
    kills = 0
    for kill, delay in enumerate(delays):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), "resume" if kill else "start"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if not _wait_for_claim(path, proc):
                break  # it finished before it could be killed
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        finally:
            out.append(proc.communicate(timeout=60)[0])
        now = {i: v for i, v in trial_numbers(path).items() if v[1] not in ("pending", "running")}
        assert all(now[i] == v for i, v in kept.items()), "a finished trial was lost or changed"
        kept = now
    subprocess.run([sys.executable, str(script), str(path), "resume"], check=True, timeout=300)
    assert kills == 10, f"only {kills} kills landed: the tune was faster than the moments"
    assert "continue from epoch" in "".join(out)  # at least one kill landed mid-population
    whole = tmp_path / "whole.db"
    settings = TuneSettings(
        data="digits", trials=16, rounds=2, strategy="caviar", max_population=4, space=SPACE
    )
    settings.base = KILL_BASE
    study, settings = open_study(whole, settings, resume=False)
    with study:
        Tuner(study, settings, digits, checkpoint_every=None).run()
    assert trial_numbers(path) == trial_numbers(whole)
    assert not (tmp_path / "killed.db.checkpoints").exists()


def _wait_for_claim(path, proc, timeout=120.0) -> bool:
    """Wait until ``proc`` holds the study's claim; False if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with sqlite3.connect(path, timeout=1) as db:
                row = db.execute("SELECT pid FROM claim").fetchone()
            if row and row[0] == proc.pid:
                return True
        except sqlite3.Error:
            pass
        time.sleep(0.01)
    raise AssertionError("the tune never claimed its study")
