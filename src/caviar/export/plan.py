"""A trained network in inference mode as plain arrays: standardisation, then dense layers
(batch norm folded in) each followed by its activation, then softmax.

Batch norm at inference uses its running statistics, so it is an affine map per unit,
``y = a · scale + shift`` with ``scale = γ / √(σ² + ε)`` and ``shift = β − μ · scale``. Before
the activation (``bn_position="before"``) it folds into the dense layer before it::

    W' = W · scale (column j by scale_j)      b' = (b − μ) · scale + β

After the activation it cannot (the activation lies between), so it folds into the dense
layer after it, whose input it is::

    W' = scale · W (row i by scale_i)         b' = b + shift · W

Dropout is the identity at inference (inverted dropout already scaled in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from caviar import nn
from caviar.errors import InvalidArgument
from caviar.nn.loss import softmax

ACTIVATIONS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}


@dataclass(frozen=True)
class Dense:
    """``a_out = activation(a_in @ W + b)``: ``W (n_in, n_out)``, ``b (n_out,)`` float64;
    ``activation`` is None for the output layer (its logits go to softmax)."""

    W: np.ndarray
    b: np.ndarray
    activation: str | None = None
    slope: float = 0.0  # leaky ReLU's slope


@dataclass(frozen=True)
class Plan:
    """``p = softmax(layers(… ((x − mean) / std) …))`` for raw features ``x (B, d)``."""

    mean: np.ndarray  # (d,)
    std: np.ndarray  # (d,)
    layers: tuple[Dense, ...]
    classes: tuple
    feature_names: tuple
    prep: object = None  # a table's Preprocessor: raw columns → the encoded features x

    @property
    def n_features(self) -> int:
        return self.mean.shape[0]

    def probabilities(self, X) -> np.ndarray:
        """``(B, C)`` in float64, straight from the plan: the reference both exports follow
        (a table's rows are encoded by ``prep`` first)."""
        if self.prep is not None:
            from caviar.data.table import as_table

            X = self.prep.transform(as_table(X, self.prep.inputs, self.prep.kinds))
        a = (np.asarray(X, dtype=np.float64) - self.mean) / self.std
        for layer in self.layers:
            a = _activate(a @ layer.W + layer.b, layer)
        return softmax(a)

    def folded_input(self) -> tuple[Dense, ...]:
        """The layers with the standardisation folded into the first one:
        ``((x − m)/s) W + b = x (W / s) + (b − (m / s) W)``."""
        first, rest = self.layers[0], self.layers[1:]
        W = first.W / self.std[:, None]
        b = first.b - (self.mean / self.std) @ first.W
        return (Dense(W, b, first.activation, first.slope), *rest)


def _activate(z: np.ndarray, layer: Dense) -> np.ndarray:
    if layer.activation == "relu":
        return np.maximum(z, 0)
    if layer.activation == "leaky_relu":
        return np.where(z > 0, z, layer.slope * z)
    if layer.activation == "tanh":
        return np.tanh(z)
    if layer.activation == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def inference_plan(model) -> Plan:
    """The :class:`Plan` of a :class:`caviar.model.Model` (one network, K = 1)."""
    net = model.net
    if net.K != 1:
        raise InvalidArgument(
            f"Only a single model can be exported; this network holds K = {net.K} members. "
            "Train or load one model (K = 1), e.g. a tune's best trial with caviar train."
        )
    layers: list[Dense] = []
    after = None  # (scale, shift) of a batch norm after an activation, for the next dense layer
    for layer in net.layers:
        if isinstance(layer, nn.Dense):
            b = np.zeros(layer.W.shape[2]) if layer.b is None else layer.b[0, 0]
            dense = Dense(layer.W[0].astype(np.float64), b.astype(np.float64))
            layers.append(dense if after is None else _fold_into_next(dense, *after))
            after = None
        elif isinstance(layer, nn.BatchNorm) and layers[-1].activation is None:
            layers[-1] = _fold(layers[-1], layer)
        elif isinstance(layer, nn.BatchNorm):
            after = _affine(layer)
        elif type(layer) in ACTIVATIONS:
            slope = float(getattr(layer, "slope", 0.0))
            layers[-1] = Dense(layers[-1].W, layers[-1].b, ACTIVATIONS[type(layer)], slope)
        elif not isinstance(layer, nn.Dropout):
            raise InvalidArgument(f"Cannot export a {type(layer).__name__} layer.")
    std = model.standardizer
    return Plan(
        mean=np.asarray(std.mean, dtype=np.float64),
        std=np.asarray(std.std, dtype=np.float64),
        layers=tuple(layers),
        classes=tuple(np.asarray(model.classes).tolist()),
        feature_names=tuple(model.feature_names),
        prep=model.prep,
    )


def writable(path) -> Path:
    """``path`` as a Path whose folder exists; an InvalidArgument otherwise."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InvalidArgument(
            f"Cannot write {path}: the folder {path.parent} does not exist; create it first."
        )
    return path


def _fold(dense: Dense, bn) -> Dense:
    """Batch norm with running statistics folded into ``dense``, the layer before it (the
    module docstring)."""
    mu, var = bn.running_mean[0, 0].astype(np.float64), bn.running_var[0, 0].astype(np.float64)
    gamma, beta = bn.gamma[0, 0].astype(np.float64), bn.beta[0, 0].astype(np.float64)
    scale = gamma / np.sqrt(var + bn.eps)
    return Dense(dense.W * scale, (dense.b - mu) * scale + beta, dense.activation, dense.slope)


def _affine(bn) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` ``(n,)`` of batch norm at inference: ``y = a · scale + shift``."""
    mu, var = bn.running_mean[0, 0].astype(np.float64), bn.running_var[0, 0].astype(np.float64)
    gamma, beta = bn.gamma[0, 0].astype(np.float64), bn.beta[0, 0].astype(np.float64)
    scale = gamma / np.sqrt(var + bn.eps)
    return scale, beta - mu * scale


def _fold_into_next(dense: Dense, scale: np.ndarray, shift: np.ndarray) -> Dense:
    """``dense`` taking ``a · scale + shift`` as its input, folded: ``(a·s + t) W + b =
    a (s W) + (b + t W)``."""
    return Dense(scale[:, None] * dense.W, dense.b + shift @ dense.W, dense.activation, dense.slope)
