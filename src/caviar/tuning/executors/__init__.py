"""Executors: where a tune's populations train (see :mod:`caviar.tuning.executors.base`).

``local`` trains them one after another in this process; ``processes`` several at once on
this machine, one process each; ``ray`` as tasks on a Ray cluster. ``auto`` (the default of
``caviar tune`` and :func:`caviar.tune`) is :func:`caviar.tuning.cost.choose_executor`'s pick
between the first two, made by the tuner once it knows the tune's size.
Every executor runs the same pure task (:func:`train_population`) with the same backend
choice per member, so a trial's numbers do not depend on where it ran.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from caviar.errors import InvalidArgument
from caviar.tuning import EXECUTORS
from caviar.tuning.executors.base import RETRIES, Executor, cores, train_population


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
    ``auto`` is not made here: the tuner resolves it
    (:func:`caviar.tuning.cost.choose_executor`)."""
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
    "RETRIES",
    "cores",
    "Executor",
    "main_reruns_in_workers",
    "make_executor",
    "train_population",
]
