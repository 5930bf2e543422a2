"""One measurement in this fresh process: ``python -m benchmarks.worker WORKLOAD IMPL [--quick]``.

Prints one JSON line on standard output: the figures, or ``{"status": "not installed"}``
when a peer package is missing, or ``{"status": "error", ...}``. Only the standard library
is imported at module level, so the ``import`` workload times ``import caviar`` from cold.

The runner (``python -m benchmarks``) sets the thread counts in the environment; the torch
workloads also call ``torch.set_num_threads(2)``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

from benchmarks.sizes import FLOP_PER_SAMPLE, SIZES, sizes

THREADS = 2


# -- process measurements ---------------------------------------------------------------
def minflt() -> int:
    """Minor page faults of this process so far (all threads)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def cpu_snapshot() -> tuple[float, int, int, int]:
    """``(time, busy ticks of the whole machine, ticks of this process, minor faults)``."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])  # utime + stime, all threads
    return time.perf_counter(), busy, own, minflt()


def window(a, b, steps: int = 1) -> dict:
    """What happened between two :func:`cpu_snapshot` s: seconds, the cores this process
    kept busy, the cores *other* processes kept busy (a noise gauge), faults per step."""
    seconds = b[0] - a[0]
    tck = os.sysconf("SC_CLK_TCK")
    return {
        "seconds": seconds,
        "own_cores": (b[2] - a[2]) / tck / seconds,
        "other_cores": max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / tck / seconds),
        "minflt_per_step": (b[3] - a[3]) / steps,
    }


def proc_status_kib(key: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux: write 5 to ``/proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def synthetic(n: int, seed: int = 0, d: int = SIZES[0], C: int = SIZES[-1]):
    """``n`` examples of ``d`` (784) standard-normal float32 features, labels ``argmax(X W)``
    for a random ``W (d, C)``. The same seed gives the same rows whatever ``n`` is."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    W = np.random.default_rng(seed + 1).standard_normal((d, C), dtype=np.float32)
    y = np.argmax(X @ W, axis=1)
    return X, y


# -- limits -----------------------------------------------------------------------------
def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: d.get(k) for k in keys} for d in threadpool_info()]


def limit_sgemm(s: dict) -> dict:
    """Best GFLOP/s of ``np.matmul`` on float32 square matrices (2 n³ flops)."""
    import numpy as np

    rng = np.random.default_rng(0)
    per_size = {}
    for n in s["sgemm_sizes"]:
        A = rng.standard_normal((n, n), dtype=np.float32)
        B = rng.standard_normal((n, n), dtype=np.float32)
        C = np.empty((n, n), dtype=np.float32)
        np.matmul(A, B, out=C)  # warm
        best = min(
            _timed(lambda A=A, B=B, C=C: np.matmul(A, B, out=C)) for _ in range(s["sgemm_repeats"])
        )
        per_size[str(n)] = 2 * n**3 / best / 1e9
    return {"gflops": max(per_size.values()), "per_size": per_size, "blas": blas_info()}


def limit_stream(s: dict) -> dict:
    """Best GB/s of two threads, each running one NumPy ufunc over its half of the arrays
    (the GIL is released inside large ufuncs). Bytes counted: reads plus writes.

    Out-of-place kernels (``c = a + b``, a copy) also read every destination line before
    writing it (write-allocate), traffic this count does not see, so they understate the
    bandwidth; in-place kernels (``a += b``, ``a *= 1``) do not. The limit is the best of all.
    """
    import threading

    import numpy as np

    n = s["stream_floats"]
    a, b, c = (np.full(n, v, dtype=np.float32) for v in (1.0, 2.0, 0.0))
    halves = [slice(0, n // 2), slice(n // 2, n)]
    one = np.float32(1.0)
    kernels = {  # name: (kernel over a slice, bytes read + written over all of it)
        "add": (lambda sl: np.add(a[sl], b[sl], out=c[sl]), 3 * 4 * n),
        "copy": (lambda sl: np.copyto(c[sl], a[sl]), 2 * 4 * n),
        # in place: the written lines were just read, no hidden write-allocate read
        "add_inplace": (lambda sl: np.add(a[sl], b[sl], out=a[sl]), 3 * 4 * n),
        "scale_inplace": (lambda sl: np.multiply(a[sl], one, out=a[sl]), 2 * 4 * n),
    }
    best = {}
    for name, (kernel, nbytes) in kernels.items():
        kernel(slice(0, n))  # warm
        times = []
        for _ in range(s["stream_repeats"]):
            go = threading.Barrier(3)

            def work(sl, kernel=kernel, go=go):
                go.wait()
                kernel(sl)

            threads = [threading.Thread(target=work, args=(sl,)) for sl in halves]
            for t in threads:
                t.start()
            go.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            times.append(time.perf_counter() - t0)
        best[name] = nbytes / min(times) / 1e9
    return {"gbs": max(best.values()), "per_kernel": best, "array_mb": 4 * n / 1e6}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- row 1: tuning ----------------------------------------------------------------------
def caviar_tune(trials: int, epochs: int) -> tuple[list, dict]:
    """Row 1's caviar tune: ``trials`` trials × ``epochs`` epochs of 64-64-10 with batch
    norm and Adam on digits, the notes' space (lr, β1, β2), seed 0. Returns the trials and
    the measured window (opening the study and running the tune; data and imports before)."""
    import tempfile
    from pathlib import Path

    import caviar.data
    from caviar.config import TrainConfig
    from caviar.tuning import notes_space
    from caviar.tuning.tuner import Tuner, TuneSettings, open_study

    ds = caviar.data.load("digits")
    base = TrainConfig(hidden=(64,), batchnorm=True, optimizer="adam", batch_size=64)
    base = base.replace(epochs=epochs, dtype="float32")
    settings = TuneSettings(
        data="digits",
        trials=trials,
        space=notes_space().to_dict(),
        base=base.to_dict(),
        strategy="caviar",
        seed=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        a = cpu_snapshot()
        study, settings = open_study(Path(tmp) / "study.db", settings, resume=False)
        with study:
            done = Tuner(study, settings, ds).run()
        w = window(a, cpu_snapshot())
    return done, w


def tune_caviar(s: dict) -> dict:
    from caviar.tuning.study import best_trial

    trials, w = caviar_tune(s["tune_trials"], s["tune_epochs"])
    done = [t for t in trials if t.status == "finished" and t.val_accuracy is not None]
    best = best_trial(trials)
    return {
        **w,
        "best_val_accuracy": max(t.val_accuracy for t in done) if done else None,
        "val_accuracy_of_best_loss": None if best is None else best.val_accuracy,
        "best_val_loss": None if best is None else best.val_loss,
        "finished": len(done),
        "diverged": sum(t.status == "diverged" for t in trials),
    }


def torch_digits():
    """Digits split and standardised as the tuner does it (validation 0.1, test 0.2, seed
    0), as tensors ``Xtr, ytr, Xva, yva`` (float32, int64)."""
    import numpy as np
    import torch

    import caviar.data
    from caviar.data import Standardizer, train_val_test_split

    train, val, _ = train_val_test_split(caviar.data.load("digits"), 0.1, 0.2, seed=0)
    std = Standardizer.fit(train.X)
    return (
        torch.from_numpy(std.transform(train.X).astype(np.float32)),
        torch.from_numpy(train.y.astype(np.int64)),
        torch.from_numpy(std.transform(val.X).astype(np.float32)),
        torch.from_numpy(val.y.astype(np.int64)),
    )


def torch_tune_model(d: int, C: int):
    """The peer's 64-64-10 model: Linear (no bias) → BatchNorm1d → ReLU → Linear."""
    from torch import nn

    layers = [nn.Linear(d, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, C)]
    return nn.Sequential(*layers)


def torch_batches(n: int, batch: int, epochs: int) -> list:
    """caviar's mini-batches as index tensors, every epoch in order: same orders, same sizes."""
    import torch

    from caviar.train.batches import batch_bounds, epoch_order

    orders = [torch.from_numpy(epoch_order(n, 0, e)) for e in range(epochs)]
    return [order[a:b] for order in orders for a, b in batch_bounds(n, batch)]


def torch_train(model, opt, X, y, batches) -> None:
    """One Adam step per mini-batch of ``batches``, in training mode."""
    import torch.nn.functional as F

    model.train()
    for idx in batches:
        loss = F.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def tune_torch(s: dict) -> dict:
    """Row 1's peer in this process: Optuna's RandomSampler, one PyTorch model per trial."""
    a = cpu_snapshot()
    study = _tune_torch_study(s, None, s["tune_trials"], seed=0, threads=THREADS)
    return {**window(a, cpu_snapshot()), **_tune_figures(study)}


def tune_torch_parallel(s: dict) -> dict:
    """Row 1's peer as Optuna's recipe for parallel trials runs it: one single-threaded
    process per core sharing a JournalStorage file, a RandomSampler seed and a share of
    the trials each; wall time from the first start to the last exit (imports included,
    as a user waits for them)."""
    import subprocess
    import tempfile

    import optuna
    from optuna.storages.journal import JournalFileBackend

    trials = s["tune_trials"]
    with tempfile.TemporaryDirectory() as tmp:
        journal = str(Path(tmp) / "journal.log")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}  # fmt: skip
        share = [trials // THREADS + (i < trials % THREADS) for i in range(THREADS)]
        code = "import sys; from benchmarks.worker import tune_shard; tune_shard(*sys.argv[1:])"
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    code,
                    journal,
                    str(n),
                    str(i),
                    "quick" if s["quick"] else "full",
                ],
                env=env,
            )  # fmt: skip
            for i, n in enumerate(share)
        ]
        codes = [p.wait() for p in procs]
        seconds = time.perf_counter() - t0
        if any(codes):
            raise RuntimeError(f"a shard of the parallel peer failed: exit codes {codes}")
        storage = optuna.storages.JournalStorage(JournalFileBackend(journal))
        figures = _tune_figures(optuna.load_study(study_name="tune", storage=storage))
    return {"seconds": seconds, "processes": THREADS, **figures}


def tune_shard(journal: str, n: str, seed: str, size: str) -> None:
    """One process of :func:`tune_torch_parallel`: ``n`` trials into the shared study."""
    _tune_torch_study(sizes(size == "quick"), journal, int(n), int(seed), threads=1)


def _tune_torch_study(s: dict, journal: str | None, n_trials: int, seed: int, threads: int):
    import math

    import optuna
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    Xtr, ytr, Xva, yva = torch_digits()
    batches = torch_batches(len(ytr), 64, s["tune_epochs"])

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        b1 = 1 - trial.suggest_float("one_minus_beta1", 1e-3, 1e-1, log=True)
        b2 = 1 - trial.suggest_float("one_minus_beta2", 1e-4, 1e-2, log=True)
        torch.manual_seed(trial.number)
        model = torch_tune_model(Xtr.shape[1], int(ytr.max()) + 1)
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(b1, b2))
        torch_train(model, opt, Xtr, ytr, batches)
        model.eval()
        with torch.no_grad():
            out = model(Xva)
            val_loss = float(F.cross_entropy(out, yva))
            acc = float((out.argmax(1) == yva).double().mean())
        finite = math.isfinite(val_loss)
        trial.set_user_attr("val_accuracy", acc if finite else None)
        return val_loss if finite else math.inf

    storage = None
    if journal is not None:
        from optuna.storages.journal import JournalFileBackend

        storage = optuna.storages.JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(
        study_name="tune",
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.optimize(objective, n_trials=n_trials)
    return study


def _tune_figures(study) -> dict:
    accs = [t.user_attrs.get("val_accuracy") for t in study.trials]
    accs = [a for a in accs if a is not None]
    return {
        "best_val_accuracy": max(accs) if accs else None,
        "val_accuracy_of_best_loss": study.best_trial.user_attrs.get("val_accuracy"),
        "best_val_loss": study.best_value,
        "finished": len(accs),
        "diverged": len(study.trials) - len(accs),
    }


# -- rows 2-4 and 7: training throughput ------------------------------------------------
def train_caviar(K: int, batch: int, n: int, epochs: int, warmup: int, memory=False) -> dict:
    """``caviar.fit`` of a K-member 784-256-256-10 population over ``n`` synthetic examples.

    Timed between the ``should_stop`` calls that fit makes after every step but an epoch's
    last: from after the first step to after the next-to-last, ``epochs · batches − 2`` steps.
    """
    import numpy as np

    import caviar
    from caviar.train.batches import batch_bounds

    X, y = synthetic(n)
    rss0 = proc_status_kib("VmRSS")
    peak_reset = reset_peak_rss()
    net = caviar.Network(list(SIZES), K=K)
    lr = np.geomspace(1e-4, 1e-2, K) if K > 1 else 1e-3
    opt = caviar.Adam(net.params)
    w = max(2, warmup) * batch
    caviar.fit(net, opt, X[:w], y[:w], epochs=1, schedule=lr, batch_size=batch)
    # fit asks should_stop() after every step but an epoch's last: the first call comes after
    # step 1, the last after step epochs · n_batches - 1. The optimizer's step count says
    # which call is which, so only those two read /proc.
    span = epochs * len(batch_bounds(n, batch)) - 2
    snaps, modules = [], []

    def tick() -> bool:
        done = int(opt.t.max())
        if not snaps or done - snaps[0][1] >= span:
            snaps.append((cpu_snapshot(), done))
            modules.append(set(sys.modules))
        return False

    caviar.fit(net, opt, X, y, epochs=epochs, schedule=lr, batch_size=batch, should_stop=tick)
    steps = snaps[-1][1] - snaps[0][1]
    top = [{m.split(".")[0] for m in mods} for mods in (modules[0], modules[-1])]
    stdlib = getattr(sys, "stdlib_module_names", set())
    imported = sorted(m for m in top[1] - top[0] if m not in stdlib and not m.startswith("_"))
    w = window(snaps[0][0], snaps[-1][0], steps)
    seconds = w["seconds"]
    out = {
        "K": K,
        "batch": batch,
        "steps": steps,
        **w,
        "samples_per_s": batch * steps / seconds,  # per member
        "model_steps_per_s": K * steps / seconds,
        "gflops": K * batch * steps * FLOP_PER_SAMPLE / seconds / 1e9,
        "imported_while_timed": imported,  # packages the engine loaded mid-run
    }
    if memory:
        P = sum(p.size // K for p in net.params)
        out["memory"] = {
            "rss_after_data_mb": rss0 / 1024,
            "peak_growth_mb": (proc_status_kib("VmHWM") - rss0) / 1024,
            "peak_reset": peak_reset,
            "params_per_member": P,
            "needed_mb": needed_bytes(K, batch, P) / 2**20,
            "needed_params_mb": 4 * 4 * K * P / 2**20,
            "needed_activations_mb": 4 * 4 * K * batch * sum(SIZES[1:]) / 2**20,
        }
    return out


def needed_bytes(K: int, B: int, P: int) -> int:
    """The bytes a K-member population must hold, float32 (4 bytes)::

    4 · ( 4 · K · P                      parameters, gradients, Adam's v and s
        + 4 · K · B · Σ_{l≥1} n_l )      per layer: dense output, normalised values,
                                         activation output, gradient
    """
    return 4 * (4 * K * P + 4 * K * B * sum(SIZES[1:]))


def torch_model():
    from torch import nn

    n0, h1, h2, c = SIZES
    return nn.Sequential(
        nn.Linear(n0, h1, bias=False),
        nn.BatchNorm1d(h1),
        nn.ReLU(),
        nn.Linear(h1, h2, bias=False),
        nn.BatchNorm1d(h2),
        nn.ReLU(),
        nn.Linear(h2, c),
    )


def train_torch(batch: int, n: int, epochs: int, warmup: int, max_steps=None) -> dict:
    """PyTorch eager on the same mini-batches as :func:`train_caviar` (caviar's epoch
    orders and batch bounds), ``warmup`` steps first, then timed."""
    import torch
    import torch.nn.functional as F

    from caviar.train.batches import batch_bounds, epoch_order

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    X, y = synthetic(n)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype("int64"))
    bounds = batch_bounds(n, batch)
    plan = [
        torch.from_numpy(order[a:b])
        for e in range(epochs)
        for order in [epoch_order(n, 0, e)]
        for a, b in bounds
    ]
    plan = plan[:max_steps] if max_steps else plan
    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xb = torch.empty((batch, SIZES[0]), dtype=torch.float32)
    yb = torch.empty(batch, dtype=torch.int64)
    model.train()

    def step(idx) -> float:
        x = torch.index_select(Xt, 0, idx, out=xb[: len(idx)])
        t = torch.index_select(yt, 0, idx, out=yb[: len(idx)])
        loss = F.cross_entropy(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for idx in plan[:warmup]:
        step(idx)
    a = cpu_snapshot()
    total = 0.0
    for idx in plan:
        total += step(idx) * len(idx)
    steps = len(plan)
    w = window(a, cpu_snapshot(), steps)
    seconds = w["seconds"]
    return {
        "batch": batch,
        "steps": steps,
        **w,
        "samples_per_s": batch * steps / seconds,
        "model_steps_per_s": steps / seconds,
        "gflops": batch * steps * FLOP_PER_SAMPLE / seconds / 1e9,
        "threads": torch.get_num_threads(),
    }


def one_model(impl: str, s: dict) -> dict:
    n, e, w = s["one_model_samples"], s["one_model_epochs"], s["warmup_steps"]
    if impl == "caviar":
        return train_caviar(1, 256, n, e, w)
    return train_torch(256, n, e, w)


def k128(impl: str, s: dict) -> dict:
    if impl == "caviar":
        return train_caviar(128, 256, s["k128_steps"] * 256, 1, 2, memory=True)
    return train_torch(256, s["one_model_samples"], 1, s["warmup_steps"], s["torch_steps_256"])


def k32(impl: str, s: dict) -> dict:
    n = s["k32_steps"] * 64
    if impl == "caviar":
        return train_caviar(32, 64, n, 1, s["warmup_steps"])
    n = s["torch_steps_64"] * 64
    return train_torch(64, n, 1, s["warmup_steps"])


# -- row 5: Adam ------------------------------------------------------------------------
ADAM_N = 10_000_000
ADAM_BYTES = 28  # read p, g, v, s; write p, v, s (float32)


def adam(impl: str, s: dict) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((1, ADAM_N), dtype=np.float32)
    g0 = rng.standard_normal((1, ADAM_N), dtype=np.float32)
    steps, warm = s["adam_steps"], 3
    if impl == "caviar":
        import caviar

        opt = caviar.Adam([p0])
        return _time_adam(lambda: opt.step([g0], 1e-3), steps, warm)
    import torch

    torch.set_num_threads(THREADS)
    variants = {"default": {}, "foreach=False": {"foreach": False}, "fused=True": {"fused": True}}
    out = {}
    for name, kwargs in variants.items():
        p = torch.nn.Parameter(torch.from_numpy(p0.copy()))
        p.grad = torch.from_numpy(g0)
        opt = torch.optim.Adam([p], lr=1e-3, **kwargs)
        out[name] = _time_adam(opt.step, steps, warm)
    return {**out["default"], "variants": out}


def _time_adam(step, steps: int, warm: int) -> dict:
    for _ in range(warm):
        step()
    a = cpu_snapshot()
    for _ in range(steps):
        step()
    w = window(a, cpu_snapshot(), steps)
    return {
        "status": "ok",
        "steps": steps,
        **w,
        "ms_per_step": 1e3 * w["seconds"] / steps,
        "gbs": ADAM_BYTES * ADAM_N * steps / w["seconds"] / 1e9,
    }


# -- row 6: start-up --------------------------------------------------------------------
def import_caviar(s: dict) -> dict:
    loaded = set(sys.modules)
    t0 = time.perf_counter()
    import caviar  # noqa: F401

    seconds = time.perf_counter() - t0
    new = set(sys.modules) - loaded
    return {
        "seconds": seconds,
        "modules": len(new),
        "heavy": sorted(m for m in ("sklearn", "scipy", "rich", "click") if m in new),
    }


# -- dispatch ---------------------------------------------------------------------------
def _limits(fn):
    return lambda impl, s: fn(s)


WORKLOADS = {
    "sgemm": ({"numpy"}, _limits(limit_sgemm)),
    "stream": ({"numpy"}, _limits(limit_stream)),
    "tune": (
        {"caviar", "torch", "torch-parallel"},
        lambda impl, s: {
            "caviar": tune_caviar,
            "torch": tune_torch,
            "torch-parallel": tune_torch_parallel,
        }[impl](s),
    ),
    "one_model": ({"caviar", "torch"}, one_model),
    "k128": ({"caviar", "torch"}, k128),
    "k32": ({"caviar", "torch"}, k32),
    "adam": ({"caviar", "torch"}, adam),
    "import": ({"caviar"}, _limits(import_caviar)),
    "tune_mnist1d": ({"torch", "torch-parallel"}, lambda impl, s: _mnist1d_torch(s, impl)),
}


def _mnist1d_torch(s: dict, impl: str) -> dict:
    from benchmarks import mnist1d_tune

    if impl == "torch-parallel":
        return mnist1d_tune.tune_torch_parallel(s["quick"])
    return mnist1d_tune.tune_torch(s["quick"])


PEER_PACKAGES = {"torch", "optuna", "threadpoolctl"}


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    quick = "--quick" in argv
    if len(args) != 2 or args[0] not in WORKLOADS or args[1] not in WORKLOADS[args[0]][0]:
        choices = {w: sorted(impls) for w, (impls, _) in WORKLOADS.items()}
        print(
            f"usage: python -m benchmarks.worker WORKLOAD IMPL [--quick]; {choices}",
            file=sys.stderr,
        )
        return 2
    workload, impl = args
    t0 = time.perf_counter()
    try:
        result = {"status": "ok", **WORKLOADS[workload][1](impl, sizes(quick))}
    except ImportError as e:
        if e.name and e.name.split(".")[0] in PEER_PACKAGES:
            result = {"status": "not installed", "missing": e.name.split(".")[0]}
        else:
            result = {"status": "error", "error": f"{type(e).__name__}: {e}"}
            traceback.print_exc()
    except Exception as e:  # report, don't crash the run
        result = {"status": "error", "error": f"{type(e).__name__}: {e}"}
        traceback.print_exc()
    result.update(workload=workload, impl=impl, pid=os.getpid())
    result["process_seconds"] = time.perf_counter() - t0
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
