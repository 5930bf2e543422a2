"""Row 8: a realistic tune, 64 trials × 20 epochs of a 40-256-256-10 batch-norm network with
Adam (batch 128, lr log-uniform in [1e-4, 1e-1]) on MNIST-1D's standard split (3,200 train,
800 validation), as whole processes: ``caviar tune`` against Optuna's RandomSampler + PyTorch,
in one process and on one single-threaded process per core sharing a JournalStorage file
(Optuna's recipe for parallel trials); and the same caviar tune at 2× and 4× the trials, to
show how the cost grows.

The machine's limit for a tune: the sgemm time of 6 FLOP per weight and training example,
plus Adam's 28 bytes per parameter and step at the two-thread stream bandwidth, both measured
in the same run::

    limit = trials · (epochs · n_train · 6 · W / sgemm  +  steps · 28 · P / stream)

with W = 40·256 + 256·256 + 256·10 weights and P = W plus batch norm's γ, β and the output
bias. "% of limit" is limit / measured wall time.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.table import Row, accuracy_row, fmt, med, missing

HIDDEN = (256, 256)
N_FEATURES, N_CLASSES = 40, 10
BATCH = 128
LR = (1e-4, 1e-1)
VAL_FRACTION = 0.2  # of MNIST-1D's first 4,000: 3,200 train, 800 validation
WEIGHTS = sum(a * b for a, b in zip((N_FEATURES, *HIDDEN), (*HIDDEN, N_CLASSES), strict=True))
PARAMS = WEIGHTS + 2 * sum(HIDDEN) + N_CLASSES
FULL = {"trials": 64, "epochs": 20, "scales": (2, 4)}
QUICK = {"trials": 16, "epochs": 5, "scales": (2, 4)}


def shape(quick: bool) -> dict:
    return QUICK if quick else FULL


def limit_seconds(trials: int, epochs: int, sgemm_gflops: float, stream_gbs: float) -> float:
    """The tune's machine limit in seconds (module docstring)."""
    n_train = 3200
    steps = epochs * math.ceil(n_train / BATCH)
    flop = epochs * n_train * 6 * WEIGHTS
    return trials * (flop / (sgemm_gflops * 1e9) + steps * 28 * PARAMS / (stream_gbs * 1e9))


def caviar_argv(caviar: list[str], trials: int, epochs: int, study: Path, space: Path) -> list:
    return caviar + [
        "tune", "--data", "mnist1d", "--trials", str(trials), "--epochs", str(epochs),
        "--hidden", ",".join(map(str, HIDDEN)), "--batch-size", str(BATCH),
        "--optimizer", "adam", "--val-fraction", str(VAL_FRACTION), "--dtype", "float32",
        "--space", str(space), "--strategy", "caviar", "--study", str(study), "--json",
    ]  # fmt: skip


def run_caviar(caviar: list[str], env: dict, root: Path, trials: int, epochs: int) -> dict:
    """The whole ``caviar tune`` process: wall seconds, best accuracies, the chosen K."""
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.toml"
        space.write_text(f'[space]\nlr = {{ dist = "log", low = {LR[0]}, high = {LR[1]} }}\n')
        argv = caviar_argv(caviar, trials, epochs, Path(tmp) / "s.db", space)
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    accs = [t["val_accuracy"] for t in out["trials"] if t["val_accuracy"] is not None]
    chosen = [ln for ln in proc.stderr.splitlines() if "trials of one shape" in ln]
    executor = [ln for ln in proc.stderr.splitlines() if ln.startswith("executor auto")]
    return {
        "status": "ok",
        "seconds": seconds,
        "best_val_accuracy": max(accs) if accs else None,
        "val_accuracy_of_best_loss": (out["best"] or {}).get("val_accuracy"),
        "population_choice": chosen[-1] if chosen else None,
        "executor": executor[-1] if executor else None,
    }


def tune_torch(quick: bool) -> dict:
    """The peer in this process: Optuna's RandomSampler over the same lr range, one PyTorch
    model per trial on caviar's split, standardisation and mini-batches; objective the
    validation loss in eval mode."""
    from benchmarks.worker import THREADS, cpu_snapshot, window

    a = cpu_snapshot()
    study = _optuna_study(quick, None, shape(quick)["trials"], seed=0, threads=THREADS)
    accs = [t.user_attrs["val_accuracy"] for t in study.trials]
    return {
        **window(a, cpu_snapshot()),
        "best_val_accuracy": max(accs),
        "val_accuracy_of_best_loss": study.best_trial.user_attrs["val_accuracy"],
    }


def tune_torch_parallel(quick: bool) -> dict:
    """The peer as Optuna's recipe for parallel trials runs it: one process per core, one
    thread each (``OMP/OPENBLAS/MKL_NUM_THREADS=1``, ``torch.set_num_threads(1)``), sharing
    one study in a JournalStorage file, each with its own RandomSampler seed and its share
    of the trials. Wall time from the first start to the last exit."""
    import os
    import sys

    import optuna

    from benchmarks.worker import THREADS

    trials = shape(quick)["trials"]
    cores = THREADS
    with tempfile.TemporaryDirectory() as tmp:
        journal = str(Path(tmp) / "journal.log")
        env = {**os.environ, **dict.fromkeys(_BLAS, "1")}
        share = [trials // cores + (i < trials % cores) for i in range(cores)]
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.mnist1d_tune",
                    "shard",
                    journal,
                    str(n),
                    str(i),
                    *(["--quick"] if quick else []),
                ],
                env=env,
            )  # fmt: skip
            for i, n in enumerate(share)
        ]
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - t0
        if any(codes):
            raise RuntimeError(f"a shard of the parallel peer failed: exit codes {codes}")
        study = optuna.load_study(study_name="mnist1d", storage=_journal(journal))
        accs = [t.user_attrs["val_accuracy"] for t in study.trials]
        of_best = study.best_trial.user_attrs["val_accuracy"]
    return {
        "seconds": seconds,
        "processes": cores,
        "trials": len(accs),
        "best_val_accuracy": max(accs),
        "val_accuracy_of_best_loss": of_best,
    }


_BLAS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _journal(path: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path))


def _optuna_study(quick: bool, journal: str | None, n_trials: int, seed: int, threads: int):
    """Run ``n_trials`` of the peer's objective in this process (``journal``: the shared
    study's file, else a study in memory) and return the study."""
    import numpy as np
    import optuna
    import torch
    import torch.nn.functional as F
    from torch import nn

    from benchmarks.worker import torch_batches, torch_train
    from caviar.data import Standardizer, load, train_val_test_split

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    s = shape(quick)
    train, val, _ = train_val_test_split(load("mnist1d"), VAL_FRACTION, 0.2, seed=0)
    std = Standardizer.fit(train.X)
    Xtr, Xva = (torch.from_numpy(std.transform(d.X).astype(np.float32)) for d in (train, val))
    ytr, yva = (torch.from_numpy(d.y.astype(np.int64)) for d in (train, val))
    batches = torch_batches(len(ytr), BATCH, s["epochs"])

    def model():
        layers, n = [], N_FEATURES
        for h in HIDDEN:
            layers += [nn.Linear(n, h, bias=False), nn.BatchNorm1d(h), nn.ReLU()]
            n = h
        return nn.Sequential(*layers, nn.Linear(n, N_CLASSES))

    def objective(trial):
        lr = trial.suggest_float("lr", *LR, log=True)
        torch.manual_seed(trial.number)
        net = model()
        torch_train(net, torch.optim.Adam(net.parameters(), lr=lr), Xtr, ytr, batches)
        net.eval()
        with torch.no_grad():
            out = net(Xva)
        loss = float(F.cross_entropy(out, yva))
        trial.set_user_attr("val_accuracy", float((out.argmax(1) == yva).double().mean()))
        return loss if math.isfinite(loss) else math.inf

    study = optuna.create_study(
        study_name="mnist1d",
        storage=None if journal is None else _journal(journal),
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.optimize(objective, n_trials=n_trials)
    return study


def rows(R: dict, quick: bool, sgemm, stream) -> tuple[list, list]:
    """The table rows and notes of row 8 from the measurements ``R["tune-mnist1d"]``."""
    s = shape(quick)
    got = R["tune-mnist1d"]
    c, p = got["caviar"], got["peer"]
    ct, pt = med(c, "seconds"), med(p, "seconds")
    limit = limit_seconds(s["trials"], s["epochs"], sgemm, stream) if sgemm and stream else None
    share = 100 * limit / ct if limit and ct else None
    ratio = pt / ct if ct and pt else None
    name = f"8. tune {s['trials']} × {s['epochs']} epochs, 40-256-256-10 BN, mnist1d (s)"
    out = [
        Row(
            name,
            fmt(ct, ".2f", " s"),
            fmt(pt, ".2f", " s", missing(p)),
            fmt(ratio, ".2f", "× faster", "—"),
            fmt(share, ".0f", " % limit", "—"),
            ">= 4× and >= 70 %",
            None if ratio is None or share is None else ratio >= 4 and share >= 70,
        )
    ]
    out.append(accuracy_row("8. tune: best validation accuracy", c, p))
    pp = got.get("peer_parallel", [])
    ppt = med(pp, "seconds")
    out.append(
        Row(
            "8. the same tune, peer on one process per core (s)",
            fmt(ct, ".2f", " s"),
            fmt(ppt, ".2f", " s", missing(pp)),
            fmt(None if ct is None or ppt is None else ppt / ct, ".2f", "× faster", "—"),
            "—",
            "Optuna's recipe: JournalStorage, 1 thread each",
            None,
        )
    )
    out.append(accuracy_row("8. tune: best validation accuracy, parallel peer", c, pp))
    for k in s["scales"]:
        t = med(got.get(f"x{k}", []), "seconds")
        lim = limit_seconds(k * s["trials"], s["epochs"], sgemm, stream) if limit else None
        per = None if t is None or ct is None else t / (k * ct)
        out.append(
            Row(
                f"8. the same tune, {k * s['trials']} trials (s)",
                fmt(t, ".2f", " s"),
                "—",
                fmt(per, ".2f", f"× {k}·(row 8)", "—"),
                fmt(None if t is None or not lim else 100 * lim / t, ".0f", " % limit", "—"),
                "linear; share flat or rising",
                None,
            )
        )
    choices = sorted({r.get("population_choice") for r in c if r.get("population_choice")})
    executors = sorted({r.get("executor") for r in c if r.get("executor")})
    of_best = [fmt(med(x, "val_accuracy_of_best_loss"), ".4f", "", missing(x)) for x in (c, p)]
    notes = [
        f"mnist1d tune: limit {fmt(limit, '.2f', ' s', '—')} for {s['trials']} trials "
        f"(6 FLOP/weight/example at the sgemm peak + 28 B/parameter/step at stream); "
        f"caviar's {'; '.join(executors) or 'executor: —'}; population sizes it chose: "
        f"{'; '.join(choices) or '—'}; accuracy of the trial "
        f"with the lowest validation loss: caviar {of_best[0]}, peer {of_best[1]}."
    ]
    return out, notes


if __name__ == "__main__":  # one shard of the parallel peer: shard JOURNAL N SEED [--quick]
    import sys

    _, _, journal, n, seed, *rest = sys.argv
    _optuna_study("--quick" in rest, journal, int(n), int(seed), threads=1)
