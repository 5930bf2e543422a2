"""What population checkpoints cost: ``python -m benchmarks.checkpoints``.

Runs the same tune with checkpoints off, at the default throttle
(:data:`caviar.tuning.snapshots.EVERY_SECONDS`) and at every epoch end, interleaved, in one
process, ``--reps`` times each (the order reversed every other repetition); prints the median
wall time of each and its ratio to the tune without checkpoints, the direct cost (time inside
the checkpoint hook, as a share of the tune's wall time: the figure the noise of a shared
machine does not move), the writes and their median cost, and the training a kill -9
loses: between two writes (or the start) a kill loses the training since the last write, so
over uniformly random kill moments the mean loss is ``Σ gap² / (2 Σ gap)`` and the worst is
the longest gap, both measured from the write times of the run. Asserts nothing.

The workload (``--quick`` is smaller): digits, 64 trials (one population of 64), hidden
64-64-64 with batch norm, Adam, 60 epochs: a tune long enough for the default throttle to
write several times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from caviar import checkpoint
from caviar.data import load
from caviar.tuning import snapshots
from caviar.tuning.executors import local
from caviar.tuning.tuner import Tuner, TuneSettings, open_study


def one_tune(folder: Path, name: str, every, trials: int, epochs: int, data) -> dict:
    """One tune's wall time, training time and checkpoint write times."""
    writes, hooks, real, writer = [], [], checkpoint.save, snapshots.Snapshots.writer

    def timed_save(path, arrays, meta):
        start = time.perf_counter()
        out = real(path, arrays, meta)
        writes.append((start, time.perf_counter() - start))
        return out

    def timed_writer(self, ids, pop, epochs):
        hook = writer(self, ids, pop, epochs)

        def timed(epoch, history):  # the whole hook: throttle, state copy, write
            start = time.perf_counter()
            hook(epoch, history)
            hooks.append(time.perf_counter() - start)

        return timed

    settings = TuneSettings(
        data="digits",
        trials=trials,
        strategy="caviar",
        space={"lr": {"dist": "log", "low": 1e-4, "high": 1e-1}},
        base={"hidden": [64, 64, 64], "epochs": epochs},
    )
    trained = local.train_population  # the training span of each task, for the loss per kill
    spans = []

    def train_population(*args, **kw):
        t0 = time.perf_counter()
        out = trained(*args, **kw)
        spans.append((t0, time.perf_counter()))
        return out

    snapshots.checkpoint.save, snapshots.Snapshots.writer = timed_save, timed_writer
    local.train_population = train_population
    try:
        study, settings = open_study(folder / f"{name}.db", settings, resume=False)
        with study:
            tuner = Tuner(study, settings, data, checkpoint_every=every)
            start = time.perf_counter()
            tuner.run()
            wall = time.perf_counter() - start
    finally:
        snapshots.checkpoint.save, snapshots.Snapshots.writer = real, writer
        local.train_population = trained
    return {"wall": wall, "writes": writes, "spans": spans, "hooks": sum(hooks)}


def lost_per_kill(run: dict) -> tuple[float, float]:
    """(mean, worst) seconds of training a kill at a uniformly random moment loses."""
    gaps = []
    for t0, t1 in run["spans"]:
        marks = [t0] + [s + d for s, d in run["writes"] if t0 <= s <= t1] + [t1]
        gaps += [b - a for a, b in zip(marks[:-1], marks[1:], strict=True)]
    total = sum(gaps)
    return sum(g * g for g in gaps) / (2 * total), max(gaps)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="30 epochs, 3 repetitions")
    args = parser.parse_args(argv)
    reps, epochs = (3, 30) if args.quick else (args.reps, 60)
    data = load("digits")
    modes = {"off": None, "default": snapshots.EVERY_SECONDS, "every epoch": 0.0}
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        one_tune(Path(tmp), "warm", None, 64, 2, data)  # imports, caches
        for rep in range(reps):
            order = list(modes.items())
            for mode, every in order if rep % 2 == 0 else order[::-1]:  # drift cancels
                runs[mode].append(one_tune(Path(tmp), f"{mode}-{rep}", every, 64, epochs, data))
    base = statistics.median(r["wall"] for r in runs["off"])
    print(f"tune: digits, 64 trials in one population, 64-64-64 BN, {epochs} epochs; {reps} reps")
    print(
        f"{'checkpoints':<13} {'median s':>9} {'ratio':>7} {'direct':>8} {'writes':>7} "
        f"{'per write':>10} {'lost/kill mean':>15} {'worst':>7}"
    )
    for mode in modes:
        wall = statistics.median(r["wall"] for r in runs[mode])
        writes = [d for r in runs[mode] for _, d in r["writes"]]
        per = f"{1000 * statistics.median(writes):.1f} ms" if writes else "-"
        lost = [lost_per_kill(r) for r in runs[mode]]
        mean = statistics.median(m for m, _ in lost)
        worst = statistics.median(w for _, w in lost)
        n = statistics.median(len(r["writes"]) for r in runs[mode])
        direct = statistics.median(r["hooks"] / r["wall"] for r in runs[mode])
        print(
            f"{mode:<13} {wall:>9.3f} {wall / base:>7.3f} {100 * direct:>7.2f}% {n:>7g} "
            f"{per:>10} {mean:>13.2f} s {worst:>5.2f} s"
        )
        walls = ", ".join(f"{r['wall']:.2f}" for r in runs[mode])
        print(f"{'':<13} wall times: {walls}")


if __name__ == "__main__":
    main()
