"""Model-based samplers against random search: ``python -m benchmarks.samplers [--seeds 0 1 2]``.

The realistic mnist1d tune (64 trials × 20 epochs of 40-256-256-10 BN, Adam, batch 128,
α log-uniform in [1e-4, 1e-1]) with ``--sampler random`` (one round: the notes' method) and
with Optuna's ``tpe`` and ``gp`` in 4 rounds of 16 (each round asked after the earlier ones
are told), as whole ``caviar tune`` commands: the best validation accuracy and the wall
time, per tune seed and their mean. ``gp`` needs torch (skipped without it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.ensemble import SPACE, TUNE, run


def best(data: str, sampler: str, seed: int, folder: Path) -> tuple[float, float]:
    space = folder / "space.toml"
    space.write_text(SPACE)
    rounds = ["--rounds", "1"] if sampler == "random" else ["--rounds", "4"]
    out, seconds = run(
        "tune", "--data", data, "--space", space, "--seed", seed, *TUNE, *rounds,
        "--sampler", sampler, "--keep", 0, "--study", folder / f"{sampler}-{seed}.db", "--json",
    )  # fmt: skip
    summary = json.loads(out.strip().splitlines()[-1])
    accuracy = max(t["val_accuracy"] or 0 for t in summary["trials"])
    return accuracy, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", default="mnist1d")
    args = parser.parse_args(argv)
    samplers = ["random", "tpe"] + (["gp"] if importlib.util.find_spec("torch") else [])
    folder = Path(tempfile.mkdtemp(prefix="caviar-samplers-"))
    got = {s: [] for s in samplers}
    for seed in args.seeds:
        for s in samplers:
            got[s].append(best(args.data, s, seed, folder))
            print(f"{s} seed {seed}: {got[s][-1]}", file=sys.stderr, flush=True)
    lines = ["| sampler | best validation accuracy per seed | mean | median wall time |",
             "| --- | --- | --- | --- |"]  # fmt: skip
    for s, runs in got.items():
        accs = ", ".join(f"{a:.4f}" for a, _ in runs)
        mean = statistics.mean(a for a, _ in runs)
        lines.append(f"| {s} | {accs} | {mean:.4f} | "
                     f"{statistics.median(t for _, t in runs):.1f} s |")  # fmt: skip
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
