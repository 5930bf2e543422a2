"""Executors: where a tune's populations train (see :mod:`caviar.tuning.executors.base`).

``local`` trains them one after another in this process; ``processes`` several at once on
this machine, one process each; ``ray`` as tasks on a Ray cluster. ``auto`` (the default of
``caviar tune`` and :func:`caviar.tune`) is :func:`choose_executor`'s pick between the first
two, made by the tuner once it knows the tune's size.
Every executor runs the same pure task (:func:`train_population`) with the same backend
choice per member, so a trial's numbers do not depend on where it ran.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from caviar.errors import InvalidArgument
from caviar.tuning.executors.base import RETRIES, Executor, cores, train_population

EXECUTORS = ("auto", "local", "processes", "ray")
# ``auto`` starts worker processes for a tune whose estimated compute (trials × one member's
# model FLOP at ASSUMED_FLOPS) is at least this many seconds: below it, spawning them and
# loading caviar and Numba there (about a second) costs more than the second core gives back.
PROCESSES_ABOVE_SECONDS = 10.0


def main_reruns_in_workers() -> bool:
    """Whether a spawned worker would run this program's main script again: a script (run
    by path, or by ``python -m`` as a plain module) whose source has no ``if __name__ ==
    "__main__":`` guard. ``spawn`` imports such a script in every worker, and a tune at its
    top level would start there again. Interactive sessions, notebooks, ``python -c`` and a
    package's ``__main__`` (``python -m caviar.cli``) are not re-run."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None) or ""
    if path is None or name == "__main__" or name.endswith(".__main__"):
        return False
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    return re.search(r"""if\s+__name__\s*==\s*['"]__main__['"]\s*:""", source) is None


def choose_executor(
    strategy: str, compute_seconds: float, n_cores: int | None = None, spawn_safe: bool = True
):
    """``(name, why)``: the executor ``auto`` stands for, for a tune of ``strategy`` whose
    trials come to ``compute_seconds`` at the cost model's rate, on ``n_cores`` cores;
    ``spawn_safe``: worker processes may be spawned (see :func:`main_reruns_in_workers`).

    ``processes`` with one single-threaded worker per core for a large caviar tune on
    several cores, else ``local``. For the mid-sized layers a tune usually trains, two
    single-threaded populations get more done than one population on two threads: a
    two-thread BLAS call on a ``(128, 256) × (256, 256)`` product reaches 57 % of the
    two-core peak, a one-thread call 74 % of one core's, and the elementwise work and the
    Python between calls run on both cores instead of one (row 8 of the benchmarks: 30.4 s
    in process, 19.0 s on two workers; ``docs/performance.md``)."""
    n_cores = cores() if n_cores is None else n_cores
    if strategy == "panda":
        return "local", "panda trains one model at a time, in this process"
    if n_cores < 2:
        return "local", "one core"
    if compute_seconds < PROCESSES_ABOVE_SECONDS:
        return "local", (
            f"~{compute_seconds:.1f} s of compute: too little to repay starting worker processes"
        )
    if not spawn_safe:
        return "local", (
            "worker processes would run this script's top level again: put the tune under "
            '`if __name__ == "__main__":` to let them train it'
        )
    return "processes", (
        f"~{compute_seconds:.0f} s of compute on {n_cores} cores: {n_cores} worker "
        "processes of one thread each"
    )


def make_executor(
    name: str = "local",
    *,
    address: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    retries: int = RETRIES,
) -> Executor:
    """The executor called ``name``: ``address`` (``HOST:PORT``) is the Ray cluster to join,
    ``workers`` the processes of ``processes``, ``threads`` each population's threads.
    ``auto`` is not made here: the tuner resolves it (:func:`choose_executor`)."""
    if name == "auto":
        raise InvalidArgument(
            "executor 'auto' is chosen by the tuner from the tune's size; give it to Tuner or "
            "caviar.tune as the string 'auto', or name local, processes or ray here."
        )
    if name not in EXECUTORS:
        raise InvalidArgument(f"The 'executor' parameter must be one of {EXECUTORS}. Got {name!r}.")
    if address is not None and name != "ray":
        raise InvalidArgument(f"--address names a Ray cluster; add --executor ray (not {name}).")
    if workers is not None and name != "processes":
        raise InvalidArgument(
            f"--workers is the number of processes of --executor processes, not of {name}."
        )
    if name == "local":
        from caviar.tuning.executors.local import LocalExecutor

        return LocalExecutor(threads)
    if name == "processes":
        from caviar.tuning.executors.processes import ProcessesExecutor

        return ProcessesExecutor(workers, threads, retries)
    from caviar.tuning.executors.ray import RayExecutor

    return RayExecutor(address, threads, retries=retries)


__all__ = [
    "EXECUTORS",
    "PROCESSES_ABOVE_SECONDS",
    "RETRIES",
    "Executor",
    "choose_executor",
    "main_reruns_in_workers",
    "make_executor",
    "train_population",
]
