"""The command's surface: version, help generated from TrainConfig, a light import, errors."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

import caviar
from caviar.config import TrainConfig


def test_version(cli):
    assert cli("--version").stdout == f"caviar {caviar.__version__}\n"


def test_help_lists_the_commands(cli):
    out = cli("--help").stdout
    for command in ("train", "evaluate", "predict", "resume"):
        assert command in out


def test_train_has_one_flag_per_config_field_with_its_help(cli):
    out = " ".join(cli("train", "--help").stdout.split())
    for f in fields(TrainConfig):
        flag = f.name.replace("_", "-")
        assert f"--{flag}" in out
        assert " ".join(f.metadata["help"].split()) in out
    assert "--batchnorm / --no-batchnorm" in out


def test_resume_help_takes_its_flags_from_the_config_fields(cli):
    out = " ".join(cli("resume", "--help").stdout.split())
    for name in ("lr", "schedule", "epochs"):
        assert {f.name: f for f in fields(TrainConfig)}[name].metadata["help"] in out


def test_the_command_module_loads_neither_sklearn_nor_the_model_and_caviar_not_the_cli():
    code = (
        "import sys, caviar; assert 'click' not in sys.modules and 'rich' not in sys.modules;"
        "import caviar.cli.main; assert 'sklearn' not in sys.modules, 'sklearn';"
        "assert 'caviar.model' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _write(path, text: str, binary: bool = False):
    path.write_bytes(text.encode()) if binary else path.write_text(text)
    return path


ERRORS = {
    "unknown option": lambda t: ["train", "--data", "iris", "--lrr", "0.1"],
    "not a number": lambda t: ["train", "--data", "iris", "--lr", "fast"],
    "bad hidden": lambda t: ["train", "--data", "iris", "--hidden", "32,x"],
    "bad value": lambda t: ["train", "--data", "iris", "--lr", "-1"],
    "unknown optimizer": lambda t: ["train", "--data", "iris", "--optimizer", "sgdd"],
    "missing --data": lambda t: ["train"],
    "unknown data set": lambda t: ["train", "--data", "irises"],
    "unreadable data": lambda t: [
        "train",
        "--data",
        _write(t / "ragged.csv", "a,b,label\n1,2,x\n3,y\n"),
    ],
    "target on a bundled set": lambda t: ["train", "--data", "iris", "--target", "x"],
    "missing config": lambda t: ["train", "--data", "iris", "--config", t / "none.toml"],
    "unknown config key": lambda t: [
        "train",
        "--data",
        "iris",
        "--config",
        _write(t / "c.toml", "learning_rate = 0.1\n"),
    ],
    "corrupt model": lambda t: ["evaluate", _write(t / "m.npz", "PK\x03\x04 not really")],
    "missing model": lambda t: ["predict", t / "none.npz", "--data", "iris"],
    "bad split": lambda t: ["evaluate", t / "m.npz", "--split", "half"],
}


@pytest.mark.parametrize("case", ERRORS)
def test_an_error_is_one_line_on_stderr_with_exit_status_2(cli, tmp_path, case):
    result = cli(*ERRORS[case](tmp_path), code=2)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("caviar: error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(cli):
    result = cli("--debug", "train", "--data", "irises", code=2)
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("caviar: error: ")


def test_an_error_in_a_real_process_is_one_line_and_status_2():
    run = subprocess.run(
        [sys.executable, "-m", "caviar.cli", "train", "--data", "irises"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("caviar: error: 'irises'")
