"""Batch normalisation over the mini-batch, with exponentially weighted running statistics."""

from __future__ import annotations

import numpy as np

from caviar import backend as backends
from caviar._arrays import batch_sum
from caviar.errors import InvalidArgument
from caviar.nn.layer import Layer


class BatchNorm(Layer):
    """Batch norm as the notes write it, per member and per unit over the B examples.

    Training::

        mu = (1/m) Σ z            sigma² = (1/m) Σ (z - mu)²      (biased: divide by m)
        z_norm = (z - mu) / √(sigma² + eps)      z̃ = gamma · z_norm + beta
        running = momentum · running + (1 - momentum) · batch_stat

    Inference uses the running mean and variance in place of mu and sigma².
    Shapes: ``z (K, B, n)``; ``gamma, beta, running_mean, running_var (K, 1, n)``;
    ``momentum (K,)`` per member (caviar's 0.9 is PyTorch's ``momentum=0.1``).

    Backward (cache: ``z - mu`` and ``1/√(sigma² + eps)``), the closed form::

        dbeta = Σ dz̃    dgamma = Σ dz̃ · z_norm
        dz = gamma/√(sigma² + eps) · (dz̃ - dbeta/m - z_norm · dgamma/m)

    A mini-batch of one example has sigma² = 0 and z_norm = 0 whatever z is, so nothing
    upstream can learn from it: training mode refuses B = 1 with an error. (The training
    loop folds a last lone example into the batch before it, and a batch size of 1 with batch
    norm is refused when the network is built from a configuration.)

    With ``inplace = True`` (set by :class:`~caviar.nn.network.Network`, where the input is
    the dense layer's output, scratch once normalised) the cache ``z - mu`` is written over
    ``z`` and the backward pass writes ``dz`` over ``dz̃`` using the cache as its scratch:
    two ``(K, B, n)`` buffers fewer per layer (64 MiB at K = 128, B = 256, n = 256). The
    backward pass then consumes the cache: one backward per forward.
    """

    inplace = False
    backend = "numpy"  # or "numba": the fused loops below (set by Network)
    # with the numba backend, a ReLU right after this layer can be folded into its loops
    # (set by Network with the ReLU's ``folded``): max(y, 0) in the forward pass, the mask
    # on dy in the backward pass; two passes over (K, B, n) fewer
    relu_after = False

    def __init__(self, n: int, K: int, momentum: np.ndarray, eps: float, dtype):
        super().__init__(dtype)
        self.gamma = self._add_param("gamma", np.ones((K, 1, n)))
        self.beta = self._add_param("beta", np.zeros((K, 1, n)))
        self.running_mean = np.zeros((K, 1, n), dtype=dtype)
        self.running_var = np.ones((K, 1, n), dtype=dtype)
        self.momentum = np.asarray(momentum, dtype=dtype).reshape(K, 1, 1)
        self.one_minus_momentum = (
            (1 - np.asarray(momentum, dtype=np.float64)).astype(dtype).reshape(K, 1, 1)
        )
        self.eps = float(eps)
        self.update_running = True

    def _stats(self) -> tuple[np.ndarray, ...]:
        K, _, n = self.gamma.shape
        g = self.ws.get
        return g("mu", (K, 1, n)), g("var", (K, 1, n)), g("inv_std", (K, 1, n))

    def forward(self, z: np.ndarray, training: bool) -> np.ndarray:
        if not training:
            return self._forward_inference(z)
        K, B, n = z.shape
        if B < 2:
            raise InvalidArgument(
                "BatchNorm needs at least 2 examples per mini-batch in training mode "
                f"(got a mini-batch of {B}); use a batch size >= 2."
            )
        mu, var, inv_std = self._stats()
        scale = self.ws.get("scale", mu.shape)
        xc = z if self.inplace else self.ws.get("xc", z.shape)
        y = self.ws.get("y", z.shape)
        self._xc = xc
        if self.backend == "numba":
            flat = [a.reshape(K, n) for a in (self.gamma, self.beta, mu, var, inv_std, scale)]
            relu = self.relu_after
            backends.run_members(
                bn_forward_kernel, K, z.size, z, xc, y, *flat, self.eps, xc is z, relu
            )
            self._y = y
            if self.update_running:
                self._update_running(mu, var)
            return y
        batch_sum(z, mu, self.ws)
        mu *= 1.0 / B
        np.subtract(z, mu, out=xc)
        # Σ_B (z - mu)² in one pass, without a (K, B, n) temporary
        np.einsum("kbn,kbn->kn", xc, xc, out=var.reshape(K, n))
        var *= 1.0 / B
        np.add(var, self.eps, out=inv_std)
        np.sqrt(inv_std, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        np.multiply(self.gamma, inv_std, out=scale)
        np.multiply(xc, scale, out=y)  # gamma · z_norm, z_norm = (z - mu) / √(sigma² + eps)
        y += self.beta
        if self.update_running:
            self._update_running(mu, var)
        return y

    def _update_running(self, mu: np.ndarray, var: np.ndarray) -> None:
        """``running = momentum · running + (1 - momentum) · batch_stat``, in place."""
        tmp = self.ws.get("tmp", mu.shape)
        for running, stat in ((self.running_mean, mu), (self.running_var, var)):
            running *= self.momentum
            np.multiply(stat, self.one_minus_momentum, out=tmp)
            running += tmp

    def _forward_inference(self, z: np.ndarray) -> np.ndarray:
        scale = self.ws.get("scale", self.gamma.shape)
        y = self.ws.get("y_eval", z.shape)
        np.add(self.running_var, self.eps, out=scale)
        np.sqrt(scale, out=scale)
        np.divide(self.gamma, scale, out=scale)
        np.subtract(z, self.running_mean, out=y)
        y *= scale
        y += self.beta
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        K, m, n = dy.shape
        _, _, inv_std = self._stats()
        scale = self.ws.get("scale", inv_std.shape)
        xc = self._xc
        dgamma, dbeta = self.grads
        if self.backend == "numba":
            dx = dy if self.inplace else self.ws.get("dx", dy.shape)
            a, c = self.ws.get("a", dbeta.shape), self.ws.get("c", dbeta.shape)
            flat = [x.reshape(K, n) for x in (inv_std, scale, dgamma, dbeta, a, c)]
            act = self._y if self.relu_after else _NO_ACTIVATION[dy.dtype]
            backends.run_members(bn_backward_kernel, K, dy.size, dy, xc, dx, *flat, dx is dy, act)
            return dx
        batch_sum(dy, dbeta, self.ws)
        # dgamma = Σ dz̃ · z_norm = (1/√(sigma² + eps)) · Σ dz̃ · (z - mu)
        np.einsum("kbn,kbn->kn", dy, xc, out=dgamma.reshape(K, n))
        dgamma *= inv_std
        a, c = self.ws.get("a", dbeta.shape), self.ws.get("c", dbeta.shape)
        np.multiply(dgamma, inv_std, out=a)  # z_norm · dgamma/m = (z - mu) · a
        a *= 1.0 / m
        np.multiply(dbeta, 1.0 / m, out=c)
        if self.inplace:  # the cache is spent after this: it holds the correction term
            tmp, dx = xc, dy
            np.multiply(xc, a, out=tmp)
        else:
            tmp = dx = np.multiply(xc, a, out=self.ws.get("dx", dy.shape))
        tmp += c
        np.subtract(dy, tmp, out=dx)
        dx *= scale  # gamma / √(sigma² + eps)
        return dx

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"running_mean": self.running_mean, "running_var": self.running_var}


# an empty (0, 0, 0) array says "no ReLU to fold" to the backward kernel
_NO_ACTIVATION = {np.dtype(t): np.zeros((0, 0, 0), dtype=t) for t in (np.float32, np.float64)}


# -- the compiled twins of forward and backward (caviar.backend.compiled) ---------------
# Member by member: the statistics of member k's (B, n) block, then its outputs while the
# block is still in cache. Sums run in example order, so they differ from the BLAS sums of
# the NumPy path by rounding only (the tests hold the two to 1e-12 in float64). Members
# k0:k1; per-unit arrays (K, n).


@backends.compiled
def bn_forward_kernel(z, xc, y, gamma, beta, mu, var, inv_std, scale, eps, same, relu, k0, k1):
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


@backends.compiled
def bn_backward_kernel(dy, xc, dx, inv_std, scale, dgamma, dbeta, a, c, same, act, k0, k1):
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
