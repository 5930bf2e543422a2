"""Executors: the same trial results wherever populations train (in process, local
processes, a two-node Ray cluster on 127.0.0.1), with halving and rounds; lost workers
retried a bounded number of times; a killed driver resumed; every trial written once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from caviar import backend
from caviar.data import load
from caviar.errors import InvalidArgument
from caviar.tuning.executors import make_executor
from caviar.tuning.executors.processes import ProcessesExecutor
from caviar.tuning.executors.task import Task
from caviar.tuning.study import Study
from caviar.tuning.tuner import Reporter, Tuner, TuneSettings, open_study
from tests.studies import trial_numbers, wait_for_finished

SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 1e-1},
    "beta1": {"dist": "one_minus_log", "low": 0.8, "high": 0.999},
}
# float64 and small networks: the NumPy path, so results compare to 1e-12 (in fact equal)
BASE = {"hidden": [16], "epochs": 3, "batch_size": 64, "dtype": "float64"}
SLOW = {**BASE, "hidden": [64, 64]}  # long enough (0.3 s a trial) to kill something mid-way
KINDS = {
    "plain": {},
    "halving": {"halving": 2.0, "trials": 9},
    "halving-recycled": {"halving": 2.0, "trials": 9, "max_population": 2},  # rows change hands
    "rounds": {"rounds": 2},
    "pbt": {"pbt": True, "pbt_interval": 1},  # 2 slots: 2 lanes that copy across
}


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def _tune(path, data, executor="local", **kw):
    settings = TuneSettings(
        data="digits",
        trials=kw.pop("trials", 8),
        space=kw.pop("space", SPACE),
        base=kw.pop("base", BASE),
        strategy="caviar",
        **kw,
    )
    study, settings = open_study(path, settings, resume=False)
    with study:
        Tuner(study, settings, data, executor=executor).run()
    return _snapshot(path)


def _snapshot(path) -> dict:
    """Every trial of the study by (round, number): config, status, results, metrics; and
    the lineage of population-based training under ``"lineage"``."""
    with Study(path, readonly=True) as s:
        lineage = s.lineage()
    return trial_numbers(path, key=lambda t: (t.round, t.number)) | {"lineage": lineage}


def assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    assert got["lineage"] == want["lineage"]
    for key in want.keys() - {"lineage"}:
        a, b = got[key], want[key]
        assert a[:2] == b[:2] and a[5:7] == b[5:7], key  # config, status, epochs, diverged
        for x, y in zip(a[2:5], b[2:5], strict=True):
            assert (x is None and y is None) or abs(x - y) <= 1e-12 * max(1, abs(y)), key
        assert len(a[7]) == len(b[7]), key
        for m, n in zip(a[7], b[7], strict=True):
            for name in ("train_loss", "val_loss", "val_accuracy", "lr"):
                x, y = m[name], n[name]
                assert (x is None and y is None) or abs(x - y) <= 1e-12 * max(1, abs(y))


def assert_written_once(path, trials: int, epochs: int | None = None) -> None:
    """Every trial is in the study once, final; a finished one has one metrics row per
    epoch (``Study.finish`` refuses a second write, so a run that completes wrote each
    trial once)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT id, status, epochs FROM trials").fetchall()
        assert len(rows) == trials and len({r[0] for r in rows}) == trials
        assert all(status in ("finished", "diverged", "pruned") for _, status, _ in rows)
        for trial_id, _, n in rows:
            count = db.execute("SELECT COUNT(*) FROM metrics WHERE trial = ?", (trial_id,))
            assert count.fetchone()[0] == n
            if epochs is not None:
                assert n == epochs


@pytest.fixture(scope="module")
def local_results(digits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    return {k: _tune(folder / f"{k}.db", digits, **kw) for k, kw in KINDS.items()}


# -- threads -------------------------------------------------------------------------------
def test_caviar_threads_is_read_checked_and_set(monkeypatch):
    monkeypatch.setenv("CAVIAR_THREADS", "3")
    assert backend.threads_setting() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("CAVIAR_THREADS", bad)
        with pytest.raises(InvalidArgument, match="CAVIAR_THREADS="):
            backend.threads_setting()
    monkeypatch.setattr(backend, "THREADS", None)
    monkeypatch.setenv("CAVIAR_THREADS", "1")
    assert backend.thread_count() == 1
    backend.set_threads(3)
    assert backend.thread_count() == 3 and backend.pool()._max_workers == 3
    seen = set()
    backend.distribute(lambda i, w: seen.add(w), 30, parallel=True)
    assert seen <= {0, 1, 2}
    with pytest.raises(InvalidArgument, match="'threads'"):
        backend.set_threads(0)


def test_the_optimizer_reads_the_thread_count_at_use(monkeypatch):
    """Set after the optimizer exists, the count still applies (not bound at import)."""
    from caviar.optim import Adam, base

    monkeypatch.setattr(base, "PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(base, "BLOCK_BYTES", 8 * 64)
    monkeypatch.setattr(backend, "THREADS", 1)
    rng = np.random.default_rng(0)
    p0, grads = rng.normal(size=(2, 999)), [rng.normal(size=(2, 999)) for _ in range(3)]
    results = []
    for threads in (1, 4):
        p = p0.copy()
        opt = Adam([p], backend="numpy")
        backend.set_threads(threads)
        for g in grads:
            opt.step([g.copy()], 1e-2)
        assert len(opt._scratch) >= threads
        results.append(p)
    np.testing.assert_array_equal(results[0], results[1])


def test_executor_choices_are_checked():
    with pytest.raises(InvalidArgument, match="'executor'"):
        make_executor("cluster")
    with pytest.raises(InvalidArgument, match="add --executor ray"):
        make_executor("local", address="127.0.0.1:6379")
    with pytest.raises(InvalidArgument, match="--workers"):
        make_executor("ray", workers=2)
    ex = ProcessesExecutor(threads=1)
    assert ex.slots * ex.threads <= max(os.cpu_count(), ex.slots)
    with pytest.raises(InvalidArgument, match="'workers'"):
        ProcessesExecutor(workers=0)


def test_auto_picks_processes_only_for_a_large_caviar_tune_on_several_cores():
    from caviar.tuning.cost import PROCESSES_ABOVE_SECONDS, choose_executor

    big = 4 * PROCESSES_ABOVE_SECONDS
    assert choose_executor("caviar", big, 2)[0] == "processes"
    assert choose_executor("caviar", big, 1) == ("local", "one core")
    name, why = choose_executor("caviar", PROCESSES_ABOVE_SECONDS / 2, 2)
    assert name == "local" and "too little" in why
    assert choose_executor("panda", big, 8)[0] == "local"
    with pytest.raises(InvalidArgument, match="chosen by the tuner"):
        make_executor("auto")


def test_auto_never_spawns_workers_that_would_rerun_an_unguarded_script(tmp_path):
    """spawn imports the main script in every worker: without an ``if __name__ ==
    "__main__":`` guard a tune at its top level would start again in each, so auto trains in
    this process and says how to get the workers."""
    from caviar.tuning.cost import choose_executor

    probe = "from caviar.tuning.executors import main_reruns_in_workers as m\n{guard}print(m())\n"
    answers = {}
    for name, guard in (("plain", ""), ("guarded", 'if __name__ == "__main__":\n    ')):
        script = tmp_path / f"{name}.py"
        script.write_text(probe.format(guard=guard))
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        answers[name] = out.stdout.strip()
    assert answers == {"plain": "True", "guarded": "False"}
    name, why = choose_executor("caviar", 100.0, 2, spawn_safe=False)
    assert name == "local" and 'if __name__ == "__main__":' in why


class _Said(Reporter):
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def test_auto_trains_a_small_tune_in_this_process_and_says_why(digits, tmp_path):
    settings = TuneSettings(data="digits", trials=4, space=SPACE, base=BASE, strategy="caviar")
    study, settings = open_study(tmp_path / "a.db", settings, resume=False)
    said = _Said()
    with study:
        tuner = Tuner(study, settings, digits, said)  # executor "auto", the default
        tuner.run()
    assert tuner.executor.name == "local"
    assert any(line.startswith("executor auto → local: ") for line in said.lines)


@pytest.mark.slow
def test_auto_starts_one_single_threaded_worker_per_core_for_a_large_tune(
    digits, local_results, tmp_path, monkeypatch
):
    from caviar.tuning import cost, executors, tuner

    monkeypatch.setattr(cost, "PROCESSES_ABOVE_SECONDS", 0.0)
    monkeypatch.setattr(executors, "cores", lambda: 2)
    monkeypatch.setattr(tuner, "cores", lambda: 2)
    settings = TuneSettings(data="digits", trials=8, space=SPACE, base=BASE, strategy="caviar")
    study, settings = open_study(tmp_path / "a.db", settings, resume=False)
    said = _Said()
    with study:
        tuner = Tuner(study, settings, digits, said)
        tuner.run()
    assert (tuner.executor.name, tuner.executor.threads) == ("processes", 1)
    assert any("executor auto → processes" in line for line in said.lines)
    assert_same(_snapshot(tmp_path / "a.db"), local_results["plain"])


@pytest.mark.slow
def test_worker_processes_write_the_population_checkpoints(digits, tmp_path):
    """A population training in a worker process checkpoints itself beside the study, as in
    the driver's process: after every epoch but the last (every = 0 s), atomically."""
    from caviar.config import TrainConfig
    from caviar.tuning.snapshots import Snapshots
    from caviar.tuning.trials import Prepared

    config = TrainConfig.from_dict(BASE)
    configs = [config.replace(seed=s, lr=lr).to_dict() for s, lr in ((1, 1e-3), (2, 1e-2))]
    folder = tmp_path / "s.db.checkpoints"
    folder.mkdir()
    task = Task(
        ids=[7, 8], configs=configs, data="d", epochs=3, backend="numpy",
        snapshots={"folder": str(folder), "every": 0.0},
    )  # fmt: skip
    with ProcessesExecutor(workers=1, threads=1) as ex:
        ex.put_data("d", Prepared.from_dataset(digits, config))
        ex.submit(task)
        ((_, outcome),) = list(ex.outcomes())
    assert outcome.error is None
    (snap,) = Snapshots(folder).stored()
    assert snap.ids == [7, 8] and snap.epochs == 3 and snap.configs == configs
    assert snap.state["history/loss"].shape == (2, 2)  # written after epoch 2 of 3


@pytest.mark.slow
def test_a_worker_killed_while_writing_its_result_does_not_hang_the_tune(digits):
    """CPython's pool hangs for good when a worker dies halfway through writing its result:
    its reading thread waits for the rest of the message. Here half a message (a length
    header, no body) is written by hand and the worker is killed; the executor breaks the
    stuck pool and starts the task again."""
    import struct

    from caviar.config import TrainConfig
    from caviar.tuning.trials import Prepared

    config = TrainConfig.from_dict(BASE)
    task = Task(ids=[1], configs=[config.to_dict()], data="d", epochs=2, backend="numpy")
    got: list = []
    with ProcessesExecutor(workers=1, threads=1) as ex:
        ex.put_data("d", Prepared.from_dataset(digits, config))
        os.write(ex._pool._result_queue._writer.fileno(), struct.pack("!i", 1 << 20))
        ex.submit(task)
        for pid in list(ex._pool._processes):
            os.kill(pid, signal.SIGKILL)
        waiting = threading.Thread(target=lambda: got.extend(ex.outcomes()), daemon=True)
        waiting.start()
        waiting.join(120)
        assert got, "the tune hung on the stuck pool"
    ((_, outcome),) = got
    assert outcome.error is None and ex.progress.retried == 1


def test_without_ray_the_ray_executor_is_one_line_that_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[ray\]'") as err:
        make_executor("ray")
    assert "\n" not in str(err.value)


def test_the_cli_says_so_in_one_line_with_status_2(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from caviar.cli.main import main

    monkeypatch.setitem(sys.modules, "ray", None)
    study = tmp_path / "s.db"
    args = ["tune", "--data", "iris", "--trials", "2", "--executor", "ray", "--study", study]
    out = CliRunner().invoke(main, [str(a) for a in args])
    assert out.exit_code == 2
    assert out.output.strip().splitlines() == [
        "caviar: error: --executor ray needs Ray: pip install 'caviar-nn[ray]' "
        "(import of ray halted; None in sys.modules)."
    ]
    assert not study.exists()  # refused before the study was written


def test_the_cli_reads_workers_as_processes_and_wants_an_executor_for_threads(tmp_path):
    from click.testing import CliRunner

    from caviar.cli.main import main

    study = tmp_path / "s.db"
    args = ["tune", "--data", "iris", "--trials", "2", "--epochs", "1", "--study", study]
    out = CliRunner().invoke(main, [str(a) for a in [*args, "--threads", "1"]])
    assert out.exit_code == 2 and not study.exists()
    assert out.output.strip().splitlines() == [
        "caviar: error: --threads sets the threads of one executor; add --executor local, "
        "processes or ray."
    ]
    out = CliRunner().invoke(main, [str(a) for a in [*args, "--workers", "1", "--json"]])
    assert out.exit_code == 0, out.output
    assert "executor auto" not in out.output  # --workers named the processes executor


# -- processes ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_processes_give_the_local_results(kind, digits, local_results, tmp_path):
    executor = ProcessesExecutor(workers=2, threads=1)
    got = _tune(tmp_path / "p.db", digits, executor, **KINDS[kind])
    assert_same(got, local_results[kind])
    assert executor.progress.done >= 2 and executor.progress.retried == 0


class _KillWorkers(Reporter):
    """Kills every worker process of ``executor`` at the first population that finishes,
    while the others train or wait."""

    def __init__(self, executor):
        self.executor, self.killed = executor, []

    def populations(self, running, done, retried, per_node):
        if done == 1 and not self.killed and running:
            for pid in list(self.executor._pool._processes):
                os.kill(pid, signal.SIGKILL)
                self.killed.append(pid)


def _tune_with(path, data, executor, reporter, **kw):
    settings = TuneSettings(data="digits", space=SPACE, strategy="caviar", **kw)
    study, settings = open_study(path, settings, resume=False)
    with study:
        Tuner(study, settings, data, reporter, executor).run()
    return _snapshot(path)


@pytest.mark.slow
def test_killed_worker_processes_are_retried_and_change_nothing(digits, tmp_path):
    kw = {"trials": 6, "base": BASE, "max_population": 1}
    want = _tune(tmp_path / "local.db", digits, **kw)
    executor = ProcessesExecutor(workers=2, threads=1)
    killer = _KillWorkers(executor)
    got = _tune_with(tmp_path / "p.db", digits, executor, killer, **kw)
    assert killer.killed and executor.progress.retried >= 1
    assert_same(got, want)
    assert_written_once(tmp_path / "p.db", 6, epochs=3)


@pytest.mark.slow
def test_a_task_lost_more_often_than_retried_is_recorded_failed(digits, tmp_path):
    kw = {"trials": 6, "base": BASE, "max_population": 1}
    executor = ProcessesExecutor(workers=2, threads=1, retries=0)
    killer = _KillWorkers(executor)
    got = _tune_with(tmp_path / "p.db", digits, executor, killer, **kw)
    with Study(tmp_path / "p.db") as study:
        failed = study.trials(status=("failed",))
        assert failed and all("BrokenProcessPool" in t.error for t in failed)
        assert all("after 1 attempts" in t.error for t in failed)
        assert len(study.trials()) == 6 and all(t.status.is_final for t in study.trials())
    want = _tune(tmp_path / "local.db", digits, **kw)
    done = {k: v for k, v in got.items() if k != "lineage" and v[1] != "failed"}
    assert done and all(want[k] == v for k, v in done.items())


DRIVER = textwrap.dedent("""
    import sys
    from caviar.data import load
    from caviar.tuning.tuner import Tuner, TuneSettings, open_study

    def main():
        settings = TuneSettings(data="digits", trials=8, rounds=2, strategy="caviar",
                                max_population=1, space={space!r}, base={base!r})
        study, settings = open_study(sys.argv[1], settings, resume=False)
        Tuner(study, settings, load("digits"), executor={executor}).run()

    if __name__ == "__main__":
        main()
""")


def _kill_driver_then_resume(tmp_path, digits, executor_source: str, executor) -> None:
    """Run a tune in another process, kill -9 its whole process group (driver and its
    workers) once three trials are in, resume here with ``executor``; the study must equal
    an undisturbed local run, every trial written once."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(space=SPACE, base=SLOW, executor=executor_source))
    path = tmp_path / "killed.db"
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # what a killed driver cannot clean up
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], start_new_session=True, env=env
    )
    try:
        wait_for_finished(path, 3, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    before = _snapshot(path)
    kept = {
        k: v for k, v in before.items() if k != "lineage" and v[1] not in ("pending", "running")
    }
    assert 3 <= len(kept) < 8 or len(before) < 8
    study, settings = open_study(path, None, resume=True)
    with study:
        Tuner(study, settings, digits, executor=executor).run()
    resumed = _snapshot(path)
    assert all(resumed[k] == v for k, v in kept.items())  # kept, not run again
    want = _tune(tmp_path / "whole.db", digits, trials=8, rounds=2, max_population=1, base=SLOW)
    assert_same(resumed, want)
    assert_written_once(path, 8, epochs=3)


@pytest.mark.slow
def test_a_killed_processes_driver_resumes_to_the_same_study(digits, tmp_path):
    source = "__import__('caviar.tuning.executors', fromlist=['x']).make_executor('processes')"
    _kill_driver_then_resume(tmp_path, digits, source, ProcessesExecutor(workers=2, threads=1))


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie left for an init that does not reap counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_workers_end_when_their_driver_is_killed(tmp_path):
    """kill -9 of the driver alone (not its process group): its worker processes must not
    train on, orphaned under pid 1; they end within seconds."""
    path = tmp_path / "orphans.db"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    command = [sys.executable, "-m", "caviar.cli", "tune", "--data", "digits", "--trials", "64"]
    command += ["--epochs", "200", "--hidden", "64,64", "--executor", "processes"]
    command += ["--workers", "2", "--study", str(path)]
    proc = subprocess.Popen(command, start_new_session=True, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline, workers = time.time() + 60, []
        while time.time() < deadline and len(workers) < 2:
            time.sleep(0.1)
            assert proc.poll() is None, "the tune ended before it could be killed"
            workers = [
                c
                for c in _children(proc.pid)
                if "resource_tracker" not in Path(f"/proc/{c}/cmdline").read_text()
            ]
        assert len(workers) >= 2, "the driver started no worker processes"
        time.sleep(1.0)  # the workers are importing or training
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "workers outlived their killed driver"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


# -- Ray: a two-node cluster on 127.0.0.1 ---------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    """A head node and one more, one CPU each, bound to 127.0.0.1; this process its driver.
    In CI (``CI`` set) a missing Ray is a failure, not a skip."""
    # keep 127.0.0.1 as this driver's address (see caviar.tuning.executors.ray)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if os.environ.get("CI"):
        import ray
    else:
        ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
    c = Cluster(
        initialize_head=True,
        head_node_args={**node, "node_ip_address": "127.0.0.1", "include_dashboard": False},
    )
    other = c.add_node(**node, node_ip_address="127.0.0.1")
    ray.init(address=c.address, log_to_driver=False, _node_ip_address="127.0.0.1")
    c.wait_for_nodes()
    yield c, other
    ray.shutdown()
    c.shutdown()


def _ray(cluster, **kw):
    return make_executor("ray", address=cluster[0].address, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ray_gives_the_local_results(kind, cluster, digits, local_results, tmp_path):
    executor = _ray(cluster)
    got = _tune(tmp_path / "r.db", digits, executor, **KINDS[kind])
    assert_same(got, local_results[kind])
    assert executor.slots == 2 and executor.progress.retried == 0
    if kind == "plain":  # 8 trials, 2 slots: 2 populations of 4
        assert sum(n["done"] for n in executor.progress.per_node.values()) == 2
        # the kept models: the weights travel back as arrays, the same as trained here
        from caviar.model import Model
        from caviar.tuning.kept import Kept

        _tune(tmp_path / "l.db", digits, **KINDS[kind])
        ray_kept, local_kept = Kept(tmp_path / "r.db", 0), Kept(tmp_path / "l.db", 0)
        assert ray_kept.stored().keys() == local_kept.stored().keys() != set()
        for trial_id, path in ray_kept.stored().items():
            a = Model.load(path).net.get_params()
            b = Model.load(local_kept.path(trial_id)).net.get_params()
            for name in a:
                np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-12)


def _workers_of(raylet_pid: int) -> list[tuple[int, str]]:
    """(pid, title) of the Ray worker processes a raylet started."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            title = Path(entry.path, "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == raylet_pid and title.startswith("ray::"):
            found.append((int(entry.name), title))
    return found


@pytest.mark.slow
def test_killing_a_nodes_workers_mid_population_changes_nothing(cluster, digits, tmp_path):
    kw = {"trials": 6, "base": SLOW, "max_population": 1}
    want = _tune(tmp_path / "local.db", digits, **kw)
    # a worker training on either node (the tasks may all land on one of them)
    nodes = cluster[0].list_all_nodes()
    raylets = [node.all_processes["raylet"][0].process.pid for node in nodes]
    killed: list[str] = []
    stop = threading.Event()

    def kill_when_training() -> None:
        while not stop.is_set() and not killed:
            for pid, title in (w for raylet in raylets for w in _workers_of(raylet)):
                if title.startswith("ray::caviar"):  # training a population right now
                    os.kill(pid, signal.SIGKILL)
                    killed.append(title)
                    break
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_training, daemon=True)
    killer.start()
    executor = _ray(cluster)
    try:
        got = _tune(tmp_path / "r.db", digits, executor, **kw)
    finally:
        stop.set()
        killer.join()
    assert killed and executor.progress.retried >= 1
    assert_same(got, want)
    assert_written_once(tmp_path / "r.db", 6, epochs=3)


@pytest.mark.slow
def test_a_killed_ray_driver_resumes_to_the_same_study(cluster, digits, tmp_path):
    address = cluster[0].address
    source = (
        "__import__('caviar.tuning.executors', fromlist=['x'])"
        f".make_executor('ray', address={address!r})"
    )
    _kill_driver_then_resume(tmp_path, digits, source, _ray(cluster))


@pytest.mark.slow
def test_caviar_tune_runs_on_the_cluster(cluster, tmp_path):
    import json

    from click.testing import CliRunner

    from caviar.cli.main import main

    args = ["tune", "--data", "iris", "--trials", "4", "--epochs", "2", "--json"]
    local = CliRunner().invoke(main, [*args, "--study", str(tmp_path / "l.db")])
    on_ray = CliRunner().invoke(
        main,
        [
            *args,
            "--study",
            str(tmp_path / "r.db"),
            "--executor",
            "ray",
            "--address",
            cluster[0].address,
        ],
    )
    assert local.exit_code == 0 and on_ray.exit_code == 0, on_ray.output
    a, b = (json.loads(r.output.strip().splitlines()[-1]) for r in (local, on_ray))
    assert [t["val_loss"] for t in a["trials"]] == [t["val_loss"] for t in b["trials"]]
