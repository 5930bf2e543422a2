"""Population-based training as a policy: which hyperparameters it explores, who copies whom,
how a value is perturbed on its own scale, and each member's hyperparameter schedule from
the lineage the study records.

PBT (Jaderberg et al. 2017) with truncation selection. Every ``interval`` epochs the members
of one population (all the trials of a round and shape, however many rows of the executor's
populations hold them) are ranked by validation loss (a diverged member last); each of the
bottom ``⌈q·n⌉`` (at most half of them), and every diverged member (it has stopped, and
would idle to the end), copies a member of the top ``⌈q·n⌉`` drawn uniformly
(*exploit*: every state array of its row, :func:`caviar.train.population.copy_row`) and then
perturbs the copied hyperparameters (*explore*, :func:`explore`): each searched one is
multiplied by 0.8 or 1.25 on its own scale (a ``log`` value times the factor, which is a
step of ±log10 1.25 on its log axis; a ``one_minus_log`` β through 1 − β; clipped to the
space's bounds), and a searched choice is drawn again with probability
:data:`RESAMPLE`. Only what may differ inside a population can be explored (the member
fields of :class:`~caviar.config.TrainConfig`: learning rate, betas, ε, decay rates,
regularisation, batch-norm momentum); the searched shape fields (layers, optimizer, batch
size) make separate populations, each its own PBT.

Each exploit is recorded (:class:`Event`: member, epoch, parent, the member's values before
and after). A member's hyperparameter schedule (:func:`schedule`) follows its weights back
through its parents: from its last copy on it trained with its own values, before that its
weights were its parent's, trained with the parent's values, and so on to epoch 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from caviar.config import FIELDS, TrainConfig
from caviar.errors import InvalidArgument
from caviar.tuning.space import CONTINUOUS, INTEGER, Dimension, SearchSpace

FACTORS = (0.8, 1.25)  # the perturbation, symmetric on a log axis (1.25 = 1 / 0.8)
RESAMPLE = 0.25  # a searched choice is drawn again with this probability (Ray Tune's default)
FRACTION = 0.25  # --pbt-fraction's default: the bottom quarter copies the top quarter
EXPLOITS = 5  # --pbt-interval's default: the run cut in this many intervals


def default_interval(epochs: int) -> int:
    """The epochs between two exploits when ``--pbt-interval`` is not given: the run cut in
    :data:`EXPLOITS` intervals (4 exploits), at least one epoch each."""
    return max(1, epochs // EXPLOITS)


def explored(space: SearchSpace) -> tuple[Dimension, ...]:
    """The searched dimensions PBT perturbs: those a member may change inside a population
    (every per-member field but the seed, which only set the initial weights)."""
    return tuple(d for d in space.free if FIELDS[d.name].metadata["member"] and d.name != "seed")


def refusal(space: SearchSpace) -> str | None:
    """Why ``--pbt`` cannot explore ``space`` (nothing per-member and numeric is searched),
    or None."""
    if any(d.dist in CONTINUOUS + INTEGER for d in explored(space)):
        return None
    shapes = [d.name for d in space.free if d not in explored(space)]
    also = f" ({', '.join(shapes)} fix a population's shape and cannot change)" if shapes else ""
    return (
        "--pbt perturbs searched per-member hyperparameters, but this space searches none"
        f"{also}: search lr, beta1, beta2, eps, weight_decay, l2, keep_prob, bn_momentum or a "
        'decay rate in the --space file, e.g. lr = {dist = "log", low = 1e-4, high = 1}.'
    )


def pairs(losses, fraction: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``(bottom, top)`` index pairs of one exploit over members with validation ``losses``
    (None or not finite: diverged, ranked last; equal losses keep their order): each of the
    bottom ``m = min(⌈fraction·n⌉, ⌊n/2⌋)`` members, and every diverged member besides, with a
    member of the top ``m`` (none diverged) drawn uniformly by ``rng``; best first."""
    n = len(losses)
    m = min(math.ceil(fraction * n), n // 2)
    value = [math.inf if v is None or not math.isfinite(v) else float(v) for v in losses]
    order = sorted(range(n), key=lambda i: value[i])
    top = [i for i in order[:m] if math.isfinite(value[i])]
    if not top:
        return []
    bottom = [i for i in order[n - m :] if i not in top]
    bottom += [i for i in order if math.isinf(value[i]) and i not in bottom]
    return [(b, top[int(rng.integers(len(top)))]) for b in bottom]


def explore(
    config: TrainConfig, dims: tuple[Dimension, ...], rng: np.random.Generator
) -> TrainConfig:
    """``config`` with each of ``dims`` perturbed (the rule of the module's docstring); the
    draws come from ``rng`` in the dimensions' order."""
    changes = {}
    for d in dims:
        x = getattr(config, d.name)
        if d.dist == "choice":
            if rng.random() < RESAMPLE:
                x = d.choices[int(rng.integers(len(d.choices)))]
        else:
            x = perturb(d, x, FACTORS[int(rng.integers(2))])
        changes[d.name] = x
    return config.replace(**changes)


def perturb(dim: Dimension, x, factor: float):
    """``x`` times ``factor`` on ``dim``'s scale, clipped to ``[low, high]``: 1 − x times the
    factor for ``one_minus_log``; rounded (and moved by at least 1) for an integer dim."""
    if dim.dist == "one_minus_log":
        y = 1.0 - (1.0 - x) * factor
    elif dim.dist in INTEGER:
        y = round(x * factor)
        if y == x:
            y = x + (1 if factor > 1 else -1)
    else:
        y = x * factor
    y = min(max(y, dim.low), dim.high)
    return int(y) if dim.dist in INTEGER else float(y)


@dataclass(frozen=True)
class Event:
    """One exploit: ``trial`` copied ``parent`` after ``epoch`` epochs; its explored values
    ``before`` (its own) and ``after`` (the parent's, perturbed), ``{name: value}``."""

    trial: int
    epoch: int
    parent: int
    before: dict
    after: dict


@dataclass(frozen=True)
class Segment:
    """Epochs ``[start, end)`` of a member's schedule: trained with ``values`` by the member
    of ``trial`` (the member itself, or an ancestor whose weights it copied)."""

    start: int
    end: int
    values: dict
    trial: int


def values(config: TrainConfig | dict, names) -> dict:
    """``{name: value}`` of ``names`` in ``config``."""
    get = config.get if isinstance(config, dict) else lambda n: getattr(config, n)
    return {n: get(n) for n in names}


def schedule(
    trial: int, epochs: int, events: dict[int, list[Event]], current: dict[int, dict]
) -> list[Segment]:
    """The hyperparameter schedule of ``trial``'s final weights over ``epochs``, oldest
    first. ``events``: each trial's exploits in epoch order; ``current``: each trial's
    values at the end of the run (those of a trial never copied over are its only ones)."""
    out = []
    who, end = trial, epochs
    while True:
        mine = [e for e in events.get(who, ()) if e.epoch < end]
        if not mine:
            first = events.get(who)
            start_values = first[0].before if first else current[who]
            out.append(Segment(0, end, start_values, who))
            break
        last = mine[-1]
        out.append(Segment(last.epoch, end, last.after, who))
        who, end = last.parent, last.epoch
    # a member's values between two of its own exploits are the 'after' of the earlier;
    # a member's values before its first exploit are that exploit's 'before'
    return out[::-1]


def member_schedules(study, ids=None) -> dict[int, list[Segment]]:
    """The hyperparameter schedule of every recorded member of a PBT tune in ``study`` (a
    :class:`~caviar.tuning.study.Study`), or of the trials ``ids``; empty for another tune."""
    from caviar.tuning.study import Status

    if not study.settings().get("tune", {}).get("pbt"):
        return {}
    events = study.lineage()
    names = [d.name for d in explored(study.space())]
    trials = [t for t in study.trials() if t.config is not None]
    current = {t.id: values(t.config, names) for t in trials}
    return {
        t.id: schedule(t.id, int(t.config["epochs"]), events, current)
        for t in trials
        if Status(t.status).is_final and t.epochs and (ids is None or t.id in ids)
    }


def schedule_lines(segments: list[Segment]) -> list[str]:
    """A schedule as lines of text: epochs, whose weights, values."""
    width = len(str(segments[-1].end))
    return [
        f"epochs {g.start:>{width}}-{g.end:<{width}}  trial {g.trial:<5} "
        + " ".join(f"{k}={_short(v)}" for k, v in g.values.items())
        for g in segments
    ]


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def check_space(space: SearchSpace) -> None:
    """Refuse, as an InvalidArgument, a space ``--pbt`` cannot explore."""
    why = refusal(space)
    if why:
        raise InvalidArgument(why)
