"""Bare groups print their help; a foreign SQLite file is refused untouched; --config reads JSON."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tests.cli.conftest import last_json


@pytest.mark.parametrize("args, heading", [("", "Train, evaluate and use"), ("study", "study")])
def test_a_group_without_a_command_prints_its_help_and_exits_0(cli, args, heading):
    result = cli(args) if args else cli()
    assert heading in result.stdout and "Commands:" in result.stdout
    assert "error" not in result.stderr


def _optuna_like(path):
    """The tables Optuna's storage creates (a 'trials' table among them), with a row."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT)")
        db.execute("CREATE TABLE trials (trial_id INTEGER PRIMARY KEY, number INTEGER, state TEXT)")
        db.execute("CREATE TABLE version_info (version_info_id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO trials VALUES (1, 0, 'COMPLETE')")
    return hashlib.sha256(path.read_bytes()).hexdigest()


TUNE = "tune --data iris --trials 2 --epochs 1 --study"


@pytest.mark.parametrize("command", [TUNE, "study show"])
def test_an_optuna_file_is_refused_before_anything_is_written(cli, tmp_path, command):
    path = tmp_path / "optuna.db"
    digest = _optuna_like(path)
    result = cli(command, path, code=2)
    assert "not a caviar study but an Optuna study" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "optuna.db-wal").exists()


def test_a_new_study_is_marked_as_caviars(cli, tmp_path):
    from caviar.tuning.study import APPLICATION_ID

    path = tmp_path / "s.db"
    cli("tune --data iris --trials 2 --epochs 1 --study", path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID


def test_config_reads_the_json_that_train_prints(cli, tmp_path):
    first = last_json(cli("train --data iris --epochs 3 --lr 0.01 --hidden 16 --json"))
    path = tmp_path / "run.json"
    path.write_text(json.dumps(first["config"]))
    again = last_json(cli("train --data iris --json --config", path))
    assert again["config"] == first["config"]
    for key in ("val_loss", "test_accuracy"):
        assert again[key] == first[key]


def test_a_bad_json_config_is_one_line(cli, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{lr: 1")
    result = cli("train --data iris --config", path, code=2)
    assert "not valid JSON" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_train_and_tune_write_a_report_at_the_end(cli, tmp_path):
    model_page, study_page = tmp_path / "m.html", tmp_path / "s.html"
    cli("train --data iris --epochs 2 --hidden 8 --report", model_page)
    assert "<h2>Confusion matrix" in model_page.read_text()
    cli(
        "tune --data iris --trials 2 --epochs 1 --hidden 8 --study",
        tmp_path / "s.db",
        "--report",
        study_page,
    )
    assert "<h2>Every trial" in study_page.read_text()


def test_the_tune_names_the_most_accurate_trial_and_the_searched_values(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[space]\ndecay_rate = { dist = "log", low = 1e-3, high = 1.0 }\n')
    out = cli(
        "tune --data iris --trials 6 --epochs 2 --hidden 8 --space",
        space,
        "--study",
        tmp_path / "s.db",
    ).stdout
    assert "best (lowest val_loss): trial" in out and "decay_rate=" in out and "eps=" not in out


def test_report_refuses_an_optuna_file_untouched(cli, tmp_path):
    path = tmp_path / "optuna.db"
    digest = _optuna_like(path)
    result = cli("report", path, "--out", tmp_path / "r.html", code=2)
    assert "not a caviar study" in result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "r.html").exists()


def test_an_empty_database_is_not_read_as_a_study(cli, tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    result = cli("study export", path, "--csv", tmp_path / "x.csv", code=2)
    assert "empty database" in result.stderr and not (tmp_path / "x.csv").exists()


def test_resume_takes_report(cli, tmp_path):
    study, page = tmp_path / "s.db", tmp_path / "r.html"
    cli("tune --data iris --trials 2 --epochs 1 --hidden 8 --study", study)
    cli("tune --resume --study", study, "--report", page)
    assert "<h2>Every trial" in page.read_text()


def test_without_plotly_report_flags_fail_before_training(cli, tmp_path, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "plotly" or m.startswith("plotly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)  # import plotly raises ImportError
    result = cli(
        "train --data iris --epochs 1 --save",
        tmp_path / "m.npz",
        "--report",
        tmp_path / "r.html",
        code=2,
    )
    assert "pip install 'caviar-nn[report]'" in result.stderr
    assert list(tmp_path.iterdir()) == []
