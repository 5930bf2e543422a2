"""Shared fixtures: small data and a helper that makes every parameter non-trivial."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def small_data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(12, 7))
    y = rng.integers(0, 3, size=12)
    y[:3] = [0, 1, 2]
    return X, y


def randomize(net, seed: int = 0, scale: float = 0.3) -> None:
    """Move gamma, beta and biases off their initial 1 / 0 so every gradient is sharp."""
    rng = np.random.default_rng(seed)
    for name, p in zip(net.param_names, net.params, strict=True):
        if name.endswith(".gamma"):
            p[...] = 1 + scale * rng.normal(size=p.shape)
        elif name.endswith((".beta", ".b")):
            p[...] = scale * rng.normal(size=p.shape)
