"""Which arithmetic runs the hot loops: compiled Numba kernels or NumPy operations.

Numba is optional (``pip install 'caviar-nn[fast]'``). With it, the optimizers, batch norm, ReLU
and the softmax loss run fused, compiled loops; without it they run NumPy operations that
compute the same equations. Each object takes ``backend="auto"`` (Numba when installed),
``"numba"`` or ``"numpy"``; ``CAVIAR_BACKEND`` in the environment replaces ``auto`` for a whole
process (for example ``CAVIAR_BACKEND=numpy`` to compare). Loading Numba costs about 0.5 s once
per process (the import, then LLVM's start-up on the first kernel), which
:func:`caviar.population.build` weighs before it asks for the kernels.

The kernels and the tiled optimizer updates run on :func:`thread_count` Python threads:
``CAVIAR_THREADS`` in the environment (read once, on first use), else two (measured best on
two cores, see ``docs/design.md``). :func:`set_threads` changes it for the process; the
tuner's executors use it so that processes × threads = cores.

Each kernel is a module-level function in its layer's or optimizer's module, beside the
NumPy code it must match, marked :func:`compiled`: the one registry (:data:`KERNELS`) that
compiles it on first use and remembers which dtypes have been warmed.
"""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from caviar.errors import InvalidArgument

BACKENDS = ("auto", "numba", "numpy")
ENV = "CAVIAR_BACKEND"
THREADS_ENV = "CAVIAR_THREADS"
_numba = None
_error: str | None = None
_pool: ThreadPoolExecutor | None = None


def threads_setting() -> int:
    """``CAVIAR_THREADS`` (a whole number >= 1), default ``min(2, cores)``."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return min(2, os.cpu_count() or 1)
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise InvalidArgument(
            f"{THREADS_ENV}={value!r} is not a whole number >= 1. Unset it or give the number "
            "of threads caviar's kernels may use."
        )
    return n


THREADS: int | None = None  # None until thread_count() reads CAVIAR_THREADS


def thread_count() -> int:
    """The number of threads the kernels and tiled updates use (see :func:`set_threads`)."""
    global THREADS
    if THREADS is None:
        THREADS = threads_setting()
    return THREADS


def set_threads(n: int) -> None:
    """Run the kernels and tiled updates of this process on ``n`` threads from now on."""
    global THREADS
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidArgument(f"The 'threads' parameter must be a whole number >= 1. Got {n!r}.")
    THREADS = n


def setting() -> str:
    """``CAVIAR_BACKEND`` (``auto``, ``numba`` or ``numpy``; default ``auto``)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in BACKENDS:
        raise InvalidArgument(
            f"{ENV}={value!r} is not one of {', '.join(BACKENDS)}. Unset it or pick one of those."
        )
    return value


def resolve(requested: str) -> str:
    """``"numba"`` or ``"numpy"`` for a ``backend`` argument: under ``auto`` the environment's
    choice, else Numba when installed; ``"numba"`` without Numba is an error that says how
    to install it."""
    if requested not in BACKENDS:
        raise InvalidArgument(
            f"The 'backend' parameter must be one of {', '.join(BACKENDS)}. "
            f"Got {requested!r} instead."
        )
    choice = setting() if requested == "auto" else requested
    if choice == "numba" and not available():
        raise InvalidArgument(f"The numba backend is not available: {unavailable_reason()}.")
    if choice == "auto":
        return "numba" if available() else "numpy"
    return choice


def available() -> bool:
    """True when Numba imports (imported once, on the first call)."""
    return _import() is not None


def unavailable_reason() -> str | None:
    """Why Numba could not be imported, or None."""
    _import()
    return _error


def settle(requested: str, prepare) -> str:
    """:func:`resolve` ``requested``; when that is ``"numba"``, call ``prepare()`` to compile
    (or load) the kernels now. Under ``auto`` a failure there falls back to NumPy with a
    warning, so an installed but broken Numba never stops a run; asked for by name, it is
    an error that says what to do."""
    choice = resolve(requested)
    if choice != "numba":
        return choice
    try:
        prepare()
    except Exception as exc:
        if requested != "auto" or setting() == "numba":
            raise InvalidArgument(
                f"The numba backend could not compile its kernels ({exc}). "
                "Use backend='numpy' (or CAVIAR_BACKEND=numpy)."
            ) from exc
        warnings.warn(
            f"caviar: Numba could not compile its kernels ({exc}); running on NumPy.",
            UserWarning,
            stacklevel=3,
        )
        return "numpy"
    return choice


def jit():
    """Numba's ``njit`` as every caviar kernel uses it: GIL released (the kernels run on
    Python threads), machine code cached between processes when a cache folder is writable,
    and ``error_model="numpy"`` (no Python-style zero-division checks, which keep LLVM from
    vectorising)."""
    numba = _import()
    if numba is None:
        raise ImportError(_error)

    def decorate(fn):
        try:
            return numba.njit(nogil=True, cache=True, error_model="numpy")(fn)
        except RuntimeError:  # no writable cache location: compile each process instead
            return numba.njit(nogil=True, error_model="numpy")(fn)

    return decorate


class Compiled:
    """A kernel written in plain Python that Numba compiles (:func:`jit`) on first call.
    ``fn`` stays the readable source; ``parameters`` are its argument names, which callers
    use to pass arguments by name (the optimizers' coefficients)."""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = self.__qualname__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.parameters = tuple(inspect.signature(fn).parameters)
        self._jitted = None
        self._warm: set = set()

    def dispatcher(self):
        """The compiled function (Numba's dispatcher), compiled now if need be."""
        if self._jitted is None:
            self._jitted = jit()(self.fn)
        return self._jitted

    def __call__(self, *args):
        return self.dispatcher()(*args)

    def warm(self, key, *args) -> None:
        """Call the kernel once on ``args`` (tiny arrays of one dtype, ``key``) unless done
        for ``key`` already: the compilation (or the load from Numba's cache) happens
        here, where a failure can be reported, and not in the first training step."""
        if key not in self._warm:
            self(*args)
            self._warm.add(key)


KERNELS: dict[str, Compiled] = {}  # every compiled kernel by "module.name"


def compiled(fn) -> Compiled:
    """Mark ``fn`` a kernel: compiled lazily by :class:`Compiled`, listed in KERNELS."""
    kernel = Compiled(fn)
    KERNELS[f"{fn.__module__}.{fn.__name__}"] = kernel
    return kernel


# below this many numbers a layer's kernel runs on one thread (handing over costs more)
MEMBER_PARALLEL_ELEMENTS = 1 << 18


def run_members(kernel: Compiled, K: int, size: int, *args) -> None:
    """``kernel(*args, k0, k1)`` over members 0..K, split in member ranges over the threads
    when the arrays hold ``size >= MEMBER_PARALLEL_ELEMENTS`` numbers."""
    fn = kernel.dispatcher()
    if K == 1 or size < MEMBER_PARALLEL_ELEMENTS:
        fn(*args, 0, K)  # the common small case, without the job list (8 µs a call)
        return
    parts = min(K, 2 * thread_count())
    bounds = [K * i // parts for i in range(parts + 1)]
    jobs = [(*args, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    run_jobs(fn, jobs, True)


def _import():
    global _numba, _error
    if _numba is None and _error is None:
        try:
            import numba
        except ImportError as exc:  # optional
            _error = f"Numba is not installed ({exc}); pip install 'caviar-nn[fast]'"
        except Exception as exc:  # installed but broken (say, built for another NumPy)
            _error = f"Numba failed to import ({type(exc).__name__}: {exc})"
        else:
            _numba = numba
    return _numba


def run_jobs(kernel, jobs: list[tuple], parallel: bool, threads: int | None = None) -> None:
    """Call ``kernel(*job)`` for every job, on ``threads`` Python threads when ``parallel``
    (see :func:`distribute`); the kernels release the GIL."""
    distribute(lambda i, _: kernel(*jobs[i]), len(jobs), parallel, threads)


def distribute(task, n: int, parallel: bool, threads: int | None = None) -> None:
    """Call ``task(i, w)`` for ``i`` in ``0..n-1``, ``w`` the worker (0 when serial), on
    ``threads`` (default :func:`thread_count`) Python threads when ``parallel``.

    Threads take the next task as they free up (not a fixed half each): OpenBLAS leaves a
    worker spinning after a matrix product, and a thread that shares its core with it gets
    less done. Numba's own threads are not used: they spin too, and against OpenBLAS's
    (measured: a 270k-parameter Adam update went from 0.13 to 6.8 ms right after a matrix
    product).
    """
    threads = thread_count() if threads is None else threads
    if threads == 1 or not parallel or n < 2:
        for i in range(n):
            task(i, 0)
        return
    order = itertools.count()

    def work(w: int) -> None:
        while (i := next(order)) < n:
            task(i, w)

    list(pool().map(work, range(threads)))


def pool() -> ThreadPoolExecutor:
    """The process's pool of THREADS worker threads, made on first use (and again when
    :func:`set_threads` changed THREADS) with every thread started at once (an executor
    starts its threads as work arrives and none is idle, so a thread could otherwise start,
    and allocate, in the middle of a training run)."""
    global _pool
    n = thread_count()
    if _pool is not None and _pool._max_workers != n:
        _pool.shutdown(wait=False)
        _pool = None
    if _pool is None:
        executor = ThreadPoolExecutor(n, thread_name_prefix="caviar")
        barrier = threading.Barrier(n)
        list(executor.map(lambda _: barrier.wait(), range(n)))
        _pool = executor
    return _pool
