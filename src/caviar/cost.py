"""What one member costs, estimated once (:class:`MemberCost`), and the machine rates the
estimates are measured against. The tuner's policies that read it (how many members per
population, panda or caviar, which executor) are in :mod:`caviar.tuning.cost`; the
training loop reads it for one choice, whether a member repays loading the compiled
kernels (:func:`compute_backend`).

A forward and backward pass costs about 6 FLOP per parameter and example: 2 for the
forward product, 4 for the two backward ones. Two rates turn FLOP into seconds, measured
on this project's 2-core machines with one thread (``python -m benchmarks.profile``):

- ``STEP_FLOPS``: the model FLOP a whole training step sustains, products, elementwise
  work and the Python between calls included. It estimates how long a run takes.
- ``PRODUCT_FLOPS``: the rate of the layers' matrix products alone. It estimates how much
  of a step the products take, against the fixed per-step cost that stacking amortises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from caviar.config import TrainConfig
from caviar.optim import OPTIMIZERS

STEP_FLOPS = 50e9  # model FLOP/s of a whole training step on one thread
PRODUCT_FLOPS = 100e9  # FLOP/s the layers' matrix products reach on one thread
# Loading Numba and a cached kernel costs about 0.5 s once per process. A member whose run
# comes to less than this at STEP_FLOPS does not ask for the kernels. The rule looks at one
# member, not the population: the layer kernels agree with NumPy only to rounding, and a
# trial must compute the same numbers alone as in any population.
KERNELS_ABOVE_SECONDS = 0.5
MEMORY_SHARE = 0.5  # the share of the available memory a tune's populations may fill


@dataclass(frozen=True)
class MemberCost:
    """One member's cost: ``params`` learned numbers, ``flops_step`` model FLOP of one
    training step (``6 · params · batch``), ``flops_run`` of its whole run
    (``6 · params · n_train · epochs``), ``bytes`` of memory while it trains, and its
    ``layers`` (dense layers, each a fixed per-step cost)."""

    params: int
    flops_step: float
    flops_run: float
    bytes: int
    layers: int

    @classmethod
    def of(cls, config: TrainConfig, n_features: int, n_classes: int, n_train: int) -> MemberCost:
        """The cost of one member shaped like ``config`` on ``n_train`` training rows of
        ``n_features`` features and ``n_classes`` classes."""
        P = parameter_count(config, n_features, n_classes)
        return cls(
            params=P,
            flops_step=6 * P * config.batch_size,
            flops_run=6.0 * P * n_train * config.epochs,
            bytes=_member_bytes(config, P, n_features, n_classes),
            layers=len(config.hidden) + 1,
        )

    @property
    def run_seconds(self) -> float:
        """Seconds of one member's whole run at ``STEP_FLOPS``."""
        return self.flops_run / STEP_FLOPS


def parameter_count(config: TrainConfig, n_features: int, n_classes: int) -> int:
    """Learned numbers of one member: weights plus, per layer, a bias or gamma and beta."""
    sizes = [n_features, *config.hidden, n_classes]
    after = config.batchnorm and config.bn_position == "after"  # a hidden bias besides γ, β
    return sum(
        a * b + (2 if config.batchnorm else 1) * b
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ) + (sum(config.hidden) if after else 0)


def _member_bytes(config: TrainConfig, P: int, n_features: int, n_classes: int) -> int:
    """Memory one member needs, in bytes::

        itemsize · ( P · (1 param + 1 grad + M moments + 1 scratch)
                   + B · Σ_l n_l · 8 )

    with P the parameter count, M the optimizer's moments (Adam 2, momentum and RMSprop 1,
    gradient descent 0) and 8 buffers of ``(B, n_l)`` per layer at most (forward output,
    normalised values, backward output, masks and temporaries)."""
    sizes = [n_features, *config.hidden, n_classes]
    activations = config.batch_size * sum(sizes) * 8
    M = len(OPTIMIZERS[config.optimizer].moments)
    return np.dtype(config.dtype).itemsize * (P * (3 + M) + activations)


def compute_backend(cost: MemberCost) -> str:
    """``"auto"`` (the kernels if installed) for a member whose run repays loading them,
    ``"numpy"`` for a smaller one."""
    return "auto" if cost.run_seconds >= KERNELS_ABOVE_SECONDS else "numpy"


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


def memory_bound(cost: MemberCost, memory: int | None = None) -> int:
    """How many such members ``MEMORY_SHARE`` of ``memory`` bytes holds (default: what is
    available now): ``⌊0.5 · memory / bytes⌋``, possibly 0."""
    memory = available_memory() if memory is None else memory
    return int(MEMORY_SHARE * memory // cost.bytes)
