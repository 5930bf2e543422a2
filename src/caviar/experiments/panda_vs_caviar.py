"""panda-vs-caviar: with the same wall-clock budget, training many models at once (caviar)
explores more of the space than babysitting one model at a time (panda).

One list of configurations is drawn from the tuner's default space (Adam's α log-uniform in
[1e-4, 1], β1 and β2 through 1 − β on a log scale) by :func:`caviar.tuning.sample`; its first
rows do not depend on its length, so both strategies take the points in the same order.
Each point is a 64 → 64 → 64 → 10 batch-norm network on the bundled digits, trained for a
few epochs by :func:`caviar.fit` and scored by its final validation accuracy.

- panda trains one network (K = 1) after another;
- caviar trains the next P points as the members of one population (K = P).

Each strategy starts a new trial (or population) only while its budget has time left, so
each may overrun it by its last one; the seconds actually spent are recorded. A member of a
population computes what it would compute alone, so where caviar covers panda's points it
finds the same accuracies.

Verdict rule: holds when caviar trained more points than panda and its best validation
accuracy is at least panda's.
"""

from __future__ import annotations

import time

import numpy as np

from caviar.experiments._digits import adam_val_accuracy, digits
from caviar.tuning import notes_space, sample

CLAIM = "with enough compute, training many models in parallel beats babysitting one"
HIDDEN = (64, 64)


def _train(configs: list[dict], epochs: int, seed: int) -> np.ndarray:
    """Final validation accuracies ``(K,)`` of one population holding ``configs``."""
    lr, b1, b2 = (np.array([c[k] for c in configs]) for k in ("lr", "beta1", "beta2"))
    acc = adam_val_accuracy(lr, HIDDEN, epochs, seed, beta1=b1, beta2=b2)
    return np.nan_to_num(acc, nan=0.0)


def _spend(configs: list[dict], block: int, budget: float, epochs: int, seed: int) -> dict:
    """Train ``configs`` ``block`` at a time while ``budget`` seconds are left."""
    start, done, acc, timeline = time.perf_counter(), 0, [], []
    while time.perf_counter() - start < budget and done + block <= len(configs):
        acc.extend(_train(configs[done : done + block], epochs, seed))
        done += block
        timeline.append((time.perf_counter() - start, done, max(acc)))
    return {
        "points": done,
        "seconds": time.perf_counter() - start,
        "best_val_accuracy": float(max(acc)),
        "best_config": configs[int(np.argmax(acc))],
        "val_accuracy": acc,
        "timeline": timeline,
    }


def run(seed: int = 0, quick: bool = False) -> dict:
    budget, population, epochs = (1.0, 32, 3) if quick else (12.0, 64, 5)
    configs = sample(notes_space(), 8192, method="random", seed=seed)
    digits(seed)  # load the data before either clock starts
    return {
        "budget_seconds": budget,
        "population": population,
        "epochs": epochs,
        "hidden": HIDDEN,
        "panda": _spend(configs, 1, budget, epochs, seed),
        "caviar": _spend(configs, population, budget, epochs, seed),
    }


def judge(numbers: dict) -> tuple[bool, str]:
    p, c = numbers["panda"], numbers["caviar"]
    holds = c["points"] > p["points"] and c["best_val_accuracy"] >= p["best_val_accuracy"]
    figure = (
        f"{numbers['budget_seconds']:g} s each: points trained: panda {p['points']} "
        f"({p['seconds']:.1f} s), caviar {c['points']} ({c['seconds']:.1f} s); best validation "
        f"accuracy: panda {p['best_val_accuracy']:.4f}, caviar {c['best_val_accuracy']:.4f}"
    )
    return holds, figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    for name in ("panda", "caviar"):
        r = numbers[name]
        t = np.asarray(r["timeline"])
        ax.step(t[:, 0], t[:, 1], where="post", label=f"{name}: {r['points']} points")
        bx.step(t[:, 0], t[:, 2], where="post", label=f"{name}: best {r['best_val_accuracy']:.4f}")
    ax.set(
        xlabel="seconds",
        ylabel="points of the space trained",
        yscale="log",
        title=f"same budget ({numbers['budget_seconds']:g} s)",
    )
    bx.set(xlabel="seconds", ylabel="best validation accuracy so far", title="best found")
    ax.legend(fontsize=8)
    bx.legend(fontsize=8)
    save(fig, path)
