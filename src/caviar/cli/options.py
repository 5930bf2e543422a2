"""Command-line options generated from TrainConfig's fields, so flags and config never drift.

Every field ``name`` becomes ``--name`` (underscores as dashes; a bool becomes
``--name/--no-name``) with the field's help text and default. The options default to None,
"not given", so that only the flags a user typed override a ``--config`` file.
"""

from __future__ import annotations

from dataclasses import Field, fields

import click

from caviar._validate import Interval, OneOf
from caviar.config import TrainConfig

FIELDS: dict[str, Field] = {f.name: f for f in fields(TrainConfig)}
_TYPES = {bool: click.BOOL, int: click.INT, float: click.FLOAT, str: click.STRING}


def config_option(name: str, default: str | None = None):
    """The click option of the TrainConfig field ``name``, its type and range from the
    field's rule (click refuses a bad value at the boundary); ``default`` describes the value
    it has when not given (by default the field's default)."""
    f = FIELDS[name]
    flag = name.replace("_", "-")
    help = f"{f.metadata['help']} [default: {default or _show(f.default)}]"
    if isinstance(f.default, bool):
        return click.option(f"--{flag}/--no-{flag}", name, default=None, help=help)
    if isinstance(f.default, tuple):
        return click.option(f"--{flag}", name, metavar="N,N,...", default=None, help=help)
    kind = option_type(f.metadata["rule"], type(f.default))
    return click.option(f"--{flag}", name, type=kind, default=None, help=help)


def option_type(rule, kind: type) -> click.ParamType:
    """The click type of a field of type ``kind`` with ``rule``."""
    if isinstance(rule, OneOf):
        return click.Choice(rule.choices)
    if isinstance(rule, Interval):
        Range = click.IntRange if kind is int else click.FloatRange
        return Range(rule.low, rule.high, min_open=rule.low_open, max_open=rule.high_open)
    return _TYPES[kind]


def config_options(command):
    """Decorate ``command`` with one option per TrainConfig field, in the fields' order."""
    for name in reversed(FIELDS):
        command = config_option(name)(command)
    return command


def resolve_config(path: str | None, flags: dict) -> TrainConfig:
    """The TOML or JSON file at ``path`` (if any) overridden by the flags that were given.

    ``flags`` maps field names to values, None meaning "not given"; other keys are ignored.
    """
    base = TrainConfig() if path is None else TrainConfig.from_file(path)
    given = {k: v for k, v in flags.items() if k in FIELDS and v is not None}
    parsed = TrainConfig.from_dict(given, source="command-line options")
    return base.replace(**{k: getattr(parsed, k) for k in given})


def _show(default) -> str:
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default)
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def _column_list(value: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip()) if value else ()


def table_options(command):
    """``--categorical``, ``--numeric`` and ``--drop-columns``: a table's column kinds, forced."""
    for flag, what in (
        ("drop-columns", "Leave these columns out (--drop is the staircase schedule's)"),
        ("numeric", "Read these columns as numbers (an empty cell is missing)"),
        ("categorical", "Read these columns as categories, one-hot encoded (also numbers)"),
    ):
        command = click.option(
            f"--{flag}",
            metavar="COL,...",
            callback=lambda ctx, param, value: _column_list(value),
            help=f"{what}; columns of a table file [default: kinds inferred].",
        )(command)
    return command
