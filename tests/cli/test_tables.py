"""`caviar train/predict/info/tune/export` on tables with text columns and missing cells."""

import json

import numpy as np
import pytest

from caviar.data.bundled import TABLES

from .conftest import last_json


def _penguins_csv(tmp_path):
    import gzip

    path = tmp_path / "penguins.csv"
    path.write_bytes(gzip.decompress((TABLES / "penguins.csv.gz").read_bytes()))
    return path


def test_train_on_a_table_says_what_it_did_and_predicts_raw_rows(cli, tmp_path):
    data = _penguins_csv(tmp_path)
    model = tmp_path / "m.npz"
    out = cli("train --data", data, "--target species --epochs 20 --json --save", model)
    assert (
        "7 columns: 5 numeric (standardised; 4 with missing cells: median + indicator), "
        "2 text → 8 one-hot columns; labels: Adelie, Chinstrap, Gentoo" in out.stderr
    )
    assert last_json(out)["test_accuracy"] > 0.9
    info = cli("info", model).stdout
    assert "input columns (7, by name): island (categorical), bill_length_mm (numeric)" in info
    new = tmp_path / "new.csv"
    new.write_text(  # other column order, no label, an unseen island, missing cells
        "year,sex,island,body_mass_g,flipper_length_mm,bill_depth_mm,bill_length_mm\n"
        "2007,male,Torgersen,3750,181,18.7,39.1\n"
        "2009,,Atlantis,,,,\n"
        "2008,female,Biscoe,5000,220,14,48\n"
    )
    rows = cli("predict", model, "--data", new).stdout.split()
    assert rows[0] == "prediction" and rows[1] == "Adelie" and rows[3] == "Gentoo"
    assert len(rows) == 4


def test_an_identifier_column_is_dropped_with_a_notice(cli, tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("name,x,label\n" + "".join(f"row{i},{i % 5},{i % 2}\n" for i in range(60)))
    out = cli("train --data", path, "--epochs 1")
    assert "column 'name' dropped: 60 distinct values in 60 rows look like an identifier" in (
        out.stderr
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ("--target kind", "no column is called 'kind'"),
        ("--target species --numeric island", "column 'island' is given as --numeric"),
        (
            "--target species --drop-columns " + "island,bill_length_mm,bill_depth_mm,"
            "flipper_length_mm,body_mass_g,sex,year",
            "no feature column is left",
        ),  # fmt: skip
        ("--target year", "the target 'year'"),  # 3 distinct years: fine; see below
    ],
)
def test_bad_table_options_are_one_line_and_write_nothing(cli, tmp_path, args, message):
    data = _penguins_csv(tmp_path)
    model = tmp_path / "m.npz"
    if args == "--target year":
        cli("train --data", data, args, "--epochs 1 --save", model)  # three classes: trains
        return
    out = cli("train --data", data, args, "--save", model, code=2)
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not model.exists()


def test_one_class_and_a_parquet_that_is_not_one(cli, tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("a,b,label\n1,x,y\n2,z,y\n")
    assert "only one class" in cli("train --data", one, code=2).stderr
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert "is not a Parquet file" in cli("train --data", bad, code=2).stderr


def test_predict_refuses_rows_missing_a_column(cli, tmp_path):
    model = tmp_path / "m.npz"
    cli("train --data penguins --epochs 1 --save", model)
    new = tmp_path / "new.csv"
    new.write_text("island,sex\nDream,male\n")
    out = cli("predict", model, "--data", new, code=2)
    assert "new.csv: the model needs the column(s) ['bill_length_mm'" in out.stderr


def test_tune_searches_the_numeric_transform_and_a_trial_trains_again_the_same(cli, tmp_path):
    space = tmp_path / "space.toml"
    space.write_text(
        '[space]\nlr = { dist = "log", low = 1e-3, high = 1e-1 }\n'
        'preprocess = { dist = "choice", choices = ["standard", "quantile"] }\n'
    )
    study = tmp_path / "s.db"
    cli("tune --data wage --trials 6 --epochs 2 --space", space, "--study", study)
    shown = cli("study show", study, "--json --top 6").stdout
    trials = json.loads(shown)["best"]
    assert {t["config"]["preprocess"] for t in trials} == {"standard", "quantile"}
    for kind in ("standard", "quantile"):
        t = next(t for t in trials if t["config"]["preprocess"] == kind)
        out = cli("study train", study, "--trial", t["id"])
        assert f"val_loss {t['val_loss']:.6g} (tune {t['val_loss']:.6g})" in out.stdout


def test_onnx_of_a_table_model_takes_raw_columns(cli, tmp_path):
    pytest.importorskip("onnxruntime")
    model, graph = tmp_path / "m.npz", tmp_path / "m.onnx"
    cli("train --data penguins --epochs 5 --preprocess quantile --save", model)
    out = cli("export", model, "--onnx", graph).stdout
    assert "inputs 'numeric' (N, 5) float, NaN for missing and 'text' (N, 2) strings" in out
    diff = float(out.split("max |p_onnx - p_caviar| = ")[1].split()[0])
    assert diff < 1e-5


def test_the_estimator_takes_a_dataframe_with_text_and_missing_cells():
    pd = pytest.importorskip("pandas")
    from caviar import Classifier
    from caviar.data import load

    ds = load("penguins")
    frame = pd.DataFrame({c: ds.table.column(c) for c in ds.table.columns})
    y = ds.decode(ds.y)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[:250], order[250:]
    clf = Classifier(hidden=(32,), epochs=30).fit(frame.iloc[train], y[train])
    assert clf.n_features_in_ == 7
    assert list(clf.feature_names_in_)[:2] == ["island", "bill_length_mm"]
    assert clf.score(frame.iloc[test], y[test]) > 0.9
    odd = frame.iloc[test[:3]].copy()
    odd.iloc[0, 0] = "Atlantis"
    odd.iloc[1, 1] = np.nan
    assert clf.predict(odd).shape == (3,)


def test_the_estimator_names_repeated_dataframe_columns():
    pd = pytest.importorskip("pandas")
    from caviar import Classifier
    from caviar.errors import DataError

    frame = pd.DataFrame(np.random.default_rng(0).random((20, 2)), columns=["a", "a"])
    with pytest.raises(DataError, match=r"the column names \['a'\] repeat; make every name"):
        Classifier(epochs=1).fit(frame, [0, 1] * 10)


def test_a_tune_remembers_the_forced_column_kinds_for_study_train(cli, tmp_path):
    data = _penguins_csv(tmp_path)
    study, model = tmp_path / "s.db", tmp_path / "m.npz"
    cli("tune --data", data, "--target species --drop-columns year,island --trials 2 "
        "--epochs 1 --study", study)  # fmt: skip
    cli("study train", study, "--trial 1 --save", model)
    info = cli("info", model).stdout
    assert "input columns (5, by name): bill_length_mm" in info and "island" not in info
