"""Hyperparameter search: spaces, their scales, samplers and coarse-to-fine narrowing.

Samplers draw points in the unit cube; :mod:`caviar.tuning.transform`, the one place scales
live, maps them to configurations on each hyperparameter's scale and back. Random,
quasi-random (Sobol) and grid sampling and coarse-to-fine narrowing are all operations on
that box.

The function that runs a tune is :func:`caviar.tune` (:mod:`caviar.api`); this package is
what it drives.
"""

from caviar.tuning.samplers import SAMPLERS, grid_unit, random_unit, sample, sobol_unit
from caviar.tuning.space import DISTS, Dimension, SearchSpace, default_space, notes_space
from caviar.tuning.transform import decode, encode, from_unit, to_unit, unit_span
from caviar.tuning.zoom import narrow

# panda: one model at a time, babysat; caviar: many at once, as populations; auto: chosen
STRATEGIES = ("auto", "caviar", "panda")
# where the populations train (caviar.tuning.executors); named here, where the command line
# reads them without importing the executors
EXECUTORS = ("auto", "local", "processes", "ray")

__all__ = [
    "DISTS",
    "EXECUTORS",
    "SAMPLERS",
    "STRATEGIES",
    "Dimension",
    "SearchSpace",
    "decode",
    "default_space",
    "notes_space",
    "encode",
    "from_unit",
    "grid_unit",
    "narrow",
    "random_unit",
    "sample",
    "sobol_unit",
    "to_unit",
    "unit_span",
]
