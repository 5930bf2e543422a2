"""Hyperparameter search: spaces, their scales, samplers and coarse-to-fine narrowing.

Samplers draw points in the unit cube; :mod:`caviar.tune.transform`, the one place scales
live, maps them to configurations on each hyperparameter's scale and back. Random,
quasi-random (Sobol) and grid sampling and coarse-to-fine narrowing are all operations on
that box.
"""

from caviar.tune.samplers import SAMPLERS, grid_unit, random_unit, sample, sobol_unit
from caviar.tune.space import DISTS, Dimension, SearchSpace, default_space
from caviar.tune.transform import decode, encode, from_unit, to_unit, unit_span
from caviar.tune.zoom import narrow

# panda: one model at a time, babysat; caviar: many at once, as populations; auto: chosen
STRATEGIES = ("auto", "caviar", "panda")

__all__ = [
    "DISTS",
    "SAMPLERS",
    "STRATEGIES",
    "Dimension",
    "SearchSpace",
    "decode",
    "default_space",
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
