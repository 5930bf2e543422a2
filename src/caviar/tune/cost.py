"""How many trials to stack into one population: memory bounds it, measurement chooses it.

Memory: ``K ≤ ⌊0.5 · available / member_bytes⌋``. Stacking is not free: at small batches the
per-member elementwise and optimizer work grows with K while the matrix products stop getting
more efficient, and a loop of K = 1 steps can win. So for a large enough tune the tuner times a
few training steps of candidate sizes ``1, 4, 16, 64, …`` up to what memory holds, on random
data of the trials' shape, and keeps the size with the most member-steps per second. Small
tunes skip the measurement (it would cost more than it could save) and stack as many as memory
holds. The FLOP model is :func:`caviar.train.population.member_flops`.
"""

from __future__ import annotations

import os
import time

import numpy as np

from caviar.config import TrainConfig
from caviar.optim import OPTIMIZERS
from caviar.train import Batcher, epoch_order, train_step
from caviar.train.population import ASSUMED_FLOPS, Population, member_flops, parameter_count

# Measure only when the tune's estimated compute exceeds this many seconds at ASSUMED_FLOPS.
MEASURE_ABOVE_SECONDS = 20.0
_MEASURED: dict[tuple, tuple[int, str]] = {}


def member_bytes(config: TrainConfig, n_features: int, n_classes: int) -> int:
    """Memory one member needs, in bytes::

        itemsize · ( P · (1 param + 1 grad + M moments + 1 scratch)
                   + B · Σ_l n_l · 8 )

    with P the parameter count, M the optimizer's moments (Adam 2, momentum and RMSprop 1,
    gradient descent 0) and 8 buffers of ``(B, n_l)`` per layer at most (forward output,
    normalised values, backward output, masks and temporaries)."""
    sizes = [n_features, *config.hidden, n_classes]
    P = parameter_count(config, n_features, n_classes)
    activations = config.batch_size * sum(sizes) * 8
    M = len(OPTIMIZERS[config.optimizer].moments)
    return np.dtype(config.dtype).itemsize * (P * (3 + M) + activations)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``; the physical size elsewhere)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    cap: int | None = None,
    memory: int | None = None,
) -> int:
    """K for trials shaped like ``config``: as many as half the available memory holds,
    ``K = ⌊0.5 · available / member_bytes⌋``, at most ``n_trials`` (and ``cap``), at least 1."""
    memory = available_memory() if memory is None else memory
    K = int(0.5 * memory // member_bytes(config, n_features, n_classes))
    return max(1, min(K, n_trials, cap or n_trials))


def step_seconds(
    config: TrainConfig, n_features: int, n_classes: int, K: int, steps: int = 3
) -> float:
    """Median seconds of one training step of K members shaped like ``config``."""
    rng = np.random.default_rng(0)
    B = config.batch_size
    n = B * (steps + 1)
    configs = [config.replace(seed=k) for k in range(K)]
    pop = Population.build(configs, n_features, n_classes, n)
    X, Y = pop.net.prepare(rng.standard_normal((n, n_features)), rng.integers(0, n_classes, size=n))
    times = []
    with np.errstate(all="ignore"):
        for xb, yb in Batcher(X, Y, B).epoch(epoch_order(n, 0, 0)):
            start = time.perf_counter()
            train_step(pop.net, pop.optimizer, xb, yb, config.lr)
            times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))  # the first step creates the workspaces


def choose_population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    n_train: int,
    cap: int | None = None,
    memory: int | None = None,
) -> tuple[int, str]:
    """``(K, why)``: the population size for ``n_trials`` trials shaped like ``config``, in
    ``memory`` bytes (default: what is available here)."""
    K_mem = population_size(config, n_features, n_classes, n_trials, cap, memory)
    flops = member_flops(config, n_features, n_classes, n_train)
    if K_mem == 1 or n_trials * flops / ASSUMED_FLOPS < MEASURE_ABOVE_SECONDS:
        return K_mem, f"K = {K_mem}: as many as memory holds (too small a tune to measure)"
    key = (config.shape(), n_features, n_classes, K_mem)
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
