"""plateau: where the derivative stays close to 0 (a saddle point, a plateau), gradient descent
is slow to leave; momentum, RMSprop and Adam change how many steps that takes.

Two surfaces in two weights, each minimised by K = 8 members at once (``W (8, 2)``, the
members' starts differing by a small seeded offset), with caviar's optimizers and the same
α = 0.05 for all four (β = 0.9 for momentum, β₂ = 0.999 for RMSprop, Adam's defaults):

- saddle ``f = w1² − w2²``: a minimum along w1, a maximum along w2; the start is
  ``(1, δ)`` with ``|δ| ≈ 1e-3``; the flat region is left when ``|w2| >= 1``;
- plateau ``f = −tanh(w1) + 0.05 · w2²``: flat for w1 << 0 (``∂f/∂w1 ≈ −4 e^{2 w1}``); the
  start is ``(−4 + δ, 1)``; the flat region is left when ``w1 >= −1``.

Steps to leave are the median over the members (a member that has not left after the
step budget counts as the budget). RMSprop as the notes write it has no bias correction:
its S starts at 0, so its first steps are about ``α / √(1 − β₂) ≈ 32 α`` long, which is
what carries it off both flat regions at once. Verdict rule: the claim that the flat region slows
learning, and that the adaptive methods get out of it faster, holds when on both surfaces
gradient descent needs at least twice the steps of RMSprop and of Adam.
"""

from __future__ import annotations

import numpy as np

import caviar

CLAIM = "near saddle points and on plateaus the gradient is close to 0 and learning is slow"
ALPHA, K = 0.05, 8
OPTIMIZERS = {
    "gradient descent": lambda p: caviar.GradientDescent(p, backend="numpy"),
    "momentum": lambda p: caviar.Momentum(p, beta=0.9, backend="numpy"),
    "RMSprop": lambda p: caviar.RMSprop(p, beta2=0.999, backend="numpy"),
    "Adam": lambda p: caviar.Adam(p, backend="numpy"),
}


def _saddle(W):
    return W[:, 0] ** 2 - W[:, 1] ** 2, np.stack([2 * W[:, 0], -2 * W[:, 1]], axis=1)


def _plateau(W):
    t = np.tanh(W[:, 0])
    return -t + 0.05 * W[:, 1] ** 2, np.stack([-(1 - t * t), 0.1 * W[:, 1]], axis=1)


SURFACES = {
    # name → (f and ∇f of W (K, 2), start of member k from its offset δ, left the flat region?)
    "saddle": (_saddle, lambda d: (1.0, d * 1e-3), lambda W: np.abs(W[:, 1]) >= 1),
    "plateau": (_plateau, lambda d: (-4.0 + 0.1 * d, 1.0), lambda W: W[:, 0] >= -1),
}


def _starts(surface: str, seed: int) -> np.ndarray:
    offsets = np.random.default_rng([seed, 0]).uniform(0.5, 1.5, K) * np.where(
        np.arange(K) % 2, 1, -1
    )
    return np.array([SURFACES[surface][1](d) for d in offsets], dtype=np.float64)


def _descend(surface: str, make, seed: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Steps each member needed to leave (budget when it did not) and member 0's path."""
    f_grad, _, left = SURFACES[surface]
    W = _starts(surface, seed)
    opt = make([W])
    steps = np.full(K, budget)
    path = [W[0].copy()]
    lr = np.full(K, ALPHA)
    for t in range(1, budget + 1):
        opt.step([f_grad(W)[1]], lr=lr)
        if len(path) < 400 and steps[0] == budget:
            path.append(W[0].copy())
        newly = left(W) & (steps == budget)
        steps[newly] = t
        if (steps < budget).all():
            break
    return steps, np.array(path)


def run(seed: int = 0, quick: bool = False) -> dict:
    budget = 1500 if quick else 20000
    result = {"alpha": ALPHA, "members": K, "budget": budget, "surfaces": {}}
    for surface in SURFACES:
        rows = {}
        for name, make in OPTIMIZERS.items():
            steps, path = _descend(surface, make, seed, budget)
            rows[name] = {
                "median_steps": float(np.median(steps)),
                "left": int((steps < budget).sum()),
                "steps": steps,
                "path": path,
            }
        result["surfaces"][surface] = rows
    return result


def judge(numbers: dict) -> tuple[bool, str]:
    holds, parts = True, []
    for surface, rows in numbers["surfaces"].items():
        med = {name: r["median_steps"] for name, r in rows.items()}
        gd = med["gradient descent"]
        holds &= gd >= 2 * med["RMSprop"] and gd >= 2 * med["Adam"]
        shown = ", ".join(f"{n} {_steps(v, numbers)}" for n, v in med.items())
        parts.append(f"{surface}: {shown}")
    return bool(holds), "median steps to leave the flat region; " + "; ".join(parts)


def _steps(v: float, numbers: dict) -> str:
    return f">= {numbers['budget']}" if v >= numbers["budget"] else f"{v:.0f}"


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, axes = figure(2)
    boxes = {"saddle": ((-1.2, 1.2), (-1.3, 1.3)), "plateau": ((-4.5, 1.5), (-1.3, 1.3))}
    for ax, (surface, rows) in zip(axes, numbers["surfaces"].items(), strict=True):
        (x0, x1), (y0, y1) = boxes[surface]
        a, b = np.linspace(x0, x1, 80), np.linspace(y0, y1, 80)
        A, B = np.meshgrid(a, b)
        F = SURFACES[surface][0](np.stack([A.ravel(), B.ravel()], axis=1))[0].reshape(A.shape)
        ax.contourf(a, b, F, levels=20, cmap="Greys", alpha=0.5)
        for name, r in rows.items():
            p = np.asarray(r["path"])
            ax.plot(p[:, 0], p[:, 1], lw=1.2, label=f"{name}: {_steps(r['median_steps'], numbers)}")
        ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="w1", ylabel="w2")
        ax.set_title(f"{surface} (α = {numbers['alpha']}): median steps to leave", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    save(fig, path)
