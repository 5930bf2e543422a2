"""Ensembles of kept models against the best single trial: ``python -m benchmarks.ensemble
[--seeds 0 1 2] [--data mnist1d digits wine]``.

For each data set and tune seed, the realistic tune (64 trials × 20 epochs of a 256-256
batch-norm network, Adam, batch 128, α log-uniform in [1e-4, 1e-1]) as a whole ``caviar
tune`` command twice, with ``--keep 0`` and with ``--keep 8 --ensemble 8``: the ensemble's
test accuracy against the best single trial's (both measured on the test split, which
chose nothing), and the wall time of the two commands. mnist1d uses its standard split
(tune on the first 4,000 rows, test on the last 1,000). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = '[space]\nlr = { dist = "log", low = 1e-4, high = 1e-1 }\n'
TUNE = ["--trials", "64", "--epochs", "20", "--hidden", "256,256", "--batch-size", "128"]


def run(*args) -> tuple[str, float]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "caviar.cli", *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return done.stdout, time.perf_counter() - start


def one(data: str, seed: int, folder: Path) -> dict:
    space = folder / "space.toml"
    space.write_text(SPACE)
    base = ["tune", "--data", data, "--space", space, "--seed", seed, *TUNE]
    _, plain = run(*base, "--keep", 0, "--study", folder / f"{data}-{seed}-plain.db")
    study = folder / f"{data}-{seed}.db"
    _, kept = run(*base, "--keep", 8, "--ensemble", 8, "--study", study)
    out, _ = run("study", "ensemble", study, "--size", 8, "--json")
    made = json.loads(out)
    return {
        "ensemble": made["scores"]["test"]["ensemble"]["accuracy"],
        "best": made["scores"]["test"]["best"]["accuracy"],
        "members": len(made["members"]),
        "plain_s": plain,
        "kept_s": kept,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", nargs="+", default=["mnist1d", "digits", "wine"])
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="caviar-ensemble-"))
    lines = [
        "| data | seed | best single trial | ensemble of 8 | gain | members | tune --keep 0 "
        "(s) | tune --keep 8 --ensemble 8 (s) | extra time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for data in args.data:
        rows = []
        for seed in args.seeds:
            r = one(data, seed, folder)
            rows.append(r)
            print(f"{data} seed {seed}: {r}", file=sys.stderr, flush=True)
            lines.append(
                f"| {data} | {seed} | {r['best']:.4f} | {r['ensemble']:.4f} | "
                f"{r['ensemble'] - r['best']:+.4f} | {r['members']} | {r['plain_s']:.1f} | "
                f"{r['kept_s']:.1f} | {r['kept_s'] / r['plain_s'] - 1:+.1%} |"
            )
        mean = {k: statistics.mean(r[k] for r in rows) for k in ("best", "ensemble")}
        lines.append(
            f"| {data} | mean | {mean['best']:.4f} | {mean['ensemble']:.4f} | "
            f"{mean['ensemble'] - mean['best']:+.4f} | | | | |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
