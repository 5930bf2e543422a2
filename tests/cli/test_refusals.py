"""Nothing lost, nothing silent: bad input and faults on purpose, each a one-line refusal (or
what a careful user expects), with the exit status of the README's table."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

import caviar
from caviar.data import load
from tests.cli.conftest import last_json

IRIS = "--data iris --hidden 8 --epochs 2"
DIVERGE = "--hidden 16 --optimizer gd --lr 1e30 --no-batchnorm --epochs 2"


def one_line(result, progress: bool = False) -> str:
    """The one error line on standard error (after a tune's progress lines, ``progress``)."""
    err = result.stderr
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("caviar:")]
    assert errors == lines[-1:] and (progress or len(lines) == 1), err
    assert lines[-1].startswith("caviar: error: "), err
    return lines[-1]


# -- 1. a batch size of 0 -------------------------------------------------------------------
def test_batch_size_0_is_refused_everywhere_and_leaves_nothing_to_resume(cli, tmp_path):
    assert "--batch-size" in one_line(cli("train --data digits --batch-size 0", code=2))
    study = tmp_path / "s.db"
    one_line(cli("tune --data digits --trials 2 --batch-size 0 --study", study, code=2))
    assert not study.exists()
    assert "no such study file" in one_line(cli("tune --resume --study", study, code=2))
    assert not study.exists()  # resuming never creates a study
    with pytest.raises(caviar.InvalidArgument, match="batch_size"):
        caviar.Classifier(batch_size=0).fit(*_xy())


def _xy():
    ds = load("iris")
    return ds.X, ds.y


# -- 2. no epochs ---------------------------------------------------------------------------
@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_epochs_below_1_are_refused(cli, tmp_path, epochs):
    assert "--epochs" in one_line(cli("train --data iris --epochs", epochs, code=2))
    one_line(
        cli("tune --data iris --trials 2 --epochs", epochs, "--study", tmp_path / "s.db", code=2)
    )
    assert not (tmp_path / "s.db").exists()


def test_a_tune_whose_every_trial_fails_says_why_and_exits_2(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nwarmup_steps = { dist = "choice", choices = [100000] }\n')
    args = "tune --data iris --trials 3 --epochs 1 --schedule warmup_cosine --study"
    result = cli(args, tmp_path / "s.db", "--space", space, code=2)
    assert "every trial failed" in result.stderr and "warmup_steps" in result.stderr


# -- 3. divergence --------------------------------------------------------------------------
def test_a_diverged_run_never_replaces_a_good_model(cli, tmp_path):
    good = tmp_path / "good.npz"
    cli("train", IRIS, "--save", good)
    before = good.read_bytes()
    for extra in ("", "--checkpoint-every 1"):
        result = cli("train --data iris", DIVERGE, extra, "--save", good, code=3)
        assert "diverged" in result.stderr and "nothing was saved" in result.stderr
        assert good.read_bytes() == before
    result = cli("resume", good, "--lr 1e30 --epochs 4", code=3)
    assert good.read_bytes() == before  # the checkpoint resumed is the one kept


def test_predict_refuses_a_diverged_model(cli, tmp_path):
    from caviar.config import TrainConfig
    from caviar.model import Model

    ds = load("iris")
    model = Model.create(TrainConfig(lr=1e30, optimizer="gd", batchnorm=False, epochs=1), ds)
    with np.errstate(all="ignore"):
        model.fit(ds)
    model.save(tmp_path / "bad.npz")
    result = cli("predict", tmp_path / "bad.npz", "--data iris", code=3)
    assert "diverged in training" in one_line(result) and result.stdout == ""


def test_predict_refuses_a_model_file_whose_weights_are_not_finite(cli, tmp_path):
    """A file damaged (or written by another program) with non-finite weights but a history
    that never diverged: refused as a diverged model is, never predicted with exit 0."""
    from caviar import checkpoint

    path = tmp_path / "m.npz"
    cli("train", IRIS, "--save", path)
    arrays, meta = checkpoint.load(path)
    name = next(k for k in arrays if k.startswith("param/"))
    arrays[name] = np.full_like(arrays[name], np.nan)
    checkpoint.save(path, arrays, meta)
    result = cli("predict", path, "--data iris", code=3)
    assert "weights are not finite" in one_line(result) and result.stdout == ""


def test_predict_on_a_value_beyond_float32_is_one_line_without_a_numpy_warning(cli, tmp_path):
    ds = load("iris")
    rows = [",".join([*ds.feature_names, "species"])]
    for i, (x, label) in enumerate(zip(ds.X.astype(np.float64), ds.y, strict=True)):
        cells = ["1e308" if i == 1 and j == 0 else repr(float(v)) for j, v in enumerate(x)]
        rows.append(",".join([*cells, str(label)]))
    (tmp_path / "big.csv").write_text("\n".join(rows) + "\n")
    cli("train", IRIS, "--save", tmp_path / "m.npz")
    result = cli("predict", tmp_path / "m.npz", "--data", tmp_path / "big.csv", code=2)
    assert "beyond the float32 range" in one_line(result)  # one_line refuses any Warning


def test_a_killed_saves_partial_file_is_removed_by_the_next_info_load_or_save(cli, tmp_path):
    """kill -9 during `train --save` can leave `.m.npz.<pid>.<random>.tmp` beside the model
    (the model itself stays whole: the rename never happened). The next `caviar info`, load
    or save of that path removes what dead writers left; a live writer's file stays."""
    from caviar.model import Model

    model = tmp_path / "m.npz"
    cli("train", IRIS, "--save", model)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    live = tmp_path / f".m.npz.{os.getpid()}.x1.tmp"
    for step in ("info", "load", "save"):
        left = tmp_path / f".m.npz.{dead}.{step}.tmp"
        left.write_bytes(b"PK\x03\x04 half a model")
        live.write_bytes(b"being written")
        if step == "info":
            cli("info", model)
        elif step == "load":
            Model.load(model)
        else:
            Model.load(model).save(model)
        assert not left.exists() and live.exists(), step


# -- 4. the study file and its folder -------------------------------------------------------
def test_a_study_in_a_missing_folder(cli, tmp_path):
    line = one_line(cli("tune --data iris --trials 2 --study", tmp_path / "no" / "s.db", code=2))
    assert "does not exist" in line and "not a caviar study" not in line


@contextlib.contextmanager
def _tmpfs(path, size: str):
    """A small RAM file system at ``path`` (root only), unmounted afterwards."""
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    ).returncode:
        pytest.skip("tmpfs cannot be mounted here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _remount(path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


@contextlib.contextmanager
def _read_only(path):
    """A folder that cannot be written, even by root: a read-only mount where we are root,
    else permissions."""
    if os.geteuid() == 0:
        with _tmpfs(path, "4m"):
            yield lambda: _remount(path, "ro")
        return
    path.mkdir()
    try:
        yield lambda: path.chmod(0o555)
    finally:
        path.chmod(0o755)


def test_a_read_only_folder_refuses_a_tune_but_shows_its_study(cli, tmp_path):
    with _read_only(tmp_path / "ro") as freeze:
        study = tmp_path / "ro" / "s.db"
        cli("tune --data iris --trials 2 --epochs 1 --hidden 4 --study", study)
        freeze()
        line = one_line(
            cli("tune --data iris --trials 2 --study", tmp_path / "ro" / "n.db", code=2)
        )
        assert "cannot be written" in line and "not a caviar study" not in line
        assert "cannot be written" in one_line(cli("tune --resume --study", study, code=2))
        shown = last_json(cli("study show --json", study))
        assert shown["counts"]["finished"] == 2
        assert "best trials" in cli("study show", study).stdout


def test_a_full_disk_at_the_start_leaves_no_study(cli, tmp_path):
    with _tmpfs(tmp_path / "full", "32k") as full:
        line = one_line(cli("tune --data iris --trials 300 --study", full / "s.db", code=2))
        assert "is full" in line and "not a caviar study" not in line
        assert list(full.iterdir()) == []


def test_a_disk_filling_up_mid_tune_keeps_the_finished_trials(cli, tmp_path):
    """The real thing: a small tmpfs; then it grows and the tune resumes to the end."""
    with _tmpfs(tmp_path / "full", "400k") as full:
        study = full / "s.db"
        args = "tune --data iris --trials 400 --epochs 3 --hidden 8 --max-population 20"
        line = one_line(cli(args, "--strategy caviar --study", study, code=2), progress=True)
        assert "is full" in line and "finished trials are kept" in line and "--resume" in line
        _remount(full, "size=64m")
        cli("tune --resume --study", study)
        shown = last_json(cli("study show --json", study))
        assert sum(shown["counts"].values()) == 400 and shown["counts"]["pending"] == 0


def test_a_full_disk_mid_tune_by_injection(cli, tmp_path, monkeypatch):
    """The same where no file system can be mounted: the third trial's commit fails."""
    from caviar.tuning.study import Study

    real, calls = Study.finish, [0]

    def finish(self, *args):
        calls[0] += 1
        if calls[0] == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, *args)

    monkeypatch.setattr(Study, "finish", finish)
    study = tmp_path / "s.db"
    args = "tune --data iris --trials 6 --epochs 1 --hidden 4 --max-population 1 --strategy caviar"
    line = one_line(cli(args, "--study", study, code=2), progress=True)
    assert "is full" in line and "The 2 finished trials are kept" in line
    monkeypatch.setattr(Study, "finish", real)
    cli("tune --resume --study", study)
    assert last_json(cli("study show --json", study))["counts"]["finished"] == 6


def test_a_damaged_study_is_named_damaged(cli, tmp_path):
    study = tmp_path / "s.db"
    cli("tune --data iris --trials 2 --epochs 1 --hidden 4 --study", study)
    data = bytearray(study.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    study.write_bytes(bytes(data))
    for args in ("study show", "tune --resume --study"):
        assert "damaged" in one_line(cli(args, study, code=2))


def test_study_show_on_a_damaged_or_truncated_study_leaves_no_wal_or_shm(cli, tmp_path):
    whole = tmp_path / "s.db"
    cli("tune --data iris --trials 2 --epochs 1 --hidden 4 --study", whole)
    data = whole.read_bytes()
    (tmp_path / "cut.db").write_bytes(data[:3000])
    (tmp_path / "noise.db").write_bytes(data[:4096] + os.urandom(len(data) - 4096))
    for name in ("cut.db", "noise.db"):
        assert "damaged" in one_line(cli("study show", tmp_path / name, code=2))
        assert sorted(p.name for p in tmp_path.glob(name + "*")) == [name]


# -- 5. interrupted tunes (interrupted `train`: tests/cli/test_resume.py) -------------------
def test_sigterm_stops_a_tune_with_143_and_says_how_to_resume(tmp_path):
    study = tmp_path / "s.db"
    args = ["tune", "--data", "digits", "--trials", "40", "--epochs", "30", "--hidden", "64,64"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "caviar.cli", *args, "--study", str(study)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not _has_running(study):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and f"caviar tune --study {study} --resume" in err
    assert "Traceback" not in err


def _has_running(path) -> bool:
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return bool(db.execute("SELECT 1 FROM trials WHERE status = 'running'").fetchone())
    except sqlite3.Error:
        return False


# -- 8. writing over one's own input ------------------------------------------------------
def test_no_command_writes_over_its_own_input(cli, tmp_path):
    model = tmp_path / "m.npz"
    cli("train", IRIS, "--save", model)
    before = model.read_bytes()
    assert "the model this command reads" in one_line(cli("predict", model, "--out", model, code=2))
    assert model.read_bytes() == before
    npz = tmp_path / "d.npz"
    ds = load("iris")
    np.savez(npz, X=ds.X, y=ds.y)
    data = npz.read_bytes()
    for flag in ("--save", "--checkpoint"):
        assert "data file" in one_line(cli("train --data", npz, flag, npz, code=2))
    assert "data file" in one_line(cli("predict", model, "--data", npz, "--out", npz, code=2))
    assert npz.read_bytes() == data


# -- 9. the smaller ones --------------------------------------------------------------------
def test_a_value_beyond_float32_is_refused_for_what_it_is(cli, tmp_path):
    csv = tmp_path / "big.csv"
    csv.write_text("a,b,y\n1,2,x\n1e308,4,y\n5,6,x\n7,8,y\n")
    line = one_line(cli("train --data", csv, code=2))
    assert "1e+308" in line and "float32 range" in line and "inf" not in line


def test_failed_commands_leave_no_study(cli, tmp_path):
    for args in ("--trials 2 --rounds 3", "--trials 2 --halving 0.5", "--trials 2 --top 2"):
        cli("tune --data iris", args, "--study", tmp_path / "s.db", code=2)
        assert list(tmp_path.iterdir()) == [], args


def test_a_kill_during_a_save_leaves_no_hidden_file_behind(tmp_path):
    from caviar import checkpoint

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f".m.npz.{dead.pid}.{uuid.uuid4().hex[:8]}.tmp"  # a killed writer's
    orphan.write_bytes(b"half")
    live = tmp_path / f".m.npz.{os.getpid()}.x.tmp"  # a writer that is still running
    live.write_bytes(b"busy")
    checkpoint.save(tmp_path / "m.npz", {"a": np.zeros(3)}, {})
    assert not orphan.exists() and live.exists()
    live.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_fit_refuses_an_optimizer_built_on_other_arrays():
    X, y = _xy()
    net = caviar.Network([4, 8, 3], K=2)
    other = caviar.Network([4, 8, 3], K=2)
    for opt in (caviar.Adam(other.params), caviar.Adam(net.params[:-1])):
        with pytest.raises(caviar.InvalidArgument, match="not built on this network"):
            caviar.fit(net, opt, X, y, epochs=1, schedule=1e-3)


def test_a_semicolon_csv_is_named(cli, tmp_path):
    csv = tmp_path / "semi.csv"
    csv.write_text("a;b;y\n1;2;x\n3;4;y\n")
    assert "looks ';'-delimited" in one_line(cli("train --data", csv, code=2))
    ds = caviar.data.read_csv(csv, delimiter=";")
    assert ds.feature_names == ("a", "b")


def test_an_empty_space_file_is_refused(cli, tmp_path):
    for text in ("", "[space]\n"):
        space = tmp_path / "space.toml"
        space.write_text(text)
        line = one_line(
            cli("tune --data iris --trials 2 --space", space, "--study", tmp_path / "s.db", code=2)
        )
        assert "holds no entries" in line
        assert not (tmp_path / "s.db").exists()
