"""random-vs-grid: with the same budget, random points try many more values of the
hyperparameter that matters than a grid does ("try random values, don't use a grid").

The space is Adam's α, log-uniform in [1e-4, 1] (it matters a great deal), and ε,
log-uniform in [1e-10, 1e-6] (it hardly matters). A budget of 16 trials is spent once on a
4 × 4 grid (:func:`caviar.tuning.grid_unit`) and R times on random points
(:func:`caviar.tuning.random_unit`, seeds ``seed·R .. seed·R + R − 1``), all decoded by the
tuner's transform. Every trial is a 64 → 32 → 10 batch-norm network on the bundled digits,
trained for a few epochs; all 16 · (R + 1) trials are members of one population (a member
computes what it would compute alone), and each is scored by its final validation accuracy.

How much each hyperparameter matters is measured on the grid: the range (max − min) of the
mean accuracy over the levels of α (averaging over ε), and the same over the levels of ε.

Verdict rule: holds when every random draw tries more distinct values of α than the grid
and the median over the draws of the random search's best accuracy is at least the grid's.
"""

from __future__ import annotations

import numpy as np

from caviar.experiments._digits import adam_val_accuracy
from caviar.tuning import SearchSpace, decode, grid_unit, random_unit

CLAIM = "with one hyperparameter mattering far more, random search beats a grid"
BUDGET = 16
SPACE = {
    "lr": {"dist": "log", "low": 1e-4, "high": 1.0},
    "eps": {"dist": "log", "low": 1e-10, "high": 1e-6},
}


def _score(configs: list[dict], epochs: int, seed: int) -> np.ndarray:
    """Final validation accuracy ``(n,)`` of one population holding every configuration."""
    lr, eps = (np.array([c[k] for c in configs]) for k in ("lr", "eps"))
    return adam_val_accuracy(lr, (32,), epochs, seed, eps=eps)


def run(seed: int = 0, quick: bool = False) -> dict:
    repeats, epochs = (2, 2) if quick else (8, 4)
    space = SearchSpace.from_dict(SPACE)
    grid = decode(space, grid_unit(BUDGET, space.d))
    draws = [
        decode(space, random_unit(BUDGET, space.d, seed * repeats + r)) for r in range(repeats)
    ]
    acc = _score(grid + [c for d in draws for c in d], epochs, seed)
    acc_grid, acc_random = acc[:BUDGET], acc[BUDGET:].reshape(repeats, BUDGET)
    levels = int(round(BUDGET**0.5))
    by_level = acc_grid.reshape(levels, levels)  # grid order: lr outer, eps inner
    return {
        "budget": BUDGET,
        "epochs": epochs,
        "repeats": repeats,
        "grid": {
            "lr": [c["lr"] for c in grid],
            "eps": [c["eps"] for c in grid],
            "val_accuracy": acc_grid,
            "distinct_lr": len({c["lr"] for c in grid}),
            "best": float(acc_grid.max()),
        },
        "random": {
            "lr": [[c["lr"] for c in d] for d in draws],
            "eps": [[c["eps"] for c in d] for d in draws],
            "val_accuracy": acc_random,
            "distinct_lr": [len({c["lr"] for c in d}) for d in draws],
            "best": acc_random.max(axis=1),
            "median_best": float(np.median(acc_random.max(axis=1))),
        },
        "accuracy_range_over_lr": float(np.ptp(by_level.mean(axis=1))),
        "accuracy_range_over_eps": float(np.ptp(by_level.mean(axis=0))),
    }


def judge(numbers: dict) -> tuple[bool, str]:
    g, r = numbers["grid"], numbers["random"]
    holds = min(r["distinct_lr"]) > g["distinct_lr"] and r["median_best"] >= g["best"]
    figure = (
        f"{numbers['budget']} trials: distinct α tried: grid {g['distinct_lr']}, random "
        f"{min(r['distinct_lr'])}; best validation accuracy: grid {g['best']:.4f}, random "
        f"{r['median_best']:.4f} (median of {numbers['repeats']} draws); accuracy range over α "
        f"{numbers['accuracy_range_over_lr']:.3f}, over ε {numbers['accuracy_range_over_eps']:.3f}"
    )
    return holds, figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    g, r = numbers["grid"], numbers["random"]
    ax.scatter(
        g["lr"], g["eps"], c=g["val_accuracy"], vmin=0, vmax=1, marker="s", s=60, label="grid"
    )
    sc = ax.scatter(
        r["lr"][0],
        r["eps"][0],
        c=r["val_accuracy"][0],
        vmin=0,
        vmax=1,
        marker="o",
        s=30,
        edgecolors="k",
        linewidths=0.4,
        label="random (first draw)",
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="α (matters)",
        ylabel="ε (hardly matters)",
        title=f"{numbers['budget']} trials each, colour = validation accuracy",
    )
    fig.colorbar(sc, ax=ax)
    ax.legend(fontsize=7, loc="lower left")
    bx.scatter(g["lr"], g["val_accuracy"], marker="s", s=40, label="grid")
    bx.scatter(
        np.ravel(r["lr"]),
        np.ravel(r["val_accuracy"]),
        s=10,
        alpha=0.6,
        label=f"random ({numbers['repeats']} draws)",
    )
    bx.set(
        xscale="log",
        xlabel="α",
        ylabel="validation accuracy",
        title="what each method learns about α",
    )
    bx.legend(fontsize=7)
    save(fig, path)
