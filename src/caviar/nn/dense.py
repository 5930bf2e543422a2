"""Fully connected layer ``Z = A_prev W + b`` for K members at once."""

from __future__ import annotations

import numpy as np

from caviar._arrays import batch_sum
from caviar.nn.layer import Layer


class Dense(Layer):
    """``Z = A_prev @ W + b``.

    Shapes: ``A_prev (K, B, n_in)`` or shared ``(B, n_in)``, ``W (K, n_in, n_out)``,
    ``b (K, 1, n_out)`` (absent when ``bias=False``, as before batch norm, whose mean
    subtraction cancels it), ``Z (K, B, n_out)``.

    Backward (cache: ``A_prev``): ``dW = A_prevᵀ dZ``, ``db = Σ_B dZ``, ``dA_prev = dZ Wᵀ``.
    ``need_dx = False`` skips ``dA_prev`` for the first layer.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray | None, dtype):
        super().__init__(dtype)
        self.W = self._add_param("W", W)
        self.b = None if b is None else self._add_param("b", b)
        self.need_dx = True
        self._x: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.W.shape[1], self.W.shape[2]

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        K, B = self.W.shape[0], x.shape[-2]
        z = self.ws.get("z", (K, B, self.W.shape[2]))
        np.matmul(x, self.W, out=z)
        if self.b is not None:
            z += self.b
        self._x = x
        return z

    def backward(self, dz: np.ndarray) -> np.ndarray | None:
        x = self._x
        np.matmul(x.swapaxes(-1, -2), dz, out=self.grads[0])
        if self.b is not None:
            batch_sum(dz, self.grads[1], self.ws)
        if not self.need_dx:
            return None
        dx = self.ws.get("dx", dz.shape[:2] + (self.W.shape[1],))
        return np.matmul(dz, self.W.swapaxes(-1, -2), out=dx)
