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
    history = [(c, _loss(c), None) for c in told]
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


def test_tpe_with_asynchronous_halving_is_told_its_pruned_trials_at_their_rung(tmp_path):
    """Two rounds of a halving tune: the second round's sampler is told the first round's
    pruned trials as pruned (their loss at the rung) and reproduces from the study."""
    import optuna

    from caviar.tuning import guided

    told = []
    real = guided._told

    def spy(optuna_, params, dists, loss, pruned_at):
        trial = real(optuna_, params, dists, loss, pruned_at)
        told.append(trial)
        return trial

    guided._told = spy
    try:
        result = caviar.tune("digits", trials=12, rounds=2, epochs=4, hidden=(8,),
                             sampler="tpe", halving=2.0, study=tmp_path / "h.db", keep=0,
                             verbose=False, executor="local")  # fmt: skip
    finally:
        guided._told = real
    pruned = [t for t in result.trials if t.round == 0 and t.status == "pruned"]
    assert pruned
    states = [t.state for t in told]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    rungs = sorted(next(iter(t.intermediate_values)) for t in told if t.intermediate_values)
    assert rungs == sorted(t.epochs for t in pruned)


def test_a_missing_optuna_or_torch_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(InvalidArgument, match="gp sampler needs torch"):
        guided_sample("gp", SPACE, 2, seed=0, history=[])
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'caviar-nn\[optuna\]'"):
        caviar.tune("digits", trials=2, epochs=1, sampler="tpe", study=tmp_path / "s.db",
                    verbose=False)  # fmt: skip
    assert not (tmp_path / "s.db").exists()
