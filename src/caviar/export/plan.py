"""A trained network in inference mode as plain arrays: standardisation, then dense layers
(batch norm folded in) each followed by its activation, then softmax.

Batch norm at inference uses its running statistics, so it is an affine map per unit and
folds into the dense layer before it::

    scale = γ / √(σ² + ε)        W' = W · scale (column j by scale_j)
    b' = (b − μ) · scale + β     (b = 0 for a dense layer without bias)

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

    @property
    def n_features(self) -> int:
        return self.mean.shape[0]

    def probabilities(self, X) -> np.ndarray:
        """``(B, C)`` in float64, straight from the plan: the reference both exports follow."""
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
    for layer in net.layers:
        if isinstance(layer, nn.Dense):
            b = np.zeros(layer.W.shape[2]) if layer.b is None else layer.b[0, 0]
            layers.append(Dense(layer.W[0].astype(np.float64), b.astype(np.float64)))
        elif isinstance(layer, nn.BatchNorm):
            layers[-1] = _fold(layers[-1], layer)
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
    """Batch norm with running statistics folded into ``dense`` (the module docstring)."""
    mu, var = bn.running_mean[0, 0].astype(np.float64), bn.running_var[0, 0].astype(np.float64)
    gamma, beta = bn.gamma[0, 0].astype(np.float64), bn.beta[0, 0].astype(np.float64)
    scale = gamma / np.sqrt(var + bn.eps)
    return Dense(dense.W * scale, (dense.b - mu) * scale + beta, dense.activation, dense.slope)
