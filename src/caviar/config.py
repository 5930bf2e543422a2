"""The training configuration: every hyperparameter of one model, with its rule, in one place.

One :class:`TrainConfig` describes one model. Each field declares, once, in its metadata
(in the spirit of scikit-learn's ``_parameter_constraints``):

- ``help``: the text of its ``--flag`` and of the search space's errors;
- ``rule``: an :class:`~caviar._validate.Interval` or :class:`~caviar._validate.OneOf` that
  every configuration is checked against when it is made, that the command line turns into
  its option types (``click.Choice``, ``click.FloatRange``) and the search space into its
  range checks;
- ``member``: whether the value may differ inside a population (stacked into ``(K,)``);
- ``to``: the engine argument it feeds, per component (``network``, an optimizer name or a
  schedule name): ``beta1`` is Adam's ``beta1`` and momentum's ``beta``.

Fields that feed a schedule take their default from the schedule's table, so each knob has
one default. A population is a list of configurations that agree on the *shape* fields
(:func:`caviar.train.population.build` stacks the others into ``(K,)`` arrays).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from caviar import _validate as check
from caviar._validate import Interval, OneOf
from caviar.data.prep import PREPROCESS
from caviar.errors import InvalidArgument, did_you_mean
from caviar.nn.activations import ACTIVATIONS
from caviar.nn.network import BN_POSITIONS, DTYPES, INITS
from caviar.optim import OPTIMIZERS, SCHEDULES

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

_ADAMS = ("adam", "adamw")


def _f(default, help: str, rule, member: bool = False, to: dict | None = None):
    """A config field: its default, help, rule, whether it is per member, what it feeds."""
    meta = {"help": help, "rule": rule, "member": member, "to": to or {}}
    return field(default=default, metadata=meta)


def _sched(schedule: str, argument: str, help: str):
    """A member field feeding ``argument`` of ``schedule``, with that argument's default and
    rule."""
    _, _, spec = SCHEDULES[schedule]
    default, rule = spec[argument]
    return _f(default, help, rule, True, {schedule: argument})


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one model. Defaults train digits to about 0.97 test accuracy."""

    hidden: tuple[int, ...] = _f((64, 64), "hidden layer sizes, e.g. 64,64", check.COUNT)
    batchnorm: bool = _f(True, "batch norm in each hidden layer", None)
    bn_position: str = _f(
        "before", "batch norm before or after each hidden activation", OneOf(BN_POSITIONS)
    )
    activation: str = _f("relu", "hidden activation", OneOf(tuple(ACTIVATIONS)))
    init: str = _f("auto", "weight init (auto: He for ReLU, Xavier otherwise)", OneOf(INITS))
    optimizer: str = _f("adam", "optimizer", OneOf(tuple(OPTIMIZERS)))
    lr: float = _f(1e-3, "learning rate α (α0 of the schedule)", check.POSITIVE, True)
    beta1: float = _f(
        0.9,
        "β1 of Adam; β of momentum",
        check.FRACTION,
        True,
        {"momentum": "beta", **dict.fromkeys(_ADAMS, "beta1")},
    )
    beta2: float = _f(
        0.999,
        "β2 of Adam and RMSprop",
        check.FRACTION,
        True,
        dict.fromkeys(("rmsprop", *_ADAMS), "beta2"),
    )
    eps: float = _f(
        1e-8,
        "ε of Adam and RMSprop (outside the square root)",
        check.POSITIVE,
        True,
        dict.fromkeys(("rmsprop", *_ADAMS), "eps"),
    )
    weight_decay: float = _f(
        0.0,
        "decoupled weight decay λ (adam, adamw)",
        check.NON_NEGATIVE,
        True,
        dict.fromkeys(_ADAMS, "weight_decay"),
    )
    schedule: str = _f("constant", "learning-rate schedule", OneOf(tuple(SCHEDULES)))
    decay_rate: float = _sched(
        "inverse_time", "decay_rate", "inverse_time: α0 / (1 + decay_rate · epoch)"
    )
    decay_base: float = _sched("exponential", "base", "exponential: decay_base^epoch · α0")
    decay_k: float = _sched("inverse_sqrt", "k", "inverse_sqrt: k / √(k² + epoch) · α0")
    drop: float = _sched("staircase", "drop", "staircase: factor per drop")
    epochs_per_drop: int = _sched("staircase", "epochs_per_drop", "staircase: epochs between drops")
    warmup_steps: int = _sched("warmup_cosine", "warmup_steps", "warmup_cosine: warm-up steps")
    alpha_min: float = _sched("warmup_cosine", "alpha_min", "warmup_cosine: final learning rate")
    plateau_factor: float = _sched("plateau", "factor", "plateau: factor per reduction")
    plateau_patience: int = _sched(
        "plateau", "patience", "plateau: epochs without improvement before a reduction"
    )
    batch_size: int = _f(64, "mini-batch size", check.COUNT)
    epochs: int = _f(20, "passes over the training data", check.COUNT)
    seed: int = _f(
        0,
        "seed of the initial weights and dropout masks",
        check.NON_NEGATIVE_INT,
        True,
        {"network": "seeds"},
    )
    data_seed: int = _f(
        0, "seed of the train/validation/test split and mini-batch order", check.NON_NEGATIVE_INT
    )
    order_offset: int = _f(
        0,
        "epoch e trains on the mini-batch order of epoch e + order_offset (a trial that "
        "asynchronous halving started later on a recycled row records where it started)",
        check.NON_NEGATIVE_INT,
    )
    keep_prob: float = _f(
        1.0,
        "dropout keep probability (1 = no dropout)",
        check.SHARE,
        True,
        {"network": "keep_prob"},
    )
    l2: float = _f(
        0.0,
        "L2 regularisation λ: cost + λ/(2m) Σ‖W‖²",
        check.NON_NEGATIVE,
        True,
        {"network": "l2"},
    )
    bn_momentum: float = _f(
        0.9,
        "batch norm running-average momentum",
        check.FRACTION,
        True,
        {"network": "bn_momentum"},
    )
    dtype: str = _f("float32", "floating-point type", OneOf(tuple(DTYPES)))
    val_fraction: float = _f(0.1, "share of the data held out for validation", check.FRACTION)
    test_fraction: float = _f(
        0.2,
        "share of the data held out for the final test (mnist1d: its own last 1,000 rows)",
        check.FRACTION,
    )
    preprocess: str = _f(
        "standard",
        "a table's numeric columns: standard (standardised) or quantile (through the training "
        "quantiles to [0, 1], then standardised)",
        OneOf(PREPROCESS),
    )
    early_stopping: int = _f(
        0, "patience in epochs on validation loss (0: off)", check.NON_NEGATIVE_INT
    )

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        _check_rules(self, "parameter")

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def shape(self) -> tuple:
        """The shape fields' values: configurations with equal shapes share a population."""
        return tuple(getattr(self, f) for f in SHAPE_FIELDS)

    def to_dict(self) -> dict:
        # every field is a scalar but ``hidden``: no need for asdict's deep copy
        d = {name: getattr(self, name) for name in _FIELD_NAMES}
        d["hidden"] = list(self.hidden)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, source: str = "configuration") -> TrainConfig:
        """Build from a mapping, refusing unknown keys, wrong types and values outside a
        field's rule, with the key and the source named."""
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise InvalidArgument(
                f"The {source} has unknown key(s) {unknown}{did_you_mean(unknown[0], FIELDS)}; "
                f"known keys: {sorted(FIELDS)}."
            )
        values = {k: _coerce(k, v, FIELDS[k].default, source) for k, v in d.items()}
        for k, v in values.items():
            _check_rule(k, v, f"entry of the {source}")
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a TOML file whose top-level keys are the field names."""
        data = read_table(path, "configuration", json=False)
        return cls.from_dict(data, source=f"configuration file {path}")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a ``.json`` file (an object of field names, as ``--json`` prints ``config``)
        or, for any other suffix, a TOML file (:meth:`from_toml`)."""
        data = read_table(path, "configuration", json=Path(path).suffix.lower() == ".json")
        return cls.from_dict(data, source=f"configuration file {path}")


FIELDS = {f.name: f for f in fields(TrainConfig)}
_FIELD_NAMES = tuple(FIELDS)
SHAPE_FIELDS = tuple(f.name for f in fields(TrainConfig) if not f.metadata["member"])
MEMBER_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.metadata["member"])


def read_table(path: str | Path, what: str, json: bool = False) -> dict:
    """The table of keys in the TOML (or, with ``json``, JSON) file at ``path``; a missing,
    unreadable or malformed file is one InvalidArgument naming it and ``what`` it should be."""
    import json as json_module

    path = Path(path)
    kind, parse = ("JSON", json_module.loads) if json else ("TOML", tomllib.loads)
    errors = (json_module.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError)
    try:
        data = parse(path.read_text())
    except FileNotFoundError:
        raise InvalidArgument(f"{path}: no such {what} file.") from None
    except errors as e:
        raise InvalidArgument(f"{path}: not valid {kind} ({e}).") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: a {kind} {what} must be an object of keys.")
    return data


def rule(name: str) -> Interval | OneOf | None:
    """The rule of field ``name``."""
    return FIELDS[name].metadata["rule"]


def engine_arguments(component: str) -> dict[str, str]:
    """``{field: argument}`` of the fields that feed ``component`` (``network``, an optimizer
    or a schedule name)."""
    return {
        name: f.metadata["to"][component]
        for name, f in FIELDS.items()
        if component in f.metadata["to"]
    }


def _check_rule(name: str, value, what: str) -> None:
    r = FIELDS[name].metadata["rule"]
    if r is None:
        return
    values = value if isinstance(value, tuple) else (value,)
    if not all(r.contains(v) for v in values):
        each = "each of " if isinstance(value, tuple) else ""
        raise InvalidArgument(
            f"The '{name}' {what} must be {each}{r.describe()}. Got {value!r} instead."
        )


def _check_rules(config: TrainConfig, what: str) -> None:
    for name in _FIELD_NAMES:
        _check_rule(name, getattr(config, name), what)
    if config.batchnorm and config.batch_size < 2:
        raise InvalidArgument(
            "The 'batch_size' parameter must be >= 2 with batch norm (a mini-batch of one has "
            f"no variance to normalise by). Got {config.batch_size}; raise it or use "
            "--no-batchnorm."
        )
    if config.val_fraction + config.test_fraction >= 1:
        raise InvalidArgument(
            "The 'val_fraction' and 'test_fraction' parameters must sum to less than 1 (the "
            f"rest trains). Got {config.val_fraction} + {config.test_fraction} instead."
        )


def _coerce(key: str, value, default, source: str):
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v]
        try:
            return tuple(check.positive_int(key, int(v)) for v in value)
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"The '{key}' entry of the {source} must be a list of positive integers. "
                f"Got {value!r} instead."
            ) from None
    kind = type(default)
    if type(value) is kind:  # the common case: already the right type
        return value
    wrong = InvalidArgument(
        f"The '{key}' entry of the {source} must be {_KIND_NAMES[kind]}. Got {value!r} instead."
    )
    if kind is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind is str:
        if not isinstance(value, str):
            raise wrong
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise wrong from None
    if isinstance(value, bool) or (kind is int and not number.is_integer()):
        raise wrong
    return kind(number)


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
