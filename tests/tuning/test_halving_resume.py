"""Asynchronous halving killed and resumed: the plan and the lanes' states beside the study
bring a resumed tune to the same trials as an uninterrupted one, nothing finished is lost,
and no trial is written twice (the study refuses a second write of a finished trial, so a
replayed tick that tried would fail the tune)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from caviar.data import load
from caviar.tuning import recycling
from caviar.tuning.tuner import Reporter, Tuner, TuneSettings, open_study
from tests.studies import trial_numbers
from tests.tuning.test_snapshots import _wait_for_claim

SPACE = {"lr": {"dist": "log", "low": 1e-4, "high": 1.0}}
BASE = {"hidden": [32], "epochs": 4, "batch_size": 64, "keep_prob": 0.9, "dtype": "float64"}
SETTINGS = dict(trials=12, strategy="caviar", max_population=3, halving=2.0, keep=2)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


class Messages(Reporter):
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


class Killed(Exception):
    pass


def _tune(path, data, resume=False, every=0.0, reporter=None):
    settings = None if resume else TuneSettings(data="digits", space=SPACE, base=BASE, **SETTINGS)
    study, settings = open_study(path, settings, resume=resume)
    with study:
        return Tuner(
            study, settings, data, reporter, executor="local", checkpoint_every=every
        ).run()


@pytest.mark.parametrize("ticks", [1, 3, 6])
def test_a_halving_tune_stopped_after_a_tick_resumes_to_the_same_trials(
    tmp_path, digits, monkeypatch, ticks
):
    _tune(tmp_path / "whole.db", digits, every=None)
    original, calls = recycling._settle, [0]

    def settle(*args, **kwargs):
        original(*args, **kwargs)
        calls[0] += 1
        if calls[0] == ticks:  # after recording the tick's trials, before the next write
            raise Killed

    with monkeypatch.context() as m:
        m.setattr(recycling, "_settle", settle)
        with pytest.raises(Killed):
            _tune(tmp_path / "cut.db", digits, every=3600.0)  # only the tick-0 plan is written
    assert list((tmp_path / "cut.db.checkpoints").glob("halving-*.npz"))
    said = Messages()
    _tune(tmp_path / "cut.db", digits, resume=True, reporter=said)
    assert any("asynchronous halving continues from epoch" in line for line in said.lines)
    assert trial_numbers(tmp_path / "cut.db") == trial_numbers(tmp_path / "whole.db")
    assert not (tmp_path / "cut.db.checkpoints").exists()
    kept = sorted(p.name for p in (tmp_path / "cut.db.models").iterdir())
    assert kept == sorted(p.name for p in (tmp_path / "whole.db.models").iterdir())


KILLABLE = textwrap.dedent("""
    import sys
    from caviar.data import load
    from caviar.tuning.tuner import Reporter, Tuner, TuneSettings, open_study

    class Say(Reporter):
        def message(self, text):
            print(text, flush=True)

    path, resume = sys.argv[1], sys.argv[2] == "resume"
    settings = None if resume else TuneSettings(
        data="digits", trials=100, strategy="caviar", max_population=4, halving=3.0,
        keep=0, space={space!r}, base={base!r})
    data = load("digits")
    study, settings = open_study(path, settings, resume=resume)
    with study:
        Tuner(study, settings, data, Say(), executor="local", checkpoint_every=0.0).run()
""")
KILL_BASE = {"hidden": [256, 256], "epochs": 27, "batch_size": 64, "keep_prob": 0.9}


def test_kill_9_of_a_halving_tune_at_five_seeded_moments_changes_nothing(tmp_path, digits):
    script = tmp_path / "tune.py"
    script.write_text(KILLABLE.format(space=SPACE, base=KILL_BASE))
    path = tmp_path / "killed.db"
    kept: dict = {}
    out = []
    kills = 0
    for kill, delay in enumerate(np.random.default_rng(4).uniform(0.3, 1.5, size=5)):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), "resume" if kill else "start"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if not _wait_for_claim(path, proc):
                break
            time.sleep(delay)
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        finally:
            out.append(proc.communicate(timeout=60)[0])
        now = {i: v for i, v in trial_numbers(path).items() if v[1] not in ("pending", "running")}
        assert all(now[i] == v for i, v in kept.items()), "a finished trial was lost or changed"
        kept = now
    subprocess.run([sys.executable, str(script), str(path), "resume"], check=True, timeout=300)
    assert kills == 5, f"only {kills} kills landed: the tune was faster than the moments"
    assert "asynchronous halving continues from epoch" in "".join(out)
    whole = tmp_path / "whole.db"
    settings = TuneSettings(
        data="digits",
        trials=100,
        strategy="caviar",
        max_population=4,
        halving=3.0,
        keep=0,
        space=SPACE,
        base=KILL_BASE,
    )
    study, settings = open_study(whole, settings, resume=False)
    with study:
        Tuner(study, settings, digits, executor="local", checkpoint_every=None).run()
    assert trial_numbers(path) == trial_numbers(whole)
