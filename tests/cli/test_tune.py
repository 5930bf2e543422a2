"""`caviar tune` and `caviar study show` from the shell."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli.conftest import last_json

SPACE = """
[space]
lr = { dist = "log", low = 1e-4, high = 1.0 }
beta1 = { dist = "one_minus_log", low = 0.9, high = 0.999 }
"""


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    from click.testing import CliRunner

    from caviar.cli.main import main

    tmp = tmp_path_factory.mktemp("tune")
    space = tmp / "space.toml"
    space.write_text(SPACE)
    study = tmp / "study.db"
    args = [
        "tune",
        "--data",
        "digits",
        "--trials",
        "9",
        "--rounds",
        "3",
        "--space",
        str(space),
        "--epochs",
        "2",
        "--hidden",
        "32",
        "--study",
        str(study),
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return last_json(result), study, tmp


def test_tune_prints_the_json_summary(tuned):
    out, study, _ = tuned
    assert set(out) >= {"best", "trials", "rounds", "seconds"}
    assert len(out["trials"]) == 9 and len(out["rounds"]) == 3
    assert out["rounds"][0]["space"]["lr"] == {"dist": "log", "low": 1e-4, "high": 1.0}
    for t in out["trials"]:
        assert {"config", "seed", "train_loss", "val_accuracy", "status"} <= set(t)
        assert t["seed"] == t["config"]["seed"]
    best = out["best"]
    assert best["val_loss"] == min(t["val_loss"] for t in out["trials"] if t["val_loss"])
    assert 0 < best["val_accuracy"] <= 1


def test_any_trial_reproduces_with_caviar_train(cli, tuned):
    out, _, tmp = tuned
    for trial in (out["trials"][0], out["trials"][-1]):
        config = tmp / f"trial{trial['id']}.toml"
        config.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in trial["config"].items()))
        train = last_json(cli("train --data digits --json --config", config))
        assert train["config"] == trial["config"]
        assert train["train_loss"] == pytest.approx(trial["train_loss"], rel=1e-6)
        assert train["val_accuracy"] == pytest.approx(trial["val_accuracy"], rel=1e-6)


def test_study_show(cli, tuned):
    _, study, _ = tuned
    text = cli("study show", study).stdout
    assert "best trials" in text and "round 3 space" in text and "tuner's own work" in text
    shown = json.loads(cli("study show --json", study).stdout)
    assert shown["counts"]["finished"] + shown["counts"]["diverged"] == 9
    assert shown["train_seconds"] <= shown["seconds"] == shown["worker_seconds"]


@pytest.mark.slow
def test_a_processes_study_shows_worker_seconds_never_a_negative_overhead(cli, tmp_path):
    """Two workers train at once, so their training seconds add up to more than the wall
    time; the figures are worker-seconds against the wall time times the workers."""
    study = tmp_path / "p.db"
    args = "tune --data digits --trials 16 --epochs 30 --hidden 64,64 --max-population 2"
    cli(args, "--executor processes --workers 2 --study", study)
    shown = json.loads(cli("study show --json", study).stdout)
    assert shown["worker_seconds"] == pytest.approx(2 * shown["seconds"])
    assert 0 < shown["train_seconds"] <= shown["worker_seconds"]
    line = next(x for x in cli("study show", study).stdout.splitlines() if x.startswith("time:"))
    assert "on 2 workers" in line and "worker-seconds" in line, line
    assert not re.search(r"-\d", line), line  # no negative figure
    from caviar.report.study import study_page

    html = study_page(study, test=False).render()
    assert "on 2 workers" in html and "worker-seconds" in html


def test_resume_a_finished_study_runs_nothing_more(cli, tuned):
    out, study, _ = tuned
    again = last_json(cli("tune --json --resume --study", study))
    assert [t["train_loss"] for t in again["trials"]] == [t["train_loss"] for t in out["trials"]]


@pytest.mark.parametrize(
    "args, message",
    [
        ("tune --data digits", "needs --data and --trials"),
        ("tune --resume", "needs --study"),
        ("tune --data nowhere --trials 2", "neither a bundled data set"),
        ("tune --data digits --trials 2 --rounds 3", "'rounds' parameter must be in"),
        ("study show missing.db", "no such study file"),
    ],
)
def test_errors_are_one_line(cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = cli(args, code=2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_space_names_the_entry(cli, tmp_path):
    space = tmp_path / "bad.toml"
    space.write_text('[space]\nlr = { dist = "log", low = 0, high = 1 }\n')
    result = cli("tune --data iris --trials 2 --space", space, "--study", tmp_path / "s.db", code=2)
    assert "'lr'" in result.stderr and "Traceback" not in result.stderr


def test_a_started_study_asks_for_resume(cli, tmp_path):
    study = tmp_path / "s.db"
    cli("tune --data iris --trials 2 --epochs 1 --study", study)
    result = cli("tune --data iris --trials 2 --epochs 1 --study", study, code=2)
    assert "--resume" in result.stderr


def test_resume_refuses_flags_that_would_change_the_tune(cli, tuned):
    _, study, _ = tuned
    result = cli("tune --resume --trials 64 --epochs 9 --study", study, code=2)
    assert "--trials" in result.stderr and "--epochs" in result.stderr


def test_a_bad_target_leaves_no_study_behind(cli, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    study = tmp_path / "s.db"
    result = cli("tune --data", csv, "--target nope --trials 2 --study", study, code=2)
    assert "nope" in result.stderr
    assert not study.exists() or "trials" not in study.read_bytes().decode("latin-1")


def test_a_foreign_sqlite_file_is_left_alone(cli, tmp_path):
    import sqlite3

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (x TEXT)")
    result = cli("study show", path, code=2)
    assert "not a caviar study" in result.stderr
    with sqlite3.connect(path) as db:
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"notes"}


def test_a_bad_base_value_is_refused_before_a_study_is_written(cli, tmp_path):
    for flags in ("--lr -1", "--batch-size 0", "--epochs 0", "--optimizer sgd"):
        err = cli("tune --data iris --trials 2 --study", tmp_path / "s.db", flags, code=2).stderr
        assert err.startswith("caviar: error:") and "Traceback" not in err, flags
        assert not (tmp_path / "s.db").exists(), flags


def test_study_show_counts_failed_trials(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nwarmup_steps = { dist = "choice", choices = [0, 100000] }\n')
    cli(
        "tune --data iris --trials 6 --epochs 1 --schedule warmup_cosine --strategy caviar",
        "--space",
        space,
        "--study",
        tmp_path / "s.db",
    )
    shown = last_json(cli("study show", tmp_path / "s.db", "--json"))
    assert sum(shown["counts"].values()) == 6 and shown["counts"]["failed"] > 0
    text = cli("study show", tmp_path / "s.db").stdout
    assert f"{shown['counts']['failed']} failed" in text


def test_the_tune_says_what_it_searches_and_what_it_holds_fixed(tmp_path):
    """A tune that disappoints against one run must say what it did not search."""
    from click.testing import CliRunner

    from caviar.cli.main import main
    from caviar.report.study import study_page

    study = tmp_path / "s.db"
    args = ["tune", "--data", "iris", "--trials", "4", "--epochs", "2", "--hidden", "8"]
    result = CliRunner().invoke(main, [*args, "--study", str(study)])
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "searching lr log [0.0001, 1]; beta1 one_minus_log [0.9, 0.999]; " in err
    assert "keep_prob uniform [0.5, 1]" in err  # the default space includes dropout
    fixed = next(x for x in err.splitlines() if x.startswith("held fixed: "))
    assert "hidden 8, " in fixed and "epochs 2" in fixed and "optimizer adam" in fixed
    assert "decay_rate" not in fixed and "seed" not in fixed  # unused and bookkeeping
    html = study_page(study, test=False).render()
    assert "Held fixed for every trial: hidden 8, " in html and "Searched: lr log" in html
