"""Batch norm, ReLU and the softmax loss as compiled loops (Numba), member by member.

The NumPy versions in :mod:`caviar.nn.batchnorm` and :mod:`caviar.nn.activations` take 10 to
12 array operations per batch-norm pass, each a trip through memory (or, for small arrays,
through NumPy's per-call overhead). These kernels compute the same equations member by
member: the statistics of member k's ``(B, n)`` block, then its outputs while the block is
still in cache. Sums run in example order, so they differ from the BLAS sums of the NumPy
path by rounding only (the tests hold the two to 1e-12 in float64).

Every kernel takes members ``k0:k1``; :func:`caviar.backend.run_jobs` hands member ranges to
two threads when the arrays are large enough. Shapes: ``z, xc, y, dy, dx (K, B, n)``,
per-unit arrays ``(K, n)``.
"""

from __future__ import annotations

import numpy as np

from caviar import backend

_KERNELS: dict[str, object] | None = None
_PREPARED: set[np.dtype] = set()
# below this many numbers a layer's kernel runs on one thread (handing over costs more)
PARALLEL_ELEMENTS = 1 << 18


def kernel(name: str):
    """``bn_forward``, ``bn_backward``, ``relu_backward`` or ``softmax_cross_entropy``,
    compiled on first use."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _compile()
    return _KERNELS[name]


def prepare(dtype) -> None:
    """Compile (or load from Numba's cache) every layer kernel for ``dtype`` now, on tiny
    arrays, so that a failure shows when the network is built and the first step does not
    pay for it. Once per process and dtype."""
    dtype = np.dtype(dtype)
    if dtype in _PREPARED:
        return
    z = np.ones((1, 2, 2), dtype=dtype)
    vec = [np.ones((1, 2), dtype=dtype) for _ in range(6)]
    kernel("bn_forward")(z, z.copy(), z.copy(), *vec, 1e-5, False, True, 0, 1)
    kernel("bn_backward")(z, z.copy(), z.copy(), *vec, False, z.copy(), 0, 1)
    kernel("relu_backward")(z.copy(), z, 0, 1)
    kernel("softmax_cross_entropy")(z, z[0], z.copy(), np.empty(1, dtype=dtype), 0, 1)
    _PREPARED.add(dtype)


def run(name: str, K: int, size: int, *args) -> None:
    """Kernel ``name`` over members 0..K, split in member ranges over two threads when the
    arrays hold ``size >= PARALLEL_ELEMENTS`` numbers."""
    fn = kernel(name)
    if K == 1 or size < PARALLEL_ELEMENTS:
        fn(*args, 0, K)  # the common small case, without the job list (8 µs a call)
        return
    parts = min(K, 2 * backend.thread_count())
    bounds = [K * i // parts for i in range(parts + 1)]
    jobs = [(*args, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    backend.run_jobs(fn, jobs, True)


def _compile() -> dict[str, object]:
    jit = backend.jit()

    @jit
    def bn_forward(z, xc, y, gamma, beta, mu, var, inv_std, scale, eps, same, relu, k0, k1):
        # mu = (1/m) Σ z;  xc = z - mu;  var = (1/m) Σ xc²;  inv_std = 1/√(var + eps)
        # scale = gamma · inv_std;  y = xc · scale + beta.  same: xc is z (in place); a loop
        # that reads z and writes xc would fail LLVM's run-time overlap check and run scalar.
        # relu: y = max(y, 0) in the same pass (NumPy's maximum: NaN and -0.0 pass through).
        B = z.shape[1]
        inv_m = 1.0 / B
        for k in range(k0, k1):
            m, v, s, sc = mu[k], var[k], inv_std[k], scale[k]
            g, bt = gamma[k], beta[k]
            n = m.size
            m[:] = 0
            v[:] = 0
            for b in range(B):
                zb = z[k, b]
                for j in range(n):
                    m[j] += zb[j]
            for j in range(n):
                m[j] *= inv_m
            for b in range(B):
                cb = xc[k, b]
                if same:  # one array read and written: LLVM vectorises this
                    for j in range(n):
                        d = cb[j] - m[j]
                        cb[j] = d
                        v[j] += d * d
                else:
                    zb = z[k, b]
                    for j in range(n):
                        d = zb[j] - m[j]
                        cb[j] = d
                        v[j] += d * d
            for j in range(n):
                v[j] *= inv_m
                s[j] = 1.0 / np.sqrt(v[j] + eps)
                sc[j] = g[j] * s[j]
            for b in range(B):
                cb, yb = xc[k, b], y[k, b]
                if relu:
                    for j in range(n):
                        t = cb[j] * sc[j] + bt[j]
                        yb[j] = 0.0 if t < 0 else t
                else:
                    for j in range(n):
                        yb[j] = cb[j] * sc[j] + bt[j]

    @jit
    def bn_backward(dy, xc, dx, inv_std, scale, dgamma, dbeta, a, c, same, act, k0, k1):
        # dbeta = Σ dy;  dgamma = inv_std · Σ dy · xc
        # dx = scale · (dy - xc · dgamma · inv_std / m - dbeta / m).  same: dx is dy.
        # act (K, B, n) or empty: a ReLU's output; dy = dy · [act > 0] first, written over dy.
        B = dy.shape[1]
        inv_m = 1.0 / B
        for k in range(k0, k1):
            db, dg, s, sc, ak, ck = dbeta[k], dgamma[k], inv_std[k], scale[k], a[k], c[k]
            n = db.size
            db[:] = 0
            dg[:] = 0
            for b in range(B):
                gb, cb = dy[k, b], xc[k, b]
                if act.shape[0] > 0:
                    ab = act[k, b]
                    for j in range(n):
                        if not ab[j] > 0:
                            gb[j] = gb[j] * 0.0  # as ReLU's backward: da · False
                for j in range(n):
                    db[j] += gb[j]
                    dg[j] += gb[j] * cb[j]
            for j in range(n):
                dg[j] *= s[j]
                ak[j] = dg[j] * s[j] * inv_m
                ck[j] = db[j] * inv_m
            for b in range(B):
                cb, ob = xc[k, b], dx[k, b]
                if same:  # as in bn_forward: one array read and written
                    for j in range(n):
                        ob[j] = (ob[j] - (cb[j] * ak[j] + ck[j])) * sc[j]
                else:
                    gb = dy[k, b]
                    for j in range(n):
                        ob[j] = (gb[j] - (cb[j] * ak[j] + ck[j])) * sc[j]

    @jit
    def relu_backward(da, act, k0, k1):
        # da = da · [act > 0], in place (a product, so NaN stays NaN as in NumPy)
        for k in range(k0, k1):
            d, x = da[k].ravel(), act[k].ravel()
            for j in range(d.size):
                if not x[j] > 0:
                    d[j] = d[j] * 0.0  # -0.0 and NaN as NumPy's da · False

    @jit
    def softmax_cross_entropy(z, Y, p, J, k0, k1):
        # per example: s = z - max z;  p = e^s / Σ e^s;  L = log Σ e^s - Σ_j y_j s_j
        # J = (1/m) Σ L.  z (K, B, C), Y (B, C) shared, p (K, B, C), J (K,).
        B, C = z.shape[1], z.shape[2]
        for k in range(k0, k1):
            total = 0.0
            for b in range(B):
                zb, pb, yb = z[k, b], p[k, b], Y[b]
                top = zb[0]
                for j in range(1, C):
                    if zb[j] > top:
                        top = zb[j]
                den = zb[0] * 0  # zero in z's dtype
                ys = den
                for j in range(C):
                    sj = zb[j] - top
                    e = np.exp(sj)
                    pb[j] = e
                    den += e
                    ys += yb[j] * sj
                for j in range(C):
                    pb[j] /= den
                total += np.log(den) - ys
            J[k] = total / B

    return {
        "bn_forward": bn_forward,
        "bn_backward": bn_backward,
        "relu_backward": relu_backward,
        "softmax_cross_entropy": softmax_cross_entropy,
    }
