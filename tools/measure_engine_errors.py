"""Print the engine's measured correctness figures: gradient checks and PyTorch agreement.

    python tools/measure_engine_errors.py

1. Gradient check (float64, central differences, relative error per parameter array) for
   every activation, without batch norm and with it before or after the activation, with
   dropout and L2, at K = 1 and K = 3.
2. Agreement with the recorded PyTorch 2.13.0 trajectories in tests/train/reference/ (no torch
   needed): max |caviar - torch| / max |torch| per optimizer, over every recorded array.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import randomize  # noqa: E402
from tests.train.test_reference import (  # noqa: E402
    FIXTURES,
    REF,
    bn_network_errors,
    quadratic_errors,
)

from caviar import Network, gradient_check  # noqa: E402


def gradient_table() -> float:
    rng = np.random.default_rng(42)
    X, y = rng.normal(size=(12, 7)), rng.integers(0, 3, size=12)
    worst = 0.0
    print("gradient check, float64 (max relative error over the parameter arrays)")
    for K in (1, 3):
        for act in ("relu", "leaky_relu", "tanh", "sigmoid"):
            for bn in ("before", "after", False):
                for extra in ({}, {"keep_prob": 0.8, "l2": 0.1}):
                    net = Network(
                        [7, 6, 5, 3],
                        K=K,
                        dtype="float64",
                        activation=act,
                        batchnorm=bool(bn),
                        bn_position=bn or "before",
                        seeds=list(range(K)),
                        **extra,
                    )
                    randomize(net, seed=K)
                    err = max(gradient_check(net, X, y).values())
                    worst = max(worst, err)
                    label = f"K={K} {act:<10} bn={bn!s:<6} {'dropout+l2' if extra else ''}"
                    print(f"  {label:<42} {err:.2e}")
    print(f"  worst: {worst:.2e}  (bound 1e-7)")
    return worst


def torch_table() -> float:
    quad = np.load(REF / "torch_quadratic.npz", allow_pickle=False)
    nets = {pos: np.load(REF / name, allow_pickle=False) for pos, name in FIXTURES.items()}
    worst = 0.0
    print("agreement with PyTorch 2.13.0 (max relative difference over every recorded array)")
    for kind in ("sgd", "momentum", "rmsprop", "adam", "adamw"):
        q = quadratic_errors(quad, kind)
        line = f"  {kind:<9} quadratic 50 steps: {q:.2e}"
        worst = max(worst, q)
        for position, ref in nets.items() if kind != "adamw" else ():
            errs = bn_network_errors(ref, kind, position)
            key = max(errs, key=errs.get)
            worst = max(worst, errs[key])
            line += f"   network, bn {position}: {errs[key]:.2e} ({key})"
        print(line)
    print(f"  worst: {worst:.2e}  (bound 1e-6)")
    return worst


if __name__ == "__main__":
    gradient_table()
    torch_table()
