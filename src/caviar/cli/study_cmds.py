"""``caviar study export``, ``study train`` and ``study show --trial``: a study's results out.

Every command opens the study read-only except where it says otherwise; a file that caviar
did not write is refused before anything happens to it.
"""

from __future__ import annotations

import json
import math

import click

from caviar.errors import InvalidArgument


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
    from caviar.tuning.retrain import find_trial
    from caviar.tuning.study import Study

    with Study(path, readonly=True) as s:
        t = find_trial(s, trial_id)
        data = s.settings().get("tune", {}).get("data", "DATA")
    if not toml_only:
        click.echo(
            f"# trial {t.id} (round {t.round + 1}, #{t.number}): {t.status}, val_loss "
            f"{_num(t.val_loss)}, val_accuracy {_num(t.val_accuracy)}, epochs {t.epochs}"
        )
        click.echo(f"# caviar train --data {data} --config trial-{t.id}.toml reproduces it")
    click.echo(config_toml(t.config), nl=False)


def _num(x) -> str:
    return "-" if x is None else f"{x:.6g}"


@click.command("export")
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


@click.command("train")
@click.argument("path", metavar="STUDY")
@click.option("--trial", "trial_id", type=int, required=True, metavar="N", help="Trial id.")
@click.option("--save", metavar="PATH", help="Write the trained model here (.npz).")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line.")
def train_trial(path, trial_id, save, as_json):
    """Train trial N of STUDY again, alone, and save the model: the same numbers as the tune
    (same configuration, seed and data split), plus its test accuracy."""
    from caviar.tuning.retrain import find_trial, retrain
    from caviar.tuning.study import Study

    with Study(path, readonly=True) as s:
        trial = find_trial(s, trial_id)
        done = retrain(s, trial)
    scores = done.scores()
    saved = done.model.save(save) if save else None
    result = {
        "trial": trial.id,
        "status": trial.status,
        "tune": {"val_loss": trial.val_loss, "val_accuracy": trial.val_accuracy},
        "retrained": scores,
        "epochs": done.model.history.epochs,
        "saved": saved,
    }
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
        return
    click.echo(
        f"trial {trial.id}: validation accuracy {scores['val_accuracy']:.4f} (the tune recorded "
        f"{_num(trial.val_accuracy)}), val_loss {scores['val_loss']:.6g} (tune "
        f"{_num(trial.val_loss)}), test accuracy {_num(scores['test_accuracy'])}"
    )
    if trial.status == "pruned":
        click.echo(
            f"(the tune pruned trial {trial.id} after {trial.epochs} epochs; retrained for all "
            f"{done.model.config.epochs}, so its numbers differ from the tune's)"
        )
    if saved:
        click.echo(f"model saved to {saved}")
