"""How many trials to stack into one population: memory bounds it, a model of the step's
cost chooses it.

Memory: ``K ≤ ⌊0.5 · available / member_bytes⌋``. Within that, what stacking buys is the
per-step cost that does not grow with K: the Python between the NumPy and kernel calls and
each call's set-up, about STEP_OVERHEAD_PER_LAYER per layer and step whatever K is. The
arithmetic does not get cheaper per member with K (each member's products are their own
BLAS calls), while the population's arrays take more cache. So the tuner takes the smallest
power of two K at which that fixed cost is at most OVERHEAD_SHARE of the step::

    K ≥ layers · STEP_OVERHEAD_PER_LAYER / (OVERHEAD_SHARE · 6 · P · B / PRODUCT_FLOPS)

(P parameters per member, B the batch). Nothing is timed, so a busy machine cannot make it
choose badly, and choosing costs nothing. The constants were measured on this project's
2-core machines (one thread, 2026-12-02; ``python -m benchmarks.profile``): a step of one
40-256-256-10 member at batch 128 takes 1.05 ms alone and 0.90 ms per member at K = 4, of
one 64-64-64-10 member at batch 64 0.20 ms alone for 0.5 MFLOP of products, of one
784-256-256-10 member at batch 256 4.0 ms alone and 3.7 ms per member at K = 4: 60 to 110 µs
per layer outside the products, which run at about 100 GFLOP/s on one thread. Around the
chosen K the cost is flat (row 8's tune on two workers: 20.5, 18.1, 17.2, 17.4, 17.2 and
16.9 s at K = 1, 2, 4, 8, 16, 32; ``python -m benchmarks.population_choice --tunes``), so the
constants need not be exact for another machine of this class.
"""

from __future__ import annotations

import math
import os

import numpy as np

from caviar.config import TrainConfig
from caviar.optim import OPTIMIZERS
from caviar.train.population import parameter_count

STEP_OVERHEAD_PER_LAYER = 80e-6  # seconds per layer and training step, whatever K is
PRODUCT_FLOPS = 100e9  # FLOP/s the layers' matrix products reach on one thread
OVERHEAD_SHARE = 0.05  # the most of a step the fixed cost may take at the chosen K


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


def model_population_size(config: TrainConfig, n_features: int, n_classes: int) -> int:
    """The smallest power of two K whose step spends at most OVERHEAD_SHARE of its time in
    the per-step cost that does not grow with K (the module's docstring)."""
    layers = len(config.hidden) + 1
    member = 6 * parameter_count(config, n_features, n_classes) * config.batch_size
    need = layers * STEP_OVERHEAD_PER_LAYER / (OVERHEAD_SHARE * member / PRODUCT_FLOPS)
    return 2 ** max(0, math.ceil(math.log2(max(need, 1.0))))


def choose_population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    cap: int | None = None,
    memory: int | None = None,
) -> tuple[int, str]:
    """``(K, why)``: the population size for ``n_trials`` trials shaped like ``config``:
    :func:`model_population_size`, at most ``n_trials``, ``cap`` and what half of ``memory``
    bytes hold (default: what is available here)."""
    memory = available_memory() if memory is None else memory
    K_model = model_population_size(config, n_features, n_classes)
    bounds = {
        "the cost model's": K_model,
        "the trials'": n_trials,
        "the cap's": cap or n_trials,
        "the memory's": int(0.5 * memory // member_bytes(config, n_features, n_classes)),
    }
    name, K = min(bounds.items(), key=lambda kv: kv[1])  # the first of equal bounds
    K = max(1, K)
    if name == "the cost model's":
        return K, (
            f"K = {K}: from there on the per-step overhead is at most {OVERHEAD_SHARE:.0%} "
            "of a step (the cost model)"
        )
    return K, f"K = {K}, {name} limit (the cost model asks for {K_model})"
