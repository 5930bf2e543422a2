"""Population-based training killed and resumed: the plan (epoch, each row's member and
hyperparameters) and the lanes' states beside the study bring a resumed tune to the same
trials and lineage as an uninterrupted one; nothing finished is lost, and no trial is
written twice (the study refuses a second write of a finished trial)."""

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
from caviar.tuning import exploiting
from caviar.tuning.study import Study
from caviar.tuning.tuner import Tuner, TuneSettings, open_study
from tests.studies import trial_numbers
from tests.tuning.test_halving_resume import Killed, Messages
from tests.tuning.test_snapshots import _wait_for_claim

SPACE = {"lr": {"dist": "log", "low": 1e-4, "high": 1.0}, "keep_prob": 0.9}
BASE = {"hidden": [32], "epochs": 8, "batch_size": 64, "dtype": "float64"}
SETTINGS = dict(trials=12, strategy="caviar", max_population=4, pbt=True, pbt_interval=2, keep=3)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _tune(path, data, resume=False, every=0.0, reporter=None, settings=SETTINGS, base=BASE):
    settings = None if resume else TuneSettings(data="digits", space=SPACE, base=base, **settings)
    study, settings = open_study(path, settings, resume=resume)
    with study:
        return Tuner(
            study, settings, data, reporter, executor="local", checkpoint_every=every
        ).run()


def _lineage(path):
    with Study(path, readonly=True) as s:
        return s.lineage()


@pytest.mark.parametrize("steps", [1, 2])
def test_a_pbt_tune_stopped_after_an_exploit_resumes_to_the_same_trials(
    tmp_path, digits, monkeypatch, steps
):
    _tune(tmp_path / "whole.db", digits, every=None)
    original, calls = exploiting._exploit, [0]

    def exploit(*args, **kwargs):
        copies = original(*args, **kwargs)
        calls[0] += 1
        if calls[0] == steps:  # after the lineage is written, before the next plan
            raise Killed
        return copies

    with monkeypatch.context() as m:
        m.setattr(exploiting, "_exploit", exploit)
        with pytest.raises(Killed):
            _tune(tmp_path / "cut.db", digits, every=3600.0)  # only the epoch-0 plan
    assert list((tmp_path / "cut.db.checkpoints").glob("pbt-*.npz"))
    said = Messages()
    _tune(tmp_path / "cut.db", digits, resume=True, reporter=said)
    assert "population-based training continues from epoch 0" in said.lines
    assert trial_numbers(tmp_path / "cut.db") == trial_numbers(tmp_path / "whole.db")
    assert _lineage(tmp_path / "cut.db") == _lineage(tmp_path / "whole.db")
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
    settings = None if resume else TuneSettings(data="digits", space={space!r}, base={base!r},
        **{settings!r})
    data = load("digits")
    study, settings = open_study(path, settings, resume=resume)
    with study:
        Tuner(study, settings, data, Say(), executor="local", checkpoint_every=0.0).run()
""")
KILL_BASE = {"hidden": [128, 128], "epochs": 36, "batch_size": 64}
KILL_SETTINGS = dict(
    trials=32, strategy="caviar", max_population=8, pbt=True, pbt_interval=2, keep=0
)


def test_kill_9_of_a_pbt_tune_at_five_seeded_moments_changes_nothing(tmp_path, digits):
    script = tmp_path / "tune.py"
    script.write_text(KILLABLE.format(space=SPACE, base=KILL_BASE, settings=KILL_SETTINGS))
    path = tmp_path / "killed.db"
    out = []
    kept: dict = {}
    kills = 0
    for kill, delay in enumerate(np.random.default_rng(5).uniform(0.3, 1.5, size=5)):
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
    assert "population-based training continues from epoch" in "".join(out)
    whole = tmp_path / "whole.db"
    _tune(whole, digits, every=None, settings=KILL_SETTINGS, base=KILL_BASE)
    assert trial_numbers(path) == trial_numbers(whole)
    assert _lineage(path) == _lineage(whole)
