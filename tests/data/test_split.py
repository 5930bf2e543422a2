import numpy as np
import pytest

from caviar.data import Dataset, Standardizer, load, train_val_test_split
from caviar.errors import CheckpointError, DataError, InvalidArgument


def _ds(counts, d=3, labels=None):
    labels = labels or [f"c{k}" for k in range(len(counts))]
    y = np.repeat(labels, counts)
    X = np.random.default_rng(0).normal(size=(len(y), d))
    return Dataset.from_arrays(X, y, name="t")


def _rows(part, ds):
    """Original row indices of a part (features are unique rows)."""
    lookup = {row.tobytes(): i for i, row in enumerate(ds.X)}
    return [lookup[row.tobytes()] for row in part.X]


def test_split_is_deterministic_for_a_seed():
    ds = load("digits")
    a = train_val_test_split(ds, seed=7)
    b = train_val_test_split(ds, seed=7)
    c = train_val_test_split(ds, seed=8)
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.X, q.X)
        np.testing.assert_array_equal(p.y, q.y)
    assert not np.array_equal(a[2].X, c[2].X)


def test_split_is_a_partition_with_the_asked_sizes():
    ds = load("digits")
    train, val, test = train_val_test_split(ds, val=0.1, test=0.2, seed=0)
    rows = [set(_rows(p, ds)) for p in (train, val, test)]
    assert rows[0].isdisjoint(rows[1]) and rows[0].isdisjoint(rows[2])
    assert rows[1].isdisjoint(rows[2])
    assert set().union(*rows) == set(range(len(ds)))
    assert abs(len(test) - 0.2 * len(ds)) <= ds.n_classes
    assert abs(len(val) - 0.1 * len(ds)) <= ds.n_classes
    assert (train.name, val.name, test.name) == ("digits-train", "digits-val", "digits-test")


def test_split_is_stratified():
    ds = _ds([300, 60, 40])
    train, val, test = train_val_test_split(ds, val=0.1, test=0.2, seed=1)
    assert np.bincount(test.y).tolist() == [60, 12, 8]
    assert np.bincount(val.y).tolist() == [30, 6, 4]
    assert np.bincount(train.y).tolist() == [210, 42, 28]
    assert test.classes.tolist() == ["c0", "c1", "c2"]


def test_every_class_in_every_part_when_possible():
    ds = _ds([100, 3, 2])
    train, val, test = train_val_test_split(ds, val=0.1, test=0.2, seed=0)
    assert np.bincount(train.y, minlength=3).tolist()[1:] == [1, 1]
    assert np.bincount(val.y, minlength=3).tolist()[1:] == [1, 0]  # two rows: train, test
    assert np.bincount(test.y, minlength=3).tolist()[1:] == [1, 1]


def test_zero_validation_gives_an_empty_part():
    ds = _ds([10, 10])
    train, val, test = train_val_test_split(ds, val=0.0, test=0.5)
    assert (len(train), len(val), len(test)) == (10, 0, 10)
    assert val.X.shape == (0, 3)


def test_split_refuses_bad_fractions():
    ds = _ds([10, 10])
    with pytest.raises(InvalidArgument, match=r"'test' parameter must be in \[0, 1\)"):
        train_val_test_split(ds, test=1.2)
    with pytest.raises(InvalidArgument, match=r"must sum to less than 1. Got 1 instead"):
        train_val_test_split(ds, val=0.5, test=0.5)


def test_standardizer_uses_training_statistics_only():
    ds = load("wine")
    train, _, test = train_val_test_split(ds, seed=0)
    s = Standardizer.fit(train.X)
    np.testing.assert_allclose(s.mean, train.X.mean(axis=0, dtype=np.float64), rtol=1e-6)
    np.testing.assert_allclose(s.std, train.X.std(axis=0, dtype=np.float64), rtol=1e-5)
    Z_train, Z_test = s.transform(train.X), s.transform(test.X)
    assert Z_test.dtype == np.float32
    np.testing.assert_allclose(Z_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z_test, (test.X - s.mean) / s.std, rtol=1e-6)
    assert not np.allclose(Z_test.mean(axis=0), 0, atol=1e-3)  # test statistics are not used


def test_standardizer_treats_constant_columns_as_std_one():
    X = np.array([[1.0, 0.1, 2.0], [3.0, 0.1, 2.0], [5.0, 0.1, 2.0]], dtype=np.float32)
    s = Standardizer.fit(X)
    assert s.std[1:].tolist() == [1.0, 1.0]
    Z = s.transform(X)
    assert np.all(Z[:, 1:] == 0.0)


def test_standardizer_round_trips_through_npz_without_pickle(tmp_path):
    s = Standardizer.fit(load("iris").X)
    np.savez(tmp_path / "ckpt.npz", **s.to_arrays())
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as npz:
        t = Standardizer.from_arrays(npz)
    np.testing.assert_array_equal(t.mean, s.mean)
    np.testing.assert_array_equal(t.std, s.std)


def test_standardizer_refuses_bad_input():
    s = Standardizer.fit(np.eye(3))
    with pytest.raises(DataError, match=r"fitted on 3 features; got X of shape \(2, 4\)"):
        s.transform(np.zeros((2, 4)))
    with pytest.raises(CheckpointError, match=r"lack 'std'"):
        Standardizer.from_arrays({"mean": np.zeros(3)})
    with pytest.raises(CheckpointError, match=r"positive 'std'"):
        Standardizer.from_arrays({"mean": np.zeros(3), "std": np.zeros(3)})


def test_mnist1d_keeps_the_benchmarks_standard_split():
    """Its first 4,000 rows train and validate, the last 1,000 test, as the MNIST-1D paper
    reports; validation is drawn (stratified) from the first 4,000."""
    from caviar.data import load

    ds = load("mnist1d")
    train, val, test = train_val_test_split(ds, val=0.2, test=0.3, seed=1)
    assert (len(train), len(val), len(test)) == (3200, 800, 1000)
    np.testing.assert_array_equal(test.X, ds.X[4000:])
    rows = {tuple(r) for r in np.concatenate([train.X, val.X])}
    assert rows == {tuple(r) for r in ds.X[:4000]}
    assert test.test_start is None and train.test_start is None
