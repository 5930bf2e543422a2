"""The tuner: grouping invariance, halving, strategies, divergence, and a study that survives
kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from caviar import sources
from caviar.config import TrainConfig
from caviar.cost import MemberCost
from caviar.data import load
from caviar.model import Model
from caviar.train.population import Population, select_state, stack_states
from caviar.tuning.cost import population_size
from caviar.tuning.study import Study, StudyError, best_trial
from caviar.tuning.trials import Prepared, member_results
from caviar.tuning.tuner import Tuner, TuneSettings, open_study
from tests.studies import wait_for_finished

SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 1.0},
    "beta1": {"dist": "one_minus_log", "low": 0.9, "high": 0.999},
}
BASE = {"hidden": [32], "epochs": 2, "batch_size": 64}


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.fixture(scope="module")
def prepared(digits):
    return Prepared.from_dataset(digits, TrainConfig(**BASE))


def _configs(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        TrainConfig(
            **BASE,
            lr=float(10 ** rng.uniform(-4, -1)),
            beta1=float(1 - 10 ** rng.uniform(-3, -1)),
            seed=int(rng.integers(1000)),
        )
        for _ in range(n)
    ]


def _results(pop, data):
    return [r for _, r, _ in member_results(pop, data)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trials_result_does_not_depend_on_its_population(prepared, digits, dtype):
    configs = [c.replace(dtype=dtype) for c in _configs(200)]
    data = prepared if dtype == "float32" else Prepared.from_dataset(digits, configs[0])
    alone = []
    for k in range(3):
        pop = data.build([configs[k]])
        data.train(pop, 2)
        alone.append(_results(pop, data)[0])
    for K in (4, 200):
        pop = data.build(configs[:K])
        data.train(pop, 2)
        together = _results(pop, data)
        for k in range(3):
            for key in ("train_loss", "val_loss", "val_accuracy"):
                assert together[k][key] == alone[k][key], (K, k, key)


def test_a_trial_reproduces_through_the_model_path(prepared, digits):
    """What `caviar train` runs (Model) gives the trial's numbers."""
    from caviar.data import train_val_test_split

    config = _configs(1, seed=3)[0]
    pop = prepared.build([config])
    prepared.train(pop, config.epochs)
    _, result, metrics = member_results(pop, prepared)[0]
    train, val, _ = train_val_test_split(
        digits, config.val_fraction, config.test_fraction, seed=config.data_seed
    )
    model = Model.create(config, train)
    model.fit(train, val)
    assert model.evaluate(train)["loss"] == pytest.approx(result["train_loss"], rel=1e-6)
    assert float(model.history.loss[-1][0]) == metrics[-1]["train_loss"]


def test_regrouping_moves_members_without_changing_them(prepared):
    configs = _configs(6, seed=4)
    straight = prepared.build(configs)
    prepared.train(straight, 2)
    groups = []
    for ids, part in (([0, 1, 2], configs[:3]), ([3, 4, 5], configs[3:])):
        pop = prepared.build(part)
        prepared.train(pop, 1)
        groups.append(pop.state())
    picks = [(1, 2), (0, 0), (1, 0)]  # members 5, 0, 3
    state = stack_states([select_state(groups[p], [k]) for p, k in picks])
    moved = [configs[5], configs[0], configs[3]]
    pop = Population.from_state(
        moved, prepared.n_features, prepared.n_classes, prepared.n_train, state
    )
    prepared.train(pop, 2)
    got, want = _results(pop, prepared), _results(straight, prepared)
    for new_k, old_k in enumerate([5, 0, 3]):
        assert got[new_k]["train_loss"] == want[old_k]["train_loss"]


def test_population_size_follows_memory():
    c = MemberCost.of(TrainConfig(hidden=(256, 256), batch_size=256), 784, 10, 1000)
    assert population_size(c, 1000, memory=int(c.bytes * 20)) == 10
    assert population_size(c, 1000, memory=c.bytes) == 1
    assert population_size(c, 7, memory=10**12) == 7
    assert population_size(c, 1000, cap=3, memory=10**12) == 3


def _tune(path, digits, **kw):
    settings = TuneSettings(
        data="digits",
        trials=kw.pop("trials", 8),
        space=kw.pop("space", SPACE),
        base=kw.pop("base", BASE),
        **kw,
    )
    study, settings = open_study(path, settings, resume=False)
    with study:
        return Tuner(study, settings, digits, executor="local").run()


def test_strategies_and_grouping_give_the_same_trials(tmp_path, digits):
    caviar = _tune(tmp_path / "c.db", digits, strategy="caviar")
    small = _tune(tmp_path / "s.db", digits, strategy="caviar", max_population=3)
    panda = _tune(tmp_path / "p.db", digits, strategy="panda", trials=3)
    for a, b in zip(caviar, small, strict=True):
        assert a.config == b.config and a.train_loss == b.train_loss and a.status == "finished"
    for a, b in zip(caviar[:3], panda, strict=True):
        assert a.config == b.config
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-6)


def test_coarse_to_fine_rounds_stay_inside_and_are_stored(tmp_path, digits):
    trials = _tune(tmp_path / "r.db", digits, strategy="caviar", trials=12, rounds=3)
    with Study(tmp_path / "r.db") as study:
        rounds = study.rounds()
    assert [r for r, _ in rounds] == [0, 1, 2]
    for _, space in rounds[1:]:
        assert 1e-4 <= space["lr"]["low"] <= space["lr"]["high"] <= 1.0
    assert {t.round for t in trials} == {0, 1, 2}
    assert best_trial(trials) is not None


def test_asynchronous_halving_prunes_at_rungs_recycles_rows_and_reproduces(tmp_path, digits):
    """Rungs at 1 and 2 epochs of 4; three rows for eight trials, so rows are recycled: a
    trial that started late records its order offset, and caviar train with its recorded
    configuration gives its numbers exactly; every trial is recorded once."""
    base = {**BASE, "epochs": 4, "dtype": "float64"}
    trials = _tune(
        tmp_path / "h.db",
        digits,
        strategy="caviar",
        trials=8,
        halving=2.0,
        base=base,
        max_population=3,
    )
    status = [t.status for t in trials]
    assert status.count("pruned") >= 4 and "pending" not in status and "running" not in status
    assert {t.epochs for t in trials if t.status == "pruned"} <= {1, 2}
    assert all(t.epochs == 4 for t in trials if t.status == "finished")
    assert trials[0].config["order_offset"] == 0  # the first rows start at the loop's start
    late = [t for t in trials if t.config["order_offset"] > 0]
    assert late, "no row was recycled"
    for t in [*late[:1], *[t for t in late if t.status == "finished"][:1]]:
        config = TrainConfig.from_dict(t.config).replace(epochs=t.epochs)
        ds_train, val, _ = sources.split(digits, config)
        model = Model.create(config, ds_train)
        model.fit(ds_train, val)
        assert float(model.history.val_loss[-1][0]) == t.val_loss
        assert (
            float(model.history.loss[0][0])
            == Study(tmp_path / "h.db").metrics(t.id)[0]["train_loss"]
        )


def test_a_diverging_member_is_recorded_and_its_population_completes(tmp_path, digits):
    base = {"hidden": [32, 32, 32], "batchnorm": False, "optimizer": "momentum", "epochs": 2}
    space = {"lr": {"dist": "log", "low": 1e-3, "high": 1e4}}
    trials = _tune(tmp_path / "d.db", digits, strategy="caviar", trials=8, base=base, space=space)
    status = {t.status for t in trials}
    assert status == {"finished", "diverged"}
    diverged = [t for t in trials if t.status == "diverged"]
    assert all(t.config["lr"] > 1 and t.diverged_step is not None for t in diverged)
    assert all(t.val_accuracy is not None for t in trials if t.status == "finished")


def test_a_study_refuses_to_start_twice_and_to_resume_nothing(tmp_path, digits):
    _tune(tmp_path / "x.db", digits, trials=2, strategy="caviar")
    with pytest.raises(StudyError, match="add --resume"):
        _tune(tmp_path / "x.db", digits, trials=2)
    with pytest.raises(StudyError, match="no such study file"):
        open_study(tmp_path / "missing.db", None, resume=True)
    assert not (tmp_path / "missing.db").exists()  # resuming never creates a study
    Study(tmp_path / "empty.db").close()
    with pytest.raises(StudyError, match="no tune to resume"):
        open_study(tmp_path / "empty.db", None, resume=True)


KILLABLE = textwrap.dedent("""
    import sys
    from caviar.data import load
    from caviar.tuning.tuner import Tuner, TuneSettings, open_study
    settings = TuneSettings(data="digits", trials=12, rounds=2, strategy="caviar",
                            max_population=1, space={space!r}, base={base!r})
    study, settings = open_study(sys.argv[1], settings, resume=False)
    Tuner(study, settings, load("digits")).run()
""")


def test_kill_9_then_resume_loses_nothing_and_finds_the_same_best(tmp_path, digits):
    base = {**BASE, "hidden": [128, 128], "epochs": 3}  # slow enough to be killed mid-way
    script = tmp_path / "tune.py"
    script.write_text(KILLABLE.format(space=SPACE, base=base))
    path = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, str(script), str(path)])
    try:
        finished_before = wait_for_finished(path, at_least=3, proc=proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Study(path) as study:
        snapshot = {t.id: t for t in study.trials(status=("finished", "diverged"))}
        assert len(snapshot) >= finished_before >= 3
        assert len(study.trials()) > len(snapshot) or len(study.rounds()) < 2
    study, settings = open_study(path, None, resume=True)
    with study:
        resumed = Tuner(study, settings, digits).run()
    assert all(t.status in ("finished", "diverged") for t in resumed)
    assert len(resumed) == 12
    for t in resumed:
        if t.id in snapshot:
            assert t.train_loss == snapshot[t.id].train_loss  # kept, not run again
    whole = _tune(
        tmp_path / "whole.db",
        digits,
        trials=12,
        rounds=2,
        strategy="caviar",
        max_population=1,
        base=base,
    )
    assert [t.config for t in whole] == [t.config for t in resumed]
    assert best_trial(whole).config == best_trial(resumed).config
    assert best_trial(whole).val_loss == best_trial(resumed).val_loss


def test_the_cost_model_stacks_until_the_fixed_per_step_cost_is_small():
    """Small members: as many as there are trials; mid-sized ones a few; large ones one or
    two. The choice depends on the shapes only (nothing timed), and the bounds win."""
    from caviar.tuning import cost

    small = MemberCost.of(TrainConfig(hidden=(16,), batch_size=32, epochs=1), 20, 3, 100)
    K, why = cost.choose_population_size(small, n_trials=8)
    assert K == 8 and "the trials' limit" in why
    mid = MemberCost.of(TrainConfig(hidden=(256, 256), batch_size=128), 40, 10, 1000)
    assert cost.model_population_size(mid) == 8  # row 8's tune
    K, why = cost.choose_population_size(mid, n_trials=64)
    assert K == 8 and "cost model" in why
    big = MemberCost.of(TrainConfig(hidden=(256, 256), batch_size=256), 784, 10, 1000)
    assert cost.model_population_size(big) in (1, 2)
    assert cost.choose_population_size(mid, n_trials=64, cap=3)[0] == 3
    K, why = cost.choose_population_size(mid, n_trials=64, memory=5 * mid.bytes)
    assert K == 2 and "memory" in why  # half of 5 members' worth


def test_a_trial_the_data_refuses_is_recorded_failed_and_the_tune_goes_on(tmp_path):
    iris = load("iris")  # 105 training rows: 2 steps an epoch at batch 64
    space = {"warmup_steps": {"dist": "int", "low": 0, "high": 3}, "schedule": "warmup_cosine"}
    trials = _tune(
        tmp_path / "f.db", iris, trials=8, space=space, base={"epochs": 1}, strategy="caviar"
    )
    failed = [t for t in trials if t.status == "failed"]
    assert failed and all(t.config["warmup_steps"] >= 2 for t in failed)
    assert all("warmup_steps" in t.error for t in failed)
    assert all(t.status == "finished" for t in trials if t.config["warmup_steps"] < 2)


# -- the study's vocabulary ------------------------------------------------------------------
def test_halving_still_runs_when_some_trials_cannot_be_built(tmp_path, digits):
    """Trials with more warm-up steps than the run has are recorded failed, with the reason;
    the others are still halved (pruned), never silently run plainly."""
    space = {
        "warmup_steps": {"dist": "choice", "choices": [0, 100000]},
        "lr": {"dist": "log", "low": 1e-3, "high": 1e-2},
    }
    base = {**BASE, "epochs": 4, "schedule": "warmup_cosine"}
    trials = _tune(
        tmp_path / "f.db", digits, strategy="caviar", trials=8, halving=2.0, base=base, space=space
    )
    failed = [t for t in trials if t.status == "failed"]
    rest = [t for t in trials if t.status != "failed"]
    assert failed and all(t.config["warmup_steps"] == 100000 for t in failed)
    assert all("warmup_steps" in t.error for t in failed)
    assert all(t.config["warmup_steps"] == 0 for t in rest)
    assert any(t.status == "pruned" for t in rest)


def test_a_finished_trial_is_never_written_again(tmp_path, digits):
    from caviar.tuning.study import Status

    trials = _tune(tmp_path / "w.db", digits, strategy="caviar", trials=2)
    with Study(tmp_path / "w.db") as study:
        with pytest.raises(StudyError, match=r"trial \d+ is already finished"):
            study.finish(trials[0].id, Status.FAILED, {"error": "again"}, [])
        with pytest.raises(StudyError, match="finishes as one of"):
            study.finish(trials[1].id, "running", {}, [])
        assert study.trials(id=trials[0].id)[0].status == Status.FINISHED


def test_counts_name_every_status_and_best_is_the_one_ranking(tmp_path, digits):
    from caviar.tuning.study import Status

    space = {"warmup_steps": {"dist": "choice", "choices": [0, 100000]}}
    base = {**BASE, "epochs": 1, "schedule": "warmup_cosine"}
    trials = _tune(tmp_path / "c.db", digits, strategy="caviar", trials=6, base=base, space=space)
    with Study(tmp_path / "c.db") as study:
        counts = study.counts()
        assert list(counts) == list(Status) and sum(counts.values()) == 6
        assert counts[Status.FAILED] == sum(t.status == "failed" for t in trials) > 0
        assert study.best(1) == [best_trial(trials)]
        assert all(t.status.is_final for t in study.trials())


def test_a_study_written_before_the_slots_column_reads_and_gains_it(tmp_path):
    """Studies written before sessions recorded their workers read as one worker each."""
    import sqlite3

    from caviar.tuning.study import SCHEMA, Study

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace(",\n    slots INTEGER", ""))
        db.execute("INSERT INTO sessions (started, seconds, train_seconds) VALUES (0, 10, 9)")
    with Study(path, readonly=True) as s:
        spent = s.time_spent()
    assert (spent.wall, spent.training, spent.capacity, spent.workers) == (10, 9, 10, 1)
    with Study(path) as s:
        session = s.start_session()
        s.end_session(session, 5.0, 8.0, slots=2)
        spent = s.time_spent()
    assert (spent.wall, spent.training, spent.capacity) == (15, 17, 20)
    assert "on 1.33 workers" in spent.sentence() and "17.0 s training (85 %)" in spent.sentence()


def test_halving_rungs_grow_by_eta_from_min_epochs_below_the_full_run():
    from caviar.tuning import halving

    assert halving.rungs(20, 3) == [1, 3, 9]
    assert halving.rungs(8, 2) == [1, 2, 4]
    assert halving.rungs(20, 3, min_epochs=2) == [2, 6, 18]
    assert halving.rungs(1, 2) == []


def test_a_member_goes_on_when_it_is_in_the_best_of_those_that_reached_its_rung():
    from caviar.tuning.halving import Ladder

    ladder = Ladder(eta=2, rungs=[1, 3])
    assert ladder.goes_on(2, 9.0)  # off the rungs
    assert ladder.goes_on(1, 0.5)  # the first arrival: max(1, ⌊1/2⌋) = 1
    assert not ladder.goes_on(1, 0.7)  # second of 2: the best 1
    assert ladder.goes_on(1, 0.1)  # first of 3: the best 1
    assert ladder.goes_on(1, 0.4)  # second of 4: the best 2
    assert not ladder.goes_on(1, None)  # a missing loss is the worst
    assert ladder.goes_on(1, 0.4)  # third of 6 (an earlier equal loss ranks first): best 3
    assert not ladder.goes_on(1, 0.4)  # fourth of 7: the best 3
    assert ladder.seen[1][4] == float("inf")


def test_batch_norm_s_position_is_searched_as_a_choice_and_each_trial_trains_as_its_own(
    tmp_path, digits
):
    """A shape field: the two positions train in different populations, and each trial's
    numbers are those of its configuration trained alone."""
    from caviar.model import Model
    from caviar.sources import split

    space = {
        "lr": {"dist": "log", "low": 1e-3, "high": 1e-1},
        "bn_position": {"dist": "choice", "choices": ["before", "after"]},
    }
    settings = TuneSettings(
        data="digits", trials=6, space=space, base={"hidden": [16], "epochs": 2},
        strategy="caviar", seed=3,
    )  # fmt: skip
    study, settings = open_study(tmp_path / "s.db", settings, resume=False)
    with study:
        trials = Tuner(study, settings, digits).run()
    assert {t.config["bn_position"] for t in trials} == {"before", "after"}
    for t in trials[:2]:
        config = TrainConfig.from_dict(t.config)
        train, val, _ = split(digits, config)
        model = Model.create(config, train)
        model.fit(train, val)
        assert model.history.val_loss[-1][0] == pytest.approx(t.val_loss, rel=1e-6)
