"""The notes' identities and worked examples."""

from __future__ import annotations

import numpy as np

from caviar import Network, softmax
from caviar.nn import BatchNorm, SoftmaxCrossEntropy


def test_batchnorm_is_the_identity_with_gamma_sigma_and_beta_mu():
    rng = np.random.default_rng(0)
    K, eps = 3, 1e-5
    z = 4 + 2 * rng.normal(size=(K, 16, 5))
    bn = BatchNorm(5, K, np.full(K, 0.9), eps, np.float64)
    mu = z.mean(axis=1, keepdims=True)
    var = z.var(axis=1, keepdims=True)  # biased: divide by m
    bn.gamma[...] = np.sqrt(var + eps)
    bn.beta[...] = mu
    np.testing.assert_allclose(bn.forward(z, training=True), z, rtol=1e-12, atol=1e-12)


def test_batchnorm_running_statistics_are_exponentially_weighted_averages():
    rng = np.random.default_rng(1)
    bn = BatchNorm(3, 2, np.array([0.9, 0.5]), 1e-5, np.float64)
    mean, var = np.zeros((2, 1, 3)), np.ones((2, 1, 3))
    mom = np.array([0.9, 0.5]).reshape(2, 1, 1)
    for _ in range(4):
        z = rng.normal(size=(2, 8, 3))
        bn.forward(z, training=True)
        mean = mom * mean + (1 - mom) * z.mean(axis=1, keepdims=True)
        var = mom * var + (1 - mom) * z.var(axis=1, keepdims=True)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-13)
    z = rng.normal(size=(2, 5, 3))
    expected = bn.gamma * (z - mean) / np.sqrt(var + 1e-5) + bn.beta
    np.testing.assert_allclose(bn.forward(z, training=False), expected, rtol=1e-12)


def test_softmax_worked_example():
    z = np.array([5.0, 2.0, -1.0, 3.0])
    t = np.exp(z)
    np.testing.assert_allclose(t, [148.4, 7.4, 0.4, 20.1], atol=0.05)
    assert abs(t.sum() - 176.3) < 0.05
    np.testing.assert_allclose(softmax(z), [0.842, 0.042, 0.002, 0.114], atol=5e-4)


def test_softmax_with_two_classes_is_logistic_regression():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(1, 50, 2)) * 4
    sigmoid = 1 / (1 + np.exp(-(z[..., 1] - z[..., 0])))
    np.testing.assert_allclose(softmax(z)[..., 1], sigmoid, rtol=1e-12)
    # and the cost is logistic regression's -[y log a + (1 - y) log(1 - a)]
    y = rng.integers(0, 2, size=50)
    loss = SoftmaxCrossEntropy(np.float64).forward(z, np.eye(2)[y])
    logistic = -np.mean(y * np.log(sigmoid) + (1 - y) * np.log(1 - sigmoid))
    np.testing.assert_allclose(loss, [logistic], rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = SoftmaxCrossEntropy(np.float32)
    z = np.array([[[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]], dtype=np.float32)
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    J = loss.forward(z, Y)
    assert np.isfinite(J).all()
    np.testing.assert_allclose(J, [1e4], rtol=1e-6)  # (2e4 + 0) / 2
    dz = loss.backward()
    assert np.isfinite(dz).all()
    np.testing.assert_allclose(dz[0, 0], [0.5, -0.5, 0.0], atol=1e-7)


def test_cost_matches_the_notes_definition():
    rng = np.random.default_rng(3)
    net = Network([4, 3], K=2, dtype="float64", seeds=[0, 1])
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    z = X @ net.params[0] + net.params[1]
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    J = -np.log(p[:, np.arange(6), y]).mean(axis=1)
    np.testing.assert_allclose(net.loss(X, y), J, rtol=1e-12)
    net.backward()
    dz = (p - np.eye(3)[y]) / 6  # dZ = (Ŷ - Y) / m
    np.testing.assert_allclose(net.grads[0], X.T @ dz, rtol=1e-12)
