"""The tuner's policies on what a member costs (:class:`caviar.cost.MemberCost`): how many
trials to stack into one population, panda or caviar, and which executor ``auto`` means.

How many per population: memory bounds it, a model of the step's cost chooses it. Memory:
``K ≤ ⌊0.5 · available / bytes⌋`` (:func:`caviar.cost.memory_bound`). Within that, what
stacking buys is the per-step cost that does not grow with K: the Python between the NumPy
and kernel calls and each call's set-up, about STEP_OVERHEAD_PER_LAYER per layer and step
whatever K is. The arithmetic does not get cheaper per member with K (each member's products
are their own BLAS calls), while the population's arrays take more cache. So the tuner takes
the smallest power of two K at which that fixed cost is at most OVERHEAD_SHARE of the step::

    K ≥ layers · STEP_OVERHEAD_PER_LAYER / (OVERHEAD_SHARE · 6 · P · B / PRODUCT_FLOPS)

(P parameters per member, B the batch: ``6 · P · B`` is ``MemberCost.flops_step``). Nothing
is timed, so a busy machine cannot make it choose badly, and choosing costs nothing. The
constants were measured on this project's 2-core machines (one thread, 2026-12-02; ``python
-m benchmarks.profile``): a step of one 40-256-256-10 member at batch 128 takes 1.05 ms
alone and 0.90 ms per member at K = 4, of one 64-64-64-10 member at batch 64 0.20 ms alone
for 0.5 MFLOP of products, of one 784-256-256-10 member at batch 256 4.0 ms alone and 3.7 ms
per member at K = 4: 60 to 110 µs per layer outside the products, which run at about 100
GFLOP/s on one thread. Around the chosen K the cost is flat (row 8's tune on two workers:
20.5, 18.1, 17.2, 17.4, 17.2 and 16.9 s at K = 1, 2, 4, 8, 16, 32; ``python -m
benchmarks.population_choice --tunes``), so the constants need not be exact for another
machine of this class."""

from __future__ import annotations

import math

from caviar.cost import PRODUCT_FLOPS, MemberCost, available_memory, memory_bound

STEP_OVERHEAD_PER_LAYER = 80e-6  # seconds per layer and training step, whatever K is
OVERHEAD_SHARE = 0.05  # the most of a step the fixed cost may take at the chosen K
# ``auto`` starts worker processes for a tune whose estimated compute (trials × one member's
# run at STEP_FLOPS) is at least this many seconds: below it, spawning them and loading
# caviar and Numba there (about a second) costs more than the second core gives back.
PROCESSES_ABOVE_SECONDS = 10.0


def population_size(
    cost: MemberCost, n_trials: int, cap: int | None = None, memory: int | None = None
) -> int:
    """K for trials of ``cost``: as many as half the available memory holds, at most
    ``n_trials`` (and ``cap``), at least 1."""
    return max(1, min(memory_bound(cost, memory), n_trials, cap or n_trials))


def model_population_size(cost: MemberCost) -> int:
    """The smallest power of two K whose step spends at most OVERHEAD_SHARE of its time in
    the per-step cost that does not grow with K (the module's docstring)."""
    need = (
        cost.layers * STEP_OVERHEAD_PER_LAYER / (OVERHEAD_SHARE * cost.flops_step / PRODUCT_FLOPS)
    )
    return 2 ** max(0, math.ceil(math.log2(max(need, 1.0))))


def choose_population_size(
    cost: MemberCost, n_trials: int, cap: int | None = None, memory: int | None = None
) -> tuple[int, str]:
    """``(K, why)``: the population size for ``n_trials`` trials of ``cost``:
    :func:`model_population_size`, at most ``n_trials``, ``cap`` and what half of ``memory``
    bytes hold (default: what is available here)."""
    K_model = model_population_size(cost)
    bounds = {
        "the cost model's": K_model,
        "the trials'": n_trials,
        "the cap's": cap or n_trials,
        "the memory's": memory_bound(cost, memory),
    }
    name, K = min(bounds.items(), key=lambda kv: kv[1])  # the first of equal bounds
    K = max(1, K)
    if name == "the cost model's":
        return K, (
            f"K = {K}: from there on the per-step overhead is at most {OVERHEAD_SHARE:.0%} "
            "of a step (the cost model)"
        )
    return K, f"K = {K}, {name} limit (the cost model asks for {K_model})"


def choose_strategy(
    cost: MemberCost, n_trials: int, cap: int | None, n_cores: int, memory: int | None = None
) -> tuple[str, str]:
    """``(strategy, why)``: what ``auto`` means for ``n_trials`` trials of ``cost``: panda
    (one model at a time, babysat) for one trial or a member too big for two in half the
    memory, else caviar (populations)."""
    free = available_memory() if memory is None else memory
    if n_trials == 1:
        return "panda", "one trial: babysit it"
    if 2 * cost.bytes > 0.5 * free:
        return "panda", (
            f"one trial needs {cost.bytes / 2**30:.1f} GiB of the "
            f"{free / 2**30:.1f} GiB free: one at a time"
        )
    K = population_size(cost, n_trials, cap, free)
    return "caviar", (
        f"{n_trials} trials of ~{cost.flops_run / 1e9:.2g} GFLOP each, up to {K} "
        f"per population in {free / 2**30:.1f} GiB free on {n_cores} cores"
    )


def choose_executor(
    strategy: str, compute_seconds: float, n_cores: int, spawn_safe: bool = True
) -> tuple[str, str]:
    """``(name, why)``: the executor ``auto`` stands for, for a tune of ``strategy`` whose
    trials come to ``compute_seconds`` at the cost model's rate, on ``n_cores`` cores;
    ``spawn_safe``: worker processes may be spawned
    (:func:`caviar.tuning.executors.main_reruns_in_workers`).

    ``processes`` with one single-threaded worker per core for a large caviar tune on
    several cores, else ``local``. For the mid-sized layers a tune usually trains, two
    single-threaded populations get more done than one population on two threads: a
    two-thread BLAS call on a ``(128, 256) × (256, 256)`` product reaches 57 % of the
    two-core peak, a one-thread call 74 % of one core's, and the elementwise work and the
    Python between calls run on both cores instead of one (row 8 of the benchmarks: 30.4 s
    in process, 19.0 s on two workers; ``docs/performance.md``)."""
    if strategy == "panda":
        return "local", "panda trains one model at a time, in this process"
    if n_cores < 2:
        return "local", "one core"
    if compute_seconds < PROCESSES_ABOVE_SECONDS:
        return "local", (
            f"~{compute_seconds:.1f} s of compute: too little to repay starting worker processes"
        )
    if not spawn_safe:
        return "local", (
            "worker processes would run this script's top level again: put the tune under "
            '`if __name__ == "__main__":` to let them train it'
        )
    return "processes", (
        f"~{compute_seconds:.0f} s of compute on {n_cores} cores: {n_cores} worker "
        "processes of one thread each"
    )
