"""Several populations at once on this machine: one process per population, each with its
share of the cores (processes × threads = cores).

Workers are started with ``spawn`` (a fresh interpreter: no copy of the driver's threads or
open study) and with ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS``
and ``CAVIAR_THREADS`` set in their environment, so BLAS reads its thread count before
NumPy is imported there. The prepared data is written once per data key as ``.npy`` files
in a temporary folder; each worker maps them (read-only, shared through the page cache) the
first time a task needs them. A worker that dies (``BrokenProcessPool``) takes the pool
with it: the pool is made again and the tasks it held are started again, at most
``retries`` times each. A worker whose driver dies (kill -9 included, which runs no clean-up
in the driver) ends itself within moments: a thread in each worker waits on the parent's
sentinel, so no orphaned worker trains on under pid 1.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import connection, get_context, parent_process
from pathlib import Path

import numpy as np

from caviar import backend
from caviar.errors import InvalidArgument
from caviar.tuning.executors.base import RETRIES, Executor, cores, node_name, train_population

BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_ARRAYS = ("X_train", "y_train", "X_val", "y_val")
_loaded: dict[str, dict] = {}  # in a worker: the data folders it has mapped
POLL_SECONDS = 1.0  # how often a waiting driver looks for a pool stuck on a dead worker
STUCK_SECONDS = 5.0  # a worker dead this long without the pool breaking has left it stuck


class ProcessesExecutor(Executor):
    """``workers`` processes (default: the cores, or cores // ``threads``), each running
    one population at a time on ``threads`` threads (default: cores // workers)."""

    name = "processes"

    def __init__(
        self, workers: int | None = None, threads: int | None = None, retries: int = RETRIES
    ):
        super().__init__(retries)
        for name, value in (("workers", workers), ("threads", threads)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InvalidArgument(f"The '{name}' parameter must be >= 1. Got {value!r}.")
        n = cores()
        self.slots = workers or max(1, n // (threads or 1))
        self.threads = threads or max(1, n // self.slots)
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict = {}  # future -> (task, the pool it ran in)
        self._dead_since: float | None = None  # when a dead worker was first seen
        self._folder: tempfile.TemporaryDirectory | None = None

    def _start(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="caviar-data-")
        self._new_pool()
        # start every worker now: each imports caviar and Numba, then loads the kernels for
        # the data's dtype (_put), about a second in all, while the driver prepares the data
        # and sizes the populations, instead of after
        with _environment(self._worker_environment()):
            for _ in range(self.slots):
                self._pool.submit(_warm)

    def _close(self) -> None:
        if self._pool is not None:
            if not self._futures:  # every task is back and the workers idle: end them now,
                for proc in list(self._pool._processes.values()):  # rather than wait while
                    proc.terminate()  # each interpreter (Numba loaded) tears down: 0.25 s
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def _new_pool(self) -> None:
        self._dead_since = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = ProcessPoolExecutor(
            self.slots,
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.threads,),
        )

    def _put(self, data) -> dict:
        folder = Path(self._folder.name) / f"data-{len(self._data)}"
        folder.mkdir()
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(data, name))
        for _ in range(self.slots):  # load the kernels for this dtype before the first task
            self._pool.submit(_warm, data.X_train.dtype.name)
        return {"folder": str(folder), "n_classes": data.n_classes}

    def _launch(self, task, data, on_epoch) -> None:
        with _environment(self._worker_environment()):  # workers spawn inside submit
            future = self._pool.submit(_run, task.to_dict(), data)
        self._futures[future] = (task, self._pool)

    def _worker_environment(self) -> dict[str, str]:
        env = {name: str(self.threads) for name in BLAS_THREADS}
        return env | {backend.THREADS_ENV: str(self.threads)}

    def _wait(self):
        while True:
            done, _ = wait(list(self._futures), POLL_SECONDS, return_when=FIRST_COMPLETED)
            if done:
                break
            self._unstick()
        finished, broken = [], False
        for future in done:
            task, pool = self._futures.pop(future)
            try:
                finished.append((task, future.result(), None))
            except BrokenProcessPool:
                broken |= pool is self._pool
                why = "a worker process died (BrokenProcessPool)"
                finished.append((task, None, (why, node_name(), True)))
            except Exception as err:  # the task raised: the same wherever it runs
                finished.append((task, None, (f"{type(err).__name__}: {err}", node_name(), False)))
        if broken:
            self._new_pool()
        return finished

    def _unstick(self) -> None:
        """Break a pool that a dead worker left stuck. CPython's pool hangs for good when a
        worker is killed while it writes its result: the pool's reading thread waits for
        the rest of a message that never comes, since the queue's write end stays open here
        and in the other workers. When a worker has been dead ``STUCK_SECONDS`` and the pool
        has not broken, end its workers and close this process's write end: the read ends
        at end-of-file, the pool breaks as for any dead worker (``BrokenProcessPool``) and
        its tasks are started again."""
        procs = list((self._pool._processes or {}).values())
        if not any(p.exitcode is not None for p in procs):
            self._dead_since = None
            return
        now = time.monotonic()
        if self._dead_since is None:
            self._dead_since = now
        elif now - self._dead_since >= STUCK_SECONDS:
            for p in procs:
                p.kill()
            self._pool._result_queue._writer.close()
            self._dead_since = None


def _start_worker(threads: int) -> None:
    backend.set_threads(threads)
    _end_with_parent()


def _end_with_parent() -> None:
    """End this worker as soon as its driver dies: a daemon thread waits on the parent
    process's sentinel (readable once the parent is gone, however it died) and exits with
    status 1. A task half done is lost, as it is with its driver; the study keeps what was
    recorded and ``--resume`` continues."""
    parent = parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="caviar-parent-watch", daemon=True).start()


def _warm(dtype: str | None = None) -> None:
    """Import what a task needs and, for ``dtype``, load the compiled kernels when Numba is
    installed (a failure here shows again, and is reported, in the task)."""
    import caviar.tuning.executors.base  # noqa: F401

    if dtype is None or not backend.available():
        return
    from caviar.nn.network import prepare_kernels
    from caviar.optim import OPTIMIZERS

    try:
        prepare_kernels(dtype)
        for optimizer in OPTIMIZERS.values():
            optimizer.warm_kernel(dtype)
    except Exception:  # noqa: BLE001 - the task itself reports what went wrong
        pass


def _run(task: dict, data: dict) -> dict:
    folder = data["folder"]
    if folder not in _loaded:
        arrays = {n: np.asarray(np.load(f"{folder}/{n}.npy", mmap_mode="r")) for n in _ARRAYS}
        _loaded[folder] = {**arrays, "n_classes": data["n_classes"]}
    outcome = train_population(task, _loaded[folder])
    outcome["pid"] = os.getpid()
    return outcome


@contextmanager
def _environment(values: dict[str, str]):
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
