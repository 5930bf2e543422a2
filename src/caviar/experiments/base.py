"""The registry of experiments and what running one writes: ``NAME.json``, ``NAME.png``."""

from __future__ import annotations

import importlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from caviar.errors import InvalidArgument

# name → module under caviar.experiments (imported only when the experiment runs)
EXPERIMENTS = {
    "decay": "decay",
    "plateau": "plateau",
    "batchnorm": "batchnorm",
    "random-vs-grid": "random_vs_grid",
    "log-scale": "log_scale",
    "softmax": "softmax",
    "panda-vs-caviar": "panda_vs_caviar",
    "bn-placement": "bn_placement",
    "bn-batch-size": "bn_batch_size",
    "bias-correction": "bias_correction",
    "ewa-statistics": "ewa_statistics",
    "softmax-two-classes": "softmax_two_classes",
    "ensemble": "ensemble",
}


@dataclass(frozen=True)
class Outcome:
    """One run: ``holds`` and ``figure`` come from ``judge(numbers)``; ``seconds`` is the
    wall time of ``run`` (the experiment itself, without the plot)."""

    name: str
    numbers: dict
    holds: bool
    figure: str
    seconds: float
    json_path: Path
    png_path: Path

    @property
    def verdict(self) -> str:
        """``NAME: holds (figure)`` or ``NAME: does not hold here (figure)``."""
        return f"{self.name}: {'holds' if self.holds else 'does not hold here'} ({self.figure})"


def names() -> list[str]:
    return list(EXPERIMENTS)


def module(name: str) -> ModuleType:
    """The module of experiment ``name``; an InvalidArgument lists the names."""
    if name not in EXPERIMENTS:
        raise InvalidArgument(
            f"There is no experiment '{name}'; choose one of {', '.join(EXPERIMENTS)} "
            "(caviar experiment --list)."
        )
    return importlib.import_module(f"caviar.experiments.{EXPERIMENTS[name]}")


def claim(name: str) -> str:
    return module(name).CLAIM


def run_experiment(name: str, out, seed: int = 0, quick: bool = False) -> Outcome:
    """Run experiment ``name`` with ``seed``, write ``out/NAME.json`` and ``out/NAME.png``."""
    from caviar.experiments.plotting import require_matplotlib

    exp = module(name)
    require_matplotlib()  # before the work, not after it
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgument(f"The 'seed' parameter must be an integer >= 0. Got {seed!r}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    numbers = plain(exp.run(seed=seed, quick=quick))
    seconds = time.perf_counter() - start
    holds, figure = exp.judge(numbers)
    outcome = Outcome(
        name, numbers, bool(holds), figure, seconds, out / f"{name}.json", out / f"{name}.png"
    )
    record = {
        "experiment": name,
        "claim": exp.CLAIM,
        "seed": seed,
        "quick": quick,
        "seconds": round(seconds, 3),
        "holds": outcome.holds,
        "verdict": outcome.verdict,
        "numbers": numbers,
    }
    outcome.json_path.write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
    exp.plot(numbers, outcome.png_path)
    return outcome


def plain(value):
    """``value`` with NumPy scalars and arrays turned into Python numbers and lists, floats
    rounded to 6 significant digits, and non-finite floats as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return float(f"{v:.6g}") if math.isfinite(v) else None
    return value
