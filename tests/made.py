"""A small tuned study (with pruned trials) and a saved model, made once per session; import
the fixture where it is needed (`from tests.made import made`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from caviar.cli.main import main

SPACE = """
[space]
lr = { dist = "log", low = 1e-4, high = 1.0 }
beta1 = { dist = "one_minus_log", low = 0.8, high = 0.999 }
batch_size = { dist = "choice", choices = [32, 64] }
"""


def invoke(*args: str):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    """``{"study", "model", "tmp"}``: a 24-trial, 2-round tune with halving on iris, and a
    model trained on iris."""
    tmp = tmp_path_factory.mktemp("made")
    (tmp / "space.toml").write_text(SPACE)
    study, model = tmp / "study.db", tmp / "model.npz"
    invoke(
        "tune",
        "--data",
        "iris",
        "--trials",
        24,
        "--rounds",
        2,
        "--epochs",
        3,
        "--halving",
        3,
        "--hidden",
        16,
        "--space",
        tmp / "space.toml",
        "--study",
        study,
    )
    invoke("train", "--data", "iris", "--epochs", 8, "--hidden", 16, "--save", model)
    return {"study": study, "model": model, "tmp": tmp}
