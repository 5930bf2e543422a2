"""A population of K fully connected classifiers that share one architecture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar._arrays import Workspace
from caviar.errors import CheckpointError, InvalidArgument
from caviar.nn._checks import (
    check_activations,
    check_seeds,
    check_sizes,
    checked_input,
    fit_shape,
    targets,
)
from caviar.nn.activations import ACTIVATIONS, Dropout, LeakyReLU, ReLU, relu_backward_kernel
from caviar.nn.batchnorm import BatchNorm, bn_backward_kernel, bn_forward_kernel
from caviar.nn.dense import Dense
from caviar.nn.init import SCALES, member_rngs, normal_weights, rng_from_array, rng_to_array
from caviar.nn.layer import Layer
from caviar.nn.loss import SoftmaxCrossEntropy, softmax, softmax_cross_entropy_kernel

DTYPES = {"float32": np.float32, "float64": np.float64}
BN_POSITIONS = ("before", "after")  # batch norm between z and the activation, or after it
INITS = ("auto", *SCALES)  # auto: He before ReLU-like activations, Xavier otherwise


class Network:
    """K classifiers ``sizes[0] → … → sizes[-1]``, trained as one vectorised computation.

    Each hidden layer is ``Dense (no bias) → BatchNorm → activation → Dropout`` (with
    ``bn_position="after"``: ``Dense (bias) → activation → BatchNorm → Dropout``, the notes'
    open question; with ``batchnorm=False``: ``Dense (bias) → activation → Dropout``; dropout
    only when some ``keep_prob < 1``); the output layer is ``Dense (bias)`` followed by the
    fused softmax cross-entropy. ``activation`` is one name (``relu``, ``leaky_relu``, ``tanh``,
    ``sigmoid``) or one per hidden layer; ``init="auto"`` draws He weights before ReLU-like
    activations and Xavier weights otherwise. ``loss`` returns the cost per member ``J (K,)``::

        J_k = (1/m) Σ_i L(ŷ⁽ⁱ⁾, y⁽ⁱ⁾) + (λ_k / 2m) Σ_l ‖W⁽ˡ⁾_k‖²_F

    Per-member arguments (``seeds``, ``bn_momentum``, ``keep_prob``, ``l2``) take a scalar
    or one value per member ``(K,)``. Member k draws its weights and dropout masks from its
    own seed, so it computes exactly what ``Network(sizes, K=1, seeds=seeds[k], ...)`` does.
    One integer seed ``s`` for K > 1 means seeds ``s, s + 1, …, s + K - 1``.

    ``backend`` (``auto``, ``numba``, ``numpy``; see :mod:`caviar.backend`) picks compiled
    loops or NumPy operations for batch norm and ReLU; both compute the same equations.
    ``initialise=False`` leaves the weights zero, drawing nothing, for a caller that
    loads every parameter next (:meth:`caviar.train.population.Population.from_state`).

    >>> net = Network([4, 3, 2], K=2, seeds=[0, 1], dtype="float64")
    >>> X = np.arange(12.0).reshape(3, 4) / 10
    >>> net.loss(X, np.array([0, 1, 1])).shape
    (2,)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        K: int = 1,
        *,
        batchnorm: bool = True,
        bn_position: str = "before",
        activation: str = "relu",
        init: str = "auto",
        seeds=None,
        bn_momentum=0.9,
        bn_eps: float = 1e-5,
        keep_prob=1.0,
        l2=0.0,
        leaky_slope: float = 0.01,
        dtype: str = "float32",
        backend: str = "auto",
        initialise: bool = True,
    ):
        self.K = check.positive_int("K", K)
        self.sizes = check_sizes(sizes)
        self.dtype = np.dtype(DTYPES[check.choice("dtype", str(np.dtype(dtype)), DTYPES)])
        self.activations = check_activations(activation, len(self.sizes) - 2)
        self.init = check.choice("init", init, INITS)
        self.batchnorm = bool(batchnorm)
        self.bn_position = check.choice("bn_position", bn_position, BN_POSITIONS)
        self.seeds = check_seeds(seeds, self.K)
        self.bn_momentum = check.per_member("bn_momentum", bn_momentum, self.K, check.FRACTION)
        self.keep_prob = check.per_member("keep_prob", keep_prob, self.K, check.SHARE)
        self.l2 = check.per_member("l2", l2, self.K, check.NON_NEGATIVE)
        self.bn_eps = check.scalar("bn_eps", bn_eps, check.POSITIVE)
        self.leaky_slope = check.scalar("leaky_slope", leaky_slope, check.FRACTION)
        self.layers: list[Layer] = self._build(initialise)
        self.dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        self.dense[0].need_dx = False
        self.loss_layer = SoftmaxCrossEntropy(self.dtype)
        self.backend = backend  # the setter settles auto into numba or numpy
        self.ws = Workspace(self.dtype)
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]
        self.param_names = [
            f"{name}.{p}" for name, layer in self._named_layers() for p in layer.names
        ]

    # -- construction -------------------------------------------------------------------
    def _build(self, initialise: bool = True) -> list[Layer]:
        init_rngs = member_rngs(self.seeds, stream=0)
        drop_rngs = member_rngs(self.seeds, stream=1)
        layers: list[Layer] = []
        n_hidden = len(self.sizes) - 2
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            hidden = i < n_hidden
            if initialise:
                scheme = self._init_scheme(i) if hidden else "xavier"
                W = normal_weights(init_rngs, n_in, n_out, scheme)
            else:  # the caller loads every parameter (Population.from_state): no draws
                W = np.zeros((self.K, n_in, n_out))
            before = hidden and self.batchnorm and self.bn_position == "before"
            b = None if before else np.zeros((self.K, 1, n_out))  # β does a bias's work
            layers.append(Dense(W, b, self.dtype))
            if not hidden:
                break
            if before:
                layers.append(self._batchnorm(n_out, inplace=True))
            layers.append(self._activation_layer(self.activations[i]))
            if self.batchnorm and not before:
                layers.append(self._batchnorm(n_out, inplace=False))
            if np.any(self.keep_prob < 1):
                layers.append(Dropout(self.keep_prob, drop_rngs, self.dtype))
        return layers

    def _batchnorm(self, n: int, inplace: bool) -> BatchNorm:
        """Batch norm of ``n`` units. ``inplace``: its input is the dense output, scratch
        once normalised (before the activation); after it, the input is the activation's
        output, which the activation's backward pass still reads."""
        bn = BatchNorm(n, self.K, self.bn_momentum, self.bn_eps, self.dtype)
        bn.inplace = inplace
        return bn

    def _init_scheme(self, i: int) -> str:
        if self.init != "auto":
            return self.init
        return "he" if self.activations[i] in ("relu", "leaky_relu") else "xavier"

    def _activation_layer(self, name: str) -> Layer:
        if name == "leaky_relu":
            return LeakyReLU(self.leaky_slope, self.dtype)
        layer = ACTIVATIONS[name](self.dtype)
        if isinstance(layer, ReLU):
            layer.inplace = True  # its input is the dense or batch-norm output, scratch now
        return layer

    @property
    def backend(self) -> str:
        """``"numba"`` or ``"numpy"``: what batch norm and ReLU run; settable."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        value = backends.settle(value, lambda: prepare_kernels(self.dtype))
        for layer in [*self.layers, self.loss_layer]:
            if isinstance(layer, (BatchNorm, ReLU, SoftmaxCrossEntropy)):
                layer.backend = value
        for below, above in zip(self.layers[:-1], self.layers[1:], strict=True):
            if isinstance(below, BatchNorm) and type(above) is ReLU:
                below.relu_after = above.folded = value == "numba"
        self._backend = value

    def _named_layers(self):
        counts: dict[str, int] = {}
        for layer in self.layers:
            name = {"Dense": "dense", "BatchNorm": "bn"}.get(type(layer).__name__)
            if name is None:
                continue
            counts[name] = counts.get(name, 0) + 1
            yield f"{name}{counts[name]}", layer

    @property
    def n_classes(self) -> int:
        return self.sizes[-1]

    # -- the step -------------------------------------------------------------------------
    def forward(self, X: np.ndarray, training: bool = True) -> np.ndarray:
        """Logits ``Z (K, B, C)`` for ``X (B, n_0)`` (shared by all members) or ``(K, B, n_0)``.

        The result is a reused buffer: copy it to keep it past the next call. Layers share
        their buffers between training and inference, so an inference pass between
        :meth:`loss` and :meth:`backward` replaces what the backward pass needs: call
        ``backward`` first.
        """
        return self._forward(self._check_input(X), training)

    def _forward(self, X: np.ndarray, training: bool) -> np.ndarray:
        a = X
        for layer in self.layers:
            a = layer.forward(a, training)
        return a

    def loss(self, X: np.ndarray, y: np.ndarray, training: bool = True) -> np.ndarray:
        """Cost per member ``J (K,)`` for inputs ``X`` and labels ``y`` (``(B,)`` ints or
        ``(B, C)`` one-hot). With ``training=True`` batch norm uses the mini-batch statistics
        (and updates its running ones) and dropout is on."""
        return self.cost(*self.prepare(X, y), training)

    def prepare(self, X, y=None):
        """The checked inputs the unchecked calls take: ``X`` as a C-contiguous array of the
        network's dtype, ``(B, n_0)`` or ``(K, B, n_0)``, finite; with ``y`` (labels ``(B,)``
        in ``[0, C)`` or one-hot ``(B, C)``), ``(X, Y)`` with ``Y (B, C)`` one-hot. Check once
        at the boundary, then call :meth:`cost` as often as needed."""
        X = self._check_input(X)
        if y is None:
            return X
        return X, self._targets(np.asarray(y), X.shape[-2])

    def cost(self, X: np.ndarray, Y: np.ndarray, training: bool = True) -> np.ndarray:
        """``J (K,)`` for inputs already checked by :meth:`prepare` (no checks: the hot path
        of training). Fills the cache that :meth:`backward` reads."""
        J = self.loss_layer.forward(self._forward(X, training), Y)
        if np.any(self.l2):
            J += self._l2_cost(X.shape[-2])
        return J

    def evaluate_batch(self, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inference-mode ``(J (K,), correct (K,))`` for prepared ``X (B, n_0)``, one-hot
        ``Y (B, C)``: the cross-entropy cost without L2 and the count of examples whose most
        probable class is the labelled one."""
        J = self.loss_layer.forward(self._forward(X, False), Y)
        hits = self.loss_layer.probabilities.argmax(axis=2) == Y.argmax(axis=1)
        return J, hits.sum(axis=1)

    def backward(self) -> None:
        """Fill ``grads`` from the last ``loss`` call: ``dZ = (Ŷ - Y)/m``, then each layer's
        closed form, plus ``(λ/m) W`` for the L2 term."""
        d = self.loss_layer.backward()
        for layer in reversed(self.layers):
            d = layer.backward(d)
        if np.any(self.l2):
            self._l2_grad(self.loss_layer.probabilities.shape[1])

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One training-mode forward and backward pass: returns ``J (K,)``, fills ``grads``."""
        J = self.loss(X, y)
        self.backward()
        return J

    def _l2_cost(self, m: int) -> np.ndarray:
        total = self.ws.get("l2_total", (self.K,))
        sq = self.ws.get("l2_sq", (self.K,))
        total.fill(0)
        for layer in self.dense:
            np.einsum("kij,kij->k", layer.W, layer.W, out=sq)
            total += sq
        total *= self.l2 / (2 * m)
        return total

    def _l2_grad(self, m: int) -> None:
        scale = (self.l2 / m).astype(self.dtype).reshape(self.K, 1, 1)
        for layer in self.dense:
            tmp = self.ws.get("l2_tmp", layer.W.shape)
            np.multiply(layer.W, scale, out=tmp)
            layer.grads[0] += tmp

    # -- parameters by name -------------------------------------------------------------
    def get_params(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array by name (``"dense1.W"``, ``"bn1.gamma"``, ...)."""
        return {n: p.copy() for n, p in zip(self.param_names, self.params, strict=True)}

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        """Overwrite parameters by name, in place. A value has the parameter's shape
        ``(K, ...)``, or lacks the leading K (every member gets it); a ``(K, 1, n)``
        parameter also takes ``(K, n)`` or ``(n,)``."""
        arrays = dict(zip(self.param_names, self.params, strict=True))
        for name, value in values.items():
            if name not in arrays:
                raise InvalidArgument(
                    f"The network has no parameter '{name}'; it has {self.param_names}."
                )
            p, value = arrays[name], np.asarray(value)
            check.finite_array(name, value)
            p[...] = fit_shape(name, value, p, self.sizes)

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-learned arrays a checkpoint must keep: ``"bn1.running_mean"``, ... (live views)."""
        return {
            f"{name}.{key}": arr
            for name, layer in self._named_layers()
            for key, arr in layer.state_arrays().items()
        }

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Everything that training changes, as named arrays with leading K (copies):
        ``param/<name>``, ``buffer/<name>`` (running statistics) and, with dropout,
        ``rng/dropout (K, 6)`` uint64, the members' generator states."""
        state = {f"param/{n}": p.copy() for n, p in zip(self.param_names, self.params, strict=True)}
        state |= {f"buffer/{n}": b.copy() for n, b in self.buffers().items()}
        rngs = self._dropout_rngs()
        if rngs:
            state["rng/dropout"] = np.stack([rng_to_array(r) for r in rngs])
        return state

    def load_state_arrays(self, state: dict[str, np.ndarray]) -> None:
        """Overwrite what :meth:`state_arrays` gives, in place; a CheckpointError names a
        missing or mis-shaped array."""
        for name, p in zip(self.param_names, self.params, strict=True):
            p[...] = _state_array(state, f"param/{name}", p.shape)
        for name, b in self.buffers().items():
            b[...] = _state_array(state, f"buffer/{name}", b.shape)
        rngs = self._dropout_rngs()
        if rngs:
            words = _state_array(state, "rng/dropout", (self.K, 6))
            for rng, w in zip(rngs, words, strict=True):
                rng.bit_generator.state = rng_from_array(w)

    def _dropout_rngs(self) -> list[np.random.Generator]:
        # every dropout layer draws from the same per-member generators
        drops = [layer for layer in self.layers if isinstance(layer, Dropout)]
        return drops[0].rngs if drops else []

    # -- inference ------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``Ŷ (K, B, C)`` in inference mode (running statistics)."""
        Z = self.forward(X, training=False)
        return softmax(Z, out=np.empty(Z.shape, dtype=self.dtype))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class codes ``(K, B)`` in inference mode."""
        return np.argmax(self.forward(X, training=False), axis=2)

    # -- boundary checks ------------------------------------------------------------------

    def _check_input(self, X) -> np.ndarray:
        return checked_input(X, self.sizes[0], self.K, self.dtype)

    def _targets(self, y, B: int) -> np.ndarray:
        return targets(y, B, self.n_classes, self.dtype)


def prepare_kernels(dtype) -> None:
    """Compile (or load from Numba's cache) every layer kernel for ``dtype`` now, on tiny
    arrays, so that a failure shows when the network is built and the first step does not
    pay for it. Once per process and dtype."""
    dtype = np.dtype(dtype)
    z = np.ones((1, 2, 2), dtype=dtype)
    vec = [np.ones((1, 2), dtype=dtype) for _ in range(6)]
    bn_forward_kernel.warm(dtype, z, z.copy(), z.copy(), *vec, 1e-5, False, True, 0, 1)
    bn_backward_kernel.warm(dtype, z, z.copy(), z.copy(), *vec, False, z.copy(), 0, 1)
    relu_backward_kernel.warm(dtype, z.copy(), z, 0, 1)
    J = np.empty(1, dtype=dtype)
    softmax_cross_entropy_kernel.warm(dtype, z, z[0], z.copy(), J, 0, 1)


def _state_array(state: dict, key: str, shape) -> np.ndarray:
    if key not in state:
        raise CheckpointError(f"The state lacks the array '{key}'.")
    arr = np.asarray(state[key])
    if arr.shape != tuple(shape):
        raise CheckpointError(
            f"The state's array '{key}' has shape {arr.shape}; expected {tuple(shape)}."
        )
    return arr
