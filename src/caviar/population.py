"""Build the network, optimizer and schedule of a population from its members' configurations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from caviar.config import MEMBER_FIELDS, SHAPE_FIELDS, TrainConfig
from caviar.errors import InvalidArgument
from caviar.nn.network import Network
from caviar.optim import OPTIMIZERS, Optimizer, Schedule, make_schedule


def stack(configs: Sequence[TrainConfig]) -> dict[str, np.ndarray]:
    """Per-member fields as arrays ``(K,)``; refuses members that differ in a shape field."""
    if not configs:
        raise InvalidArgument("A population needs at least one configuration. Got none.")
    first = configs[0]
    for k, c in enumerate(configs[1:], 1):
        for name in SHAPE_FIELDS:
            if getattr(c, name) != getattr(first, name):
                raise InvalidArgument(
                    f"Members of one population must share '{name}': member 0 has "
                    f"{getattr(first, name)!r}, member {k} has {getattr(c, name)!r}."
                )
    return {name: np.array([getattr(c, name) for c in configs]) for name in MEMBER_FIELDS}


def build(
    configs: Sequence[TrainConfig],
    n_features: int,
    n_classes: int,
    steps_per_epoch: int,
    backend: str = "auto",
) -> tuple[Network, Optimizer, Schedule]:
    """The network ``n_features → hidden → n_classes`` of K members, its optimizer over the
    parameter arrays and its schedule, each with the members' hyperparameters ``(K,)``.

    ``backend="auto"`` runs the compiled kernels (:mod:`caviar.backend`) when they are
    installed and a member's run is long enough to repay loading them
    (:func:`compute_backend`).
    """
    c, h = configs[0], stack(configs)
    K = len(configs)
    if c.batchnorm and c.batch_size < 2:
        raise InvalidArgument(
            "The 'batch_size' parameter must be >= 2 with batch norm (a mini-batch of one has "
            f"no variance to normalise by). Got {c.batch_size}; raise it or use --no-batchnorm."
        )
    if backend == "auto":
        per_member = parameter_count(c, n_features, n_classes)
        backend = compute_backend(6 * per_member * c.batch_size * steps_per_epoch * c.epochs)
    net = Network(
        [n_features, *c.hidden, n_classes],
        K=K,
        batchnorm=c.batchnorm,
        activation=c.activation,
        init=c.init,
        seeds=h["seed"],
        bn_momentum=h["bn_momentum"],
        keep_prob=h["keep_prob"],
        l2=h["l2"],
        dtype=c.dtype,
        backend=backend,
    )
    opt = _optimizer(c.optimizer, net, h, backend)
    return net, opt, _schedule(c, h, K, steps_per_epoch)


def parameter_count(config: TrainConfig, n_features: int, n_classes: int) -> int:
    """Learned numbers of one member: weights plus, per layer, a bias or gamma and beta."""
    sizes = [n_features, *config.hidden, n_classes]
    return sum(
        a * b + (2 if config.batchnorm else 1) * b
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    )


# Loading Numba and a cached kernel costs about 0.5 s once per process. A member whose
# forward and backward passes come to less than this at a modest 50 GFLOP/s (a 64-64-10
# network for 3 epochs of digits: 2 ms) does not ask for the kernels. The rule looks at one
# member, not the population: the layer kernels agree with NumPy only to rounding, and a
# trial must compute the same numbers alone (``caviar train``) as in any population.
KERNELS_ABOVE_SECONDS = 0.5


def compute_backend(flops_per_member: float) -> str:
    """``"auto"`` (the kernels if installed) for members of ``flops_per_member`` model FLOP
    that repay loading them, ``"numpy"`` for smaller ones."""
    return "auto" if flops_per_member / 50e9 >= KERNELS_ABOVE_SECONDS else "numpy"


def _optimizer(kind: str, net: Network, h: dict, backend: str) -> Optimizer:
    if kind not in OPTIMIZERS:
        raise InvalidArgument(
            f"The 'optimizer' parameter must be one of {sorted(OPTIMIZERS)}. Got {kind!r} instead."
        )
    args = {
        "gd": {},
        "momentum": {"beta": h["beta1"]},
        "rmsprop": {"beta2": h["beta2"], "eps": h["eps"]},
        "adam": {
            "beta1": h["beta1"],
            "beta2": h["beta2"],
            "eps": h["eps"],
            "weight_decay": h["weight_decay"],
        },
    }
    args["adamw"] = args["adam"]
    return OPTIMIZERS[kind](net.params, lr=h["lr"], backend=backend, **args[kind])


def _schedule(c: TrainConfig, h: dict, K: int, steps_per_epoch: int) -> Schedule:
    args = {
        "constant": {},
        "inverse_time": {"decay_rate": h["decay_rate"]},
        "exponential": {"base": h["decay_base"]},
        "inverse_sqrt": {"k": h["decay_k"]},
        "staircase": {"drop": h["drop"], "epochs_per_drop": h["epochs_per_drop"]},
        "warmup_cosine": {
            "warmup_steps": h["warmup_steps"],
            "alpha_min": h["alpha_min"],
            "total_steps": c.epochs * steps_per_epoch,
        },
        "plateau": {"factor": h["plateau_factor"], "patience": h["plateau_patience"]},
    }
    if c.schedule not in args:
        raise InvalidArgument(
            f"The 'schedule' parameter must be one of {sorted(args)}. Got {c.schedule!r} instead."
        )
    return make_schedule(c.schedule, h["lr"], K=K, **args[c.schedule])
