"""A population of K fully connected classifiers that share one architecture."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from caviar import _validate as check
from caviar import backend as backends
from caviar.errors import InvalidArgument
from caviar.nn import kernels
from caviar.nn.activations import ACTIVATIONS, Dropout, LeakyReLU, ReLU
from caviar.nn.batchnorm import BatchNorm
from caviar.nn.dense import Dense
from caviar.nn.init import member_rngs, normal_weights
from caviar.nn.layer import Layer, Workspace
from caviar.nn.loss import SoftmaxCrossEntropy

DTYPES = {"float32": np.float32, "float64": np.float64}


class Network:
    """K classifiers ``sizes[0] → … → sizes[-1]``, trained as one vectorised computation.

    Each hidden layer is ``Dense (no bias) → BatchNorm → activation → Dropout`` (with
    ``batchnorm=False``: ``Dense (bias) → activation → Dropout``; dropout only when some
    ``keep_prob < 1``); the output layer is ``Dense (bias)`` followed by the fused softmax
    cross-entropy. ``activation`` is one name (``relu``, ``leaky_relu``, ``tanh``,
    ``sigmoid``) or one per hidden layer; ``init="auto"`` draws He weights before ReLU-like
    activations and Xavier weights otherwise. ``loss`` returns the cost per member ``J (K,)``::

        J_k = (1/m) Σ_i L(ŷ⁽ⁱ⁾, y⁽ⁱ⁾) + (λ_k / 2m) Σ_l ‖W⁽ˡ⁾_k‖²_F

    Per-member arguments (``seeds``, ``bn_momentum``, ``keep_prob``, ``l2``) take a scalar
    or one value per member ``(K,)``. Member k draws its weights and dropout masks from its
    own seed, so it computes exactly what ``Network(sizes, K=1, seeds=seeds[k], ...)`` does.
    One integer seed ``s`` for K > 1 means seeds ``s, s + 1, …, s + K - 1``.

    ``backend`` (``auto``, ``numba``, ``numpy``; see :mod:`caviar.backend`) picks compiled
    loops or NumPy operations for batch norm and ReLU; both compute the same equations.

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
    ):
        self.K = check.positive_int("K", K)
        self.sizes = _check_sizes(sizes)
        self.dtype = np.dtype(DTYPES[check.choice("dtype", str(np.dtype(dtype)), DTYPES)])
        self.activations = _check_activations(activation, len(self.sizes) - 2)
        self.init = check.choice("init", init, ("auto", "he", "xavier"))
        self.batchnorm = bool(batchnorm)
        self.seeds = _check_seeds(seeds, self.K)
        self.bn_momentum = check.per_member(
            "bn_momentum", bn_momentum, self.K, low=0, high=1, high_open=True
        )
        self.keep_prob = check.per_member(
            "keep_prob", keep_prob, self.K, low=0, high=1, low_open=True
        )
        self.l2 = check.per_member("l2", l2, self.K, low=0)
        self.bn_eps = float(check.per_member("bn_eps", bn_eps, 1, low=0, low_open=True)[0])
        self.leaky_slope = float(
            check.per_member("leaky_slope", leaky_slope, 1, low=0, high=1, high_open=True)[0]
        )
        self.layers: list[Layer] = self._build()
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
    def _build(self) -> list[Layer]:
        init_rngs = member_rngs(self.seeds, stream=0)
        drop_rngs = member_rngs(self.seeds, stream=1)
        layers: list[Layer] = []
        n_hidden = len(self.sizes) - 2
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            hidden = i < n_hidden
            W = normal_weights(init_rngs, n_in, n_out, self._init_scheme(i) if hidden else "xavier")
            use_bias = not (hidden and self.batchnorm)
            b = np.zeros((self.K, 1, n_out)) if use_bias else None
            layers.append(Dense(W, b, self.dtype))
            if not hidden:
                break
            if self.batchnorm:
                bn = BatchNorm(n_out, self.K, self.bn_momentum, self.bn_eps, self.dtype)
                bn.inplace = True  # its input is the dense output, scratch once normalised
                layers.append(bn)
            layers.append(self._activation_layer(self.activations[i]))
            if np.any(self.keep_prob < 1):
                layers.append(Dropout(self.keep_prob, drop_rngs, self.dtype))
        return layers

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
        value = backends.settle(value, lambda: kernels.prepare(self.dtype))
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
        X = self._check_input(X)
        return self._loss(X, self._targets(y, X.shape[-2]), training)

    def _loss(self, X: np.ndarray, Y: np.ndarray, training: bool = True) -> np.ndarray:
        J = self.loss_layer.forward(self._forward(X, training), Y)
        if np.any(self.l2):
            J += self._l2_cost(X.shape[-2])
        return J

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
            p[...] = _fit_shape(name, value, p, self.sizes)

    def buffers(self) -> dict[str, np.ndarray]:
        """Non-learned arrays a checkpoint must keep: ``"bn1.running_mean"``, ... (live views)."""
        return {
            f"{name}.{key}": arr
            for name, layer in self._named_layers()
            for key, arr in layer.state_arrays().items()
        }

    def rng_states(self) -> list[dict]:
        """The dropout generators' states, one per member (JSON-serialisable)."""
        drops = [layer for layer in self.layers if isinstance(layer, Dropout)]
        return drops[0].rng_states() if drops else []

    def set_rng_states(self, states: list[dict]) -> None:
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.set_rng_states(states)
                return

    # -- inference ------------------------------------------------------------------------
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``Ŷ (K, B, C)`` in inference mode (running statistics)."""
        Z = self.forward(X, training=False)
        out = np.empty(Z.shape, dtype=self.dtype)
        np.subtract(Z, Z.max(axis=2, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=2, keepdims=True)
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class codes ``(K, B)`` in inference mode."""
        return np.argmax(self.forward(X, training=False), axis=2)

    # -- boundary checks ------------------------------------------------------------------
    def _check_input(self, X) -> np.ndarray:
        X = np.asarray(X)
        n0 = self.sizes[0]
        ok = X.ndim in (2, 3) and X.shape[-1] == n0 and (X.ndim == 2 or X.shape[0] == self.K)
        if not ok:
            raise InvalidArgument(
                f"The 'X' array must have shape (B, {n0}) or ({self.K}, B, {n0}). "
                f"Got shape {X.shape} instead."
            )
        if X.shape[-2] == 0:
            raise InvalidArgument("The 'X' array must hold at least one example. Got 0 rows.")
        check.finite_array("X", X)
        return np.ascontiguousarray(X, dtype=self.dtype)

    def _targets(self, y, B: int) -> np.ndarray:
        """One-hot ``Y (B, C)`` from labels ``(B,)`` in ``[0, C)`` or a one-hot ``(B, C)``."""
        y = np.asarray(y)
        C = self.n_classes
        if y.shape == (B, C):
            return np.ascontiguousarray(y, dtype=self.dtype)
        if y.shape != (B,) or not np.issubdtype(y.dtype, np.integer):
            raise InvalidArgument(
                f"The 'y' array must hold {B} integer labels (shape ({B},)) or be one-hot of "
                f"shape ({B}, {C}). Got shape {y.shape} and dtype {y.dtype} instead."
            )
        if y.min() < 0 or y.max() >= C:
            bad = y[(y < 0) | (y >= C)][0]
            raise InvalidArgument(
                f"The 'y' labels must be in [0, {C - 1}] for a network with {C} outputs. "
                f"Got {bad} instead."
            )
        return one_hot(y, C, self.dtype)


def one_hot(y: np.ndarray, C: int, dtype) -> np.ndarray:
    """``Y (B, C)`` with ``Y[i, y_i] = 1``."""
    Y = np.zeros((y.shape[0], C), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def _fit_shape(name: str, value: np.ndarray, p: np.ndarray, sizes) -> np.ndarray:
    """``value`` reshaped to broadcast onto parameter ``p``, or an error naming both shapes."""
    K, inner = p.shape[0], p.shape[1:]
    allowed = [p.shape, inner]
    if inner[0] == 1:
        allowed += [(K,) + inner[1:], inner[1:]]
    if value.shape not in allowed:
        raise InvalidArgument(
            f"The '{name}' array must have one of the shapes {allowed} (layer sizes "
            f"{list(sizes)} must chain). Got shape {value.shape} instead."
        )
    if value.shape == (K,) + inner[1:] and inner[0] == 1:
        return value.reshape(p.shape)
    return value


def _check_activations(activation, n_hidden: int) -> tuple[str, ...]:
    names = (activation,) * n_hidden if isinstance(activation, str) else tuple(activation)
    if len(names) != n_hidden:
        raise InvalidArgument(
            f"The 'activation' parameter must be one name or one per hidden layer ({n_hidden}). "
            f"Got {list(names)} instead."
        )
    for name in names:
        check.choice("activation", name, tuple(ACTIVATIONS))
    return names


def _check_sizes(sizes) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise InvalidArgument(
            "The 'sizes' parameter must list at least the input and output sizes, e.g. "
            f"[64, 32, 10]. Got {list(sizes)} instead."
        )
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidArgument(
                f"The 'sizes' parameter must hold positive integers (layer widths). "
                f"Got {n!r} at position {i} instead."
            )
    if sizes[-1] < 2:
        raise InvalidArgument(
            "The 'sizes' parameter must end with the number of classes, at least 2. "
            f"Got {sizes[-1]} instead."
        )
    return tuple(int(n) for n in sizes)


def _check_seeds(seeds, K: int) -> np.ndarray:
    if seeds is None:
        seeds = np.arange(K)
    arr = np.atleast_1d(np.asarray(seeds))
    if arr.shape != (K,) and arr.shape == (1,):
        arr = arr + np.arange(K) if K > 1 else arr
    if arr.shape != (K,) or not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
        raise InvalidArgument(
            f"The 'seeds' parameter must be one non-negative integer per member, shape ({K},). "
            f"Got {seeds!r} instead."
        )
    return arr.astype(np.int64)
