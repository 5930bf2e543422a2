"""bn-placement: the notes draw batch norm between ``z`` and the activation, then ask "before
or after passing through the activation function?". Answered here by training both.

The same networks, seeds and data with batch norm before the activation
(``bn_position="before"``: Dense → BatchNorm → ReLU) and after it (``"after"``: Dense (bias)
→ ReLU → BatchNorm): ``64 → d × 32 → 10`` on the bundled digits for depths d = 2, 4, 6
(``--quick``: 2, 4), K = 4 seeds each (``--quick``: 2), Adam (α = 0.003, batch 64), the same
initial weights and mini-batches for both placements. Recorded per placement, depth and
seed: the epochs to 0.95 validation accuracy and the final validation accuracy; the line
printed gives the final accuracy per depth and the median epochs to 0.95 per placement.

Verdict rule: the difference is the mean over depths of (after − before) in final validation
accuracy, the seed-to-seed spread the mean over depths and placements of the standard
deviation over seeds. Within the spread, the placements tie; otherwise the larger mean wins.
The claim (the notes' drawing) holds when "before" wins or ties.
"""

from __future__ import annotations

import numpy as np

import caviar
from caviar.experiments._digits import digits

CLAIM = "batch norm before the activation, as the notes draw it, trains at least as well as after"
WIDTH, TARGET, LR = 32, 0.95, 0.003
POSITIONS = ("before", "after")


def _train(position: str, depth: int, K: int, epochs: int, seed: int) -> dict:
    Xtr, ytr, Xv, yv = digits(seed)
    net = caviar.Network(
        [Xtr.shape[1], *[WIDTH] * depth, 10],
        K=K,
        seeds=np.arange(K) + 100 * seed,
        bn_position=position,
        backend="numpy",
    )
    opt = caviar.Adam(net.params, backend="numpy")
    h = caviar.fit(
        net, opt, Xtr, ytr, epochs=epochs, schedule=LR, batch_size=64, seed=seed,
        validation=(Xv, yv),
    )  # fmt: skip
    acc = np.array(h.val_accuracy)  # (epochs, K)
    reached = acc >= TARGET
    to_target = np.where(reached.any(axis=0), reached.argmax(axis=0) + 1, np.inf)
    return {"val_accuracy": acc.T, "epochs_to_target": to_target, "final": acc[-1]}


def run(seed: int = 0, quick: bool = False) -> dict:
    depths, K, epochs = ((2, 4), 2, 6) if quick else ((2, 4, 6), 4, 20)
    runs = {p: {str(d): _train(p, d, K, epochs, seed) for d in depths} for p in POSITIONS}
    return {"depths": depths, "members": K, "epochs": epochs, "target": TARGET, "runs": runs}


def _summary(numbers: dict) -> tuple[float, float, dict]:
    runs = numbers["runs"]
    diffs, spreads, per_depth = [], [], {}
    for d in numbers["depths"]:
        b, a = (np.asarray(runs[p][str(d)]["final"], dtype=float) for p in POSITIONS)
        diffs.append(a.mean() - b.mean())
        spreads += [b.std(), a.std()]
        per_depth[d] = (b.mean(), a.mean())
    return float(np.mean(diffs)), float(np.mean(spreads)), per_depth


def _epochs_to_target(numbers: dict, position: str) -> float:
    """Median over depths and seeds of the epochs to the target (not reached: inf, which
    the JSON holds as null)."""
    runs = numbers["runs"][position]
    epochs = [e for d in numbers["depths"] for e in runs[str(d)]["epochs_to_target"]]
    return float(np.median([np.inf if e is None else e for e in epochs]))


def judge(numbers: dict) -> tuple[bool, str]:
    diff, spread, per_depth = _summary(numbers)
    if abs(diff) <= spread:
        result = f"a tie: after − before = {diff:+.4f}, within the seed-to-seed spread {spread:.4f}"
    else:
        winner = "after" if diff > 0 else "before"
        result = f"{winner} won by {abs(diff):.4f} (seed-to-seed spread {spread:.4f})"
    depths = ", ".join(f"depth {d}: {b:.3f} / {a:.3f}" for d, (b, a) in per_depth.items())
    epochs = " / ".join(f"{_epochs_to_target(numbers, p):g}" for p in POSITIONS)
    figure = (
        f"final validation accuracy before / after: {depths}; median epochs to "
        f"{numbers['target']}: {epochs}; {result}"
    )
    return diff <= spread, figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    colors = {"before": "tab:blue", "after": "tab:orange"}
    for p in POSITIONS:
        finals = [np.asarray(numbers["runs"][p][str(d)]["final"]) for d in numbers["depths"]]
        for d, f in zip(numbers["depths"], finals, strict=True):
            ax.scatter(np.full(len(f), d) + (0.08 if p == "after" else -0.08), f,
                       color=colors[p], s=14)  # fmt: skip
        ax.plot(numbers["depths"], [f.mean() for f in finals], "o-", color=colors[p], label=p)
        deepest = numbers["runs"][p][str(numbers["depths"][-1])]["val_accuracy"]
        for k, acc in enumerate(deepest):
            bx.plot(np.arange(1, len(acc) + 1), acc, color=colors[p], lw=0.8,
                    label=p if k == 0 else None)  # fmt: skip
    ax.set(xlabel="hidden layers", ylabel="final validation accuracy",
           title="batch norm before or after ReLU")  # fmt: skip
    ax.legend(fontsize=8)
    bx.axhline(numbers["target"], color="0.5", ls=":")
    bx.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.5, 1),
           title=f"{numbers['depths'][-1]} hidden layers, each seed")  # fmt: skip
    bx.legend(fontsize=8)
    save(fig, path)
