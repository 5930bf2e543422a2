"""RMSprop: divide the step by a running root mean square of the gradient."""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar.optim.base import Optimizer, ewa_square, rms_step


@backends.compiled
def rmsprop_kernel(P, G, S, alpha, beta2, one_minus_beta2, eps, r0, r1, c0, c1):  # pragma: no cover
    # S = β₂ S + (1 - β₂) dW²;  W = W - α dW / (√S + ε)
    for r in range(r0, r1):
        a, b2, omb2, e = alpha[r], beta2[r], one_minus_beta2[r], eps[r]
        p, g, s = P[r, c0:c1], G[r, c0:c1], S[r, c0:c1]
        for j in range(p.size):
            gj = g[j]
            sj = s[j] * b2 + (gj * gj) * omb2
            s[j] = sj
            p[j] = p[j] - (gj / (np.sqrt(sj) + e)) * a


class RMSprop(Optimizer):
    """``S = β₂ S + (1 - β₂) dW²``;  ``W = W - α dW / (√S + ε)``, with ``S`` starting at 0.

    No bias correction (as in the notes and in PyTorch's ``RMSprop(alpha=β₂)``); Adam with
    ``β₁ = 0`` is the bias-corrected variant.
    """

    kernel = rmsprop_kernel

    moments = ("s",)

    def __init__(self, params, beta2=0.999, eps=1e-8, *, backend="auto"):
        super().__init__(params, backend=backend)
        self.beta2 = self._hyper("beta2", beta2, check.FRACTION)
        self.eps = self._hyper("eps", eps, check.POSITIVE)

    def _coefficients(self, alpha):
        return self._cast(
            alpha=alpha, beta2=self.beta2, one_minus_beta2=1 - self.beta2, eps=self.eps
        )

    def _update(self, p, g, state, tmp, c):
        s = state["s"]
        ewa_square(s, g, c["beta2"], c["one_minus_beta2"], tmp)
        rms_step(p, g, s, c["alpha"], c["eps"], tmp)
