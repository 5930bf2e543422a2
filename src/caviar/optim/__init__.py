"""Optimizers over parameter arrays and learning-rate schedules, per member."""

from caviar.optim.adam import Adam, AdamW
from caviar.optim.base import Optimizer
from caviar.optim.rmsprop import RMSprop
from caviar.optim.schedules import (
    SCHEDULES,
    Plateau,
    Schedule,
    as_schedule,
    constant,
    exponential_decay,
    inverse_sqrt_decay,
    inverse_time_decay,
    make_schedule,
    plateau_update,
    staircase_decay,
    warmup_cosine,
)
from caviar.optim.sgd import GradientDescent, Momentum

OPTIMIZERS = {
    "gd": GradientDescent,
    "momentum": Momentum,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
}

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "Plateau",
    "Adam",
    "AdamW",
    "GradientDescent",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "as_schedule",
    "constant",
    "exponential_decay",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "make_schedule",
    "plateau_update",
    "staircase_decay",
    "warmup_cosine",
]
