"""caviar train: the JSON result, configuration files, CSV data and what it shows while training."""

from __future__ import annotations

import io
import os

import numpy as np
from rich.console import Console

from caviar.cli import live
from caviar.config import TrainConfig
from caviar.data import load
from caviar.model import Model
from tests.cli.conftest import last_json, to_toml

RESULT_KEYS = {
    "train_loss",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "epochs",
    "seconds",
    "diverged",
    "diverged_at",
    "config",
    "data",
}


def test_default_configuration_trains_digits_to_096(cli, tmp_path):
    result = cli("train", "--data", "digits", "--json", "--save", tmp_path / "m.npz")
    r = last_json(result)
    assert RESULT_KEYS <= set(r)
    assert r["test_accuracy"] >= 0.96
    assert r["epochs"] == 20 and r["diverged"] is False and r["diverged_at"] is None
    assert r["config"] == TrainConfig().to_dict()
    assert r["data"] == "digits"
    assert r["saved"] == str(tmp_path / "m.npz")
    assert Model.load(tmp_path / "m.npz").source == {"data": "digits", "target": None}


def test_without_json_a_short_summary(cli):
    out = cli("train", "--data", "iris", "--hidden", "8", "--epochs", "2").stdout
    assert out.startswith("iris: test accuracy ")
    assert "2 epochs" in out


def test_the_json_configuration_reproduces_the_run_to_the_bit(cli, tmp_path):
    flags = ["--hidden", "32,16", "--epochs", "4", "--lr", "0.003", "--keep-prob", "0.9"]
    flags += ["--schedule", "exponential", "--decay-base", "0.9", "--no-batchnorm"]
    flags += ["--seed", "3", "--data-seed", "5", "--dtype", "float64", "--l2", "0.01"]
    first = last_json(cli("train", "--data", "digits", "--json", *flags))
    (tmp_path / "run.toml").write_text(to_toml(first["config"]))
    again = last_json(
        cli("train", "--data", first["data"], "--config", tmp_path / "run.toml", "--json")
    )
    assert {**again, "seconds": 0} == {**first, "seconds": 0}
    assert first["config"]["hidden"] == [32, 16] and first["config"]["batchnorm"] is False


def test_a_diverged_run_says_when(cli):
    flags = ["--optimizer", "gd", "--lr", "1e30", "--no-batchnorm", "--epochs", "2", "--json"]
    r = last_json(cli("train", "--data", "digits", "--hidden", "16", *flags, code=3))
    assert r["diverged"] is True and r["diverged_at"] == {"epoch": 0, "step": 1}
    assert r["train_loss"] is None and r["epochs"] == 2  # NaN is not JSON: null
    out = cli("train", "--data", "digits", "--hidden", "16", *flags[:-1], code=3).stdout
    assert "diverged in epoch 1, at step 2" in out


def test_flags_override_the_configuration_file(cli, tmp_path):
    (tmp_path / "c.toml").write_text('hidden = [8]\nepochs = 3\noptimizer = "momentum"\n')
    r = last_json(
        cli("train", "--data", "iris", "--config", tmp_path / "c.toml", "--epochs", "2", "--json")
    )
    assert r["config"]["hidden"] == [8] and r["config"]["optimizer"] == "momentum"
    assert r["epochs"] == r["config"]["epochs"] == 2


def write_csv(path, ds, target="species"):
    """``ds`` as a CSV file with a string label column placed first."""
    labels = ds.classes[ds.y]
    lines = [",".join([target, *ds.feature_names])]
    lines += [",".join([str(lab), *map(str, row)]) for lab, row in zip(labels, ds.X, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_on_a_csv_file_with_a_string_target_column(cli, tmp_path):
    data = write_csv(tmp_path / "flowers.csv", load("iris"))
    flags = ["--hidden", "16", "--lr", "0.01", "--batch-size", "16", "--epochs", "50", "--json"]
    r = last_json(
        cli("train", "--data", data, "--target", "species", *flags, "--save", tmp_path / "m.npz")
    )
    assert r["data"] == str(data) and r["target"] == "species"
    assert r["test_accuracy"] >= 0.9
    bundled = last_json(cli("train", "--data", "iris", *flags))  # the same rows, labels, order
    same = {"data": 0, "target": 0, "seconds": 0, "saved": 0}
    assert {**r, **same} == {**bundled, **same}
    model = Model.load(tmp_path / "m.npz")
    assert model.classes.tolist() == ["setosa", "versicolor", "virginica"]
    assert model.source == {"data": str(data), "target": "species"}


def test_quiet_on_stderr_when_it_is_not_a_terminal(cli):
    result = cli("train", "--data", "iris", "--hidden", "8", "--epochs", "2", "--live", "--json")
    assert result.stderr == ""


def _terminal(monkeypatch) -> io.StringIO:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=110)
    monkeypatch.setattr(live, "stderr_console", lambda: console)
    return out


def test_a_progress_bar_on_a_terminal(cli, monkeypatch):
    out = _terminal(monkeypatch)
    result = cli("train", "--data", "iris", "--hidden", "8", "--epochs", "3", "--json")
    shown = out.getvalue()
    assert "epoch" in shown and "3/3" in shown and "val acc" in shown and "α 0.001" in shown
    assert last_json(result)["epochs"] == 3  # standard output stays clean


def test_live_learning_curves_on_a_terminal(cli, monkeypatch):
    out = _terminal(monkeypatch)
    cli("train", "--data", "iris", "--hidden", "8", "--epochs", "3", "--live")
    shown = out.getvalue()
    assert "training loss" in shown and "validation accuracy" in shown and "3/3" in shown


def test_epoch_lines_stay_in_the_log_also_off_a_terminal(cli):
    """Keras' convention: one line per epoch (or every N) with loss, val_loss, val_accuracy."""
    result = cli("train --data iris --hidden 8 --epochs 5 --log-every 2 --json")
    lines = result.stderr.splitlines()
    assert [ln.split(" - ")[0] for ln in lines] == ["epoch 2/5", "epoch 4/5", "epoch 5/5"]
    assert all(" - val_loss " in ln and " - val_accuracy " in ln for ln in lines)
    final = last_json(result)
    assert f"val_accuracy {final['val_accuracy']:.4f}" in lines[-1]
    verbose = cli("train --data iris --hidden 8 --epochs 3 -v").stderr.splitlines()
    assert [ln.split(" - ")[0] for ln in verbose] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]


def test_resume_shows_what_the_run_showed(cli, monkeypatch, tmp_path):
    """A run started with --live (or --log-every) resumes with it unless told otherwise."""
    saved = tmp_path / "run.npz"
    cli("train --data iris --hidden 8 --epochs 2 --live --log-every 1 --save", saved)
    out = _terminal(monkeypatch)
    cli("resume", saved, "--epochs 3")
    shown = out.getvalue()
    assert "training loss" in shown and "epoch 3/3 - " in shown
    out.truncate(0)
    cli("resume", saved, "--epochs 4 --no-live --log-every 0")
    assert "training loss" not in out.getvalue() and "epoch 4/4 - " not in out.getvalue()


def test_the_live_view_keeps_typed_keys_off_its_frame(monkeypatch):
    """An echoed ^C wrapped the frame's full-width last line and left its top border on the
    screen twice: while a display is drawn, the terminal echoes nothing."""
    import pty
    import termios

    primary, secondary = pty.openpty()
    try:
        monkeypatch.setattr(live.sys, "stdin", os.fdopen(os.dup(secondary)))
        before = termios.tcgetattr(secondary)[3]
        bar = live.reporter(3, 1, 0, console=Console(file=io.StringIO(), force_terminal=True))
        with bar:
            during = termios.tcgetattr(secondary)[3]
        assert before & termios.ECHO and before & termios.ECHOCTL
        assert not during & termios.ECHO and not during & termios.ECHOCTL
        assert termios.tcgetattr(secondary)[3] == before
    finally:
        os.close(primary)
        os.close(secondary)


def test_chart_draws_eighth_blocks_between_the_extremes():
    rows = live.chart([4.0, 2.0, 0.0], width=3, height=2).plain.splitlines()
    assert rows == ["█   4", "██▁ 0", "1 3 epoch"]  # under it, the epochs of its columns
    assert live.chart([], width=2, height=1).plain == "  \n  "
    many = live.chart(np.linspace(1, 0, 500), width=10, height=3).plain.splitlines()
    assert [r[10:] for r in many[:3]] == [" 0.9509", " ", " 0.0491"]  # 500 epochs in 10
    assert many[3] == "1      500 epoch"
    assert many[0][0] == "█" and " " not in many[-2][:10]  # every column shows
