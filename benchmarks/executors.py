"""Executors side by side: ``python -m benchmarks.executors [--trials 64] [--quick]``.

Runs one tune (digits, 64-64 hidden, batch norm, Adam, 10 epochs, float32; ``--hidden``,
``--epochs`` and ``--max-population`` change it) with each executor: ``local`` (this
process), ``processes`` (2 workers × 1 thread) and ``ray`` (a two-node Ray cluster on
127.0.0.1, one CPU per node, this process its driver). For each it prints the seconds to
start the executor (spawn the workers, start the cluster and join it), the wall time of
``Tuner.run``, the training time summed over trials, the time the driver spent blocked
waiting for outcomes, and the driver's own cost per finished trial: ``(run − waited) /
trials`` (sampling, task building, ``ray.put``/submission, decoding outcomes and the study's
transactions). Then a tune of tiny trials (8 hidden units, 1 epoch, one trial per
population) on ``ray`` isolates the driver's cost per trial: ``1 / cost`` is the rate of
finished trials above which the driver, not the workers, is the bottleneck.

Nothing is asserted; numbers vary with the machine's load (the header says the load).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from caviar.data import load
from caviar.tuning.executors import make_executor
from caviar.tuning.study import Study
from caviar.tuning.tuner import Tuner, TuneSettings, open_study

SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 1e-1},
    "beta1": {"dist": "one_minus_log", "low": 0.8, "high": 0.999},
}


def tune(folder: Path, name: str, executor, data, trials: int, base: dict, cap: int | None):
    """``(start seconds, run seconds, train seconds, waited seconds)`` of one tune."""
    settings = TuneSettings(
        data="digits",
        trials=trials,
        space=SPACE,
        base=base,
        strategy="caviar",
        max_population=cap,
    )
    path = folder / f"{name}-{trials}-{time.monotonic_ns()}.db"
    study, settings = open_study(path, settings, resume=False)
    start = time.perf_counter()
    executor.start()
    started = time.perf_counter() - start
    with study:
        start = time.perf_counter()
        Tuner(study, settings, data, executor=executor).run()
        run = time.perf_counter() - start
        trained = sum(t.seconds or 0 for t in study.trials())
    waited = executor.waited
    executor.close()
    with Study(path) as s:
        assert len(s.trials()) == trials
    return started, run, trained, waited


def cluster():
    """A head node and one more, one CPU each, on 127.0.0.1 (as the tests make it)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
    c = Cluster(
        initialize_head=True,
        head_node_args={**node, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    c.add_node(**node, node_ip_address="127.0.0.1")
    c.wait_for_nodes()
    return c


def spawn_seconds() -> float:
    """Seconds to spawn two workers as ``processes`` does and import the task in both."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from caviar.tuning.executors import processes

    start = time.perf_counter()
    with ProcessPoolExecutor(
        2, get_context("spawn"), processes._start_worker, initargs=(1,)
    ) as pool:
        list(pool.map(_import_task, range(2)))
    return time.perf_counter() - start


def _import_task(_) -> int:
    import caviar.tuning.executors.base  # noqa: F401  what a task imports

    time.sleep(0.2)  # hold this worker, so that the other one is spawned too
    return os.getpid()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.executors", description=__doc__)
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--hidden", default="64,64")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-population", type=int, default=None)
    ap.add_argument("--tiny-trials", type=int, default=128)
    ap.add_argument("--executors", default="local,processes,ray")
    args = ap.parse_args(argv)
    base = {
        "hidden": [int(h) for h in args.hidden.split(",")],
        "epochs": args.epochs,
        "batch_size": 64,
    }
    data = load("digits")
    names = args.executors.split(",")
    folder = Path(tempfile.mkdtemp(prefix="caviar-bench-"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; tune: {args.trials}")
    print(f"trials of digits {base}, populations capped at {args.max_population}")
    t0 = time.perf_counter()
    c = cluster() if "ray" in names else None
    if c is not None:
        print(f"two-node cluster started in {time.perf_counter() - t0:.1f} s (not counted)")
    if "processes" in names:
        print(f"spawning 2 workers and importing the task there: {spawn_seconds():.2f} s")
    executors = {
        "local": lambda: make_executor("local"),
        "processes": lambda: make_executor("processes", workers=2, threads=1),
        "ray": lambda: make_executor("ray", address=c.address),
    }
    head = "| executor | start (s) | run (s) | training (s) | waited (s) | driver per trial (ms) |"
    print(head + "\n|" + " --- |" * 6)
    for name in names:
        started, run, trained, waited = tune(
            folder, name, executors[name](), data, args.trials, base, args.max_population
        )
        per_trial = 1e3 * (run - waited) / args.trials
        print(
            f"| {name} | {started:.2f} | {run:.2f} | {trained:.2f} | {waited:.2f} "
            f"| {per_trial:.2f} |"
        )
    tiny = {"hidden": [8], "epochs": 1, "batch_size": 64}
    for name in names:
        if name == "local":
            continue
        started, run, trained, waited = tune(
            folder, name, executors[name](), data, args.tiny_trials, tiny, 1
        )
        per_trial = (run - waited) / args.tiny_trials
        print(
            f"driver cost, {name}, {args.tiny_trials} tiny trials one per population: "
            f"{1e3 * per_trial:.2f} ms per finished trial (run {run:.2f} s, waited "
            f"{waited:.2f} s, training {trained:.2f} s): the driver keeps up with "
            f"{1 / per_trial:.0f} finished trials/s"
        )
    if c is not None:
        import ray

        ray.shutdown()
        c.shutdown()


if __name__ == "__main__":
    main()
