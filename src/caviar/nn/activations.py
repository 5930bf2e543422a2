"""Element-wise activations and inverted dropout, forward and backward side by side.

Every array is ``(K, B, n)``; outputs and input-gradients live in reused buffers.
"""

from __future__ import annotations

import numpy as np

from caviar import backend as backends
from caviar.nn.layer import Layer


class ReLU(Layer):
    """``a = max(z, 0)``; ``dz = da · [a > 0]`` (cache: ``a``), written over ``da``.

    With ``inplace = True`` (set by :class:`~caviar.nn.network.Network`, whose layer below
    hands over a scratch buffer) ``a`` is written over ``z``: one ``(K, B, n)`` buffer fewer.
    """

    inplace = False
    backend = "numpy"  # or "numba": one compiled pass, no mask buffer (set by Network)
    # folded into the batch norm below it (see BatchNorm.relu_after): in training, that
    # layer's output is already max(z, 0) and its backward pass applies the mask
    folded = False

    def forward(self, z, training):
        if self.folded and training:
            self._a, self._passed = z, True
            return z
        self._passed = False
        out = z if self.inplace else self.ws.get("a", z.shape)
        self._a = np.maximum(z, 0, out=out)
        return self._a

    def backward(self, da):
        """In place: ``da`` (the next layer's scratch) becomes ``dz``, saving a buffer."""
        if self._passed:
            return da  # the batch norm below masks it
        a = self._a
        if self.backend == "numba" and a.shape == da.shape and _contiguous(a, da):
            backends.run_members(relu_backward_kernel, da.shape[0], da.size, da, a)
            return da
        positive = np.greater(self._a, 0, out=self.ws.get("positive", da.shape, dtype=bool))
        return np.multiply(da, positive, out=da)


class LeakyReLU(Layer):
    """``a = max(z, slope · z)`` for ``0 < slope < 1``; ``dz = da · (1 if z > 0 else slope)``.

    Cache: ``a`` (``a > 0`` exactly when ``z > 0``).
    """

    def __init__(self, slope: float, dtype):
        super().__init__(dtype)
        self.slope = float(slope)

    def forward(self, z, training):
        a = np.multiply(z, self.slope, out=self.ws.get("a", z.shape))
        self._a = np.maximum(z, a, out=a)
        return a

    def backward(self, da):
        dz = self.ws.get("dz", da.shape)
        neg = np.less_equal(self._a, 0, out=self.ws.get("neg", da.shape, dtype=bool))
        np.copyto(dz, da)
        np.multiply(dz, self.slope, out=dz, where=neg)
        return dz


class Tanh(Layer):
    """``a = tanh(z)``; ``dz = da · (1 - a²)`` (cache: ``a``)."""

    def forward(self, z, training):
        self._a = np.tanh(z, out=self.ws.get("a", z.shape))
        return self._a

    def backward(self, da):
        dz = np.multiply(self._a, self._a, out=self.ws.get("dz", da.shape))
        np.subtract(1, dz, out=dz)
        dz *= da
        return dz


class Sigmoid(Layer):
    """``a = 1 / (1 + e^-z)``, computed as ``(1 + tanh(z/2)) / 2`` (no overflow);
    ``dz = da · a (1 - a)`` (cache: ``a``)."""

    def forward(self, z, training):
        a = np.multiply(z, 0.5, out=self.ws.get("a", z.shape))
        np.tanh(a, out=a)
        a *= 0.5
        a += 0.5
        self._a = a
        return a

    def backward(self, da):
        dz = np.subtract(1, self._a, out=self.ws.get("dz", da.shape))
        dz *= self._a
        dz *= da
        return dz


class Dropout(Layer):
    """Inverted dropout with a per-member keep probability ``keep_prob (K,)``.

    Training: ``mask = [u < keep_prob] / keep_prob`` with ``u ~ U[0, 1)`` drawn from member
    k's own generator, ``a = z · mask``; ``dz = da · mask`` (cache: ``mask``).
    Inference: the identity (the ``1/keep_prob`` scaling already kept the expected value).
    """

    def __init__(self, keep_prob: np.ndarray, rngs: list[np.random.Generator], dtype):
        super().__init__(dtype)
        K = len(rngs)
        self.keep_prob = np.asarray(keep_prob, dtype=dtype).reshape(K, 1, 1)
        self.inv_keep = (1.0 / np.asarray(keep_prob, dtype=np.float64)).astype(dtype)
        self.inv_keep = self.inv_keep.reshape(K, 1, 1)
        self.rngs = rngs

    def forward(self, z, training):
        if not training:
            return z
        mask = self.ws.get("mask", z.shape)
        keep = self.ws.get("keep", z.shape, dtype=bool)
        for k, rng in enumerate(self.rngs):
            rng.random(out=mask[k], dtype=mask.dtype)
        np.less(mask, self.keep_prob, out=keep)  # u < p: probability p, and always when p = 1
        np.multiply(keep, self.inv_keep, out=mask)
        self._mask = mask
        return np.multiply(z, mask, out=self.ws.get("a", z.shape))

    def backward(self, da):
        return np.multiply(da, self._mask, out=self.ws.get("dz", da.shape))

    def rng_states(self) -> list[dict]:
        return [rng.bit_generator.state for rng in self.rngs]

    def set_rng_states(self, states: list[dict]) -> None:
        for rng, state in zip(self.rngs, states, strict=True):
            rng.bit_generator.state = state


def _contiguous(*arrays) -> bool:
    return all(a.flags.c_contiguous for a in arrays)


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid}


@backends.compiled
def relu_backward_kernel(da, act, k0, k1):
    # da = da · [act > 0], in place (a product, so NaN stays NaN as in NumPy)
    for k in range(k0, k1):
        d, x = da[k].ravel(), act[k].ravel()
        for j in range(d.size):
            if not x[j] > 0:
                d[j] = d[j] * 0.0  # -0.0 and NaN as NumPy's da · False
