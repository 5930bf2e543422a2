"""Executors: where a tune's populations train (see :mod:`caviar.tune.executors.base`).

``local`` trains them one after another in this process (the default); ``processes``
several at once on this machine, one process each; ``ray`` as tasks on a Ray cluster.
Every executor runs the same pure task (:func:`train_population`) with the same backend
choice per member, so a trial's numbers do not depend on where it ran.
"""

from __future__ import annotations

from caviar.errors import InvalidArgument
from caviar.tune.executors.base import RETRIES, Executor, train_population

EXECUTORS = ("local", "processes", "ray")


def make_executor(
    name: str = "local",
    *,
    address: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    retries: int = RETRIES,
) -> Executor:
    """The executor called ``name``: ``address`` (``HOST:PORT``) is the Ray cluster to join,
    ``workers`` the processes of ``processes``, ``threads`` each population's threads."""
    if name not in EXECUTORS:
        raise InvalidArgument(f"The 'executor' parameter must be one of {EXECUTORS}. Got {name!r}.")
    if address is not None and name != "ray":
        raise InvalidArgument(f"--address names a Ray cluster; add --executor ray (not {name}).")
    if workers is not None and name != "processes":
        raise InvalidArgument(
            f"--workers is the number of processes of --executor processes, not of {name}."
        )
    if name == "local":
        from caviar.tune.executors.local import LocalExecutor

        return LocalExecutor(threads)
    if name == "processes":
        from caviar.tune.executors.processes import ProcessesExecutor

        return ProcessesExecutor(workers, threads, retries)
    from caviar.tune.executors.ray import RayExecutor

    return RayExecutor(address, threads, retries=retries)


__all__ = ["EXECUTORS", "RETRIES", "Executor", "make_executor", "train_population"]
