"""Compiled, fused optimizer updates (optional: used when Numba is installed).

A NumPy Adam step is 13 array operations; even on cache-sized tiles each one is a separate
pass. The kernel here does the whole update of an element in registers, in one pass over
memory, on every core: for large updates it runs at memory speed. It computes exactly the
NumPy path's operations in the same order (no fused multiply-add, no fast-math), so the
numbers are the same; ``tests/test_optimizers.py`` checks both paths against each other.

``CAVIAR_KERNELS=numpy`` in the environment turns the kernels off.
"""

from __future__ import annotations

import os

import numpy as np

# Below this many numbers an update stays in NumPy: importing Numba (~0.25 s, once) and
# entering a parallel region would cost more than the kernel saves.
MIN_ELEMENTS = 1 << 20
_CHUNK = 4096
_kernels = None


def available() -> bool:
    """Whether the compiled kernels can be used (Numba importable and not turned off)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile() if os.environ.get("CAVIAR_KERNELS", "auto") != "numpy" else {}
    return bool(_kernels)


def adam(p, g, v, s, c: dict) -> None:
    """Adam on ``(K, n)`` arrays in place, with per-member coefficients ``c[name] (K,)``
    (those of :meth:`caviar.optim.adam.Adam._coefficients`)."""
    _kernels["adam"](
        p,
        g,
        v,
        s,
        c["beta1"],
        c["one_minus_beta1"],
        c["beta2"],
        c["one_minus_beta2"],
        c["decay"],
        c["inv_bc2"],
        c["eps"],
        c["step"],
        bool(c["decoupled"]),
    )


def _compile() -> dict:
    try:
        import numba
    except ImportError:
        return {}

    @numba.njit(parallel=True, cache=True, nogil=True)
    def adam_kernel(p, g, v, s, b1, omb1, b2, omb2, decay, ibc2, eps, step, decoupled):
        K, n = p.shape
        per_row = (n + _CHUNK - 1) // _CHUNK
        for c in numba.prange(K * per_row):
            k = c // per_row
            start = (c % per_row) * _CHUNK
            for j in range(start, min(start + _CHUNK, n)):
                gj = g[k, j]
                vj = v[k, j] * b1[k] + gj * omb1[k]
                sj = s[k, j] * b2[k] + (gj * gj) * omb2[k]
                v[k, j] = vj
                s[k, j] = sj
                pj = p[k, j]
                if decoupled:
                    pj = pj * decay[k]
                p[k, j] = pj - (vj / (np.sqrt(sj * ibc2[k]) + eps[k])) * step[k]

    return {"adam": adam_kernel}
