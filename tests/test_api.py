"""``caviar.tune`` and ``caviar.load`` from Python."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import caviar
from caviar.tuning.study import best_trial

SPACE = {"lr": {"dist": "log", "low": 1e-3, "high": 0.3}, "beta1": 0.9}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "s.db"
    return caviar.tune("iris", SPACE, trials=6, rounds=2, epochs=3, hidden=(16,), study=path)


def test_tune_returns_the_study_with_its_best_trial(results):
    assert len(results.trials) == 6 and results.path.is_file()
    assert results.best_trial == best_trial(results.trials)
    assert results.best_params == {"lr": results.best_trial.config["lr"]}
    assert results.settings["trials"] == 6 and len(results.rounds) == 2
    assert all(t.config["hidden"] == [16] and t.config["epochs"] == 3 for t in results.trials)
    done = [t for t in results.trials if t.status == "finished"]
    assert results.most_accurate_trial.val_accuracy == max(t.val_accuracy for t in done)
    assert len(results.metrics(results.best_trial.id)) == 3


def test_trials_dataframe(results):
    df = results.trials_dataframe()
    assert list(df["id"]) == [t.id for t in results.trials]
    assert list(df["params_lr"]) == [t.config["lr"] for t in results.trials]


def test_report_from_python(results, tmp_path):
    out = results.report(tmp_path / "r.html", test=False)
    assert "<h2>Every trial" in out.read_text()


def test_tune_resumes_a_stored_study(results):
    again = caviar.tune("iris", study=results.path, resume=True)
    assert [t.val_loss for t in again.trials] == [t.val_loss for t in results.trials]


def test_a_default_study_lives_in_a_temporary_folder():
    r = caviar.tune("iris", trials=2, epochs=1, hidden=(8,))
    assert r.path.is_file() and "caviar-study-" in str(r.path.parent)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"epoch": 3}, "unknown option"), ({"hidden": "x"}, "'hidden'"), ({"rounds": 9}, "'rounds'")],
)
def test_bad_options_are_caviar_errors(kwargs, message, tmp_path):
    with pytest.raises(caviar.CaviarError, match=message):
        caviar.tune("iris", SPACE, trials=2, study=tmp_path / "s.db", **kwargs)


def test_load_gives_a_model_to_predict_with(results, tmp_path):
    from caviar.data import load, train_val_test_split

    best = results.best_trial
    path = tmp_path / "m.npz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "caviar.cli",
            "study",
            "train",
            str(results.path),
            "--trial",
            str(best.id),
            "--save",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    model = caviar.load(path)
    _, _, test = train_val_test_split(load("iris"), 0.1, 0.2, 0)
    P = model.predict_proba(test.X)
    assert P.shape == (len(test), 3) and np.allclose(P.sum(axis=1), 1, atol=1e-5)
    assert set(model.predict(test.X)) <= set(model.classes)
    assert 0 < model.evaluate(test)["accuracy"] <= 1 and len(model.history.val_accuracy) == 3


def test_caviar_tune_is_the_function_and_caviar_tuning_the_package_in_any_import_order():
    code = (
        "import sys, caviar; assert 'caviar.api' not in sys.modules;"
        "assert callable(caviar.tune) and callable(caviar.load);"
        "import caviar.tuning.tuner, caviar.api; assert caviar.tune is caviar.api.tune;"
        "caviar.tuning.SearchSpace"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_tune_from_python_says_what_the_command_says(capsys, tmp_path):
    """A tune from Python was silent for half a minute: it now writes the executor's and the
    strategy's why, the rounds and the best trial on standard error; verbose=False is quiet."""
    caviar.tune("iris", SPACE, trials=4, epochs=2, hidden=(8,), study=tmp_path / "a.db")
    err = capsys.readouterr().err
    assert "strategy auto → caviar" in err and "executor auto → local" in err
    assert "round 1/1: 4 of 4 trials to run" in err and "best (lowest val_loss): trial" in err
    caviar.tune("iris", SPACE, trials=4, epochs=2, study=tmp_path / "b.db", verbose=False)
    assert capsys.readouterr().err == ""


def test_the_populations_bar_advances_over_what_was_submitted():
    """``populations 0/?`` never moved: the bar counts done of submitted populations."""
    import io

    from rich.console import Console

    from caviar.tuning.progress import ConsoleReporter

    out = io.StringIO()
    view = ConsoleReporter(8, Console(file=out, force_terminal=True, width=150))
    with view:
        view.populations(2, 1, 0, {"here": {"running": 2, "done": 1}})
        view.progress.refresh()
    shown = out.getvalue()
    assert "populations" in shown and "1/3" in shown and "0/?" not in shown
