"""The ``caviar`` command: parse the command line, then call the library.

``caviar train``, ``evaluate``, ``predict`` and ``resume``. Every error the library raises on
purpose (:class:`~caviar.errors.CaviarError`), an unusable file and a bad flag end the same
way: one line ``caviar: error: ...`` on standard error and exit status 2, or the error's own
``exit_code`` (3 for a diverged model; the statuses are in :mod:`caviar.cli.codes`;
``caviar --debug`` prints the traceback first). Results go to standard output, progress to
standard error. Heavy modules (scikit-learn through ``caviar.data``) load inside the commands.
"""

from __future__ import annotations

import csv
import errno
import json
import sys
import traceback
from pathlib import Path

import click

import caviar
from caviar import sources
from caviar.cli import codes, run
from caviar.cli.options import config_option, config_options, resolve_config, table_options
from caviar.cli.report import report_option, write_model_report
from caviar.errors import CaviarError, DivergedError, InvalidArgument

EXIT_ERROR = codes.ERROR


class Failure(click.ClickException):
    """An error already explained in one line (status 2, or the error's own ``exit_code``)."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class CaviarGroup(click.Group):
    """A group whose every failure is one line on standard error and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (CaviarError, OSError) as err:
            if isinstance(err, OSError) and err.errno == errno.EPIPE:
                raise  # a closed pipe (``| head``): click exits quietly
            if ctx.params.get("debug"):
                traceback.print_exc()
            raise Failure(str(err), getattr(err, "exit_code", EXIT_ERROR)) from err

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "caviar", standalone_mode=False, **extra)
        except click.ClickException as err:
            if not standalone_mode:
                raise
            _fail(err)
        except click.Abort:
            if not standalone_mode:
                raise
            click.echo("caviar: aborted", err=True)
            sys.exit(130)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _fail(err: click.ClickException):
    if isinstance(err, click.exceptions.NoArgsIsHelpError):
        click.echo(err.ctx.get_help())  # a bare group is a request for its help, not an error
        sys.exit(0)
    message = " ".join(err.format_message().split())
    ctx = getattr(err, "ctx", None)
    if isinstance(err, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    click.echo(f"caviar: error: {message}", err=True)
    sys.exit(err.exit_code if isinstance(err, Failure) else EXIT_ERROR)


@click.group(cls=CaviarGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    caviar.__version__, "--version", prog_name="caviar", message="%(prog)s %(version)s"
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
def main(debug: bool) -> None:
    """Train, evaluate and use fully connected classifiers written in NumPy.

    DATA is a bundled data set (digits, iris, wine, breast_cancer, mnist1d, synthetic, and
    the tables penguins and wage) or a path: a table (.csv with a header, .csv.gz, .parquet,
    .feather; labels in --target, default the last column; text columns and empty cells are
    fine), a .npz file holding X and y, or an IDX folder.
    """


# -- shared options -------------------------------------------------------------------------
def _data_options(required: bool):
    def decorate(command):
        command = click.option(
            "--target", metavar="COLUMN", help="The label column of a table [default: last]."
        )(command)
        helptext = "Bundled data set name or data file." + (
            "" if required else " [default: the data the model was trained on]"
        )
        return click.option("--data", "data", metavar="DATA", required=required, help=helptext)(
            command
        )

    return decorate


def _run_options(fallback: str, save: str = " (.npz)"):
    """Options of a training run; ``fallback`` is the checkpoint path when there is no --save."""
    return _options(
        [
            click.option("--save", metavar="PATH", help=f"Write the trained model here{save}."),
            click.option(
                "--checkpoint",
                metavar="PATH",
                help=f"Checkpoint file on Ctrl-C and with --checkpoint-every "
                f"[default: the --save path, else {fallback}].",
            ),
            click.option(
                "--checkpoint-every",
                type=click.IntRange(min=1),
                metavar="N",
                help="Also write the checkpoint after every N-th epoch.",
            ),
            click.option("--json", "as_json", is_flag=True, help="End with one JSON line."),
            click.option(
                "--live/--no-live",
                default=None,
                help="Draw learning curves while training [default: no; resume: as the "
                "checkpoint's run].",
            ),
            click.option(
                "--log-every",
                type=click.IntRange(min=0),
                metavar="N",
                help="Write one line every N epochs that stays in the scrollback (loss, "
                "val_loss, val_accuracy, lr), also when not on a terminal; 0: none "
                "[default: 0; resume: as the checkpoint's run].",
            ),
            click.option(
                "-v", "--verbose", is_flag=True, help="One line per epoch: --log-every 1."
            ),
            click.option("--interrupt-after", type=click.IntRange(min=1), hidden=True),
        ]
    )


def _options(options: list):
    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


# -- train ------------------------------------------------------------------------------
@main.command()
@_data_options(required=True)
@table_options
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="TOML (or .json) file of TrainConfig keys (e.g. lr = 0.01); flags override it.",
)
@config_options
@_run_options(fallback=run.DEFAULT_CHECKPOINT)
@report_option("model")
def train(
    data,
    target,
    config_file,
    report_path,
    save,
    checkpoint,
    checkpoint_every,
    as_json,
    live,
    log_every,
    verbose,
    interrupt_after,
    categorical,
    numeric,
    drop_columns,
    **flags,
):
    """Train a classifier on DATA with the given hyperparameters.

    Ctrl-C stops after the current step, writes a checkpoint and says how to resume it.
    """
    from caviar.model import Model

    config = resolve_config(config_file, flags)
    src = sources.source(data, target, categorical=categorical, numeric=numeric, drop=drop_columns)
    for flag, out in (("--save", save), ("--checkpoint", checkpoint)):
        sources.refuse_overwrite(out, flag, data_file=src["data"])
    notices: list[str] = []
    train_set, val_set, test_set = sources.split(sources.load(src, notices), config)
    for line in [*notices, train_set.summary()]:
        if line:
            click.echo(f"{Path(src['data']).name}: {line}", err=True)
    model = Model.create(config, train_set)
    model.source = src
    model.display = _display(model.display, live, log_every, verbose)
    status = run.fit_and_report(
        model,
        (train_set, val_set, test_set),
        save=save,
        checkpoint=checkpoint or save or run.DEFAULT_CHECKPOINT,
        every=checkpoint_every,
        as_json=as_json,
        live=model.display["live"],
        log_every=model.display["log_every"],
        stop_after=interrupt_after,
    )
    if report_path and status == codes.OK:  # a diverged or interrupted run has no model to show
        write_model_report(model, report_path, src["data"], test_set if len(test_set) else None)
    return status


# -- resume -----------------------------------------------------------------------------
@main.command()
@click.argument("checkpoint_file", metavar="CHECKPOINT")
@config_option("lr", default="the checkpoint's")
@config_option("schedule", default="the checkpoint's")
@config_option("epochs", default="the checkpoint's; the new total")
@_data_options(required=False)
@_run_options(fallback="CHECKPOINT", save=" [default: CHECKPOINT]")
def resume(
    checkpoint_file,
    lr,
    schedule,
    epochs,
    data,
    target,
    save,
    checkpoint,
    checkpoint_every,
    as_json,
    live,
    log_every,
    verbose,
    interrupt_after,
):
    """Continue training CHECKPOINT exactly where it stopped.

    The data is the one the model was trained on unless --data says otherwise. --lr,
    --schedule and --epochs (the new total) change the run from here on; the optimizer's
    moments and step counts are kept. The result goes back to CHECKPOINT unless --save.
    """
    from caviar.model import Model

    model = Model.load(checkpoint_file)
    src = _source(model, checkpoint_file, data, target)
    for flag, out in (("--save", save), ("--checkpoint", checkpoint)):
        sources.refuse_overwrite(out, flag, data_file=src["data"])
    parts = sources.split(sources.load(src), model.config)
    if len(parts[0]) != model.n_train:
        raise InvalidArgument(
            f"The training part of {src['data']} has {len(parts[0])} rows; {checkpoint_file} "
            f"was trained on {model.n_train}. Resume with the data it was trained on."
        )
    model.change(lr=lr, schedule=schedule, epochs=epochs)
    model.display = _display(model.display, live, log_every, verbose)
    return run.fit_and_report(
        model,
        parts,
        save=save or checkpoint_file,
        checkpoint=checkpoint or save or checkpoint_file,
        every=checkpoint_every,
        as_json=as_json,
        live=model.display["live"],
        log_every=model.display["log_every"],
        stop_after=interrupt_after,
    )


def _display(before: dict, live, log_every, verbose) -> dict:
    """What a run shows (``{"live", "log_every"}``): the flags given, else what the run
    showed before (``before``, from its checkpoint), else nothing but the progress bar."""
    if verbose and log_every is None:
        log_every = 1
    live = before.get("live", False) if live is None else live
    log_every = before.get("log_every", 0) if log_every is None else log_every
    return {"live": bool(live), "log_every": int(log_every)}


def _source(model, path, data, target) -> dict:
    """``--data``/``--target`` if given, else the data the model records it was trained on."""
    if data is not None:
        return sources.source(data, target)
    if target is not None:
        raise InvalidArgument("The '--target' option needs '--data' (the CSV file it applies to).")
    if not model.source.get("data"):
        raise InvalidArgument(f"{path} does not record the data it was trained on; give --data.")
    return model.source


# -- evaluate ---------------------------------------------------------------------------
def _split_option(command):
    return click.option(
        "--split",
        type=click.Choice(sources.SPLITS),
        help="Which rows: a part of the model's own train/val/test split, or all "
        "[default: test for the data the model was trained on or a bundled set, else all].",
    )(command)


def _model_data(model_file, data, target, split):
    """The model (or ensemble) and the rows a command works on (see the --split help)."""
    from caviar.ensemble import load

    model = load(model_file)
    src = _source(model, model_file, data, target)
    if split is None:
        own = sources.same_data(src, model.source) or src["data"] in sources.bundled_names()
        split = "test" if own else "all"
    return model, sources.part(sources.load(src), model.config, split), src, split


@main.command()
@click.argument("model_file", metavar="MODEL")
@_data_options(required=False)
@_split_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line.")
def evaluate(model_file, data, target, split, as_json):
    """Accuracy, loss and confusion matrix of MODEL on DATA."""
    model, ds, src, split = _model_data(model_file, data, target, split)
    scores = model.evaluate(ds, split="all")
    labels = model.classes.tolist()
    single = None
    if hasattr(model, "models"):  # an ensemble: beside the best single trial, both measured
        best = model.models[model.best].evaluate(ds, split="all")
        single = {"trial": model.trials[model.best], "accuracy": best["accuracy"],
                  "loss": run.number(best["loss"])}  # fmt: skip
    if as_json:
        result = {
            "data": src["data"],
            "split": split,
            "n": len(ds),
            "accuracy": scores["accuracy"],
            "loss": run.number(scores["loss"]),
            "classes": labels,
            "confusion": scores["confusion"].tolist(),
            **({} if single is None else {"best_single_trial": single}),
        }
        click.echo(json.dumps(result, allow_nan=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="confusion matrix (rows: true class, columns: predicted)")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(str(label), justify="right")
    for label, row in zip(labels, scores["confusion"], strict=True):
        table.add_row(str(label), *(str(v) for v in row))
    out = Console()
    summary = f"accuracy {scores['accuracy']:.4f}, loss {scores['loss']:.4f}"
    out.print(f"{src['data']} ({split}, {len(ds)} rows): {summary}", soft_wrap=True)
    if single is not None:
        out.print(
            f"best single trial {single['trial']} (a member): accuracy "
            f"{single['accuracy']:.4f}, loss {single['loss']:.4f}",
            soft_wrap=True,
        )
    out.print(table)


# -- predict ----------------------------------------------------------------------------
@main.command()
@click.argument("model_file", metavar="MODEL")
@_data_options(required=False)
@click.option(
    "--split",
    type=click.Choice(sources.SPLITS),
    default="all",
    show_default=True,
    help="Which rows: all, or a part of the model's own train/val/test split.",
)
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--out", metavar="FILE", help="Write the CSV here instead of standard output.")
def predict(model_file, data, target, split, proba, out):
    """Predict labels of DATA with MODEL, as CSV: a 'prediction' column of the original
    labels and, with --proba, a 'proba_<label>' column per class, one row per data row."""
    sources.refuse_overwrite(out, "--out", model=model_file, data_file=data)
    model, X = _prediction_rows(model_file, data, target, split)
    if not hasattr(model, "models") and run.diverged(model):  # an ensemble's trials finished
        d = model.history.divergence
        raise DivergedError(
            f"{model_file}: this model diverged in training (epoch {int(d.epoch[0]) + 1}, "
            f"step {int(d.step[0]) + 1}); its weights are not finite and its predictions mean "
            "nothing. Train it again with a smaller --lr."
        )
    if not model.weights_finite():
        raise DivergedError(
            f"{model_file}: this model's weights are not finite (the file was damaged, or "
            "written by another program), so its predictions would mean nothing. Train it "
            "again, or save it again from a model that predicts."
        )
    P = model.predict_proba(X)
    header = ["prediction"] + (
        [f"proba_{label}" for label in model.classes.tolist()] if proba else []
    )
    labels = model.classes[P.argmax(axis=1)].tolist()
    if out is None:
        _write_csv(sys.stdout, header, labels, P if proba else None)
        return
    with open(out, "w", newline="", encoding="utf-8") as f:
        _write_csv(f, header, labels, P if proba else None)


def _prediction_rows(model_file, data, target, split):
    """The model and the features ``X (n, d)`` it predicts: the model's own data and bundled
    sets go through their split; any other file is read for its features alone (a label
    column is optional and ignored)."""
    from caviar.data import read_features
    from caviar.data.readers import read_columns
    from caviar.data.table import as_table
    from caviar.ensemble import load

    if data is not None and data not in sources.bundled_names() and target is None:
        model = load(model_file)
        src = sources.source(data, None)
        if not sources.same_data(src, model.source):
            if split not in (None, "all"):
                raise InvalidArgument("--split applies to the data the model was trained on.")
            if model.prep is not None:  # a table: its raw columns, read by name
                columns = read_columns(src["data"])
                return model, as_table(columns, model.prep.inputs, model.prep.kinds, data)
            return model, read_features(src["data"], model.feature_names)
    model, ds, _, _ = _model_data(model_file, data, target, split)
    return model, ds.X if model.prep is None else ds.table


def _write_csv(stream, header, labels, P) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    for i, label in enumerate(labels):
        writer.writerow([label] + ([str(p) for p in P[i]] if P is not None else []))


def _register_tuner() -> None:
    from caviar.cli.study_cmds import study
    from caviar.cli.tune import tune

    main.add_command(tune)
    main.add_command(study)


_register_tuner()


def _register_extras() -> None:
    from caviar.cli.experiment import experiment
    from caviar.cli.export import export

    main.add_command(experiment)
    main.add_command(export)


_register_extras()


def _register_report() -> None:
    from caviar.cli.report import info, report

    main.add_command(report)
    main.add_command(info)


_register_report()
