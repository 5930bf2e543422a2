"""Taking a study's results out: a trial's TOML, retraining it, CSV, JSON, Optuna; caviar info;
the README's predict example."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from caviar.tuning.study import Study, best_trial
from tests import made as fixtures
from tests.cli.conftest import last_json

made = fixtures.made  # the session's small study and model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trials(made):
    with Study(made["study"], readonly=True) as s:
        return s.trials(), {t.id: s.metrics(t.id) for t in s.trials()}


def test_show_trial_toml_is_what_train_config_reproduces(cli, made, trials, tmp_path):
    best = best_trial(trials[0])
    text = cli("study show", made["study"], "--trial", best.id, "--toml").stdout
    assert not text.startswith("#")
    path = tmp_path / "best.toml"
    path.write_text(text)
    out = last_json(cli("train --data iris --json --config", path))
    assert out["config"] == best.config
    assert out["val_accuracy"] == pytest.approx(best.val_accuracy, rel=1e-6)
    assert out["val_loss"] == pytest.approx(best.val_loss, rel=1e-5)
    commented = cli("study show", made["study"], "--trial", best.id).stdout
    assert commented.startswith(f"# trial {best.id}") and commented.endswith(text)


def test_study_train_retrains_a_trial_and_saves_it(cli, made, trials, tmp_path):
    best = best_trial(trials[0])
    model = tmp_path / "best.npz"
    out = last_json(
        cli("study train", made["study"], "--trial", best.id, "--save", model, "--json")
    )
    assert out["retrained"]["val_accuracy"] == pytest.approx(best.val_accuracy, rel=1e-6)
    assert out["retrained"]["val_loss"] == pytest.approx(best.val_loss, rel=1e-5)
    assert 0 < out["retrained"]["test_accuracy"] <= 1 and out["saved"] == str(model)
    evaluated = json.loads(cli("evaluate", model, "--json").stdout)
    assert evaluated["accuracy"] == out["retrained"]["test_accuracy"]


def test_csv_export_has_one_row_per_trial(cli, made, trials, tmp_path):
    path = tmp_path / "t.csv"
    cli("study export", made["study"], "--csv", path)
    rows = list(csv.DictReader(path.open()))
    assert [int(r["id"]) for r in rows] == [t.id for t in trials[0]]
    for row, t in zip(rows, trials[0], strict=True):
        assert row["status"] == t.status
        assert float(row["params_lr"]) == t.config["lr"]
        assert row["config_hidden"] == "16"


def test_json_export_holds_trials_and_metrics(cli, made, trials, tmp_path):
    path = tmp_path / "t.json"
    cli("study export", made["study"], "--json", path)
    doc = json.loads(path.read_text())
    assert len(doc["rounds"]) == 2 and doc["settings"]["tune"]["data"] == "iris"
    for t in doc["trials"]:
        assert t["metrics"] == trials[1][t["id"]]


def test_optuna_export_is_a_real_optuna_study(cli, made, trials, tmp_path):
    import optuna

    path = tmp_path / "optuna.db"
    cli("study export", made["study"], "--optuna", f"sqlite:///{path}")
    study = optuna.load_study(study_name="study", storage=f"sqlite:///{path}")
    ours, metrics = trials
    assert len(study.trials) == len(ours)
    states = {"finished": "COMPLETE", "pruned": "PRUNED"}
    for o, t in zip(study.trials, ours, strict=True):
        assert o.state.name == states[t.status] and o.user_attrs["caviar_id"] == t.id
        assert o.params["lr"] == t.config["lr"]
        assert o.params["one_minus_beta1"] == pytest.approx(1 - t.config["beta1"], rel=1e-12)
        assert o.params["batch_size"] == t.config["batch_size"]
        assert o.distributions["lr"] == optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
        assert o.distributions["one_minus_beta1"].log
        assert o.intermediate_values == {m["epoch"]: m["val_loss"] for m in metrics[t.id]}
    best = best_trial(ours)
    assert study.best_value == best.val_loss and study.best_trial.user_attrs["caviar_id"] == best.id
    import optuna.visualization as vis

    assert vis.plot_param_importances(study).data and vis.plot_intermediate_values(study).data


def test_optuna_dashboard_serves_the_exported_study(cli, made, trials, tmp_path):
    """optuna-dashboard's own WSGI app, called in-process (no server, no network)."""
    from wsgiref.util import setup_testing_defaults

    import optuna_dashboard

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    cli("study export", made["study"], "--optuna", url)
    app = optuna_dashboard.wsgi(url)

    def get(path: str) -> dict:
        env, status = {"PATH_INFO": path}, []
        setup_testing_defaults(env)
        body = b"".join(app(env, lambda s, headers, exc_info=None: status.append(s)))
        assert status == ["200 OK"], (path, status, body[:300])
        return json.loads(body)

    (summary,) = get("/api/studies")["study_summaries"]
    study = get(f"/api/studies/{summary['study_id']}")
    assert len(study["trials"]) == len(trials[0]) and study["has_intermediate_values"]
    importances = get(f"/api/studies/{summary['study_id']}/param_importances")
    names = {p["name"] for p in importances["param_importances"][0]}
    assert names == {"lr", "one_minus_beta1", "batch_size"}


@pytest.mark.parametrize(
    "args, message",
    [
        ("", "exactly one of"),
        ("--csv a.csv --json a.json", "exactly one of"),
        ("--optuna postgresql://x/y", "sqlite:///PATH"),
    ],
)
def test_export_refusals_are_one_line_and_write_nothing(
    cli, made, tmp_path, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)
    result = cli("study export", made["study"], args, code=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_optuna_export_refuses_an_existing_file(cli, made, tmp_path):
    path = tmp_path / "there.db"
    path.write_bytes(b"")
    result = cli("study export", made["study"], "--optuna", f"sqlite:///{path}", code=2)
    assert "exists" in result.stderr and path.read_bytes() == b""


def test_a_missing_trial_is_one_line(cli, made):
    result = cli("study show", made["study"], "--trial 999 --toml", code=2)
    assert "no trial 999" in result.stderr
    result = cli("study train", made["study"], "--trial 999", code=2)
    assert "no trial 999" in result.stderr


def test_info_names_features_classes_config_and_final_metrics(cli, made):
    text = cli("info", made["model"]).stdout
    assert "sepal length (cm)" in text and "setosa" in text and "8 epochs trained" in text
    assert "hidden = [16]" in text
    facts = json.loads(cli("info", made["model"], "--json").stdout)
    assert facts["classes"] == ["setosa", "versicolor", "virginica"]
    assert facts["feature_names"][0] == "sepal length (cm)" and facts["epochs"] == 8
    assert facts["config"]["hidden"] == [16] and math.isfinite(facts["final"]["val_accuracy"])


def test_the_readme_predict_example_file_fits_an_mnist1d_model(cli, tmp_path):
    model = tmp_path / "mnist1d.npz"
    cli("train --data mnist1d --hidden 16 --epochs 1 --save", model)
    new = ROOT / "examples" / "mnist1d-new.csv"
    out = tmp_path / "predictions.csv"
    cli("predict", model, "--data", new, "--proba --out", out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and {"prediction", "proba_0", "proba_9"} <= set(rows[0])
    assert "mnist1d-new.csv" in (ROOT / "README.md").read_text()
