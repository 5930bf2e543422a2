"""Agreement with PyTorch 2.13.0, recorded by tools/record_torch_reference.py (no torch needed).

The fixtures are in caviar's conventions (the script converts PyTorch's batch-norm momentum,
its unbiased running variance and its SGD momentum explicitly). Agreement: <= 1e-6 relative,
measured as ``max|a - b| / max|b|`` per array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from caviar import Adam, AdamW, GradientDescent, Momentum, Network, RMSprop

REF = Path(__file__).parent / "reference"
TOL = 1e-6
NAMES = {
    "W1": "dense1.W",
    "b1": "dense1.b",
    "gamma1": "bn1.gamma",
    "beta1": "bn1.beta",
    "W2": "dense2.W",
    "b2": "dense2.b",
    "gamma2": "bn2.gamma",
    "beta2": "bn2.beta",
    "W3": "dense3.W",
    "b3": "dense3.b",
}
FIXTURES = {"before": "torch_bn_network.npz", "after": "torch_bn_after_network.npz"}


def rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))


def make_optimizer(kind, params, ref):
    """The optimizer of ``kind`` with the reference's hyperparameters; α comes with each step
    (``float(ref[f"{kind}_lr"])``)."""
    h = lambda name: float(ref[f"{kind}_{name}"])  # noqa: E731
    if kind == "sgd":
        return GradientDescent(params)
    if kind == "momentum":
        return Momentum(params, beta=h("beta"))
    if kind == "rmsprop":
        return RMSprop(params, beta2=h("beta2"), eps=h("eps"))
    adam = dict(beta1=h("beta1"), beta2=h("beta2"), eps=h("eps"))
    if kind == "adamw":
        return AdamW(params, weight_decay=h("weight_decay"), **adam)
    return Adam(params, **adam)


@pytest.fixture(scope="module")
def quadratic():
    return np.load(REF / "torch_quadratic.npz", allow_pickle=False)


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def bn_network(request):
    """The recorded network with batch norm before, then after, each hidden activation."""
    return request.param, np.load(REF / FIXTURES[request.param], allow_pickle=False)


def quadratic_errors(ref, kind) -> float:
    A, b = ref["A"], ref["b"]
    w = ref["w0"].copy()[None, :]  # (K=1, 6)
    opt = make_optimizer(kind, [w], ref)
    traj = [w[0].copy()]
    for _ in range(50):
        opt.step([w @ A - b], float(ref[f"{kind}_lr"]))  # ∇f = A w - b (A symmetric)
        traj.append(w[0].copy())
    return rel(np.array(traj), ref[f"{kind}_traj"])


@pytest.mark.parametrize("kind", ["sgd", "momentum", "rmsprop", "adam", "adamw"])
def test_quadratic_trajectories(quadratic, kind):
    assert quadratic_errors(quadratic, kind) <= TOL


def bn_network_errors(ref, kind, position) -> dict[str, float]:
    """Train caviar's copy of the reference network for 50 steps; relative error per record."""
    net = Network(
        [7, 6, 5, 3],
        activation=["relu", "tanh"],
        dtype="float64",
        bn_momentum=float(ref["bn_momentum"]),
        bn_eps=float(ref["bn_eps"]),
        bn_position=position,
    )
    names = {key: name for key, name in NAMES.items() if f"init_{key}" in ref.files}
    assert set(names.values()) == set(net.param_names)
    net.set_params({caviar: ref[f"init_{key}"] for key, caviar in names.items()})
    opt = make_optimizer(kind, net.params, ref)
    X, y, losses = ref["X"], ref["y"], []
    errors = {}
    for step, idx in enumerate(ref["batch_idx"]):
        losses.append(net.loss_and_grad(X[idx], y[idx])[0])
        if step == 0:
            grads = dict(zip(net.param_names, net.grads))
            for key, name in names.items():
                errors[f"grad0_{key}"] = rel(grads[name][0], ref[f"{kind}_grad0_{key}"])
        opt.step(net.grads, float(ref[f"{kind}_lr"]))
    errors["loss"] = rel(losses, ref[f"{kind}_loss"])
    final = net.get_params()
    for key, name in names.items():
        errors[f"final_{key}"] = rel(final[name][0], ref[f"{kind}_final_{key}"])
    bns = [layer for layer in net.layers if hasattr(layer, "running_mean")]
    for i, bn in enumerate(bns, 1):
        errors[f"running_mean{i}"] = rel(bn.running_mean[0, 0], ref[f"{kind}_running_mean{i}"])
        errors[f"running_var{i}"] = rel(bn.running_var[0, 0], ref[f"{kind}_running_var{i}"])
    errors["eval_logits"] = rel(net.forward(X[:20], training=False)[0], ref[f"eval_logits_{kind}"])
    return errors


@pytest.mark.parametrize("kind", ["sgd", "momentum", "rmsprop", "adam"])
def test_batchnorm_network_trajectories(bn_network, kind):
    position, ref = bn_network
    errors = bn_network_errors(ref, kind, position)
    n_params = {"before": 8, "after": 10}[position]
    assert len(errors) == n_params + 1 + n_params + 4 + 1
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOL, (worst, errors[worst])


def test_fixtures_hold_no_pickled_objects(quadratic, bn_network):
    for ref in (quadratic, bn_network[1]):
        assert all(ref[k].dtype != object for k in ref.files)
