"""What every optimizer shares: per-member hyperparameters, step counts, frozen members, state.

An optimizer sees parameter arrays ``p (K, ...)`` and their gradients, never layers. It keeps
its moments beside the parameters and updates everything in place, through one scratch
buffer, so a step allocates nothing that scales with the parameters.
"""

from __future__ import annotations

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar._arrays import member_view
from caviar.errors import CheckpointError, InvalidArgument


class Optimizer:
    """Base class. ``step(grads, lr, active=None)`` updates ``params`` in place.

    The learning rate is not the optimizer's: ``lr`` (a scalar or ``(K,)``, a schedule's
    output) comes with every step, so α has one home, the schedule
    (:mod:`caviar.optim.schedules`). ``active (K,)`` bool masks members out: their
    gradients are zeroed and their learning rate is 0, so a frozen (diverged) member
    neither moves nor corrupts its moments.
    Subclasses list their moment names in ``moments`` and implement ``_update``; those with
    a fused kernel set ``kernel`` to it (a :func:`caviar.backend.compiled` function in their
    module, beside ``_update``). A kernel takes the parameter, gradient and moment views
    ``(K, n)``, then one ``(K,)`` row per coefficient, named as ``_coefficients`` names them
    (they are passed by name), then the tile ``r0, r1, c0, c1``; it loops over a row's slice
    from 0 (``p = P[r, c0:c1]``: indexing ``P[r, j]`` for ``j`` in ``range(c0, c1)`` kept
    LLVM from vectorising, a third of the speed) and releases the GIL.

    ``backend`` is ``"numba"`` (one fused kernel per tile) or ``"numpy"`` (the same equations
    as NumPy operations per tile, the same bits). ``"auto"``, the default, takes Numba when it
    is installed, unless ``CAVIAR_BACKEND`` says otherwise; Numba's first use costs
    about 0.5 s per process, so runs shorter than that (a small tune) ask for ``"numpy"``.
    It may also be set on an instance.
    """

    moments: tuple[str, ...] = ()
    kernel: backends.Compiled | None = None

    def __init__(self, params: list[np.ndarray], *, backend: str = "auto"):
        if not params:
            raise InvalidArgument("The 'params' list must hold at least one array. Got [].")
        self.params = list(params)
        self.K = self.params[0].shape[0]
        self.dtype = self.params[0].dtype
        self.t = np.zeros(self.K, dtype=np.int64)
        self.state = {m: [np.zeros_like(p) for p in self.params] for m in self.moments}
        block = max(1, BLOCK_BYTES // self.dtype.itemsize)
        self._scratch = [np.empty(block, dtype=self.dtype) for _ in range(backends.thread_count())]
        self._plan_key: tuple | None = None
        self._plan: tuple | None = None
        self._backend = self._settle(backend)

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        self._backend = self._settle(value)

    def _settle(self, requested: str) -> str:
        """``requested`` settled by :func:`caviar.backend.settle`, the kernel prepared."""
        if self.kernel is None:
            return "numpy"
        return backends.settle(requested, lambda: self.warm_kernel(self.dtype))

    @classmethod
    def kernel_coefficients(cls) -> tuple[str, ...]:
        """The names of the kernel's coefficient rows, in its parameters' order."""
        return cls.kernel.parameters[2 + len(cls.moments) : -4]

    @classmethod
    def warm_kernel(cls, dtype) -> None:
        """Compile (or load from Numba's cache) the kernel for ``dtype`` now, so that the
        first training step does not pay for it. Once per process and dtype."""
        arrays = [np.zeros((1, 1), dtype=dtype) for _ in range(2 + len(cls.moments))]
        rows = [np.ones(1, dtype=dtype) for _ in cls.kernel_coefficients()]
        cls.kernel.warm(np.dtype(dtype).name, *arrays, *rows, 0, 1, 0, 1)

    def _hyper(self, name, value, rule) -> np.ndarray:
        return check.per_member(name, value, self.K, rule)

    def step(self, grads: list[np.ndarray], lr, active: np.ndarray | None = None) -> None:
        """Apply one update with learning rate ``lr`` (scalar or ``(K,)``, finite, >= 0) to
        every parameter array, in place; a bad ``lr`` is an InvalidArgument."""
        self.update(grads, self.alpha(lr), active)

    def alpha(self, lr) -> np.ndarray:
        """``lr`` checked and broadcast to ``(K,)`` float64: finite and >= 0 per member."""
        return check.per_member("lr", lr, self.K, check.NON_NEGATIVE)

    def update(self, grads: list[np.ndarray], alpha: np.ndarray, active=None) -> None:
        """:meth:`step` with ``alpha (K,)`` float64 already checked (:meth:`alpha`, or a
        schedule's output, checked where the schedule was made): the training loop's hot
        path, which checks nothing per step."""
        alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (self.K,))
        if active is not None and not active.all():
            alpha = np.where(active, alpha, 0.0)
            frozen = ~active
            for g in grads:
                np.copyto(g, 0, where=member_view(frozen, g.ndim))
        self.t += 1
        coeffs = self._coefficients(alpha)
        if self._backend == "numba" and self._fused(grads, coeffs):
            return
        tiles = [
            tile
            for i, (p, g) in enumerate(zip(self.params, grads, strict=True))
            for tile in self._tiles(i, p, g, coeffs)
        ]
        threads = backends.thread_count()  # read at use: set_threads may change it after import
        while len(self._scratch) < threads:
            self._scratch.append(np.empty_like(self._scratch[0]))
        _run(tiles, self._scratch, self._update, threads)

    def _fused(self, grads: list[np.ndarray], coeffs: dict[str, np.ndarray]) -> bool:
        """Run the compiled kernel over every array, tile by tile; False (nothing done)
        when an array is not C-contiguous, which the kernels need."""
        key = tuple(id(g) for g in grads)  # the plan holds these arrays: no id is reused
        if key != self._plan_key:
            self._plan_key, self._plan = key, self._fused_plan(grads)
        if self._plan is None:
            return False
        C, jobs, parallel = self._plan
        for row, name in zip(C, self.kernel_coefficients(), strict=True):
            row[...] = coeffs[name]
        backends.run_jobs(self.kernel.dispatcher(), jobs, parallel, backends.thread_count())
        return True

    def _fused_plan(self, grads: list[np.ndarray]) -> tuple | None:
        """``(C, jobs, parallel)`` for these gradient arrays, made once and reused every
        step: the coefficient buffer ``C (n_coefficients, K)`` whose rows the jobs share (in
        the kernel's order of names), one job per tile of each array's ``(K, n)`` views;
        None when an array is not C-contiguous."""
        arrays = [
            [p, g] + [self.state[m][i] for m in self.moments]
            for i, (p, g) in enumerate(zip(self.params, grads, strict=True))
        ]
        if not all(a.flags.c_contiguous and a.dtype == self.dtype for x in arrays for a in x):
            return None
        C = np.empty((len(self.kernel_coefficients()), self.K), dtype=self.dtype)
        jobs = []
        for group in arrays:
            views = tuple(a.reshape(self.K, -1) for a in group) + tuple(C)
            K, n = views[0].shape
            cols = min(n, KERNEL_TILE)
            rows = max(1, KERNEL_TILE // cols)
            jobs += [
                (*views, r, min(r + rows, K), c, min(c + cols, n))
                for r in range(0, K, rows)
                for c in range(0, n, cols)
            ]
        parallel = sum(p.size for p in self.params) >= KERNEL_PARALLEL_ELEMENTS
        return C, jobs, parallel

    def _tiles(self, i: int, p, g, coeffs):
        """The update of array i cut into cache-sized tiles ``(rows, columns)`` of its
        ``(K, n)`` view, each with its members' coefficients ``(rows, 1)``.

        Every operation of an update then runs on a tile that stays in cache, so memory
        is read and written once per array instead of once per operation; the numbers are
        those of the whole-array update (every operation is element-wise).
        """
        K = p.shape[0]
        arrays = [p, g] + [self.state[m][i] for m in self.moments]
        if not all(a.flags.c_contiguous for a in arrays):
            views = {k: member_view(v, p.ndim) for k, v in coeffs.items()}
            yield p, g, {m: self.state[m][i] for m in self.moments}, views
            return
        P, G, *S = (a.reshape(K, -1) for a in arrays)
        n = P.shape[1]
        block = self._scratch[0].size
        cols = min(n, block)
        rows = max(1, block // cols)
        for r in range(0, K, rows):
            rs = slice(r, r + rows)
            views = {k: v[rs, None] for k, v in coeffs.items()}
            for c in range(0, n, cols):
                cs = (rs, slice(c, c + cols))
                yield P[cs], G[cs], dict(zip(self.moments, (x[cs] for x in S), strict=True)), views

    def _coefficients(self, alpha: np.ndarray) -> dict[str, np.ndarray]:
        """Per-member scalars ``(K,)`` of this step, in the parameters' dtype."""
        raise NotImplementedError

    def _update(self, p, g, state: dict, tmp, c) -> None:
        """The update of ``p`` from ``g`` and its moments ``state``, in place, with the
        per-member coefficients ``c`` broadcast against ``p`` and scratch ``tmp``."""
        raise NotImplementedError

    def _cast(self, **arrays) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=self.dtype) for k, v in arrays.items()}

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every array needed to continue exactly: step counts ``t`` and moments by index."""
        out = {"t": self.t.copy()}
        for m, arrays in self.state.items():
            out.update({f"{m}.{i}": a.copy() for i, a in enumerate(arrays)})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore ``state_dict()`` output exactly; refuse missing or mis-shaped arrays."""
        expected = self.state_dict()
        for key, ref in expected.items():
            if key not in state:
                raise CheckpointError(f"Optimizer state lacks the array '{key}'.")
            got = np.asarray(state[key])
            if got.shape != ref.shape:
                raise CheckpointError(
                    f"Optimizer state array '{key}' has shape {got.shape}; expected {ref.shape}."
                )
        self.t[...] = state["t"]
        for m, arrays in self.state.items():
            for i, a in enumerate(arrays):
                a[...] = state[f"{m}.{i}"]


# Updates run on tiles of at most BLOCK_BYTES per array (the 4 or 5 arrays of a tile then
# stay in a 1 to 2 MiB L2 cache), spread over caviar.backend.THREADS threads (NumPy releases
# the GIL inside ufuncs) when there are at least PARALLEL_ELEMENTS to update: below that,
# measured on the 2-core machine, handing tiles to threads costs more than it saves.
BLOCK_BYTES = 256 * 1024
PARALLEL_ELEMENTS = 1 << 21
# The compiled kernels make one pass per tile, so a tile only needs to be large enough that
# the call costs little beside it; threads pay from fewer elements than with NumPy.
KERNEL_TILE = 1 << 18
KERNEL_PARALLEL_ELEMENTS = 1 << 20


def _run(tiles, scratch: list[np.ndarray], update, threads: int) -> None:
    """Apply ``update`` to every tile, on up to ``threads`` threads, each with its own
    scratch."""
    tiles = list(tiles)

    def scratch_for(p: np.ndarray, w: int) -> np.ndarray:
        # a tile fits the scratch; a whole non-contiguous array (see _tiles) may not
        buf = scratch[w]
        return buf[: p.size].reshape(p.shape) if p.size <= buf.size else np.empty_like(p)

    def task(i: int, w: int) -> None:
        p, g, state, c = tiles[i]
        update(p, g, state, scratch_for(p, w), c)

    parallel = sum(t[0].size for t in tiles) >= PARALLEL_ELEMENTS
    backends.distribute(task, len(tiles), parallel, threads)


def ewa(
    m: np.ndarray, x: np.ndarray, beta: np.ndarray, one_minus_beta: np.ndarray, tmp: np.ndarray
) -> None:
    """Exponentially weighted average in place: ``m = beta · m + (1 - beta) · x``."""
    m *= beta
    np.multiply(x, one_minus_beta, out=tmp)
    m += tmp


def ewa_square(m, g, beta, one_minus_beta, tmp) -> None:
    """``m = beta · m + (1 - beta) · g²`` in place (the RMSprop half)."""
    np.multiply(g, g, out=tmp)
    tmp *= one_minus_beta
    m *= beta
    m += tmp


def rms_step(p, num, s, scale, eps, tmp, inv_bc=None) -> None:
    """``p = p - scale · num / (√(s · inv_bc) + ε)`` in place (``inv_bc`` None: ``√s``): the
    step RMSprop (``num = dW``, ``scale = α``) and Adam (``num = V``, ``scale = α / (1 - β₁ᵗ)``,
    ``inv_bc = 1 / (1 - β₂ᵗ)``) share."""
    if inv_bc is None:
        np.sqrt(s, out=tmp)
    else:
        np.multiply(s, inv_bc, out=tmp)
        np.sqrt(tmp, out=tmp)
    tmp += eps
    np.divide(num, tmp, out=tmp)
    tmp *= scale
    p -= tmp
