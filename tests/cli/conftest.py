"""Helpers for the command-line tests: run ``caviar`` in-process and read saved models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from caviar.cli.main import main


@pytest.fixture
def cli():
    """``cli(*args, code=0)`` runs ``caviar args`` in-process and checks its exit status.

    A string argument is split at spaces (``"train --epochs 3"``); paths and numbers are
    passed whole.
    """
    runner = CliRunner()

    def run(*args, code: int = 0):
        argv = [w for a in args for w in (a.split() if isinstance(a, str) else [str(a)])]
        result = runner.invoke(main, argv)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return run


def last_json(result) -> dict:
    """The JSON object on the last line of standard output."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def arrays(path) -> dict[str, np.ndarray]:
    """Every array of a saved model, metadata included, read without pickle."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_same_model(a, b) -> None:
    """Two saved models hold the same arrays, to the bit, and the same training state."""
    x, y = arrays(a), arrays(b)
    assert sorted(x) == sorted(y)
    for k in x:
        if k != "__meta__" and not k.startswith("time/"):  # wall-clock seconds may differ
            assert x[k].dtype == y[k].dtype, k
            assert np.array_equal(x[k], y[k]), k
    mx, my = (json.loads(str(m["__meta__"])) for m in (x, y))
    for k in ("config", "n_train", "feature_names", "best"):
        assert mx[k] == my[k], k


def to_toml(config: dict) -> str:
    """A TOML file of top-level keys (JSON scalars and integer lists are valid TOML)."""
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())
