"""Each schedule at epochs 0, 1 and 10 against its formula, vectorised over K."""

from __future__ import annotations

import numpy as np
import pytest

from caviar import InvalidArgument, make_schedule
from caviar.optim import schedules as S

A0 = np.array([0.1, 0.01, 1.0])


@pytest.mark.parametrize("epoch", [0, 1, 10])
def test_formulas(epoch):
    dr = np.array([1.0, 0.5, 0.0])
    np.testing.assert_allclose(S.constant(epoch, A0), A0)
    np.testing.assert_allclose(S.inverse_time_decay(epoch, A0, dr), A0 / (1 + dr * epoch))
    np.testing.assert_allclose(S.exponential_decay(epoch, A0), 0.95**epoch * A0)
    base = np.array([0.9, 0.95, 0.5])
    np.testing.assert_allclose(S.exponential_decay(epoch, A0, base), base**epoch * A0)
    k = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(S.inverse_sqrt_decay(epoch, A0, k), k / np.sqrt(k**2 + epoch) * A0)
    np.testing.assert_allclose(S.staircase_decay(epoch, A0, 0.5, 5), A0 * 0.5 ** (epoch // 5))


def test_epoch_zero_gives_alpha0_for_every_schedule():
    for name in S.SCHEDULES:
        s = make_schedule(name, A0, K=3)
        np.testing.assert_allclose(s.alpha(0, 0), A0, err_msg=name)


def test_inverse_time_matches_the_notes_numbers():
    # α0 = 0.2, decay_rate = 1: 0.2, 0.1, 0.067, 0.05 for epochs 0..3
    s = make_schedule("inverse_time", 0.2, decay_rate=1.0)
    np.testing.assert_allclose([s.alpha(e, 0)[0] for e in range(4)], [0.2, 0.1, 0.2 / 3, 0.05])


def test_warmup_cosine():
    s = make_schedule("warmup_cosine", A0, K=3, warmup_steps=4, total_steps=14, alpha_min=0.001)
    assert s.unit == "step"
    np.testing.assert_allclose(s.alpha(0, 0), A0 / 4)
    np.testing.assert_allclose(s.alpha(0, 3), A0)
    np.testing.assert_allclose(s.alpha(0, 4), A0)
    np.testing.assert_allclose(s.alpha(0, 9), 0.001 + (A0 - 0.001) * 0.5)
    np.testing.assert_allclose(s.alpha(0, 14), 0.001)
    np.testing.assert_allclose(s.alpha(0, 100), 0.001)


def test_per_step_unit():
    s = make_schedule("exponential", A0, K=3, unit="step", base=0.5)
    np.testing.assert_allclose(s.alpha(epoch=0, step=3), A0 * 0.125)


def test_reduce_on_plateau_is_per_member():
    s = make_schedule("plateau", A0, K=3, factor=0.5, patience=1)
    s.observe([1.0, 1.0, 1.0])
    s.observe([0.5, 1.0, 1.0])  # member 0 improves
    np.testing.assert_allclose(s.alpha(2, 0), A0)
    s.observe([0.4, 1.0, 0.9])  # member 1: 2 bad epochs > patience → cut
    np.testing.assert_allclose(s.alpha(3, 0), A0 * [1, 0.5, 1])
    s.observe([0.3, 1.0, 0.95])
    s.observe([0.2, 1.0, 0.95])
    np.testing.assert_allclose(s.alpha(5, 0), A0 * [1, 0.25, 0.5])  # member 1 cut again


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"name": "inverse_time", "decay_rate": -1.0},
            r"'decay_rate' parameter must be in \[0, inf\)",
        ),
        ({"name": "exponential", "base": 1.5}, r"'base' parameter must be in \(0, 1\]"),
        ({"name": "constant", "alpha0": -0.1}, r"'lr' parameter must be in \(0, inf\)"),
        (
            {"name": "warmup_cosine", "warmup_steps": 10, "total_steps": 5},
            "greater than 'warmup_steps'",
        ),
        ({"name": "cosine"}, "'schedule' parameter must be one of"),
        ({"name": "constant", "decay_rate": 1.0}, "unknown argument"),
    ],
)
def test_bad_arguments(kwargs, match):
    kwargs = {"alpha0": 0.1, **kwargs}
    with pytest.raises(InvalidArgument, match=match):
        make_schedule(kwargs.pop("name"), kwargs.pop("alpha0"), **kwargs)
