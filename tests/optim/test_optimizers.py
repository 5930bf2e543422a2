"""Optimizers: one hand-worked step each, two routes to one answer, exact state restore."""

from __future__ import annotations

import numpy as np
import pytest

from caviar import OPTIMIZERS, Adam, AdamW, GradientDescent, InvalidArgument, Momentum, RMSprop
from caviar import backend as backends


def test_one_step_by_hand():
    g = np.array([[2.0, -1.0]])
    p = np.array([[1.0, 1.0]])
    GradientDescent([p]).step([g], lr=0.1)
    np.testing.assert_allclose(p, [[0.8, 1.1]])

    p = np.array([[1.0, 1.0]])
    Momentum([p], beta=0.9).step([g], lr=0.1)  # V = 0.1 g
    np.testing.assert_allclose(p, [[1 - 0.1 * 0.2, 1 + 0.1 * 0.1]])

    p = np.array([[1.0, 1.0]])
    RMSprop([p], beta2=0.9, eps=0.0 + 1e-12).step([g], lr=0.1)  # S = 0.1 g², step g/√S
    np.testing.assert_allclose(p, [[1 - 0.1 / np.sqrt(0.1), 1 + 0.1 / np.sqrt(0.1)]])

    p = np.array([[1.0, 1.0]])
    Adam([p], eps=1e-12).step([g], lr=0.1)  # V̂ = g, Ŝ = g²: the first step is α·sign(g)
    np.testing.assert_allclose(p, [[0.9, 1.1]])


def _reference(kind, p, grads, hp):
    """A plain loop over members, written from the notes, for comparison."""
    p = p.copy()
    v, s = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        for k in range(p.shape[0]):
            h = {n: x[k] for n, x in hp.items()}
            if kind == "gd":
                p[k] -= h["lr"] * g[k]
            elif kind == "momentum":
                v[k] = h["beta"] * v[k] + (1 - h["beta"]) * g[k]
                p[k] -= h["lr"] * v[k]
            elif kind == "rmsprop":
                s[k] = h["beta2"] * s[k] + (1 - h["beta2"]) * g[k] ** 2
                p[k] -= h["lr"] * g[k] / (np.sqrt(s[k]) + h["eps"])
            else:
                v[k] = h["beta1"] * v[k] + (1 - h["beta1"]) * g[k]
                s[k] = h["beta2"] * s[k] + (1 - h["beta2"]) * g[k] ** 2
                v_hat = v[k] / (1 - h["beta1"] ** t)
                s_hat = s[k] / (1 - h["beta2"] ** t)
                p[k] -= h["lr"] * h.get("weight_decay", 0) * p[k]
                p[k] -= h["lr"] * v_hat / (np.sqrt(s_hat) + h["eps"])
    return p


def _engine(hp: dict) -> dict:
    """The optimizer's own hyperparameters: α is not one (it comes with each step)."""
    return {k: v for k, v in hp.items() if k != "lr"}


HP = {
    "gd": {"lr": [0.1, 0.01, 0.3]},
    "momentum": {"lr": [0.1, 0.01, 0.3], "beta": [0.9, 0.5, 0.0]},
    "rmsprop": {"lr": [0.1, 0.01, 0.3], "beta2": [0.9, 0.99, 0.5], "eps": [1e-8, 1e-4, 1e-6]},
    "adam": {
        "lr": [0.1, 0.01, 0.3],
        "beta1": [0.9, 0.5, 0.0],
        "beta2": [0.999, 0.9, 0.5],
        "eps": [1e-8, 1e-4, 1e-6],
    },
    "adamw": {
        "lr": [0.1, 0.01, 0.3],
        "beta1": [0.9, 0.5, 0.0],
        "beta2": [0.999, 0.9, 0.5],
        "eps": [1e-8, 1e-4, 1e-6],
        "weight_decay": [0.0, 0.1, 0.5],
    },
}


@pytest.mark.parametrize("kind", sorted(HP))
def test_per_member_hyperparameters_against_a_plain_loop(kind):
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 4, 5))
    grads = [rng.normal(size=(3, 4, 5)) for _ in range(10)]
    hp = {k: np.array(v) for k, v in HP[kind].items()}
    p = p0.copy()
    opt = OPTIMIZERS[kind]([p], **_engine(hp))
    for g in grads:
        opt.step([g.copy()], hp["lr"])
    np.testing.assert_allclose(p, _reference(kind, p0, grads, hp), rtol=1e-12, atol=1e-14)


def test_adam_with_beta1_zero_is_bias_corrected_rmsprop():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(2, 3))
    q = p.copy()
    adam = Adam([p], beta1=0.0, beta2=0.9, eps=1e-6)
    s = np.zeros_like(q)
    for t in range(1, 21):
        g = rng.normal(size=(2, 3))
        adam.step([g], lr=0.01)
        s = 0.9 * s + 0.1 * g**2
        q -= 0.01 * g / (np.sqrt(s / (1 - 0.9**t)) + 1e-6)
    np.testing.assert_allclose(p, q, rtol=1e-12)


def test_adamw_decays_decoupled_from_the_gradient():
    p = np.full((1, 3), 2.0)
    AdamW([p], weight_decay=0.5).step([np.zeros((1, 3))], lr=0.1)  # zero gradient: decay only
    np.testing.assert_allclose(p, 2.0 * (1 - 0.1 * 0.5))


@pytest.mark.parametrize("kind", sorted(HP))
def test_state_restores_exactly(kind):
    rng = np.random.default_rng(2)
    grads = [rng.normal(size=(3, 4)) for _ in range(10)]
    hp = {k: np.array(v) for k, v in HP[kind].items()}
    p = rng.normal(size=(3, 4))
    opt = OPTIMIZERS[kind]([p], **_engine(hp))
    for g in grads[:5]:
        opt.step([g.copy()], hp["lr"])
    saved_p, saved_state = p.copy(), opt.state_dict()
    for g in grads[5:]:
        opt.step([g.copy()], hp["lr"])
    q = saved_p.copy()
    fresh = OPTIMIZERS[kind]([q], **_engine(hp))
    fresh.load_state_dict(saved_state)
    for g in grads[5:]:
        fresh.step([g.copy()], hp["lr"])
    np.testing.assert_array_equal(p, q)


def test_inactive_members_neither_move_nor_take_nan_into_their_moments():
    p = np.ones((3, 2))
    opt = Adam([p])
    g = np.array([[1.0, 1.0], [np.nan, np.inf], [1.0, -1.0]])
    opt.step([g], 0.1, active=np.array([True, False, True]))
    np.testing.assert_array_equal(p[1], [1.0, 1.0])
    assert np.isfinite(opt.state["v"][0]).all() and np.isfinite(opt.state["s"][0]).all()
    np.testing.assert_allclose(p[[0, 2]], [[0.9, 0.9], [0.9, 1.1]])


def test_load_state_refuses_mismatched_state():
    from caviar import CheckpointError

    opt = Adam([np.ones((2, 3))])
    state = opt.state_dict()
    state["v.0"] = np.ones((2, 4))
    with pytest.raises(CheckpointError, match=r"'v.0' has shape \(2, 4\)"):
        opt.load_state_dict(state)
    del state["v.0"]
    with pytest.raises(CheckpointError, match="lacks the array 'v.0'"):
        opt.load_state_dict(state)


@pytest.mark.parametrize("kind", sorted(HP))
def test_tiled_and_threaded_updates_give_the_plain_numbers(kind, monkeypatch):
    """Fast path (cache-sized tiles on two threads) against the plain whole-array update."""
    from caviar.optim import base

    monkeypatch.setenv("CAVIAR_BACKEND", "numpy")

    rng = np.random.default_rng(3)
    p0 = rng.normal(size=(3, 1000))
    grads = [rng.normal(size=(3, 1000)) for _ in range(4)]
    hp = {k: np.array(v) for k, v in HP[kind].items()}
    results = []
    for block, threads in ((10**9, 1), (8 * 64, 1), (8 * 64, 2), (8 * 5000, 2)):
        monkeypatch.setattr(base, "BLOCK_BYTES", block)
        monkeypatch.setattr(backends, "THREADS", threads)
        monkeypatch.setattr(base, "PARALLEL_ELEMENTS", 0)
        p = p0.copy()
        opt = OPTIMIZERS[kind]([p], **_engine(hp))
        for g in grads:
            opt.step([g.copy()], hp["lr"])
        results.append(p)
    for p in results[1:]:
        np.testing.assert_array_equal(p, results[0])


# -- the compiled kernels (optional: Numba) ---------------------------------------------
def _trajectory(kind, backend, shapes, dtype, hp, steps=6, **config):
    """Parameters after ``steps`` updates with ``backend``; ``config`` patches optim.base."""
    rng = np.random.default_rng(5)
    params = [rng.normal(size=s).astype(dtype) for s in shapes]
    opt = OPTIMIZERS[kind](params, **_engine(hp))
    opt.backend = backend
    for _ in range(steps):
        opt.step([rng.normal(size=s).astype(dtype) for s in shapes], hp["lr"])
    return params, opt


@pytest.mark.parametrize("kind", sorted(HP))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_kernels_give_the_numpy_numbers(kind, dtype, monkeypatch):
    """The fused Numba kernel against the NumPy tiles: the same operations in the same order,
    so the same bits, whatever the tiling and threading of either."""
    pytest.importorskip("numba")
    from caviar.optim import base

    hp = {k: np.array(v) for k, v in HP[kind].items()}
    shapes = [(3, 40, 25), (3, 25), (3, 1)]
    ref, _ = _trajectory(kind, "numpy", shapes, dtype, hp)
    for tile, threads, parallel in ((1 << 17, 1, 1 << 30), (64, 2, 0), (7, 2, 0), (1000, 2, 0)):
        monkeypatch.setattr(base, "KERNEL_TILE", tile)
        monkeypatch.setattr(backends, "THREADS", threads)
        monkeypatch.setattr(base, "KERNEL_PARALLEL_ELEMENTS", parallel)
        got, opt = _trajectory(kind, "numba", shapes, dtype, hp)
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b)
        for m in opt.moments:
            assert all(np.isfinite(x).all() for x in opt.state[m])


def test_compiled_kernels_match_the_plain_loop_to_1e_12():
    pytest.importorskip("numba")
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=(3, 4, 5))
    grads = [rng.normal(size=(3, 4, 5)) for _ in range(10)]
    for kind in sorted(HP):
        hp = {k: np.array(v) for k, v in HP[kind].items()}
        p = p0.copy()
        opt = OPTIMIZERS[kind]([p], **_engine(hp))
        opt.backend = "numba"
        for g in grads:
            opt.step([g.copy()], hp["lr"])
        np.testing.assert_allclose(p, _reference(kind, p0, grads, hp), rtol=1e-12, atol=1e-14)


def test_a_non_contiguous_parameter_takes_the_numpy_path_with_the_same_numbers():
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 6, 8))
    grads = [rng.normal(size=(2, 6, 4)) for _ in range(3)]
    results = []
    for backend in ("numpy", "numba"):
        p = base.copy()[:, :, ::2]  # a strided view
        opt = Adam([p])
        opt.backend = backend
        for g in grads:
            opt.step([g.copy()], 0.1)
        results.append(p)
    np.testing.assert_array_equal(*results)


def test_backend_setting_is_checked(monkeypatch):
    from caviar import InvalidArgument, backend

    monkeypatch.setenv("CAVIAR_BACKEND", "fortran")
    with pytest.raises(InvalidArgument, match="CAVIAR_BACKEND='fortran'.*auto, numba"):
        Adam([np.ones((1, 2))])
    monkeypatch.setenv("CAVIAR_BACKEND", "numpy")
    assert Adam([np.ones((1, 2))]).backend == "numpy"
    monkeypatch.delenv("CAVIAR_BACKEND")
    with pytest.raises(InvalidArgument, match="'backend' parameter must be one of auto, numba"):
        Adam([np.ones((1, 2))]).backend = "cuda"
    # without Numba: auto falls back to NumPy, and asking for numba says how to get it
    monkeypatch.setattr(backend, "_numba", None)
    monkeypatch.setattr(backend, "_error", "Numba is not installed; pip install 'caviar-nn[fast]'")
    opt = Adam([np.ones((1, 2))])
    assert opt.backend == "numpy"
    with pytest.raises(InvalidArgument, match=r"caviar-nn\[fast\]"):
        opt.backend = "numba"
    with pytest.raises(InvalidArgument, match=r"caviar-nn\[fast\]"):
        Adam([np.ones((1, 2))], backend="numba")


def test_auto_takes_the_kernels_when_installed_and_a_caller_may_decline_them(monkeypatch):
    pytest.importorskip("numba")
    from caviar import InvalidArgument

    monkeypatch.delenv("CAVIAR_BACKEND", raising=False)
    assert Adam([np.ones((1, 3))]).backend == "numba"
    assert Adam([np.ones((1, 3))], backend="numpy").backend == "numpy"
    assert Momentum([np.ones((1, 3))], backend="numpy").backend == "numpy"
    monkeypatch.setenv("CAVIAR_BACKEND", "numpy")  # the environment overrides auto only
    assert RMSprop([np.ones((1, 3))]).backend == "numpy"
    assert AdamW([np.ones((1, 3))], backend="numba").backend == "numba"
    with pytest.raises(InvalidArgument, match="'backend' parameter must be one of auto"):
        GradientDescent([np.ones((1, 3))], backend="gpu")


def test_a_numba_that_cannot_compile_falls_back_under_auto_and_is_named_otherwise(monkeypatch):
    pytest.importorskip("numba")
    from caviar import InvalidArgument, Network
    from caviar import backend as backends

    def broken(*args, **kwargs):
        raise RuntimeError("LLVM ran out of luck")

    monkeypatch.delenv("CAVIAR_BACKEND", raising=False)
    monkeypatch.setattr(backends.Compiled, "warm", broken)  # every kernel, the one registry
    with pytest.warns(UserWarning, match="could not compile.*running on NumPy"):
        assert Adam([np.ones((1, 3))]).backend == "numpy"
    with pytest.warns(UserWarning, match="LLVM ran out of luck"):
        assert Network([3, 2, 2]).backend == "numpy"
    with pytest.raises(InvalidArgument, match="could not compile.*backend='numpy'"):
        Adam([np.ones((1, 3))], backend="numba")
    with pytest.raises(InvalidArgument, match="could not compile"):
        Network([3, 2, 2], backend="numba")


def test_a_numba_that_fails_to_import_is_reported_not_raised(monkeypatch):
    import builtins

    from caviar import backend

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "numba":
            raise AttributeError("module 'numpy' has no attribute 'long'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(backend, "_numba", None)
    monkeypatch.setattr(backend, "_error", None)
    monkeypatch.setattr(builtins, "__import__", failing)
    assert not backend.available()
    assert "failed to import (AttributeError" in backend.unavailable_reason()
    assert Adam([np.ones((1, 3))]).backend == "numpy"


def test_the_kernels_tiling_is_made_once_and_follows_new_gradient_arrays():
    """The fused path plans its tiles for the gradient arrays it is given and reuses the
    plan while they stay the same; other arrays get a new plan, with the same numbers."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    p0 = rng.normal(size=(3, 7, 5))
    pairs = [[rng.normal(size=(3, 7, 5))] for _ in range(2)]  # two gradient lists
    results = []
    for backend in ("numpy", "numba"):
        p = p0.copy()
        opt = Adam([p], backend=backend)
        plans = []
        for grads in (pairs[0], pairs[0], pairs[1], pairs[0]):
            opt.step(grads, 0.1)
            plans.append(opt._plan)
        results.append(p)
        if backend == "numba":
            assert plans[0] is plans[1] and plans[2] is not plans[1] and plans[3] is not plans[2]
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("lr", [-0.1, np.nan, np.inf, [0.1, 0.2, 0.3]])
def test_step_refuses_a_learning_rate_that_is_not_finite_and_non_negative_per_member(lr):
    """Checked once where α is made: Optimizer.step and train_step check it; fit's loop
    passes its schedule's α (checked when the schedule was made) through update()."""
    p = [np.ones((2, 3))]
    before = p[0].copy()
    with pytest.raises(InvalidArgument, match="'lr' parameter"):
        Adam(p).step([np.ones((2, 3))], lr)
    np.testing.assert_array_equal(p[0], before)  # nothing moved


def test_fit_checks_no_learning_rate_per_step(monkeypatch):
    from caviar import Network, fit

    net = Network([4, 3, 2], K=2, dtype="float64")
    opt = Adam(net.params)
    calls = []
    monkeypatch.setattr(Adam, "alpha", lambda self, lr: calls.append(lr))
    X, y = np.random.default_rng(0).standard_normal((32, 4)), np.arange(32) % 2
    fit(net, opt, X, y, epochs=2, batch_size=8, schedule=0.01)
    assert calls == []
