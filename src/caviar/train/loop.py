"""The training loop: batches, schedule, optimizer, divergence check and history, composed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from caviar import _validate as check
from caviar.errors import InvalidArgument
from caviar.nn.network import Network
from caviar.optim.base import Optimizer
from caviar.optim.schedules import Schedule, as_schedule
from caviar.train.batches import Batcher, epoch_order
from caviar.train.divergence import Divergence

METRICS = ("loss", "lr", "val_loss", "val_accuracy")
_CURSOR = ("steps", "epoch_start", "interrupted", "stopped_early")


@dataclass
class History:
    """Per-epoch records, each row ``(K,)``: training cost (mean over the epoch's
    mini-batches, weighted by their size), the learning rate α the epoch's last step used,
    and, when validation data is given, validation loss and accuracy.

    ``steps`` counts optimizer steps; ``partial (K,)`` is the cost sum of an epoch that was
    interrupted after a step (``interrupted``) and ``epoch_start`` the step that epoch began
    at, so that training continues exactly there.
    """

    loss: list[np.ndarray] = field(default_factory=list)
    lr: list[np.ndarray] = field(default_factory=list)
    val_loss: list[np.ndarray] = field(default_factory=list)
    val_accuracy: list[np.ndarray] = field(default_factory=list)
    divergence: Divergence | None = None
    steps: int = 0
    epoch_start: int = 0
    partial: np.ndarray | None = None
    interrupted: bool = False
    stopped_early: bool = False

    @classmethod
    def new(cls, K: int) -> History:
        return cls(divergence=Divergence.new(K))

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The history as arrays with leading K: each metric ``(K, epochs)``, the divergence
        state, and the loop's cursor repeated per member (``(K,)``, equal across members),
        with ``partial (K,)`` and ``has_partial (K,)``."""
        K = len(self.divergence.active)
        state = {m: _columns(getattr(self, m), K) for m in METRICS}
        state |= {f"divergence/{k}": v for k, v in self.divergence.state_arrays().items()}
        state |= {c: np.full(K, getattr(self, c), dtype=np.int64) for c in _CURSOR}
        state["has_partial"] = np.full(K, self.partial is not None)
        state["partial"] = np.zeros(K) if self.partial is None else self.partial.copy()
        return state

    @classmethod
    def from_state_arrays(cls, state: dict[str, np.ndarray]) -> History:
        h = cls(
            **{m: list(np.asarray(state[m], dtype=np.float64).T) for m in METRICS},
            divergence=Divergence.from_state_arrays(
                {k: state[f"divergence/{k}"] for k in ("active", "epoch", "step")}
            ),
        )
        for c in _CURSOR:
            values = np.asarray(state[c])
            setattr(h, c, type(getattr(h, c))(values[0]) if values.size else getattr(h, c))
        if np.asarray(state["has_partial"]).any():
            h.partial = np.array(state["partial"], dtype=np.float64)
        return h


def _columns(rows: list[np.ndarray], K: int) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(len(rows), K).T.copy()


def evaluate(net: Network, X: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """Inference-mode cost and accuracy per member: ``(loss (K,), accuracy (K,))``.

    ``X (n, d)``, ``y (n,)`` integer class codes (or one-hot); evaluated in chunks of
    ``batch_size``. Training passes its own batch size, whose buffers exist already. The
    chunk sets the order of the sum, so it never depends on K.
    """
    X, Y = net.prepare(X, y)
    loss = np.zeros(net.K)
    correct = np.zeros(net.K)
    with np.errstate(all="ignore"):
        for s in range(0, X.shape[0], batch_size):
            J, hits = net.evaluate_batch(X[s : s + batch_size], Y[s : s + batch_size])
            loss += J * min(batch_size, X.shape[0] - s)
            correct += hits
    return loss / X.shape[0], correct / X.shape[0]


def train_step(
    net: Network,
    optimizer: Optimizer,
    X: np.ndarray,
    Y: np.ndarray,
    lr,
    divergence: Divergence | None = None,
    epoch: int = 0,
    step: int = 0,
) -> np.ndarray:
    """One step on a prepared mini-batch (:meth:`Network.prepare`): ``J = cost(X, Y)``; with
    ``divergence``, members whose ``J`` is not finite are frozen (at ``epoch``, ``step``);
    backward; the optimizer's update with learning rate ``lr`` (scalar or ``(K,)``, checked)
    for the active members. Returns ``J (K,)``."""
    return _train_step(net, optimizer, X, Y, optimizer.alpha(lr), divergence, epoch, step)


def _train_step(net, optimizer, X, Y, alpha, divergence, epoch, step) -> np.ndarray:
    """The one definition of a training step; ``alpha (K,)`` already checked (fit's comes
    from its schedule, checked where the schedule was made: nothing is checked per step)."""
    J = net.cost(X, Y)
    if divergence is not None:
        divergence.check_loss(J, epoch, step)
    net.backward()
    optimizer.update(net.grads, alpha, None if divergence is None else divergence.active)
    return J


def fit(
    net: Network,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    schedule: Schedule | float | np.ndarray,
    batch_size: int = 64,
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    history: History | None = None,
    should_stop: Callable[[], bool] | None = None,
    order_offset: int = 0,
) -> History:
    """Train ``net`` with ``optimizer`` for ``epochs`` passes over ``X (n, d)``, ``y (n,)``.

    ``schedule`` is where α comes from: a :class:`~caviar.optim.schedules.Schedule`, or a
    learning rate (scalar or ``(K,)``) for a constant one. Every member sees the same
    mini-batches (order from ``seed`` and ``epoch + order_offset``). Each step:
    ``J = loss(X_t)``; members whose ``J`` is not finite are frozen; backward; optimizer step with
    ``α = schedule(epoch, step) (K,)``. After each epoch: a parameter check, validation, the
    schedule's ``observe`` and ``on_epoch(epoch, history)``; a true result from ``on_epoch``
    ends training (``stopped_early``). ``should_stop()`` is asked after every step: when
    true, training stops there (``interrupted``). Passing the ``history`` of an earlier call
    continues from its epoch, step and partial epoch, exactly.
    """
    check.positive_int("epochs", epochs)
    check.positive_int("batch_size", batch_size)
    _check_optimizer(net, optimizer)
    X, Y = net.prepare(X, y)
    schedule = as_schedule(schedule, net.K)
    history = history or History.new(net.K)
    batcher = Batcher(X, Y, batch_size)
    history.interrupted = False
    for epoch in range(history.epochs, epochs):
        order = epoch_order(X.shape[0], seed, epoch + order_offset)
        done = _train_epoch(net, optimizer, schedule, batcher, order, epoch, history, should_stop)
        if done is None:
            history.interrupted = True
            return history
        total, alpha = done
        history.loss.append(total / X.shape[0])
        history.lr.append(alpha)
        history.divergence.check_params(net.params, epoch, history.steps - 1)
        metric = history.loss[-1]
        if validation is not None:
            vl, va = evaluate(net, *validation, batch_size=batch_size)
            history.val_loss.append(vl)
            history.val_accuracy.append(va)
            metric = vl
        schedule.observe(metric)
        if on_epoch is not None and on_epoch(epoch, history):
            history.stopped_early = True
            break
        if should_stop is not None and epoch + 1 < epochs and should_stop():
            history.interrupted = True
            break
    return history


def _check_optimizer(net: Network, optimizer: Optimizer) -> None:
    """The optimizer must update this network's own arrays (the ones ``backward`` fills
    gradients for), in order; another network's would train nothing, or worse."""
    mine, its = net.params, getattr(optimizer, "params", None)
    same = its is not None and len(its) == len(mine)
    if not same or any(a is not b for a, b in zip(mine, its, strict=True)):
        raise InvalidArgument(
            "The optimizer was not built on this network's parameters: build it as "
            "Adam(net.params, ...) (or the optimizer you use) with the network you train."
        )


def _train_epoch(net, optimizer, schedule, batcher, order, epoch, history, should_stop):
    """The rest of one pass over the data (from where an interrupted call stopped).

    Returns ``(size-weighted cost sum (K,), α of the last step (K,))``, or None when
    ``should_stop`` ended it early (the sum so far is then kept in ``history.partial``).
    """
    div = history.divergence
    if history.partial is None:
        history.epoch_start, total, start = history.steps, np.zeros(net.K), 0
    else:
        total, start = history.partial, history.steps - history.epoch_start
    history.partial = None
    alpha = None
    with np.errstate(all="ignore"):
        for i, (xb, yb) in enumerate(batcher.epoch(order, start), start):
            alpha = schedule.alpha(epoch, history.steps)
            J = _train_step(net, optimizer, xb, yb, alpha, div, epoch, history.steps)
            total += J * xb.shape[0]
            history.steps += 1
            if should_stop is not None and i + 1 < len(batcher) and should_stop():
                history.partial = total
                return None
    if alpha is None:  # resumed exactly at an epoch's end: nothing left to run
        alpha = schedule.alpha(epoch, history.steps - 1)
    return total, np.asarray(alpha, dtype=np.float64) * np.ones(net.K)
