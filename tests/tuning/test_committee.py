"""Ensembles of a study's kept models (issue 17, second part): greedy selection on the
validation split, one file, the commands that take it, one ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest

import caviar
from caviar.ensemble import Ensemble, greedy, load, log_loss
from caviar.errors import CheckpointError, InvalidArgument
from caviar.tuning.committee import committee
from caviar.tuning.study import Study


def test_greedy_selection_starts_from_the_best_and_adds_what_lowers_the_loss():
    y = np.array([0, 1, 0, 1])
    confident_wrong = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    good_on_0 = np.array([[0.8, 0.2], [0.5, 0.5], [0.8, 0.2], [0.5, 0.5]])
    good_on_1 = np.array([[0.5, 0.5], [0.2, 0.8], [0.5, 0.5], [0.2, 0.8]])
    counts = greedy([confident_wrong, good_on_0, good_on_1], y, size=5)
    assert counts[0] == 0 and counts[1] >= 1 and counts[2] >= 1
    mixed = (counts[1] * good_on_0 + counts[2] * good_on_1) / counts.sum()
    assert log_loss(mixed, y) < min(log_loss(good_on_0, y), log_loss(good_on_1, y))
    # nothing improves on a perfect model: one pick, however large the size
    perfect = np.eye(2)[y] * 0.98 + 0.01
    assert greedy([perfect, good_on_0], y, size=4).tolist() == [1, 0]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("committee") / "s.db"
    caviar.tune("digits", trials=8, epochs=3, hidden=(16,), study=path, keep=6, verbose=False)
    return path


def test_the_ensemble_is_chosen_on_validation_rows_only(study, monkeypatch):
    from caviar import sources
    from caviar.ensemble import greedy as real

    seen = []
    monkeypatch.setattr(
        "caviar.tuning.committee.greedy",
        lambda P, y, size: seen.append([p.shape for p in P] + [y.shape]) or real(P, y, size),
    )
    with Study(study, readonly=True) as s:
        made = committee(s, 4)
    _, val, test = sources.split(caviar.data.load("digits"), made.ensemble.config)
    assert len(seen) == 1 and {shape[0] for shape in seen[0]} == {len(val)} != len(test)
    assert np.isclose(made.ensemble.weights.sum(), 1.0)
    assert made.scores["val"]["ensemble"]["loss"] <= made.scores["val"]["best"]["loss"]
    assert set(made.scores["test"]) == {"ensemble", "best"}  # measured, both


def test_the_ensemble_file_round_trips_and_predicts_the_weighted_mean(study, tmp_path):
    with Study(study, readonly=True) as s:
        ens = committee(s, 4).ensemble
    path = ens.save(tmp_path / "ens.npz")
    back = load(path)
    assert isinstance(back, Ensemble) and back.trials == ens.trials
    X = caviar.data.load("digits").X[:50]
    want = sum(w * m.predict_proba(X) for w, m in zip(ens.weights, ens.models, strict=True))
    np.testing.assert_allclose(back.predict_proba(X), want, rtol=1e-6)
    with pytest.raises(CheckpointError, match="an ensemble of .* not one model"):
        caviar.model.Model.load(path)


def test_onnx_of_an_ensemble_is_one_graph_that_agrees(study, tmp_path):
    pytest.importorskip("onnxruntime")
    from caviar.export import onnx_probabilities, to_onnx

    with Study(study, readonly=True) as s:
        ens = committee(s, 4).ensemble
    graph = to_onnx(ens, tmp_path / "ens.onnx")
    X = caviar.data.load("digits").X[:200]
    assert np.abs(onnx_probabilities(graph, X) - ens.predict_proba(X)).max() < 1e-5


def test_the_commands_take_an_ensemble_and_refuse_what_they_cannot_do(study, tmp_path, cli):
    ens = tmp_path / "e.npz"
    out = cli("study ensemble", study, "--size 3 --save", ens).stdout
    assert "test: ensemble accuracy" in out and "best single trial" in out
    assert "an ensemble of" in cli("info", ens).stdout
    evaluated = cli("evaluate", ens).stdout
    assert "digits (test" in evaluated and "best single trial" in evaluated
    assert cli("predict", ens, "--split test").stdout.startswith("prediction")
    assert "not one model" in cli("resume", ens, code=2).stderr
    assert "kept 6" in cli("study ensemble", study, "--size 7", code=2).stderr
    assert cli("study ensemble", study, "--size 0", code=2).stderr
    empty = tmp_path / "none.db"
    cli("tune --data digits --trials 2 --epochs 1 --hidden 8 --keep 0 --study", empty)
    assert "no kept models" in cli("study ensemble", empty, code=2).stderr
    out = cli("tune --data digits --trials 4 --epochs 1 --hidden 8 --ensemble 2 --study",
              tmp_path / "t.db").stdout  # fmt: skip
    assert f"ensemble saved to {tmp_path / 't.db'}.ensemble.npz" in out
    with pytest.raises(InvalidArgument, match="size must be >= 1"):
        with Study(study, readonly=True) as s:
            committee(s, 0)


@pytest.fixture
def cli():
    from click.testing import CliRunner

    from caviar.cli.main import main

    runner = CliRunner()

    def run(*args, code: int = 0):
        argv = [w for a in args for w in (a.split() if isinstance(a, str) else [str(a)])]
        result = runner.invoke(main, argv)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return run


def test_caviar_tune_makes_and_saves_the_ensemble_when_asked(tmp_path):
    results = caviar.tune("digits", trials=6, epochs=2, hidden=(16,), study=tmp_path / "s.db",
                          ensemble=4, verbose=False)  # fmt: skip
    made = results.ensemble()
    assert isinstance(made, Ensemble) and made.scores["test"]["ensemble"] is not None
    back = load(f"{results.path}.ensemble.npz")
    assert back.trials == made.trials


def test_members_of_different_shapes_make_one_ensemble_and_one_graph(tmp_path):
    pytest.importorskip("onnxruntime")
    from caviar import sources
    from caviar.config import TrainConfig
    from caviar.data import load as load_data
    from caviar.export import onnx_probabilities, to_onnx
    from caviar.model import Model

    data = load_data("digits")
    models = []
    for config in (
        TrainConfig(hidden=(32,), epochs=2),
        TrainConfig(hidden=(16, 16), activation="tanh", batchnorm=False, epochs=2),
    ):
        train, val, _ = sources.split(data, config)
        m = Model.create(config, train)
        m.fit(train, val)
        models.append(m)  # fmt: skip
    ens = Ensemble(models, np.array([0.6, 0.4]), [1, 2])
    back = load(ens.save(tmp_path / "e.npz"))
    X = data.X[:100]
    np.testing.assert_allclose(back.predict_proba(X), ens.predict_proba(X), rtol=1e-6)
    graph = to_onnx(back, tmp_path / "e.onnx")
    assert np.abs(onnx_probabilities(graph, X) - back.predict_proba(X)).max() < 1e-5


def test_a_negative_keep_is_one_line(tmp_path, cli):
    out = cli("tune --data digits --trials 2 --keep -1 --study", tmp_path / "s.db", code=2)
    assert "--keep" in out.stderr and not (tmp_path / "s.db").exists()
