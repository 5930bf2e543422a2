"""Kept models: a tune keeps the weights of its best trials beside the study, in the model
format (issue 17, first part)."""

from __future__ import annotations

import numpy as np
import pytest

import caviar
from caviar.model import Model
from caviar.tuning.kept import Kept
from caviar.tuning.retrain import find_trial, kept_model, retrain
from caviar.tuning.study import Status, Study

SMALL = dict(epochs=2, hidden=(16,), verbose=False)


def _tune(tmp_path, name="s.db", **options):
    return caviar.tune("digits", trials=6, study=tmp_path / name, **(SMALL | options))


def _kept_ids(path) -> set[int]:
    return set(Kept(path, 0).stored())


def test_the_best_trials_are_kept_and_equal_a_retrain(tmp_path):
    results = _tune(tmp_path, keep=3)
    best = sorted(
        (t for t in results.trials if t.status == Status.FINISHED), key=lambda t: t.val_loss
    )[:3]
    assert _kept_ids(results.path) == {t.id for t in best}
    with Study(results.path, readonly=True) as s:
        trial = find_trial(s, best[0].id)
        kept, again = kept_model(s, trial), retrain(s, trial)
    a, b = kept.model.net.get_params(), again.model.net.get_params()
    for name in a:  # member k of a population equals its solo run
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6)
    assert kept.scores()["val_loss"] == pytest.approx(best[0].val_loss, rel=1e-5)
    assert kept.model.source == {"data": "digits", "target": None}
    assert results.model(best[0].id).net.get_params().keys() == a.keys()


def test_keep_zero_keeps_nothing_and_halving_keeps_no_pruned_trial(tmp_path):
    assert _kept_ids(_tune(tmp_path, keep=0).path) == set()
    results = _tune(tmp_path, "h.db", keep=6, halving=2)
    finished = {t.id for t in results.trials if t.status == Status.FINISHED}
    assert _kept_ids(results.path) == finished and len(finished) < 6


def test_the_processes_executor_keeps_the_same_models(tmp_path):
    local = _tune(tmp_path, "l.db", keep=2, executor="local")
    procs = _tune(tmp_path, "p.db", keep=2, executor="processes")
    assert _kept_ids(local.path) == _kept_ids(procs.path)
    for trial_id, path in Kept(local.path, 0).stored().items():
        a = Model.load(path).net.get_params()
        b = Model.load(Kept(procs.path, 0).path(trial_id)).net.get_params()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_study_train_uses_the_kept_model_and_says_so(cli, tmp_path):
    study = tmp_path / "s.db"
    cli("tune --data digits --trials 4 --epochs 1 --hidden 16 --keep 1 --study", study)
    (trial_id,) = _kept_ids(study)
    out = cli("study train", study, "--trial", trial_id).stdout
    assert f"the model the tune kept ({study}.models/trial-{trial_id}.npz)" in out
    assert "not trained again" not in cli("study train", study, "--trial", trial_id,
                                          "--retrain").stdout  # fmt: skip
    # a kept model deleted by hand: the trial is trained again, without a word of error
    Kept(study, 0).path(trial_id).unlink()
    out = cli("study train", study, "--trial", trial_id).stdout
    assert "kept" not in out and "validation accuracy" in out
    # a torn kept model (they are written without fsync) is trained again too
    cli("study train", study, "--trial", trial_id, "--save", Kept(study, 0).path(trial_id))
    Kept(study, 0).path(trial_id).write_bytes(b"PK\x03\x04 torn")
    assert "kept" not in cli("study train", study, "--trial", trial_id).stdout
    # and the kept model is a model like any other
    cli("tune --data digits --trials 2 --epochs 1 --hidden 16 --keep 1 --study", tmp_path / "t.db")
    (path,) = Kept(tmp_path / "t.db", 0).stored().values()
    assert "digits (test" in cli("evaluate", path).stdout


@pytest.fixture
def cli():
    """``cli(*args, code=0)``: ``caviar args`` in-process, its exit status checked."""
    from click.testing import CliRunner

    from caviar.cli.main import main

    runner = CliRunner()

    def run(*args, code: int = 0):
        argv = [w for a in args for w in (a.split() if isinstance(a, str) else [str(a)])]
        result = runner.invoke(main, argv)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return run


def test_a_resumed_tune_keeps_the_same_way_and_names_models_it_lost(tmp_path, monkeypatch):
    from caviar.tuning import progress

    whole = _tune(tmp_path, "whole.db", keep=3, max_population=2, strategy="caviar",
                  executor="local")  # fmt: skip

    class Killed(Exception):
        pass

    calls = [0]
    original = progress.Reporter.trial_done

    def trial_done(self, *args):
        calls[0] += 1
        if calls[0] == 3:  # in the middle of a population's records: its models are not kept
            raise Killed
        return original(self, *args)

    path = tmp_path / "cut.db"
    with monkeypatch.context() as m:
        m.setattr(progress.Reporter, "trial_done", trial_done)
        with pytest.raises(Killed):
            _tune(tmp_path, "cut.db", keep=3, max_population=2, strategy="caviar",
                  executor="local")  # fmt: skip
    said = []
    m2 = pytest.MonkeyPatch()
    m2.setattr(progress.Reporter, "message", lambda self, text: said.append(text))
    try:
        resumed = caviar.tune("digits", study=path, resume=True, verbose=False,
                              executor="local")  # fmt: skip
    finally:
        m2.undo()
    lost = set(Kept(path, 0).stored()) ^ _kept_ids(whole.path)
    # the same trials and numbers; the kept models the same but for those the stop lost
    assert [t.val_loss for t in resumed.trials] == [t.val_loss for t in whole.trials]
    assert set(Kept(path, 0).stored()) <= _kept_ids(whole.path)
    if lost:
        assert any("were not kept" in line for line in said)
