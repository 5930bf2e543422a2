"""Fused optimizer updates compiled with Numba: one pass over memory instead of one per operation.

Optional: with Numba installed (``pip install 'caviar-nn[fast]'``) the optimizers run these
kernels; without it, with ``backend="numpy"`` or with ``CAVIAR_OPTIM_BACKEND=numpy``, they
run the same equations as NumPy operations on cache-sized tiles (see
:mod:`caviar.optim.base`). Loading Numba and a cached kernel costs about 0.4 s once per
process (LLVM starts up), so :func:`caviar.population.build` declines the kernels for runs
too short to repay it. Measured on the 2-core machine over 10^7 float32 parameters
(``python -m benchmarks``): the NumPy tiles' 13 passes reach about 13 GB/s, one fused kernel
per tile about 58 GB/s (30 to 40 GB/s right after a matrix product).

Every kernel updates rows ``r0:r1`` and columns ``c0:c1`` of C-contiguous ``(K, n)`` views in
place, with the per-member coefficients of this step in ``C (n_coefficients, K)``, in the
order the optimizer's ``kernel_coefficients`` names them. Each element's arithmetic is the
NumPy path's, operation for operation (no fast-math, no fused multiply-add), so both paths
give the same numbers. The kernels release the GIL; :func:`caviar.optim.base._run` spreads
tiles over threads. Numba's own threads are not used: they would spin against OpenBLAS's
(measured: a 270k-parameter update went from 0.18 ms to 7 ms after a matrix product).
"""

from __future__ import annotations

import os

import numpy as np

from caviar.errors import InvalidArgument

BACKENDS = ("auto", "numba", "numpy")
# arrays (parameter, gradient, moments) and coefficients each kernel takes
_ARRAYS = {"gd": 2, "momentum": 3, "rmsprop": 3, "adam": 4}
_COEFFICIENTS = {"gd": 1, "momentum": 3, "rmsprop": 4, "adam": 8}
_PREPARED: set[tuple[str, str]] = set()
_KERNELS: dict[str, object] | None = None
_ERROR: str | None = None


def backend_setting() -> str:
    """``CAVIAR_OPTIM_BACKEND`` (``auto``, ``numba`` or ``numpy``; default ``auto``)."""
    value = os.environ.get("CAVIAR_OPTIM_BACKEND", "auto").strip().lower() or "auto"
    if value not in BACKENDS:
        raise InvalidArgument(
            f"CAVIAR_OPTIM_BACKEND={value!r} is not one of {', '.join(BACKENDS)}. "
            "Unset it or pick one of those."
        )
    return value


def available() -> bool:
    """True when Numba imports (the kernels compile on first use)."""
    return _load() is not None


def loaded() -> bool:
    """True when this process has loaded Numba already (its start-up cost is paid)."""
    return _KERNELS is not None


def kernel(name: str):
    """The compiled kernel ``name`` (``gd``, ``momentum``, ``rmsprop``, ``adam``), or None
    without Numba."""
    kernels = _load()
    return None if kernels is None else kernels[name]


def prepare(name: str, dtype) -> None:
    """Compile (or load from Numba's cache) kernel ``name`` for ``dtype`` now, so that the
    first training step does not pay for it. Once per process and dtype; a no-op without
    Numba."""
    key = (name, np.dtype(dtype).name)
    if key in _PREPARED or kernel(name) is None:
        return
    P = np.zeros((1, 1), dtype=dtype)
    arrays = [P.copy() for _ in range(_ARRAYS[name])]
    kernel(name)(*arrays, np.ones((_COEFFICIENTS[name], 1), dtype=dtype), 0, 1, 0, 1)
    _PREPARED.add(key)


def unavailable_reason() -> str | None:
    """Why Numba could not be loaded, or None."""
    _load()
    return _ERROR


def _load() -> dict[str, object] | None:
    global _KERNELS, _ERROR
    if _KERNELS is None and _ERROR is None:
        try:
            _KERNELS = _compile()
        except ImportError as exc:  # Numba is optional
            _ERROR = f"Numba is not installed ({exc}); pip install 'caviar-nn[fast]'"
    return _KERNELS


def _compile() -> dict[str, object]:
    import numba

    # error_model="numpy" lets division and sqrt vectorise (no Python-style zero checks), and
    # so does looping over a row's slice from 0 (no negative-index wraparound to check); a
    # loop over P[r, j] for j in range(c0, c1) ran at a third of the speed. cache=True keeps
    # the machine code between processes.
    jit = numba.njit(nogil=True, cache=True, error_model="numpy")

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
