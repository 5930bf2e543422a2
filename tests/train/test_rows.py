"""Rows that change hands: a row of a population given to a new member at epoch s (its
weights, moments, step count, schedule and plateau state, divergence fresh; its schedule
counting from s) trains exactly as the member's solo run with ``order_offset = s``."""

from __future__ import annotations

import numpy as np
import pytest

from caviar.config import TrainConfig
from caviar.train.population import Population, recycle_row, solo_state

N_FEATURES, N_CLASSES, N = 6, 3, 90


def _data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, N_FEATURES))
    y = (X[:, :3] @ rng.normal(size=(3, N_CLASSES))).argmax(axis=1)
    return X, y, (X[:20], y[:20])


def _config(k, **overrides):
    base = dict(hidden=(8, 8), batch_size=16, epochs=7, keep_prob=0.8, dtype="float64")
    return TrainConfig(**{**base, **overrides}, lr=1e-3 * (k + 2), seed=20 + k)


@pytest.mark.parametrize(
    "schedule",
    [
        dict(schedule="plateau", plateau_patience=0),
        dict(schedule="inverse_time", decay_rate=0.5),
        dict(schedule="warmup_cosine", warmup_steps=8),
    ],
)
def test_a_recycled_row_equals_a_fresh_solo_run_with_its_offset(schedule):
    X, y, val = _data()
    configs = [_config(k, **schedule) for k in range(3)]
    pop = Population.build(configs, N_FEATURES, N_CLASSES, N, backend="numpy")
    pop.train(X, y, 3, val)
    newcomer = _config(9, **schedule)
    state = pop.state()
    fresh = Population.build([newcomer], N_FEATURES, N_CLASSES, N, backend="numpy").state()
    recycle_row(state, 1, fresh, 3, pop.steps_per_epoch)
    configs[1] = newcomer
    pop = Population.from_state(configs, N_FEATURES, N_CLASSES, N, state, backend="numpy")
    pop.train(X, y, 7, val)  # the newcomer's epochs 0..3 are the loop's 3..6

    solo = Population.build(
        [newcomer.replace(order_offset=3)], N_FEATURES, N_CLASSES, N, backend="numpy"
    )
    solo.train(X, y, 4, val)
    mine = solo_state({k: v[[1]] for k, v in pop.state().items()}, 3, pop.steps_per_epoch)
    theirs = solo.state()
    assert set(mine) == set(theirs)
    for name in theirs:
        if name != "time/seconds":
            np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


def test_the_other_rows_do_not_notice():
    X, y, val = _data()
    configs = [_config(k) for k in range(3)]
    pop = Population.build(configs, N_FEATURES, N_CLASSES, N, backend="numpy")
    pop.train(X, y, 2, val)
    state = pop.state()
    fresh = Population.build([_config(9)], N_FEATURES, N_CLASSES, N, backend="numpy").state()
    recycle_row(state, 0, fresh, 2, pop.steps_per_epoch)
    pop = Population.from_state([_config(9), *configs[1:]], N_FEATURES, N_CLASSES, N, state)
    pop.train(X, y, 5, val)
    alone = Population.build(configs, N_FEATURES, N_CLASSES, N, backend="numpy")
    alone.train(X, y, 5, val)
    for name, v in alone.net.state_arrays().items():
        np.testing.assert_array_equal(pop.net.state_arrays()[name][1:], v[1:], err_msg=name)
