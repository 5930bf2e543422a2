"""Argument checks at the public boundary, with one message shape.

Messages read: ``The 'beta1' parameter must be in [0, 1). Got 1.0 (member 2) instead.``
Per-member hyperparameters are broadcast to shape ``(K,)`` here, once.
"""

from __future__ import annotations

import numpy as np

from caviar.errors import InvalidArgument


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def per_member(
    name: str,
    value,
    K: int,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    dtype=np.float64,
) -> np.ndarray:
    """Broadcast a scalar or a ``(K,)`` sequence to a float array ``(K,)`` and range-check it.

    Raises InvalidArgument naming ``name``, the allowed interval and the offending member.
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != K):
        raise InvalidArgument(
            f"The '{name}' parameter must be a scalar or have shape ({K},) (one value per "
            f"member). Got shape {arr.shape} instead."
        )
    arr = np.broadcast_to(arr, (K,)).astype(dtype)
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        where = f" (member {k})" if K > 1 else ""
        raise InvalidArgument(
            f"The '{name}' parameter must be in {_interval(low, high, low_open, high_open)}. "
            f"Got {float(arr[k])!r}{where} instead."
        )
    return arr


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """Check an integer argument ``>= minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(
            f"The '{name}' parameter must be an integer >= {minimum}. Got {value!r} instead."
        )
    return int(value)


def choice(name: str, value, allowed) -> str:
    """Check that ``value`` is one of ``allowed`` (strings)."""
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise InvalidArgument(
            f"The '{name}' parameter must be one of {options}. Got {value!r} instead."
        )
    return value


def finite_array(name: str, x: np.ndarray) -> None:
    """Refuse NaN or infinity in an input array, naming the first bad position."""
    if not np.all(np.isfinite(x)):
        pos = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise InvalidArgument(
            f"The '{name}' array must be finite. Got {x[pos]!r} at index {pos} instead; "
            "remove or impute non-finite values before training."
        )
