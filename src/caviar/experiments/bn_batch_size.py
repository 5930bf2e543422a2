"""bn-batch-size: the notes' "#2: with a bigger mini-batch, you reduce the noise together with
the regularization effect ... don't use BN as a regularizer".

Batch norm normalises each example with its mini-batch's mean and variance, so an example's
normalised value depends on which other examples share its batch: noise, which regularises
a little. Measured here on the bundled digits with ``64 → 64 → 64 → 10`` batch-norm networks
without dropout or L2 (ReLU, Adam α = 0.003, float64), four seeds per batch size B in 16,
64, 256 and 1024 (``--quick``: two seeds, 16 and 256), each trained until it fits its training data
(inference-mode training accuracy >= 0.995) or for at most 200 epochs (``--quick``: 40):

- the noise: for 20 fixed training examples, the standard deviation of each one's
  normalised value in the first batch-norm layer across 30 random mini-batches of B that
  contain it, averaged over examples and units (in units of that layer's normalised scale);
- the regularisation: the generalisation gap, training accuracy − validation accuracy, of
  the fitted network. Less regularisation shows as a wider gap.

Verdict rule: holds when the noise shrinks at every step up in B and the gap at the largest
B is wider than at the smallest by more than the seed-to-seed spread of the gap (the
standard deviation over the seeds, averaged over the batch sizes): the regularisation shrank
with the noise. Both on the mean over the seeds.
"""

from __future__ import annotations

import numpy as np

import caviar
from caviar.experiments._digits import digits
from caviar.nn import BatchNorm

CLAIM = "a bigger mini-batch reduces batch norm's noise together with its regularisation"
FIT, PROBES, DRAWS, LR = 0.995, 20, 30, 0.003


def _noise(net, X, B: int, rng) -> float:
    """Mean over probe examples and units of the spread of the first batch norm's normalised
    value of an example across random mini-batches of B containing it."""
    bn = next(layer for layer in net.layers if isinstance(layer, BatchNorm))
    first = net.layers[: net.layers.index(bn)]  # the dense layer below it
    spreads = []
    for i in rng.choice(len(X), PROBES, replace=False):
        values = []
        for _ in range(DRAWS):
            others = rng.choice(np.delete(np.arange(len(X)), i), B - 1, replace=False)
            z = net.prepare(X[np.concatenate([[i], others])])
            for layer in first:
                z = layer.forward(z, True)
            # the normalised value of example i (row 0) in this mini-batch, as batch norm
            # computes it in training: (z − μ_B) / √(σ²_B + ε)
            mu, var = z.mean(axis=1), z.var(axis=1)
            values.append((z[:, 0] - mu) / np.sqrt(var + bn.eps))
        spreads.append(np.std(values, axis=0).mean(axis=-1))  # (K,)
    return np.mean(spreads, axis=0)


def _train(B: int, max_epochs: int, seed: int, K: int) -> dict:
    Xtr, ytr, Xv, yv = digits(seed)
    net = caviar.Network([Xtr.shape[1], 64, 64, 10], K=K, seeds=np.arange(K) + 100 * seed,
                         dtype="float64", backend="numpy")  # fmt: skip
    opt = caviar.Adam(net.params, backend="numpy")

    def fitted(epoch, history) -> bool:
        return bool(np.all(caviar.evaluate(net, Xtr, ytr)[1] >= FIT))

    h = caviar.fit(net, opt, Xtr, ytr, epochs=max_epochs, schedule=LR, batch_size=B,
                   seed=seed, on_epoch=fitted)  # fmt: skip
    train_acc = caviar.evaluate(net, Xtr, ytr)[1]
    val_acc = caviar.evaluate(net, Xv, yv)[1]
    noise = _noise(net, Xtr, min(B, len(ytr)), np.random.default_rng([seed, B]))
    return {"epochs": h.epochs, "train_accuracy": train_acc, "val_accuracy": val_acc,
            "gap": train_acc - val_acc, "noise": noise}  # fmt: skip


def run(seed: int = 0, quick: bool = False) -> dict:
    sizes, max_epochs, K = ((16, 256), 40, 2) if quick else ((16, 64, 256, 1024), 200, 4)
    runs = {str(B): _train(B, max_epochs, seed, K) for B in sizes}
    return {"batch_sizes": sizes, "max_epochs": max_epochs, "fit": FIT, "runs": runs}


def _means(numbers: dict, key: str) -> list[float]:
    return [float(np.mean(numbers["runs"][str(B)][key])) for B in numbers["batch_sizes"]]


def judge(numbers: dict) -> tuple[bool, str]:
    noise, gap = _means(numbers, "noise"), _means(numbers, "gap")
    spread = float(
        np.mean([np.std(numbers["runs"][str(B)]["gap"]) for B in numbers["batch_sizes"]])
    )
    quieter = all(b < a for a, b in zip(noise[:-1], noise[1:], strict=True))
    wider = gap[-1] - gap[0] > spread
    cells = ", ".join(
        f"B = {B}: noise {n:.3f}, gap {g:.3f}"
        for B, n, g in zip(numbers["batch_sizes"], noise, gap, strict=True)
    )
    return quieter and wider, (
        f"{cells}; the gap (train − validation accuracy, fitted to {FIT}) moved by "
        f"{gap[-1] - gap[0]:+.3f} against a seed-to-seed spread of {spread:.3f}"
    )


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    B = numbers["batch_sizes"]
    ax.plot(B, _means(numbers, "noise"), "o-", color="tab:purple")
    ax.set(xscale="log", xlabel="mini-batch size B", ylabel="spread of a normalised value",
           title="batch norm's noise")  # fmt: skip
    spread = [np.std(numbers["runs"][str(b)]["gap"]) for b in B]
    bx.errorbar(B, _means(numbers, "gap"), yerr=spread, fmt="o-", color="tab:red", capsize=3)
    bx.set(xscale="log", xlabel="mini-batch size B", ylabel="train − validation accuracy",
           title="gap ± seed-to-seed spread")  # fmt: skip
    save(fig, path)
