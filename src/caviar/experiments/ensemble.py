"""ensemble: the notes' caviar strategy taken to its end: train many models at once, then
use them together instead of keeping one.

For each of three tune seeds (``--quick``: one), a caviar tune on the bundled digits (24
trials, ``--quick`` 12, of 64 → 32 → 32 → 10 batch-norm networks for 4 epochs, ``--quick``
3, the default space) keeps its 8 best models (``keep=8``); greedy ensemble selection with
replacement over them on the validation split (:mod:`caviar.tuning.committee`, up to 8
picks) makes the committee. Both the committee and the best single trial (the lowest
validation loss) are then scored on the test split, which chose nothing.

Verdict rule: holds when the ensemble's test accuracy, averaged over the seeds, is at least
the best single trial's, and its validation log loss is no higher for any seed (greedy
selection starts from the best trial, so it can only go down there).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

CLAIM = "many models trained at once are worth more together than the best of them alone"
SIZE = 8


def run(seed: int = 0, quick: bool = False) -> dict:
    import caviar
    from caviar.tuning.committee import committee
    from caviar.tuning.study import Study

    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    trials, epochs = (12, 3) if quick else (24, 4)
    runs = []
    with tempfile.TemporaryDirectory(prefix="caviar-ensemble-") as folder:
        for s in seeds:
            path = Path(folder) / f"s{s}.db"
            caviar.tune("digits", trials=trials, epochs=epochs, hidden=(32, 32), seed=s,
                        study=path, keep=SIZE, executor="local", verbose=False)  # fmt: skip
            with Study(path, readonly=True) as study:
                made = committee(study, SIZE)
            runs.append({
                "seed": s,
                "weights": made.ensemble.weights.tolist(),
                "trials": made.ensemble.trials,
                **{f"{part}_{who}_{k}": made.scores[part][who][k]
                   for part in ("val", "test") for who in ("ensemble", "best")
                   for k in ("loss", "accuracy")},
            })  # fmt: skip
    return {"trials": trials, "epochs": epochs, "size": SIZE, "runs": runs}


def judge(numbers: dict) -> tuple[bool, str]:
    runs = numbers["runs"]
    best = np.mean([r["test_best_accuracy"] for r in runs])
    ens = np.mean([r["test_ensemble_accuracy"] for r in runs])
    lower = all(r["val_ensemble_loss"] <= r["val_best_loss"] + 1e-12 for r in runs)
    cells = ", ".join(
        f"seed {r['seed']}: {r['test_best_accuracy']:.4f} / {r['test_ensemble_accuracy']:.4f} "
        f"({len(r['weights'])} members)"
        for r in runs
    )
    figure = (
        f"test accuracy, best single trial / ensemble of up to {numbers['size']} picks: "
        f"{cells}; mean {best:.4f} / {ens:.4f} ({ens - best:+.4f}); validation log loss "
        f"{'never higher' if lower else 'higher somewhere'}"
    )
    return bool(ens >= best and lower), figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    runs = numbers["runs"]
    x = np.arange(len(runs))
    ax.bar(x - 0.2, [r["test_best_accuracy"] for r in runs], 0.4, label="best single trial")
    ax.bar(x + 0.2, [r["test_ensemble_accuracy"] for r in runs], 0.4, label="ensemble")
    low = min(min(r["test_best_accuracy"], r["test_ensemble_accuracy"]) for r in runs)
    ax.set(xticks=x, xticklabels=[f"seed {r['seed']}" for r in runs], ylim=(low - 0.02, 1),
           ylabel="test accuracy", title="the test split chose nothing")  # fmt: skip
    ax.legend(fontsize=8)
    for i, r in enumerate(runs):
        bottom = 0.0
        for t, w in zip(r["trials"], r["weights"], strict=True):
            bx.bar(i, w, bottom=bottom, color="0.75", edgecolor="k")
            bx.text(i, bottom + w / 2, f"trial {t}", ha="center", va="center", fontsize=7)
            bottom += w
    bx.set(xticks=x, xticklabels=[f"seed {r['seed']}" for r in runs], ylabel="weight",
           title="members and their weights")  # fmt: skip
    save(fig, path)
