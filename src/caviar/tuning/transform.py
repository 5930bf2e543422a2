"""The only place scales live: each dimension's map between its values and the unit interval.

Samplers draw points ``U: (n, d)`` in the unit cube, one column per non-fixed dimension in the
space's order; :func:`decode` turns them into configurations and :func:`encode` turns
configurations back. With ``t`` the dimension's scale and ``[a, b] = [t(low), t(high)]``::

    u = (t(x) - a) / (b - a)            x = t⁻¹(a + u · (b - a))

    uniform         t(x) = x
    log             t(x) = log10 x
    one_minus_log   t(x) = -log10(1 - x)   (increasing in x: u = 1 at high)

These two maps are exact inverses (up to rounding); a zero-width range maps every value to
u = ½. Discrete dimensions cut [0, 1) into one bin per value, so a uniform u draws the right
discrete distribution, and ``to_unit`` returns the bin's centre:

    int       the identity scale over [low - ½, high + ½], rounded: equal bins
    log_int   the log10 scale over [low - ½, high + ½], rounded to the nearest integer, so v has
              probability log((v + ½) / (v - ½)) / log((high + ½) / (low - ½))
    choice    k equal bins: ``choices[⌊u · k⌋]``

>>> from caviar.tuning.space import Dimension
>>> lr = Dimension("lr", "log", 1e-4, 1.0)
>>> float(from_unit(lr, 0.5))
0.01
>>> float(to_unit(lr, 1e-3))
0.25
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from caviar.config import TrainConfig
from caviar.errors import InvalidArgument
from caviar.tuning.space import CONTINUOUS, INTEGER, Dimension, SearchSpace


def _identity(x):
    return x


def _ten_to_the(t):
    return np.power(10.0, t)


def _minus_log_one_minus(x):
    return -np.log1p(-x) / np.log(10.0)  # log1p: 1 - x loses digits for small x


def _one_minus_ten_to_the_minus(t):
    return -np.expm1(-t * np.log(10.0))


# dist → (t, t⁻¹)
_SCALES = {
    "uniform": (_identity, _identity),
    "int": (_identity, _identity),
    "log": (np.log10, _ten_to_the),
    "log_int": (np.log10, _ten_to_the),
    "one_minus_log": (_minus_log_one_minus, _one_minus_ten_to_the_minus),
}


def to_unit(dim: Dimension, values) -> np.ndarray:
    """Unit coordinates of ``values`` (numeric dims: any shape; choice: a sequence of values).

    Continuous values map to [0, 1] (``high`` to 1); a discrete value maps to its bin's centre.
    Raises InvalidArgument for a value outside the dimension (out of range, not a whole number
    for an integer dim, not among the choices) and for a fixed dimension, which has no
    coordinate.
    """
    _not_fixed(dim)
    if dim.dist == "choice":
        return (_choice_index(dim, values) + 0.5) / len(dim.choices)
    x = _numbers(dim, values)
    if dim.dist in INTEGER:
        return (_position_to_unit(dim, x - 0.5) + _position_to_unit(dim, x + 0.5)) / 2
    return _position_to_unit(dim, x)


def from_unit(dim: Dimension, u) -> np.ndarray:
    """Values at unit coordinates ``u`` in [0, 1], same shape: floats for the continuous dists,
    int64 for ``int``/``log_int``, an object array of the choices for ``choice``."""
    _not_fixed(dim)
    u = _unit(dim, u)
    if dim.dist == "choice":
        index = np.minimum((u * len(dim.choices)).astype(np.int64), len(dim.choices) - 1)
        out = np.empty(index.shape, dtype=object)
        for at, i in np.ndenumerate(index):
            out[at] = dim.choices[i]
        return out
    x = _unit_to_position(dim, u)
    if dim.dist in INTEGER:
        return np.clip(np.floor(x + 0.5), dim.low, dim.high).astype(np.int64)
    x = np.where(u <= 0, dim.low, np.where(u >= 1, dim.high, x))  # the bounds exactly
    return np.clip(x, dim.low, dim.high)


def unit_span(dim: Dimension, low, high) -> tuple[float, float]:
    """The unit interval that the range [low, high] covers in ``dim``'s coordinates.

    For an integer dim, the outer edges of the bins of ``low`` and ``high``. Used to measure a
    narrowed dimension inside the original one.

    >>> from caviar.tuning.space import Dimension
    >>> unit_span(Dimension("epochs", "int", 1, 4), 2, 3)
    (0.25, 0.75)
    """
    if dim.dist not in CONTINUOUS + INTEGER:
        raise InvalidArgument(
            f"The '{dim.name}' dimension is '{dim.dist}'; only numeric dimensions have a span."
        )
    lo, hi = _numbers(dim, [low, high])
    if dim.dist in INTEGER:
        lo, hi = lo - 0.5, hi + 0.5
    return tuple(float(v) for v in _position_to_unit(dim, np.array([lo, hi])))


def decode(space: SearchSpace, U) -> list[dict]:
    """The n configurations at the rows of ``U: (n, d)``, as dicts of name → Python value.

    Fixed dimensions are included; integers come back as ``int``, reals as ``float`` and
    hidden layers as tuples of ints.

    >>> from caviar.tuning.space import notes_space
    >>> [{k: round(v, 9) for k, v in c.items()} for c in decode(notes_space(), [[0.5] * 3])]
    [{'lr': 0.01, 'beta1': 0.99, 'beta2': 0.999}]
    """
    U = _cube(space, U)
    columns = {dim.name: from_unit(dim, U[:, j]) for j, dim in enumerate(space.free)}
    return [{dim.name: _python(dim, columns, i) for dim in space.dims} for i in range(U.shape[0])]


def encode(space: SearchSpace, configs: Sequence) -> np.ndarray:
    """Unit coordinates ``U: (n, d)`` of n configurations (dicts or TrainConfigs).

    Each configuration needs every non-fixed dimension of the space; other keys are ignored.
    """
    rows = [c.to_dict() if isinstance(c, TrainConfig) else c for c in configs]
    columns = [
        to_unit(dim, [_entry(row, dim.name, i) for i, row in enumerate(rows)]) for dim in space.free
    ]
    return np.stack(columns, axis=1) if columns else np.empty((len(rows), 0))


def _position_to_unit(dim: Dimension, x: np.ndarray) -> np.ndarray:
    t = _SCALES[dim.dist][0]
    a, b = _scale_bounds(dim)
    if a == b:
        return np.full(np.shape(x), 0.5)
    return np.clip((t(x) - a) / (b - a), 0.0, 1.0)


def _unit_to_position(dim: Dimension, u: np.ndarray) -> np.ndarray:
    t_inverse = _SCALES[dim.dist][1]
    a, b = _scale_bounds(dim)
    return t_inverse(a + u * (b - a))


def _scale_bounds(dim: Dimension) -> tuple[float, float]:
    """``[t(low), t(high)]``; integer dims extend half a unit each side (their bin edges)."""
    t = _SCALES[dim.dist][0]
    pad = 0.5 if dim.dist in INTEGER else 0.0
    return float(t(np.float64(dim.low - pad))), float(t(np.float64(dim.high + pad)))


def _not_fixed(dim: Dimension) -> None:
    if not isinstance(dim, Dimension):
        raise InvalidArgument(f"Expected a Dimension. Got {dim!r} instead.")
    if dim.dist == "fixed":
        raise InvalidArgument(
            f"The '{dim.name}' dimension is fixed at {dim.value!r}; it has no unit coordinate."
        )


def _numbers(dim: Dimension, values) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgument(
            f"The '{dim.name}' dimension takes numbers. Got {values!r} instead."
        ) from None
    bad = ~((x >= dim.low) & (x <= dim.high))
    if dim.dist in INTEGER:
        bad |= np.floor(x) != x
    if bad.any():
        raise InvalidArgument(
            f"The '{dim.name}' dimension ({dim.dist} in [{dim.low}, {dim.high}]) cannot hold "
            f"{float(x[bad].flat[0])!r}; encode only values drawn from this space."
        )
    return x


def _choice_index(dim: Dimension, values) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise InvalidArgument(
            f"The '{dim.name}' dimension is a choice: pass a list of values. Got {values!r}."
        )
    index = {c: i for i, c in enumerate(dim.choices)}
    out = np.empty(len(values), dtype=np.int64)
    for k, v in enumerate(values):
        key = tuple(v) if isinstance(v, (list, np.ndarray)) else v
        try:
            out[k] = index[key]
        except (KeyError, TypeError):
            raise InvalidArgument(
                f"The '{dim.name}' dimension chooses among {list(dim.choices)}. Got {v!r}."
            ) from None
    return out


def _unit(dim: Dimension, u) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if not np.all((u >= 0) & (u <= 1)):
        raise InvalidArgument(
            f"Unit coordinates of '{dim.name}' must lie in [0, 1]. Got "
            f"{float(u[~((u >= 0) & (u <= 1))].flat[0])!r}."
        )
    return u


def _cube(space: SearchSpace, U) -> np.ndarray:
    U = np.asarray(U, dtype=np.float64)
    if U.ndim != 2 or U.shape[1] != space.d:
        raise InvalidArgument(
            f"The 'U' array must have shape (n, {space.d}): one column per non-fixed dimension "
            f"{[dim.name for dim in space.free]}. Got shape {U.shape} instead."
        )
    return U


def _python(dim: Dimension, columns: dict, i: int):
    if dim.dist == "fixed":
        return dim.value
    v = columns[dim.name][i]
    if dim.dist in CONTINUOUS:
        return float(v)
    return int(v) if dim.dist in INTEGER else v


def _entry(config: Mapping, name: str, i: int):
    try:
        return config[name]
    except (KeyError, TypeError):
        raise InvalidArgument(
            f"Configuration {i} has no '{name}' entry; encode needs every non-fixed dimension "
            "of the space."
        ) from None
