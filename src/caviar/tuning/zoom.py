"""Coarse to fine: narrow a space around its best configurations, on each dimension's own scale.

The notes: "zoom in to a smaller region and then sample more densely within it". Narrowing
happens in the unit coordinates of the *original* space, so a log dimension narrows in log
space and a one_minus_log dimension in log(1 - x) space, and the result never leaves the
original bounds. Per numeric dimension, with u the best configurations' unit coordinates and
w the current space's width (both in the original's coordinates)::

    [max(0, min u - margin · w), min(1, max u + margin · w)]  →  [low, high]

>>> from caviar.tuning.space import notes_space
>>> space = notes_space()
>>> narrowed = narrow(space, space, [{"lr": 1e-3, "beta1": 0.99, "beta2": 0.999}], margin=0.25)
>>> narrowed["lr"].low, narrowed["lr"].high  # 10^(-3 ± 0.25 · 4): geometric, around 1e-3
(0.0001, 0.01)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from caviar.errors import InvalidArgument
from caviar.tuning.space import Dimension, SearchSpace
from caviar.tuning.transform import encode, from_unit, unit_span


def narrow(
    space: SearchSpace, original: SearchSpace, best_configs: Sequence, margin: float = 0.25
) -> SearchSpace:
    """The part of ``original`` around ``best_configs``, the next round's space.

    ``space`` is the round's current space (``original`` itself in the first round, a narrowed
    one later); both must list the same dimensions. Numeric dimensions span the best
    configurations, widened by ``margin`` times the current width on each side and clipped to
    the original bounds (integer bounds round outward to the bins they touch); choice
    dimensions keep the choices that appear among the best, in the original order; fixed
    dimensions stay. ``best_configs`` are dicts or TrainConfigs.
    """
    _check_compatible(space, original)
    if not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
        raise InvalidArgument(f"The 'margin' parameter must be a number >= 0. Got {margin!r}.")
    best = list(best_configs)
    if not best:
        raise InvalidArgument("The 'best_configs' list is empty; narrow needs at least one.")
    U = encode(original, best)
    columns = {dim.name: U[:, j] for j, dim in enumerate(original.free)}
    return SearchSpace(
        tuple(_narrow_dim(dim, original[dim.name], columns, margin) for dim in space.dims)
    )


def _narrow_dim(dim: Dimension, orig: Dimension, columns: dict, margin: float) -> Dimension:
    if dim.dist == "fixed":
        return dim
    u = columns[dim.name]
    if dim.dist == "choice":
        kept = set((u * len(orig.choices)).astype(np.int64).tolist())
        return dataclasses.replace(
            dim, choices=tuple(c for i, c in enumerate(orig.choices) if i in kept)
        )
    lo, hi = unit_span(orig, dim.low, dim.high)
    pad = margin * (hi - lo)
    edges = np.array([max(0.0, u.min() - pad), min(1.0, u.max() + pad)])
    low, high = from_unit(orig, edges).tolist()
    return dataclasses.replace(dim, low=low, high=high)


def _check_compatible(space: SearchSpace, original: SearchSpace) -> None:
    for s in (space, original):
        if not isinstance(s, SearchSpace):
            raise InvalidArgument(f"narrow takes SearchSpace objects. Got {s!r} instead.")
    if space.names != original.names:
        raise InvalidArgument(
            f"The current space {list(space.names)} and the original {list(original.names)} "
            "must list the same dimensions in the same order; pass the space the round used."
        )
    for dim, orig in zip(space.dims, original.dims, strict=True):
        if dim.dist != orig.dist and dim.dist != "fixed":
            raise InvalidArgument(
                f"The '{dim.name}' dimension is '{dim.dist}' in the current space but "
                f"'{orig.dist}' in the original; narrowing keeps each dimension's dist."
            )
