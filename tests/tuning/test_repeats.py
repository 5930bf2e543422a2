"""Seeds as members (issue 17, third part): ``--repeats R`` trains each configuration with R
seeds as R rows of one population; the trial's figures are their mean."""

from __future__ import annotations

import numpy as np
import pytest

import caviar
from caviar.config import TrainConfig
from caviar.errors import InvalidArgument
from caviar.tuning.tuner import repeated, rows_of

SMALL = dict(trials=4, epochs=2, hidden=(16,), verbose=False, keep=0)


def test_a_trial_is_the_mean_of_its_seeds_and_its_first_seed_is_the_single_run(tmp_path):
    one = caviar.tune("digits", study=tmp_path / "one.db", executor="local", **SMALL)
    three = caviar.tune("digits", study=tmp_path / "three.db", repeats=3, executor="local",
                        **SMALL)  # fmt: skip
    for a, b in zip(one.trials, three.trials, strict=True):
        assert b.config == a.config and len(b.seeds) == 3
        assert b.seeds[0]["seed"] == a.config["seed"]
        assert len({s["seed"] for s in b.seeds}) == 3
        # the trial's own seed is its row 0: what the tune without repeats computed
        assert b.seeds[0]["val_loss"] == pytest.approx(a.val_loss, rel=1e-5)
        assert b.val_loss == pytest.approx(np.mean([s["val_loss"] for s in b.seeds]))
        assert b.val_accuracy == pytest.approx(np.mean([s["val_accuracy"] for s in b.seeds]))


def test_a_repeated_row_is_its_seed_trained_alone(tmp_path):
    from caviar import sources
    from caviar.data import load
    from caviar.model import Model

    three = caviar.tune("digits", study=tmp_path / "s.db", repeats=2, executor="local", **SMALL)
    trial = three.trials[0]
    seed = trial.seeds[1]
    config = TrainConfig.from_dict(trial.config).replace(seed=seed["seed"])
    train, val, _ = sources.split(load("digits"), config)
    model = Model.create(config, train)
    model.fit(train, val)
    assert model.evaluate(val, split="all")["loss"] == pytest.approx(seed["val_loss"], rel=1e-5)


def test_the_processes_executor_gives_the_same_repeated_trials(tmp_path):
    local = caviar.tune("digits", study=tmp_path / "l.db", repeats=2, executor="local", **SMALL)
    procs = caviar.tune("digits", study=tmp_path / "p.db", repeats=2, executor="processes",
                        **SMALL)  # fmt: skip
    assert [t.seeds for t in local.trials] == [t.seeds for t in procs.trials]


def test_rows_and_their_seeds_are_fixed_by_the_trial():
    config = TrainConfig(seed=7)
    rows = repeated(config, 3)
    assert [r.seed for r in rows][0] == 7 and rows == repeated(config, 3)

    from types import SimpleNamespace

    trial = SimpleNamespace(config=config.to_dict())
    assert [c.seed for c in rows_of([5, 5, 5], {5: trial}, 3)] == [r.seed for r in rows]


def test_repeats_refuse_halving_and_panda_in_one_line(tmp_path):
    for options in ({"halving": 2}, {"strategy": "panda"}):
        with pytest.raises(InvalidArgument, match="--repeats .* without --halving"):
            caviar.tune("digits", study=tmp_path / "x.db", repeats=2, **SMALL, **options)
        assert not (tmp_path / "x.db").exists()


def test_the_report_draws_each_trials_spread_as_error_bars(tmp_path):
    pytest.importorskip("plotly")
    from caviar.report import write_report

    study = caviar.tune("digits", study=tmp_path / "s.db", repeats=2, executor="local", **SMALL)
    html = write_report(study.path, tmp_path / "r.html", test=False).read_text()
    assert '"error_y"' in html and "mean over 2 seeds" in html
