"""``caviar experiment``: the list, a run's verdict line and files, and its errors."""

from __future__ import annotations

import json

from caviar.experiments import names
from tests.extras import require


def test_list_names_every_experiment_with_its_claim(cli):
    lines = cli("experiment --list").stdout.splitlines()
    assert [line.split()[0] for line in lines] == names()
    assert all(len(line.split()) > 3 for line in lines)


def test_a_run_prints_the_verdict_that_its_json_holds(cli, tmp_path):
    require("matplotlib")
    result = cli("experiment", "decay", "--quick", "--seed", 3, "--out", tmp_path / "o")
    record = json.loads((tmp_path / "o" / "decay.json").read_text())
    assert result.stdout == record["verdict"] + "\n"
    assert record["seed"] == 3
    assert (tmp_path / "o" / "decay.png").stat().st_size > 5_000
    assert "wrote" in result.stderr


def test_errors_are_one_line_with_status_2(cli, monkeypatch, tmp_path):
    for args, words in (
        ("experiment nope", "There is no experiment 'nope'; choose one of decay"),
        ("experiment", "Name an experiment"),
        ("experiment decay --seed -1", "--seed"),
    ):
        err = cli(args, "--out", tmp_path, code=2).stderr
        assert err.startswith("caviar: error: ") and words in err and err.count("\n") == 1
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    err = cli("experiment decay --out", tmp_path, code=2).stderr
    assert err == (
        "caviar: error: The experiments draw their plots with matplotlib, which is not "
        "installed; pip install 'caviar-nn[experiments]'\n"
    )
