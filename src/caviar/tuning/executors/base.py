"""Where populations train: the task every executor runs, and the one small interface.

The driver (:class:`caviar.tuning.tuner.Tuner`) cuts a round into tasks
(:class:`~caviar.tuning.executors.task.Task`), hands them to an executor and records what
comes back (:class:`~caviar.tuning.executors.task.Outcome`); only the driver writes the
study. Both travel in their wire form, plain data (``to_dict``), so that they reach another
process or machine without caviar objects in them.

:func:`train_population` is the pure function every executor calls on a task's wire form,
with the prepared data as a dict of arrays (:func:`data_arrays`); it returns an outcome's
wire form.

An executor retries a task whose worker (process, Ray worker or node) was lost, at most
``retries`` times; after that the driver records its trials ``failed`` with the reason.
"""

from __future__ import annotations

import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from caviar.config import TrainConfig
from caviar.errors import CaviarError, InvalidArgument
from caviar.train.population import Population
from caviar.tuning.executors.task import Outcome, Task
from caviar.tuning.snapshots import Snapshots
from caviar.tuning.trials import Prepared, member_results

RETRIES = 2  # starts after the first, per task, when its worker or node is lost


def data_arrays(data: Prepared) -> dict:
    """The prepared splits as plain data: ``X_train``, ``y_train``, ``X_val``, ``y_val``
    arrays and ``n_classes``."""
    return asdict(data)


def train_population(task: dict, data: dict | Prepared, on_epoch=None) -> dict:
    """Build (no state) or rebuild the population of ``task`` (a :class:`Task`'s wire form),
    train it up to its epochs and return the :class:`Outcome`'s wire form.

    A :class:`CaviarError` is returned as the outcome's ``error`` (its message), never
    raised: it is a fact about the configurations, the same wherever the task runs.
    ``on_epoch(pop, epoch, history)`` is called after every epoch (in-process executors
    only).
    """
    start = time.perf_counter()
    task = Task.from_dict(task)
    data = data if isinstance(data, Prepared) else Prepared(**data)
    outcome = Outcome(node=node_name())
    try:
        configs = [TrainConfig.from_dict(c) for c in task.configs]
        shape = (data.n_features, data.n_classes, data.n_train)
        if task.state is None:
            pop = Population.build(configs, *shape, backend=task.backend)
        else:
            pop = Population.from_state(configs, *shape, task.state, task.backend)
        hooks = [] if on_epoch is None else [lambda e, h: on_epoch(pop, e, h)]
        if task.snapshots:
            snaps = Snapshots(task.snapshots["folder"], task.snapshots["every"])
            hooks.append(snaps.writer(task.ids, pop, task.epochs))
        data.train(pop, task.epochs, _each(hooks) if hooks else None)
        results = member_results(pop, data, task.final)
    except CaviarError as err:
        outcome.error = str(err)
    else:
        outcome.state = pop.state()
        outcome.results = [(str(s), r, m) for s, r, m in results]
    outcome.seconds = time.perf_counter() - start
    return outcome.to_dict()


def _each(hooks):
    def on_epoch(epoch: int, history) -> None:
        for hook in hooks:
            hook(epoch, history)

    return on_epoch


def node_name() -> str:
    """This machine's name, as progress shows it."""
    return socket.gethostname()


@dataclass
class Progress:
    """Populations running, done and retried, and per node ``{node: {"done": n,
    "retried": n, "running": n}}`` (running per node where the executor knows it)."""

    running: int = 0
    done: int = 0
    retried: int = 0
    per_node: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


class Executor:
    """Trains tasks somewhere and gives back their outcomes as they finish.

    Subclasses implement :meth:`_launch` (start one :class:`Task`) and :meth:`_wait` (block
    until at least one started task ends; give ``(task, outcome, lost)`` triples:
    ``outcome`` the wire form :func:`train_population` returned; ``lost`` is None, or
    ``(why, node, retry)`` when the task did not return and ``outcome`` is None;
    ``retry`` is True when its worker or node was lost, False when the task raised). The
    base class retries lost tasks, counts progress and reports it to ``reporter``
    (``populations(running, done, retried, per_node)``).

    ``shares_files``: the tasks run on the driver's machine and may write beside the study
    (population checkpoints). ``slots`` is how many populations train at once; ``threads``
    the kernel and BLAS threads each uses (slots × threads = the cores they have);
    :meth:`memory_per_slot` the bytes a population may take (the tuner sizes populations
    from it).
    """

    name = "executor"
    shares_files = True

    def __init__(self, retries: int = RETRIES):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgument(f"The 'retries' parameter must be >= 0. Got {retries!r}.")
        self.retries = retries
        self.progress = Progress()
        self.reporter = None
        self.waited = 0.0  # seconds the driver spent blocked in _wait
        self.slots, self.threads = 1, 1
        self._data: dict = {}
        self._pending = 0
        self._started = False

    # -- what subclasses provide -----------------------------------------------------------
    def _start(self) -> None:
        """Acquire workers (once, before the first task)."""

    def _close(self) -> None:
        """Release what :meth:`_start` acquired."""

    def memory_per_slot(self) -> int:
        from caviar.cost import available_memory

        return available_memory() // self.slots

    def _put(self, data: Prepared):
        """What a task receives for its data (a reference where the executor has one)."""
        return data

    def _launch(self, task: Task, data, on_epoch) -> None:
        raise NotImplementedError

    def _wait(self) -> list[tuple[Task, dict | None, tuple[str, str, bool] | None]]:
        raise NotImplementedError

    # -- the interface -----------------------------------------------------------------------
    def start(self) -> Executor:
        """Acquire the workers (join the cluster, start processes); again: nothing more."""
        if not self._started:
            self._start()
            self._started = True
        return self

    def close(self) -> None:
        """Release them; the executor can be started again."""
        if self._started:
            self._started = False
            self._data.clear()  # references into what _close releases
            self._pending = 0
            self._close()

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def put_data(self, key, data: Prepared) -> None:
        """Make ``data`` available to tasks under ``key`` (once per key)."""
        if key not in self._data:
            self._data[key] = self._put(data)

    def submit(self, task: Task, on_epoch: Callable | None = None) -> None:
        """Queue ``task``; ``on_epoch(pop, epoch, history)`` runs after each epoch where
        the executor trains in this process."""
        self._pending += 1
        self.progress.running += 1
        self._launch(task, self._data[task.data], on_epoch)
        self._report()

    def outcomes(self) -> Iterator[tuple[Task, Outcome]]:
        """``(task, outcome)`` for every submitted task, in the order they finish, until
        none is left (tasks submitted meanwhile included). A task whose worker was lost is
        started again, at most ``retries`` times; then its outcome carries ``lost`` (why)."""
        while self._pending:
            start = time.perf_counter()
            finished = self._wait()
            self.waited += time.perf_counter() - start
            for task, outcome, lost in finished:
                if lost is not None:
                    reason, node, retry = lost
                    if retry and task.attempt < self.retries:
                        self.progress.retried += 1
                        self.progress.per_node[node]["retried"] += 1
                        self._launch(task.again(), self._data[task.data], None)
                        self._report()
                        continue
                    why = f"{reason} (after {task.attempt + 1} attempts)"
                    outcome = Outcome(node=node, lost=why)
                else:
                    outcome = Outcome.from_dict(outcome)
                self._pending -= 1
                self.progress.running -= 1
                self.progress.done += 1
                self.progress.per_node[outcome.node]["done"] += 1
                self._report()
                yield task, outcome

    def _report(self) -> None:
        if self.reporter is not None:
            p = self.progress
            per_node = {n: dict(v) for n, v in p.per_node.items()}
            self.reporter.populations(p.running, p.done, p.retried, per_node)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
