"""Gradient checking by central differences, as the course teaches it, for any network."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from caviar.errors import InvalidArgument
from caviar.nn.activations import Dropout
from caviar.nn.batchnorm import BatchNorm
from caviar.nn.network import Network


def gradient_check(
    net: Network, X, y, eps: float = 1e-6, max_per_array: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Relative error between the backward pass and central differences, per parameter array.

    For every checked element θ_i: ``dθ_approx = (J(θ_i + ε) - J(θ_i - ε)) / 2ε`` with
    ``J = Σ_k J_k`` (members do not share parameters, so each sees its own cost), then per
    array ``‖dθ_approx - dθ‖₂ / (‖dθ_approx‖₂ + ‖dθ‖₂)`` (0 when both are 0). Below 1e-7 is
    what a correct float64 backward pass gives. The network is evaluated in training mode
    (batch norm on mini-batch statistics, dropout on) with its running statistics left
    untouched and the same dropout mask for every evaluation. ``max_per_array`` checks a
    random subset of each array's elements (drawn with ``seed``) to keep large nets quick.

    >>> net = Network([3, 4, 2], dtype="float64")
    >>> X = np.random.default_rng(0).normal(size=(5, 3))
    >>> errors = gradient_check(net, X, np.array([0, 1, 1, 0, 1]))
    >>> max(errors.values()) < 1e-7
    True
    """
    if net.dtype != np.float64:
        raise InvalidArgument(
            f"Gradient checking needs a float64 network (got {net.dtype}); build it with "
            "dtype='float64'."
        )
    X, Y = net.prepare(X, y)
    rng = np.random.default_rng(seed)
    errors = {}
    with _frozen_randomness(net) as cost:
        cost(X, Y)
        net.backward()
        analytic = [g.copy() for g in net.grads]
        for name, p, g in zip(net.param_names, net.params, analytic, strict=True):
            idx = np.arange(p.size)
            if max_per_array is not None and p.size > max_per_array:
                idx = rng.choice(p.size, size=max_per_array, replace=False)
            numeric = _central_differences(cost, X, Y, p, idx, eps)
            errors[name] = _relative_error(numeric, g.reshape(-1)[idx])
    return errors


def _central_differences(cost, X, Y, p, idx, eps) -> np.ndarray:
    out = np.empty(len(idx))
    for j, i in enumerate(idx):
        at = np.unravel_index(i, p.shape)  # p may be a strided view: no reshape(-1) copy
        keep = p[at]
        p[at] = keep + eps
        plus = cost(X, Y)
        p[at] = keep - eps
        minus = cost(X, Y)
        p[at] = keep
        out[j] = (plus - minus) / (2 * eps)
    return out


def _relative_error(numeric: np.ndarray, analytic: np.ndarray) -> float:
    denom = np.linalg.norm(numeric) + np.linalg.norm(analytic)
    return 0.0 if denom == 0 else float(np.linalg.norm(numeric - analytic) / denom)


@contextmanager
def _frozen_randomness(net: Network):
    """Yield ``cost(X, Y) → Σ_k J_k`` that neither updates running statistics nor draws
    new dropout masks; restore the network's state afterwards."""
    bns = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    drops = [layer for layer in net.layers if isinstance(layer, Dropout)]
    states = [d.rng_states() for d in drops]
    for bn in bns:
        bn.update_running = False

    def cost(X, Y) -> float:
        for d, s in zip(drops, states, strict=True):
            d.set_rng_states(s)
        return float(np.sum(net.cost(X, Y)))

    try:
        yield cost
    finally:
        for bn in bns:
            bn.update_running = True
        for d, s in zip(drops, states, strict=True):
            d.set_rng_states(s)
