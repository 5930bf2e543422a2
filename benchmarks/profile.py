"""Where the time goes: ``python -m benchmarks.profile [--K 128] [--batch 256] [--sizes
784,256,256,10] | --tune``.

Runs the step that ``caviar.fit`` runs (loss, backward, optimizer step) on synthetic data for
the network ``--sizes`` (default 784-256-256-10; row 8's is ``--sizes 40,256,256,10 --K 8
--batch 128``, on one thread as its workers run: ``OPENBLAS_NUM_THREADS=1
CAVIAR_THREADS=1``) and prints, per step: milliseconds and minor page faults of the forward
pass (with the loss), the backward pass and the Adam step, and every layer's calls. With
``--tune``, runs the benchmark's tune (32 trials × 3 epochs of 64-64-10 on digits, in-process)
six times and prints the mean milliseconds of its parts. Set the thread variables first
(``OPENBLAS_NUM_THREADS=2``) to match the benchmark.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

import caviar
from benchmarks.sizes import SIZES
from benchmarks.worker import caviar_tune, minflt, synthetic
from caviar.train.batches import Batcher, epoch_order


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    ap.add_argument("--K", type=int, default=128)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="layer widths")
    ap.add_argument("--tune", action="store_true", help="break down row 1's tune instead")
    ap.add_argument(
        "--numba",
        action="store_true",
        help="with --tune: use the compiled kernels although the members are small (the first,"
        " unreported tune pays for loading them)",
    )
    args = ap.parse_args(argv)
    if args.tune:
        return tune_parts(numba=args.numba)
    K, B = args.K, args.batch
    n = (args.steps + args.warmup) * B
    sizes = [int(v) for v in args.sizes.split(",")]
    X, y = synthetic(n, d=sizes[0], C=sizes[-1])
    net = caviar.Network(sizes, K=K)
    flop_per_sample = 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    opt = caviar.Adam(net.params)
    lr = np.geomspace(1e-4, 1e-2, K) if K > 1 else 1e-3
    batches = list(Batcher(*net.prepare(X, y), B).epoch(epoch_order(n, 0, 0)))
    phases = ("forward+loss", "backward", "optimizer")
    t = defaultdict(float)
    f = defaultdict(int)
    layer_t = defaultdict(float)
    _instrument(net, layer_t)
    for i, (xb, yb) in enumerate(batches):
        timed = i >= args.warmup
        if timed and i == args.warmup:
            layer_t.clear()
        marks = [(time.perf_counter(), minflt())]
        J = net.cost(xb, yb)  # train_step's three parts, timed one by one
        marks.append((time.perf_counter(), minflt()))
        net.backward()
        marks.append((time.perf_counter(), minflt()))
        opt.step(net.grads, lr, np.isfinite(J))
        marks.append((time.perf_counter(), minflt()))
        if timed:
            for p, (a, b) in zip(phases, zip(marks[:-1], marks[1:], strict=True), strict=True):
                t[p] += b[0] - a[0]
                f[p] += b[1] - a[1]
    steps = len(batches) - args.warmup
    total = sum(t.values())
    print(
        f"{'-'.join(map(str, sizes))}, K = {K}, batch {B}, "
        f"{steps} steps after {args.warmup} warm-up"
    )
    print(f"{'phase':<14}{'ms/step':>10}{'share':>8}{'faults/step':>13}")
    for p in phases:
        print(f"{p:<14}{1e3 * t[p] / steps:>10.3f}{100 * t[p] / total:>7.0f}%{f[p] / steps:>13.0f}")
    gf = K * B * flop_per_sample * steps / total / 1e9
    print(f"{'step':<14}{1e3 * total / steps:>10.3f}    100%  ({gf:.1f} GFLOP/s of model FLOP)")
    print("layer calls (ms/step), slowest first:")
    for name, s in sorted(layer_t.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34}{1e3 * s / steps:>8.3f}")


def tune_parts(repeats: int = 6, numba: bool = False) -> None:
    """Row 1's in-process tune, its parts timed by wrapping the methods that do them; with
    ``numba``, on the compiled kernels that ``population.build`` declines for members this
    small."""
    from caviar.nn.network import Network
    from caviar.optim.base import Optimizer
    from caviar.train import population
    from caviar.tuning import trials, tuner

    acc: dict[str, float] = defaultdict(float)
    parts = [
        (Network, "cost", "training steps: forward + loss"),
        (Network, "backward", "training steps: backward"),
        (Optimizer, "step", "training steps: optimizer"),
        (population.Population, "build", "building the population"),
        (trials, "member_results", "final training-set loss, results"),
        (tuner.Tuner, "_ensure_round", "sampling the trials"),
        (tuner.Tuner, "_finish", "writing the trials to SQLite"),
        (trials, "evaluate", "validation after each epoch, final loss"),
    ]
    for owner, name, label in parts:
        fn = getattr(owner, name)

        def wrapped(*a, fn=fn, label=label, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            acc[label] += time.perf_counter() - t0
            return out

        setattr(owner, name, wrapped)
    # fit's evaluate is imported by name in the loop module
    import caviar.train.loop as loop

    loop.evaluate = trials.evaluate
    tuner.member_results = trials.member_results
    if numba:
        population.compute_backend = lambda flops: "auto"
    totals = []
    for r in range(repeats + 1):
        if r == 1:
            acc.clear()  # the first run pays for first calls; keep the others
        totals.append(caviar_tune(32, 3)[1]["seconds"])
    print(
        f"tune, 32 trials x 3 epochs ({'Numba' if numba else 'NumPy'}), mean of {repeats}"
        f" after one: {1e3 * np.mean(totals[1:]):.1f} ms in-process"
    )
    print("parts (ms; the final loss's evaluation is inside 'results' and 'evaluate'):")
    for label, sec in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<42}{1e3 * sec / repeats:>8.1f}")


def _instrument(net, acc) -> None:
    """Wrap each layer's forward and backward (and the loss layer) to accumulate time."""
    counts: dict[str, int] = defaultdict(int)
    for layer in [*net.layers, net.loss_layer]:
        kind = type(layer).__name__
        counts[kind] += 1
        name = f"{kind}{counts[kind]}"
        for method in ("forward", "backward"):
            fn = getattr(layer, method)

            def wrapped(*a, fn=fn, key=f"{name}.{method}"):
                t0 = time.perf_counter()
                out = fn(*a)
                acc[key] += time.perf_counter() - t0
                return out

            setattr(layer, method, wrapped)


if __name__ == "__main__":
    main()
