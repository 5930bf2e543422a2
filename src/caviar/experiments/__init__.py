"""The notes' claims as small, seeded experiments anyone can rerun (``caviar experiment``).

Each experiment is one module with the same four names:

- ``CLAIM``: the notes' claim in one line;
- ``run(seed=0, quick=False) -> dict``: the numbers, JSON-ready (``quick`` shrinks the
  experiment to a few seconds for the tests; the default run stays under a minute on two cores);
- ``judge(numbers) -> (holds, figure)``: the verdict, computed from the numbers by the rule
  stated in the module's docstring, and the figures behind it;
- ``plot(numbers, path)``: the PNG (matplotlib, Agg, the ``experiments`` extra).

The experiments' networks and parameter arrays are small, so they run on the NumPy backend:
Numba's start-up (about 0.5 s a process) would cost more than it saves.

:func:`run_experiment` runs one, writes ``NAME.json`` and ``NAME.png`` and returns its
:class:`Outcome`. Modules are imported on demand, so ``import caviar`` stays fast.
"""

from caviar.experiments.base import EXPERIMENTS, Outcome, claim, names, run_experiment

__all__ = ["EXPERIMENTS", "Outcome", "claim", "names", "run_experiment"]
