"""Search spaces: parsing, round trips through dict, JSON and TOML, and one error per bad entry."""

from __future__ import annotations

import json

import pytest

from caviar.errors import InvalidArgument
from caviar.tuning import Dimension, SearchSpace, default_space, notes_space

SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 1},
    "beta1": {"dist": "one_minus_log", "low": 0.9, "high": 0.999},
    "keep_prob": {"dist": "uniform", "low": 0.5, "high": 1.0},
    "epochs_per_drop": {"dist": "int", "low": 2, "high": 10},
    "batch_size": {"dist": "log_int", "low": 16, "high": 512},
    "optimizer": {"dist": "choice", "choices": ["adam", "momentum"]},
    "hidden": {"dist": "choice", "choices": [[64, 64], [128, 64]]},
    "epochs": 3,
}


def test_from_dict_keeps_order_and_converts_to_the_fields_types():
    space = SearchSpace.from_dict(SPACE)
    assert space.names == tuple(SPACE)
    assert space.d == 7
    assert [dim.name for dim in space.free] == list(SPACE)[:-1]
    assert space["lr"] == Dimension("lr", "log", 1e-4, 1.0)
    assert isinstance(space["lr"].high, float)
    assert space["batch_size"].low == 16 and isinstance(space["batch_size"].low, int)
    assert space["hidden"].choices == ((64, 64), (128, 64))
    assert space["epochs"] == Dimension("epochs", "fixed", value=3)


def test_to_dict_round_trips_through_json():
    space = SearchSpace.from_dict(SPACE)
    stored = json.dumps(space.to_dict())
    assert SearchSpace.from_dict(json.loads(stored)) == space
    assert list(json.loads(stored)) == list(SPACE)


def test_whole_number_reals_are_accepted_as_integer_bounds():
    space = SearchSpace.from_dict({"epochs": {"dist": "int", "low": 2.0, "high": 5}})
    assert space["epochs"].low == 2 and isinstance(space["epochs"].low, int)


def test_low_equal_to_high_is_a_valid_range():
    assert SearchSpace.from_dict({"lr": {"dist": "log", "low": 0.1, "high": 0.1}}).d == 1


TOML = """
rounds = 3

[space]
lr = {dist = "log", low = 1e-4, high = 1}
beta1 = {dist = "one_minus_log", low = 0.9, high = 0.999}
hidden = {dist = "choice", choices = [[64, 64], [128]]}
epochs = 3
"""


def test_from_toml_reads_the_space_table(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(TOML)
    space = SearchSpace.from_toml(path)
    assert space.names == ("lr", "beta1", "hidden", "epochs")
    assert space["hidden"].choices == ((64, 64), (128,))


def test_from_toml_reads_the_top_level_without_a_space_table(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('lr = {dist = "log", low = 1e-4, high = 1}\nepochs = 3\n')
    assert SearchSpace.from_toml(path).names == ("lr", "epochs")


def test_from_toml_names_the_file_in_errors(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('lr = {dist = "log", low = 0, high = 1}\n')
    with pytest.raises(InvalidArgument, match=r"The 'lr' entry of the space file .*space\.toml"):
        SearchSpace.from_toml(path)
    with pytest.raises(InvalidArgument, match="no such space file"):
        SearchSpace.from_toml(tmp_path / "missing.toml")
    path.write_text("lr = {dist = \n")
    with pytest.raises(InvalidArgument, match="not valid TOML"):
        SearchSpace.from_toml(path)


def test_default_space_is_the_notes_scales_and_dropout():
    notes = {
        "lr": {"dist": "log", "low": 1e-4, "high": 1.0},
        "beta1": {"dist": "one_minus_log", "low": 0.9, "high": 0.999},
        "beta2": {"dist": "one_minus_log", "low": 0.99, "high": 0.9999},
    }
    assert notes_space().to_dict() == notes
    keep = {"dist": "uniform", "low": 0.5, "high": 1.0}
    assert default_space().to_dict() == notes | {"keep_prob": keep}


def _log(low, high):
    return {"dist": "log", "low": low, "high": high}


BAD = [
    (
        {"lr": _log(0, 1)},
        "The 'lr' entry of the search space: a log scale needs bounds > 0, got low = 0; "
        "use a lower bound such as 1e-4.",
    ),
    ({"lr": _log(1e-4, -1)}, r"'lr' entry .* a log scale needs bounds > 0, got high = -1"),
    (
        {"beta1": {"dist": "one_minus_log", "low": 0.9, "high": 1}},
        r"'beta1' entry .* needs bounds < 1, got high = 1; use an upper bound such as 0\.999",
    ),
    ({"lr": _log(1, 1e-4)}, r"'lr' entry .* low must not exceed high, got low = 1 and high"),
    (
        {"learning_rate": _log(1e-4, 1)},
        r"'learning_rate' entry .* is not a TrainConfig hyperparameter "
        r"\(did you mean 'lr'\?\); known names: .*lr, ",
    ),
    ({"lr": {"dist": "logarithmic", "low": 1, "high": 2}}, r"'lr' entry .* unknown dist"),
    (
        {"epochs": {"dist": "int", "low": 3.5, "high": 10}},
        r"'epochs' entry .* dist 'int' needs whole-number bounds, got low = 3\.5",
    ),
    (
        {"optimizer": {"dist": "choice", "choices": "adam"}},
        r"'optimizer' entry .* needs a non-empty list of choices, got choices = 'adam'",
    ),
    ({"optimizer": {"dist": "choice", "choices": []}}, "'optimizer' entry .* non-empty list"),
    (
        {"keep_prob": {"dist": "uniform", "low": 0.5, "high": 1.5}},
        r"'keep_prob' entry .* keep_prob must be in \(0, 1\], got high = 1\.5",
    ),
    ({"keep_prob": 1.5}, r"'keep_prob' entry .* must be in \(0, 1\], got 1\.5"),
    ({"beta1": {"dist": "uniform", "low": 0.5, "high": 1}}, r"beta1 must be in \[0, 1\)"),
    ({"beta2": 1.0}, r"'beta2' entry .* beta2 must be in \[0, 1\), got 1\.0"),
    (
        {"optimizer": {"dist": "choice", "choices": ["adam", "sgd"]}},
        r"'optimizer' entry .* optimizer must be one of .*adam.*, got 'sgd'",
    ),
    (
        {"hidden": {"dist": "choice", "choices": [64, 128]}},
        r"'hidden' entry .* takes lists of layer widths, got 64; write each as a list",
    ),
    ({"hidden": [64, 0]}, r"'hidden' entry .* lists of layer widths, got \[64, 0\]"),
    ({"lr": {"dist": "int", "low": 1, "high": 3}}, r"'lr' entry .* lr takes real numbers; use"),
    ({"epochs": _log(1, 30)}, r"'epochs' entry .* epochs takes integers; use dist 'int'"),
    ({"optimizer": _log(1, 30)}, r"'optimizer' entry .* takes strings; use dist 'choice'"),
    ({"lr": {"dist": "log", "low": 1e-4}}, r"'lr' entry .* dist 'log' takes low and high"),
    (
        {"lr": {"dist": "log", "low": 1e-4, "high": 1, "choices": [1]}},
        r"'lr' entry .* dist 'log' takes low and high, got .*choices",
    ),
    ({"lr": {"low": 1e-4, "high": 1}}, r"'lr' entry .* a table needs a 'dist' key"),
    ({"lr": {"dist": "log", "lo": 1e-4, "high": 1}}, r"'lr' entry .* unknown key\(s\) \['lo'\]"),
    (
        {"batch_size": {"dist": "log_int", "low": 0, "high": 512}},
        r"'batch_size' entry .* needs bounds >= 1, got low = 0",
    ),
    ({"epochs": {"dist": "int", "low": "a", "high": 3}}, r"'epochs' entry .* got low = 'a'"),
    ({"lr": _log(1e-4, float("inf"))}, r"'lr' entry .* finite number, got high = inf"),
    ({"epochs": 0}, r"'epochs' entry .* epochs must be an integer in \[1, inf\), got 0"),
    (
        {"optimizer": {"dist": "choice", "choices": ["adam", "adam"]}},
        r"'optimizer' entry .* choices must differ, got 'adam' twice",
    ),
    ({"batchnorm": "yes"}, r"'batchnorm' entry .* takes true or false, got 'yes'"),
    (
        {"bn_position": ["before", "after"]},
        r"'bn_position' entry .* takes strings, got \['before', 'after'\]; to search them, "
        r'write \{ dist = "choice", choices = \["before", "after"\] \}',
    ),
]


@pytest.mark.parametrize("mapping, message", BAD, ids=[str(m) for m, _ in BAD])
def test_a_bad_space_is_one_error_naming_the_entry(mapping, message):
    with pytest.raises(InvalidArgument, match=message) as info:
        SearchSpace.from_dict(mapping)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"The '{next(iter(mapping))}' entry of the search space: ")


def test_the_first_bad_entry_is_named_among_good_ones():
    with pytest.raises(InvalidArgument, match="The 'beta2' entry"):
        SearchSpace.from_dict({**SPACE, "beta2": {"dist": "one_minus_log", "low": 0.9, "high": 1}})


def test_dimensions_built_directly_are_checked_too():
    with pytest.raises(InvalidArgument, match="The 'lr' entry of the search space: a log scale"):
        Dimension("lr", "log", 0.0, 1.0)
    lr = Dimension("lr", "log", 1e-4, 1.0)
    with pytest.raises(InvalidArgument, match=r"names \['lr'\] more than once"):
        SearchSpace((lr, lr))
    with pytest.raises(InvalidArgument, match="holds Dimension objects"):
        SearchSpace(({"lr": 1},))
    with pytest.raises(InvalidArgument, match="has no 'beta1' entry"):
        SearchSpace((lr,))["beta1"]
