"""Samplers: points ``U: (n, d)`` in the unit cube, decoded into configurations by the transform.

The notes: "try random values, don't use a grid". :func:`random_unit` is the default;
:func:`sobol_unit` spreads the same budget more evenly (scrambled Sobol, a quasi-random
sequence); :func:`grid_unit` exists for comparison and is used only when asked for by name.

>>> from caviar.tuning.space import notes_space
>>> configs = sample(notes_space(), 4, method="sobol", seed=1)
>>> len(configs), sorted(configs[0])
(4, ['beta1', 'beta2', 'lr'])
"""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar.errors import InvalidArgument
from caviar.tuning.space import SearchSpace
from caviar.tuning.transform import decode


def random_unit(n: int, d: int, seed: int | None = 0) -> np.ndarray:
    """``U: (n, d)`` independent uniform draws in [0, 1) from ``numpy.random.default_rng(seed)``.

    The first rows do not depend on n: ``random_unit(10, d, s)[:5] == random_unit(5, d, s)``.
    """
    n, d = _sizes(n, d)
    return np.random.default_rng(_seed(seed)).random((n, d))


def sobol_unit(n: int, d: int, seed: int | None = 0) -> np.ndarray:
    """``U: (n, d)``: the first n points of a scrambled Sobol sequence seeded with ``seed``.

    Sobol points are balanced in blocks of a power of two, so when n is not one this draws the
    next power of two, 2^⌈log2 n⌉, and keeps the first n (still lower-discrepancy than random,
    but no longer exactly balanced).
    """
    from scipy.stats import qmc

    n, d = _sizes(n, d)
    if d == 0:
        return np.empty((n, 0))
    sobol = qmc.Sobol(d, scramble=True, seed=_seed(seed))
    return sobol.random_base2((n - 1).bit_length())[:n]


def grid_unit(n: int, d: int) -> np.ndarray:
    """``U: (n, d)``: the first n points of a full grid of L levels per dimension.

    L = ⌈n^(1/d)⌉ (computed in integers: the least L with L^d >= n); the levels are the bin
    centres (i + ½) / L. The L^d grid points are listed in lexicographic order (the last
    dimension varies fastest) and truncated to the first n, so when L^d > n the first
    dimension does not reach its top levels. With d > 1 a grid tries only L values of each
    hyperparameter where random search tries n; the notes' reason to prefer random search.

    >>> grid_unit(4, 2)
    array([[0.25, 0.25],
           [0.25, 0.75],
           [0.75, 0.25],
           [0.75, 0.75]])
    """
    n, d = _sizes(n, d)
    levels = _levels(n, d)
    index = np.arange(n)
    powers = [levels**k for k in reversed(range(d))]  # Python ints: no overflow for large d
    digits = [(index // p) % levels if p <= n else np.zeros(n, np.int64) for p in powers]
    return (np.stack(digits, axis=1) + 0.5) / levels if d else np.empty((n, 0))


SAMPLERS = {
    "random": lambda n, d, seed: random_unit(n, d, seed),
    "sobol": lambda n, d, seed: sobol_unit(n, d, seed),
    "grid": lambda n, d, seed: grid_unit(n, d),
}


def sample(space: SearchSpace, n: int, method: str = "random", seed: int | None = 0) -> list[dict]:
    """n configurations drawn from ``space`` by ``method`` (random, sobol or grid).

    ``seed`` makes random and Sobol draws reproducible; the grid ignores it.
    """
    if not isinstance(space, SearchSpace):
        raise InvalidArgument(f"The 'space' parameter must be a SearchSpace. Got {space!r}.")
    check.choice("method", method, tuple(SAMPLERS))
    return decode(space, SAMPLERS[method](n, space.d, seed))


def _levels(n: int, d: int) -> int:
    if d == 0:
        return 1
    levels = max(1, int(round(n ** (1 / d))))
    while levels**d < n:
        levels += 1
    while levels > 1 and (levels - 1) ** d >= n:
        levels -= 1
    return levels


def _sizes(n, d) -> tuple[int, int]:
    return check.positive_int("n", n), check.positive_int("d", d, minimum=0)


def _seed(seed):
    return None if seed is None else check.positive_int("seed", seed, minimum=0)
