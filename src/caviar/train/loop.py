"""The training loop: batches, schedule, optimizer, divergence check and history, composed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from caviar import _validate as check
from caviar.nn.network import Network
from caviar.optim.base import Optimizer
from caviar.optim.schedules import Schedule, make_schedule
from caviar.train.batches import Batcher, epoch_order
from caviar.train.divergence import Divergence


@dataclass
class History:
    """Per-epoch records, each row ``(K,)``: training cost (mean over the epoch's
    mini-batches, weighted by their size), learning rate at the epoch's end, and, when
    validation data is given, validation loss and accuracy.

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

    @property
    def epochs(self) -> int:
        return len(self.loss)


def evaluate(net: Network, X: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """Inference-mode cost and accuracy per member: ``(loss (K,), accuracy (K,))``.

    ``X (n, d)``, ``y (n,)`` integer class codes; evaluated in chunks of ``batch_size``.
    Training passes its own batch size: the layers' buffers for it exist already, and a
    fresh, larger set costs more in page faults than the extra calls (a 32-trial tune's final
    training-set pass: 10.6 ms in chunks of 64, 12.6 of 256, 15.8 of 1,024). The chunk sets
    the order of the sum, so it never depends on K.
    """
    X = net._check_input(X)
    Y = net._targets(np.asarray(y), X.shape[0])
    y = Y.argmax(axis=1)  # class codes, whether y came as codes or one-hot
    loss = np.zeros(net.K)
    correct = np.zeros(net.K)
    with np.errstate(all="ignore"):
        for s in range(0, X.shape[0], batch_size):
            xb, yb = X[s : s + batch_size], Y[s : s + batch_size]
            loss += net.loss_layer.forward(net._forward(xb, False), yb) * xb.shape[0]
            correct += (net.loss_layer.probabilities.argmax(axis=2) == y[s : s + batch_size]).sum(1)
    return loss / X.shape[0], correct / X.shape[0]


def fit(
    net: Network,
    optimizer: Optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    schedule: Schedule | None = None,
    seed: int = 0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    history: History | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> History:
    """Train ``net`` with ``optimizer`` for ``epochs`` passes over ``X (n, d)``, ``y (n,)``.

    Every member sees the same mini-batches (order from ``seed`` and the epoch). Each step:
    ``J = loss(X_t)``; members whose ``J`` is not finite are frozen; backward; optimizer
    step with ``α = schedule(epoch, step) (K,)``. After each epoch: a parameter check,
    validation, the schedule's ``observe`` and ``on_epoch(epoch, history)``; a true result
    from ``on_epoch`` ends training (``stopped_early``). ``should_stop()`` is asked after
    every step: when true, training stops there (``interrupted``). Passing the ``history``
    of an earlier call continues from its epoch, step and partial epoch, exactly.
    """
    check.positive_int("epochs", epochs)
    check.positive_int("batch_size", batch_size)
    X = net._check_input(X)
    Y = net._targets(np.asarray(y), X.shape[0])
    schedule = schedule or make_schedule("constant", optimizer.lr, K=net.K)
    history = history or History(divergence=Divergence.new(net.K))
    batcher = Batcher(X, Y, batch_size)
    history.interrupted = False
    for epoch in range(history.epochs, epochs):
        total = _train_epoch(net, optimizer, schedule, batcher, seed, epoch, history, should_stop)
        if total is None:
            history.interrupted = True
            return history
        history.loss.append(total / X.shape[0])
        history.lr.append(schedule.alpha(epoch, history.steps - 1))
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


def _train_epoch(net, optimizer, schedule, batcher, seed, epoch, history, should_stop):
    """The rest of one pass over the data (from where an interrupted call stopped).

    Returns the size-weighted cost sum per member ``(K,)``, or None when ``should_stop``
    ended it early (the sum so far is then kept in ``history.partial``).
    """
    div = history.divergence
    if history.partial is None:
        history.epoch_start, total, start = history.steps, np.zeros(net.K), 0
    else:
        total, start = history.partial, history.steps - history.epoch_start
    history.partial = None
    order = epoch_order(batcher.X.shape[0], seed, epoch)
    with np.errstate(all="ignore"):
        for i, (xb, yb) in enumerate(batcher.epoch(order, start), start):
            J = net._loss(xb, yb)
            div.check_loss(J, epoch, history.steps)
            total += J * xb.shape[0]
            net.backward()
            optimizer.step(net.grads, schedule.alpha(epoch, history.steps), div.active)
            history.steps += 1
            if should_stop is not None and i + 1 < len(batcher) and should_stop():
                history.partial = total
                return None
    return total
