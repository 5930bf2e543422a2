"""Fused optimizer updates compiled with Numba: one pass over memory instead of one per operation.

With Numba installed (see :mod:`caviar.backend`) the optimizers run these kernels; with
``backend="numpy"`` they run the same equations as NumPy operations on cache-sized tiles
(see :mod:`caviar.optim.base`). Measured on the 2-core machine over 10^7 float32 parameters
(``python -m benchmarks``): the NumPy tiles' 13 passes reach about 13 GB/s, one fused kernel
per tile about 58 GB/s (30 to 40 GB/s right after a matrix product).

Every kernel updates rows ``r0:r1`` and columns ``c0:c1`` of C-contiguous ``(K, n)`` views in
place, with the per-member coefficients of this step in ``C (n_coefficients, K)``, in the
order the optimizer's ``kernel_coefficients`` names them. Each element's arithmetic is the
NumPy path's, operation for operation (no fast-math, no fused multiply-add), so both paths
give the same numbers. The kernels release the GIL; :func:`caviar.backend.run_jobs` spreads
tiles over two threads.
"""

from __future__ import annotations

import numpy as np

from caviar import backend

# arrays (parameter, gradient, moments) and coefficients each kernel takes
_ARRAYS = {"gd": 2, "momentum": 3, "rmsprop": 3, "adam": 4}
_COEFFICIENTS = {"gd": 1, "momentum": 3, "rmsprop": 4, "adam": 8}
KERNELS = tuple(_ARRAYS)  # one fused update per optimizer
_PREPARED: set[tuple[str, str]] = set()
_KERNELS: dict[str, object] | None = None


def kernel(name: str):
    """The compiled kernel ``name`` (``gd``, ``momentum``, ``rmsprop``, ``adam``); Numba
    must be installed (:func:`caviar.backend.available`)."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _compile()
    return _KERNELS[name]


def prepare(name: str, dtype) -> None:
    """Compile (or load from Numba's cache) kernel ``name`` for ``dtype`` now, so that the
    first training step does not pay for it. Once per process and dtype."""
    key = (name, np.dtype(dtype).name)
    if key in _PREPARED:
        return
    P = np.zeros((1, 1), dtype=dtype)
    arrays = [P.copy() for _ in range(_ARRAYS[name])]
    kernel(name)(*arrays, np.ones((_COEFFICIENTS[name], 1), dtype=dtype), 0, 1, 0, 1)
    _PREPARED.add(key)


def _compile() -> dict[str, object]:
    # Loop over a row's slice from 0 (``p = P[r, c0:c1]``): indexing P[r, j] for j in
    # range(c0, c1) kept LLVM from vectorising (no proof that j >= 0), a third of the speed.
    jit = backend.jit()

    @jit
    def gd(P, G, C, r0, r1, c0, c1):  # pragma: no cover - compiled
        # W = W - α dW
        for r in range(r0, r1):
            alpha = C[0, r]
            p, g = P[r, c0:c1], G[r, c0:c1]
            for j in range(p.size):
                p[j] = p[j] - g[j] * alpha

    @jit
    def momentum(P, G, V, C, r0, r1, c0, c1):  # pragma: no cover - compiled
        # V = β V + (1 - β) dW;  W = W - α V
        for r in range(r0, r1):
            alpha, beta, omb = C[0, r], C[1, r], C[2, r]
            p, g, v = P[r, c0:c1], G[r, c0:c1], V[r, c0:c1]
            for j in range(p.size):
                vj = v[j] * beta + g[j] * omb
                v[j] = vj
                p[j] = p[j] - vj * alpha

    @jit
    def rmsprop(P, G, S, C, r0, r1, c0, c1):  # pragma: no cover - compiled
        # S = β₂ S + (1 - β₂) dW²;  W = W - α dW / (√S + ε)
        for r in range(r0, r1):
            alpha, beta2, omb2, eps = C[0, r], C[1, r], C[2, r], C[3, r]
            p, g, s = P[r, c0:c1], G[r, c0:c1], S[r, c0:c1]
            for j in range(p.size):
                gj = g[j]
                sj = s[j] * beta2 + (gj * gj) * omb2
                s[j] = sj
                p[j] = p[j] - (gj / (np.sqrt(sj) + eps)) * alpha

    @jit
    def adam(P, G, V, S, C, r0, r1, c0, c1):  # pragma: no cover - compiled
        # V = β₁ V + (1 - β₁) dW;  S = β₂ S + (1 - β₂) dW²;  W = W · (1 - α λ)
        # W = W - (α / (1 - β₁ᵗ)) · V / (√(S / (1 - β₂ᵗ)) + ε)
        for r in range(r0, r1):
            step, inv_bc2, eps, decay = C[0, r], C[1, r], C[2, r], C[3, r]
            beta1, omb1, beta2, omb2 = C[4, r], C[5, r], C[6, r], C[7, r]
            p, g, v, s = P[r, c0:c1], G[r, c0:c1], V[r, c0:c1], S[r, c0:c1]
            for j in range(p.size):
                gj = g[j]
                vj = v[j] * beta1 + gj * omb1
                sj = s[j] * beta2 + (gj * gj) * omb2
                v[j] = vj
                s[j] = sj
                p[j] = p[j] * decay - (vj / (np.sqrt(sj * inv_bc2) + eps)) * step

    return {"gd": gd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam}
