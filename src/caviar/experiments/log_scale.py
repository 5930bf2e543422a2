"""log-scale: sample α on a log scale in [1e-4, 1], not uniformly; sample β in [0.9, 0.999]
through 1 − β on a log scale (the notes' "appropriate scale for hyperparameters").

Draws come from :func:`caviar.tuning.random_unit` and are mapped by the tuner's transform
(:func:`caviar.tuning.from_unit`) through a ``uniform`` and a ``log`` dimension for α, and a
``uniform`` and a ``one_minus_log`` dimension for β. For each, the share of draws per decade
(of α; of 1 − β) is counted. Then the first T draws of each α scale are trained, as members
of one population, as 64 → 32 → 10 batch-norm networks with Adam on the bundled digits; the
best α of each scale is the one with the highest final validation accuracy.

Verdict rule: holds when (1) on the log scale every decade of α gets between 15 % and 35 %
of the draws while the uniform scale gives the top decade [0.1, 1] more than 85 %; (2) the
best validation accuracy found on the log scale is at least the uniform scale's; (3) with
1 − β on a log scale between 35 % and 65 % of the β draws fall in [0.99, 0.999] (averages
over more than 100 values), against under 15 % when β is uniform.
"""

from __future__ import annotations

import numpy as np

from caviar.experiments._digits import adam_val_accuracy
from caviar.tuning import Dimension, from_unit, random_unit

CLAIM = "α belongs on a log scale, and β on a log scale of 1 − β"
ALPHA = {"uniform": Dimension("lr", "uniform", 1e-4, 1.0), "log": Dimension("lr", "log", 1e-4, 1.0)}
BETA = {
    "uniform": Dimension("beta1", "uniform", 0.9, 0.999),
    "1 − β log": Dimension("beta1", "one_minus_log", 0.9, 0.999),
}
ALPHA_DECADES = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
ONE_MINUS_BETA_DECADES = [1e-3, 1e-2, 1e-1]


def _shares(values: np.ndarray, edges: list[float]) -> list[float]:
    counts = np.histogram(values, bins=edges)[0]
    return (counts / len(values)).tolist()


def _train(alphas: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    return adam_val_accuracy(alphas, (32,), epochs, seed)


def run(seed: int = 0, quick: bool = False) -> dict:
    n, trained, epochs = (400, 8, 2) if quick else (2000, 24, 4)
    u = random_unit(n, 2, seed)
    alpha = {k: from_unit(d, u[:, 0]) for k, d in ALPHA.items()}
    beta = {k: from_unit(d, u[:, 1]) for k, d in BETA.items()}
    acc = _train(np.concatenate([a[:trained] for a in alpha.values()]), epochs, seed)
    result = {"draws": n, "trained": trained, "epochs": epochs, "alpha": {}, "beta": {}}
    for i, (k, a) in enumerate(alpha.items()):
        a_acc = acc[i * trained : (i + 1) * trained]
        best = int(np.argmax(a_acc))
        result["alpha"][k] = {
            "share_per_decade": _shares(a, ALPHA_DECADES),
            "trained_alpha": a[:trained],
            "val_accuracy": a_acc,
            "best_alpha": float(a[best]),
            "best_val_accuracy": float(a_acc[best]),
            "sample": a[:300],
        }
    for k, b in beta.items():
        result["beta"][k] = {
            "share_per_decade_of_1_minus_beta": _shares(1 - b, ONE_MINUS_BETA_DECADES),
            "sample": b[:300],
        }
    result["alpha_decades"] = ALPHA_DECADES
    result["one_minus_beta_decades"] = ONE_MINUS_BETA_DECADES
    return result


def judge(numbers: dict) -> tuple[bool, str]:
    u, lg = numbers["alpha"]["uniform"], numbers["alpha"]["log"]
    bu, bl = (numbers["beta"][k]["share_per_decade_of_1_minus_beta"] for k in BETA)
    even = all(0.15 <= s <= 0.35 for s in lg["share_per_decade"])
    skewed = u["share_per_decade"][-1] > 0.85
    better = lg["best_val_accuracy"] >= u["best_val_accuracy"]
    beta_ok = 0.35 <= bl[0] <= 0.65 and bu[0] < 0.15

    def pct(shares):
        return "/".join(f"{100 * s:.0f}" for s in shares)

    figure = (
        f"α draws per decade 1e-4..1 (%): uniform {pct(u['share_per_decade'])}, "
        f"log {pct(lg['share_per_decade'])}; best α found: uniform {u['best_alpha']:.3g} "
        f"(val {u['best_val_accuracy']:.4f}), log {lg['best_alpha']:.3g} "
        f"(val {lg['best_val_accuracy']:.4f}); β in [0.99, 0.999]: uniform {100 * bu[0]:.0f} %, "
        f"1 − β log {100 * bl[0]:.0f} %"
    )
    return even and skewed and better and beta_ok, figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx, cx) = figure(3, width=3.6)
    x = np.arange(4)
    for i, (k, r) in enumerate(numbers["alpha"].items()):
        ax.bar(x + 0.4 * i - 0.2, r["share_per_decade"], width=0.4, label=k)
        bx.scatter(r["trained_alpha"], r["val_accuracy"], s=14, label=k)
    ax.set_xticks(x, ["1e-4", "1e-3", "1e-2", "1e-1"])
    ax.set(xlabel="decade of α (from)", ylabel="share of draws", title="α: draws per decade")
    ax.legend(fontsize=7)
    bx.set(
        xscale="log",
        xlabel="α",
        ylabel="validation accuracy",
        title=f"first {numbers['trained']} draws trained",
    )
    bx.legend(fontsize=7)
    for k, r in numbers["beta"].items():
        cx.hist(r["sample"], bins=30, range=(0.9, 0.999), alpha=0.6, label=k)
    cx.set(xlabel="β", ylabel="draws", title="β: uniform vs 1 − β on a log scale")
    cx.legend(fontsize=7)
    save(fig, path)
