"""Layers and networks with explicit forward and backward passes, population axis first."""

from caviar.nn.activations import Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from caviar.nn.batchnorm import BatchNorm
from caviar.nn.dense import Dense
from caviar.nn.loss import SoftmaxCrossEntropy, softmax
from caviar.nn.network import Network

__all__ = [
    "BatchNorm",
    "Dense",
    "Dropout",
    "LeakyReLU",
    "Network",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "softmax",
]
