"""The training configuration: every hyperparameter of one model, in real units, with its help.

One :class:`TrainConfig` describes one model. A population is a list of them that agree on
the *shape* fields (architecture, optimizer kind, schedule kind, batch size, epochs, data
seed, dtype): :func:`caviar.population.build` stacks the others into ``(K,)`` arrays.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from caviar import _validate as check
from caviar.errors import InvalidArgument

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def _f(default, help: str, member: bool = False):
    """A config field; ``member=True`` marks a value that may differ inside a population."""
    return field(default=default, metadata={"help": help, "member": member})


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one model. Defaults train digits to about 0.97 test accuracy."""

    hidden: tuple[int, ...] = _f((64, 64), "hidden layer sizes, e.g. 64,64")
    batchnorm: bool = _f(True, "batch norm before each hidden activation")
    activation: str = _f("relu", "relu, leaky_relu, tanh or sigmoid")
    init: str = _f("auto", "weight init: auto (He for ReLU, Xavier otherwise), he or xavier")
    optimizer: str = _f("adam", "gd, momentum, rmsprop, adam or adamw")
    lr: float = _f(1e-3, "learning rate α (α0 of the schedule)", True)
    beta1: float = _f(0.9, "β1 of Adam; β of momentum", True)
    beta2: float = _f(0.999, "β2 of Adam and RMSprop", True)
    eps: float = _f(1e-8, "ε of Adam and RMSprop (outside the square root)", True)
    weight_decay: float = _f(0.0, "decoupled weight decay λ (adam, adamw)", True)
    schedule: str = _f(
        "constant",
        "constant, inverse_time, exponential, inverse_sqrt, staircase, warmup_cosine or plateau",
    )
    decay_rate: float = _f(1.0, "inverse_time: α0 / (1 + decay_rate · epoch)", True)
    decay_base: float = _f(0.95, "exponential: decay_base^epoch · α0", True)
    decay_k: float = _f(1.0, "inverse_sqrt: k / √(k² + epoch) · α0", True)
    drop: float = _f(0.5, "staircase: factor per drop", True)
    epochs_per_drop: int = _f(10, "staircase: epochs between drops", True)
    warmup_steps: int = _f(0, "warmup_cosine: linear warm-up steps", True)
    alpha_min: float = _f(0.0, "warmup_cosine: final learning rate", True)
    plateau_factor: float = _f(0.1, "plateau: factor per reduction", True)
    plateau_patience: int = _f(5, "plateau: epochs without improvement before a reduction", True)
    batch_size: int = _f(64, "mini-batch size")
    epochs: int = _f(20, "passes over the training data")
    seed: int = _f(0, "seed of the initial weights and dropout masks", True)
    data_seed: int = _f(0, "seed of the train/validation/test split and mini-batch order")
    keep_prob: float = _f(1.0, "dropout keep probability (1 = no dropout)", True)
    l2: float = _f(0.0, "L2 regularisation λ: cost + λ/(2m) Σ‖W‖²", True)
    bn_momentum: float = _f(0.9, "batch norm running-average momentum", True)
    dtype: str = _f("float32", "float32 or float64")
    val_fraction: float = _f(0.1, "share of the data held out for validation")
    test_fraction: float = _f(0.2, "share of the data held out for the final test")
    early_stopping: int = _f(0, "patience in epochs on validation loss (0: off)")

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        # every field is a scalar but ``hidden``: no need for asdict's deep copy, which a
        # 32-trial tune spent 10 ms in
        d = {name: getattr(self, name) for name in _FIELD_NAMES}
        d["hidden"] = list(self.hidden)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict, source: str = "configuration") -> TrainConfig:
        """Build from a mapping, refusing unknown keys and wrong types with the key named."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise InvalidArgument(
                f"The {source} has unknown key(s) {unknown}; known keys: {sorted(known)}."
            )
        values = {k: _coerce(k, v, known[k].default, source) for k, v in d.items()}
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a TOML file whose top-level keys are the field names."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"{path}: no such configuration file.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"{path}: not valid TOML ({e}).") from None
        return cls.from_dict(data, source=f"configuration file {path}")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a ``.json`` file (an object of field names, as ``--json`` prints ``config``)
        or, for any other suffix, a TOML file (:meth:`from_toml`)."""
        path = Path(path)
        if path.suffix.lower() != ".json":
            return cls.from_toml(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"{path}: no such configuration file.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"{path}: not valid JSON ({e}).") from None
        if not isinstance(data, dict):
            raise InvalidArgument(f"{path}: a JSON configuration must be an object of keys.")
        return cls.from_dict(data, source=f"configuration file {path}")


_FIELD_NAMES = tuple(f.name for f in fields(TrainConfig))
SHAPE_FIELDS = tuple(f.name for f in fields(TrainConfig) if not f.metadata["member"])
MEMBER_FIELDS = tuple(f.name for f in fields(TrainConfig) if f.metadata["member"])


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
