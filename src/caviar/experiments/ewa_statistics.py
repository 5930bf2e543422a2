"""ewa-statistics: at test time batch norm uses μ and σ² "estimated using an exponentially
weighted average across mini-batches" (the notes), in place of the statistics of the whole
training set through the trained network. Are they the same?

One population on the bundled digits, ``64 → 64 → 64 → 10`` with batch norm (ReLU, Adam α =
0.001, batch 64, float64), one member per batch-norm momentum (0.5, 0.9, 0.99; ``--quick``:
0.9, 0.99), the same initial weights and mini-batches. After training, the whole training
set is passed through each member in inference mode and, at every batch-norm layer, the
mean and variance of that layer's input over all the rows are compared with the running
ones: ``mean_j |μ_ewa − μ_full| / σ_full`` and ``mean_j |σ²_ewa / σ²_full − 1|``. Then the
validation accuracy is measured twice, with the running statistics and with the full-data
ones (each layer's computed through the layers before it, already switched).

Verdict rule: holds when, for every momentum that averages over at least 10 mini-batches
(``1 / (1 − momentum) >= 10``: 0.9 and 0.99, the notes' "across mini-batches"), the means
agree within 0.1 σ and the variances within 10 % at every layer, and for every momentum
(0.5 included: an average over about two mini-batches, shown for contrast) the two
validation accuracies are within 0.01.
"""

from __future__ import annotations

import numpy as np

import caviar
from caviar.experiments._digits import digits
from caviar.nn import BatchNorm

CLAIM = "the running averages give the test-time statistics of the whole training set"
MEAN_TOL, VAR_TOL, ACC_TOL = 0.1, 0.1, 0.01


def _full_statistics(net, X) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per batch-norm layer, the mean and (biased) variance ``(K, 1, n)`` of its input over
    every row of ``X``, in inference mode with the running statistics as they are."""
    a, stats = net.prepare(X), []
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            stats.append((a.mean(axis=1, keepdims=True), a.var(axis=1, keepdims=True)))
        a = layer.forward(a, False)
    return stats


def _switched_accuracy(net, Xtr, Xv, yv) -> np.ndarray:
    """Validation accuracy ``(K,)`` with every batch-norm layer's running statistics set to
    its input's full-training-set statistics, layer by layer; restored afterwards."""
    saved = {k: v.copy() for k, v in net.buffers().items()}
    a = net.prepare(Xtr)
    for layer in net.layers:
        if isinstance(layer, BatchNorm):
            layer.running_mean[...] = a.mean(axis=1, keepdims=True)
            layer.running_var[...] = a.var(axis=1, keepdims=True)
        a = layer.forward(a, False)
    accuracy = caviar.evaluate(net, Xv, yv)[1]
    for k, v in net.buffers().items():
        v[...] = saved[k]
    return accuracy


def run(seed: int = 0, quick: bool = False) -> dict:
    momenta, epochs = ((0.9, 0.99), 4) if quick else ((0.5, 0.9, 0.99), 15)
    Xtr, ytr, Xv, yv = digits(seed)
    K = len(momenta)
    net = caviar.Network(
        [Xtr.shape[1], 64, 64, 10],
        K=K,
        seeds=np.full(K, seed),
        bn_momentum=np.asarray(momenta),
        dtype="float64",
        backend="numpy",
    )
    opt = caviar.Adam(net.params, backend="numpy")
    caviar.fit(net, opt, Xtr, ytr, epochs=epochs, schedule=0.001, batch_size=64, seed=seed)
    layers = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    mean_gap, var_gap = [], []
    for bn, (mu, var) in zip(layers, _full_statistics(net, Xtr), strict=True):
        sigma = np.sqrt(var)
        mean_gap.append((np.abs(bn.running_mean - mu) / sigma).mean(axis=(1, 2)))
        var_gap.append(np.abs(bn.running_var / var - 1).mean(axis=(1, 2)))
    return {
        "momenta": momenta,
        "epochs": epochs,
        "steps": epochs * int(np.ceil(len(ytr) / 64)),
        "mean_gap": np.array(mean_gap).T,  # (K, layers), in units of σ_full
        "var_gap": np.array(var_gap).T,  # (K, layers), relative
        "accuracy_ewa": caviar.evaluate(net, Xv, yv)[1],
        "accuracy_full": _switched_accuracy(net, Xtr, Xv, yv),
    }


def judge(numbers: dict) -> tuple[bool, str]:
    ok, parts = True, []
    for i, m in enumerate(numbers["momenta"]):
        mg, vg = max(numbers["mean_gap"][i]), max(numbers["var_gap"][i])
        a, b = numbers["accuracy_ewa"][i], numbers["accuracy_full"][i]
        averages = 1 / (1 - m) >= 10 - 1e-9  # over at least ten mini-batches
        ok &= (not averages or (mg <= MEAN_TOL and vg <= VAR_TOL)) and abs(a - b) <= ACC_TOL
        parts.append(
            f"momentum {m}: means within {mg:.3f} σ, variances within {vg:.1%}, validation "
            f"accuracy {a:.3f} (running) / {b:.3f} (whole training set)"
        )
    steps = numbers["steps"]
    return ok, f"after {numbers['epochs']} epochs ({steps} steps): " + "; ".join(parts)


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    m = [str(v) for v in numbers["momenta"]]
    x = np.arange(len(m))
    for layer in range(len(numbers["mean_gap"][0])):
        ax.bar(x + 0.35 * layer, [g[layer] for g in numbers["mean_gap"]], 0.35,
               label=f"batch norm {layer + 1}")  # fmt: skip
        bx.bar(x + 0.35 * layer, [g[layer] for g in numbers["var_gap"]], 0.35,
               label=f"batch norm {layer + 1}")  # fmt: skip
    ax.axhline(MEAN_TOL, color="0.5", ls=":")
    bx.axhline(VAR_TOL, color="0.5", ls=":")
    ax.set(xticks=x + 0.175, xticklabels=m, xlabel="batch-norm momentum",
           ylabel="mean |μ_ewa − μ_full| / σ_full", title="running vs whole-set means")  # fmt: skip
    bx.set(xticks=x + 0.175, xticklabels=m, xlabel="batch-norm momentum",
           ylabel="mean |σ²_ewa / σ²_full − 1|", title="running vs whole-set var.")  # fmt: skip
    ax.legend(fontsize=7)
    save(fig, path)
