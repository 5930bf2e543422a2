"""The transform: each distribution's samples follow it, and unit coordinates round-trip."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from caviar.config import TrainConfig
from caviar.errors import InvalidArgument
from caviar.tuning import Dimension, SearchSpace, decode, encode, from_unit, sample, to_unit

N = 2000
P_MIN = 0.01

SPACE = SearchSpace.from_dict(
    {
        "lr": {"dist": "log", "low": 1e-4, "high": 1},
        "beta1": {"dist": "one_minus_log", "low": 0.9, "high": 0.999},
        "beta2": {"dist": "one_minus_log", "low": 0.99, "high": 0.9999},
        "keep_prob": {"dist": "uniform", "low": 0.5, "high": 1.0},
        "epochs": {"dist": "int", "low": 1, "high": 6},
        "batch_size": {"dist": "log_int", "low": 1, "high": 10},
        "optimizer": {"dist": "choice", "choices": ["adam", "momentum", "rmsprop"]},
        "hidden": {"dist": "choice", "choices": [[64, 64], [128]]},
        "seed": 7,
    }
)


@pytest.fixture(scope="module")
def draws():
    configs = sample(SPACE, N, method="random", seed=0)
    return {name: [c[name] for c in configs] for name in SPACE.names}


def _uniform_p(x, low, high):
    return stats.kstest(x, "uniform", args=(low, high - low)).pvalue


def test_log_lr_is_uniform_in_its_exponent(draws):
    assert _uniform_p(np.log10(draws["lr"]), -4, 0) > P_MIN
    assert _uniform_p(draws["lr"], 1e-4, 1) < 1e-6  # and not uniform in lr itself


def test_one_minus_beta_is_log_uniform(draws):
    assert _uniform_p(np.log10(1 - np.array(draws["beta1"])), -3, -1) > P_MIN
    assert _uniform_p(np.log10(1 - np.array(draws["beta2"])), -4, -2) > P_MIN


def test_the_median_beta1_in_0_9_to_0_999_is_0_99(draws):
    assert np.median(draws["beta1"]) == pytest.approx(0.99, abs=0.002)
    assert from_unit(SPACE["beta1"], 0.5) == pytest.approx(0.99, rel=1e-12)
    assert from_unit(SPACE["beta2"], 0.5) == pytest.approx(0.999, rel=1e-12)


def test_uniform_is_uniform_on_its_own_scale(draws):
    assert _uniform_p(draws["keep_prob"], 0.5, 1.0) > P_MIN


def _chisquare_p(values, support, probabilities):
    counts = [np.sum(np.array(values, dtype=object) == v) for v in support]
    assert sum(counts) == len(values)  # nothing outside the support
    return stats.chisquare(counts, len(values) * np.asarray(probabilities)).pvalue


def test_int_is_uniform_over_low_to_high_inclusive(draws):
    assert all(type(v) is int for v in draws["epochs"])
    assert _chisquare_p(draws["epochs"], range(1, 7), [1 / 6] * 6) > P_MIN


def test_log_int_rounds_a_log_uniform_draw(draws):
    v = np.arange(1, 11)
    p = np.log((v + 0.5) / (v - 0.5)) / np.log(10.5 / 0.5)
    assert _chisquare_p(draws["batch_size"], v, p) > P_MIN


def test_choices_are_equally_likely(draws):
    assert _chisquare_p(draws["optimizer"], ["adam", "momentum", "rmsprop"], [1 / 3] * 3) > P_MIN
    hidden = [str(h) for h in draws["hidden"]]
    assert _chisquare_p(hidden, ["(64, 64)", "(128,)"], [0.5, 0.5]) > P_MIN


def test_decode_gives_python_values_and_fixed_dims(draws):
    config = decode(SPACE, np.full((1, SPACE.d), 0.5))[0]
    assert list(config) == list(SPACE.names)
    assert config["seed"] == 7 and set(draws["seed"]) == {7}
    assert type(config["lr"]) is float and config["lr"] == pytest.approx(0.01)
    assert type(config["epochs"]) is int and type(config["batch_size"]) is int
    assert config["hidden"] == (128,) and config["optimizer"] == "momentum"
    assert TrainConfig.from_dict(config).lr == config["lr"]


@pytest.mark.parametrize("name", ["lr", "beta1", "beta2", "keep_prob"])
def test_continuous_round_trips_are_exact(name):
    dim = SPACE[name]
    u = np.random.default_rng(1).random(1000)
    np.testing.assert_allclose(to_unit(dim, from_unit(dim, u)), u, rtol=0, atol=1e-12)
    x = from_unit(dim, u)
    np.testing.assert_allclose(from_unit(dim, to_unit(dim, x)), x, rtol=1e-12)
    assert from_unit(dim, 0.0) == dim.low and from_unit(dim, 1.0) == dim.high
    assert to_unit(dim, dim.low) == 0.0 and to_unit(dim, dim.high) == 1.0


def test_discrete_values_map_to_their_bin_centres():
    epochs = SPACE["epochs"]
    np.testing.assert_allclose(to_unit(epochs, [1, 6]), [1 / 12, 11 / 12])
    np.testing.assert_array_equal(from_unit(epochs, [0.0, 1 / 6 - 1e-12, 1 / 6, 1.0]), [1, 1, 2, 6])
    for name, values in [("epochs", range(1, 7)), ("batch_size", range(1, 11))]:
        dim = SPACE[name]
        np.testing.assert_array_equal(from_unit(dim, to_unit(dim, list(values))), list(values))
    opt = SPACE["optimizer"]
    np.testing.assert_allclose(to_unit(opt, ["adam", "rmsprop"]), [1 / 6, 5 / 6])
    assert list(from_unit(opt, to_unit(opt, ["rmsprop", "adam"]))) == ["rmsprop", "adam"]
    hidden = SPACE["hidden"]
    np.testing.assert_allclose(to_unit(hidden, [[128], (64, 64)]), [0.75, 0.25])


def test_log_int_centre_is_the_middle_of_its_log_bin():
    dim = SPACE["batch_size"]
    edges = np.log10([2.5, 3.5]) - np.log10(0.5)
    assert to_unit(dim, [3])[0] == pytest.approx(edges.mean() / np.log10(10.5 / 0.5))


def test_encode_inverts_decode():
    U = np.random.default_rng(2).random((50, SPACE.d))
    configs = decode(SPACE, U)
    assert decode(SPACE, encode(SPACE, configs)) == configs
    continuous = [
        j for j, dim in enumerate(SPACE.free) if dim.dist not in ("int", "log_int", "choice")
    ]
    np.testing.assert_allclose(encode(SPACE, configs)[:, continuous], U[:, continuous], atol=1e-12)


def test_encode_takes_train_configs():
    space = SearchSpace.from_dict(
        {
            "lr": {"dist": "log", "low": 1e-4, "high": 1},
            "hidden": {"dist": "choice", "choices": [[64, 64], [32]]},
        }
    )
    np.testing.assert_allclose(encode(space, [TrainConfig(lr=1e-2, hidden=(32,))]), [[0.5, 0.75]])


def test_zero_width_ranges_sit_at_the_centre():
    dim = Dimension("lr", "log", 0.1, 0.1)
    assert to_unit(dim, 0.1) == 0.5 and from_unit(dim, [0.0, 0.7, 1.0]).tolist() == [0.1] * 3


def test_values_outside_the_space_are_refused():
    with pytest.raises(
        InvalidArgument, match=r"'lr' dimension \(log in \[0.0001, 1.0\]\) cannot hold 2.0"
    ):
        to_unit(SPACE["lr"], [0.1, 2.0])
    with pytest.raises(InvalidArgument, match="cannot hold 2.5"):
        to_unit(SPACE["epochs"], [2.5])
    with pytest.raises(
        InvalidArgument, match=r"chooses among \['adam', 'momentum', 'rmsprop'\]. Got 'gd'"
    ):
        to_unit(SPACE["optimizer"], ["gd"])
    with pytest.raises(InvalidArgument, match="pass a list of values"):
        to_unit(SPACE["optimizer"], "adam")
    with pytest.raises(InvalidArgument, match="'seed' dimension is fixed at 7"):
        to_unit(SPACE["seed"], [7])
    with pytest.raises(InvalidArgument, match=r"must lie in \[0, 1\]. Got 1.5"):
        from_unit(SPACE["lr"], [0.5, 1.5])
    with pytest.raises(InvalidArgument, match=r"shape \(n, 8\).*Got shape \(3, 2\)"):
        decode(SPACE, np.zeros((3, 2)))
    with pytest.raises(InvalidArgument, match="Configuration 1 has no 'lr' entry"):
        encode(
            SearchSpace.from_dict({"lr": {"dist": "log", "low": 1e-4, "high": 1}}),
            [{"lr": 0.1}, {}],
        )
