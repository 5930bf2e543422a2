"""Rows that change hands: a row of a population given to a new member at epoch s (its
weights, moments, step count, schedule and plateau state, divergence fresh; its schedule
counting from s) trains exactly as the member's solo run with ``order_offset = s``."""

from __future__ import annotations

import numpy as np
import pytest

from caviar.config import TrainConfig
from caviar.train.population import Population, copy_row, recycle_row, solo_state

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


# -- PBT's exploit: a row becomes a copy of another -------------------------------------------
def _trained(configs, epochs, X, y, val):
    pop = Population.build(configs, N_FEATURES, N_CLASSES, N, backend="numpy")
    pop.train(X, y, epochs, val)
    return pop


@pytest.mark.parametrize("where", ["the same population", "another population"])
def test_an_exploit_copies_every_state_array_of_the_parent_row_exactly(where):
    X, y, val = _data()
    plateau = dict(schedule="plateau", plateau_patience=0, optimizer="adam")
    dst_pop = _trained([_config(k, **plateau) for k in range(3)], 3, X, y, val)
    src_pop = (
        dst_pop
        if where == "the same population"
        else _trained([_config(k + 5, **plateau) for k in range(4)], 3, X, y, val)
    )
    dst, src = dst_pop.state(), src_pop.state()
    before = {name: v.copy() for name, v in dst.items()}
    parent = {name: v[2].copy() for name, v in src.items()}
    copy_row(dst, 0, src, 2, dropout_seed=(7, 3, 2))

    copied = [n for n in dst if not n.startswith("history/") or "divergence" in n]
    copied = [n for n in copied if n not in ("time/seconds", "rng/dropout")]
    assert {"param/dense1.W", "buffer/bn1.running_var", "opt/t", "schedule/scale"} <= set(copied)
    assert any(n.startswith("opt/") and n != "opt/t" for n in copied)  # Adam's moments
    for name in copied:
        assert np.max(np.abs(np.asarray(dst[name][0], float) - parent[name])) == 0.0, name
    # the row keeps its own record and time; its dropout generator is new
    for name in dst:
        if name not in copied and name != "rng/dropout":
            np.testing.assert_array_equal(dst[name][0], before[name][0], err_msg=name)
    assert not np.array_equal(dst["rng/dropout"][0], parent["rng/dropout"])
    assert not np.array_equal(dst["rng/dropout"][0], before["rng/dropout"][0])
    for name in dst:  # the other rows are untouched
        np.testing.assert_array_equal(dst[name][1:], before[name][1:], err_msg=name)


def test_the_copy_trains_on_as_the_parent_with_its_own_hyperparameters():
    """After the copy, the row is the parent with new hyperparameters: trained on, it equals
    the parent's state continued alone with those hyperparameters (no dropout, so the new
    generator draws nothing)."""
    X, y, val = _data()
    configs = [_config(k, keep_prob=1.0) for k in range(3)]
    pop = _trained(configs, 3, X, y, val)
    state = pop.state()
    explored = configs[2].replace(lr=configs[2].lr * 1.25, beta1=0.95, seed=configs[0].seed)
    copy_row(state, 0, state, 2, dropout_seed=(1, 3, 2))
    pop = Population.from_state([explored, *configs[1:]], N_FEATURES, N_CLASSES, N, state)
    pop.train(X, y, 6, val)

    alone = _trained([configs[2]], 3, X, y, val)
    alone = Population.from_state(
        [explored], N_FEATURES, N_CLASSES, N, alone.state(), backend="numpy"
    )
    alone.train(X, y, 6, val)
    for name, v in alone.net.state_arrays().items():
        np.testing.assert_array_equal(pop.net.state_arrays()[name][0], v[0], err_msg=name)
    np.testing.assert_array_equal(pop.optimizer.state_dict()["t"][0], 6 * pop.steps_per_epoch)


def test_rows_change_hands_in_read_only_states():
    """States that came back from Ray's object store are read-only: the row is copied first."""
    X, y, val = _data()
    pop = _trained([_config(k) for k in range(3)], 2, X, y, val)
    state = pop.state()
    for v in state.values():
        v.setflags(write=False)
    parent = {name: v[1].copy() for name, v in state.items()}
    copy_row(state, 0, state, 1, dropout_seed=(1, 2, 2))
    np.testing.assert_array_equal(state["param/dense1.W"][0], parent["param/dense1.W"])
    fresh = Population.build([_config(9)], N_FEATURES, N_CLASSES, N, backend="numpy").state()
    recycle_row(state, 2, fresh, 2, pop.steps_per_epoch)
    np.testing.assert_array_equal(state["param/dense1.W"][2], fresh["param/dense1.W"][0])
