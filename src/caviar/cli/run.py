"""One training run from the command line: signals, periodic checkpoints, the reporter, results,
and the results it prints (``caviar resume``'s changes go through ``Model.change``).

Ctrl-C (SIGINT) or SIGTERM sets a flag (:class:`caviar.cli.stop.StopRequest`) that
``Model.fit(should_stop=...)`` reads after every step, so the run stops between two steps and
its checkpoint resumes exactly; a second signal aborts at once. A periodic checkpoint is written
after an epoch is completely done (history, schedule, early-stopping state): ``fit`` asks
``should_stop`` right after ``on_epoch``, so ``on_epoch`` only marks it due and the next
``should_stop`` writes it.
"""

from __future__ import annotations

import json
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from caviar.cli import codes, live
from caviar.cli.stop import StopRequest

DEFAULT_CHECKPOINT = "caviar-checkpoint.npz"


@dataclass
class Outcome:
    seconds: float
    interrupted: str | None  # the signal (or reason) that stopped the run, if one did
    checkpoint: str | None  # where the interrupted state or the last periodic checkpoint is


def train(
    model,
    train_set,
    val_set,
    *,
    checkpoint: str,
    every: int | None = None,
    show_live: bool = False,
    log_every: int = 0,
    stop_after: int | None = None,
) -> Outcome:
    """Fit ``model`` (fresh or resumed) to ``config.epochs``; on a signal, save to
    ``checkpoint``; with ``every``, also save there after every ``every``-th epoch."""
    h = model.history
    spe = model.steps_per_epoch
    due = False
    written = None

    def on_epoch(epoch, history):
        nonlocal due
        report.epoch(epoch, history)
        due = every is not None and (epoch + 1) % every == 0

    def should_stop() -> bool:
        nonlocal due, written
        if due:
            if not diverged(model):  # a diverged state is never written over a checkpoint
                written = model.save(checkpoint)
            due = False
        report.step(h.steps)
        return stop(h.steps)

    start = time.perf_counter()
    stop = StopRequest(stop_after)
    report = live.reporter(model.config.epochs, spe, h.steps, live=show_live, log_every=log_every)
    with stop, report:
        model.fit(train_set, val_set, on_epoch=on_epoch, should_stop=should_stop)
    seconds = time.perf_counter() - start
    if (model.history.interrupted or due) and not diverged(model):
        written = model.save(checkpoint)
    return Outcome(seconds, stop.reason if model.history.interrupted else None, written)


def diverged(model) -> bool:
    """Whether the model's loss or weights stopped being finite."""
    return not bool(model.history.divergence.active.all())


def results(model, parts: dict, seconds: float) -> dict:
    """The run's numbers: the final model evaluated on each part, epochs, time, divergence."""
    h, d = model.history, model.history.divergence
    out: dict = {}
    for name, ds in parts.items():
        with np.errstate(all="ignore"):  # a diverged model is reported below, not warned about
            scores = model.evaluate(ds, split="all") if ds is not None and len(ds) else {}
        out[f"{name}_loss"] = number(scores.get("loss"))
        out[f"{name}_accuracy"] = number(scores.get("accuracy"))
    diverged = bool(d is not None and not d.active.all())
    return {
        **out,
        "epochs": h.epochs,
        "steps": h.steps,
        "lr": number(h.lr[-1][0]) if h.lr else None,
        "seconds": round(seconds, 4),
        "diverged": diverged,
        # epoch and step counted from 0, as in caviar.train.Divergence
        "diverged_at": {"epoch": int(d.epoch[0]), "step": int(d.step[0])} if diverged else None,
        "stopped_early": h.stopped_early,
        "interrupted": h.interrupted,
    }


def number(x) -> float | None:
    """A JSON-safe float: None for a missing or non-finite value."""
    return float(x) if x is not None and math.isfinite(float(x)) else None


def fit_and_report(
    model, parts, *, save, checkpoint, every, as_json, live, stop_after, log_every=0
) -> int:
    """Train ``model`` on ``parts = (train, val, test)`` unless it is done, save it, say how
    it went: a summary or one JSON line on standard output, a resume hint on standard error.
    Returns the exit status (:mod:`caviar.cli.codes`): a diverged model is not saved (an
    existing file at ``save`` keeps what it held), an interrupted run exits 130 or 143."""
    h = model.history
    if h.stopped_early or (h.epochs >= model.config.epochs and not h.interrupted):
        why = (
            f"early stopping ended its training after epoch {h.epochs}"
            if h.stopped_early
            else f"all {h.epochs} epochs have run; give --epochs to train longer"
        )
        click.echo(f"caviar: nothing to train: {why}.", err=True)
        outcome = Outcome(0.0, None, None)
    else:
        outcome = train(
            model,
            parts[0],
            parts[1],
            checkpoint=checkpoint,
            every=every,
            show_live=live,
            log_every=log_every,
            stop_after=stop_after,
        )
    bad = diverged(model)
    saved = model.save(save) if save and not outcome.interrupted and not bad else None
    result = results(
        model, dict(zip(("train", "val", "test"), parts, strict=True)), outcome.seconds
    )
    result |= {"saved": saved, "checkpoint": outcome.checkpoint, **model.source}
    result["config"] = model.config.to_dict()
    if as_json:
        click.echo(json.dumps(result, allow_nan=False))
    else:
        summary(result)
    if bad:
        at = result["diverged_at"]
        kept = f"; {save} keeps what it held" if save and Path(save).exists() else ""
        click.echo(
            f"caviar: diverged in epoch {at['epoch'] + 1}, step {at['step'] + 1}: its loss or "
            f"weights stopped being finite, so nothing was saved{kept}; try a smaller --lr.",
            err=True,
        )
        return codes.DIVERGED
    if outcome.interrupted:
        click.echo(
            f"caviar: {outcome.interrupted}: stopped after step {h.steps} (epoch {h.epochs + 1} "
            f"of {model.config.epochs}), checkpoint written; "
            f"resume with: caviar resume {shlex.quote(outcome.checkpoint)}",
            err=True,
        )
        return codes.for_signal(outcome.interrupted)
    return codes.OK


def summary(r: dict) -> None:
    """A few human lines of the result of :func:`results`."""

    def acc(name):
        value = r[f"{name}_accuracy"]
        return "-" if value is None else f"{value:.4f}"

    click.echo(
        f"{r['data']}: test accuracy {acc('test')}, validation {acc('val')}, "
        f"training {acc('train')}"
    )
    click.echo(
        f"{r['epochs']} epochs, {r['steps']} steps in {r['seconds']:.2f} s, final α {r['lr']}"
    )
    if r["diverged"]:
        at = r["diverged_at"]
        click.echo(
            f"diverged in epoch {at['epoch'] + 1}, at step {at['step'] + 1} (its loss or weights "
            "stopped being finite): try a smaller --lr"
        )
    if r["stopped_early"]:
        click.echo("stopped early: validation loss stopped improving (best weights kept)")
    if r["saved"]:
        click.echo(f"model saved to {r['saved']}")
