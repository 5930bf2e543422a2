"""How many trials to stack into one population: memory bounds it, measurement chooses it.

Memory: ``K ≤ ⌊0.5 · available / member_bytes⌋``. Stacking is not free: at small batches the
per-member elementwise and optimizer work grows with K while the matrix products stop getting
more efficient, and a loop of K = 1 steps can win. So for a large enough tune the tuner times
training steps of candidate sizes ``1, 4, 16, 64, …`` up to what memory holds, on random data
of the trials' shape, and keeps the size with the most member-steps per second. Small tunes
skip the measurement (it would cost more than it could save) and stack as many as memory holds.
The FLOP model is :func:`caviar.train.population.member_flops`.

The steps are timed as the executor's slots will run them, on its ``threads`` (BLAS and
caviar's kernels limited to that many for the measurement), and in CPU seconds, not wall
seconds: on one thread (the ``processes`` executor's workers) the measuring thread's own
CPU time (``time.thread_time``), on more the process's (``time.process_time``). A busy
machine must not make it choose badly, and a competing process that takes a core for a
while stretches the wall time of whichever candidate is being timed then, but not the CPU
time that candidate's arithmetic needs. On top of that the candidates are timed in
interleaved rounds (1, 4, 16, 64, 1, 4, …) and each keeps its fastest step. Sizes within
TIE (5 %) of the best rate count as equal (two measurements of one size differ by that
much), and the smallest of them wins: its members' arrays take less cache, which matters
more when every core runs a population than one measurement alone shows (row 8's tune on
two workers: 18.8 s at K = 4, 18.7 at 8, 21.3 at 16, where the measured rates were within
5 %), its trials finish and are recorded sooner, and the slots share the work more evenly.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import numpy as np

from caviar import backend
from caviar.config import TrainConfig
from caviar.optim import OPTIMIZERS
from caviar.train import Batcher, epoch_order, train_step
from caviar.train.population import (
    ASSUMED_FLOPS,
    Population,
    compute_backend,
    member_flops,
    parameter_count,
)

# Measure only when the tune's estimated compute exceeds this many seconds at ASSUMED_FLOPS.
MEASURE_ABOVE_SECONDS = 20.0
ROUNDS, STEPS = 2, 2  # interleaved rounds over the candidates, timed steps per round
TIE = 0.95  # a size with at least this share of the best rate counts as equally fast
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


class _Candidate:
    """K members shaped like ``config`` on random data, ready to time training steps."""

    def __init__(
        self, config: TrainConfig, n_features: int, n_classes: int, K: int, clock, backend: str
    ):
        rng = np.random.default_rng(0)
        B = config.batch_size
        n = B * (STEPS + 1)
        configs = [config.replace(seed=k) for k in range(K)]
        self.pop = Population.build(configs, n_features, n_classes, n, backend)
        X, Y = self.pop.net.prepare(
            rng.standard_normal((n, n_features)), rng.integers(0, n_classes, size=n)
        )
        self.batches = list(Batcher(X, Y, B).epoch(epoch_order(n, 0, 0)))
        self.lr, self.clock = config.lr, clock
        self.step(self.batches[-1])  # the first step creates the workspaces: untimed

    def step(self, batch) -> float:
        start = self.clock()
        with np.errstate(all="ignore"):
            train_step(self.pop.net, self.pop.optimizer, *batch, self.lr)
        return self.clock() - start

    def times(self) -> list[float]:
        return [self.step(b) for b in self.batches[:STEPS]]


def step_seconds(
    config: TrainConfig, n_features: int, n_classes: int, K: int, steps: int = STEPS
) -> float:
    """The fastest of ``steps`` training steps of K members shaped like ``config`` (wall
    seconds)."""
    c = _Candidate(config, n_features, n_classes, K, time.perf_counter, "auto")
    return min(c.times()[:steps])


@contextmanager
def limited_threads(threads: int):
    """BLAS and caviar's kernels on at most ``threads`` threads inside the block."""
    from threadpoolctl import threadpool_limits

    before = backend.thread_count()
    backend.set_threads(threads)
    try:
        with threadpool_limits(threads, user_api="blas"):
            yield
    finally:
        backend.set_threads(before)


def measure_rates(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    sizes,
    threads: int = 1,
    backend: str = "auto",
) -> dict:
    """Member-steps per CPU second of each population size in ``sizes`` on ``threads``
    threads and the compute ``backend`` the trials will train with (``auto``: the kernels
    when installed), each from its fastest step over ROUNDS interleaved rounds of STEPS
    steps."""
    clock = time.thread_time if threads == 1 else time.process_time
    with limited_threads(threads):
        candidates = {
            K: _Candidate(config, n_features, n_classes, K, clock, backend) for K in sizes
        }
        best = dict.fromkeys(sizes, float("inf"))
        for _ in range(ROUNDS):
            for K, c in candidates.items():
                best[K] = min(best[K], *c.times())
    return {K: K / max(t, 1e-9) for K, t in best.items()}


def candidate_sizes(K_max: int) -> list[int]:
    """The sizes to time: the powers of 4 below ``K_max``, and ``K_max`` itself unless a
    power of 4 is within a factor of 2 of it (it would cost a measurement and, with the
    smallest of the tied sizes chosen, seldom win)."""
    below = [k for k in (1, 4, 16, 64, 256) if k < K_max]
    return below if below and 2 * below[-1] >= K_max else [*below, K_max]


def choose_population_size(
    config: TrainConfig,
    n_features: int,
    n_classes: int,
    n_trials: int,
    n_train: int,
    cap: int | None = None,
    memory: int | None = None,
    threads: int = 1,
) -> tuple[int, str]:
    """``(K, why)``: the population size for ``n_trials`` trials shaped like ``config``, in
    ``memory`` bytes (default: what is available here), for a slot of ``threads`` threads."""
    K_mem = population_size(config, n_features, n_classes, n_trials, cap, memory)
    flops = member_flops(config, n_features, n_classes, n_train)
    if K_mem == 1 or n_trials * flops / ASSUMED_FLOPS < MEASURE_ABOVE_SECONDS:
        return K_mem, f"K = {K_mem}: as many as memory holds (too small a tune to measure)"
    key = (config.shape(), n_features, n_classes, K_mem, threads)
    if key not in _MEASURED:
        rates = measure_rates(
            config, n_features, n_classes, candidate_sizes(K_mem), threads, compute_backend(flops)
        )
        best = min(K for K, r in rates.items() if r >= TIE * max(rates.values()))
        measured = ", ".join(f"K={k}: {r:.0f}" for k, r in rates.items())
        _MEASURED[key] = (
            best,
            (
                f"K = {best} (member-steps per CPU second, measured on {threads} thread"
                f"{'s' if threads > 1 else ''}: {measured})"
            ),
        )
    return _MEASURED[key]
