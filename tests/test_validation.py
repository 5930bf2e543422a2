"""Bad arguments raise ValueError (InvalidArgument) naming the argument and the allowed range."""

from __future__ import annotations

import numpy as np
import pytest

from caviar import Adam, InvalidArgument, Momentum, Network, RMSprop, fit, make_schedule


def test_negative_learning_rate():
    with pytest.raises(ValueError, match=r"The 'lr' parameter must be in \(0, inf\)\. Got -0\.1"):
        make_schedule("constant", -0.1)


def test_negative_learning_rate_names_the_member():
    with pytest.raises(InvalidArgument, match=r"'lr'.*Got -1\.0 \(member 2\)"):
        make_schedule("exponential", [0.1, 0.2, -1.0], K=3)


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5, np.nan])
def test_beta_outside_zero_one(beta):
    with pytest.raises(ValueError, match=r"The 'beta1' parameter must be in \[0, 1\)"):
        Adam([np.ones((1, 2))], beta1=beta)
    with pytest.raises(ValueError, match=r"The 'beta2' parameter must be in \[0, 1\)"):
        RMSprop([np.ones((1, 2))], beta2=beta)
    with pytest.raises(ValueError, match=r"The 'beta' parameter must be in \[0, 1\)"):
        Momentum([np.ones((1, 2))], beta=beta)


def test_eps_must_be_positive():
    with pytest.raises(ValueError, match=r"The 'eps' parameter must be in \(0, inf\)"):
        Adam([np.ones((1, 2))], eps=0.0)


def test_per_member_values_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"'eps' parameter must be a scalar or have shape \(3,\)"):
        Adam([np.ones((3, 2))], eps=[0.1, 0.2])


def test_input_width_that_does_not_chain_with_the_first_layer():
    net = Network([4, 3, 2])
    with pytest.raises(ValueError, match=r"The 'X' array must have shape \(B, 4\)"):
        net.loss(np.ones((5, 3)), np.zeros(5, dtype=int))


def test_weights_that_do_not_chain():
    net = Network([4, 3, 2])
    with pytest.raises(ValueError, match=r"'dense2.W' array must have one of the shapes.*chain"):
        net.set_params({"dense2.W": np.ones((4, 2))})


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([4], "at least the input and output sizes"),
        ([4, 0, 2], r"positive integers.*Got 0 at position 1"),
        ([4, 3.5, 2], r"positive integers.*Got 3.5"),
        ([4, 3, 1], "at least 2"),
    ],
)
def test_bad_sizes(sizes, match):
    with pytest.raises(ValueError, match=match):
        Network(sizes)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad):
    X = np.ones((5, 4))
    X[2, 1] = bad
    net = Network([4, 3, 2])
    with pytest.raises(ValueError, match=r"The 'X' array must be finite.*index \(2, 1\)"):
        net.loss(X, np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="must be finite"):
        fit(net, Adam(net.params), X, np.zeros(5, dtype=int), epochs=1, schedule=1e-3)


def test_labels_out_of_range():
    with pytest.raises(ValueError, match=r"'y' labels must be in \[0, 1\].*Got 2"):
        Network([4, 3, 2]).loss(np.ones((3, 4)), np.array([0, 1, 2]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"K": 0}, r"'K' parameter must be an integer >= 1"),
        ({"activation": "swish"}, r"'activation' parameter must be one of"),
        ({"bn_momentum": 1.0}, r"'bn_momentum' parameter must be in \[0, 1\)"),
        ({"keep_prob": 0.0}, r"'keep_prob' parameter must be in \(0, 1\]"),
        ({"l2": -1.0}, r"'l2' parameter must be in \[0, inf\)"),
        ({"seeds": [-1]}, "'seeds' parameter must be one non-negative integer per member"),
        ({"dtype": "float16"}, "'dtype' parameter must be one of"),
    ],
)
def test_bad_network_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Network([4, 3, 2], **kwargs)


def test_batchnorm_refuses_a_batch_of_one():
    net = Network([4, 3, 2])
    with pytest.raises(ValueError, match="at least 2 examples per mini-batch"):
        net.loss(np.ones((1, 4)), np.zeros(1, dtype=int))


def test_fit_folds_a_lone_last_example_into_the_previous_batch():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 2, size=9)
    net = Network([4, 3, 2])
    history = fit(net, Adam(net.params), X, y, epochs=2, schedule=1e-3, batch_size=4)  # 4 + 5
    assert history.steps == 4
