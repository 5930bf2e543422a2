"""Two routes, one answer: member k of a population equals a solo run of member k."""

from __future__ import annotations

import numpy as np

from caviar import Adam, Momentum, Network, fit, make_schedule

SIZES = [6, 8, 7, 3]


def _data(n=100):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, SIZES[0]))
    y = (X[:, :3] @ rng.normal(size=(3, 3))).argmax(axis=1)
    return X, y


HP = {
    "lr": np.array([1e-3, 3e-3, 1e-2, 2e-2]),
    "beta1": np.array([0.9, 0.8, 0.95, 0.0]),
    "beta2": np.array([0.999, 0.99, 0.9, 0.95]),
    "eps": np.array([1e-8, 1e-6, 1e-4, 1e-7]),
    "decay_rate": np.array([0.0, 0.5, 1.0, 2.0]),
    "seeds": np.array([3, 14, 15, 92]),
    "bn_momentum": np.array([0.9, 0.8, 0.99, 0.5]),
    "keep_prob": np.array([1.0, 0.9, 0.8, 0.7]),
    "l2": np.array([0.0, 1e-3, 1e-2, 0.1]),
}


def _run(idx, epochs=4, batch_size=20):
    """Train the members ``idx`` of HP together; 100 examples / 20 = 5 steps an epoch."""
    hp = {k: v[idx] for k, v in HP.items()}
    K = len(idx)
    net = Network(
        SIZES,
        K=K,
        seeds=hp["seeds"],
        bn_momentum=hp["bn_momentum"],
        keep_prob=hp["keep_prob"],
        l2=hp["l2"],
        dtype="float64",
    )
    opt = Adam(net.params, beta1=hp["beta1"], beta2=hp["beta2"], eps=hp["eps"])
    sched = make_schedule("inverse_time", hp["lr"], K=K, decay_rate=hp["decay_rate"])
    X, y = _data()
    history = fit(net, opt, X, y, epochs=epochs, batch_size=batch_size, schedule=sched, seed=5)
    return net, opt, history


def test_member_k_equals_its_solo_run_after_20_steps():
    population, pop_opt, pop_hist = _run(np.arange(4))
    assert pop_hist.steps == 20
    for k in range(4):
        solo, solo_opt, solo_hist = _run(np.array([k]))
        for name, p, q in zip(population.param_names, population.params, solo.params):
            np.testing.assert_allclose(p[k], q[0], rtol=0, atol=1e-12, err_msg=name)
        bn_pop = [layer for layer in population.layers if hasattr(layer, "running_mean")]
        bn_solo = [layer for layer in solo.layers if hasattr(layer, "running_mean")]
        for a, b in zip(bn_pop, bn_solo):
            np.testing.assert_allclose(a.running_var[k], b.running_var[0], rtol=0, atol=1e-12)
        for m in ("v", "s"):
            for a, b in zip(pop_opt.state[m], solo_opt.state[m]):
                np.testing.assert_allclose(a[k], b[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            np.array(pop_hist.loss)[:, k], np.array(solo_hist.loss)[:, 0], rtol=1e-12
        )


def test_members_differ_from_each_other():
    population, _, _ = _run(np.arange(4))
    W = population.params[0]
    assert not np.allclose(W[0], W[1])


DEEP = [6, 32, 32, 32, 3]


def _momentum_population(lrs, dtype, seeds=(1, 2, 3, 4), epochs=6, history=None, net=None):
    X, y = _data(120)
    net = net or Network(DEEP, K=len(lrs), batchnorm=False, seeds=list(seeds), dtype=dtype)
    opt = Momentum(net.params, beta=0.9)
    history = fit(
        net, opt, X, y, epochs=epochs, schedule=lrs, batch_size=16, seed=1, history=history
    )
    return net, opt, history


def test_a_diverging_member_leaves_the_others_unchanged_to_the_bit():
    for dtype in ("float64", "float32"):
        calm, _, calm_hist = _momentum_population([0.05, 0.1, 0.2, 0.3], dtype)
        wild, _, wild_hist = _momentum_population([0.05, 0.1, 0.2, 1e3], dtype)
        for p, q in zip(calm.params, wild.params):
            np.testing.assert_array_equal(p[:3], q[:3])
        np.testing.assert_array_equal(
            np.array(calm_hist.loss)[:, :3], np.array(wild_hist.loss)[:, :3]
        )
        report = wild_hist.divergence.report()
        assert [r["member"] for r in report] == [3]
        assert calm_hist.divergence.report() == []
        # "when": the first step whose loss is not finite, found by stepping the member alone
        first = _first_non_finite_step([1e3], dtype)
        assert report[0]["step"] == first
        assert report[0]["epoch"] == first // 8  # 120 examples / 16 → 8 steps an epoch
        assert np.isnan(np.array(wild_hist.loss)[-1, 3])


def _first_non_finite_step(lrs, dtype):
    X, y = _data(120)
    net = Network(DEEP, K=1, batchnorm=False, seeds=[4], dtype=dtype)
    opt = Momentum(net.params, beta=0.9)
    from caviar.train import Batcher, epoch_order, train_step

    batcher = Batcher(*net.prepare(X, y), 16)
    step = 0
    with np.errstate(all="ignore"):
        for epoch in range(6):
            for xb, yb in batcher.epoch(epoch_order(120, 1, epoch)):
                J = train_step(net, opt, xb, yb, lrs)
                if not np.isfinite(J).all():
                    return step
                step += 1
    raise AssertionError("the α = 1e3 member did not diverge")


def test_a_frozen_member_stops_moving():
    wild, _, hist = _momentum_population([0.05, 0.1, 0.2, 1e3], "float64")
    assert not hist.divergence.active[3]
    snapshot = [p[3].copy() for p in wild.params]
    _momentum_population([0.05, 0.1, 0.2, 1e3], "float64", epochs=8, history=hist, net=wild)
    for p, s in zip(wild.params, snapshot):
        np.testing.assert_array_equal(p[3], s)


def test_build_loads_the_compiled_kernels_only_for_runs_that_repay_them():
    from caviar.config import TrainConfig
    from caviar.cost import MemberCost, compute_backend
    from caviar.train import population

    def run(flops):
        return MemberCost(params=1, flops_step=1.0, flops_run=flops, bytes=1, layers=1)

    assert compute_backend(run(1e9)) == "numpy"  # 0.02 s at 50 GFLOP/s
    assert compute_backend(run(5e10)) == "auto"  # 1 s
    small = TrainConfig(hidden=(8,), epochs=1, batch_size=4)
    for K in (1, 300):  # the choice is per member: a trial computes the same in any population
        pop = population.Population.build([small] * K, 5, 3, n_train=8)
        assert pop.net.backend == pop.optimizer.backend == "numpy"
