"""Samplers: random by default, Sobol more even than random, a grid only when asked."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc

from caviar.errors import InvalidArgument
from caviar.tuning import SearchSpace, grid_unit, notes_space, random_unit, sample, sobol_unit


@pytest.mark.parametrize("unit", [random_unit, sobol_unit])
def test_seeded_samplers_are_reproducible_points_in_the_unit_cube(unit):
    U = unit(100, 3, seed=5)
    assert U.shape == (100, 3)
    assert np.all((U >= 0) & (U < 1))
    np.testing.assert_array_equal(U, unit(100, 3, seed=5))
    assert not np.array_equal(U, unit(100, 3, seed=6))


def test_random_draws_do_not_depend_on_n():
    np.testing.assert_array_equal(random_unit(10, 3, seed=1)[:4], random_unit(4, 3, seed=1))


def test_sobol_takes_the_first_n_of_the_next_power_of_two():
    np.testing.assert_array_equal(sobol_unit(100, 3, seed=2), sobol_unit(128, 3, seed=2)[:100])
    assert sobol_unit(1, 2, seed=0).shape == (1, 2)


def test_sobol_covers_the_box_more_evenly_than_random():
    for n, d in [(64, 2), (256, 3), (100, 3)]:
        sobol = np.mean([qmc.discrepancy(sobol_unit(n, d, seed=s)) for s in range(5)])
        random = np.mean([qmc.discrepancy(random_unit(n, d, seed=s)) for s in range(5)])
        assert sobol < random / 2


def test_grid_has_ceil_root_levels_at_bin_centres():
    U = grid_unit(9, 2)
    assert sorted(set(U[:, 0])) == sorted(set(U[:, 1])) == pytest.approx([1 / 6, 1 / 2, 5 / 6])
    assert len({tuple(p) for p in U}) == 9
    assert set(grid_unit(8, 3).ravel()) == {0.25, 0.75}  # 2 levels, though 8 ** (1/3) > 2 in floats


def test_grid_is_truncated_in_lexicographic_order():
    U = grid_unit(10, 2)  # 4 levels, the first 10 of 16 points
    levels = (np.arange(4) + 0.5) / 4
    expected = [(a, b) for a in levels for b in levels][:10]
    np.testing.assert_array_equal(U, expected)
    assert grid_unit(3, 40).shape == (3, 40)  # 2 levels, no 2**40 grid built


def test_sample_is_random_unless_a_grid_is_asked_for():
    space = notes_space()
    assert sample(space, 27) == sample(space, 27, method="random", seed=0)
    grid = sample(space, 27, method="grid")
    assert len({c["lr"] for c in grid}) == 3
    assert len({c["lr"] for c in sample(space, 27)}) == 27
    assert sample(space, 27, method="grid", seed=4) == grid


def test_sample_decodes_sobol_points():
    space = notes_space()
    configs = sample(space, 16, method="sobol", seed=3)
    assert [c["lr"] for c in configs] == [c["lr"] for c in sample(space, 16, "sobol", seed=3)]
    assert all(1e-4 <= c["lr"] <= 1 and 0.9 <= c["beta1"] <= 0.999 for c in configs)


def test_a_space_of_fixed_values_gives_copies():
    space = SearchSpace.from_dict({"epochs": 3, "hidden": [32]})
    for method in ("random", "sobol", "grid"):
        assert sample(space, 2, method=method) == [{"epochs": 3, "hidden": (32,)}] * 2


def test_bad_sampler_arguments_are_refused():
    with pytest.raises(InvalidArgument, match="The 'method' parameter must be one of"):
        sample(notes_space(), 4, method="latin")
    with pytest.raises(InvalidArgument, match="The 'n' parameter must be an integer >= 1"):
        sample(notes_space(), 0)
    with pytest.raises(InvalidArgument, match="The 'seed' parameter must be an integer >= 0"):
        random_unit(4, 2, seed=-1)
    with pytest.raises(InvalidArgument, match="must be a SearchSpace"):
        sample({"lr": 0.1}, 4)
