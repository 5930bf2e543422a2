"""bias-correction: Adam as the notes write it (V̂ = V / (1 − β₁ᵗ), Ŝ = S / (1 − β₂ᵗ)) against
Adam without the two corrections (W −= α V / (√S + ε)), over the first steps and later.

Both moments start at 0, so early on ``V ≈ (1 − β₁ᵗ) · E[dW]`` and ``S ≈ (1 − β₂ᵗ) · E[dW²]``.
The step without correction is therefore the corrected step times

    f_t = (1 − β₁ᵗ) / √(1 − β₂ᵗ)

(the corrected step times √(1 − β₂ᵗ)/(1 − β₁ᵗ) is the uncorrected one's inverse): smaller
than the corrected step while β₂ is small (β₂ = 0.9: f₁ = 0.32), equal at β₂ = 1 − (1 − β₁)²
(β₂ = 0.99 for β₁ = 0.9), larger for the usual β₂ = 0.999 (f₁ = 3.2). Both tend to 1 as t
grows, so the two optimizers should end up in the same place.

Two populations on the bundled digits, ``64 → 32 → 32 → 10`` with batch norm, one member per
β₂ (0.9, 0.99, 0.999; ``--quick``: 0.9, 0.999), the same initial weights and mini-batches,
α = 0.001, β₁ = 0.9, batch 64: one with Adam, one without its corrections. Recorded: the
mean size of the first layer's update per step relative to α (steps 1 to 30), the training
loss over the first epoch, and the validation accuracy after every epoch.

Verdict rule: holds when, for every β₂, the measured ratio of the update sizes
(uncorrected / corrected) over steps 1 to 3 is within 10 % of f_t, and the final validation
accuracies are within 0.02 of each other (they meet later).
"""

from __future__ import annotations

import numpy as np

import caviar
from caviar.experiments._digits import digits

CLAIM = "without bias correction Adam's early steps are (1 - b1^t)/sqrt(1 - b2^t) of the notes'"
BETA1, LR, STEPS, EARLY = 0.9, 0.001, 30, 3


class UncorrectedAdam(caviar.Adam):
    """Adam without the bias corrections: ``W −= α V / (√S + ε)``."""

    def _coefficients(self, alpha):
        c = super()._coefficients(alpha)
        c["step"] = np.asarray(alpha, dtype=self.dtype)
        c["inv_bc2"] = np.ones(self.K, dtype=self.dtype)
        return c


def _train(optimizer, beta2s, epochs: int, seed: int) -> dict:
    Xtr, ytr, Xv, yv = digits(seed)
    K = len(beta2s)
    net = caviar.Network([Xtr.shape[1], 32, 32, 10], K=K, seeds=np.full(K, seed),
                         dtype="float64", backend="numpy")  # fmt: skip
    opt = optimizer(net.params, beta1=BETA1, beta2=np.asarray(beta2s), backend="numpy")
    W = net.params[net.param_names.index("dense1.W")]  # the first layer's weights, in place
    sizes = []
    update = opt.update  # what fit's training step calls, with the schedule's α

    def measured(grads, alpha, active=None):
        before = W.copy()
        update(grads, alpha, active)
        if len(sizes) < STEPS:
            sizes.append(np.abs(W - before).mean(axis=(1, 2)) / LR)

    opt.update = measured
    h = caviar.fit(net, opt, Xtr, ytr, epochs=epochs, schedule=LR, batch_size=64, seed=seed,
                   validation=(Xv, yv))  # fmt: skip
    losses = np.array(h.loss)  # (epochs, K): the mean training loss of each epoch
    return {
        "update_size": np.array(sizes).T,  # (K, STEPS)
        "first_epoch_loss": losses[0],
        "val_accuracy": np.array(h.val_accuracy).T,
    }


def run(seed: int = 0, quick: bool = False) -> dict:
    beta2s, epochs = ((0.9, 0.999), 15) if quick else ((0.9, 0.99, 0.999), 40)
    corrected = _train(caviar.Adam, beta2s, epochs, seed)
    uncorrected = _train(UncorrectedAdam, beta2s, epochs, seed)
    t = np.arange(1, STEPS + 1)
    predicted = np.array([(1 - BETA1**t) / np.sqrt(1 - b2**t) for b2 in beta2s])
    return {
        "beta1": BETA1,
        "beta2": beta2s,
        "epochs": epochs,
        "predicted_ratio": predicted,
        "measured_ratio": uncorrected["update_size"] / corrected["update_size"],
        "corrected": corrected,
        "uncorrected": uncorrected,
    }


def judge(numbers: dict) -> tuple[bool, str]:
    ok, parts = True, []
    for i, b2 in enumerate(numbers["beta2"]):
        pred = np.asarray(numbers["predicted_ratio"][i], dtype=float)
        meas = np.asarray(numbers["measured_ratio"][i], dtype=float)
        early = float(np.max(np.abs(meas[:EARLY] / pred[:EARLY] - 1)))
        end = [numbers[k]["val_accuracy"][i][-1] for k in ("uncorrected", "corrected")]
        ok &= early <= 0.1 and abs(end[0] - end[1]) <= 0.02
        parts.append(
            f"β2 = {b2}: uncorrected/corrected step {meas[0]:.2f} at t = 1 (predicted "
            f"{pred[0]:.2f}), final validation accuracy {end[0]:.3f} / {end[1]:.3f}"
        )
    return ok, "; ".join(parts)


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    t = np.arange(1, STEPS + 1)
    colors = ("tab:blue", "tab:orange", "tab:green")
    for i, b2 in enumerate(numbers["beta2"]):
        ax.plot(t, numbers["measured_ratio"][i], "o", ms=3, color=colors[i], label=f"β2 = {b2}")
        ax.plot(t, numbers["predicted_ratio"][i], "-", color=colors[i], lw=0.8)
        for key, style in (("corrected", "-"), ("uncorrected", "--")):
            acc = numbers[key]["val_accuracy"][i]
            bx.plot(np.arange(1, len(acc) + 1), acc, style, color=colors[i],
                    label=f"{key}, β2 = {b2}")  # fmt: skip
    ax.set(xlabel="step t", ylabel="update size: uncorrected / corrected", yscale="log",
           title="points measured, lines (1 − β1ᵗ)/√(1 − β2ᵗ)")  # fmt: skip
    ax.legend(fontsize=7)
    bx.set(xlabel="epoch", ylabel="validation accuracy", title="they meet later")
    bx.legend(fontsize=6)
    save(fig, path)
