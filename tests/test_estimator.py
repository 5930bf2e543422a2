"""The scikit-learn estimator: sklearn's own contract suite, composition, partial_fit, pickling."""

from __future__ import annotations

import inspect
import pickle
from dataclasses import fields

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from caviar.config import TrainConfig
from caviar.errors import DataError, InvalidArgument
from caviar.estimator import NOT_PARAMETERS, Classifier
from caviar.train.batches import batch_bounds

# Small and quick, yet above the 0.83 training accuracy that check_classifiers_train asks.
SMALL = {"epochs": 5, "hidden": (16,), "batch_size": 32, "lr": 0.01}
# Checks the estimator is known to fail, with the reason. None, so far.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def stream():
    """A separable 3-class problem of 150 rows with string labels."""
    rng = np.random.default_rng(0)
    y = np.array(["c", "a", "b"])[rng.integers(0, 3, 150)]
    centers = {"a": [0.0, 3.0], "b": [3.0, 0.0], "c": [-3.0, -3.0]}
    X = np.array([centers[label] for label in y]) + rng.normal(size=(150, 2))
    return X, y


@parametrize_with_checks(
    [Classifier(**SMALL)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_contract(estimator, check):
    check(estimator)


# -- parameters ------------------------------------------------------------------------------
def test_parameters_are_train_config_fields_with_the_same_defaults():
    params = inspect.signature(Classifier).parameters
    expected = {f.name: f.default for f in fields(TrainConfig) if f.name not in NOT_PARAMETERS}
    assert {k: p.default for k, p in params.items()} == {**expected, "validation_fraction": 0.1}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"lr": -1.0}, "'lr'"),
        ({"lr": "fast"}, "'lr'"),
        ({"hidden": "a,b"}, "'hidden'"),
        ({"optimizer": "lbfgs"}, "'optimizer'"),
        ({"epochs": 0}, "'epochs'"),
        ({"early_stopping": -1}, "'early_stopping'"),
        ({"early_stopping": 2, "validation_fraction": 1.0}, "'validation_fraction'"),
    ],
)
def test_a_bad_parameter_is_stored_as_given_and_refused_by_fit_by_name(iris, params, name):
    clf = Classifier(**params)
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(InvalidArgument, match=name):
        clf.fit(*iris)


def test_a_parameter_from_set_params_is_used_by_the_next_fit(iris):
    clf = Classifier(**SMALL).set_params(hidden=(7,), epochs=2)
    assert clf.fit(*iris).model_.net.sizes == (4, 7, 3)
    assert clf.n_iter_ == 2


# -- labels and shapes -----------------------------------------------------------------------
def test_string_labels_come_back_and_probability_columns_follow_classes(stream):
    X, y = stream
    clf = Classifier(**SMALL).fit(X, y)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    for k, label in enumerate(clf.classes_):
        assert proba[y == label, k].mean() > 0.8
    assert np.mean(clf.predict(X) == y) > 0.95


def test_a_single_class_is_refused_with_the_rule(iris):
    X, _ = iris
    with pytest.raises(DataError, match="at least two classes.*only one class"):
        Classifier().fit(X, np.full(len(X), "setosa"))


def test_feature_names_from_a_data_frame_are_kept_and_checked(iris):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(iris[0], columns=["sl", "sw", "pl", "pw"])
    clf = Classifier(**SMALL).fit(X, iris[1])
    assert clf.feature_names_in_.tolist() == ["sl", "sw", "pl", "pw"]
    assert clf.model_.feature_names == ("sl", "sw", "pl", "pw")
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X[["sw", "sl", "pl", "pw"]])


# -- early stopping --------------------------------------------------------------------------
def test_early_stopping_holds_out_a_stratified_validation_fraction(iris):
    X, y = iris
    clf = Classifier(**{**SMALL, "epochs": 200}, early_stopping=3, validation_fraction=0.2)
    clf.fit(X, y)
    history = clf.model_.history
    assert clf.model_.n_train == 120  # 10 of each class's 50 rows held out
    assert history.stopped_early and clf.n_iter_ < 200
    assert len(history.val_loss) == clf.n_iter_


def test_without_early_stopping_fit_trains_on_all_rows(iris):
    clf = Classifier(**SMALL).fit(*iris)
    assert clf.model_.n_train == 150
    assert clf.model_.history.val_loss == []


# -- composition -----------------------------------------------------------------------------
def test_pipeline_with_a_scaler_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    pipe = make_pipeline(StandardScaler(), Classifier()).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.93


def test_cross_val_score_on_iris(iris):
    clf = Classifier(hidden=(16,), epochs=30, batch_size=16, lr=0.01)
    assert cross_val_score(clf, *iris, cv=5).mean() >= 0.9


def test_grid_search_on_iris(iris):
    grid = {"lr": [1e-4, 1e-2], "hidden": [(8,), (16,)]}
    search = GridSearchCV(Classifier(epochs=20, batch_size=16), grid, cv=3).fit(*iris)
    assert search.best_params_["lr"] == 1e-2
    assert search.best_score_ >= 0.9
    assert search.best_estimator_.score(*iris) >= 0.9


# -- partial_fit -----------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["constant", "warmup_cosine", "exponential"])
def test_partial_fit_epoch_by_epoch_equals_fit(stream, schedule):
    X, y = stream
    params = {**SMALL, "epochs": 3, "schedule": schedule, "warmup_steps": 4}
    whole = Classifier(**params).fit(X, y)
    steps = Classifier(**params)
    for _ in range(3):
        steps.partial_fit(X, y)
    assert steps.n_iter_ == whole.n_iter_ == 3
    np.testing.assert_array_equal(steps.predict_proba(X), whole.predict_proba(X))


def test_partial_fit_continues_the_step_count_over_batches_of_any_size(stream):
    X, y = stream
    clf = Classifier(**SMALL, schedule="warmup_cosine", warmup_steps=10)
    steps = 0
    for rows in (slice(0, 100), slice(100, 150), slice(0, 33)):
        before = clf.model_.net.params[0].copy() if steps else None
        clf.partial_fit(X[rows], y[rows], classes=["a", "b", "c"])
        steps += len(batch_bounds(len(X[rows]), SMALL["batch_size"]))
        history = clf.model_.history
        assert history.steps == steps
        assert before is None or not np.array_equal(before, clf.model_.net.params[0])
        # the learning rate of the epoch's last step is the schedule's at the true step
        assert history.lr[-1] == clf.model_.schedule.alpha(history.epochs - 1, steps - 1)
    assert clf.n_iter_ == 3 and np.all(np.array(history.loss) > 0)


def test_partial_fit_first_call_takes_classes_or_the_labels_seen(stream):
    X, y = stream
    assert Classifier(**SMALL).partial_fit(X, y).classes_.tolist() == ["a", "b", "c"]
    only_a = y == "a"
    clf = Classifier(**SMALL).partial_fit(X[only_a], y[only_a], classes=["c", "a", "b"])
    assert clf.classes_.tolist() == ["a", "b", "c"]
    assert clf.predict_proba(X).shape == (150, 3)


def test_partial_fit_refuses_new_labels_and_other_classes(stream):
    X, y = stream
    clf = Classifier(**SMALL).partial_fit(X[y != "c"], y[y != "c"])
    with pytest.raises(DataError, match=r"\['c'\] are not among the classes"):
        clf.partial_fit(X, y)
    with pytest.raises(DataError, match="differ from the classes of the first call"):
        clf.partial_fit(X[y != "c"], y[y != "c"], classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="at least two classes"):
        Classifier().partial_fit(X[y == "a"], y[y == "a"])


def test_partial_fit_after_fit_continues_the_same_model(iris):
    clf = Classifier(**SMALL, early_stopping=100).fit(*iris)
    model, steps = clf.model_, clf.model_.history.steps
    clf.partial_fit(*iris)
    assert clf.model_ is model and clf.n_iter_ == SMALL["epochs"] + 1
    assert model.history.steps == steps + len(batch_bounds(150, SMALL["batch_size"]))
    assert model.optimizer.state_dict()  # Adam's moments kept going


def test_fit_after_partial_fit_starts_over(iris):
    clf = Classifier(**SMALL).partial_fit(*iris).partial_fit(*iris)
    clf.fit(*iris)
    np.testing.assert_array_equal(
        clf.predict_proba(iris[0]), clone(clf).fit(*iris).predict_proba(iris[0])
    )


# -- persistence and failure -----------------------------------------------------------------
def test_pickle_and_read_only_memmap_give_a_model_that_predicts_and_trains_on(iris, tmp_path):
    X, y = iris
    clf = Classifier(**SMALL).fit(X, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    copies = [pickle.loads(pickle.dumps(clf)), joblib.load(tmp_path / "clf.joblib", mmap_mode="r")]
    clf.partial_fit(X, y)
    for copy in copies:
        copy.partial_fit(X, y)
        np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    assert "model_" in vars(clf) and not isinstance(clf.model_, bytes)


def test_divergence_is_reported_as_a_convergence_warning(iris):
    clf = Classifier(optimizer="gd", lr=1e30, batchnorm=False, hidden=(8,), epochs=3)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 0.*Lower lr"):
        clf.fit(*iris)


def test_a_value_beyond_float32_is_a_clear_error_without_a_numpy_warning():
    import warnings

    X, y = load_iris(return_X_y=True)
    clf = Classifier(hidden=(8,), epochs=1).fit(X, y)
    X = X.copy()
    X[3, 2] = 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from the cast would fail here
        with pytest.raises(DataError, match=r"row 3, column 2 holds 1e\+308, beyond the float32"):
            clf.predict(X)
