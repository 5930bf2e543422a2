"""Search spaces: which hyperparameters a study varies, over which range, on which scale.

A :class:`SearchSpace` is an ordered tuple of :class:`Dimension`, each named for a
:class:`~caviar.config.TrainConfig` field; fields it leaves out keep the base configuration's
value. The notes: "try random values, don't use a grid", on "the appropriate scale for each
hyperparameter". Seven distributions (``dist``):

- ``uniform``: x uniform in [low, high] (e.g. ``keep_prob`` in [0.5, 1]);
- ``log``: log x uniform, bounds > 0 (``lr`` in [1e-4, 1]: as many draws in [1e-4, 1e-3] as in
  [0.1, 1]);
- ``one_minus_log``: log(1 − x) uniform, bounds < 1 (``beta1`` in [0.9, 0.999] draws 1 − β in
  [1e-3, 1e-1]; the median β is 0.99);
- ``int``: an integer, uniform in [low, high] inclusive;
- ``log_int``: an integer on a log scale, bounds >= 1 (``batch_size`` in [16, 512]);
- ``choice``: one of a list, equally likely (optimizer names; hidden layers ``[[64, 64], [128]]``);
- ``fixed``: a constant.

The scales themselves live in :mod:`caviar.tuning.transform`. A bad space is refused when it is
built, with one :class:`~caviar.errors.InvalidArgument` naming the entry, the rule and the fix.

>>> space = SearchSpace.from_dict({"lr": {"dist": "log", "low": 1e-4, "high": 1}, "epochs": 3})
>>> space.names, space.d
(('lr', 'epochs'), 1)
>>> space.to_dict()
{'lr': {'dist': 'log', 'low': 0.0001, 'high': 1.0}, 'epochs': 3}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from caviar._validate import OneOf
from caviar.config import FIELDS, read_table, rule
from caviar.errors import InvalidArgument, did_you_mean

CONTINUOUS = ("uniform", "log", "one_minus_log")
INTEGER = ("int", "log_int")
DISTS = (*CONTINUOUS, *INTEGER, "choice", "fixed")
_KEYS = {
    **{dist: ("low", "high") for dist in CONTINUOUS + INTEGER},
    "choice": ("choices",),
    "fixed": ("value",),
}

_FIELDS = FIELDS
_KIND_NAMES = {
    float: "real numbers",
    int: "integers",
    bool: "true or false",
    str: "strings",
    tuple: "lists of layer widths",
}

# dist → (which bounds are allowed, the rule, an example of a good bound per side)
_SCALE_RULES = {
    "log": (lambda x: x > 0, "a log scale needs bounds > 0", {"low": "1e-4", "high": "1"}),
    "one_minus_log": (
        lambda x: x < 1,
        "a 1 - x log scale needs bounds < 1",
        {"low": "0.9", "high": "0.999"},
    ),
    "log_int": (
        lambda x: x >= 1,
        "a log-integer scale needs bounds >= 1",
        {"low": "1", "high": "512"},
    ),
}


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter of a space: its TrainConfig ``name``, its ``dist`` and its range.

    ``low``/``high`` are set for the numeric dists (floats for ``uniform``, ``log``,
    ``one_minus_log``; ints for ``int``, ``log_int``), ``choices`` (a tuple) for ``choice`` and
    ``value`` for ``fixed``; the others are None. Values are stored as the field's type
    (hidden-layer lists become tuples of ints). ``low == high`` is allowed.

    >>> Dimension("beta1", "one_minus_log", 0.9, 0.999)
    Dimension(name='beta1', dist='one_minus_log', low=0.9, high=0.999, choices=None, value=None)
    """

    name: str
    dist: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple | None = None
    value: Any = None

    def __post_init__(self):
        parts = _checked(
            self.name, self.dist, self.low, self.high, self.choices, self.value, "search space"
        )
        for key, value in parts.items():
            object.__setattr__(self, key, value)

    def to_entry(self):
        """The entry of :meth:`SearchSpace.to_dict`: a bare value when fixed, else a table."""
        if self.dist == "fixed":
            return _plain(self.value)
        if self.dist == "choice":
            return {"dist": "choice", "choices": [_plain(c) for c in self.choices]}
        return {"dist": self.dist, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class SearchSpace:
    """An ordered tuple of dimensions with distinct names.

    ``names``: every dimension's name, in order; ``free``: the non-fixed dimensions, whose
    unit coordinates are the columns of ``U: (n, d)``; ``d = len(free)``.
    """

    dims: tuple[Dimension, ...]

    def __post_init__(self):
        dims = tuple(self.dims)
        for dim in dims:
            if not isinstance(dim, Dimension):
                raise InvalidArgument(
                    f"A SearchSpace holds Dimension objects. Got {dim!r} instead; build one with "
                    "SearchSpace.from_dict."
                )
        names = [dim.name for dim in dims]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InvalidArgument(f"The search space names {twice} more than once; keep one each.")
        object.__setattr__(self, "dims", dims)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dim.name for dim in self.dims)

    @property
    def free(self) -> tuple[Dimension, ...]:
        return tuple(dim for dim in self.dims if dim.dist != "fixed")

    @property
    def d(self) -> int:
        return len(self.free)

    def __getitem__(self, name: str) -> Dimension:
        for dim in self.dims:
            if dim.name == name:
                return dim
        raise InvalidArgument(f"The search space has no '{name}' entry; it has {list(self.names)}.")

    @classmethod
    def from_dict(cls, mapping: Mapping, source: str = "search space") -> SearchSpace:
        """Build from ``{name: entry}``: an entry is a table such as ``{"dist": "log", "low":
        1e-4, "high": 1}`` or a bare value, which means fixed. ``source`` names the origin in
        error messages (e.g. ``"space file study.toml"``)."""
        if not isinstance(mapping, Mapping):
            raise InvalidArgument(
                f"The {source} must be a table of hyperparameter entries. Got {mapping!r} instead."
            )
        return cls(tuple(_dimension(name, entry, source) for name, entry in mapping.items()))

    @classmethod
    def from_toml(cls, path: str | Path) -> SearchSpace:
        """Read the ``[space]`` table of a TOML file, or its top level when it has none.

        With a ``[space]`` table, the file's other keys are left to their readers (a study's
        settings, say); without one, every top-level key is an entry of the space.
        """
        path = Path(path)
        data = read_table(path, "space")
        table = data["space"] if isinstance(data.get("space"), Mapping) else data
        if not table:
            raise InvalidArgument(
                f"{path}: the space file holds no entries; give at least one, e.g. "
                'lr = { dist = "log", low = 1e-4, high = 1.0 } (or leave out --space for the '
                "default space)."
            )
        if table is data.get("space"):
            return cls.from_dict(table, source=f"[space] table of {path}")
        return cls.from_dict(table, source=f"space file {path}")

    def to_dict(self) -> dict:
        """``{name: entry}`` in order, JSON- and TOML-ready; ``from_dict`` rebuilds the space."""
        return {dim.name: dim.to_entry() for dim in self.dims}


def notes_space() -> SearchSpace:
    """The notes' first three hyperparameters on their scales: ``lr`` log-uniform in
    [1e-4, 1], ``beta1`` with 1 − β1 log-uniform in [1e-3, 1e-1], ``beta2`` with 1 − β2
    log-uniform in [1e-4, 1e-2]. The experiments and the benchmark's row 1 search this.

    >>> notes_space().names
    ('lr', 'beta1', 'beta2')
    """
    return SearchSpace.from_dict(
        {
            "lr": {"dist": "log", "low": 1e-4, "high": 1.0},
            "beta1": {"dist": "one_minus_log", "low": 0.9, "high": 0.999},
            "beta2": {"dist": "one_minus_log", "low": 0.99, "high": 0.9999},
        },
        source="the notes' space",
    )


def default_space() -> SearchSpace:
    """What ``caviar tune`` searches without ``--space``: the notes' three (:func:`notes_space`)
    and dropout's keep probability, uniform in [0.5, 1] (1: no dropout). Without dropout a
    tune of a network as wide as the data allows overfits where one regularised run does not
    (on mnist1d a 256-256 network with keep 0.8 beat every trial of the three-dimensional
    space; ``docs/design.md``).

    Everything else keeps the base configuration's value: the architecture, batch size and
    epochs are shape fields (varying them would split a round into several populations), and
    the tune says which values it holds fixed.

    >>> default_space().names
    ('lr', 'beta1', 'beta2', 'keep_prob')
    """
    return SearchSpace.from_dict(
        notes_space().to_dict() | {"keep_prob": {"dist": "uniform", "low": 0.5, "high": 1.0}},
        source="default space",
    )


def _dimension(name, entry, source: str) -> Dimension:
    _known_name(name, source)
    if not isinstance(entry, Mapping):
        return Dimension(**_checked(name, "fixed", None, None, None, entry, source))
    at = f"The '{name}' entry of the {source}"
    if "dist" not in entry:
        raise InvalidArgument(
            f"{at}: a table needs a 'dist' key (one of {', '.join(DISTS)}), got keys "
            f"{sorted(entry)}; write a bare value for a fixed one."
        )
    extra = sorted(set(entry) - {"dist", "low", "high", "choices", "value"})
    if extra:
        raise InvalidArgument(
            f"{at}: unknown key(s) {extra}; an entry takes 'dist' and 'low' and 'high', "
            "'choices' or 'value'."
        )
    parts = [entry.get(k) for k in ("low", "high", "choices", "value")]
    return Dimension(**_checked(name, entry["dist"], *parts, source))


def _known_name(name, source: str) -> None:
    if not isinstance(name, str) or name not in _FIELDS:
        raise InvalidArgument(
            f"The '{name}' entry of the {source}: '{name}' is not a TrainConfig hyperparameter"
            f"{did_you_mean(name, _FIELDS)}; known names: {', '.join(sorted(_FIELDS))}."
        )


def _checked(name, dist, low, high, choices, value, source: str) -> dict:
    """The fields of a valid dimension, converted to the field's type, or InvalidArgument."""
    _known_name(name, source)
    at = f"The '{name}' entry of the {source}"
    if dist not in DISTS:
        raise InvalidArgument(f"{at}: unknown dist {dist!r}; use one of {', '.join(DISTS)}.")
    given = {"low": low, "high": high, "choices": choices, "value": value}
    needed = _KEYS[dist]
    if any(given[k] is None for k in needed) or any(
        v is not None for k, v in given.items() if k not in needed
    ):
        got = {k: v for k, v in given.items() if v is not None}
        raise InvalidArgument(
            f"{at}: dist '{dist}' takes {' and '.join(needed)}, got {got}; e.g. {_EXAMPLES[dist]}."
        )
    kind = type(_FIELDS[name].default)
    parts = {"name": name, "dist": dist, **dict.fromkeys(given)}
    if dist in CONTINUOUS + INTEGER:
        parts["low"], parts["high"] = _bounds(at, name, dist, kind, low, high)
    elif dist == "choice":
        parts["choices"] = _choices(at, name, kind, choices)
    else:
        parts["value"] = _value(at, name, kind, value)
    return parts


_EXAMPLES = {
    **{d: f'{{dist = "{d}", low = 1e-4, high = 1}}' for d in CONTINUOUS},
    **{d: f'{{dist = "{d}", low = 16, high = 512}}' for d in INTEGER},
    "choice": '{dist = "choice", choices = ["adam", "momentum"]}',
    "fixed": "a bare value such as epochs = 20",
}


def _bounds(at: str, name: str, dist: str, kind: type, low, high) -> tuple:
    wanted = float if dist in CONTINUOUS else int
    if kind is not wanted:
        raise InvalidArgument(f"{at}: {name} takes {_KIND_NAMES[kind]}; {_dist_hint(kind)}.")
    given = {"low": low, "high": high}  # as written, for the messages
    bounds = {side: _number(at, dist, side, x) for side, x in given.items()}
    if dist in _SCALE_RULES:
        ok, rule, example = _SCALE_RULES[dist]
        for side, x in bounds.items():
            if not ok(x):
                word = "a lower" if side == "low" else "an upper"
                raise InvalidArgument(
                    f"{at}: {rule}, got {side} = {given[side]!r}; use {word} bound such as "
                    f"{example[side]}."
                )
    if bounds["low"] > bounds["high"]:
        raise InvalidArgument(
            f"{at}: low must not exceed high, got low = {low!r} and high = {high!r}; swap them."
        )
    for side, x in bounds.items():
        _in_range(at, name, x, f"{side} = {given[side]!r}")
    return bounds["low"], bounds["high"]


def _dist_hint(kind: type) -> str:
    if kind is float:
        return "use dist 'uniform', 'log' or 'one_minus_log'"
    if kind is int:
        return "use dist 'int' or 'log_int'"
    return "use dist 'choice' or a fixed value"


def _number(at: str, dist: str, side: str, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise InvalidArgument(f"{at}: {side} must be a finite number, got {side} = {x!r}.")
    if dist in CONTINUOUS:
        return float(x)
    if not float(x).is_integer():
        raise InvalidArgument(
            f"{at}: dist '{dist}' needs whole-number bounds, got {side} = {x!r}; round it, or "
            "use a real-valued dist for a real-valued hyperparameter."
        )
    return int(x)


def _choices(at: str, name: str, kind: type, choices) -> tuple:
    if not isinstance(choices, (list, tuple)) or not choices:
        raise InvalidArgument(
            f"{at}: dist 'choice' needs a non-empty list of choices, got choices = {choices!r}; "
            f"e.g. {_EXAMPLES['choice']}."
        )
    values = tuple(_value(at, name, kind, c) for c in choices)
    for i, v in enumerate(values):
        if v in values[:i]:
            raise InvalidArgument(f"{at}: choices must differ, got {v!r} twice; keep one.")
    return values


def _value(at: str, name: str, kind: type, x):
    """``x`` as a value of a field of type ``kind``, inside the field's valid range."""
    converted = _as_kind(kind, x)
    if converted is None:
        if kind is tuple:
            hint = "; write each as a list such as [64, 64]"
        elif isinstance(x, list):  # a bare list of values: the user meant a choice
            hint = f'; to search them, write {{ dist = "choice", choices = {json.dumps(x)} }}'
        else:
            hint = ""
        raise InvalidArgument(f"{at}: {name} takes {_KIND_NAMES[kind]}, got {x!r}{hint}.")
    r = rule(name)
    if isinstance(r, OneOf) and not r.contains(converted):
        raise InvalidArgument(f"{at}: {name} must be {r.describe()}, got {converted!r}.")
    if kind in (int, float):
        _in_range(at, name, converted, repr(x))
    return converted


def _as_kind(kind: type, x):
    """``x`` converted to ``kind`` (ints accepted as reals, whole reals as ints), or None."""
    if kind is tuple:
        if not isinstance(x, (list, tuple)):
            return None
        widths = [_as_kind(int, h) for h in x]
        return None if any(w is None or w < 1 for w in widths) else tuple(widths)
    if kind in (bool, str):
        return x if isinstance(x, kind) else None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    if kind is int and not float(x).is_integer():
        return None
    return kind(x)


def _in_range(at: str, name: str, x, what: str) -> None:
    """Refuse ``x`` outside the field's rule (the one every configuration is checked by)."""
    r = rule(name)
    if r is not None and not isinstance(r, OneOf) and not r.contains(x):
        raise InvalidArgument(
            f"{at}: {name} must be {r.describe()}, got {what}; keep it {r.describe()}."
        )


def _plain(value):
    """A stored value as JSON and TOML write it (tuples become lists)."""
    return list(value) if isinstance(value, tuple) else value


# Fields a tune does not list as held fixed: bookkeeping, not hyperparameters (each trial
# has its own seed; the split and the dtype are the data's and the engine's)
_NOT_SHOWN = ("seed", "data_seed", "dtype", "val_fraction", "test_fraction")


def dimension_text(name: str, entry) -> str:
    """One entry of a space's dict (:meth:`SearchSpace.to_dict`) as text:
    ``lr log [0.0001, 1]``, ``schedule choice ['constant', 'exponential']``, ``epochs = 3``."""
    if isinstance(entry, Mapping) and "low" in entry:
        return f"{name} {entry['dist']} [{entry['low']:.4g}, {entry['high']:.4g}]"
    if isinstance(entry, Mapping):
        return f"{name} {entry.get('dist')} {entry.get('choices')}"
    return f"{name} = {_value_text(entry)}"


def searched_and_fixed(space: Mapping, base: Mapping) -> tuple[list[str], list[str]]:
    """What a tune searches and what every trial takes from its base configuration.

    ``space``: a space's dict; ``base``: a full configuration's dict. The first list has
    one :func:`dimension_text` per searched dimension; the second ``name value`` for each
    hyperparameter held fixed that acts on these trials: the space's fixed entries, and the
    base's fields that are not searched, minus bookkeeping (seeds, split, dtype), the
    arguments of optimizers and schedules the trials do not use, and batch norm's momentum
    without batch norm.
    """
    searched = [dimension_text(k, v) for k, v in space.items() if isinstance(v, Mapping)]
    values = dict(base) | {k: v for k, v in space.items() if not isinstance(v, Mapping)}
    used = set()
    for kind in ("optimizer", "schedule"):
        entry = space.get(kind, values.get(kind))
        used |= set(entry.get("choices", ())) if isinstance(entry, Mapping) else {entry}
    fixed = []
    for name, value in values.items():
        if name in _NOT_SHOWN or isinstance(space.get(name), Mapping) or name not in FIELDS:
            continue
        feeds = set(FIELDS[name].metadata["to"]) - {"network"}
        if feeds and not feeds & used:
            continue
        if name == "bn_momentum" and not values.get("batchnorm", True):
            continue
        fixed.append(f"{name} {_value_text(value)}")
    return searched, fixed


def _value_text(value) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)
