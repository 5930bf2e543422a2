"""Training: mini-batches, the loop, divergence, history."""

from caviar.train.batches import Batcher, batch_bounds, epoch_order
from caviar.train.divergence import Divergence
from caviar.train.loop import History, evaluate, fit, train_step

__all__ = [
    "Batcher",
    "Divergence",
    "History",
    "batch_bounds",
    "epoch_order",
    "evaluate",
    "fit",
    "train_step",
]
