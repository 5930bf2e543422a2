"""The conventions a new user brings: scikit-learn's names, near-miss keys and columns, the
wrong kind of file, a study refused before Ray starts, and the usual file modes."""

from __future__ import annotations

import os
import stat

import pytest

import caviar
from caviar.errors import UnknownParameter


@pytest.mark.parametrize(
    ("given", "ours"),
    [
        ({"hidden_layer_sizes": (100,)}, "did you mean hidden=(100,)"),
        ({"max_iter": 50}, "did you mean epochs=50"),
        ({"random_state": 3}, "did you mean seed=3"),
        ({"learning_rate_init": 0.01}, "did you mean lr=0.01"),
        ({"alpha": 1e-4}, "did you mean l2=0.0001"),
        ({"verbose": True}, "model_.history"),
        ({"hiden": (8,)}, "did you mean hidden=(8,)"),
    ],
)
def test_scikit_learn_names_are_refused_with_caviars_name(given, ours):
    with pytest.raises(UnknownParameter, match=r"caviar.Classifier has no parameter") as err:
        caviar.Classifier(**given)
    assert ours in str(err.value) and isinstance(err.value, TypeError)


def test_near_misses_say_did_you_mean(cli, tmp_path):
    data = tmp_path / "pets.csv"
    data.write_text("weight,height,species\n" + "1,2,cat\n3,4,dog\n" * 10)
    err = cli("train --data", data, "--target specis", code=2).stderr
    assert "no column is called 'specis' (did you mean 'species'?)" in err
    config = tmp_path / "c.toml"
    config.write_text("hiden = [8]\n")
    err = cli("train --data iris --config", config, code=2).stderr
    assert "unknown key(s) ['hiden'] (did you mean 'hidden'?)" in err
    space = tmp_path / "s.toml"
    space.write_text('[space]\nlearning_rate = { dist = "log", low = 1e-4, high = 1.0 }\n')
    err = cli("tune --data iris --trials 2 --space", space, code=2).stderr
    assert "'learning_rate' is not a TrainConfig hyperparameter" in err


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("digits.onnx", b"\x08\x08\x12\x07pytorch", "an ONNX graph"),
        ("penguins.csv", b"species,island\nAdelie,Torgersen\n", "a CSV file, not a model"),
        ("study.db", b"SQLite format 3\x00" + bytes(100), "an SQLite database"),
    ],
)
def test_the_wrong_kind_of_file_is_named_for_what_it_is(cli, tmp_path, name, content, said):
    path = tmp_path / name
    path.write_bytes(content)
    err = cli("evaluate", path, code=2).stderr
    assert said in err and "corrupt" not in err


def test_ray_is_not_started_for_a_study_the_tune_would_refuse(cli, tmp_path, monkeypatch):
    study = tmp_path / "s.db"
    cli("tune --data iris --trials 2 --epochs 1 --hidden 4 --executor local --study", study)
    import caviar.tuning.executors as executors

    def never(*args, **kwargs):
        raise AssertionError("the executor was made before the study was checked")

    monkeypatch.setattr(executors, "make_executor", never)
    err = cli("tune --data iris --trials 2 --executor ray --study", study, code=2).stderr
    assert "already holds a tune; add --resume" in err
    err = cli("tune --executor ray --resume --study", tmp_path / "none.db", code=2).stderr
    assert "no such study file" in err


def test_models_reports_and_exports_get_the_usual_file_mode(cli, tmp_path):
    before = os.umask(0o022)
    try:
        model, report = tmp_path / "m.npz", tmp_path / "m.html"
        cli("train --data iris --hidden 4 --epochs 1 --save", model)
        study, csv = tmp_path / "s.db", tmp_path / "t.csv"
        cli("tune --data iris --trials 2 --epochs 1 --hidden 4 --study", study)
        cli("study export", study, "--csv", csv)
        written = [model, csv]
        try:
            import plotly  # noqa: F401

            cli("report", model, "--out", report)
            written.append(report)
        except ImportError:
            pass
        for path in written:
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    finally:
        os.umask(before)
