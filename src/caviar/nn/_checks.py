"""The network's boundary checks: sizes, activations, seeds and parameter shapes, each refused
with the house's message shape."""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar.errors import InvalidArgument
from caviar.nn.activations import ACTIVATIONS


def fit_shape(name: str, value: np.ndarray, p: np.ndarray, sizes) -> np.ndarray:
    """``value`` reshaped to broadcast onto parameter ``p``, or an error naming both shapes."""
    K, inner = p.shape[0], p.shape[1:]
    allowed = [p.shape, inner]
    if inner[0] == 1:
        allowed += [(K,) + inner[1:], inner[1:]]
    if value.shape not in allowed:
        raise InvalidArgument(
            f"The '{name}' array must have one of the shapes {allowed} (layer sizes "
            f"{list(sizes)} must chain). Got shape {value.shape} instead."
        )
    if value.shape == (K,) + inner[1:] and inner[0] == 1:
        return value.reshape(p.shape)
    return value


def check_activations(activation, n_hidden: int) -> tuple[str, ...]:
    names = (activation,) * n_hidden if isinstance(activation, str) else tuple(activation)
    if len(names) != n_hidden:
        raise InvalidArgument(
            f"The 'activation' parameter must be one name or one per hidden layer ({n_hidden}). "
            f"Got {list(names)} instead."
        )
    for name in names:
        check.choice("activation", name, tuple(ACTIVATIONS))
    return names


def check_sizes(sizes) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise InvalidArgument(
            "The 'sizes' parameter must list at least the input and output sizes, e.g. "
            f"[64, 32, 10]. Got {list(sizes)} instead."
        )
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidArgument(
                f"The 'sizes' parameter must hold positive integers (layer widths). "
                f"Got {n!r} at position {i} instead."
            )
    if sizes[-1] < 2:
        raise InvalidArgument(
            "The 'sizes' parameter must end with the number of classes, at least 2. "
            f"Got {sizes[-1]} instead."
        )
    return tuple(int(n) for n in sizes)


def check_seeds(seeds, K: int) -> np.ndarray:
    if seeds is None:
        seeds = np.arange(K)
    arr = np.atleast_1d(np.asarray(seeds))
    if arr.shape != (K,) and arr.shape == (1,):
        arr = arr + np.arange(K) if K > 1 else arr
    if arr.shape != (K,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise InvalidArgument(
            f"The 'seeds' parameter must be one non-negative integer per member, shape ({K},). "
            f"Got {seeds!r} instead."
        )
    return arr.astype(np.int64)


def checked_input(X, n0: int, K: int, dtype) -> np.ndarray:
    """``X`` as a C-contiguous array of ``dtype``, ``(B, n0)`` or ``(K, B, n0)``, finite, B >= 1."""
    X = np.asarray(X)
    ok = X.ndim in (2, 3) and X.shape[-1] == n0 and (X.ndim == 2 or X.shape[0] == K)
    if not ok:
        raise InvalidArgument(
            f"The 'X' array must have shape (B, {n0}) or ({K}, B, {n0}). "
            f"Got shape {X.shape} instead."
        )
    if X.shape[-2] == 0:
        raise InvalidArgument("The 'X' array must hold at least one example. Got 0 rows.")
    check.finite_array("X", X)
    return np.ascontiguousarray(X, dtype=dtype)


def targets(y, B: int, C: int, dtype) -> np.ndarray:
    """One-hot ``Y (B, C)`` from labels ``(B,)`` in ``[0, C)`` or a one-hot ``(B, C)``."""
    y = np.asarray(y)
    if y.shape == (B, C):
        return np.ascontiguousarray(y, dtype=dtype)
    if y.shape != (B,) or not np.issubdtype(y.dtype, np.integer):
        raise InvalidArgument(
            f"The 'y' array must hold {B} integer labels (shape ({B},)) or be one-hot of "
            f"shape ({B}, {C}). Got shape {y.shape} and dtype {y.dtype} instead."
        )
    if y.min() < 0 or y.max() >= C:
        bad = y[(y < 0) | (y >= C)][0]
        raise InvalidArgument(
            f"The 'y' labels must be in [0, {C - 1}] for a network with {C} outputs. "
            f"Got {bad} instead."
        )
    return one_hot(y, C, dtype)


def one_hot(y: np.ndarray, C: int, dtype) -> np.ndarray:
    """``Y (B, C)`` with ``Y[i, y_i] = 1``."""
    Y = np.zeros((y.shape[0], C), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y
