"""The in-process executor: populations train one after another in the driver's process,
as the tuner always did (the default)."""

from __future__ import annotations

from collections import deque

from caviar import backend
from caviar.tuning.executors.base import Executor, node_name, train_population


class LocalExecutor(Executor):
    """Runs each task when the driver asks for the next outcome, in submission order, with
    the ``on_epoch`` hooks (progress, checkpoints) called in this process. ``threads``
    (default: ``CAVIAR_THREADS`` or two) sets the kernels' threads for the tune."""

    name = "local"

    def __init__(self, threads: int | None = None, retries: int = 0):
        super().__init__(retries)
        self._threads = threads
        self._before: int | None = None
        self._queue: deque = deque()

    def _start(self) -> None:
        self._before = backend.thread_count()
        if self._threads is not None:
            backend.set_threads(self._threads)
        self.threads = backend.thread_count()
        self.progress.per_node[node_name()]["running"] = 0

    def _close(self) -> None:
        if self._before is not None:
            backend.set_threads(self._before)

    def _launch(self, task, data, on_epoch) -> None:
        self._queue.append((task, data, on_epoch))

    def _wait(self):
        task, data, on_epoch = self._queue.popleft()
        node = self.progress.per_node[node_name()]
        node["running"] += 1
        try:
            outcome = train_population(task.to_dict(), data, on_epoch)
        finally:
            node["running"] -= 1
        return [(task, outcome, None)]
