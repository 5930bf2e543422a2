"""A training step allocates nothing that scales with the batch or the parameters.

NumPy's ufunc machinery allocates a fixed-size iteration buffer for some broadcasting
operations (8192 elements, whatever the array sizes); everything else (activations,
gradients, moments, temporaries) lives in workspaces reused from step to step. So the test
asserts that the peak of a step is far below one activation array and does not grow with B.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

from caviar import OPTIMIZERS, Network, make_schedule
from caviar.train import Batcher, Divergence, epoch_order, train_step

LIMIT = 256 * 1024  # bytes; one (K, B, 128) activation is 512 KiB to 4 MiB below


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_step_allocates_nothing(kind, dtype, backend, monkeypatch):
    if backend == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("CAVIAR_BACKEND", backend)
    small, large = _step_peak(kind, dtype, 256), _step_peak(kind, dtype, 1024)
    assert small < LIMIT and large < LIMIT, (small, large)
    assert abs(large - small) < 16 * 1024, (small, large)


def _step_peak(kind, dtype, B):
    """Bytes allocated at the peak of one epoch of 4 steps, after a warm-up epoch."""
    K = 4
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4 * B, 64)).astype(dtype)
    y = rng.integers(0, 10, size=4 * B)
    net = Network([64, 128, 128, 10], K=K, keep_prob=0.9, l2=1e-4, dtype=dtype)
    opt = OPTIMIZERS[kind](net.params)
    sched = make_schedule("inverse_time", 1e-3, K=K, decay_rate=0.1)
    div = Divergence.new(K)
    batcher = Batcher(*net.prepare(X, y), B)

    def epoch(e):
        for step, (xb, yb) in enumerate(batcher.epoch(epoch_order(4 * B, 0, e))):
            train_step(net, opt, xb, yb, sched.alpha(e, step), div, e, step)

    epoch(0)  # warm-up: workspaces are created here
    order = epoch_order(4 * B, 0, 1)  # drawn outside the measurement
    gc.collect()  # the warm-up's garbage (a compiler's, say) is not the step's
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        before = _array_bytes()
        for step, (xb, yb) in enumerate(batcher.epoch(order)):
            train_step(net, opt, xb, yb, sched.alpha(1, step), div, 1, step)
        peak = tracemalloc.get_traced_memory()[1]
        left = _array_bytes() - before
    finally:
        tracemalloc.stop()
    # NumPy traces its array buffers in a domain of their own. Python's small objects are
    # left out of this check: CPython keeps freed tuples and frames in free lists that fill
    # over the first hundreds of steps (bounded: 23 KiB with NumPy, 149 KiB with the Numba
    # dispatcher's argument tuples, measured over 150 epochs) and stay counted.
    assert left == 0, f"a step left {left} bytes of arrays behind"
    return peak - base


def _array_bytes() -> int:
    """Bytes of NumPy array buffers alive now (tracemalloc must be tracing)."""
    domain = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
    return sum(t.size for t in tracemalloc.take_snapshot().filter_traces([domain]).traces)
