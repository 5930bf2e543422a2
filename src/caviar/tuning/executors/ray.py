"""Populations as Ray tasks on a Ray cluster (``pip install 'caviar-nn[ray]'``).

The driver joins the cluster at ``address`` (``HOST:PORT``, what ``ray start --head``
printed) or, without one, starts a Ray on this machine bound to 127.0.0.1. Each data key's
prepared arrays go into the object store once (``ray.put``); every task receives that
reference, its configurations as plain dicts and its state as a dict of NumPy arrays (Ray
moves them without pickling their contents, and without caviar objects). A task declares
``num_cpus`` (its threads) and ``memory`` (the tuner's estimate, ``MemberCost.bytes × K``), so
Ray packs as many onto a node as fit. A task first yields the node it started on (progress
per node), then its outcome. Ray's own retries are off: the executor starts a task again
when its worker or node dies (``WorkerCrashedError``, ``NodeDiedError``, …), at most
``retries`` times, and counts each; a task that raised is not retried.

Loopback: Ray replaces a loopback address (``127.0.0.1:PORT``, ``localhost:PORT``) by this
machine's network address before it connects, which cannot reach a cluster bound to
127.0.0.1. For such an address, and for the Ray it starts itself, the executor sets
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` before Ray is imported, which makes Ray take
127.0.0.1 as this node's address (it has no other effect on a driver).
"""

from __future__ import annotations

import logging
import os
import sys

from caviar.errors import InvalidArgument
from caviar.tuning.executors.base import RETRIES, Executor, train_population

INSTALL = "--executor ray needs Ray: pip install 'caviar-nn[ray]'"


LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _ray(address: str | None):
    host = None if address is None else address.rsplit(":", 1)[0]
    if (host is None or host in LOOPBACK) and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as err:
        raise InvalidArgument(f"{INSTALL} ({err}).") from None
    return ray


class RayExecutor(Executor):
    """Tasks on the Ray cluster at ``address`` (None: a Ray started here, on 127.0.0.1,
    with ``cpus`` CPUs, default all). Each task takes ``threads`` CPUs (default 1)."""

    name = "ray"
    shares_files = False  # tasks may run on other machines

    def __init__(
        self,
        address: str | None = None,
        threads: int | None = None,
        cpus: int | None = None,
        retries: int = RETRIES,
    ):
        super().__init__(retries)
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise InvalidArgument(f"The 'threads' parameter must be >= 1. Got {threads!r}.")
        self.ray = _ray(address)
        self.address, self.cpus = address, cpus
        self.threads = threads or 1
        self._connected = False  # whether start() made the connection (close() ends it)
        self._refs: dict = {}  # generator -> [task, node or None]
        self._remote = None

    def _start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            options = {"logging_level": logging.WARNING, "log_to_driver": False}
            if self.address is None:
                options |= {
                    "address": "local",
                    "num_cpus": self.cpus,
                    "include_dashboard": False,
                    "_node_ip_address": "127.0.0.1",
                }
            else:
                options["address"] = self.address
            try:
                ray.init(**options)
            except (ConnectionError, ValueError, RuntimeError) as err:
                where = self.address or "a local Ray"
                raise InvalidArgument(f"Ray could not start or join {where}: {err}") from None
            self._connected = True
        self._remote = ray.remote(num_returns="streaming", max_retries=0)(_task)
        alive = [n for n in ray.nodes() if n.get("Alive")]
        per_node = [int(n["Resources"].get("CPU", 0)) // self.threads for n in alive]
        self.slots = max(1, sum(per_node))
        self._node_memory = min(
            (
                n["Resources"].get("memory", 0) / s
                for n, s in zip(alive, per_node, strict=True)
                if s
            ),
            default=0,
        )

    def _close(self) -> None:
        for gen in list(self._refs):  # tasks left when the tune stopped early
            try:
                self.ray.cancel(gen, force=True)
            except Exception:  # noqa: BLE001  already gone; closing must not mask the cause
                pass
        self._refs.clear()
        if self._connected:
            self.ray.shutdown()
            self._connected = False

    def memory_per_slot(self) -> int:
        return int(self._node_memory) or super().memory_per_slot()

    def _put(self, data):
        from caviar.tuning.executors.base import data_arrays

        return self.ray.put(data_arrays(data))

    def _launch(self, task, data, on_epoch) -> None:
        options = {"num_cpus": self.threads, "name": f"caviar-population-{task.ids[0]}"}
        if task.memory:
            options["memory"] = int(task.memory)
        gen = self._remote.options(**options).remote(task.to_dict(), data, self.threads)
        self._refs[gen] = [task, None]

    def _wait(self):
        ray = self.ray
        ready, _ = ray.wait(list(self._refs), num_returns=1)
        finished = []
        for gen in ready:
            entry = self._refs[gen]
            task, node = entry
            try:
                item = ray.get(next(gen))
            except ray.exceptions.RayTaskError as err:  # the task itself raised
                finished.append((task, None, (_last_line(err), self._gone(gen), False)))
                continue
            except (ray.exceptions.RayError, StopIteration) as err:  # worker or node lost
                why = f"{type(err).__name__}: {_first_line(err)}"
                finished.append((task, None, (why, self._gone(gen), True)))
                continue
            if node is None:  # the first item: where it started
                entry[1] = item
                self.progress.per_node[item]["running"] += 1
                self._report()
                continue
            del self._refs[gen]
            self.progress.per_node[node]["running"] -= 1
            item["node"] = node
            finished.append((task, item, None))
        return finished

    def _gone(self, gen) -> str:
        """Forget a task that did not return; the node it had started on, or '?'."""
        _, node = self._refs.pop(gen)
        if node is None:
            return "?"
        self.progress.per_node[node]["running"] -= 1
        return node


def _first_line(err) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _last_line(err) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[-1]


def _task(task: dict, data: dict, threads: int):
    """One population on a Ray worker: yield the node, then the outcome."""
    import ray

    from caviar import backend

    backend.set_threads(threads)
    context = ray.get_runtime_context()
    yield f"{ray.util.get_node_ip_address()}/{context.get_node_id()[:6]}"
    yield train_population(task, data)
