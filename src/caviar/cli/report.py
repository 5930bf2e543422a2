"""``caviar report`` (an offline HTML page of a study or a model) and ``caviar info`` (what a
saved model expects and what it learned)."""

from __future__ import annotations

import json

import click


def report_option(what: str):
    """``--report PATH``; plotly is checked when the option is parsed, before any training."""

    def check(ctx, param, value):
        if value is not None:
            from caviar.report.html import plotly

            plotly()
        return value

    return click.option(
        "--report",
        "report_path",
        metavar="PATH",
        callback=check,
        help=f"At the end, write the HTML report of the {what} here (needs plotly).",
    )


@click.command()
@click.argument("source", metavar="STUDY_OR_MODEL")
@click.option("--out", default="report.html", show_default=True, metavar="PATH")
@click.option(
    "--test/--no-test",
    default=True,
    show_default=True,
    help="Study: retrain the two best trials for their test accuracy.",
)
def report(source, out, test):
    """Write one self-contained HTML file (no network needed) about a study (.db) or a model
    (.npz): charts you can hover, sort and zoom."""
    from caviar.report import write_report

    click.echo(f"report written to {write_report(source, out, test=test)}")


def write_model_report(model, out, name: str, dataset=None) -> None:
    """The report of a model in memory (``caviar train --report``)."""
    from caviar.report.model import model_page

    click.echo(f"report written to {model_page(model, name, dataset).write(out)}", err=True)


def write_study_report(study_path, out) -> None:
    """The report of a study (``caviar tune --report``)."""
    from caviar.report import write_report

    click.echo(f"report written to {write_report(study_path, out)}", err=True)


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def info(model_file, as_json):
    """What MODEL expects and what it learned: feature names, classes, configuration, epochs
    trained and final metrics."""
    from caviar.ensemble import load

    model = load(model_file)
    if hasattr(model, "models"):
        return _ensemble_info(model_file, model, as_json)
    facts = model_facts(model)
    if as_json:
        click.echo(json.dumps(facts, allow_nan=False))
        return
    names = facts["feature_names"]
    click.echo(f"{model_file}: trained on {facts['data'] or 'data not recorded'}")
    if facts["inputs"] is not None:
        inputs = ", ".join(f"{c['name']} ({c['kind']})" for c in facts["inputs"])
        click.echo(f"input columns ({len(facts['inputs'])}, by name): {inputs}")
        click.echo(f"preprocessing: {facts['preprocessing']}")
        click.echo(f"encoded features ({len(names)}): {', '.join(names)}")
    else:
        click.echo(f"features ({len(names)}, in this order): {', '.join(names) or '(unnamed)'}")
    click.echo(f"classes ({len(facts['classes'])}): {', '.join(map(str, facts['classes']))}")
    final = facts["final"]
    click.echo(
        f"{facts['epochs']} epochs trained{' (stopped early)' if facts['stopped_early'] else ''}"
        f"{'; DIVERGED' if facts['diverged'] else ''}; last epoch: "
        + ", ".join(f"{k} {_g(v)}" for k, v in final.items())
    )
    click.echo("configuration (as TOML, for caviar train --config):")
    from caviar.cli.study_cmds import config_toml

    click.echo(config_toml(facts["config"]), nl=False)


def _ensemble_info(path, ensemble, as_json: bool) -> None:
    """``caviar info`` of an ensemble: its members, their weights and shapes."""
    members = [
        {"trial": t, "weight": float(w), "config": m.config.to_dict()}
        for t, w, m in zip(ensemble.trials, ensemble.weights, ensemble.models, strict=True)
    ]
    facts = {
        "kind": "ensemble",
        "data": ensemble.source.get("data"),
        "classes": ensemble.classes.tolist(),
        "members": members,
    }
    if as_json:
        click.echo(json.dumps(facts, allow_nan=False))
        return
    click.echo(f"{path}: an ensemble of {len(members)} models, trained on {facts['data']}")
    click.echo(f"classes ({len(facts['classes'])}): {', '.join(map(str, facts['classes']))}")
    for m in members:
        c = m["config"]
        shape = ",".join(map(str, c["hidden"]))
        click.echo(
            f"  trial {m['trial']}: weight {m['weight']:.3g}, hidden {shape}, "
            f"{c['activation']}, {c['optimizer']} lr {c['lr']:.4g}"
        )


def model_facts(model) -> dict:
    """The facts ``caviar info`` prints, as a JSON-safe dict."""
    import math

    h = model.history

    def last(series):
        if not series:
            return None
        v = float(series[-1][0])
        return v if math.isfinite(v) else None

    return {
        "data": model.source.get("data"),
        "target": model.source.get("target"),
        "feature_names": list(model.feature_names),
        "n_features": int(model.net.sizes[0]),
        # a table's raw input columns and their kinds, and what was done to them
        "inputs": None
        if model.prep is None
        else [{"name": c.name, "kind": c.kind} for c in model.prep.columns],
        "preprocessing": None if model.prep is None else model.prep.summary(),
        "classes": model.classes.tolist(),
        "epochs": h.epochs,
        "stopped_early": h.stopped_early,
        "diverged": not bool(h.divergence.active.all()),
        "final": {
            "train_loss": last(h.loss),
            "val_loss": last(h.val_loss),
            "val_accuracy": last(h.val_accuracy),
            "lr": last(h.lr),
        },
        "config": model.config.to_dict(),
    }


def _g(v) -> str:
    return "-" if v is None else f"{v:.4g}"
