"""The HTML reports: what each holds, that they are self-contained, and how they refuse."""

from __future__ import annotations

import re

import pytest

from caviar.report import write_report
from caviar.tuning.study import Study, best_trial, most_accurate


@pytest.fixture(scope="module")
def study_html(made):
    out = made["tmp"] / "study.html"
    write_report(made["study"], out)
    return out.read_text()


@pytest.fixture(scope="module")
def model_html(made):
    out = made["tmp"] / "model.html"
    write_report(made["model"], out)
    return out.read_text()


def test_a_study_report_holds_every_section(study_html):
    for heading in (
        "Best trials",
        "Ensemble of the kept models",
        "Validation accuracy against each searched hyperparameter",
        "Parallel coordinates",
        "Which hyperparameters mattered",
        "Coarse to fine",
        "Learning curves of the top trials",
        "Training time against the tuner",
        "Every trial",
    ):
        assert f"<h2>{heading}" in study_html, heading
    assert "permutation importance" in study_html and "random forest" in study_html
    assert '"text":"1 \\u2212 beta1"' in study_html  # the β axis is 1 − β (JSON-escaped)
    assert '"type":"log"' in study_html  # lr on a log axis
    assert "lowest validation loss" in study_html and "most accurate" in study_html


def test_the_best_trials_are_named_with_their_retrained_test_accuracy(made, study_html):
    with Study(made["study"], readonly=True) as s:
        trials = s.trials()
    best, top = best_trial(trials), most_accurate(trials)
    assert top.val_accuracy == max(t.val_accuracy for t in trials if t.status == "finished")
    table = study_html.split("<h2>Best trials")[1].split("</table>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert cells[:3] == ["lowest validation loss", str(best.id), str(best.round + 1)]
    # the retrained validation accuracy equals the tune's, and a test accuracy is given
    assert cells[4] == cells[5] == f"{best.val_accuracy:.4g}"
    assert 0 < float(cells[6]) <= 1


def test_the_trial_table_marks_every_trial_by_status(made, study_html):
    with Study(made["study"], readonly=True) as s:
        trials = s.trials()
    assert {t.status for t in trials} == {"finished", "pruned"}
    table = study_html.split("<h2>Every trial")[1]
    assert table.count('<tr class="pruned">') == sum(t.status == "pruned" for t in trials)
    assert table.count('<tr class="finished">') == sum(t.status == "finished" for t in trials)
    assert 'class="sortable"' in table


@pytest.mark.parametrize("page", ["study_html", "model_html"])
def test_a_report_needs_no_network(request, page):
    text = request.getfixturevalue(page)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert "Plotly.newPlot" in text and len(text) > 3_000_000  # plotly.js itself is inlined


def test_a_model_report_holds_curves_confusion_and_per_class_scores(model_html):
    for heading in (
        "Learning curves",
        "Confusion matrix and per-class precision and recall",
        "Configuration",
    ):
        assert f"<h2>{heading}" in model_html
    for title in ("loss", "validation accuracy", "\\u03b1"):  # α, JSON-escaped
        assert f'"text":"{title}"' in model_html, title
    assert '<th class="text">precision</th>' in model_html
    for label in ("setosa", "versicolor", "virginica"):
        assert label in model_html


def test_a_file_that_is_neither_is_refused_and_nothing_is_written(tmp_path):
    from caviar.errors import InvalidArgument

    bad = tmp_path / "x.txt"
    bad.write_text("hello")
    with pytest.raises(InvalidArgument, match="neither a caviar study"):
        write_report(bad, tmp_path / "r.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_diverged_pruned_and_failed_trials_are_marked(tmp_path):
    """A study written directly, with one trial of each final status."""
    from caviar.config import TrainConfig

    space = {"lr": {"dist": "log", "low": 1e-4, "high": 1.0}}
    configs = [TrainConfig(lr=lr, epochs=2).to_dict() for lr in (1e-3, 1e-2, 0.5, 0.9)]
    path = tmp_path / "s.db"
    with Study(path) as s:
        s.save_settings({"tune": {"data": "iris", "rounds": 1}})
        s.add_round(0, space, configs)
        epoch = {"train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.9, "lr": 1e-3}
        s.finish(1, "finished", {"val_loss": 0.4, "val_accuracy": 0.9, "epochs": 2}, [epoch] * 2)
        s.finish(2, "pruned", {"val_loss": 0.6, "val_accuracy": 0.8, "epochs": 1}, [epoch])
        s.finish(3, "diverged", {"diverged_epoch": 0, "diverged_step": 3, "epochs": 1}, [])
        s.finish(4, "failed", {"error": "warmup_steps exceed the run"}, [])
    text = write_report(path, tmp_path / "r.html", test=False).read_text()
    table = text.split("<h2>Every trial")[1]
    for status in ("finished", "pruned", "diverged", "failed"):
        assert table.count(f'<tr class="{status}">') == 1, status
    assert "warmup_steps exceed the run" in table
    assert '"symbol":["circle","triangle-down","x"]' in text  # failed has no point to draw
    assert "Too few finished trials (1)" in text and "--no-test" in text


def test_the_ensemble_section_shows_both_test_figures_and_needs_kept_models(made, study_html):
    from caviar.tuning.committee import committee

    with Study(made["study"], readonly=True) as s:
        made_here = committee(s, 8)
    section = study_html.split("<h2>Ensemble of the kept models")[1].split("<h2>")[0]
    assert f"best trial {made_here.best_trial} acc" in section and "test" in section
    for t in made_here.ensemble.trials:
        assert f"<td>{t}</td>" in section or f">{t}<" in section
