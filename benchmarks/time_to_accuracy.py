"""Time to accuracy against the strongest peer a competent user would run: ``python -m
benchmarks.time_to_accuracy [--seeds 0 1 2] [--cap 90] [--method pbt halving]``.

The realistic mnist1d tune (40-256-256-10 BN, Adam, batch 128, α log-uniform in [1e-4,
1e-1], 20 epochs a full run), on MNIST-1D's first 4,000 rows split in halves: 2,000 train,
2,000 validation, so that the validation accuracy has a standard error of 0.01 (the default
400 rows give 0.023: a best-so-far over hundreds of noisy epochs would measure the noise;
DESIGN.md §6). Per tune seed, each side a whole process tree started cold:

- the target: the best validation accuracy of caviar's random search, 64 trials × 20 epochs
  (the "random" row of ``benchmarks.search``), the mean over the seeds;
- caviar: the tuner with ``--pbt`` (64 members × 20 epochs) or ``--halving 3`` over 320
  configurations, as ``caviar tune`` runs it (executor auto), stamped each time the driver
  has a step back (PBT: every 4 epochs; halving: every epoch) with the best validation
  accuracy of any epoch of any member so far; it keeps the 8 best models (``--keep 8``) and
  a second curve ends with their ensemble (``--ensemble 8``: greedy selection on the
  validation split, so its validation accuracy is chosen on the rows that score it);
- the peer: Optuna's TPE sampler (constant liar, as Optuna recommends for parallel workers)
  with its Hyperband pruner (min resource 1 epoch, max 20, η = 3) told each epoch's
  validation loss, PyTorch training the same network on the same split and mini-batch order,
  one single-threaded process per core sharing a JournalStorage file (Optuna's own recipe
  for parallel trials). Every epoch of every trial is stamped as it ends; the workers stop
  when one of them reaches the target or at the cap.

Printed: each side's seconds to the target per seed (none: not reached before the cap or
the end), the ratio of medians, and the best-so-far curves as CSV (``--curves PATH``) for
``docs/performance.md``. The issue's goal: caviar in at most 1/5 of the peer's time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ensemble import SPACE, TUNE

HIDDEN, N_FEATURES, N_CLASSES, BATCH, EPOCHS = (256, 256), 40, 10, 128, 20
VAL_FRACTION = 0.5
ENSEMBLE = 8  # caviar tune --keep 8 --ensemble 8
LR = (1e-4, 1e-1)
BLAS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# -- caviar ----------------------------------------------------------------------------------
def caviar_curves(method: str, seed: int, folder: Path) -> dict[str, list]:
    """``{method: curve, method + " + ensemble": curve}``, each ``[(seconds since the process
    started, best validation accuracy so far)]``; the second ends with the ensemble of the 8
    kept models (chosen on the validation split, as ``caviar tune --ensemble 8`` does)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.time_to_accuracy", "caviar", method, str(seed),
         str(folder / f"{method}-{seed}.db")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    got = json.loads(out.stdout.strip().splitlines()[-1])
    tune = [tuple(p) for p in got["tune"]]
    return {method: tune, f"{method} + ensemble": [*tune, tuple(got["ensemble"])]}


def _caviar_child(method: str, seed: int, study: str) -> None:
    start = time.perf_counter()  # before caviar's imports, as a command's wall time
    from caviar.api import _settings
    from caviar.tuning import exploiting, recycling
    from caviar.tuning.settings import start as start_tune
    from caviar.tuning.tuner import Tuner

    points: list = []

    def stamp(results) -> None:
        """Every epoch each member has run so far (its metrics), as soon as the driver has
        them back: the best validation accuracy any model has had."""
        accs = [m["val_accuracy"] for _, _, metrics in results for m in metrics]
        accs = [a for a in accs if a is not None]
        if accs:
            best = max([*accs, *(b for _, b in points)])
            points.append((time.perf_counter() - start, best))

    collect, settle = exploiting._collect, recycling._settle

    def collected(*args, **kwargs):
        lanes = collect(*args, **kwargs)
        stamp([r for lane in lanes for r in lane.results])
        return lanes

    def settled(tuner, plan, lane, results, *args):
        stamp(results)
        return settle(tuner, plan, lane, results, *args)

    exploiting._collect, recycling._settle = collected, settled  # instruments, no change
    options = {"pbt": {"trials": 64, "pbt": True}, "halving": {"trials": 320, "halving": 3.0}}
    trials = options[method].pop("trials")
    settings = _settings(
        "mnist1d",
        None,
        folder_space(Path(study).parent),
        trials,
        None,
        {**options[method], **_base(), "seed": seed, "keep": ENSEMBLE},
        {"categorical": (), "numeric": (), "drop": ()},
    )
    s, settings, ds = start_tune(study, settings, False)
    with s:
        Tuner(s, settings, ds).run()
    from caviar.tuning.committee import committee
    from caviar.tuning.study import Study

    with Study(study, readonly=True) as s:  # caviar tune --ensemble 8, after the tune
        val = committee(s, ENSEMBLE).scores["val"]["ensemble"]["accuracy"]
    best = max([val, *(b for _, b in points)])
    print(json.dumps({"tune": points, "ensemble": (time.perf_counter() - start, best)}))


def folder_space(folder: Path) -> Path:
    path = folder / "space.toml"
    path.write_text(SPACE)
    return path


def _base() -> dict:
    """``TUNE``'s fixed hyperparameters as ``caviar.tune`` options."""
    return {"epochs": EPOCHS, "hidden": HIDDEN, "batch_size": BATCH, "val_fraction": VAL_FRACTION}


def random_best(seed: int, folder: Path) -> float:
    """The best validation accuracy of caviar's random search, 64 × 20."""
    out = subprocess.run(
        [sys.executable, "-m", "caviar.cli", "tune", "--data", "mnist1d", "--space",
         str(folder_space(folder)), "--seed", str(seed), *TUNE, "--val-fraction", str(VAL_FRACTION),
         "--keep", "0", "--study",
         str(folder / f"random-{seed}.db"), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    trials = json.loads(out.stdout.strip().splitlines()[-1])["trials"]
    return max(t["val_accuracy"] or 0 for t in trials)


# -- the peer --------------------------------------------------------------------------------
def peer_curve(target: float, seed: int, cap: float, folder: Path) -> list[tuple[float, float]]:
    """Optuna TPE + Hyperband with PyTorch, one single-threaded process per core sharing a
    JournalStorage file, until one reaches ``target`` or ``cap`` seconds."""
    cores = os.cpu_count() or 1
    journal = folder / f"peer-{seed}.log"
    stop = folder / f"peer-{seed}.stop"
    env = {**os.environ, **dict.fromkeys(BLAS, "1")}
    t0 = time.time()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.time_to_accuracy",
                "peer",
                str(journal),
                str(stop),
                str(target),
                str(seed),
                str(i),
                str(t0 + cap),
                str(folder / f"peer-{seed}-{i}.json"),
            ],
            env=env,
        )  # fmt: skip
        for i in range(cores)
    ]
    codes = [p.wait() for p in procs]
    if any(codes):
        raise RuntimeError(f"a worker of the peer failed: exit codes {codes}")
    stamps = sorted(
        p for i in range(cores) for p in json.loads((folder / f"peer-{seed}-{i}.json").read_text())
    )
    best, curve = 0.0, []
    for t, acc in stamps:
        if acc > best:
            best = acc
            curve.append((t - t0, best))
    if stamps:  # where the workers stopped (the target, or the cap)
        curve.append((stamps[-1][0] - t0, best))
    return curve


def _peer_child(journal, stop, target, seed, worker, deadline, out) -> None:
    import numpy as np
    import optuna
    import torch
    import torch.nn.functional as F
    from optuna.storages.journal import JournalFileBackend
    from torch import nn

    from benchmarks.worker import torch_batches, torch_train
    from caviar.config import TrainConfig
    from caviar.data import Standardizer, load
    from caviar.sources import split

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, val, _ = split(load("mnist1d"), TrainConfig(val_fraction=VAL_FRACTION))  # caviar's
    std = Standardizer.fit(train.X)
    Xtr, Xva = (torch.from_numpy(std.transform(d.X).astype(np.float32)) for d in (train, val))
    ytr, yva = (torch.from_numpy(d.y.astype(np.int64)) for d in (train, val))
    batches = torch_batches(len(ytr), BATCH, EPOCHS)
    per_epoch = len(batches) // EPOCHS
    stamps: list = []

    def model():
        layers, n = [], N_FEATURES
        for h in HIDDEN:
            layers += [nn.Linear(n, h, bias=False), nn.BatchNorm1d(h), nn.ReLU()]
            n = h
        return nn.Sequential(*layers, nn.Linear(n, N_CLASSES))

    def over() -> bool:
        return Path(stop).exists() or time.time() > deadline

    def objective(trial):
        lr = trial.suggest_float("lr", *LR, log=True)
        torch.manual_seed(trial.number)
        net = model()
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        loss = math.inf
        for e in range(EPOCHS):
            torch_train(net, opt, Xtr, ytr, batches[e * per_epoch : (e + 1) * per_epoch])
            net.eval()
            with torch.no_grad():
                logits = net(Xva)
            loss = float(F.cross_entropy(logits, yva))
            acc = float((logits.argmax(1) == yva).double().mean())
            stamps.append((time.time(), acc))
            if acc >= target:
                Path(stop).touch()
            loss = loss if math.isfinite(loss) else math.inf
            trial.report(loss, e)
            if over():
                break
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    study = optuna.create_study(
        study_name="tta",
        storage=optuna.storages.JournalStorage(JournalFileBackend(journal)),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed * 100 + worker, constant_liar=True),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=EPOCHS, reduction_factor=3
        ),
    )
    while not over():
        study.optimize(objective, n_trials=1)
    Path(out).write_text(json.dumps(stamps))


# -- the table -------------------------------------------------------------------------------
def reached(curve, target: float) -> float | None:
    return next((t for t, acc in curve if acc >= target), None)


def table(curves: dict, target: float) -> str:
    """Seconds to the target and to two easier ones (0.02 and 0.01 below) per side: the median
    over the seeds that reached it (how many of them did), and the peer's median over it."""
    sides = list(dict.fromkeys(side for side, _ in curves))
    seeds = sorted({seed for _, seed in curves})
    lines = [
        f"target: validation accuracy {target:.4f} (random search's best, mean of the seeds)",
        "| validation accuracy | " + " | ".join(sides) + " | "
        + " | ".join(f"peer / {s}" for s in sides if s != "peer") + " |",
        "| --- " * (2 * len(sides)) + "|",
    ]  # fmt: skip
    for goal in (target - 0.02, target - 0.01, target):
        med = {}
        cells = []
        for side in sides:
            got = [t for seed in seeds if (t := reached(curves[side, seed], goal)) is not None]
            med[side] = statistics.median(got) if got else None
            cells.append(
                f"{med[side]:.1f} s ({len(got)}/{len(seeds)})" if got else f"— (0/{len(seeds)})"
            )
        ratios = [
            f"{med['peer'] / med[s]:.2f}×" if med[s] and med.get("peer") else "—"
            for s in sides
            if s != "peer"
        ]
        lines.append(f"| {goal:.4f} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def from_csv(path: Path) -> dict:
    """The curves a run wrote with ``--curves``."""
    curves: dict = {}
    for line in path.read_text().splitlines()[1:]:
        side, seed, t, acc = line.split(",")
        curves.setdefault((side, int(seed)), []).append((float(t), float(acc)))
    return curves


def plot(curves: dict, target: float, path: Path) -> None:
    """The best-so-far curves, one line per side and seed, the target dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {
        "peer": "tab:red",
        "pbt": "tab:blue",
        "halving": "tab:green",
        "pbt + ensemble": "tab:cyan",
        "halving + ensemble": "tab:olive",
    }
    names = {"peer": "Optuna TPE + Hyperband, PyTorch, 1 process/core", "pbt": "caviar --pbt",
             "halving": "caviar --halving 3", "pbt + ensemble": "caviar --pbt --ensemble 8",
             "halving + ensemble": "caviar --halving 3 --ensemble 8"}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (side, seed), curve in sorted(curves.items()):
        t, a = [x for x, _ in curve], [y for _, y in curve]
        label = names.get(side, side) if seed == min(s for k, s in curves if k == side) else None
        if side.endswith("+ ensemble"):  # the tune's curve is drawn already: its last point
            ax.plot(t[-1:], a[-1:], "*", markersize=12, color=colours.get(side), label=label)
        else:
            ax.step(t, a, where="post", color=colours.get(side), alpha=0.8, label=label)
    ax.axhline(target, color="black", linestyle="--", linewidth=1, label="random search's best")
    ax.set_xscale("log")  # the first seconds and the peer's cap on one axis
    ax.set_xlabel("wall time (s, log scale), processes started cold")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_ylim(target - 0.08, target + 0.02)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "caviar":
        _caviar_child(argv[1], int(argv[2]), argv[3])
        return 0
    if argv and argv[0] == "peer":
        j, stop, target, seed, worker, deadline, out = argv[1:]
        _peer_child(j, stop, float(target), int(seed), int(worker), float(deadline), out)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cap", type=float, default=90.0, help="the peer's seconds at most")
    parser.add_argument("--method", nargs="+", choices=("pbt", "halving"), default=["pbt"])
    parser.add_argument("--target", type=float, help="skip random search: this target")
    parser.add_argument("--curves", type=Path, help="write every curve here as CSV")
    parser.add_argument("--table", type=Path, help="only print the table of a --curves CSV")
    parser.add_argument("--plot", type=Path, help="with --table: draw its curves to this PNG")
    args = parser.parse_args(argv)
    if args.table:
        curves = from_csv(args.table)
        print(table(curves, args.target))
        if args.plot:
            plot(curves, args.target, args.plot)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="caviar-tta-"))
    if args.target is None:
        bests = [random_best(seed, folder) for seed in args.seeds]
        target = statistics.mean(bests)
        print(f"random search's best per seed: {bests}; target {target:.4f}", file=sys.stderr)
    else:
        target = args.target
    csv = ["side,seed,seconds,best_val_accuracy"]
    curves: dict = {}
    for seed in args.seeds:
        mine = {side: c for m in args.method for side, c in caviar_curves(m, seed, folder).items()}
        mine["peer"] = peer_curve(target, seed, args.cap, folder)
        for side, curve in mine.items():
            curves[side, seed] = curve
            csv += [f"{side},{seed},{t:.3f},{acc:.4f}" for t, acc in curve]
        said = ", ".join(f"{s} {reached(c, target)}" for s, c in mine.items())
        print(f"seed {seed}: {said}", file=sys.stderr)
    if args.curves:
        args.curves.write_text("\n".join(csv) + "\n")
    print(table(curves, target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
