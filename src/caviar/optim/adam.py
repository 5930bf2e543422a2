"""Adam: momentum plus RMSprop plus bias correction, with optional decoupled weight decay."""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar.optim.base import Optimizer, ewa, ewa_square, rms_step


@backends.compiled
def adam_kernel(  # pragma: no cover - compiled
    P, G, V, S, step, inv_bc2, eps, decay, beta1, one_minus_beta1, beta2, one_minus_beta2,
    r0, r1, c0, c1
):  # fmt: skip
    # V = β₁ V + (1 - β₁) dW;  S = β₂ S + (1 - β₂) dW²;  W = W · (1 - α λ)
    # W = W - (α / (1 - β₁ᵗ)) · V / (√(S / (1 - β₂ᵗ)) + ε)
    for r in range(r0, r1):
        st, ib2, e, dec = step[r], inv_bc2[r], eps[r], decay[r]
        b1, omb1, b2, omb2 = beta1[r], one_minus_beta1[r], beta2[r], one_minus_beta2[r]
        p, g, v, s = P[r, c0:c1], G[r, c0:c1], V[r, c0:c1], S[r, c0:c1]
        for j in range(p.size):
            gj = g[j]
            vj = v[j] * b1 + gj * omb1
            sj = s[j] * b2 + (gj * gj) * omb2
            v[j] = vj
            s[j] = sj
            p[j] = p[j] * dec - (vj / (np.sqrt(sj * ib2) + e)) * st


class Adam(Optimizer):
    """Adam with bias correction on both moments and ε outside the square root::

        V = β₁ V + (1 - β₁) dW            S = β₂ S + (1 - β₂) dW²
        V̂ = V / (1 - β₁ᵗ)                 Ŝ = S / (1 - β₂ᵗ)
        W = W - α V̂ / (√Ŝ + ε)

    ``t`` counts this optimizer's steps from 1. With ``weight_decay = λ > 0`` it is AdamW:
    ``W = W · (1 - α λ)`` before the update (decoupled from the gradient, as in PyTorch's
    ``AdamW``). Computed as ``W -= (α / (1 - β₁ᵗ)) · V / (√(S / (1 - β₂ᵗ)) + ε)``: the same
    equation with one pass fewer.

    >>> p = np.zeros((1, 1)); opt = Adam([p])
    >>> opt.step([np.full((1, 1), 3.0)], lr=0.1); np.round(p, 6)   # first step moves by ~α
    array([[-0.1]])
    """

    kernel = adam_kernel

    moments = ("v", "s")
    default_weight_decay = 0.0  # λ when weight_decay is not given (AdamW: 0.01)

    def __init__(
        self,
        params,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=None,
        *,
        backend="auto",
    ):
        super().__init__(params, backend=backend)
        if weight_decay is None:
            weight_decay = self.default_weight_decay
        self.beta1 = self._hyper("beta1", beta1, check.FRACTION)
        self.beta2 = self._hyper("beta2", beta2, check.FRACTION)
        self.eps = self._hyper("eps", eps, check.POSITIVE)
        self.weight_decay = self._hyper("weight_decay", weight_decay, check.NON_NEGATIVE)

    def _coefficients(self, alpha):
        t = self.t.astype(np.float64)
        return self._cast(
            step=alpha / (1 - self.beta1**t),
            inv_bc2=1 / (1 - self.beta2**t),
            beta1=self.beta1,
            one_minus_beta1=1 - self.beta1,
            beta2=self.beta2,
            one_minus_beta2=1 - self.beta2,
            eps=self.eps,
            decay=1 - alpha * self.weight_decay,
        )

    def _update(self, p, g, state, tmp, c):
        v, s = state["v"], state["s"]
        ewa(v, g, c["beta1"], c["one_minus_beta1"], tmp)
        ewa_square(s, g, c["beta2"], c["one_minus_beta2"], tmp)
        if self.weight_decay.any():
            p *= c["decay"]
        rms_step(p, v, s, c["step"], c["eps"], tmp, c["inv_bc2"])


class AdamW(Adam):
    """Adam with decoupled weight decay (default ``λ = 0.01``); see :class:`Adam`."""

    default_weight_decay = 0.01
