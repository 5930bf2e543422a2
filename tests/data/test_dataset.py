import numpy as np
import pytest

from caviar.data import Dataset
from caviar.errors import DataError

IRIS_NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")


def _X(n=20, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_from_arrays_checks_once_and_normalises_types():
    X = np.asfortranarray(_X())
    ds = Dataset.from_arrays(X, [3, 10, 7, 3] * 5, name="t")
    assert ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    assert ds.y.dtype == np.int64 and ds.y.shape == (20,)
    assert ds.classes.tolist() == [3, 7, 10]  # sorted numerically
    assert ds.y[:4].tolist() == [0, 2, 1, 0]
    assert ds.feature_names == ("x0", "x1", "x2", "x3")
    assert (ds.n_samples, ds.n_features, ds.n_classes, len(ds)) == (20, 4, 3, 20)
    np.testing.assert_array_equal(ds.X, X.astype(np.float32))


def test_arrays_are_read_only_and_copied():
    X = _X().astype(np.float32)
    ds = Dataset.from_arrays(X, [0, 1] * 10)
    X[0, 0] = 99.0
    assert ds.X[0, 0] != 99.0
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1.0


def test_string_labels_round_trip_through_encode_and_decode():
    labels = np.array(["virginica", "setosa", "versicolor", "setosa"] * 5)
    ds = Dataset.from_arrays(_X(), labels)
    assert ds.classes.tolist() == ["setosa", "versicolor", "virginica"]
    codes = ds.encode_labels(["setosa", "virginica"])
    assert codes.tolist() == [0, 2]
    np.testing.assert_array_equal(ds.decode(ds.y), labels)
    np.testing.assert_array_equal(ds.decode(ds.encode_labels(labels)), labels)


def test_object_and_integral_float_labels_are_accepted():
    ds = Dataset.from_arrays(_X(4), np.array(["b", "a", "b", "a"], dtype=object))
    assert ds.classes.tolist() == ["a", "b"]
    ds = Dataset.from_arrays(_X(4), np.array([1.0, 0.0, 1.0, 0.0]))
    assert ds.classes.dtype == np.int64 and ds.classes.tolist() == [0, 1]


def test_nan_names_row_and_column():
    X = _X(20)
    X[17, 3] = np.nan
    msg = r"row 17, column 'petal_width' holds nan; remove or impute it"
    with pytest.raises(DataError, match=msg):
        Dataset.from_arrays(X, [0, 1] * 10, name="iris", feature_names=IRIS_NAMES)


def test_inf_names_row_and_column():
    X = _X(20)
    X[2, 0] = -np.inf
    with pytest.raises(DataError, match=r"row 2, column 'x0' holds -inf"):
        Dataset.from_arrays(X, [0, 1] * 10)


def test_single_class_is_refused():
    with pytest.raises(DataError, match=r"only one class \('a'\); a classifier needs at least two"):
        Dataset.from_arrays(_X(5), ["a"] * 5)


def test_empty_is_refused():
    with pytest.raises(DataError, match=r"'none' is empty: it holds no rows"):
        Dataset.from_arrays(np.zeros((0, 3)), [], name="none")


def test_length_mismatch_is_refused():
    with pytest.raises(DataError, match=r"X has 20 rows but y has 19 labels"):
        Dataset.from_arrays(_X(20), [0, 1] * 9 + [0])


def test_non_numeric_column_is_named_by_index():
    X = np.array([[1.0, 2.0, "red"], [3.0, 4.0, "blue"]], dtype=object)
    with pytest.raises(DataError, match=r"column 2 is not numeric \(row 0 holds 'red'\)"):
        Dataset.from_arrays(X, [0, 1])


def test_bad_shapes_are_refused():
    with pytest.raises(DataError, match=r"X must be 2-D"):
        Dataset.from_arrays(np.zeros(4), [0, 1, 0, 1])
    with pytest.raises(DataError, match=r"y must be 1-D"):
        Dataset.from_arrays(_X(4), np.array([[0], [1], [0], [1]]))
    with pytest.raises(DataError, match=r"3 feature names given for 4 columns"):
        Dataset.from_arrays(_X(4), [0, 1, 0, 1], feature_names=["a", "b", "c"])


def test_bad_labels_are_refused():
    with pytest.raises(DataError, match=r"the target y is continuous .*does not regress"):
        Dataset.from_arrays(_X(2), [0.5, 1.0])
    with pytest.raises(DataError, match=r"labels must be integers or strings; y holds nan"):
        Dataset.from_arrays(_X(2), [np.nan, 1.0])
    with pytest.raises(DataError, match=r"all integers or all strings"):
        Dataset.from_arrays(_X(2), np.array([1, "a"], dtype=object))


def test_unseen_label_at_prediction_is_named():
    ds = Dataset.from_arrays(_X(4), ["cat", "dog", "cat", "dog"], name="pets")
    with pytest.raises(DataError, match=r"labels \['bird', 'fish'\] were not seen in training"):
        ds.encode_labels(["cat", "fish", "bird", "fish"])
    ints = Dataset.from_arrays(_X(4), [0, 1, 0, 1])
    with pytest.raises(DataError, match=r"labels \[5\] were not seen"):
        ints.encode_labels([1, 5])
    with pytest.raises(DataError, match=r"labels \['1'\] were not seen"):
        ints.encode_labels(["1"])


def test_decode_refuses_codes_out_of_range():
    ds = Dataset.from_arrays(_X(4), [0, 1, 0, 1])
    with pytest.raises(DataError, match=r"codes must be integers in \[0, 2\)"):
        ds.decode([0, 2])


def test_given_classes_fix_the_codes_and_allow_a_missing_class():
    ds = Dataset.from_arrays(_X(3), ["b", "b", "b"], classes=["a", "b", "c"])
    assert ds.y.tolist() == [1, 1, 1] and ds.n_classes == 3
    with pytest.raises(DataError, match=r"labels \['d'\] were not seen"):
        Dataset.from_arrays(_X(3), ["a", "d", "a"], classes=["a", "b"])
    with pytest.raises(DataError, match=r"classes must be sorted and unique"):
        Dataset.from_arrays(_X(2), ["a", "b"], classes=["b", "a"])


def test_subset_keeps_classes_and_names():
    ds = Dataset.from_arrays(_X(6), [0, 1, 2, 0, 1, 2], feature_names=IRIS_NAMES)
    part = ds.subset(slice(0, 2), "head")
    assert part.name == "head" and part.classes.tolist() == [0, 1, 2]
    assert part.feature_names == IRIS_NAMES and part.y.tolist() == [0, 1]
    assert "n_samples=2" in repr(part)


def test_a_continuous_target_is_refused_not_classified():
    """A measurement as the target (statsmodels' fair.csv 'affairs': 77 distinct floats)
    was once trained as a 77-class model; now it is one line that says how to bin it."""
    rng = np.random.default_rng(0)
    values = np.round(rng.exponential(size=200), 4)
    with pytest.raises(DataError, match=r"the target 'affairs' is continuous.*pandas.cut"):
        Dataset.from_arrays(_X(200), values.astype(str), name="fair", target="affairs")
    with pytest.raises(DataError, match=r"is continuous"):
        Dataset.from_arrays(_X(200), values)
    # floats that are integers stay labels; strings that are not numbers stay labels
    assert Dataset.from_arrays(_X(4), [1.0, 2.0, 1.0, 2.0]).n_classes == 2
    assert Dataset.from_arrays(_X(4), ["1.5a", "b", "1.5a", "b"]).n_classes == 2


def test_nearly_one_class_per_row_is_refused():
    ids = np.arange(100)
    with pytest.raises(DataError, match=r"100 distinct values in 100 rows.*identifier"):
        Dataset.from_arrays(_X(100), ids)
    # few rows, or many rows per class, are labels
    assert Dataset.from_arrays(_X(20), np.arange(20)).n_classes == 20
    assert Dataset.from_arrays(_X(200), np.arange(200) % 50).n_classes == 50
