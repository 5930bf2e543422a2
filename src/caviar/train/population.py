"""A population: K members of one shape, their network, optimizer, schedule and history, with
the whole training state as named arrays.

Every stateful part gives its state as arrays with a leading K and takes it back
(``state_arrays``/``load_state_arrays``), so a population's state is one flat
``{name: (K, ...) array}``: :meth:`Population.state`. That dict is what a checkpoint holds,
what moves members between populations (:func:`select_state`, :func:`stack_states`, the
tuner's regrouping for successive halving) and what an executor on another machine sends:
it survives a round trip through plain ``.npz`` bytes, no pickle. Rebuilding from it
(:meth:`Population.from_state`) continues training exactly, to the bit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from caviar.config import MEMBER_FIELDS, SHAPE_FIELDS, TrainConfig, engine_arguments
from caviar.cost import MemberCost, compute_backend
from caviar.errors import CheckpointError, InvalidArgument
from caviar.nn.init import rng_to_array
from caviar.nn.network import Network
from caviar.optim import OPTIMIZERS, Optimizer, Schedule, make_schedule
from caviar.train.batches import batch_bounds
from caviar.train.loop import History, fit


def stacked(configs: Sequence[TrainConfig]) -> dict[str, np.ndarray]:
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


def schedule_for(configs: Sequence[TrainConfig], steps_per_epoch: int, h=None) -> Schedule:
    """The members' schedule: the first's kind, each member's α0 and arguments ``(K,)``
    (warmup_cosine's length from epochs × steps per epoch); ``h``: :func:`stacked` of
    ``configs`` when already computed."""
    c, h = configs[0], stacked(configs) if h is None else h
    args = {arg: h[name] for name, arg in engine_arguments(c.schedule).items()}
    if c.schedule == "warmup_cosine":
        args["total_steps"] = c.epochs * steps_per_epoch
    return make_schedule(c.schedule, h["lr"], K=len(configs), **args)


def _network(c: TrainConfig, h: dict, n_features, n_classes, backend, initialise) -> Network:
    members = {arg: h[name] for name, arg in engine_arguments("network").items()}
    return Network(
        [n_features, *c.hidden, n_classes],
        K=len(h["seed"]),
        batchnorm=c.batchnorm,
        bn_position=c.bn_position,
        activation=c.activation,
        init=c.init,
        dtype=c.dtype,
        backend=backend,
        initialise=initialise,
        **members,
    )


def _optimizer(c: TrainConfig, h: dict, net: Network, backend: str) -> Optimizer:
    args = {arg: h[name] for name, arg in engine_arguments(c.optimizer).items()}
    return OPTIMIZERS[c.optimizer](net.params, backend=backend, **args)


class Population:
    """K members training together: their configurations, network, optimizer, schedule,
    history and training time ``seconds (K,)`` (each member's share). Build with
    :meth:`build` or :meth:`from_state`; ``n_train`` is the training set's size, which
    fixes the steps per epoch."""

    def __init__(self, configs, n_features, n_classes, n_train, net, optimizer, schedule, history):
        self.configs = list(configs)
        self.n_features, self.n_classes, self.n_train = n_features, n_classes, n_train
        self.net, self.optimizer, self.schedule, self.history = net, optimizer, schedule, history
        self.seconds = np.zeros(len(self.configs))

    @classmethod
    def build(
        cls,
        configs: Sequence[TrainConfig],
        n_features: int,
        n_classes: int,
        n_train: int,
        backend: str = "auto",
        *,
        initialise: bool = True,
    ) -> Population:
        """Fresh members ``n_features → hidden → n_classes``, weights from their seeds
        (``initialise=False``: unset, for :meth:`from_state` to load).

        ``backend="auto"`` runs the compiled kernels (:mod:`caviar.backend`) when they are
        installed and a member's run is long enough to repay loading them
        (:func:`caviar.cost.compute_backend`).
        """
        configs = list(configs)
        c, h = configs[0], stacked(configs)  # refuses mixed shapes before any allocation
        if backend == "auto":
            backend = compute_backend(MemberCost.of(c, n_features, n_classes, n_train))
        net = _network(c, h, n_features, n_classes, backend, initialise)
        steps = len(batch_bounds(n_train, c.batch_size))
        return cls(
            configs,
            n_features,
            n_classes,
            n_train,
            net,
            _optimizer(c, h, net, backend),
            schedule_for(configs, steps, h),
            History.new(len(configs)),
        )

    @classmethod
    def from_state(
        cls,
        configs: Sequence[TrainConfig],
        n_features: int,
        n_classes: int,
        n_train: int,
        state: dict[str, np.ndarray],
        backend: str = "auto",
    ) -> Population:
        """The population whose :meth:`state` was ``state``, ready to continue."""
        pop = cls.build(configs, n_features, n_classes, n_train, backend, initialise=False)
        pop.load_state(state)
        return pop

    @property
    def K(self) -> int:
        return len(self.configs)

    @property
    def steps_per_epoch(self) -> int:
        return len(batch_bounds(self.n_train, self.configs[0].batch_size))

    # -- the state -------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """The whole training state, ``{name: (K, ...) array}`` (copies): ``param/``,
        ``buffer/``, ``rng/`` (network), ``opt/`` (moments, step counts), ``schedule/``
        (plateau), ``history/`` (metrics, divergence, cursor) and ``time/seconds``."""
        state = self.net.state_arrays()
        state |= {f"opt/{k}": v for k, v in self.optimizer.state_dict().items()}
        state |= {f"schedule/{k}": v for k, v in self.schedule.state_arrays().items()}
        state |= {f"history/{k}": v for k, v in self.history.state_arrays().items()}
        state["time/seconds"] = self.seconds.copy()
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Take back what :meth:`state` gave (keys outside it are ignored); a CheckpointError
        names a missing or mis-shaped array."""
        try:
            self.net.load_state_arrays(state)
            self.optimizer.load_state_dict(_part(state, "opt/"))
            self.schedule.load_state_arrays(_part(state, "schedule/"))
            self.history = History.from_state_arrays(_part(state, "history/"))
            self.seconds = np.array(state["time/seconds"], dtype=np.float64)
        except KeyError as e:
            raise CheckpointError(f"The state lacks the array {e}.") from None
        if self.seconds.shape != (self.K,) or self.history.divergence.active.shape != (self.K,):
            raise CheckpointError(f"The state does not hold {self.K} members.")

    def select(self, members: Sequence[int]) -> Population:
        """A new population of ``members`` (indices, in that order), each continuing exactly
        where it is."""
        return Population.from_state(
            [self.configs[k] for k in members],
            self.n_features,
            self.n_classes,
            self.n_train,
            select_state(self.state(), members),
            self.net.backend,
        )

    @staticmethod
    def stack(pops: Sequence[Population]) -> Population:
        """One population of every member of ``pops``, in order; they must share a shape,
        data size and training position (epochs and steps done)."""
        first = pops[0]
        for p in pops[1:]:
            same = (p.configs[0].shape(), p.n_features, p.n_classes, p.n_train)
            if same != (first.configs[0].shape(), first.n_features, first.n_classes, first.n_train):
                raise InvalidArgument("Only populations of one shape and data size can stack.")
        return Population.from_state(
            [c for p in pops for c in p.configs],
            first.n_features,
            first.n_classes,
            first.n_train,
            stack_states([p.state() for p in pops]),
            first.net.backend,
        )

    # -- training --------------------------------------------------------------------------
    def train(self, X, y, epochs: int, validation=None, on_epoch=None, should_stop=None) -> History:
        """Train every member up to ``epochs`` (continuing from where it is) on prepared
        ``X (n, d)``, ``y (n,)``; see :func:`caviar.train.fit`."""
        c = self.configs[0]
        start = time.perf_counter()
        fit(
            self.net,
            self.optimizer,
            X,
            y,
            epochs=epochs,
            schedule=self.schedule,
            batch_size=c.batch_size,
            seed=c.data_seed,
            validation=validation,
            history=self.history,
            on_epoch=on_epoch,
            should_stop=should_stop,
            order_offset=c.order_offset,
        )
        self.seconds += (time.perf_counter() - start) / self.K
        return self.history


# Arrays every member holds the same value of (the loop's cursor): stacking checks them.
_SHARED = ("history/steps", "history/epoch_start", "history/has_partial", "history/interrupted")


def select_state(state: dict[str, np.ndarray], members: Sequence[int]) -> dict[str, np.ndarray]:
    """The state of ``members`` (indices along K, in order)."""
    idx = np.asarray(members, dtype=np.int64)
    return {k: np.asarray(v)[idx] for k, v in state.items()}


def stack_states(states: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The states of several populations as one, members in order; refuses states that
    differ in their arrays or in where training stands."""
    keys = set(states[0])
    for s in states[1:]:
        if set(s) != keys:
            raise InvalidArgument(
                f"States of different shapes cannot stack: {sorted(keys ^ set(s))} differ."
            )
    for k in _SHARED:
        if k in keys and len({int(np.asarray(s[k])[0]) for s in states}) > 1:
            raise InvalidArgument(f"States at different training positions cannot stack ({k}).")
    try:
        return {k: np.concatenate([np.asarray(s[k]) for s in states]) for k in states[0]}
    except ValueError as e:
        raise InvalidArgument(f"States of different shapes cannot stack ({e}).") from None


def _loop_record(name: str) -> bool:
    """Whether state array ``name`` is the loop's record (metrics per epoch, cursor), which
    belongs to the population's run rather than to the member a row holds."""
    return name.startswith("history/") and not name.startswith("history/divergence/")


def recycle_row(
    state: dict[str, np.ndarray], k: int, fresh: dict[str, np.ndarray], start_epoch: int, spe: int
) -> None:
    """Give row ``k`` of ``state`` (in place) to a new member whose fresh state is
    ``fresh`` (K = 1, :meth:`Population.build`'s): its weights, batch-norm statistics,
    dropout generator, optimizer moments and step count, plateau state, divergence and
    training time, with its schedule counting from ``start_epoch`` (and ``start_epoch ×
    spe`` steps, ``spe`` the steps per epoch), the loop's epoch when the row resumes. The
    loop's record (metrics, cursor) stays: it is the row's, and the new member's epochs
    start at column ``start_epoch``."""
    for name, value in _writable(state):
        if _loop_record(name):
            continue
        try:
            value[k] = fresh[name][0]
        except KeyError:
            raise InvalidArgument(f"The new member's state lacks {name!r}.") from None
    state["schedule/start_epoch"][k] = start_epoch
    state["schedule/start_step"][k] = start_epoch * spe


def copy_row(
    dst: dict[str, np.ndarray],
    k: int,
    src: dict[str, np.ndarray],
    j: int,
    dropout_seed: Sequence[int],
) -> None:
    """Row ``k`` of ``dst`` becomes (in place) a copy of row ``j`` of ``src``, a population of
    the same shape (``dst`` itself too): weights, batch-norm running statistics, optimizer
    moments and step counts, schedule and plateau state, divergence. The dropout generator
    is reseeded from ``dropout_seed`` (so the copy draws its own masks); the loop's record
    (metrics, cursor) and training time stay the row's. PBT's exploit."""
    for name, value in _writable(dst):
        if _loop_record(name) or name == "time/seconds":
            continue
        try:
            value[k] = src[name][j]
        except KeyError:
            raise InvalidArgument(f"The parent's state lacks {name!r}.") from None
    if "rng/dropout" in dst:
        dst["rng/dropout"][k] = rng_to_array(np.random.default_rng(list(dropout_seed)))


def _writable(state: dict[str, np.ndarray]):
    """``state``'s items, each array made writable first (a copy in the dict when it is
    not: arrays that came back from Ray's object store are read-only)."""
    for name, value in list(state.items()):
        if not value.flags.writeable:
            state[name] = value = value.copy()
        yield name, value


def solo_state(state: dict[str, np.ndarray], start_epoch: int, spe: int) -> dict[str, np.ndarray]:
    """A one-row ``state`` (K = 1) whose member started at loop epoch ``start_epoch``, as
    its solo run (``order_offset = start_epoch``) holds it: epochs, steps and schedule
    counted from the member's own start, the metrics from its first epoch."""
    out = dict(state)
    steps = start_epoch * spe
    for m in ("loss", "lr", "val_loss", "val_accuracy"):
        out[f"history/{m}"] = np.asarray(state[f"history/{m}"])[:, start_epoch:].copy()
    for c in ("steps", "epoch_start"):
        out[f"history/{c}"] = np.asarray(state[f"history/{c}"]) - steps
    for c, shift in (("epoch", start_epoch), ("step", steps)):
        v = np.asarray(state[f"history/divergence/{c}"])
        out[f"history/divergence/{c}"] = np.where(v >= 0, v - shift, v)
    out["schedule/start_epoch"] = np.zeros(1, dtype=np.int64)
    out["schedule/start_step"] = np.zeros(1, dtype=np.int64)
    return out


def _part(state: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
