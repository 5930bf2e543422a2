"""Every experiment runs (quick size), writes its JSON and PNG, and its verdict is computed
from the numbers: recomputed from the JSON it agrees, and it turns when the numbers do."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest

from caviar.errors import InvalidArgument
from caviar.experiments import base, names, run_experiment
from tests.extras import require

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    require("matplotlib")
    out = tmp_path_factory.mktemp("experiments")
    return {name: run_experiment(name, out, seed=0, quick=True) for name in names()}


def test_the_registry_names_the_thirteen_experiments():
    assert names() == [
        "decay",
        "plateau",
        "batchnorm",
        "random-vs-grid",
        "log-scale",
        "softmax",
        "panda-vs-caviar",
        "bn-placement",
        "bn-batch-size",
        "bias-correction",
        "ewa-statistics",
        "softmax-two-classes",
        "ensemble",
    ]
    for name in names():
        exp = base.module(name)
        assert exp.CLAIM and exp.__doc__ and "Verdict rule" in exp.__doc__


@pytest.mark.parametrize("name", names())
def test_writes_json_and_png_with_a_verdict_from_the_numbers(outcomes, name):
    o = outcomes[name]
    record = json.loads(o.json_path.read_text())
    assert record["experiment"] == name and record["quick"] is True
    assert record["verdict"] == o.verdict
    assert o.verdict.startswith(f"{name}: holds (") or o.verdict.startswith(
        f"{name}: does not hold here ("
    )
    holds, figure = base.module(name).judge(record["numbers"])
    assert (holds, figure) == (o.holds, o.figure)
    png = o.png_path.read_bytes()
    assert png.startswith(PNG) and 5_000 < len(png) < 300_000


def _flip(name: str, n: dict) -> None:
    """Change the numbers of experiment ``name`` so that its claim no longer holds."""
    if name == "decay":
        n["mean_distance_last"] = [0.01, 0.2, 0.2]
    elif name == "plateau":
        n["surfaces"]["saddle"]["gradient descent"]["median_steps"] = 1
    elif name == "batchnorm":
        n["batchnorm"]["median_drift_last_hidden"] = 10 * n["plain"]["median_drift_last_hidden"]
    elif name == "random-vs-grid":
        n["random"]["median_best"] = n["grid"]["best"] - 0.01
    elif name == "log-scale":
        n["alpha"]["log"]["best_val_accuracy"] = n["alpha"]["uniform"]["best_val_accuracy"] - 0.01
    elif name == "softmax":
        n["models"]["2 hidden layers"]["test_accuracy"] = n["models"]["softmax regression"][
            "test_accuracy"
        ]
    elif name == "panda-vs-caviar":
        n["caviar"]["points"] = n["panda"]["points"]
    elif name == "bn-placement":
        for d in n["depths"]:
            n["runs"]["before"][str(d)]["final"] = [0.5] * n["members"]
            n["runs"]["after"][str(d)]["final"] = [1.0] * n["members"]
    elif name == "bn-batch-size":
        last = str(n["batch_sizes"][-1])
        n["runs"][last]["noise"] = [10.0] * len(n["runs"][last]["noise"])
    elif name == "bias-correction":
        n["measured_ratio"][0][0] = 10 * n["predicted_ratio"][0][0]
    elif name == "ewa-statistics":
        n["accuracy_full"][0] = n["accuracy_ewa"][0] - 0.1
    elif name == "softmax-two-classes":
        n["max_probability_difference"] = 1e-3
    elif name == "ensemble":
        n["runs"][0]["test_ensemble_accuracy"] = n["runs"][0]["test_best_accuracy"] - 0.1


@pytest.mark.parametrize("name", names())
def test_the_verdict_turns_with_the_numbers(outcomes, name):
    numbers = copy.deepcopy(outcomes[name].numbers)
    _flip(name, numbers)
    holds, _ = base.module(name).judge(numbers)
    assert holds is False


def test_softmax_reproduces_the_notes_worked_example(outcomes):
    ex = outcomes["softmax"].numbers["worked_example"]
    assert np.round(ex["t"], 1).tolist() == [148.4, 7.4, 0.4, 20.1]
    assert round(ex["sum_t"], 1) == 176.3
    assert np.round(ex["a"], 3).tolist() == [0.842, 0.042, 0.002, 0.114]
    models = outcomes["softmax"].numbers["models"]
    assert (
        models["2 hidden layers"]["test_accuracy"] > models["softmax regression"]["test_accuracy"]
    )


def test_grid_tries_levels_random_tries_budget(outcomes):
    n = outcomes["random-vs-grid"].numbers
    assert n["grid"]["distinct_lr"] == 4
    assert n["random"]["distinct_lr"] == [n["budget"]] * n["repeats"]
    assert n["accuracy_range_over_lr"] > n["accuracy_range_over_eps"]


def test_log_scale_shares_are_fractions_of_every_draw(outcomes):
    n = outcomes["log-scale"].numbers
    for r in n["alpha"].values():
        assert sum(r["share_per_decade"]) == pytest.approx(1.0)
    uniform = n["alpha"]["uniform"]["share_per_decade"]
    assert uniform[-1] > 0.8  # uniform in [1e-4, 1]: 90 % of the draws above 0.1


def test_panda_and_caviar_agree_on_the_points_both_trained(outcomes):
    n = outcomes["panda-vs-caviar"].numbers
    shared = min(n["panda"]["points"], n["caviar"]["points"])
    panda = np.array(n["panda"]["val_accuracy"][:shared])
    caviar = np.array(n["caviar"]["val_accuracy"][:shared])
    # a member of a population computes what it computes alone (to float32 rounding, which
    # may move one validation example of 360 now and then)
    assert np.mean(np.abs(panda - caviar) < 0.004) >= 0.9


def test_decay_paths_start_together(outcomes):
    n = outcomes["decay"].numbers
    starts = np.array([p[0] for p in n["path"]])
    assert np.all(starts == starts[0])


def test_an_unknown_experiment_names_the_known_ones(tmp_path):
    with pytest.raises(InvalidArgument, match="decay, plateau"):
        run_experiment("nope", tmp_path)


def test_without_matplotlib_one_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[experiments\]'"):
        run_experiment("decay", tmp_path)
    assert not (tmp_path / "decay.json").exists()


def test_two_class_softmax_is_logistic_regression_to_float64_rounding(outcomes):
    n = outcomes["softmax-two-classes"].numbers
    assert n["max_probability_difference"] <= 1e-12 and n["same_predictions"]
    assert outcomes["softmax-two-classes"].holds


def test_adam_s_first_uncorrected_step_is_the_predicted_factor_of_the_corrected(outcomes):
    n = outcomes["bias-correction"].numbers
    for measured, predicted in zip(n["measured_ratio"], n["predicted_ratio"], strict=True):
        assert measured[0] == pytest.approx(predicted[0], rel=1e-3)  # t = 1: the same gradient


def test_batch_norm_noise_shrinks_as_the_batch_grows(outcomes):
    n = outcomes["bn-batch-size"].numbers
    noise = [np.mean(n["runs"][str(B)]["noise"]) for B in n["batch_sizes"]]
    assert noise == sorted(noise, reverse=True) and noise[-1] < noise[0] / 2


def test_bn_placement_trains_both_placements_on_the_same_seeds(outcomes):
    n = outcomes["bn-placement"].numbers
    for position in ("before", "after"):
        for d in n["depths"]:
            acc = np.asarray(n["runs"][position][str(d)]["val_accuracy"])
            assert acc.shape == (n["members"], n["epochs"]) and acc[:, -1].min() > 0.8
            # the epochs to the target are the first epoch at it, or null when never reached
            first = [next((e + 1 for e, a in enumerate(m) if a >= n["target"]), None) for m in acc]
            assert n["runs"][position][str(d)]["epochs_to_target"] == first
    assert "median epochs to 0.95: " in outcomes["bn-placement"].figure


def test_bn_placement_counts_a_target_never_reached_as_infinitely_late(outcomes):
    from caviar.experiments import bn_placement

    n = copy.deepcopy(outcomes["bn-placement"].numbers)
    for d in n["depths"]:
        n["runs"]["after"][str(d)]["epochs_to_target"] = [None] * n["members"]
    assert bn_placement._epochs_to_target(n, "after") == float("inf")
    assert "median epochs to 0.95: " in bn_placement.judge(n)[1]


def test_ewa_statistics_compares_every_batch_norm_layer(outcomes):
    n = outcomes["ewa-statistics"].numbers
    assert np.asarray(n["mean_gap"]).shape == (len(n["momenta"]), 2)
    assert abs(n["accuracy_ewa"][0] - n["accuracy_full"][0]) <= 0.05


def test_ensemble_scores_both_on_the_test_split_and_weights_sum_to_one(outcomes):
    (run,) = outcomes["ensemble"].numbers["runs"]
    assert abs(sum(run["weights"]) - 1) < 1e-9 and len(run["weights"]) == len(run["trials"])
    assert run["val_ensemble_loss"] <= run["val_best_loss"] + 1e-12
    assert 0.5 < run["test_best_accuracy"] <= 1 and 0.5 < run["test_ensemble_accuracy"] <= 1
