"""Generic array helpers shared by the layers, the optimizers and the batcher.

Shapes: K members first. Nothing here knows what a layer or an optimizer is.
"""

from __future__ import annotations

import numpy as np


class Workspace:
    """Buffers reused for every step with the same shapes, so a step allocates nothing.

    ``get(name, shape)`` returns the same array each time it is asked for the same
    name and shape, so after the first step of each batch size nothing is allocated.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype=None) -> np.ndarray:
        key = (name, shape)
        arr = self._arrays.get(key)
        if arr is None:
            arr = np.empty(shape, dtype=dtype or self.dtype)
            self._arrays[key] = arr
        return arr

    def clear(self) -> None:
        self._arrays.clear()


def batch_sum(x: np.ndarray, out: np.ndarray, ws: Workspace) -> np.ndarray:
    """``Σ_B x`` for ``x (K, B, n)`` into ``out (K, 1, n)``, as the product ``1ᵀ x``: BLAS
    does it several times faster than ``np.sum(axis=1)`` (docs/performance.md)."""
    ones = ws.get("ones_batch", (1, x.shape[1]))
    ones.fill(1)
    return np.matmul(ones, x, out=out)


def member_view(a: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape per-member values ``(K,)`` to ``(K, 1, ..., 1)`` with ``ndim`` axes."""
    return a.reshape((a.shape[0],) + (1,) * (ndim - 1))
