"""batchnorm: batch norm speeds up learning of a deep network, and limits how much the
distribution of a hidden layer's input moves while the earlier layers learn (the notes'
covariate-shift argument).

Two populations of K = 4 networks (seeds 0..3) on the bundled digits, 64 → 8 × 32 tanh → 10,
one without batch norm and one with it, trained by :func:`caviar.fit` with
:class:`caviar.Momentum` (α = 0.05, β = 0.9, batch 64) on the same mini-batches.

After every epoch the validation features are passed through the network layer by layer,
batch norm using the probe's own mini-batch statistics (as in training; the running
statistics are put back afterwards), and the input of every hidden dense layer l >= 2 is
summarised per unit by its mean μ and standard deviation σ over the probe. The drift of
layer l over one epoch is ``mean_j(|Δμ_j| + |Δσ_j|) / mean_j σ_j`` (the change relative to
the layer's spread); the drift over training is its sum over the epochs.

Verdict rule, on the medians over the four seeds: holds when the batch-norm networks reach
the target validation accuracy (0.9) in fewer epochs than the plain ones and the drift of
the last hidden layer's input is smaller with batch norm.
"""

from __future__ import annotations

import numpy as np

import caviar
from caviar.experiments._digits import digits
from caviar.nn import Dense

CLAIM = "batch norm speeds up learning and makes deeper layers' inputs more stable"
HIDDEN, WIDTH, K, TARGET = 8, 32, 4, 0.9


def _inputs(net, X) -> list[np.ndarray]:
    """The inputs ``(K, B, n)`` of dense layers 2..L on ``X``, batch norm in training mode
    on this batch; the running statistics are left as they were."""
    saved = {k: v.copy() for k, v in net.buffers().items()}
    a, seen = X, []
    for layer in net.layers:
        if isinstance(layer, Dense):
            seen.append(np.array(np.broadcast_to(a, (net.K, *a.shape[-2:]))))
        a = layer.forward(a, True)
    for k, v in net.buffers().items():
        v[...] = saved[k]
    return seen[1:]


def _summary(net, X) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(a.mean(axis=1), a.std(axis=1)) for a in _inputs(net, X)]


def _train(batchnorm: bool, epochs: int, seed: int) -> dict:
    Xtr, ytr, Xv, yv = digits(seed)
    sizes = [Xtr.shape[1], *[WIDTH] * HIDDEN, 10]
    seeds = np.arange(K) + 100 * seed
    net = caviar.Network(
        sizes, K=K, seeds=seeds, batchnorm=batchnorm, activation="tanh", backend="numpy"
    )
    opt = caviar.Momentum(net.params, beta=0.9, backend="numpy")
    snaps = [_summary(net, Xv)]
    history = caviar.fit(
        net,
        opt,
        Xtr,
        ytr,
        epochs=epochs,
        schedule=0.05,
        batch_size=64,
        seed=seed,
        validation=(Xv, yv),
        on_epoch=lambda e, h: snaps.append(_summary(net, Xv)),
    )
    drift = np.zeros((len(snaps[0]), K))  # (hidden layers 2..L, K)
    for before, after in zip(snaps[:-1], snaps[1:], strict=True):
        for l, ((m0, s0), (m1, s1)) in enumerate(zip(before, after, strict=True)):
            drift[l] += (np.abs(m1 - m0) + np.abs(s1 - s0)).mean(axis=1) / s0.mean(axis=1)
    acc = np.array(history.val_accuracy)  # (epochs, K)
    reached = acc >= TARGET
    to_target = np.where(reached.any(axis=0), reached.argmax(axis=0) + 1, np.inf)
    return {
        "val_accuracy": acc.T,
        "epochs_to_target": to_target,
        "median_epochs_to_target": float(np.median(to_target)),
        "drift_per_layer": np.median(drift, axis=1),
        "median_drift_last_hidden": float(np.median(drift[-1])),
    }


def run(seed: int = 0, quick: bool = False) -> dict:
    epochs = 6 if quick else 30
    return {
        "epochs": epochs,
        "target": TARGET,
        "hidden_layers": HIDDEN,
        "width": WIDTH,
        "members": K,
        "plain": _train(False, epochs, seed),
        "batchnorm": _train(True, epochs, seed),
    }


def judge(numbers: dict) -> tuple[bool, str]:
    p, b = numbers["plain"], numbers["batchnorm"]
    faster = _epochs(b) < _epochs(p)
    steadier = b["median_drift_last_hidden"] < p["median_drift_last_hidden"]
    figure = (
        f"epochs to {numbers['target']} validation accuracy: plain {_show(p, numbers)}, "
        f"batch norm {_show(b, numbers)}; drift of hidden layer {numbers['hidden_layers']}'s "
        f"input over training: plain {p['median_drift_last_hidden']:.2f}, "
        f"batch norm {b['median_drift_last_hidden']:.2f}"
    )
    return faster and steadier, figure


def _epochs(r: dict) -> float:
    v = r["median_epochs_to_target"]
    return np.inf if v is None else v  # JSON keeps an unreached target as None


def _show(r: dict, numbers: dict) -> str:
    v = _epochs(r)
    return f"not within {numbers['epochs']}" if not np.isfinite(v) else f"{v:g}"


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    for key, color in (("plain", "tab:red"), ("batchnorm", "tab:blue")):
        r = numbers[key]
        for k, acc in enumerate(r["val_accuracy"]):
            ax.plot(
                np.arange(1, len(acc) + 1),
                acc,
                color=color,
                lw=0.8,
                label=("batch norm" if key == "batchnorm" else "plain") if k == 0 else None,
            )
        layers = np.arange(2, len(r["drift_per_layer"]) + 2)
        bx.plot(layers, r["drift_per_layer"], "o-", color=color, label=key)
    ax.axhline(numbers["target"], color="0.5", ls=":")
    ax.set(
        xlabel="epoch",
        ylabel="validation accuracy",
        ylim=(0, 1),
        title=f"{numbers['hidden_layers']} × {numbers['width']} tanh on digits",
    )
    ax.legend(fontsize=8)
    bx.set(
        xlabel="dense layer whose input is measured",
        ylabel="drift over training (median)",
        title="how far each layer's input distribution moved",
    )
    bx.legend(fontsize=8)
    save(fig, path)
