"""The report of a study: counts, the best trials with their test accuracy, a sortable table,
validation accuracy against each searched hyperparameter on its own scale, parallel
coordinates, an importance estimate, the coarse-to-fine rounds as nested regions, the top
trials' learning curves, and training time against the tuner's overhead."""

from __future__ import annotations

import math

import numpy as np

from caviar.report import charts
from caviar.report.html import Page
from caviar.tuning.pbt import member_schedules
from caviar.tuning.space import searched_and_fixed
from caviar.tuning.study import Status, Study, best_trial, most_accurate

_SHOWN = (
    Status.FINISHED,
    Status.DIVERGED,
    Status.PRUNED,
    Status.FAILED,
    Status.RUNNING,
    Status.PENDING,
)


def study_page(path, test: bool = True) -> Page:
    """The :class:`Page` of the study at ``path`` (opened read-only). ``test``: retrain the
    best trials (by validation loss, and the most accurate) for their test accuracy."""
    with Study(path, readonly=True) as s:
        trials, rounds, space = s.trials(), s.rounds(), s.space()
        settings = s.settings().get("tune", {})
        spent = s.time_spent()
        page = Page(f"caviar study report: {s.path.name}")
        _summary(page, settings, trials)
        _best(page, s, trials, space, test)
        _ensemble(page, s, test)
        top = sorted(
            (t for t in trials if t.status == Status.FINISHED and t.val_loss is not None),
            key=_loss,
        )[:5]
        curves = {t.id: s.metrics(t.id) for t in top}
        schedules = member_schedules(s)
    _charts(page, trials, rounds, space, curves)
    if schedules:
        _schedules(page, trials, schedules, space)
    _time(page, spent)
    _table(page, trials, space)
    return page


def _summary(page: Page, settings: dict, trials) -> None:
    counts = {str(st): sum(t.status == st for t in trials) for st in _SHOWN}
    page.text(
        f"data {settings.get('data', '?')}: {len(trials)} trials in "
        f"{settings.get('rounds', '?')} round(s), sampler {settings.get('sampler', '?')}, "
        f"strategy {settings.get('strategy', '?')}."
    )
    if "space" in settings:
        searched, fixed = searched_and_fixed(settings["space"], settings.get("base", {}))
        page.text(f"Searched: {'; '.join(searched) or 'nothing'}.")
        page.text(f"Held fixed for every trial: {', '.join(fixed)}.")
    page.table(list(counts), [list(counts.values())])


def _best(page: Page, s: Study, trials, space, test: bool) -> None:
    page.heading("Best trials")
    picks = [("lowest validation loss", best_trial(trials))]
    picks.append(("most accurate", most_accurate(trials)))
    picks = [(why, t) for why, t in picks if t is not None]
    if not picks:
        page.text("No trial finished with a validation loss.")
        return
    pbt = bool(s.settings().get("tune", {}).get("pbt"))
    retrained = _test_scores(s, [t for _, t in picks], pbt) if test else {}
    names = [d.name for d in space.free]
    rows = []
    for why, t in picks:
        r = retrained.get(t.id, {})
        rows.append(
            [
                why,
                t.id,
                t.round + 1,
                t.val_loss,
                t.val_accuracy,
                r.get("val_accuracy"),
                r.get("test_accuracy"),
                *(t.config.get(n) for n in names),
            ]
        )
    header = [
        "best by",
        "trial",
        "round",
        "val_loss",
        "val_acc",
        "val_acc retrained",
        "test_acc",
        *names,
    ]
    page.table(header, rows)
    page.text(
        "Test accuracy: the study stores none (the tune never looks at the test split). A "
        "member of population-based training cannot be trained again (its weights followed "
        "its lineage's hyperparameter schedule), so each trial above is its kept model "
        "(STUDY.models/; none when the tune kept none), scored on the test split."
        if test and pbt
        else "Test accuracy: the study stores none (the tune never looks at the test split), so "
        "each trial above was trained again alone from its stored configuration, seed and "
        "split, exactly as 'caviar study train STUDY --trial N' does, and scored on the test "
        "split; 'val_acc retrained' shows that the retrained model reproduces the tune."
        if test
        else "Test accuracy not computed (--no-test): 'caviar study train STUDY --trial N' "
        "retrains a trial and reports it.",
        note=True,
    )


def _ensemble(page: Page, s: Study, test: bool) -> None:
    """The kept models as an ensemble (up to 8 picks, chosen on the validation split): its
    members and weights, and its accuracy beside the best single trial's."""
    from caviar.tuning.committee import committee
    from caviar.tuning.kept import Kept

    kept = len(Kept(s.path, 0).stored())
    if not kept:
        return
    made = committee(s, min(8, kept))
    ens = made.ensemble
    page.heading("Ensemble of the kept models")
    page.text(
        f"Greedy forward selection with replacement over the {kept} kept models, up to "
        f"{min(8, kept)} picks, chosen on the validation split (caviar study ensemble): "
        f"{len(ens.models)} members."
    )
    page.table(["trial", "weight"], [[t, w] for t, w in zip(ens.trials, ens.weights, strict=True)])
    parts = ["val", "test"] if test else ["val"]
    rows = []
    for part in parts:
        e, b = made.scores[part]["ensemble"], made.scores[part]["best"]
        if e is not None:
            rows.append([part, e["accuracy"], b["accuracy"], e["loss"], b["loss"]])
    page.table(
        ["split", "ensemble acc", f"best trial {made.best_trial} acc", "ensemble log loss",
         "best trial log loss"],
        rows,
    )  # fmt: skip
    page.text(
        "The test split chose nothing: both figures are measured on it, the ensemble's and "
        "the best single trial's (a member, from its kept model).",
        note=True,
    )


def _test_scores(s: Study, picks, pbt: bool = False) -> dict:
    """Each trial's scores, trained again (a PBT member: its kept model, or none)."""
    from caviar.tuning.retrain import data_of, kept_model, retrain

    data = data_of(s)
    out = {}
    for t in picks:
        if t.id in out:
            continue
        done = kept_model(s, t, data) if pbt else retrain(s, t, dataset=data)
        out[t.id] = done.scores() if done is not None else {}
    return out


def _charts(page: Page, trials, rounds, space, curves) -> None:
    if space.d:
        page.heading("Validation accuracy against each searched hyperparameter")
        page.text(
            "Each on its own scale: log axes for log dimensions, 1 − β on a log axis for "
            "one_minus_log. Colour: round; symbol: status (diverged trials sit at 0). Hover a "
            "point for its configuration.",
            note=True,
        )
        page.figure(charts.slices(trials, space))
        page.heading("Parallel coordinates")
        page.figure(charts.parallel(trials, space))
        page.heading("Which hyperparameters mattered")
        imp = charts.importance(trials, space)
        page.text(imp[1], note=True)
        if imp[0] is not None:
            page.figure(imp[0])
        page.heading("Coarse to fine: each round's region")
        page.text(
            "Each round's range of every numeric searched dimension, in unit coordinates of the "
            "first round's range on that dimension's scale (0 = its low, 1 = its high): each "
            "round narrows around the previous round's best. Below, when there are two numeric "
            "dimensions, the first two on their own scales: each round's box and its trials.",
            note=True,
        )
        page.figure(charts.rounds_unit(rounds, space))
        pair = [d for d in space.free if d.dist != "choice"][:2]
        if len(pair) == 2:
            page.figure(charts.rounds_plane(trials, rounds, pair))
    page.heading("Learning curves of the top trials (lowest validation loss)")
    if curves:
        page.figure(charts.learning_curves(curves))
    else:
        page.text("No finished trial has stored metrics.")


def _schedules(page: Page, trials, schedules: dict, space) -> None:
    page.heading("Population-based training: each member's hyperparameter schedule")
    page.text(
        "The values each finished member's weights trained with, epoch by epoch: its own "
        "since its last copy, before that those of the members whose weights it copied "
        "(caviar study show STUDY --trial N prints one). Colour: final validation accuracy; "
        "each on its own scale.",
        note=True,
    )
    page.figure(charts.schedules(trials, schedules, space))


def _time(page: Page, spent) -> None:
    page.heading("Training time against the tuner's own overhead")
    if spent.wall <= 0:
        page.text("No tuning session ended in this study yet.")
        return
    page.text(
        f"{spent.sentence(2)}. With several workers the figures are worker-seconds: "
        "training summed over the populations, against the wall time times the workers; "
        "the tuner's own work is sampling, grouping, data and storage."
    )
    page.figure(charts.time_split(spent))


def _table(page: Page, trials, space) -> None:
    page.heading("Every trial (click a header to sort)")
    names = [d.name for d in space.free]
    header = [
        "trial",
        "round",
        "status",
        "val_loss",
        "val_acc",
        "train_loss",
        "epochs",
        "seconds",
        *names,
        "diverged at epoch",
        "error",
    ]
    rows = [
        [
            t.id,
            t.round + 1,
            t.status,
            t.val_loss,
            t.val_accuracy,
            t.train_loss,
            t.epochs,
            t.seconds,
            *(t.config.get(n) for n in names),
            None if t.diverged_epoch is None else t.diverged_epoch + 1,
            t.error,
        ]
        for t in trials
    ]
    page.table(header, rows, [t.status for t in trials], sortable=True, scroll=True)


def _loss(t) -> float:
    return t.val_loss if t.val_loss is not None and math.isfinite(t.val_loss) else np.inf
