"""``caviar study``: ``show``, ``export`` and ``train``, a study's results out.

Every command opens the study read-only except where it says otherwise; a file that caviar
did not write is refused before anything happens to it.
"""

from __future__ import annotations

import json
import math

import click

from caviar import sources
from caviar.errors import InvalidArgument
from caviar.tuning.study import Status, Study, StudyError


@click.group()
def study():
    """Look into a study file."""


@study.command("show")
@click.argument("path", metavar="PATH")
@click.option("--top", "top_n", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
@click.option("--trial", "trial_id", type=int, metavar="N", help="Print trial N's configuration.")
@click.option("--toml", "toml_only", is_flag=True, help="With --trial: the TOML alone.")
def show(path, top_n, as_json, trial_id, toml_only):
    """The best trials, the rounds and their spaces, and the time spent training versus the
    tuner's own overhead; with --trial N, that trial's full configuration as TOML (what
    caviar train --config reads)."""
    import sqlite3
    from pathlib import Path

    from caviar.tuning.study import study_error

    if trial_id is not None or toml_only:
        if trial_id is None:
            raise InvalidArgument("--toml prints a trial's configuration: give --trial N too.")
        return show_trial(path, trial_id, toml_only)
    if not Path(path).is_file():
        raise StudyError(f"{path}: no such study file.")
    try:
        with Study(path, readonly=True) as s:
            ranked, rounds, counts = s.best(top_n), s.rounds(), s.counts()
            spent, searched = s.time_spent(), s.searched()
    except sqlite3.Error as err:
        raise study_error(Path(path), err) from None
    counts = {str(status): n for status, n in counts.items()}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "best": [t.as_dict() for t in ranked],
                    "counts": counts,
                    "rounds": [{"round": r, "space": sp} for r, sp in rounds],
                    "seconds": spent.wall,
                    "train_seconds": spent.training,
                    "worker_seconds": spent.capacity,
                }
            )
        )
        return
    _show_tables(path, ranked, rounds, counts, spent, searched)


def _show_tables(path, best, rounds, counts, spent, searched) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    if not out.is_terminal:
        out = Console(width=160)
    out.print(f"study {path}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    table = Table(title="best trials (lowest validation loss)")
    for col in ("trial", "round", "val_loss", "val_acc", "train_loss", *searched, "seed"):
        table.add_column(col, justify="right")
    for t in best:
        table.add_row(
            str(t.id),
            str(t.round + 1),
            f"{t.val_loss:.4f}",
            f"{t.val_accuracy:.4f}",
            f"{t.train_loss:.4f}",
            *(value_text(t.config[k]) for k in searched),
            str(t.config["seed"]),
        )
    out.print(table)
    for r, space in rounds:
        out.print(f"round {r + 1} space: {_space_line(space)}", soft_wrap=True, highlight=False)
    if spent.wall > 0:
        out.print(f"time: {spent.sentence()}", soft_wrap=True, highlight=False)


def value_text(v) -> str:
    """A searched value as the tables show it: floats to four significant digits."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _space_line(space: dict) -> str:
    from caviar.tuning.space import dimension_text

    return "; ".join(dimension_text(name, entry) for name, entry in space.items())


def config_toml(config: dict) -> str:
    """The configuration as TOML top-level keys, one a line, that ``--config`` reads back.

    >>> print(config_toml({"hidden": [64, 64], "lr": 0.001, "batchnorm": True}), end="")
    hidden = [64, 64]
    lr = 0.001
    batchnorm = true
    """
    lines = []
    for key, value in config.items():
        if isinstance(value, float) and not math.isfinite(value):
            lines.append(f"{key} = {value!r}")  # TOML spells them inf, -inf and nan, as Python
            continue
        lines.append(f"{key} = {json.dumps(value)}")  # JSON scalars and int lists are TOML
    return "".join(line + "\n" for line in lines)


def show_trial(path: str, trial_id: int, toml_only: bool) -> None:
    """Print trial ``trial_id``'s full configuration as TOML, after a comment with its results
    unless ``toml_only``."""
    from caviar.tuning.pbt import member_schedules, schedule_lines
    from caviar.tuning.retrain import find_trial

    with Study(path, readonly=True) as s:
        t = find_trial(s, trial_id)
        data = s.settings().get("tune", {}).get("data", "DATA")
        segments = member_schedules(s, [t.id]).get(t.id)
    if not toml_only:
        click.echo(
            f"# trial {t.id} (round {t.round + 1}, #{t.number}): {t.status}, val_loss "
            f"{_num(t.val_loss)}, val_accuracy {_num(t.val_accuracy)}, epochs {t.epochs}"
        )
        if segments:
            click.echo("# population-based training: its weights trained on this schedule")
            click.echo("# (each segment by the member of that trial, whose weights it copied)")
            for line in schedule_lines(segments):
                click.echo(f"#   {line}")
            click.echo(
                "# below, its last hyperparameters: caviar train --config with them trains "
                "them held constant from the start, not this schedule; its model is kept in "
                f"{path}.models/ when it ranks in the tune's --keep best"
            )
        else:
            click.echo(f"# caviar train --data {data} --config trial-{t.id}.toml reproduces it")
    click.echo(config_toml(t.config), nl=False)


def _num(x) -> str:
    return "-" if x is None else f"{x:.6g}"


@study.command("export")
@click.argument("path", metavar="STUDY")
@click.option("--csv", "csv_path", metavar="PATH", help="One row per trial (params_*, config_*).")
@click.option("--json", "json_path", metavar="PATH", help="The whole study with per-epoch metrics.")
@click.option(
    "--optuna",
    "optuna_url",
    metavar="sqlite:///PATH",
    help="A new Optuna study (optuna-dashboard, optuna.visualization read it).",
)
def export(path, csv_path, json_path, optuna_url):
    """Write STUDY's trials as CSV, JSON or an Optuna study (exactly one of them)."""
    from caviar.tuning import export as ex
    from caviar.tuning.study import Study

    given = {"csv": csv_path, "json": json_path, "optuna": optuna_url}
    chosen = [(kind, target) for kind, target in given.items() if target]
    if len(chosen) != 1:
        raise InvalidArgument("caviar study export needs exactly one of --csv, --json, --optuna.")
    kind, target = chosen[0]
    with Study(path, readonly=True) as s:
        n = len(s.trials())
        written = {"csv": ex.to_csv, "json": ex.to_json, "optuna": ex.to_optuna}[kind](s, target)
    click.echo(f"{n} trials of {path} written to {written} ({kind})")


@study.command("ensemble")
@click.argument("path", metavar="STUDY")
@click.option(
    "--size", type=click.IntRange(min=1), default=8, show_default=True, metavar="M",
    help="Picks of greedy selection (with replacement) over the kept models.",
)  # fmt: skip
@click.option("--save", metavar="PATH", help="Write the ensemble here (.npz).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def ensemble(path, size, save, as_json):
    """An ensemble of STUDY's kept models, chosen on the validation split (greedy forward
    selection with replacement: the member that most lowers the validation log loss, until
    M picks or no gain), scored on the test split beside the best single trial."""
    from caviar.tuning.committee import committee
    from caviar.tuning.study import Study

    sources.refuse_overwrite(save, "--save", study=path)
    with Study(path, readonly=True) as s:
        made = committee(s, size)
    saved = made.ensemble.save(save) if save else None
    if as_json:
        members = [
            {"trial": t, "weight": float(w)}
            for t, w in zip(made.ensemble.trials, made.ensemble.weights, strict=True)
        ]
        click.echo(json.dumps({"members": members, "best_trial": made.best_trial,
                               "scores": made.scores, "saved": saved}))  # fmt: skip
        return
    for line in made.lines():
        click.echo(line)
    if saved:
        click.echo(f"ensemble saved to {saved}")


@study.command("train")
@click.argument("path", metavar="STUDY")
@click.option("--trial", "trial_id", type=int, required=True, metavar="N", help="Trial id.")
@click.option("--save", metavar="PATH", help="Write the trained model here (.npz).")
@click.option(
    "--retrain", is_flag=True, help="Train again even when the tune kept the trial's model."
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line.")
def train_trial(path, trial_id, save, retrain, as_json):
    """Trial N of STUDY as a model: the one the tune kept (STUDY.models/), or trained again,
    alone, with the same numbers as the tune (same configuration, seed and data split);
    with its test accuracy."""
    from caviar.tuning import retrain as again
    from caviar.tuning.study import Study

    with Study(path, readonly=True) as s:
        trial = again.find_trial(s, trial_id)
        kept = None if retrain else again.kept_model(s, trial)
        done = kept or again.retrain(s, trial)
        s_pbt = bool(s.settings().get("tune", {}).get("pbt"))
    scores = done.scores()
    saved = done.model.save(save) if save else None
    result = {
        "trial": trial.id,
        "kept": kept is not None,
        "status": trial.status,
        "tune": {"val_loss": trial.val_loss, "val_accuracy": trial.val_accuracy},
        "retrained": scores,
        "epochs": done.model.history.epochs,
        "saved": saved,
    }
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
        return
    if kept is not None:
        click.echo(
            f"trial {trial.id}: the model the tune kept ({kept.path}), not trained again "
            "(--retrain trains it again)"
        )
    click.echo(
        f"trial {trial.id}: validation accuracy {scores['val_accuracy']:.4f} (the tune recorded "
        f"{_num(trial.val_accuracy)}), val_loss {scores['val_loss']:.6g} (tune "
        f"{_num(trial.val_loss)}), test accuracy {_num(scores['test_accuracy'])}"
    )
    if trial.status == Status.PRUNED:
        click.echo(
            f"(the tune pruned trial {trial.id} after {trial.epochs} epochs; retrained for all "
            f"{done.model.config.epochs}, so its numbers differ from the tune's)"
        )
    if kept is None and s_pbt:
        click.echo(
            f"(trial {trial.id} is a member of population-based training: trained again, its "
            "last hyperparameters are held constant from the start instead of its schedule "
            "(caviar study show --trial N), so its numbers differ from the tune's)"
        )
    if saved:
        click.echo(f"model saved to {saved}")
