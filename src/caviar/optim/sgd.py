"""Gradient descent and gradient descent with momentum, as the notes write them."""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar.optim.base import Optimizer, ewa

# The compiled twin of each update below (caviar.optim.base runs one fused pass a tile);
# each element's arithmetic is the NumPy path's, operation for operation.


@backends.compiled
def gd_kernel(P, G, alpha, r0, r1, c0, c1):  # pragma: no cover - compiled
    # W = W - α dW
    for r in range(r0, r1):
        a = alpha[r]
        p, g = P[r, c0:c1], G[r, c0:c1]
        for j in range(p.size):
            p[j] = p[j] - g[j] * a


@backends.compiled
def momentum_kernel(P, G, V, alpha, beta, one_minus_beta, r0, r1, c0, c1):  # pragma: no cover
    # V = β V + (1 - β) dW;  W = W - α V
    for r in range(r0, r1):
        a, b, omb = alpha[r], beta[r], one_minus_beta[r]
        p, g, v = P[r, c0:c1], G[r, c0:c1], V[r, c0:c1]
        for j in range(p.size):
            vj = v[j] * b + g[j] * omb
            v[j] = vj
            p[j] = p[j] - vj * a


class GradientDescent(Optimizer):
    """``W = W - α dW``, per member.

    >>> p = np.ones((1, 2)); GradientDescent([p]).step([np.ones((1, 2))], lr=0.5); p
    array([[0.5, 0.5]])
    """

    kernel = gd_kernel

    def _coefficients(self, alpha):
        return self._cast(alpha=alpha)

    def _update(self, p, g, state, tmp, c):
        np.multiply(g, c["alpha"], out=tmp)
        p -= tmp


class Momentum(Optimizer):
    """``V = β V + (1 - β) dW``;  ``W = W - α V``, with ``V`` starting at 0.

    Warning: this is the notes' form, not PyTorch's ``SGD(momentum=β)``, which computes
    ``V = β V + dW`` (and starts from ``V = dW``): for the same trajectory PyTorch needs
    ``lr = α (1 - β)`` and ``dampening=0``.
    """

    kernel = momentum_kernel

    moments = ("v",)

    def __init__(self, params, beta=0.9, *, backend="auto"):
        super().__init__(params, backend=backend)
        self.beta = self._hyper("beta", beta, check.FRACTION)

    def _coefficients(self, alpha):
        return self._cast(alpha=alpha, beta=self.beta, one_minus_beta=1 - self.beta)

    def _update(self, p, g, state, tmp, c):
        v = state["v"]
        ewa(v, g, c["beta"], c["one_minus_beta"], tmp)
        np.multiply(v, c["alpha"], out=tmp)
        p -= tmp
