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


def one(data: str, seed: int, folder: Path, tune=TUNE) -> dict:
    space = folder / "space.toml"
    space.write_text(SPACE)
    base = ["tune", "--data", data, "--space", space, "--seed", seed, *tune]
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


QUICK = ["--trials", "16", "--epochs", "5", "--hidden", "256,256", "--batch-size", "128"]
_SEEDS = iter(range(10**6))


def row_run(quick: bool) -> dict:
    """One repetition of the ``ensemble`` row of ``python -m benchmarks``: the realistic
    mnist1d tune (``--quick``: 16 trials × 5 epochs) with the next tune seed, in a fresh
    folder; ``status`` ok, the figures of :func:`one`, ``seconds`` the kept tune's."""
    with tempfile.TemporaryDirectory(prefix="caviar-ensemble-") as folder:
        try:
            r = one("mnist1d", next(_SEEDS), Path(folder), QUICK if quick else TUNE)
        except RuntimeError as err:
            return {"status": f"error: {err}"}
    return {"status": "ok", "seconds": r["kept_s"], **r}


def summary_row(R: dict, quick: bool):
    """The table row of ``R["ensemble"]``: the ensemble's test accuracy against the best
    single trial's (means over the repetitions, one tune seed each) and the extra time."""
    from benchmarks.table import Row, fmt, ok

    runs = ok(R["ensemble"]["caviar"])
    if not runs:
        return Row("9. ensemble of 8 vs the best trial (mnist1d)", "error")
    best = statistics.mean(r["best"] for r in runs)
    ens = statistics.mean(r["ensemble"] for r in runs)
    gains = [r["ensemble"] - r["best"] for r in runs]
    extra = statistics.median(r["kept_s"] / r["plain_s"] - 1 for r in runs)
    shape = "16 × 5" if quick else "64 × 20"
    return Row(
        f"9. ensemble of 8 vs the best trial, mnist1d tune {shape} (test accuracy)",
        fmt(ens, ".4f", " ensemble"),
        fmt(best, ".4f", " best trial"),
        fmt(ens - best, "+.4f", " (min " + f"{min(gains):+.4f})"),
        fmt(100 * extra, "+.1f", " % time"),
        ">= +0.02 every seed, <= 5 % time",
        min(gains) >= 0.02 and extra <= 0.05,
    )


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
