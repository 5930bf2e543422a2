"""Every backward pass against central finite differences in float64 (relative error <= 1e-7)."""

from __future__ import annotations

import numpy as np
import pytest

from caviar import InvalidArgument, Network, gradient_check
from caviar.nn import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh
from tests.conftest import randomize

TOL = 1e-7


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("batchnorm", [True, "after", False])
def test_network_gradients(small_data, K, activation, batchnorm):
    X, y = small_data
    net = Network(
        [7, 6, 5, 3],
        K=K,
        dtype="float64",
        seeds=list(range(3, 3 + K)),
        activation=activation,
        batchnorm=bool(batchnorm),
        bn_position="after" if batchnorm == "after" else "before",
    )
    randomize(net, seed=K)
    errors = gradient_check(net, X, y)
    assert set(errors) == set(net.param_names)
    assert max(errors.values()) <= TOL, errors


@pytest.mark.parametrize("K", [1, 3])
def test_dropout_and_l2_gradients(small_data, K):
    X, y = small_data
    net = Network(
        [7, 6, 5, 3],
        K=K,
        dtype="float64",
        seeds=list(range(K)),
        keep_prob=np.linspace(0.6, 0.9, K),
        l2=np.linspace(0.05, 0.5, K),
    )
    randomize(net, seed=5)
    assert any(isinstance(layer, Dropout) for layer in net.layers)
    errors = gradient_check(net, X, y)
    assert max(errors.values()) <= TOL, errors


def test_per_member_input_and_deep_net():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 9, 4))  # a different input per member, (K, B, n)
    y = rng.integers(0, 4, size=9)
    net = Network([4, 8, 8, 8, 4], K=3, dtype="float64", seeds=[7, 8, 9])
    randomize(net, seed=2)
    assert max(gradient_check(net, X, y).values()) <= TOL


def _layer_check(layer, x, training=True, eps=1e-6):
    """Check ``backward`` of a single layer: d(Σ r·y)/dx and d/dθ for a random r."""
    rng = np.random.default_rng(3)
    y = layer.forward(x, training)
    r = rng.normal(size=y.shape)
    dx = layer.backward(r.copy()).copy()
    analytic = [g.copy() for g in layer.grads]

    def f():
        return float(np.sum(layer.forward(x, training) * r))

    def numeric(a):
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            keep = flat[i]
            flat[i] = keep + eps
            plus = f()
            flat[i] = keep - eps
            minus = f()
            flat[i] = keep
            gflat[i] = (plus - minus) / (2 * eps)
        return g

    def rel(a, b):
        return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))

    errs = [rel(numeric(x), dx)] + [rel(numeric(p), g) for p, g in zip(layer.params, analytic)]
    return errs


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda K, rng: Dense(rng.normal(size=(K, 5, 4)), rng.normal(size=(K, 1, 4)), np.float64),
        lambda K, rng: Dense(rng.normal(size=(K, 5, 4)), None, np.float64),
        lambda K, rng: ReLU(np.float64),
        lambda K, rng: LeakyReLU(0.1, np.float64),
        lambda K, rng: Tanh(np.float64),
        lambda K, rng: Sigmoid(np.float64),
    ],
)
def test_each_layer_alone(K, make):
    rng = np.random.default_rng(K)
    layer = make(K, rng)
    x = rng.normal(size=(K, 6, 5))
    assert max(_layer_check(layer, x)) <= TOL


@pytest.mark.parametrize("K", [1, 3])
def test_batchnorm_alone_training_mode(K):
    rng = np.random.default_rng(K)
    bn = BatchNorm(5, K, np.full(K, 0.9), 1e-5, np.float64)
    bn.update_running = False
    bn.gamma[...] = 1 + 0.3 * rng.normal(size=bn.gamma.shape)
    bn.beta[...] = rng.normal(size=bn.beta.shape)
    x = 2 + 3 * rng.normal(size=(K, 6, 5))
    assert max(_layer_check(bn, x)) <= TOL


def test_dropout_alone():
    rngs = [np.random.default_rng(0), np.random.default_rng(1)]
    d = Dropout(np.array([0.5, 0.8]), rngs, np.float64)
    x = np.random.default_rng(2).normal(size=(2, 6, 5))
    states = d.rng_states()
    y = d.forward(x, True)
    mask = d._mask.copy()
    r = np.random.default_rng(3).normal(size=y.shape)
    # dropout is linear in x for a fixed mask: the gradient is exactly the mask
    np.testing.assert_array_equal(d.backward(r), r * mask)
    d.set_rng_states(states)
    np.testing.assert_array_equal(d.forward(x, True), y)
    assert set(np.unique(mask[0])) <= {0.0, 2.0} and set(np.unique(mask[1])) <= {0.0, 1.25}


@pytest.mark.parametrize("K", [1, 3])
def test_softmax_cross_entropy_alone(K):
    rng = np.random.default_rng(K)
    loss = SoftmaxCrossEntropy(np.float64)
    z = 3 * rng.normal(size=(K, 7, 4))
    Y = np.eye(4)[rng.integers(0, 4, size=7)]
    loss.forward(z, Y)
    dz = loss.backward().copy()
    eps, num = 1e-6, np.zeros_like(z)
    for i in np.ndindex(z.shape):
        keep = z[i]
        z[i] = keep + eps
        plus = loss.forward(z, Y).sum()
        z[i] = keep - eps
        minus = loss.forward(z, Y).sum()
        z[i] = keep
        num[i] = (plus - minus) / (2 * eps)
    err = np.linalg.norm(num - dz) / (np.linalg.norm(num) + np.linalg.norm(dz))
    assert err <= TOL


def test_gradient_check_reports_a_broken_backward(small_data):
    X, y = small_data
    net = Network([7, 5, 3], dtype="float64", batchnorm=False, activation="tanh")
    randomize(net)
    original = net.layers[1].backward
    net.layers[1].backward = lambda da: original(da) * 1.01  # a 1 % error in tanh's backward
    errors = gradient_check(net, X, y)
    assert errors["dense1.W"] > 1e-3
    assert errors["dense2.W"] <= TOL


def test_gradient_check_leaves_running_statistics_alone(small_data):
    X, y = small_data
    net = Network([7, 5, 3], dtype="float64")
    bn = net.layers[1]
    before = bn.running_mean.copy(), bn.running_var.copy()
    gradient_check(net, X, y, max_per_array=3)
    np.testing.assert_array_equal(bn.running_mean, before[0])
    np.testing.assert_array_equal(bn.running_var, before[1])
    assert bn.update_running


def test_gradient_check_needs_float64(small_data):
    X, y = small_data
    with pytest.raises(InvalidArgument, match="float64"):
        gradient_check(Network([7, 3]), X, y)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_in_place_buffers_give_the_buffered_numbers(small_data, activation):
    """The network lets batch norm and ReLU write over their scratch inputs; the same layers
    with their own buffers must give the same loss and gradients, bit for bit."""
    X, y = small_data
    results = []
    for inplace in (True, False):
        net = Network(
            [X.shape[1], 7, 6, 3], K=2, activation=activation, batchnorm=True, dtype="float64"
        )
        for layer in net.layers:
            if isinstance(layer, (BatchNorm, ReLU)):
                assert layer.inplace  # the network's choice
                layer.inplace = inplace
        J = net.loss_and_grad(X, y)
        results.append([J] + [g.copy() for g in net.grads])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# -- the compiled layer kernels (optional: Numba) ---------------------------------------
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("inplace", [True, False])
@pytest.mark.parametrize("threads", [False, True])
def test_compiled_layers_give_the_numpy_numbers(small_data, K, inplace, threads, monkeypatch):
    """Batch norm and ReLU as Numba loops against their NumPy operations: loss, gradients
    and running statistics to 1e-12 in float64 (sums run in another order)."""
    pytest.importorskip("numba")
    from caviar import backend as backends

    monkeypatch.setattr(backends, "MEMBER_PARALLEL_ELEMENTS", 0 if threads else 1 << 30)
    X, y = small_data
    results = []
    for backend in ("numpy", "numba"):
        net = Network([X.shape[1], 7, 6, 3], K=K, dtype="float64", backend=backend)
        randomize(net)
        for layer in net.layers:
            if isinstance(layer, (BatchNorm, ReLU)):
                layer.inplace = inplace
        J = net.loss_and_grad(X, y)
        inference = net.forward(X, training=False).copy()  # ReLU not folded here
        results.append([J, inference, *net.grads, *net.buffers().values()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_numpy_layers_pass_the_gradient_check(small_data):
    X, y = small_data
    net = Network([X.shape[1], 5, 4, 3], K=2, dtype="float64", backend="numpy")
    randomize(net)
    report = gradient_check(net, X, y)
    assert max(report.values()) < 1e-7, report


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_loss_matches_numpy_and_stays_finite_for_huge_logits(dtype):
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, 5, 4)).astype(dtype)
    z[0, 0] = [1e4, -1e4, 0, 5]
    z[1, 1] = [-1e4, -1e4, -1e4, -1e4]
    Y = np.eye(4, dtype=dtype)[[0, 1, 2, 3, 1]]
    out = []
    for backend in ("numpy", "numba"):
        loss = SoftmaxCrossEntropy(dtype)
        loss.backend = backend
        J = loss.forward(z, Y).copy()
        out.append((J, loss.probabilities.copy(), loss.backward().copy()))
    tol = 1e-12 if dtype == "float64" else 1e-5
    for a, b in zip(*out, strict=True):
        assert np.isfinite(b).all()
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol)
