"""``python -m benchmarks.population_choice [--repeats N] [--tunes]``: the population size the
tuner chooses for row 8's tune (40-256-256-10 BN, batch 128, Adam, MNIST-1D's 3,200 training
rows, 64 trials on two single-threaded workers), on this machine as it is, with a competing
``python -c`` loop on one core and with one on each, with what each choice cost to make.

Three things, printed; nothing asserted:

- the cost model's choice (:func:`caviar.tuning.cost.choose_population_size`: nothing timed);
- for comparison, what timing the candidates would say: member-steps per second of K = 1,
  2, 4, 8, 16 and 32 on one thread (as a worker runs them), in wall seconds and in the
  thread's CPU seconds, the fastest of a few steps each, interleaved;
- with ``--tunes``, the whole tune at K = 2, 4, 8 and 16 (``--max-population``), quiet and
  with one competing loop, so that the model's pick can be read against the cost curve it
  sits on (about 20 s each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY_LOOP = "while True: pass"
SIZES = (1, 2, 4, 8, 16, 32)
ROUNDS, STEPS = 3, 3


def config():
    from caviar.config import TrainConfig

    return TrainConfig(hidden=(256, 256), batch_size=128, epochs=20, optimizer="adam")


def model_choice(repeats: int) -> list[tuple[int, str, float]]:
    from caviar.cost import MemberCost
    from caviar.tuning import cost

    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        member = MemberCost.of(config(), 40, 10, n_train=1000)  # K reads a step, not a run
        K, why = cost.choose_population_size(member, n_trials=32)  # 64 over 2 slots
        out.append((K, why, time.perf_counter() - t0))
    return out


def timed_rates() -> tuple[dict, dict, float]:
    """Member-steps per second of each of SIZES on one thread: (wall, CPU, seconds taken)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from caviar import backend
    from caviar.train import Batcher, epoch_order, train_step
    from caviar.train.population import Population

    t0 = time.perf_counter()
    backend.set_threads(1)
    rng = np.random.default_rng(0)
    c, n = config(), 128 * (STEPS + 1)
    cands = {}
    with threadpool_limits(1, user_api="blas"):
        for K in SIZES:
            pop = Population.build([c.replace(seed=k) for k in range(K)], 40, 10, n, "auto")
            X, Y = pop.net.prepare(rng.standard_normal((n, 40)), rng.integers(0, 10, size=n))
            batches = list(Batcher(X, Y, 128).epoch(epoch_order(n, 0, 0)))
            train_step(pop.net, pop.optimizer, *batches[-1], c.lr)  # workspaces: untimed
            cands[K] = (pop, batches)
        wall = dict.fromkeys(SIZES, float("inf"))
        cpu = dict.fromkeys(SIZES, float("inf"))
        for _ in range(ROUNDS):
            for K, (pop, batches) in cands.items():
                for b in batches[:STEPS]:
                    w, t = time.perf_counter(), time.thread_time()
                    train_step(pop.net, pop.optimizer, *b, c.lr)
                    cpu[K] = min(cpu[K], time.thread_time() - t)
                    wall[K] = min(wall[K], time.perf_counter() - w)
    rate = {K: K / wall[K] for K in SIZES}, {K: K / max(cpu[K], 1e-9) for K in SIZES}
    return *rate, time.perf_counter() - t0


def tune_seconds(K: int) -> float:
    from benchmarks.mnist1d_tune import BATCH, HIDDEN, LR, VAL_FRACTION

    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.toml"
        space.write_text(f'[space]\nlr = {{ dist = "log", low = {LR[0]}, high = {LR[1]} }}\n')
        argv = [
            sys.executable, "-m", "caviar.cli", "tune", "--data", "mnist1d", "--trials", "64",
            "--epochs", "20", "--hidden", ",".join(map(str, HIDDEN)), "--batch-size", str(BATCH),
            "--optimizer", "adam", "--val-fraction", str(VAL_FRACTION), "--dtype", "float32",
            "--space", str(space), "--strategy", "caviar", "--study", f"{tmp}/s.db", "--json",
            "--max-population", str(K),
        ]  # fmt: skip
        t0 = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        seconds = time.perf_counter() - t0
    json.loads(out.strip().splitlines()[-1])  # a whole tune, ended with its summary
    return seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.population_choice")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tunes", action="store_true", help="also run the whole tune at K=2..16")
    args = ap.parse_args(argv)
    loads = {"as it is": 0, "with a competing loop on one core": 1, "with one on each core": 2}
    for label, n_loops in loads.items():
        loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n_loops)]
        time.sleep(0.5 if loops else 0)
        try:
            for K, why, seconds in model_choice(args.repeats):
                print(f"{label}: cost model: K = {K}, chosen in {1e6 * seconds:.0f} µs; {why}")
            for _ in range(args.repeats):
                wall, cpu, seconds = timed_rates()
                best_wall, best_cpu = max(wall, key=wall.get), max(cpu, key=cpu.get)
                print(
                    f"{label}: timing instead ({seconds:.2f} s): fastest by wall time K = "
                    f"{best_wall}, by CPU time K = {best_cpu}; member-steps/s wall "
                    + ", ".join(f"{k}: {r:.0f}" for k, r in wall.items())
                    + "; CPU "
                    + ", ".join(f"{k}: {r:.0f}" for k, r in cpu.items())
                )
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
    if args.tunes:
        for label, n_loops in (("quiet", 0), ("with a competing loop on one core", 1)):
            loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(n_loops)]
            try:
                for K in (2, 4, 8, 16):
                    print(f"{label}: the whole tune at K = {K}: {tune_seconds(K):.2f} s")
            finally:
                for loop in loops:
                    loop.kill()
                    loop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
