"""How many trials to stack into one population, from measurements on this machine.

Stacking is not free: at small batches the per-member elementwise and optimizer work grows
with K while the matrix products stop getting more efficient, and a loop of K = 1 steps can
win. So for a large enough tune the tuner times a few training steps of candidate sizes
``1, 4, 16, 64, …`` up to what memory holds, on random data of the trials' shape, and keeps
the size with the most member-steps per second. Small tunes skip the measurement (it would
cost more than it could save) and stack as many as memory holds.
"""

from __future__ import annotations

import time

import numpy as np

from caviar.config import TrainConfig
from caviar.population import build, parameter_count
from caviar.train.batches import Batcher, epoch_order
from caviar.tune.population import population_size, shape_key

# Measure only when the tune's estimated compute exceeds this many seconds at a modest
# 50 GFLOP/s (about 6 flops per parameter and example for forward and backward).
MEASURE_ABOVE_SECONDS = 20.0
_MEASURED: dict[tuple, tuple[int, str]] = {}


def step_seconds(
    config: TrainConfig, n_features: int, n_classes: int, K: int, steps: int = 3
) -> float:
    """Median seconds of one training step of K members shaped like ``config``."""
    rng = np.random.default_rng(0)
    B = config.batch_size
    X = rng.standard_normal((B * (steps + 1), n_features)).astype(config.dtype)
    y = rng.integers(0, n_classes, size=len(X))
    configs = [config.replace(seed=k) for k in range(K)]
    net, opt, _ = build(configs, n_features, n_classes, steps + 1)
    batcher = Batcher(X, net._targets(y, len(X)), B)
    times = []
    with np.errstate(all="ignore"):
        for xb, yb in batcher.epoch(epoch_order(len(X), 0, 0)):
            start = time.perf_counter()
            net._loss(xb, yb)
            net.backward()
            opt.step(net.grads)
            times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))  # the first step creates the workspaces


def choose_population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    n_train: int,
    cap: int | None = None,
) -> tuple[int, str]:
    """``(K, why)``: the population size for ``n_trials`` trials shaped like ``config``."""
    K_mem = population_size(config, n_features, n_classes, n_trials, cap)
    flops = 6 * parameter_count(config, n_features, n_classes) * n_train * config.epochs
    if K_mem == 1 or n_trials * flops / 50e9 < MEASURE_ABOVE_SECONDS:
        return K_mem, f"K = {K_mem}: as many as memory holds (too small a tune to measure)"
    key = (shape_key(config), n_features, n_classes, K_mem)
    if key not in _MEASURED:
        candidates = sorted({k for k in (1, 4, 16, 64, 256) if k < K_mem} | {K_mem})
        rates = {}
        for K in candidates:
            rates[K] = K / step_seconds(config, n_features, n_classes, K)
            if len(rates) > 1 and rates[K] < 0.9 * max(rates.values()):
                break  # past the best: larger K only gets slower here
        best = max(rates, key=rates.get)
        measured = ", ".join(f"K={k}: {r:.0f}" for k, r in rates.items())
        _MEASURED[key] = best, f"K = {best} (member-steps/s measured: {measured})"
    return _MEASURED[key]
