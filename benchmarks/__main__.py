"""``python -m benchmarks [--quick] [--only NAME ...] [--reps N] [--out DIR | --write-latest]``:
caviar against its peers.

Every figure comes from a fresh process (``python -m benchmarks.worker WORKLOAD IMPL``, or
the ``caviar`` command itself), caviar and its peer interleaved (A B A B ...), with two
threads for both; the table shows medians over the repetitions (the limits: the best).
It is printed and written to ``latest.md`` and ``latest.json`` in ``--out`` (default
``benchmarks/results/``, which git ignores), so a run never changes the checkout; only
``--write-latest`` (a full run: every row, not ``--quick``) writes the tracked
``benchmarks/latest.md`` and ``latest.json`` that the project README quotes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks import ensemble, mnist1d_tune
from benchmarks.sizes import FLOP_PER_SAMPLE, SIZES, sizes
from benchmarks.table import Row, accuracy_row, fmt, med, missing, ok

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"  # where a run writes unless --write-latest (git ignores it)
ROOT = HERE.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ROWS = (
    "tune", "one-model", "k128", "k32", "adam", "import", "help", "tune-mnist1d", "ensemble"
)  # fmt: skip
NEEDS_LIMITS = {"one-model", "k128", "k32", "adam", "tune-mnist1d"}
WORKER_TIMEOUT = 600
BUSY = 0.25  # cores busy in other processes above which a measurement is repeated
RETRIES = 2
QUIET_WAIT = 15.0  # seconds to wait for a quiet machine before each measurement


# -- running things -----------------------------------------------------------------------
def child_env() -> tuple[dict, list[str]]:
    env = dict(os.environ)
    env.update({v: "2" for v in THREAD_VARS})
    unset = [v for v in UNSET_VARS if env.pop(v, None) is not None]
    return env, unset


ENV, UNSET = child_env()


def caviar_command() -> list[str]:
    """The installed ``caviar`` script next to this Python, else ``python -m caviar.cli``."""
    script = Path(sys.executable).parent / "caviar"
    return [str(script)] if script.exists() else [sys.executable, "-m", "caviar.cli"]


def run_worker(workload: str, impl: str, quick: bool) -> dict:
    argv = [sys.executable, "-m", "benchmarks.worker", workload, impl] + (["--quick"] * quick)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=WORKER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {WORKER_TIMEOUT} s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}", "wall": wall}
    result = json.loads(lines[-1])
    result["wall"] = wall
    if result.get("status") == "error":
        result["stderr_tail"] = proc.stderr.strip().splitlines()[-3:]
    return result


def run_command(argv: list[str]) -> dict:
    """Wall time of a whole command, start to exit, and the cores it and other processes
    kept busy meanwhile."""
    c0, b0 = _children_cpu(), machine_busy_seconds()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    own = _children_cpu() - c0
    other = max(0.0, (machine_busy_seconds() - b0 - own) / seconds)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "error": f"exit {proc.returncode}: {tail}", "seconds": seconds}
    return {"status": "ok", "seconds": seconds, "own_cores": own / seconds, "other_cores": other}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tune_cli(quick: bool) -> dict:
    s = sizes(quick)
    with tempfile.TemporaryDirectory() as tmp:
        argv = caviar_command() + [
            "tune", "--data", "digits", "--trials", str(s["tune_trials"]),
            "--epochs", str(s["tune_epochs"]), "--hidden", "64", "--batch-size", "64",
            "--optimizer", "adam", "--dtype", "float32", "--strategy", "caviar",
            "--study", str(Path(tmp) / "study.db"), "--json",
        ]  # fmt: skip
        return run_command(argv)


def mnist1d_run(scale: int, quick: bool) -> dict:
    """Row 8's whole ``caviar tune`` process at ``scale`` × the trials, with the noise gauge."""
    s = mnist1d_tune.shape(quick)
    c0, b0, t0 = _children_cpu(), machine_busy_seconds(), time.perf_counter()
    r = mnist1d_tune.run_caviar(caviar_command(), ENV, ROOT, scale * s["trials"], s["epochs"])
    seconds = time.perf_counter() - t0
    own = _children_cpu() - c0
    r["other_cores"] = max(0.0, (machine_busy_seconds() - b0 - own) / seconds)
    return r


def plan(rows: list[str], quick: bool) -> dict[str, list[tuple[str, callable]]]:
    """For each row, its runs in the order one repetition makes them (A B ...)."""

    def worker(workload, impl):
        return lambda: run_worker(workload, impl, quick)

    runs = {
        "tune": [
            ("caviar", worker("tune", "caviar")),
            ("peer", worker("tune", "torch")),
            ("peer_parallel", worker("tune", "torch-parallel")),
            ("cli", lambda: tune_cli(quick)),
        ],
        "one-model": [
            ("caviar", worker("one_model", "caviar")),
            ("peer", worker("one_model", "torch")),
        ],
        "k128": [("caviar", worker("k128", "caviar")), ("peer", worker("k128", "torch"))],
        "k32": [("caviar", worker("k32", "caviar")), ("peer", worker("k32", "torch"))],
        "adam": [("caviar", worker("adam", "caviar")), ("peer", worker("adam", "torch"))],
        "import": [("caviar", worker("import", "caviar"))],
        "help": [("caviar", lambda: run_command(caviar_command() + ["--help"]))],
        "ensemble": [("caviar", lambda: ensemble.row_run(quick))],
        "tune-mnist1d": [
            ("caviar", lambda: mnist1d_run(1, quick)),
            ("peer", worker("tune_mnist1d", "torch")),
            ("peer_parallel", worker("tune_mnist1d", "torch-parallel")),
            *(
                (f"x{k}", lambda k=k: mnist1d_run(k, quick))
                for k in mnist1d_tune.shape(quick)["scales"]
            ),
        ],
    }
    return {r: runs[r] for r in rows}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all but idle and iowait) since boot."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def busy_elsewhere(seconds: float = 0.2) -> float:
    """Cores that other processes keep busy now (this one sleeps meanwhile)."""
    try:
        b0, t0 = machine_busy_seconds(), time.perf_counter()
        time.sleep(seconds)
        return (machine_busy_seconds() - b0) / (time.perf_counter() - t0)
    except OSError:
        return 0.0


def source_fingerprint() -> str:
    """A hash of caviar's source files as they are now (the engine may change during a run:
    each measurement records the version it ran)."""
    spec = importlib.util.find_spec("caviar")
    if spec is None or not spec.submodule_search_locations:
        return "caviar not found"
    digest = hashlib.sha1()
    for root in spec.submodule_search_locations:
        for path in sorted(Path(root).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def measured(fn, tag: str) -> dict:
    """One measurement on a quiet machine: wait (up to QUIET_WAIT s) until other processes
    use less than BUSY cores, and repeat (up to RETRIES times) a measurement whose timed
    window saw more than BUSY cores busy elsewhere. The contended attempts are kept."""
    attempts, waited = [], 0.0
    for _ in range(1 + RETRIES):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < QUIET_WAIT and busy_elsewhere() > BUSY:
            time.sleep(0.5)
        waited += time.perf_counter() - t0
        source = source_fingerprint()
        r = fn()
        r["caviar_source"] = source
        attempts.append(r)
        if r.get("other_cores", 0.0) <= BUSY:
            break
        say(f"{tag}: other processes kept {r['other_cores']:.2f} cores busy; measuring again")
    result = dict(attempts[-1], attempts=len(attempts), waited_for_quiet=waited)
    if len(attempts) > 1:
        result["contended_attempts"] = attempts[:-1]
    return result


def measure(rows: list[str], reps: int, quick: bool) -> dict:
    out: dict = {"limits": {"sgemm": [], "stream": []}, "rows": {}}
    if NEEDS_LIMITS & set(rows) or "limits" in rows:
        for rep in range(reps):
            for name in ("sgemm", "stream"):
                tag = f"[limits] {rep + 1}/{reps} {name}"
                r = measured(lambda name=name: run_worker(name, "numpy", quick), tag)
                out["limits"][name].append(r)
                say(f"{tag}: {_brief(r)}")
    for row, runs in plan([r for r in rows if r != "limits"], quick).items():
        got = out["rows"][row] = {label: [] for label, _ in runs}
        for rep in range(reps):
            for label, fn in runs:
                tag = f"[{row}] {rep + 1}/{reps} {label}"
                r = measured(fn, tag)
                got[label].append(r)
                say(f"{tag}: {_brief(r)}")
    return out


def _brief(r: dict) -> str:
    if r.get("status") != "ok":
        return r.get("status", "?") + " " + r.get("error", r.get("missing", ""))
    for key, unit in (
        ("gflops", "GFLOP/s"),
        ("gbs", "GB/s"),
        ("model_steps_per_s", "model-steps/s"),
        ("seconds", "s"),
    ):
        if key in r:
            return f"{r[key]:.4g} {unit}"
    return "ok"


# -- summarising ----------------------------------------------------------------------------
def summarise(data: dict) -> tuple[list[Row], list[str], dict]:
    lim = data["limits"]
    sgemm = max((r["gflops"] for r in ok(lim["sgemm"])), default=None)
    stream = max((r["gbs"] for r in ok(lim["stream"])), default=None)
    limits = {"sgemm_gflops": sgemm, "stream_gbs": stream}
    rows: list[Row] = []
    notes: list[str] = []
    R = data["rows"]

    def pct(x, limit):
        return None if x is None or not limit else 100 * x / limit

    def both(a, b):
        return None if a is None or b is None else a and b

    if "tune" in R:
        c, p, cli = R["tune"]["caviar"], R["tune"]["peer"], R["tune"]["cli"]
        ct, pt, clit = med(c, "seconds"), med(p, "seconds"), med(cli, "seconds")
        ca, pa = med(c, "best_val_accuracy"), med(p, "best_val_accuracy")
        ratio = pt / ct if ct and pt else None
        rows.append(
            Row(
                "1. tune 32 trials × 3 epochs, 64-64-10 BN, digits (s)",
                fmt(ct, ".3f", " s"),
                fmt(pt, ".3f", " s", missing(p)),
                fmt(ratio, ".1f", "× faster", "—"),
                "—",
                ">= 30× faster",
                None if ratio is None else ratio >= 30,
            )
        )
        rows.append(accuracy_row("1. tune: best validation accuracy", c, p))
        pp = R["tune"].get("peer_parallel", [])
        ppt = med(pp, "seconds")
        rows.append(
            Row(
                "1. tune: peer on one process per core (s)",
                fmt(ct, ".3f", " s"),
                fmt(ppt, ".3f", " s", missing(pp)),
                fmt(ppt / ct if ct and ppt else None, ".1f", "× faster", "—"),
                goal="info",
            )
        )
        rows.append(
            Row(
                "1. tune: whole `caviar tune` command (s)",
                fmt(clit, ".3f", " s"),
                fmt(pt, ".3f", " s", missing(p)),
                fmt(pt / clit if clit and pt else None, ".1f", "× faster", "—"),
                goal="info",
            )
        )
        ab = med(c, "val_accuracy_of_best_loss"), med(p, "val_accuracy_of_best_loss")
        notes.append(
            f"tune: best validation accuracy caviar {fmt(ca, '.4f')}, peer "
            f"{fmt(pa, '.4f', '', missing(p))} (max over trials); accuracy of the trial with "
            f"the lowest validation loss: caviar {fmt(ab[0], '.4f')}, peer "
            f"{fmt(ab[1], '.4f', '', missing(p))}; diverged trials: caviar "
            f"{fmt(med(c, 'diverged'), '.0f')}, peer {fmt(med(p, 'diverged'), '.0f', '', '—')}."
        )

    if "one-model" in R:
        c, p = R["one-model"]["caviar"], R["one-model"]["peer"]
        cs, ps = med(c, "samples_per_s"), med(p, "samples_per_s")
        ratio = cs / ps if cs and ps else None
        share = pct(med(c, "gflops"), sgemm)
        rows.append(
            Row(
                "2. one model 784-256-256-10 BN, Adam, batch 256 (samples/s)",
                fmt(cs, ",.0f"),
                fmt(ps, ",.0f", "", missing(p)),
                fmt(ratio, ".2f", "×", "—"),
                fmt(share, ".0f", " % sgemm", "—"),
                ">= 1.3× and >= 75 %",
                both(
                    None if ratio is None else ratio >= 1.3, None if share is None else share >= 75
                ),
            )
        )
        notes.append(
            f"one model: page faults per step caviar {fmt(med(c, 'minflt_per_step'), '.1f')}, "
            f"peer {fmt(med(p, 'minflt_per_step'), '.1f', '', '—')}; peer "
            f"{fmt(pct(med(p, 'gflops'), sgemm), '.0f', ' %', '—')} of the sgemm peak."
        )

    for key, name, goal_ratio in (
        ("k128", "3. K = 128 of that model, batch 256 (model-steps/s)", None),
        ("k32", "4. K = 32, batch 64 (model-steps/s)", 2.0),
    ):
        if key not in R:
            continue
        c, p = R[key]["caviar"], R[key]["peer"]
        cs, ps = med(c, "model_steps_per_s"), med(p, "model_steps_per_s")
        ratio = cs / ps if cs and ps else None
        share = pct(med(c, "gflops"), sgemm)
        if goal_ratio is None:
            goal, met = ">= 75 % of sgemm", None if share is None else share >= 75
        else:
            goal, met = f">= {goal_ratio:g}×", None if ratio is None else ratio >= goal_ratio
        rows.append(
            Row(
                name,
                fmt(cs, ",.1f"),
                fmt(ps, ",.1f", "", missing(p)),
                fmt(ratio, ".2f", "×", "—"),
                fmt(share, ".0f", " % sgemm", "—"),
                goal,
                met,
            )
        )
        notes.append(
            f"{key}: page faults per step caviar {fmt(med(c, 'minflt_per_step'), ',.0f')} "
            f"(a step of all K members), peer {fmt(med(p, 'minflt_per_step'), '.1f', '', '—')} "
            "(one model); peer = PyTorch training the K models one after another "
            "(its per-model step rate)."
        )

    if "adam" in R:
        c, p = R["adam"]["caviar"], R["adam"]["peer"]
        cg, pg = med(c, "gbs"), med(p, "gbs")
        share = pct(cg, stream)
        rows.append(
            Row(
                "5. Adam step, 10^7 float32 parameters (GB/s, 28 B/param)",
                fmt(cg, ".1f", " GB/s"),
                fmt(pg, ".1f", " GB/s", missing(p)),
                fmt(cg / pg if cg and pg else None, ".2f", "×", "—"),
                fmt(share, ".0f", " % stream", "—"),
                ">= 60 % of stream",
                None if share is None else share >= 60,
            )
        )
        variants = ", ".join(
            f"{v} {fmt(med([r['variants'][v] for r in ok(p)], 'gbs'), '.1f', ' GB/s')}"
            for v in (ok(p)[0]["variants"] if ok(p) else [])
        )
        notes.append(
            f"adam: caviar {fmt(med(c, 'ms_per_step'), '.1f', ' ms')}/step, "
            f"{fmt(med(c, 'minflt_per_step'), ',.0f')} page faults/step; torch.optim.Adam: "
            f"{variants or missing(p)}."
        )

    if "import" in R:
        c = R["import"]["caviar"]
        t = med(c, "seconds")
        rows.append(
            Row("6. `import caviar` (in-process)", fmt(t, ".3f", " s"), goal="<= 0.3 s",
                met=None if t is None else t <= 0.3)
        )  # fmt: skip
    if "help" in R:
        t = med(R["help"]["caviar"], "seconds")
        rows.append(
            Row("6. `caviar --help` (whole command)", fmt(t, ".3f", " s"), goal="<= 0.5 s",
                met=None if t is None else t <= 0.5)
        )  # fmt: skip

    if "tune-mnist1d" in R:
        more_rows, more_notes = mnist1d_tune.rows(R, data["quick"], sgemm, stream)
        rows += more_rows
        notes += more_notes
    if "ensemble" in R:
        rows.append(ensemble.summary_row(R, data["quick"]))

    if "k128" in R:
        mem = [r["memory"] for r in ok(R["k128"]["caviar"])]
        grow, need = med(mem, "peak_growth_mb"), med(mem, "needed_mb")
        ratio = grow / need if grow and need else None
        rows.append(
            Row(
                "7. peak memory growth of the K = 128 run (MiB)",
                fmt(grow, ",.0f", " MiB"),
                fmt(need, ",.0f", " MiB needed", "—"),
                fmt(ratio, ".3f", "× needed", "—"),
                "—",
                "<= 1.3× needed",
                None if ratio is None else ratio <= 1.3,
            )
        )
        if mem:
            m = mem[0]
            notes.append(
                "memory: needed = 4 B · (4·K·P + 4·K·B·Σ n_l) with K = 128, B = 256, "
                f"P = {m['params_per_member']:,} parameters per member, Σ n_l = "
                f"{sum(SIZES[1:])} (layers after the input): parameters, gradients, Adam v and "
                "s, plus four (K, B, n_l) buffers per layer (dense output, normalised values, "
                f"activation, gradient) = {m['needed_params_mb']:,.0f} + "
                f"{m['needed_activations_mb']:,.0f} MiB. Growth = VmHWM after training − VmRSS "
                f"after imports and data ({m['rss_after_data_mb']:,.0f} MiB); peak reset through "
                f"/proc/self/clear_refs: {m['peak_reset']}."
            )
    gauge = []
    for row, runs in R.items():
        parts = [
            f"{label} {med(rs, 'own_cores'):.2f}/{med(rs, 'other_cores'):.2f}"
            for label, rs in runs.items()
            if med(rs, "own_cores") is not None
        ]
        if parts:
            gauge.append(f"{row}: " + ", ".join(parts))
    if gauge:
        notes.append(
            "cores busy during the timed windows, this process / all other processes (from "
            "/proc/stat; other > 0 means the figure was measured on a shared, busier machine): "
            + "; ".join(gauge)
            + "."
        )
    mid = {
        row: sorted({m for r in runs.get("caviar", []) for m in r.get("imported_while_timed", [])})
        for row, runs in R.items()
    }
    mid = {row: mods for row, mods in mid.items() if mods}
    if mid:
        notes.append(
            "packages caviar first imported inside a timed window (their import is in the figure): "
            + "; ".join(f"{row}: {', '.join(mods)}" for row, mods in mid.items())
            + "."
        )
    everything = [r for runs in R.values() for rs in runs.values() for r in rs]
    repeated = [r for r in everything if r.get("attempts", 1) > 1]
    still = [r for r in everything if r.get("other_cores", 0.0) > BUSY]
    waited = sum(r.get("waited_for_quiet", 0.0) for r in everything)
    notes.append(
        f"contention: {len(repeated)} of {len(everything)} measurements were repeated because "
        f"other processes kept more than {BUSY} cores busy during them; {len(still)} stayed "
        f"contended after {RETRIES} repeats (kept, and visible in latest.json); "
        f"{waited:.0f} s spent waiting for a quiet machine."
    )
    if sgemm is not None:
        per = ok(lim["sgemm"])[0]["per_size"]
        best = {n: max(r["per_size"][n] for r in ok(lim["sgemm"])) for n in per}
        notes.append(
            "limits (best over processes): sgemm "
            + ", ".join(f"{n}³ {v:.0f}" for n, v in best.items())
            + " GFLOP/s; stream (2 threads, read + write bytes) "
            + ", ".join(
                f"{k} {max(r['per_kernel'][k] for r in ok(lim['stream'])):.1f}"
                for k in ok(lim["stream"])[0]["per_kernel"]
            )
            + f" GB/s; model FLOP per sample 6 · {FLOP_PER_SAMPLE // 6:,} = {FLOP_PER_SAMPLE:,}."
        )
    return rows, notes, limits


# -- the header -------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                 if ln.startswith("model name")), "unknown CPU")  # fmt: skip
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines()
                  if ln.startswith("flags")), [])  # fmt: skip
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else ""
    return f"{name}, {os.cpu_count()} cores{', ' + isa if isa else ''}"


def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def caviar_revision() -> str:
    """caviar's version and the checkout's commit (read-only git), ``+ changes`` if dirty."""
    ver = version("caviar-nn")
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return f"caviar {ver}"
    return f"caviar {ver} at {head or '?'}{' + uncommitted changes in src/' if dirty else ''}"


def header(data: dict, limits: dict, reps: int, quick: bool) -> list[str]:
    blas = next((r["blas"] for r in ok(data["limits"]["sgemm"]) if r.get("blas")), [])
    ob = next((b for b in blas if b["internal_api"] == "openblas"), None)
    kernel = (
        f"OpenBLAS {ob['version']} kernel {ob['architecture']}, {ob['num_threads']} threads"
        if ob
        else "BLAS kernel unknown (threadpoolctl not installed or limits not run)"
    )
    sg, st = limits["sgemm_gflops"], limits["stream_gbs"]
    return [
        f"caviar benchmarks, {data['date']} ({'quick, ' if quick else ''}{reps} repetitions, "
        f"medians; each in its own process, caviar and peer interleaved); {data['revision']}",
        f"CPU: {cpu_model()}; load average before {data['load_before']}, after "
        f"{data['load_after']}",
        f"numpy {version('numpy')} ({kernel}), torch {version('torch')}, optuna "
        f"{version('optuna')}, Python {platform.python_version()}; threads: "
        f"{', '.join(f'{v}=2' for v in THREAD_VARS)}, torch.set_num_threads(2); unset: "
        f"{', '.join(data['unset']) or 'none were set'}",
        f"limits: sgemm peak {fmt(sg, '.0f', ' GFLOP/s', 'not measured')}, two-thread stream "
        f"{fmt(st, '.1f', ' GB/s', 'not measured')}",
    ] + _source_warning(data)


def _source_warning(data: dict) -> list[str]:
    """A line when caviar's source changed between measurements of this run."""
    seen: dict[str, int] = {}
    for runs in data["rows"].values():
        for results in runs.values():
            for r in results:
                seen[r.get("caviar_source", "?")] = seen.get(r.get("caviar_source", "?"), 0) + 1
    if len(seen) <= 1:
        return []
    counts = ", ".join(f"{k}: {v}" for k, v in seen.items())
    return [
        f"WARNING: caviar's source changed during this run ({len(seen)} versions; measurements "
        f"per version {counts}; revision at start {data['revision']}, at end "
        f"{data.get('revision_after', '?')}): rows may compare different engines"
    ]


COLUMNS = ("workload", "caviar", "peer", "ratio", "% of limit", "goal", "met?")


def markdown(head: list[str], rows: list[Row], notes: list[str]) -> str:
    lines = [f"{h}  " for h in head] + ["", "| " + " | ".join(COLUMNS) + " |"]
    lines.append("|" + "|".join(" --- " for _ in COLUMNS) + "|")
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r.as_list()) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def show(head: list[str], rows: list[Row], notes: list[str]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(markdown(head, rows, notes))
        return
    console = Console(width=shutil.get_terminal_size((160, 40)).columns, highlight=False)
    table = Table(title="\n".join(head), title_justify="left")
    for i, col in enumerate(COLUMNS):
        table.add_column(col, justify="left" if i in (0, 5) else "right", overflow="fold")
    for r in rows:
        cells = r.as_list()
        cells[-1] = {"yes": "[green]yes[/]", "NO": "[bold red]NO[/]"}.get(cells[-1], cells[-1])
        table.add_row(*cells)
    console.print(table)
    for n in notes:
        console.print(f"- {n}", soft_wrap=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 3 repetitions")
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=(*ROWS, "limits", "memory"),
        help=f"rows to run: {', '.join(ROWS)}, limits (memory comes with k128)",
    )
    ap.add_argument("--reps", type=int, help="repetitions per figure (default 5, --quick 3)")
    ap.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        metavar="DIR",
        help="folder for latest.md and latest.json (default: benchmarks/results, untracked)",
    )
    ap.add_argument(
        "--write-latest",
        action="store_true",
        help="write the tracked benchmarks/latest.md and latest.json (a full run only)",
    )
    args = ap.parse_args(argv)
    if args.write_latest and (args.quick or args.only):
        ap.error("--write-latest replaces the tracked full table: run every row, without --quick")
    out = HERE if args.write_latest else args.out
    out.mkdir(parents=True, exist_ok=True)
    reps = args.reps or (3 if args.quick else 5)
    rows = [("k128" if r == "memory" else r) for r in (args.only or ROWS)]
    rows = list(dict.fromkeys(rows))
    t0 = time.perf_counter()
    data = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": loadavg(),
        "revision": caviar_revision(),
        "unset": UNSET,
        "quick": args.quick,
        "reps": reps,
    }
    data.update(measure(rows, reps, args.quick))
    data["load_after"] = loadavg()
    data["revision_after"] = caviar_revision()
    data["seconds"] = time.perf_counter() - t0
    (out / "latest.json").write_text(json.dumps(data, indent=1) + "\n")  # raw, in case
    table, notes, limits = summarise(data)
    head = header(data, limits, reps, args.quick)
    show(head, table, notes)
    (out / "latest.md").write_text(markdown(head, table, notes))
    data.update(
        limits_summary=limits,
        header=head,
        table=[dict(zip(COLUMNS, r.as_list(), strict=True)) for r in table],
        notes=notes,
    )
    (out / "latest.json").write_text(json.dumps(data, indent=1) + "\n")
    say(f"wrote {out / 'latest.md'} and {out / 'latest.json'} in {data['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
