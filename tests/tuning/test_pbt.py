"""Population-based training: the policy (who copies whom, perturbations on each scale, the
schedule a lineage gives), and the tune: every member equals its schedule replayed alone,
the lineage is recorded, the run is reproducible, the best are kept, bad options are one
line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from caviar.config import TrainConfig
from caviar.data import load
from caviar.model import Model
from caviar.train.population import Population
from caviar.tuning import pbt
from caviar.tuning.pbt import Event, Segment
from caviar.tuning.space import Dimension, SearchSpace
from caviar.tuning.study import Study
from caviar.tuning.trials import Prepared
from caviar.tuning.tuner import Tuner, TuneSettings, open_study
from tests.cli.conftest import cli  # noqa: F401  (the fixture)
from tests.studies import trial_numbers

SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 0.3},
    "beta1": {"dist": "one_minus_log", "low": 0.8, "high": 0.999},
}
BASE = {"hidden": [16], "epochs": 6, "batch_size": 64, "dtype": "float64", "keep_prob": 1.0}
SETTINGS = dict(trials=8, strategy="caviar", pbt=True, pbt_interval=2, keep=8)


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _tune(path, data, executor="local", **kw):
    settings = TuneSettings(
        data="digits", space=kw.pop("space", SPACE), base=kw.pop("base", BASE), **SETTINGS | kw
    )
    study, settings = open_study(path, settings, resume=False)
    with study:
        Tuner(study, settings, data, executor=executor).run()
    return path


@pytest.fixture(scope="module")
def tuned(digits, tmp_path_factory):
    return _tune(tmp_path_factory.mktemp("pbt") / "s.db", digits)


# -- the policy --------------------------------------------------------------------------------
def test_the_bottom_quarter_copies_the_top_quarter_diverged_members_last():
    losses = [0.5, None, 0.1, 0.9, 0.3, math.nan, 0.2, 0.7]
    got = pbt.pairs(losses, 0.25, np.random.default_rng(0))
    assert [b for b, _ in got] == [1, 5]  # ⌈0.25 · 8⌉ = 2: the diverged are the worst
    assert {t for _, t in got} <= {2, 6}
    more = pbt.pairs([0.5, None, 0.1, None, None, 0.2], 0.25, np.random.default_rng(0))
    assert [b for b, _ in more] == [3, 4, 1]  # every diverged member is replaced
    assert {t for _, t in more} <= {2, 5}
    assert pbt.pairs([None, None], 0.5, np.random.default_rng(0)) == []  # nobody to copy
    assert pbt.pairs([0.1, 0.2, 0.3], 0.5, np.random.default_rng(0)) == [(2, 0)]  # ≤ n/2
    assert pbt.pairs([0.1], 0.5, np.random.default_rng(0)) == []


def test_a_perturbation_is_on_the_dimension_s_own_scale_and_clipped():
    lr = Dimension("lr", "log", 1e-4, 1.0)
    assert pbt.perturb(lr, 1e-2, 1.25) == pytest.approx(1.25e-2)
    assert pbt.perturb(lr, 0.9, 1.25) == 1.0  # clipped to the space
    beta = Dimension("beta1", "one_minus_log", 0.9, 0.999)
    assert 1 - pbt.perturb(beta, 0.99, 0.8) == pytest.approx(0.008)  # 1 − β × 0.8
    assert 1 - pbt.perturb(beta, 0.99, 1.25) == pytest.approx(0.0125)
    assert pbt.perturb(beta, 0.9989, 0.8) == 0.999
    keep = Dimension("keep_prob", "uniform", 0.5, 1.0)
    assert pbt.perturb(keep, 0.6, 0.8) == pytest.approx(0.5)
    patience = Dimension("plateau_patience", "int", 1, 10)
    assert pbt.perturb(patience, 2, 1.25) == 3  # an integer always moves
    assert pbt.perturb(patience, 2, 0.8) == 1


def test_explore_moves_every_searched_member_field_and_resamples_a_choice_now_and_then():
    dims = (
        Dimension("lr", "log", 1e-4, 1.0),
        Dimension("keep_prob", "choice", choices=(0.5, 0.8, 1.0)),
    )
    config = TrainConfig(lr=1e-2, keep_prob=0.8)
    rng = np.random.default_rng(0)
    seen = [pbt.explore(config, dims, rng) for _ in range(400)]
    assert {round(c.lr / 1e-2, 6) for c in seen} == {0.8, 1.25}
    changed = sum(c.keep_prob != 0.8 for c in seen) / len(seen)
    assert 0.1 < changed < 0.25  # resampled with probability 0.25, a third of it the same
    again = [pbt.explore(config, dims, np.random.default_rng(0)) for _ in range(2)]
    assert again[0] == again[1] == seen[0]


def test_only_per_member_fields_are_explored_and_a_space_without_them_is_refused():
    space = SearchSpace.from_dict(
        {**SPACE, "hidden": {"dist": "choice", "choices": [[16], [32]]}, "seed": 3}
    )
    assert [d.name for d in pbt.explored(space)] == ["lr", "beta1"]
    why = pbt.refusal(SearchSpace.from_dict({"hidden": {"dist": "choice", "choices": [[8], [16]]}}))
    assert "searches none" in why and "hidden" in why and "lr" in why
    assert pbt.default_interval(20) == 4 and pbt.default_interval(3) == 1


def test_a_schedule_follows_the_weights_back_through_the_parents():
    events = {
        2: [Event(2, 4, 1, {"lr": 0.2}, {"lr": 0.125})],
        3: [
            Event(3, 2, 1, {"lr": 0.3}, {"lr": 0.08}),
            Event(3, 6, 2, {"lr": 0.08}, {"lr": 0.1}),
        ],
    }
    current = {1: {"lr": 0.1}, 2: {"lr": 0.125}, 3: {"lr": 0.1}}
    assert pbt.schedule(3, 8, events, current) == [
        Segment(0, 4, {"lr": 0.1}, 1),  # 2 copied 1 at epoch 4: 1's weights until then
        Segment(4, 6, {"lr": 0.125}, 2),
        Segment(6, 8, {"lr": 0.1}, 3),
    ]
    assert pbt.schedule(1, 8, events, current) == [Segment(0, 8, {"lr": 0.1}, 1)]
    assert pbt.schedule(2, 8, events, current)[0] == Segment(0, 4, {"lr": 0.1}, 1)


# -- the tune ------------------------------------------------------------------------------------
def test_every_member_equals_its_hyperparameter_schedule_replayed_alone(tuned, digits):
    """The exploit takes the parent's weights *and* state (Ray Tune once kept a member's own
    weights with the winner's hyperparameters): replaying each final member's schedule
    alone, segment by segment from the root's seed, gives its kept model to the bit."""
    with Study(tuned, readonly=True) as s:
        schedules = pbt.member_schedules(s)
        trials = {t.id: t for t in s.trials()}
        copied = {e.trial for es in s.lineage().values() for e in es}
    assert len(schedules) == 8 and copied  # somebody copied somebody
    for trial_id, segments in schedules.items():
        final = TrainConfig.from_dict(trials[trial_id].config)
        root = TrainConfig.from_dict(trials[segments[0].trial].config)
        data = Prepared.from_dataset(digits, final)
        pop = None
        for g in segments:
            config = (root if pop is None else final).replace(**g.values)
            shape = (data.n_features, data.n_classes, data.n_train)
            pop = (
                Population.build([config], *shape, backend="numpy")
                if pop is None
                else Population.from_state([config], *shape, pop.state(), backend="numpy")
            )
            data.train(pop, g.end)
        kept = Model.load(f"{tuned}.models/trial-{trial_id}.npz").pop
        for name, v in kept.net.state_arrays().items():
            np.testing.assert_array_equal(pop.net.state_arrays()[name], v, err_msg=name)
        assert kept.configs[0] == final


def test_the_lineage_and_last_hyperparameters_are_recorded(tuned):
    with Study(tuned, readonly=True) as s:
        lineage, trials = s.lineage(), {t.id: t for t in s.trials()}
    events = [e for es in lineage.values() for e in es]
    assert {e.epoch for e in events} == {2, 4}  # interval 2 over 6 epochs: 2 exploits
    assert sum(e.epoch == 2 for e in events) == 2  # ⌈0.25 · 8⌉ members each time
    for e in events:
        assert e.parent != e.trial and set(e.before) == set(e.after) == {"lr", "beta1"}
        ratio = e.after["lr"] / trials[e.parent].config["lr"]
        last = lineage[e.trial][-1]
        if last is e and e.parent not in lineage:  # the parent never changed since
            assert min(abs(ratio - 0.8), abs(ratio - 1.25)) < 1e-12
            assert trials[e.trial].config["lr"] == e.after["lr"]
    assert all(t.status == "finished" and t.epochs == 6 for t in trials.values())


def test_a_pbt_tune_is_reproducible(tuned, digits, tmp_path):
    again = _tune(tmp_path / "again.db", digits)
    assert trial_numbers(again) == trial_numbers(tuned)
    with Study(again, readonly=True) as a, Study(tuned, readonly=True) as b:
        assert a.lineage() == b.lineage()


def test_study_show_prints_the_schedule_and_the_report_draws_it(cli, tuned, tmp_path):  # noqa: F811
    with Study(tuned, readonly=True) as s:
        copied = next(iter(s.lineage()))
    text = cli("study show", tuned, "--trial", copied).stdout
    assert "population-based training" in text and "#   epochs 0-" in text
    assert "trial" in text.splitlines()[3] and "lr=" in text and "beta1=" in text
    report = tmp_path / "r.html"
    cli("report", tuned, "--no-test --out", report)
    html = report.read_text()
    assert "each member&#x27;s hyperparameter schedule" in html or "hyperparameter schedule" in html
    assert "final val acc" in html


def test_the_best_members_are_kept_with_their_last_hyperparameters(tuned):
    with Study(tuned, readonly=True) as s:
        best = s.best(1)[0]
    model = Model.load(f"{tuned}.models/trial-{best.id}.npz")
    assert model.config.to_dict() == best.config


@pytest.mark.parametrize(
    "args, message",
    [
        ("--pbt --pbt-interval 0", "Invalid value for '--pbt-interval': 0 is not in the range"),
        ("--pbt --pbt-fraction 0.7", "'--pbt-fraction': 0.7 is not in the range 0<x<=0.5"),
        ("--pbt-interval 2", "--pbt-interval sets population-based training: add --pbt"),
        ("--pbt --halving 3", "does not combine with --halving"),
        ("--pbt --strategy panda", "does not combine with --strategy panda"),
        ("--pbt --space {hidden}", "--pbt perturbs searched per-member hyperparameters"),
    ],
)
def test_bad_pbt_options_are_one_line_with_status_2(cli, tmp_path, args, message):  # noqa: F811
    shape = tmp_path / "shape.toml"
    shape.write_text('[space]\nhidden = { dist = "choice", choices = [[8], [16]] }\n')
    args = args.replace("{hidden}", str(shape))
    study = tmp_path / "s.db"
    result = cli("tune --data iris --trials 4 --epochs 2", args, "--study", study, code=2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not study.exists()


def test_python_gets_the_same_refusals():
    import caviar
    from caviar.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"'pbt_fraction' parameter must be in \(0, 0.5\]"):
        caviar.tune("iris", trials=4, epochs=2, pbt=True, pbt_fraction=0.7, verbose=False)
    with pytest.raises(InvalidArgument, match="'pbt_interval' parameter must be an integer"):
        caviar.tune("iris", trials=4, epochs=2, pbt=True, pbt_interval=0, verbose=False)


def test_caviar_tune_with_pbt_from_the_command_line_and_python(cli, tmp_path):  # noqa: F811
    import caviar

    out = cli(
        "tune --data iris --trials 6 --epochs 4 --pbt --pbt-interval 1 --json --study",
        tmp_path / "c.db",
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(summary["trials"]) == 6 and "population-based training, epoch 3/4" in out.stderr
    got = caviar.tune("iris", trials=6, epochs=4, pbt=True, pbt_fraction=0.5, verbose=False)
    with Study(got.path, readonly=True) as s:
        assert {len(es) for es in s.lineage().values()} and s.settings()["tune"]["pbt"]


def test_a_diverged_member_takes_a_living_member_s_row_and_trains_on(digits, tmp_path):
    """α up to 1e4 makes some members diverge in the first epoch; at the exploit each takes a
    copy of a top member (beyond the bottom quarter if need be) and trains on from it."""
    space = {"lr": {"dist": "log", "low": 1e-3, "high": 1e4}}
    base = {**BASE, "hidden": [32, 32, 32], "batchnorm": False, "optimizer": "momentum"}
    base = {**base, "dtype": "float32", "epochs": 3}
    path = _tune(tmp_path / "d.db", digits, space=space, base=base, pbt_interval=1, keep=0)
    with Study(path, readonly=True) as s:
        metrics = {t.id: s.metrics(t.id) for t in s.trials()}
        at_1 = {t for t, es in s.lineage().items() if es[0].epoch == 1}
    diverged = [i for i, m in metrics.items() if m[0]["val_loss"] is None]
    assert diverged, "no member diverged in the first epoch: the test needs one"
    assert set(diverged) <= at_1
    assert all(metrics[i][1]["val_loss"] is not None for i in diverged)  # alive again


def test_searched_shapes_make_separate_populations_that_copy_only_within_themselves(
    digits, tmp_path
):
    space = {**SPACE, "hidden": {"dist": "choice", "choices": [[8], [16]]}}
    path = _tune(tmp_path / "h.db", digits, space=space, trials=12)
    with Study(path, readonly=True) as s:
        hidden = {t.id: tuple(t.config["hidden"]) for t in s.trials()}
        events = [e for es in s.lineage().values() for e in es]
        assert [d.name for d in pbt.explored(s.space())] == ["lr", "beta1"]
    assert events and all(hidden[e.trial] == hidden[e.parent] for e in events)
    assert {len({h for h in hidden.values()})} == {2}
