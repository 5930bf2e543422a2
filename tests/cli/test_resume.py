"""Interrupting and resuming: a stopped run continued equals an uninterrupted one, to the bit.

One test sends a real SIGINT to a ``caviar train`` process; the others stop the run at an
exact step with the hidden ``--interrupt-after`` option, which takes the signal's code path.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from caviar.model import Model
from tests.cli.conftest import assert_same_model, last_json

# 1259 training rows in batches of 50: 26 steps an epoch
DIGITS = ["--data", "digits", "--hidden", "32,16", "--batch-size", "50", "--epochs", "4"]
DIGITS += ["--keep-prob", "0.8", "--schedule", "plateau", "--plateau-patience", "0"]
DIGITS += ["--early-stopping", "2"]


def _train_in_a_process(tmp_path, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "caviar.cli", "train", *map(str, args)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path, process, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.002)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resume_after_a_real_sigint_equals_an_uninterrupted_run(cli, tmp_path, dtype):
    # iris: 105 training rows in batches of 16, 7 steps an epoch; each epoch also writes the
    # checkpoint, so the 400 epochs take about a second and the signal lands mid-run
    args = ["--data", "iris", "--hidden", "16", "--batch-size", "16", "--epochs", "400"]
    args += ["--keep-prob", "0.9", "--dtype", dtype]
    process = _train_in_a_process(tmp_path, *args, "--checkpoint-every", "1", "--save", "ck.npz")
    _wait_for(tmp_path / "ck.npz", process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err  # 128 + SIGINT: `train ... && next` stops here
    assert err.count("\n") == 1 and "caviar resume ck.npz" in err, err
    assert "Traceback" not in err and out.startswith("iris: test accuracy")
    stopped = Model.load(tmp_path / "ck.npz").history
    assert stopped.interrupted and 1 <= stopped.epochs < 400

    resumed = last_json(cli("resume", tmp_path / "ck.npz", "--json"))
    assert resumed["epochs"] == 400 and resumed["saved"] == str(tmp_path / "ck.npz")
    whole = last_json(cli("train", *args, "--save", tmp_path / "whole.npz", "--json"))
    assert_same_model(tmp_path / "ck.npz", tmp_path / "whole.npz")
    same = {"seconds": 0, "saved": 0, "checkpoint": 0}
    assert {**resumed, **same} == {**whole, **same}


def test_sigterm_also_stops_with_a_checkpoint(tmp_path):
    args = ["--data", "iris", "--hidden", "8", "--epochs", "1000", "--checkpoint-every", "1"]
    process = _train_in_a_process(tmp_path, *args, "--json")
    _wait_for(tmp_path / "caviar-checkpoint.npz", process)  # the default checkpoint path
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "SIGTERM" in err and "caviar resume" in err, err
    r = last_json(type("R", (), {"stdout": out}))
    assert r["interrupted"] is True and r["checkpoint"].endswith("caviar-checkpoint.npz")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("step", [37, 52])  # mid-epoch 2; the end of epoch 2
def test_resume_at_an_exact_step_equals_an_uninterrupted_run(cli, tmp_path, dtype, step):
    args = [*DIGITS, "--dtype", dtype]
    cli("train", *args, "--save", tmp_path / "whole.npz")
    flags = f"--interrupt-after {step} --checkpoint-every 1 --json --checkpoint"
    stopped = cli("train", *args, flags, tmp_path / "ck.npz", code=130)
    r = last_json(stopped)
    assert r["interrupted"] is True and r["steps"] == step and r["saved"] is None
    assert f"stopped after step {step}" in stopped.stderr
    cli("resume", tmp_path / "ck.npz", "--save", tmp_path / "resumed.npz")
    assert_same_model(tmp_path / "resumed.npz", tmp_path / "whole.npz")


def test_a_periodic_checkpoint_resumes_exactly(cli, tmp_path):
    """The checkpoint of epoch 2 is taken when the epoch is completely done."""
    flags = "--epochs 3 --checkpoint-every 2 --checkpoint"
    cli("train", *DIGITS, flags, tmp_path / "ck.npz", "--save", tmp_path / "whole.npz")
    ck = Model.load(tmp_path / "ck.npz")
    assert ck.history.epochs == 2 and ck.history.val_loss[1] < ck.history.val_loss[0]
    assert ck.best["epoch"] == 1  # epoch 2 improved, and its early-stopping state is in
    cli("resume", tmp_path / "ck.npz", "--save", tmp_path / "resumed.npz")
    assert_same_model(tmp_path / "resumed.npz", tmp_path / "whole.npz")


def test_resume_with_a_new_learning_rate_keeps_the_optimizer_state(cli, tmp_path):
    base = ["--data", "digits", "--hidden", "32", "--epochs", "4"]  # 20 steps an epoch
    cli("train", *base, "--save", tmp_path / "m.npz", "--interrupt-after", "30", code=130)
    nudge = cli(
        "resume", tmp_path / "m.npz", "--lr 0.01 --epochs 5 --json --save", tmp_path / "n.npz"
    )
    r = last_json(nudge)
    assert r["config"]["lr"] == 0.01 and r["config"]["epochs"] == 5 and r["epochs"] == 5
    nudged = Model.load(tmp_path / "n.npz")
    assert [float(a[0]) for a in nudged.history.lr] == [0.001, 0.01, 0.01, 0.01, 0.01]
    assert nudged.config.lr == 0.01 and nudged.optimizer.t.tolist() == [100]

    # the same nudge by hand through the library: α0 changed, moments and t kept
    by_hand = Model.load(tmp_path / "m.npz")
    by_hand.change(lr=0.01, epochs=5)
    by_hand.fit(*_parts(by_hand)[:2])
    by_hand.save(tmp_path / "by_hand.npz")
    assert_same_model(tmp_path / "n.npz", tmp_path / "by_hand.npz")

    fresh = Model.load(tmp_path / "m.npz")  # and a fresh optimizer would give another model
    assert fresh.optimizer.t.tolist() == [30] and np.any(fresh.optimizer.state["v"][0] != 0)


def _parts(model):
    from caviar import sources

    return sources.split(sources.load(model.source), model.config)


def test_resume_with_a_new_schedule_continues_at_the_current_epoch(cli, tmp_path):
    base = ["--data", "iris", "--hidden", "8", "--epochs", "3"]
    cli("train", *base, "--save", tmp_path / "m.npz")
    r = last_json(
        cli("resume", tmp_path / "m.npz", "--schedule", "exponential", "--epochs", "6", "--json")
    )
    lr = [float(a[0]) for a in Model.load(tmp_path / "m.npz").history.lr]
    assert lr[:3] == [0.001] * 3
    np.testing.assert_allclose(lr[3:], [0.001 * 0.95**e for e in (3, 4, 5)], rtol=1e-12)
    assert r["config"]["schedule"] == "exponential" and r["lr"] == lr[-1]


def test_resume_refuses_fewer_epochs_than_already_ran(cli, tmp_path):
    cli("train", "--data", "iris", "--hidden", "8", "--epochs", "3", "--save", tmp_path / "m.npz")
    err = cli("resume", tmp_path / "m.npz", "--epochs", "2", code=2).stderr
    assert err.startswith("caviar: error: The 'epochs' parameter is the total") and "3" in err


def test_resume_of_a_finished_model_trains_nothing(cli, tmp_path):
    cli("train", "--data", "iris", "--hidden", "8", "--epochs", "2", "--save", tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    result = cli("resume", tmp_path / "m.npz", "--save", tmp_path / "again.npz", "--json")
    assert "nothing to train" in result.stderr and last_json(result)["epochs"] == 2
    assert_same_model(tmp_path / "again.npz", tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before


def test_resume_refuses_other_data(cli, tmp_path):
    cli(
        "train --data iris --hidden 8 --epochs 2 --interrupt-after 1 --save",
        tmp_path / "m.npz",
        code=130,
    )
    err = cli("resume", tmp_path / "m.npz", "--data", "wine", code=2).stderr
    assert "Resume with the data it was trained on" in err
