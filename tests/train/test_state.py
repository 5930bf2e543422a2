"""The training state as arrays: one flat dict with a leading K, a round trip through plain
.npz bytes, and members that move between populations continuing exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest

from caviar.config import TrainConfig
from caviar.errors import InvalidArgument
from caviar.train.population import Population, select_state, stack_states

N_FEATURES, N_CLASSES, N = 6, 3, 90


def _data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, N_FEATURES))
    y = (X[:, :3] @ rng.normal(size=(3, N_CLASSES))).argmax(axis=1)
    return X, y


def _configs(K, **overrides):
    """K members with every stateful part in use: batch norm, dropout, Adam, plateau."""
    base = dict(
        hidden=(8, 8),
        batch_size=16,
        epochs=4,
        keep_prob=0.8,
        schedule="plateau",
        plateau_patience=0,
        dtype="float64",
    )
    return [TrainConfig(**{**base, **overrides}, lr=1e-3 * (k + 1), seed=10 + k) for k in range(K)]


def _build(configs):
    return Population.build(configs, N_FEATURES, N_CLASSES, N)


def _train(pop, epochs, stop_after=None):
    X, y = _data()
    steps = iter(range(10**6))
    stop = None if stop_after is None else (lambda: next(steps) + 1 >= stop_after)
    pop.train(X[:70], y[:70], epochs, validation=(X[70:], y[70:]), should_stop=stop)
    return pop


def _npz_round_trip(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        if not k.startswith("time/"):  # wall-clock seconds
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_every_part_of_the_state_is_an_array_with_a_leading_K():
    pop = _train(_build(_configs(3)), 2)
    state = pop.state()
    prefixes = {k.split("/")[0] for k in state}
    assert prefixes == {"param", "buffer", "rng", "opt", "schedule", "history", "time"}
    for key, value in state.items():
        assert isinstance(value, np.ndarray) and value.shape[0] == 3, key
        assert value.dtype != object, key


def test_a_state_through_npz_bytes_continues_to_the_bit():
    whole = _train(_build(_configs(3)), 4)
    part = _train(_build(_configs(3)), 4, stop_after=7)  # inside epoch 2 (5 steps an epoch)
    assert part.history.interrupted and part.history.steps == 7
    revived = Population.from_state(
        _configs(3), N_FEATURES, N_CLASSES, 70, _npz_round_trip(part.state())
    )
    _train(revived, 4)
    _assert_same(revived.state(), whole.state())


def test_selected_and_stacked_members_continue_as_if_never_moved():
    straight = _train(_build(_configs(4)), 4)
    a = _train(_build(_configs(4)[:2]), 2)
    b = _train(_build(_configs(4)[2:]), 2)
    moved = Population.stack([b.select([1]), a.select([0, 1]), b.select([0])])  # 3, 0, 1, 2
    _train(moved, 4)
    want = select_state(straight.state(), [3, 0, 1, 2])
    _assert_same(moved.state(), want)
    assert [c.seed for c in moved.configs] == [13, 10, 11, 12]


def test_states_at_different_positions_or_shapes_do_not_stack():
    one = _train(_build(_configs(1)), 1)
    two = _train(_build(_configs(1)), 2)
    with pytest.raises(InvalidArgument, match="different training positions|different shapes"):
        stack_states([one.state(), two.state()])
    plain = _train(_build(_configs(1, keep_prob=1.0)), 1)  # no dropout: no rng/ array
    with pytest.raises(InvalidArgument, match="different shapes"):
        stack_states([one.state(), plain.state()])
