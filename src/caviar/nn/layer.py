"""The layer contract: forward and backward into reused buffers (see :mod:`caviar._arrays`).

Shapes: K members, B examples in the mini-batch (the notes' m), n units.
Activations are ``(K, B, n)``; the network's input may also be shared ``(B, n)``.
"""

from __future__ import annotations

import numpy as np

from caviar._arrays import Workspace


class Layer:
    """A layer: ``forward(x, training)`` then ``backward(dy)``, both into reused buffers.

    ``params`` and ``grads`` are parallel lists of arrays with leading axis K; ``names``
    names them. ``backward`` must follow the ``forward`` of the same mini-batch (the cache
    between them is named in each layer's docstring). The arrays returned by ``forward`` and
    ``backward`` are workspace buffers: valid until the next call; ``backward`` may write its
    result over ``dy`` (a scratch buffer of the layer above).
    """

    params: list[np.ndarray]
    grads: list[np.ndarray]
    names: list[str]

    def __init__(self, dtype):
        self.ws = Workspace(dtype)
        self.params, self.grads, self.names = [], [], []

    def _add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        p = np.ascontiguousarray(value, dtype=self.ws.dtype)
        self.params.append(p)
        self.grads.append(np.zeros_like(p))
        self.names.append(name)
        return p

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Non-learned state that a checkpoint must keep (running statistics)."""
        return {}
