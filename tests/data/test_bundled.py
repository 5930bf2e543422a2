import numpy as np
import pytest

from caviar.data import LOADERS, load, load_mnist1d, mnist1d_train_test
from caviar.data import mnist1d as m1d
from caviar.errors import DataError, InvalidArgument


@pytest.mark.parametrize(
    "name, shape, n_classes",
    [
        ("digits", (1797, 64), 10),
        ("iris", (150, 4), 3),
        ("wine", (178, 13), 3),
        ("breast_cancer", (569, 30), 2),
        ("mnist1d", (5000, 40), 10),
        ("synthetic", (1000, 20), 3),
    ],
)
def test_each_bundled_set_loads_with_its_shape_and_classes(name, shape, n_classes):
    ds = load(name)
    assert ds.X.shape == shape and ds.n_classes == n_classes
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert len(ds.feature_names) == shape[1] and ds.name == name
    assert set(np.unique(ds.y)) == set(range(n_classes))


def test_class_names_are_the_original_labels():
    assert load("digits").classes.tolist() == list(range(10))
    assert load("iris").classes.tolist() == ["setosa", "versicolor", "virginica"]
    assert load("breast_cancer").classes.tolist() == ["benign", "malignant"]
    assert load("iris").feature_names[0] == "sepal length (cm)"


def test_unknown_name_lists_the_known_names():
    with pytest.raises(DataError, match=r"'mnist'.*'digits', 'iris', 'wine'.*'synthetic'"):
        load("mnist")


def test_unknown_option_lists_the_accepted_options():
    with pytest.raises(InvalidArgument, match=r"n_samples, n_features, n_classes, seed"):
        load("synthetic", n_rows=3)
    with pytest.raises(InvalidArgument, match=r"accepts: none"):
        load("iris", seed=1)
    assert set(LOADERS) == {
        "digits", "iris", "wine", "breast_cancer", "mnist1d", "synthetic", "penguins", "wage"
    }  # fmt: skip


def test_mnist1d_is_deterministic_for_a_seed_and_differs_for_another():
    a, b, c = (load("mnist1d", n_samples=200, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)


def test_mnist1d_is_balanced_standardised_and_split_canonically():
    ds = load_mnist1d()
    assert np.bincount(ds.y).tolist() == [500] * 10
    assert abs(float(ds.X.mean())) < 1e-4 and abs(float(ds.X.std()) - 1) < 1e-4
    train, test = mnist1d_train_test()
    assert (len(train), len(test)) == (4000, 1000)
    np.testing.assert_array_equal(test.X, ds.X[4000:])  # the LAST 1000 rows are the test part
    np.testing.assert_array_equal(train.y, ds.y[:4000])


def test_mnist1d_is_learnable_but_not_linearly_easy():
    # Greydanus (2020) reports ~32 % for logistic regression; chance is 10 %.
    from sklearn.linear_model import LogisticRegression

    train, test = mnist1d_train_test()
    model = LogisticRegression(max_iter=300).fit(train.X, train.y)
    accuracy = model.score(test.X, test.y)
    assert 0.2 < accuracy < 0.5


def test_mnist1d_templates_start_at_zero():
    T = m1d.templates()
    assert T.shape == (10, 12)
    np.testing.assert_array_equal(T[:, 0], 0.0)


def test_mnist1d_smoothing_and_interpolation_match_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    z = np.random.default_rng(0).normal(size=72)
    np.testing.assert_allclose(m1d.smooth(z), ndimage.gaussian_filter(z, 2), atol=1e-12)
    np.testing.assert_allclose(m1d.interpolate(np.array([0.0, 2.0]), 5), [0, 0.5, 1, 1.5, 2])


def test_mnist1d_refuses_a_size_not_divisible_by_ten():
    with pytest.raises(InvalidArgument, match=r"multiple of 10"):
        load("mnist1d", n_samples=105)


def test_synthetic_any_size_deterministic_and_balanced():
    a = load("synthetic", n_samples=301, n_features=7, n_classes=4, seed=1)
    b = load("synthetic", n_samples=301, n_features=7, n_classes=4, seed=1)
    c = load("synthetic", n_samples=301, n_features=7, n_classes=4, seed=2)
    assert a.X.shape == (301, 7) and a.n_classes == 4
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)
    assert np.bincount(a.y).tolist() == [76, 75, 75, 75]


def test_synthetic_refuses_bad_sizes():
    with pytest.raises(InvalidArgument, match=r"'n_classes' parameter must be an integer >= 2"):
        load("synthetic", n_classes=1)
    with pytest.raises(InvalidArgument, match=r"'n_samples' parameter must be an integer >= 3"):
        load("synthetic", n_samples=2, n_classes=3)
    with pytest.raises(InvalidArgument, match=r"'class_sep' parameter must be in \(0, inf\)"):
        load("synthetic", class_sep=0)
