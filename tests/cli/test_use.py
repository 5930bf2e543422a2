"""caviar evaluate and caviar predict on a saved model."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from caviar.data import load
from caviar.model import Model
from tests.cli.conftest import last_json
from tests.cli.test_train import write_csv


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A model trained on digits with the default configuration, and its train result."""
    from click.testing import CliRunner

    from caviar.cli.main import main

    path = tmp_path_factory.mktemp("model") / "digits.npz"
    result = CliRunner().invoke(main, ["train", "--data", "digits", "--json", "--save", path])
    assert result.exit_code == 0, result.stderr
    return path, last_json(result)


def test_evaluate_defaults_to_the_test_split_the_model_was_trained_with(cli, digits_model):
    path, trained = digits_model
    r = last_json(cli("evaluate", path, "--json"))
    assert r["split"] == "test" and r["n"] == 359 and r["data"] == "digits"
    assert r["accuracy"] == trained["test_accuracy"] and r["loss"] == trained["test_loss"]
    assert r["classes"] == list(range(10))
    confusion = np.array(r["confusion"])
    assert confusion.sum() == 359 and np.trace(confusion) / 359 == r["accuracy"]
    assert last_json(cli("evaluate", path, "--data", "digits", "--json")) == r


def test_evaluate_other_splits(cli, digits_model):
    path, trained = digits_model
    every = last_json(cli("evaluate", path, "--split", "all", "--json"))
    assert every["n"] == 1797 and every["split"] == "all"
    val = last_json(cli("evaluate", path, "--split", "val", "--json"))
    assert val["accuracy"] == trained["val_accuracy"]


def test_evaluate_prints_accuracy_and_a_confusion_table(cli, digits_model):
    out = cli("evaluate", digits_model[0]).stdout
    assert out.startswith("digits (test, 359 rows): accuracy 0.9")
    assert "confusion matrix" in out and "true \\ predicted" in out


def test_evaluate_on_another_file_defaults_to_all_its_rows(cli, tmp_path):
    iris = load("iris")
    train = write_csv(tmp_path / "train.csv", iris)
    cli("train --data", train, "--target species --hidden 8 --save", tmp_path / "m.npz")
    other = write_csv(tmp_path / "other.csv", iris.subset(np.arange(0, 150, 3)))
    r = last_json(
        cli("evaluate", tmp_path / "m.npz", "--data", other, "--target", "species", "--json")
    )
    assert r["split"] == "all" and r["n"] == 50
    assert r["classes"] == ["setosa", "versicolor", "virginica"]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_predict_writes_the_original_labels_as_csv(cli, tmp_path):
    iris = load("iris")
    data = write_csv(tmp_path / "iris.csv", iris)
    flags = "--target species --lr 0.01 --epochs 50 --batch-size 16 --save"
    cli("train --data", data, flags, tmp_path / "m.npz")
    rows = _rows(cli("predict", tmp_path / "m.npz").stdout)
    assert rows[0] == ["prediction"] and len(rows) == 151
    predicted = np.array([r[0] for r in rows[1:]])
    assert set(predicted) <= {"setosa", "versicolor", "virginica"}
    assert np.mean(predicted == iris.classes[iris.y]) > 0.9
    model = Model.load(tmp_path / "m.npz")
    assert predicted.tolist() == model.predict(iris.X).tolist()


def test_predict_with_probabilities_to_a_file(cli, digits_model, tmp_path):
    path, _ = digits_model
    result = cli("predict", path, "--data", "digits", "--proba", "--out", tmp_path / "p.csv")
    assert result.stdout == ""
    rows = _rows((tmp_path / "p.csv").read_text())
    assert rows[0] == ["prediction"] + [f"proba_{c}" for c in range(10)]
    P = np.array([r[1:] for r in rows[1:]], dtype=np.float32)  # shortest float32 text
    assert P.shape == (1797, 10)
    np.testing.assert_allclose(P.sum(axis=1), 1, atol=1e-5)
    digits = load("digits")
    np.testing.assert_array_equal(P, Model.load(path).predict_proba(digits.X))  # exact floats
    assert [int(r[0]) for r in rows[1:]] == P.argmax(axis=1).tolist()


def test_predict_on_new_unlabelled_rows(cli, tmp_path):
    model = tmp_path / "iris.npz"
    cli("train --data iris --epochs 30", "--save", model)
    iris = load("iris")
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(reversed(iris.feature_names))  # any column order: matched by name
        for row in iris.X[:6]:
            w.writerow(reversed([float(v) for v in row]))
    out = _rows(cli("predict", model, "--data", new).stdout)
    assert out[0] == ["prediction"] and len(out) == 7
    expected = Model.load(model).predict(iris.X[:6]).tolist()
    assert [r[0] for r in out[1:]] == expected
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = cli("predict", model, "--data", bad, code=2)
    assert "are missing" in result.stderr and "Traceback" not in result.stderr
