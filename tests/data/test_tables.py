"""Tables with text columns and missing cells: reading, kinds, the encoding fitted on the
training rows only, and the model that keeps it (issue 19)."""

import numpy as np
import pytest

from caviar.config import TrainConfig
from caviar.data import load, read, train_val_test_split
from caviar.data.prep import MISSING, OTHER, RARE, Preprocessor
from caviar.data.readers import read_columns
from caviar.data.table import as_table, table_from_columns
from caviar.errors import CheckpointError, DataError
from caviar.model import Model

pa = pytest.importorskip("pyarrow")


def _table(**columns):
    cols = {k: np.asarray(v, dtype=object if isinstance(v[0], str) or v[0] is None else float)
            for k, v in columns.items()}  # fmt: skip
    return table_from_columns(cols, "test")


def test_one_hot_keeps_frequent_levels_and_sends_rare_and_unseen_ones_to_other():
    levels = ["a"] * RARE + ["b"] * RARE + ["rare"] * (RARE - 1) + [None]
    prep = Preprocessor.fit(_table(colour=levels))
    assert prep.feature_names == [f"colour={MISSING}", "colour=a", "colour=b", f"colour={OTHER}"]
    X = prep.transform(_table(colour=["a", "rare", "never seen", None]))
    assert X.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0]]


def test_numbers_are_imputed_with_the_training_median_and_flagged():
    prep = Preprocessor.fit(_table(x=[1.0, 2.0, np.nan, 10.0], y=[1.0, 2.0, 3.0, 4.0]))
    assert prep.feature_names == ["x", "x (missing)", "y"]
    X = prep.transform(_table(x=[np.nan, 5.0], y=[np.nan, 1.0]))
    # x's median is of the training rows; y had no missing cell, so no indicator: a missing
    # y at prediction time still gets y's median
    np.testing.assert_allclose(X, [[2.0, 1.0, 2.5], [5.0, 0.0, 1.0]])


def test_quantile_maps_through_the_training_quantiles_to_the_unit_interval():
    rng = np.random.default_rng(0)
    train = rng.lognormal(size=500)
    prep = Preprocessor.fit(_table(x=train), "quantile")
    q = prep.transform(_table(x=np.array([-1.0, *np.sort(train), 1e9])))[:, 0]
    assert q[0] == 0.0 and q[-1] == 1.0 and np.all(np.diff(q) >= 0)
    assert abs(np.median(q[1:-1]) - 0.5) < 0.01  # uniform on the training rows


def test_the_encoding_round_trips_through_plain_json():
    import json

    prep = Preprocessor.fit(_table(c=["u", "v"] * RARE, x=[1.0, np.nan] * RARE), "quantile")
    back = Preprocessor.from_dict(json.loads(json.dumps(prep.to_dict())))
    assert back == prep
    with pytest.raises(CheckpointError, match="preprocessing record is damaged"):
        Preprocessor.from_dict({"columns": [{"name": "c"}], "preprocess": "standard"})


def test_a_split_fits_the_encoding_on_the_training_part_only():
    ds = load("penguins")
    train, val, test = train_val_test_split(ds, 0.1, 0.2, 0)
    refit = Preprocessor.fit(train.table)
    assert train.prep == refit and val.prep is train.prep and test.prep is train.prep
    np.testing.assert_array_equal(test.X, refit.transform(test.table))
    # the medians are the training rows', not all rows'
    bill = ds.table.column("bill_length_mm")
    train_bill = train.table.column("bill_length_mm")
    assert refit.columns[1].median == np.nanmedian(train_bill) != np.nanmedian(bill)


def test_kinds_are_inferred_forced_and_identifiers_dropped(tmp_path):
    rows = "\n".join(f"id{i},{i % 3},{['x', 'y'][i % 2]},{i % 2}" for i in range(40))
    path = tmp_path / "t.csv"
    path.write_text("name,code,letter,label\n" + rows + "\n")
    notices: list[str] = []
    ds = read(path, notices=notices)
    assert ds.table.columns == ("code", "letter") and ds.table.kinds == ("numeric", "categorical")
    assert notices == [
        "column 'name' dropped: 40 distinct values in 40 rows look like an identifier "
        "(--categorical to keep it)"
    ]
    forced = read(path, categorical=("code",), drop=("name",))
    assert forced.table.kinds == ("categorical", "categorical")
    assert "code=0" in forced.feature_names


def test_parquet_and_feather_read_as_the_csv_does(tmp_path):
    import pyarrow.csv
    import pyarrow.feather
    import pyarrow.parquet

    from caviar.data.bundled import TABLES

    convert = pyarrow.csv.ConvertOptions(strings_can_be_null=True)  # NA: missing, as caviar
    arrow = pyarrow.csv.read_csv(TABLES / "penguins.csv.gz", convert_options=convert)
    pyarrow.parquet.write_table(arrow, tmp_path / "p.parquet")
    pyarrow.feather.write_feather(arrow, tmp_path / "p.feather")
    want = load("penguins")
    for name in ("p.parquet", "p.feather"):
        got = read(tmp_path / name, target="species")
        np.testing.assert_array_equal(got.X, want.X)
        assert got.feature_names == want.feature_names and got.table.missing() == {
            "bill_length_mm": 2, "bill_depth_mm": 2, "flipper_length_mm": 2, "body_mass_g": 2,
            "sex": 11,
        }  # fmt: skip


def test_bundled_tables_say_what_was_done():
    assert load("penguins").summary() == (
        "7 columns: 5 numeric (standardised; 4 with missing cells: median + indicator), "
        "2 text → 8 one-hot columns; labels: Adelie, Chinstrap, Gentoo"
    )
    wage = load("wage")
    assert len(wage) == 3000 and wage.table.kinds.count("categorical") == 6


def test_a_model_predicts_raw_rows_and_keeps_its_encoding_through_a_checkpoint(tmp_path):
    pd = pytest.importorskip("pandas")
    train, val, test = train_val_test_split(load("penguins"), 0.1, 0.2, 0)
    model = Model.create(TrainConfig(hidden=(16,), epochs=5), train)
    model.fit(train, val)
    back = Model.load(model.save(tmp_path / "m.npz"))
    assert back.prep == model.prep
    frame = pd.DataFrame({c: test.table.column(c) for c in reversed(test.table.columns)})
    frame.loc[0, "island"] = "Atlantis"  # unseen
    frame.loc[1, "sex"] = None
    frame.loc[2, "body_mass_g"] = np.nan
    p = back.predict_proba(frame)
    assert p.shape == (len(test), 3) and np.all(np.isfinite(p))
    np.testing.assert_array_equal(p[3:], model.predict_proba(test.table)[3:])
    assert back.evaluate(test)["accuracy"] == model.evaluate(test)["accuracy"]


def test_rows_missing_a_column_or_with_text_in_a_number_are_one_error():
    prep = Preprocessor.fit(_table(x=[1.0, 2.0], c=["a", "b"]))
    with pytest.raises(DataError, match=r"new.csv: the model needs the column\(s\) \['c'\]"):
        as_table({"x": [1.0]}, prep.inputs, prep.kinds, "new.csv")
    with pytest.raises(DataError, match=r"column 'x' is numeric in the model but holds 'lots'"):
        as_table({"x": ["lots"], "c": ["a"]}, prep.inputs, prep.kinds)


def test_bad_tables_are_one_line_naming_the_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,x,p\n2,y,q\n3,x,q\n")
    with pytest.raises(DataError, match=r"column 'b' is given as --numeric but holds 'x'"):
        read(path, numeric=("b",))
    with pytest.raises(DataError, match=r"no feature column is left"):
        read(path, drop=("a", "b"))
    with pytest.raises(DataError, match=r"--categorical names the column 'c', which the data"):
        read(path, categorical=("c",))
    bad = tmp_path / "t.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match=r"t.parquet is not a Parquet file"):
        read(bad)
    dup = pytest.importorskip("pandas").DataFrame([[1, "x"]], columns=["a", "a"])
    from caviar.data.table import frame_columns

    with pytest.raises(DataError, match=r"the column names \['a'\] repeat"):
        frame_columns(dup, "X")


def test_read_columns_gives_numbers_as_floats_and_text_with_none(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("n,t\n1,x\n,NA\n2.5,\n")
    cols = read_columns(path)
    np.testing.assert_array_equal(cols["n"], [1.0, np.nan, 2.5])
    assert cols["t"].tolist() == ["x", None, None]


def test_a_table_model_reads_a_file_of_numbers_without_missing_cells(tmp_path):
    rows = "".join(f"{i},{i % 4},{'xy'[i % 2]}\n" for i in range(40))
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    train_csv.write_text("a,b,label\n1,,x\n" + rows)
    new_csv.write_text("b,a,label\n" + rows)  # no missing cell: read as a plain data set
    train, val, _ = train_val_test_split(read(train_csv), 0.1, 0.0, 0)
    model = Model.create(TrainConfig(hidden=(8,), epochs=2), train)
    model.fit(train, val)
    new = read(new_csv)
    assert new.table is None
    assert model.evaluate(new)["n"] == 40  # its columns found by name, b imputed as needed
