"""Real mixed-type tables: ``python -m benchmarks.tables [--seeds 3] [--trials 32]``.

On the two bundled tables (``penguins``, ``wage``) and four more from the ISLP wheel (``OJ``,
``Default``, ``Carseats``, ``Credit``; fetched once with ``pip download --no-deps islp==0.6.0``
into ``benchmarks/results/cache``, its CSV files read straight from the wheel), for each split
seed (``data_seed`` 0, 1, 2: caviar's stratified 70/10/20 split):

- ``caviar train`` with the defaults, and ``caviar tune --trials 32`` then
  ``caviar study train --trial BEST`` (the best trial by validation loss, trained again),
  each a whole command in its own process, wall time included;
- scikit-learn's ``HistGradientBoostingClassifier()`` (defaults; text columns as pandas
  ``category``, ``categorical_features="from_dtype"``: native categories) and
  ``MLPClassifier(random_state=0)`` behind median imputation with indicators + scaling and
  constant-imputation + one-hot (``handle_unknown="ignore"``), both fitted on the same
  training rows and scored on the same test rows as caviar.

Then the time and peak memory (how far the process's maximum resident set rose above where
its imports left it) of reading a CSV of about
``--read-mb`` MB with mixed columns and missing cells: ``caviar.data.readers.read_columns``
(pyarrow) against ``pandas.read_csv``, each in a fresh process, the median of three.
Prints markdown tables; nothing here asserts anything.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
CACHE = HERE / "results" / "cache"
ISLP = ("islp", "0.6.0")
TABLES = {  # name: (file in the ISLP wheel or None for a bundled name, target)
    "penguins": (None, "species"),
    "wage": (None, "health_ins"),
    "OJ": ("ISLP/data/OJ.csv", "Purchase"),
    "Default": ("ISLP/data/Default.csv", "default"),
    "Carseats": ("ISLP/data/Carseats.csv", "ShelveLoc"),
    "Credit": ("ISLP/data/Credit.csv", "Student"),
}


def islp_wheel() -> Path:
    """The ISLP wheel in the cache, downloaded once (no dependencies, nothing installed)."""
    found = sorted(CACHE.glob(f"{ISLP[0]}-{ISLP[1]}-*.whl"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE),
             f"{ISLP[0]}=={ISLP[1]}"],
            check=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(f"{ISLP[0]}-{ISLP[1]}-*.whl"))
    return found[0]


def table_file(name: str, folder: Path) -> str:
    """What ``--data`` takes for table ``name``: the bundled name, or a CSV written from
    the wheel into ``folder``."""
    member, _ = TABLES[name]
    if member is None:
        return name
    path = folder / f"{name}.csv"
    if not path.exists():
        with zipfile.ZipFile(islp_wheel()) as wheel:
            path.write_bytes(wheel.read(member))
    return str(path)


def caviar_cmd(*args) -> tuple[str, float]:
    """Run ``caviar ARGS``; (standard output, wall seconds)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "caviar.cli", *map(str, args)],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"caviar {' '.join(map(str, args))}: {done.stderr.strip()}")
    return done.stdout, seconds


def caviar_train(data: str, target: str | None, seed: int, extra=()) -> tuple[float, float]:
    target_args = ["--target", target] if target and data.endswith(".csv") else []
    out, s = caviar_cmd(
        "train", "--data", data, *target_args, "--data-seed", seed, *extra, "--json"
    )
    return json.loads(out.strip().splitlines()[-1])["test_accuracy"], s


def caviar_tune(data: str, target: str | None, seed: int, trials: int, folder: Path, extra=()):
    target_args = ["--target", target] if target and data.endswith(".csv") else []
    study = folder / f"study-{Path(data).stem}-{seed}.db"
    study.unlink(missing_ok=True)
    out, s1 = caviar_cmd(
        "tune", "--data", data, *target_args, "--trials", trials, "--data-seed", seed,
        "--study", study, *extra, "--json",
    )  # fmt: skip
    best = json.loads(out.strip().splitlines()[-1])["best"]
    out, s2 = caviar_cmd("study", "train", study, "--trial", best["id"])
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    return accuracy, s1 + s2


def frames(data: str, target: str | None, seed: int):
    """The same training and test rows as caviar's split, as pandas DataFrames of the raw
    columns (text as ``category``), with their labels."""
    import pandas as pd

    from caviar import data as cdata
    from caviar.config import TrainConfig

    ds = cdata.load(data) if data in cdata.LOADERS else cdata.read(data, target=target)
    c = TrainConfig(data_seed=seed)
    train, _, test = cdata.train_val_test_split(ds, c.val_fraction, c.test_fraction, seed)
    out = []
    for part in (train, test):
        t = part.table
        frame = pd.DataFrame(
            {n: (pd.Series(v, dtype="category") if k == "categorical" else v)
             for n, k, v in zip(t.columns, t.kinds, t.values, strict=True)}
        )  # fmt: skip
        out.append((frame, part.decode(part.y)))
    categories = {n: sorted(set(out[0][0][n].dropna()) | set(out[1][0][n].dropna()))
                  for n, k in zip(train.table.columns, train.table.kinds, strict=True)
                  if k == "categorical"}  # fmt: skip
    for frame, _ in out:  # one set of categories for both parts, as a user would set them
        for n, cats in categories.items():
            frame[n] = frame[n].cat.set_categories(cats)
    return out, ds


def peers(split) -> dict[str, tuple[float, float]]:
    import warnings

    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    (Xtr, ytr), (Xte, yte) = split
    text = [c for c in Xtr.columns if str(Xtr[c].dtype) == "category"]
    numbers = [c for c in Xtr.columns if c not in text]
    results = {}
    start = time.perf_counter()
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    results["hgb"] = (hgb.fit(Xtr, ytr).score(Xte, yte), time.perf_counter() - start)
    start = time.perf_counter()
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                              StandardScaler()), numbers),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                              OneHotEncoder(handle_unknown="ignore")), text),
    ])  # fmt: skip
    to_text = {c: Xtr[c].astype(object) for c in text}
    mlp = make_pipeline(prep, MLPClassifier(random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xtr.assign(**to_text), ytr)
    score = mlp.score(Xte.assign(**{c: Xte[c].astype(object) for c in text}), yte)
    results["mlp"] = (score, time.perf_counter() - start)
    return results


def accuracy_table(seeds: list[int], trials: int, epochs: int | None = None) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="caviar-tables-"))
    rows = []
    lines = [
        "| table | rows | columns (text) | missing cells | caviar train | caviar tune "
        f"{trials} | HistGradientBoosting | sklearn MLP | tuned − HGB | tuned − MLP |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (_, target) in TABLES.items():
        data = table_file(name, folder)
        got: dict[str, list] = {k: [] for k in ("train", "tune", "hgb", "mlp")}
        for seed in seeds:
            split, ds = frames(data, target, seed)
            extra = [] if epochs is None else ["--epochs", epochs]
            got["train"].append(caviar_train(data, target, seed, extra))
            got["tune"].append(caviar_tune(data, target, seed, trials, folder, extra))
            for k, v in peers(split).items():
                got[k].append(v)
            print(f"{name} seed {seed}: " + ", ".join(
                f"{k} {v[-1][0]:.4f} ({v[-1][1]:.1f} s)" for k, v in got.items()
            ), file=sys.stderr, flush=True)  # fmt: skip
        acc = {k: float(np.mean([a for a, _ in v])) for k, v in got.items()}
        sec = {k: statistics.median(s for _, s in v) for k, v in got.items()}
        text = ds.table.kinds.count("categorical")
        missing = sum(ds.table.missing().values())
        cells = {k: f"{acc[k]:.4f} ({sec[k]:.1f} s)" for k in acc}
        rows.append((name, acc))
        lines.append(
            f"| {name} | {len(ds)} | {len(ds.table.columns)} ({text}) | {missing} | "
            f"{cells['train']} | {cells['tune']} | {cells['hgb']} | {cells['mlp']} | "
            f"{acc['tune'] - acc['hgb']:+.4f} | {acc['tune'] - acc['mlp']:+.4f} |"
        )
    near = sum(a["tune"] >= a["hgb"] - 0.01 for _, a in rows)
    above = sum(a["tune"] >= a["mlp"] - 0.01 for _, a in rows)
    lines += [
        "",
        f"Test accuracy, the mean over split seeds {seeds}, and the median wall time of one "
        "seed (caviar: whole commands in their own processes; peers: fit and score). "
        f"The tuned caviar is within 0.01 of the boosted trees or better on {near} of "
        f"{len(rows)} tables, and at most 0.01 below the scikit-learn MLP on {above} of "
        f"{len(rows)}.",
    ]
    return lines


def synthetic_csv(path: Path, megabytes: int) -> None:
    """A CSV of about ``megabytes`` MB: 6 numeric and 4 text columns, 5 % missing cells."""
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"])
    with open(path, "w") as f:
        f.write("n0,n1,n2,n3,n4,n5,t0,t1,t2,t3,label\n")
        while f.tell() < megabytes * 1_000_000:
            n = 50_000
            cols = [np.round(rng.normal(size=n) * 100, 3).astype(str) for _ in range(6)]
            cols += [words[rng.integers(0, len(words), n)] for _ in range(4)]
            for c in cols:
                c[rng.random(n) < 0.05] = ""
            cols.append(rng.integers(0, 2, n).astype(str))
            buf = io.StringIO()
            np.savetxt(buf, np.stack(cols, axis=1), fmt="%s", delimiter=",")
            f.write(buf.getvalue())


READERS = {
    # pyarrow is imported with the reader, as pandas is: the timed window is the reading
    "caviar (pyarrow)": "import pyarrow.csv\nfrom caviar.data.readers import read_columns; "
    "read_columns(PATH)",
    "pandas.read_csv": "import pandas; pandas.read_csv(PATH)",
}


def read_once(code: str, path: Path | None) -> tuple[float, float]:
    """(seconds, peak resident MB) of ``code`` in a fresh process; ``path`` None runs its
    imports alone (the baseline the reading is measured above)."""
    imports, call = (part.strip() for part in code.split(";"))
    call = "None" if path is None else call.replace("PATH", repr(str(path)))
    # VmHWM: the peak resident set of this address space; getrusage's ru_maxrss would
    # carry the forking parent's peak across exec
    prog = (
        f"import re, time\n{imports}\n"
        f"t = time.perf_counter()\ndata = {call}\nt = time.perf_counter() - t\n"
        "status = open('/proc/self/status').read()\n"
        "print(t, int(re.search(r'VmHWM:\\s+(\\d+)', status)[1]) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True)
    seconds, peak = out.stdout.split()
    return float(seconds), float(peak)


def reading_table(megabytes: int, reps: int = 3) -> list[str]:
    path = Path(tempfile.mkdtemp(prefix="caviar-read-")) / "big.csv"
    synthetic_csv(path, megabytes)
    size = path.stat().st_size / 1e6
    runs: dict[str, list] = {k: [] for k in READERS}
    base: dict[str, list] = {k: [] for k in READERS}
    for _ in range(reps):  # alternating
        for name, code in READERS.items():
            runs[name].append(read_once(code, path))
            base[name].append(read_once(code, None)[1])
    lines = [
        f"Reading a {size:.0f} MB CSV (10 columns, 4 of them text, 5 % missing cells), "
        f"median of {reps} fresh processes; memory: the process's peak resident set minus "
        "that of a process that only imports the reader:",
        "",
        "| reader | seconds | peak memory (MB) |",
        "| --- | --- | --- |",
    ]
    sec = {k: statistics.median(s for s, _ in r) for k, r in runs.items()}
    mem = {
        k: statistics.median(m for _, m in r) - statistics.median(base[k]) for k, r in runs.items()
    }
    for name in READERS:
        lines.append(f"| {name} | {sec[name]:.2f} | {mem[name]:.0f} |")
    (c, p), (cm, pm) = (tuple(d[k] for k in READERS) for d in (sec, mem))
    lines += ["", f"caviar / pandas: {c / p:.2f}× the time, {cm / pm:.2f}× the memory."]
    path.unlink()
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="split seeds 0..N-1 (0: none)")
    parser.add_argument("--epochs", type=int, help="caviar's epochs [default: its default]")
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--read-mb", type=int, default=100, help="0: skip the reading row")
    parser.add_argument("--only", nargs="*", choices=list(TABLES), help="these tables only")
    args = parser.parse_args(argv)
    if args.only:
        for name in list(TABLES):
            if name not in args.only:
                del TABLES[name]
    if args.seeds:
        print("\n".join(accuracy_table(list(range(args.seeds)), args.trials, args.epochs)))
        print(flush=True)
    if args.read_mb:
        print("\n".join(reading_table(args.read_mb)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
