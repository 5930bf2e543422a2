"""Search that uses the population (asynchronous halving, population-based training) against
random search in the same wall time: ``python -m benchmarks.search [--seeds 0 1 2]
[--only halving pbt] [--trials 320]``.

The realistic mnist1d tune (40-256-256-10 BN, Adam, batch 128, α log-uniform in [1e-4,
1e-1], 20 epochs a full run) as whole ``caviar tune`` commands, per tune seed:

- random search, 64 trials × 20 epochs: its wall time T and best validation accuracy;
- ``--halving 3`` (rungs at 1, 3 and 9 epochs) over ``--trials`` configurations (320 by
  default: five times random's 64, chosen so that its wall time comes out near T here;
  ASHA with η = 3 runs a configuration 1 + 2/3 + 6/9 + 11/27 ≈ 2.74 epochs on average, so
  in epochs 320 is 0.69 of random's 1,280: the rest goes to the per-epoch round trips of
  the lanes' states and the short lanes of the tail). Printed: its wall time against T,
  configurations started, configurations that ran all 20 epochs, the best validation
  accuracy, and the row utilisation (the share of row-epochs that trained a member while
  configurations were waiting);
- ``--pbt`` with 64 members × 20 epochs (random's compute; its defaults: an exploit every 4
  epochs, the bottom quarter copying the top quarter): its wall time against T and best
  validation accuracy.

For each search the test accuracy of its most accurate trial on validation (from its kept
model: ``caviar study train STUDY --trial N``; a PBT member cannot be trained again).
The goals of the issue: halving ≥ 3× the configurations and a best ≥ random's on the mean of
the seeds; PBT a best ≥ random's on the mean of the seeds in ≤ 1.1 T.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ensemble import SPACE, TUNE

BASE = [a for a in TUNE if a not in ("--trials", "64")]


def tune(data: str, seed: int, folder: Path, name: str, *extra) -> dict:
    space = folder / "space.toml"
    space.write_text(SPACE)
    out, err, seconds = run(
        "tune", "--data", data, "--space", space, "--seed", seed, *BASE, *extra,
        "--keep", 1, "--study", folder / f"{name}-{seed}.db", "--json",
    )  # fmt: skip
    summary = json.loads(out.strip().splitlines()[-1])
    trials = summary["trials"]
    best = max(trials, key=lambda t: t["val_accuracy"] or 0)
    study = folder / f"{name}-{seed}.db"
    scores = json.loads(run("study", "train", study, "--trial", best["id"], "--json")[0])
    return {
        "seconds": seconds,
        "best": best["val_accuracy"],
        "test": scores["retrained"]["test_accuracy"],
        "started": sum(t["status"] != "pending" for t in trials),
        "full": sum(t["status"] in ("finished", "diverged") for t in trials),
        "utilisation": _utilisation(err),
    }


def run(*args) -> tuple[str, str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "caviar.cli", *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return done.stdout, done.stderr, time.perf_counter() - start


def _utilisation(err: str) -> float | None:
    """The share the tune printed (``rows trained a member in 99.5% of the row-epochs``)."""
    found = re.search(r"rows trained a member in ([0-9.]+)%", err)
    return None if found is None else float(found.group(1)) / 100


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", default="mnist1d")
    parser.add_argument("--only", nargs="+", choices=("halving", "pbt"), default=["halving", "pbt"])
    parser.add_argument("--trials", type=int, default=320, help="halving's configurations")
    parser.add_argument("--min-epochs", type=int, default=1)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="caviar-search-"))
    modes = {
        "halving": ["--trials", args.trials, "--halving", 3, "--min-epochs", args.min_epochs],
        "pbt": ["--trials", 64, "--pbt"],
    }
    rows = {"random": [], **{m: [] for m in args.only}}
    for seed in args.seeds:
        rows["random"].append(tune(args.data, seed, folder, "random", "--trials", 64))
        for mode in args.only:
            rows[mode].append(tune(args.data, seed, folder, mode, *modes[mode]))
        print(f"seed {seed}: " + " ".join(f"{m} {r[-1]}" for m, r in rows.items()), file=sys.stderr)
    lines = [
        "| search | wall time / T (median) | configurations started | ran all 20 epochs "
        "| best validation accuracy per seed | mean | its test accuracy (mean) | row utilisation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    T = [r["seconds"] for r in rows["random"]]
    for name, runs in rows.items():
        ratio = statistics.median(r["seconds"] / t for r, t in zip(runs, T, strict=True))
        accs = ", ".join(f"{r['best']:.4f}" for r in runs)
        used = [r["utilisation"] for r in runs if r["utilisation"] is not None]
        lines.append(
            f"| {name} | {ratio:.2f} | {statistics.median(r['started'] for r in runs):.0f} | "
            f"{statistics.median(r['full'] for r in runs):.0f} | {accs} | "
            f"{statistics.mean(r['best'] for r in runs):.4f} | "
            f"{statistics.mean(r['test'] for r in runs):.4f} | "
            f"{f'{min(used):.1%}' if used else '—'} |"
        )
    print(f"T (random search, median): {statistics.median(T):.1f} s")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
