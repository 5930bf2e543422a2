"""Model-based proposals from Optuna's samplers (issue 18, its third part)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import caviar
from caviar.errors import InvalidArgument
from caviar.tuning.guided import guided_sample
from caviar.tuning.samplers import sample
from caviar.tuning.space import SearchSpace

pytest.importorskip("optuna")
SPACE = SearchSpace.from_dict(
    {"lr": {"dist": "log", "low": 1e-4, "high": 1.0},
     "beta1": {"dist": "one_minus_log", "low": 0.8, "high": 0.999}}
)  # fmt: skip


def _loss(config) -> float:
    """A made-up validation loss, lowest at lr = 1e-3 (any β1)."""
    return abs(np.log10(config["lr"]) + 3)


def test_tpe_learns_where_the_loss_is_low_on_the_log_scale():
    told = sample(SPACE, 60, seed=1)
    history = [(c, _loss(c)) for c in told]
    asked = guided_sample("tpe", SPACE, 16, seed=0, history=history)
    blind = sample(SPACE, 16, seed=2)
    assert np.median([_loss(c) for c in asked]) < 0.5 * np.median([_loss(c) for c in blind])
    for c in asked:  # inside the space, on its scales
        assert 1e-4 <= c["lr"] <= 1.0 and 0.8 <= c["beta1"] <= 0.999
    assert asked == guided_sample("tpe", SPACE, 16, seed=0, history=history)  # reproducible


def test_a_tune_with_tpe_keeps_the_whole_space_and_reproduces(tmp_path):
    runs = [
        caviar.tune("digits", trials=8, rounds=2, epochs=1, hidden=(8,), sampler="tpe",
                    study=tmp_path / f"{i}.db", keep=0, verbose=False, executor="local")
        for i in range(2)
    ]  # fmt: skip
    assert [t.config for t in runs[0].trials] == [t.config for t in runs[1].trials]
    (_, first), (_, second) = runs[0].rounds
    assert first == second  # no coarse-to-fine narrowing: Optuna's model does the focusing


def test_a_missing_optuna_or_torch_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InvalidArgument, match="gp sampler needs torch"):
        guided_sample("gp", SPACE, 2, seed=0, history=[])
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[optuna\]'"):
        caviar.tune("digits", trials=2, epochs=1, sampler="tpe", study=tmp_path / "s.db",
                    verbose=False)  # fmt: skip
    assert not (tmp_path / "s.db").exists()
