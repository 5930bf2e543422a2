"""Gradient descent and gradient descent with momentum, as the notes write them."""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar.optim.base import Optimizer, ewa


class GradientDescent(Optimizer):
    """``W = W - α dW``, per member.

    >>> p = np.ones((1, 2)); GradientDescent([p]).step([np.ones((1, 2))], lr=0.5); p
    array([[0.5, 0.5]])
    """

    kernel_name = "gd"
    kernel_coefficients = ("alpha",)

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

    moments = ("v",)
    kernel_name = "momentum"
    kernel_coefficients = ("alpha", "beta", "one_minus_beta")

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
