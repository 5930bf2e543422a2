"""Mini-batches: one shuffled order per epoch, shared by every member, gathered into reused
buffers."""

from __future__ import annotations

import numpy as np

from caviar._arrays import Workspace


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The example order of ``epoch``: a permutation of ``n`` drawn from ``(seed, epoch)``
    alone, so an epoch's batches do not depend on what ran before (resuming is exact)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each mini-batch over ``n`` examples.

    A last batch of a single example is folded into the one before it (batch norm cannot
    normalise one example), so with ``batch_size >= 2`` every batch has at least 2 examples.

    >>> batch_bounds(7, 3)
    [(0, 3), (3, 7)]
    """
    starts = list(range(0, n, batch_size))
    bounds = [(s, min(s + batch_size, n)) for s in starts]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


class Batcher:
    """Yields ``(X_batch (B, d), Y_batch (B, C))`` for an epoch's order, gathered with
    ``np.take(..., out=)`` into buffers reused across epochs (one pair per batch size)."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, batch_size: int):
        self.X, self.Y, self.batch_size = X, Y, batch_size
        self.bounds = batch_bounds(X.shape[0], batch_size)
        self.ws = Workspace(X.dtype)

    def __len__(self) -> int:
        return len(self.bounds)

    def epoch(self, order: np.ndarray, first: int = 0):
        """The batches of one epoch, from batch number ``first`` on."""
        for start, stop in self.bounds[first:]:
            idx = order[start:stop]
            B = stop - start
            # mode="clip": with the default "raise", np.take copies through a temporary
            xb = np.take(
                self.X, idx, axis=0, mode="clip", out=self.ws.get("x", (B, self.X.shape[1]))
            )
            yb = np.take(
                self.Y, idx, axis=0, mode="clip", out=self.ws.get("y", (B, self.Y.shape[1]))
            )
            yield xb, yb
