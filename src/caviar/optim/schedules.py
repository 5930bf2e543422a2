"""Learning-rate schedules: pure functions of (epoch or step, per-member values) → ``α (K,)``.

Each function names its unit in its first argument (``epoch`` or ``step``), counted from 0,
and gives ``α0`` at 0. Every per-member argument is a scalar or an array ``(K,)``.
:func:`make_schedule` checks the arguments once and binds them; the training loop calls
the result with the current epoch and step. Reduce-on-plateau is the one schedule with
state (it watches a metric): :class:`Plateau` keeps that state as ``(K,)`` arrays behind the
same ``alpha(epoch, step)`` / ``observe(metric)`` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from caviar import _validate as check
from caviar.errors import InvalidArgument


def constant(epoch, alpha0):
    """``α = α0``."""
    return np.asarray(alpha0, dtype=np.float64) * np.ones_like(np.asarray(epoch, dtype=float))


def inverse_time_decay(epoch, alpha0, decay_rate):
    """``α = α0 / (1 + decay_rate · epoch)`` (the notes' learning-rate decay)."""
    return np.asarray(alpha0, dtype=np.float64) / (1.0 + np.asarray(decay_rate) * epoch)


def exponential_decay(epoch, alpha0, base=0.95):
    """``α = base^epoch · α0`` (the notes' exponential decay, ``base = 0.95``)."""
    return np.power(np.asarray(base, dtype=np.float64), epoch) * alpha0


def inverse_sqrt_decay(epoch, alpha0, k=1.0):
    """``α = k / √(k² + epoch) · α0``.

    The notes' ``α = k / √epoch_num · α0`` counts epochs from 1 and is infinite at 0; caviar
    counts from 0, so it shifts the count by ``k²``: the same curve for large epochs, α0 at 0.
    """
    k = np.asarray(k, dtype=np.float64)
    return k / np.sqrt(k * k + epoch) * alpha0


def staircase_decay(epoch, alpha0, drop=0.5, epochs_per_drop=10):
    """``α = α0 · drop^⌊epoch / epochs_per_drop⌋`` (step decay)."""
    drops = np.floor_divide(epoch, epochs_per_drop)
    return np.power(np.asarray(drop, dtype=np.float64), drops) * alpha0


def warmup_cosine(step, alpha0, warmup_steps=0, total_steps=1000, alpha_min=0.0):
    """Linear warm-up then cosine decay, per step.

    ``α = α0 · (step + 1) / warmup_steps`` for ``step < warmup_steps``, then
    ``α = α_min + (α0 - α_min) · (1 + cos(π · min(1, (step - warmup_steps) /
    (total_steps - warmup_steps)))) / 2``. With no warm-up, step 0 gives α0.
    """
    alpha0 = np.asarray(alpha0, dtype=np.float64)
    w = np.asarray(warmup_steps, dtype=np.float64)
    progress = np.clip((step - w) / np.maximum(total_steps - w, 1), 0.0, 1.0)
    cosine = alpha_min + (alpha0 - alpha_min) * 0.5 * (1 + np.cos(np.pi * progress))
    warm = alpha0 * (step + 1) / np.maximum(w, 1)
    return np.where(step < w, warm, cosine)


@dataclass
class PlateauState:
    """Reduce-on-plateau state per member: ``best (K,)`` metric, ``bad (K,)`` epochs without
    improvement, ``scale (K,)`` multiplying α0."""

    best: np.ndarray
    bad: np.ndarray
    scale: np.ndarray

    @classmethod
    def new(cls, K: int) -> PlateauState:
        return cls(np.full(K, np.inf), np.zeros(K, dtype=np.int64), np.ones(K))


def plateau_update(
    state: PlateauState, metric, factor=0.1, patience=10, threshold=1e-4, min_scale=0.0
) -> PlateauState:
    """Next state after an epoch's ``metric (K,)`` (lower is better, e.g. validation loss).

    A member improves when ``metric < best · (1 - threshold)``; after more than ``patience``
    epochs without improvement its scale is multiplied by ``factor`` (not below
    ``min_scale``) and its count restarts. ``α = α0 · scale``.
    """
    metric = np.asarray(metric, dtype=np.float64)
    improved = metric < state.best * (1 - threshold)
    best = np.where(improved, metric, state.best)
    bad = np.where(improved, 0, state.bad + 1)
    cut = bad > patience
    scale = np.where(cut, np.maximum(state.scale * factor, min_scale), state.scale)
    return PlateauState(best, np.where(cut, 0, bad), scale)


# name → (function, default unit, {argument: (default, rule)}); each default is the one
# default of its knob: TrainConfig's fields read theirs from here.
SCHEDULES = {
    "constant": (constant, "epoch", {}),
    "inverse_time": (inverse_time_decay, "epoch", {"decay_rate": (1.0, check.NON_NEGATIVE)}),
    "exponential": (exponential_decay, "epoch", {"base": (0.95, check.SHARE)}),
    "inverse_sqrt": (inverse_sqrt_decay, "epoch", {"k": (1.0, check.POSITIVE)}),
    "staircase": (
        staircase_decay,
        "epoch",
        {"drop": (0.5, check.SHARE), "epochs_per_drop": (10, check.COUNT)},
    ),
    "warmup_cosine": (
        warmup_cosine,
        "step",
        {
            "warmup_steps": (0, check.NON_NEGATIVE_INT),
            "total_steps": (1000, check.COUNT),
            "alpha_min": (0.0, check.NON_NEGATIVE),
        },
    ),
    "plateau": (
        plateau_update,
        "epoch",
        {
            "factor": (0.1, check.OPEN_UNIT),
            "patience": (10, check.NON_NEGATIVE_INT),
            "threshold": (1e-4, check.NON_NEGATIVE),
            "min_scale": (0.0, check.NON_NEGATIVE),
        },
    ),
}


def default(schedule: str, argument: str):
    """The default of a schedule's argument (the one the whole library uses)."""
    return SCHEDULES[schedule][2][argument][0]


@dataclass
class Schedule:
    """A pure schedule bound to its per-member arguments: ``alpha(epoch, step) → (K,)``.

    ``unit`` says which counter drives it (``"epoch"`` or ``"step"``). ``start_epoch (K,)``
    and ``start_step (K,)`` are where each member's own count begins in the loop's (a row
    that asynchronous halving gave to a new trial at epoch 12 computes its α at epoch
    ``12 - 12 = 0``); they are its state, with the plateau's for :class:`Plateau`.
    """

    name: str
    alpha0: np.ndarray
    unit: str
    args: dict[str, np.ndarray]
    start_epoch: np.ndarray | None = None
    start_step: np.ndarray | None = None

    def __post_init__(self):
        K = len(self.alpha0)
        if self.start_epoch is None:
            self.start_epoch = np.zeros(K, dtype=np.int64)
        if self.start_step is None:
            self.start_step = np.zeros(K, dtype=np.int64)

    def alpha(self, epoch: int, step: int) -> np.ndarray:
        fn = SCHEDULES[self.name][0]
        if self.unit == "epoch":
            return fn(epoch - self.start_epoch, self.alpha0, **self.args)
        return fn(step - self.start_step, self.alpha0, **self.args)

    def observe(self, metric) -> None:
        """One epoch's metric ``(K,)``: a pure schedule ignores it."""

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {"start_epoch": self.start_epoch.copy(), "start_step": self.start_step.copy()}

    def load_state_arrays(self, state: dict[str, np.ndarray]) -> None:
        """Take back :meth:`state_arrays` (a state written before members had their own
        starts has none: every member starts at 0)."""
        for name in ("start_epoch", "start_step"):
            if name in state:
                setattr(self, name, np.array(state[name], dtype=np.int64))


@dataclass
class Plateau(Schedule):
    """Reduce on plateau: ``α = α0 · scale``, ``scale`` cut by ``factor`` when the observed
    metric stops improving (:func:`plateau_update`). Its state is three ``(K,)`` arrays."""

    state: PlateauState | None = None

    def alpha(self, epoch: int, step: int) -> np.ndarray:
        return self.alpha0 * self.state.scale

    def observe(self, metric) -> None:
        self.state = plateau_update(self.state, metric, **self.args)

    def state_arrays(self) -> dict[str, np.ndarray]:
        mine = {f: getattr(self.state, f).copy() for f in ("best", "bad", "scale")}
        return super().state_arrays() | mine

    def load_state_arrays(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_arrays(state)
        self.state = PlateauState(
            *(
                np.array(state[f], dtype=getattr(self.state, f).dtype)
                for f in ("best", "bad", "scale")
            )
        )


def make_schedule(name: str, alpha0, K: int = 1, unit: str | None = None, **kwargs) -> Schedule:
    """Check the arguments of schedule ``name`` and bind them, each broadcast to ``(K,)``.

    >>> s = make_schedule("inverse_time", 0.1, K=2, decay_rate=[1.0, 0.5])
    >>> s.alpha(epoch=1, step=0)
    array([0.05      , 0.06666667])
    """
    check.choice("schedule", name, tuple(SCHEDULES))
    _, default_unit, spec = SCHEDULES[name]
    unknown = set(kwargs) - set(spec)
    if unknown:
        raise InvalidArgument(
            f"The schedule '{name}' takes {sorted(spec) or 'no arguments'}. "
            f"Got unknown argument(s) {sorted(unknown)} instead."
        )
    alpha0 = check.per_member("lr", alpha0, K, check.POSITIVE)
    args = {a: check.per_member(a, kwargs.get(a, d), K, rule) for a, (d, rule) in spec.items()}
    if name == "warmup_cosine" and np.any(args["total_steps"] <= args["warmup_steps"]):
        raise InvalidArgument(
            "The 'total_steps' parameter must be greater than 'warmup_steps'. "
            f"Got total_steps={args['total_steps']} and warmup_steps={args['warmup_steps']}."
        )
    unit = check.choice("unit", unit or default_unit, ("epoch", "step"))
    if name == "plateau":
        return Plateau(name, alpha0, unit, args, state=PlateauState.new(K))
    return Schedule(name, alpha0, unit, args)


def as_schedule(schedule, K: int) -> Schedule:
    """``schedule`` itself, or a constant one when it is a learning rate (scalar or ``(K,)``)."""
    if isinstance(schedule, Schedule):
        return schedule
    return make_schedule("constant", schedule, K=K)
