"""Model: training on real data, exact resume from a checkpoint, and refusing bad files."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from caviar import CheckpointError
from caviar.config import TrainConfig
from caviar.data import load, train_val_test_split
from caviar.model import Model


@pytest.fixture(scope="module")
def digits():
    return train_val_test_split(load("digits"), 0.1, 0.2, seed=0)


def test_default_configuration_reaches_096_on_digits(digits):
    train, val, test = digits
    model = Model.create(TrainConfig(), train)
    model.fit(train, val)
    assert model.evaluate(test)["accuracy"] >= 0.96


def _arrays(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k != "__meta__"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stop_after", [7, 23, 25])  # mid-epoch, mid-epoch, an epoch's end
@pytest.mark.parametrize("bn_position", ["before", "after"])
def test_resume_equals_an_uninterrupted_run_to_the_bit(
    digits, tmp_path, dtype, stop_after, bn_position
):
    train, val, _ = digits
    config = TrainConfig(
        bn_position=bn_position,
        epochs=3,
        hidden=(32, 16),
        keep_prob=0.8,
        schedule="plateau",
        early_stopping=2,
        dtype=dtype,
        batch_size=50,
    )  # 25 steps an epoch
    whole = Model.create(config, train)
    whole.fit(train, val)
    whole_path = whole.save(tmp_path / "whole.npz")

    part = Model.create(config, train)
    steps = iter(range(10**6))
    part.fit(train, val, should_stop=lambda: next(steps) + 1 >= stop_after)
    assert part.history.interrupted and part.history.steps == stop_after
    resumed = Model.load(part.save(tmp_path / "part.npz"))
    resumed.fit(train, val)
    resumed_path = resumed.save(tmp_path / "resumed.npz")

    a, b = _arrays(whole_path), _arrays(resumed_path)
    assert a.keys() == b.keys()
    for key in a:
        if not key.startswith("time/"):  # wall-clock seconds: the one thing that may differ
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_predictions_survive_a_round_trip(digits, tmp_path):
    train, val, test = digits
    model = Model.create(TrainConfig(epochs=2), train)
    model.fit(train, val)
    loaded = Model.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.predict_proba(test.X), model.predict_proba(test.X))
    assert loaded.config == model.config


def test_early_stopping_restores_the_best_weights(digits):
    train, val, _ = digits
    model = Model.create(TrainConfig(epochs=60, lr=0.05, early_stopping=2), train)
    history = model.fit(train, val)
    assert history.stopped_early and history.epochs < 60
    best = int(np.argmin(np.array(history.val_loss)[:, 0]))
    assert model.best["epoch"] == best
    assert model.evaluate(val)["loss"] == pytest.approx(float(history.val_loss[best][0]), rel=1e-5)


def test_unseen_label_at_prediction_time(digits):
    train, _, _ = digits
    model = Model.create(TrainConfig(epochs=1), train)
    with pytest.raises(ValueError, match=r"label\(s\) \['42'\] were not seen in training"):
        model.encode(np.array([1, 42]))


@pytest.fixture
def saved(digits, tmp_path):
    train, _, _ = digits
    model = Model.create(TrainConfig(epochs=1), train)
    model.fit(train)
    return model.save(tmp_path / "m.npz")


def test_truncated_checkpoint(saved, tmp_path):
    data = open(saved, "rb").read()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Model.load(bad)


def test_checkpoint_with_pickled_objects(tmp_path):
    bad = tmp_path / "pickled.npz"
    np.savez(bad, classes=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        Model.load(bad)


def test_checkpoint_with_the_wrong_arrays(saved, tmp_path):
    with np.load(saved, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "param/dense1.W"}
    bad = tmp_path / "missing.npz"
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError, match="lacks the array 'param/dense1.W'"):
        Model.load(bad)
    arrays["param/dense1.W"] = np.zeros((1, 3, 3), dtype=np.float32)
    np.savez(bad, **arrays)
    with pytest.raises(CheckpointError, match=r"'param/dense1.W' has shape \(1, 3, 3\)"):
        Model.load(bad)


def test_a_foreign_npz(tmp_path):
    bad = tmp_path / "foreign.npz"
    np.savez(bad, X=np.ones(3))
    with pytest.raises(CheckpointError, match="no caviar metadata"):
        Model.load(bad)
    np.savez(bad, __meta__=np.array('{"format": "other"}'))
    with pytest.raises(CheckpointError, match="not a caviar checkpoint"):
        Model.load(bad)


def test_not_a_zip_and_missing(tmp_path):
    bad = tmp_path / "text.npz"
    bad.write_text("hello")
    with pytest.raises(
        CheckpointError, match="truncated or corrupt|not a readable|a text file, not a model"
    ):
        Model.load(bad)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Model.load(tmp_path / "nope.npz")


def test_save_is_atomic(saved, tmp_path, monkeypatch):
    before = open(saved, "rb").read()
    model = Model.load(saved)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        model.save(saved)
    assert open(saved, "rb").read() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with zipfile.ZipFile(saved) as z:
        meta = json.loads(np.load(z.open("__meta__.npy")).item())
    assert meta["format"] == "caviar-checkpoint"


def test_change_is_the_one_way_to_change_a_run(digits):
    train, val, _ = digits
    config = TrainConfig(epochs=2, hidden=(16,), schedule="plateau", plateau_patience=0)
    model = Model.create(config, train)
    model.fit(train, val)
    scale, t = model.schedule.state.scale.copy(), model.optimizer.t.copy()
    model.change(lr=0.01, epochs=4, plateau_factor=0.5)
    assert model.config.lr == 0.01 and model.config.epochs == 4
    np.testing.assert_array_equal(model.schedule.alpha0, [0.01])
    np.testing.assert_array_equal(model.schedule.state.scale, scale)  # reductions kept
    np.testing.assert_array_equal(model.optimizer.t, t)  # moments and step counts kept
    model.fit(train, val)
    assert model.history.epochs == 4
    np.testing.assert_allclose(model.history.lr[-1], 0.01 * model.schedule.state.scale)
    with pytest.raises(ValueError, match=r"\['hidden'\] cannot change in a running model"):
        model.change(hidden=(32,))
    with pytest.raises(ValueError, match="total number of epochs and 4 already ran"):
        model.change(epochs=3)
    with pytest.raises(ValueError, match="'lr' entry of the changes must be in"):
        model.change(lr=-1.0)


def test_a_checkpoint_of_the_previous_format_is_refused_with_the_reason(tmp_path):
    from caviar import checkpoint

    path = tmp_path / "old.npz"
    np.savez(
        path,
        classes=np.arange(2),
        __meta__=np.array(json.dumps({"format": "caviar-checkpoint", "format_version": 1})),
    )
    with pytest.raises(CheckpointError, match="older caviar .format 1.*train the model again"):
        checkpoint.load(path)


def test_evaluate_scores_the_test_split_of_the_models_own_data(digits, tmp_path):
    """Scoring the whole data set a model trained on would count its training rows: for its
    own data, evaluate scores the test part (as ``caviar evaluate`` does) and says so."""
    from caviar.errors import InvalidArgument

    train, val, test = digits
    model = Model.create(TrainConfig(epochs=2), train)
    model.source = {"data": "digits", "target": None}
    model.fit(train, val)
    everything = load("digits")
    auto, whole = model.evaluate(everything), model.evaluate(everything, split="all")
    assert (auto["split"], auto["n"], whole["split"], whole["n"]) == ("test", 359, "all", 1797)
    assert auto["accuracy"] == model.evaluate(test)["accuracy"]
    assert model.evaluate(everything, split="train")["n"] == len(train)
    assert model.evaluate(test)["split"] == "all"  # another data set: every row of it
    with pytest.raises(InvalidArgument, match=r"'split' parameter must be one of"):
        model.evaluate(test, split="testing")
