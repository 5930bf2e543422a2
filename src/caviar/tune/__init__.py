"""Hyperparameter search: spaces, their scales, samplers and coarse-to-fine narrowing.

Samplers draw points in the unit cube; :mod:`caviar.tune.transform`, the one place scales
live, maps them to configurations on each hyperparameter's scale and back. Random,
quasi-random (Sobol) and grid sampling and coarse-to-fine narrowing are all operations on
that box.

The package is also callable: ``caviar.tune(data, space, trials=...)`` runs a tune
(:func:`caviar.api.tune`), so that the name users look for works whether or not the package
was imported first.
"""

import sys
import types

from caviar.tune.samplers import SAMPLERS, grid_unit, random_unit, sample, sobol_unit
from caviar.tune.space import DISTS, Dimension, SearchSpace, default_space, notes_space
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


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from caviar.api import tune

        return tune(*args, **kwargs)

    __call__.__doc__ = None


sys.modules[__name__].__class__ = _CallableModule
