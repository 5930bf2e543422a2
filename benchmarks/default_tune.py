"""The default tune against the README's single run, on the bundled mnist1d's standard split.

    python -m benchmarks.default_tune [--seeds 0 1 2]

For each seed: ``caviar tune --data mnist1d --trials 64 --epochs 20 --hidden 256,256`` with the
default space (lr, β1, β2 and dropout's keep probability) and with the notes' space of the
three optimizer dimensions alone, each best trial (lowest validation loss) and most accurate
trial trained again by ``caviar study train`` for its test accuracy; beside them the README's
single run (``caviar train --data mnist1d --hidden 256,256 --epochs 100 --lr 0.003
--keep-prob 0.8``). Prints one line per run and the means. Whole commands, wall seconds.
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

CAVIAR = [sys.executable, "-m", "caviar.cli"]
TUNE = ["--data", "mnist1d", "--trials", "64", "--epochs", "20", "--hidden", "256,256"]
SINGLE = ["train", "--data", "mnist1d", "--hidden", "256,256", "--epochs", "100", "--lr", "0.003"]
SINGLE += ["--keep-prob", "0.8", "--json"]
NOTES_SPACE = """[space]
lr = { dist = "log", low = 1e-4, high = 1.0 }
beta1 = { dist = "one_minus_log", low = 0.9, high = 0.999 }
beta2 = { dist = "one_minus_log", low = 0.99, high = 0.9999 }
"""


def run(argv: list[str]) -> tuple[dict, float]:
    start = time.perf_counter()
    out = subprocess.run(CAVIAR + argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1]), time.perf_counter() - start


def tune(seed: int, space: Path | None, folder: Path) -> dict:
    study = folder / f"{'notes' if space else 'default'}-{seed}.db"
    extra = ["--space", str(space)] if space else []
    argv = ["tune", *TUNE, "--seed", str(seed), *extra, "--study", str(study), "--json"]
    summary, seconds = run(argv)
    trials = [t for t in summary["trials"] if t["status"] == "finished"]
    top = max(trials, key=lambda t: (t["val_accuracy"], -t["val_loss"]))
    tests = {}
    for name, trial in (("best", summary["best"]), ("most accurate", top)):
        retrained, _ = run(["study", "train", str(study), "--trial", str(trial["id"]), "--json"])
        tests[name] = retrained["retrained"]["test_accuracy"]
    return {"seconds": seconds, "val": summary["best"]["val_accuracy"], **tests}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    rows: dict[str, list[dict]] = {"default space": [], "notes' space": []}
    singles = []
    with tempfile.TemporaryDirectory() as tmp:
        notes = Path(tmp) / "notes.toml"
        notes.write_text(NOTES_SPACE)
        for seed in args.seeds:
            for name, space in (("default space", None), ("notes' space", notes)):
                r = tune(seed, space, Path(tmp))
                rows[name].append(r)
                print(
                    f"seed {seed}, {name}: {r['seconds']:.1f} s, best trial val "
                    f"{r['val']:.4f} test {r['best']:.4f}, most accurate test "
                    f"{r['most accurate']:.4f}",
                    flush=True,
                )
            single, seconds = run([*SINGLE, "--seed", str(seed)])
            singles.append(single["test_accuracy"])
            print(f"seed {seed}, README single run: {seconds:.1f} s, test {singles[-1]:.4f}")
    mean = statistics.mean
    print(f"README single run: mean test {mean(singles):.4f}")
    for name, rs in rows.items():
        print(
            f"{name}: mean test of the best trial {mean(r['best'] for r in rs):.4f}, of the "
            f"most accurate {mean(r['most accurate'] for r in rs):.4f}, "
            f"median {statistics.median(r['seconds'] for r in rs):.1f} s a tune"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
