"""``caviar tune``: the tuner from the shell.

Progress goes to standard error (a live view of trials done, the best so far and members
diverged); results to standard output, with ``--json`` as one JSON line at the end.
"""

from __future__ import annotations

import errno
import json
import shlex
import time
from datetime import datetime

import click

from caviar import sources
from caviar.cli import codes
from caviar.cli.options import (
    FIELDS,
    config_option,
    option_type,
    resolve_config,
    table_options,
)
from caviar.cli.report import report_option, write_study_report
from caviar.cli.stop import Stopped, StopRequest
from caviar.cli.study_cmds import value_text
from caviar.errors import InvalidArgument
from caviar.tuning import EXECUTORS
from caviar.tuning.study import Status, StudyError, best_trial, most_accurate

# Where the populations train: not part of the tune (the results do not depend on it), so a
# resumed tune may take other values.
RUN_OPTIONS = ("executor", "address", "workers", "threads")

TRIAL_KEYS = ("lr", "beta1", "beta2", "eps", "seed")


def tune_options(command):
    """Every TrainConfig flag but --seed (here: the tune's sampling seed) as the base config."""
    for name in reversed([n for n in FIELDS if n != "seed"]):
        command = config_option(name)(command)
    return command


def _type(name: str, kind: type) -> click.ParamType:
    """The click type of the tune setting ``name``, from its rule in TuneSettings."""
    from caviar.tuning.settings import TuneSettings

    return option_type(TuneSettings.rule(name), kind)


@click.command()
@click.option("--data", metavar="DATA", help="Bundled data set name or data file.")
@click.option("--target", metavar="COLUMN", help="The label column of a table file.")
@table_options
@click.option("--trials", type=_type("trials", int), metavar="N", help="Trials in all rounds.")
@click.option(
    "--space",
    "space_file",
    metavar="FILE",
    help="TOML search space ([space] table); default: lr, beta1, beta2.",
)
@click.option(
    "--rounds",
    type=_type("rounds", int),
    default=1,
    show_default=True,
    help="Coarse-to-fine rounds; each narrows around the previous round's best.",
)
@click.option(
    "--strategy",
    type=_type("strategy", str),
    default="auto",
    show_default=True,
    help="caviar: many at once; panda: one at a time.",
)
@click.option(
    "--sampler",
    type=_type("sampler", str),
    default="random",
    show_default=True,
    help="How points are drawn: random (the notes'), sobol, grid (only when asked for), or "
    "Optuna's tpe, gp, cmaes, which learn from the earlier rounds (use --rounds).",
)
@click.option(
    "--halving",
    type=_type("halving", float),
    metavar="ETA",
    help="Asynchronous successive halving: at each rung a trial goes on when it is in the "
    "best 1/ETA of those that reached it; its row goes to the next configuration at once.",
)
@click.option(
    "--min-epochs",
    type=_type("min_epochs", int),
    metavar="E",
    default=1,
    show_default=True,
    help="Halving's first rung; the others at E·ETA^i epochs.",
)
@click.option(
    "--pbt",
    is_flag=True,
    help="Population-based training: every --pbt-interval epochs the worst --pbt-fraction "
    "of the members copy the best (weights, moments, schedule state) and perturb the copied "
    "hyperparameters by 0.8 or 1.25 on their scales.",
)
@click.option(
    "--pbt-interval",
    type=_type("pbt_interval", int),
    metavar="E",
    help="Epochs between two exploits [default: epochs // 5, so 4 exploits].",
)
@click.option(
    "--pbt-fraction",
    type=_type("pbt_fraction", float),
    metavar="Q",
    help="Share of the members that copy the same share at the top [default: 0.25].",
)
@click.option(
    "--top",
    "top_fraction",
    type=_type("top_fraction", float),
    metavar="Q",
    default=0.25,
    show_default=True,
    help="Share of a round's trials the next round narrows around.",
)
@click.option(
    "--max-population",
    type=_type("max_population", int),
    metavar="K",
    help="Cap on members per population [default: the cost model's size, at most what "
    "memory holds].",
)
@click.option(
    "--keep",
    type=_type("keep", int),
    metavar="N",
    default=8,
    show_default=True,
    help="Keep the models of the N best trials beside the study (STUDY.models/); 0: none.",
)
@click.option(
    "--repeats",
    type=_type("repeats", int),
    metavar="R",
    default=1,
    show_default=True,
    help="Train each configuration with R seeds, as R rows of one population; a trial's "
    "figures are their mean (R× the rows).",
)
@click.option(
    "--ensemble",
    "ensemble_size",
    type=click.IntRange(min=1),
    metavar="M",
    help="At the end, an ensemble of up to M picks over the kept models, chosen on the "
    "validation split, saved as STUDY.ensemble.npz (caviar study ensemble).",
)
@click.option(
    "--seed", type=_type("seed", int), default=0, show_default=True, help="Sampling seed."
)
@click.option(
    "--study",
    "study_path",
    metavar="PATH",
    help="SQLite study file [default: a new caviar-study-<time>.db here].",
)
@click.option("--resume", is_flag=True, help="Continue the tune stored in --study.")
@click.option(
    "--config",
    "config_file",
    metavar="FILE",
    help="TOML (or .json) of TrainConfig keys fixed for every trial; flags override it.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="auto",
    show_default=True,
    help="Where populations train: this process, several local processes, or Ray; auto: "
    "one single-threaded worker process per core for a tune large enough to repay starting "
    "them, else this process.",
)
@click.option(
    "--address",
    metavar="HOST:PORT",
    help="The Ray cluster to join (--executor ray) [default: start a local Ray].",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Processes of --executor processes [default: cores / --threads].",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    metavar="N",
    help="Threads per population (caviar's kernels and BLAS) [default: local CAVIAR_THREADS "
    "or 2; processes cores / workers; ray 1, the CPUs each task declares].",
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line.")
@report_option("study")
@tune_options
def tune(
    report_path,
    data,
    target,
    trials,
    space_file,
    rounds,
    strategy,
    sampler,
    halving,
    min_epochs,
    pbt,
    pbt_interval,
    pbt_fraction,
    top_fraction,
    max_population,
    keep,
    repeats,
    ensemble_size,
    seed,
    study_path,
    resume,
    config_file,
    executor,
    address,
    workers,
    threads,
    as_json,
    categorical,
    numeric,
    drop_columns,
    **flags,
):
    """Random search on the right scales, coarse to fine, as populations (caviar) or one
    model at a time (panda). Every finished trial is kept in the study; a killed tune goes
    on with --study PATH --resume."""
    from caviar.tuning import SearchSpace, default_space
    from caviar.tuning.settings import check_study
    from caviar.tuning.settings import start as start_tune
    from caviar.tuning.tuner import TuneSettings

    start = time.perf_counter()
    columns = {"categorical": categorical, "numeric": numeric, "drop": drop_columns}
    if study_path is not None:  # a study it would refuse is refused before Ray starts
        check_study(study_path, resume)
    # join the cluster (or start the workers) before the study is written; closed on exit
    runner = _executor(executor, address, workers, threads)
    if runner != "auto":  # auto is chosen by the tuner once it knows the tune's size
        runner.start()
        click.get_current_context().call_on_close(runner.close)
    if resume:
        if study_path is None:
            raise InvalidArgument("--resume needs --study PATH (the study to continue).")
        _refuse_settings_with_resume()
        settings = None
    else:
        if data is None or trials is None:
            raise InvalidArgument(
                "caviar tune needs --data and --trials (or --study PATH --resume)."
            )
        space = SearchSpace.from_toml(space_file) if space_file else default_space()
        base = resolve_config(config_file, flags)
        study_path = study_path or datetime.now().strftime("caviar-study-%Y%m%d-%H%M%S.db")
        settings = TuneSettings(
            data=sources.source(data, target, **columns)["data"],
            target=target,
            columns={k: list(v) for k, v in columns.items() if v},
            trials=trials,
            space=space.to_dict(),
            base=base.to_dict(),
            rounds=rounds,
            strategy=strategy,
            sampler=sampler,
            seed=seed,
            halving=halving,
            min_epochs=min_epochs,
            pbt=pbt,
            pbt_interval=pbt_interval,
            pbt_fraction=pbt_fraction,
            top_fraction=top_fraction,
            max_population=max_population,
            keep=keep,
            repeats=repeats,
        )
    study, settings, ds = start_tune(study_path, settings, resume)
    with study:
        click.echo(f"study: {study.path}", err=True)
        stopped = _drive(study, settings, ds, runner)
        trials_done = study.trials()
        rounds_done = study.rounds()
        searched = study.searched()
    if stopped is not None:
        return stopped
    best = best_trial(trials_done)
    seconds = time.perf_counter() - start
    if as_json:
        click.echo(
            json.dumps(
                _summary(best, trials_done, rounds_done, seconds, study_path), allow_nan=False
            )
        )
    else:
        _print_best(best, trials_done, seconds, study_path, searched)
    if ensemble_size is not None and best is not None:
        _ensemble(study.path, ensemble_size, as_json)
    if report_path:
        write_study_report(study.path, report_path)
    return _status(best, trials_done)


def _ensemble(path, size: int, quiet: bool) -> None:
    """``caviar study ensemble PATH --size size --save PATH.ensemble.npz``, after the tune."""
    from caviar.tuning.committee import committee
    from caviar.tuning.study import Study

    with Study(path, readonly=True) as s:
        made = committee(s, size)
    saved = made.ensemble.save(f"{path}.ensemble.npz")
    if not quiet:
        for line in [*made.lines(), f"ensemble saved to {saved}"]:
            click.echo(line)


def _executor(name: str, address, workers, threads):
    """The executor the options name; ``"auto"`` stays a name unless --address (ray) or
    --workers (processes) says which one is meant."""
    from caviar.tuning.executors import make_executor

    if name == "auto":
        if address is not None:
            name = "ray"
        elif workers is not None:
            name = "processes"
        elif threads is not None:
            raise InvalidArgument(
                "--threads sets the threads of one executor; add --executor local, processes "
                "or ray."
            )
        else:
            return "auto"
    return make_executor(name, address=address, workers=workers, threads=threads)


def _drive(study, settings, ds, executor) -> int | None:
    """Run the tune; None when it ran to the end, else the exit status of a signal. A full
    disk or a damaged file mid-tune is one line saying what is kept and how to go on."""
    import sqlite3

    from caviar.tuning.progress import ConsoleReporter
    from caviar.tuning.study import FINAL, study_error
    from caviar.tuning.tuner import Tuner

    again = f"caviar tune --study {shlex.quote(str(study.path))} --resume"
    try:
        with StopRequest(at_once=True), ConsoleReporter(settings.trials) as progress:
            Tuner(study, settings, ds, progress, executor).run()
    except Stopped as stop:
        click.echo(
            f"caviar: {stop.signal}: tune stopped; {_count(study, FINAL)} finished trials are "
            f"kept in the study, running populations in their checkpoints; continue with: "
            f"{again}",
            err=True,
        )
        return codes.for_signal(stop.signal)
    except (sqlite3.Error, OSError) as err:
        if isinstance(err, OSError) and err.errno == errno.EPIPE:
            raise
        kept = _count(study, FINAL)
        kept = "The" if kept is None else f"The {kept}"
        raise StudyError(
            f"{study_error(study.path, err)} {kept} finished trials are kept; when it is "
            f"fixed, continue with: {again}"
        ) from None
    return None


def _count(study, statuses) -> int | None:
    try:
        return study.count(statuses)
    except Exception:
        return None


def _status(best, trials) -> int:
    """0 when some trial finished with a finite loss; else one line saying why not and
    2 (every trial failed: the configuration is refused) or 3 (they diverged)."""
    if best is not None or not trials:
        return codes.OK
    failed = [t for t in trials if t.status == Status.FAILED]
    if failed and len(failed) == len(trials):
        click.echo(
            f"caviar: error: every trial failed; the first (trial {failed[0].id}): "
            f"{failed[0].error}",
            err=True,
        )
        return codes.ERROR
    click.echo(
        "caviar: no trial finished with a finite validation loss (they diverged, failed or "
        "were pruned); try a smaller learning-rate range.",
        err=True,
    )
    return codes.DIVERGED


def _refuse_settings_with_resume() -> None:
    """A resumed tune is the stored one: flags that would change it are an error, not ignored."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in ctx.params
        if name not in ("study_path", "resume", "as_json", "report_path", *RUN_OPTIONS)
        and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    ]
    if given:
        raise InvalidArgument(
            f"--resume continues the tune stored in the study with its own settings; drop "
            f"{', '.join(given)} (or start a new study)."
        )


def _summary(best, trials, rounds, seconds, path) -> dict:
    def trial(t):
        return {
            "id": t.id,
            "round": t.round,
            "config": t.config,
            "seed": t.config["seed"],
            "status": t.status,
            "train_loss": t.train_loss,
            "val_loss": t.val_loss,
            "val_accuracy": t.val_accuracy,
            "epochs": t.epochs,
        }

    return {
        "best": None
        if best is None
        else {
            "config": best.config,
            "seed": best.config["seed"],
            "val_accuracy": best.val_accuracy,
            "val_loss": best.val_loss,
            "id": best.id,
        },
        "trials": [trial(t) for t in trials],
        "rounds": [{"round": r, "space": s} for r, s in rounds],
        "seconds": seconds,
        "study": str(path),
    }


def _print_best(best, trials, seconds, path, keys=TRIAL_KEYS) -> None:
    diverged = sum(t.status == Status.DIVERGED for t in trials)
    click.echo(f"{len(trials)} trials in {seconds:.1f} s ({diverged} diverged); study {path}")
    if best is None:
        click.echo("no trial finished with a finite validation loss")
        return
    names = [k for k in dict.fromkeys((*keys, "seed")) if k in best.config]
    shown = ", ".join(f"{k}={value_text(best.config[k])}" for k in names)
    click.echo(
        f"best (lowest val_loss): trial {best.id}, val_accuracy {best.val_accuracy:.4f}, "
        f"val_loss {best.val_loss:.4f} ({shown})"
    )
    top = most_accurate(trials)
    if top is not None and top.id != best.id:
        click.echo(
            f"most accurate: trial {top.id}, val_accuracy {top.val_accuracy:.4f}, val_loss "
            f"{top.val_loss:.4f} (caviar study show {path} --trial {top.id} --toml)"
        )
