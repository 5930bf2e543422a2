"""Argument rules and checks at the public boundary, with one message shape.

Messages read: ``The 'beta1' parameter must be in [0, 1). Got 1.0 (member 2) instead.``
A rule (:class:`Interval`, :class:`OneOf`) is data: the engine's constructors check their
arguments with it, :class:`~caviar.config.TrainConfig` declares one per field, and the search
space and the command line's option types read the same objects. Per-member hyperparameters
are broadcast to shape ``(K,)`` here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from caviar.errors import InvalidArgument


@dataclass(frozen=True)
class Interval:
    """Numbers in ``[low, high]`` (an end may be open, or None for infinite); ``integer``
    asks for whole numbers. Non-finite values are never inside.

    >>> str(Interval(0, 1, high_open=True)), Interval(0, 1, high_open=True).contains(1.0)
    ('[0, 1)', False)
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __str__(self) -> str:
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{lo}, {hi}{right}"

    def describe(self) -> str:
        """The rule in words: ``in (0, inf)`` or ``an integer in [1, inf)``."""
        return f"{'an integer ' if self.integer else ''}in {self}"

    def outside(self, x: np.ndarray) -> np.ndarray:
        """A boolean mask of the values of ``x`` (any shape) that break the rule."""
        x = np.asarray(x, dtype=np.float64)
        bad = ~np.isfinite(x)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                bad |= (x <= self.low) if self.low_open else (x < self.low)
            if self.high is not None:
                bad |= (x >= self.high) if self.high_open else (x > self.high)
            if self.integer:
                bad |= np.floor(x) != x
        return bad

    def contains(self, x) -> bool:
        if isinstance(x, (int, float)) and not isinstance(x, bool):  # the common case, fast
            return _scalar_inside(self, float(x))
        return not bool(self.outside(x).any())


def _scalar_inside(rule: Interval, x: float) -> bool:
    if not math.isfinite(x) or (rule.integer and not x.is_integer()):
        return False
    if rule.low is not None and (x <= rule.low if rule.low_open else x < rule.low):
        return False
    return rule.high is None or (x < rule.high if rule.high_open else x <= rule.high)


@dataclass(frozen=True)
class OneOf:
    """One of a fixed tuple of names."""

    choices: tuple

    def __str__(self) -> str:
        return ", ".join(repr(c) for c in self.choices)

    def describe(self) -> str:
        return f"one of {self}"

    def contains(self, x) -> bool:
        return x in self.choices


# The rules the engine and the configuration share.
POSITIVE = Interval(0, None, low_open=True)  # (0, inf): α, ε, k
NON_NEGATIVE = Interval(0, None)  # [0, inf): λ, decay rates, α_min
FRACTION = Interval(0, 1, high_open=True)  # [0, 1): β, momentum, held-out shares
SHARE = Interval(0, 1, low_open=True)  # (0, 1]: keep_prob, decay bases, drops
OPEN_UNIT = Interval(0, 1, low_open=True, high_open=True)  # (0, 1): plateau factor
COUNT = Interval(1, None, integer=True)  # 1, 2, ...: epochs, batch size
NON_NEGATIVE_INT = Interval(0, None, integer=True)  # 0, 1, ...: seeds, patience


def per_member(name: str, value, K: int, rule: Interval, *, dtype=np.float64) -> np.ndarray:
    """Broadcast a scalar or a ``(K,)`` sequence to a float array ``(K,)`` and check ``rule``.

    Raises InvalidArgument naming ``name``, the rule and the offending member.
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != K):
        raise InvalidArgument(
            f"The '{name}' parameter must be a scalar or have shape ({K},) (one value per "
            f"member). Got shape {arr.shape} instead."
        )
    arr = np.broadcast_to(arr, (K,)).astype(dtype)
    bad = rule.outside(arr)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        where = f" (member {k})" if K > 1 else ""
        raise InvalidArgument(
            f"The '{name}' parameter must be {rule.describe()}. Got {float(arr[k])!r}{where} "
            "instead."
        )
    return arr


def scalar(name: str, value, rule: Interval) -> float:
    """One number checked against ``rule``."""
    return float(per_member(name, value, 1, rule)[0])


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
        raise InvalidArgument(
            f"The '{name}' parameter must be {OneOf(tuple(allowed)).describe()}. "
            f"Got {value!r} instead."
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
