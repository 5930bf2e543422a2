"""decay: mini-batch descent with a fixed α keeps wandering; with α0 / (1 + decay_rate · epoch)
or 0.95^epoch · α0 it oscillates in a tighter region around the optimum.

The surface is a least-squares quadratic in two weights, ``J(w) = (1/2n) Σ (x_iᵀ w − y_i)²``
with ``X (n, 2)`` of unequal column scales (elliptic contours) and noisy targets; its optimum
``w*`` is the least-squares solution. Three members ``W (3, 2)`` start at the same point and
take :class:`caviar.GradientDescent` steps on the same mini-batches of 4 rows, with α from
caviar's ``constant``, ``inverse_time`` (decay_rate 1) and ``exponential`` (0.95) schedules.
Each step's gradient of member k is ``(1/B) X_bᵀ (X_b w_k − y_b)``.

Verdict rule: the distance ``‖w_t − w*‖`` is averaged over every step of the last epochs
(the last quarter, at least one); the claim holds when both decayed schedules' averages are
below half of the fixed-α average.
"""

from __future__ import annotations

import numpy as np

import caviar

CLAIM = "a decaying α oscillates in a tighter region around the optimum than a fixed α"
SCHEDULES = (
    ("fixed α", "constant", {}),
    ("α0/(1 + 1·epoch)", "inverse_time", {"decay_rate": 1.0}),
    ("0.95^epoch·α0", "exponential", {"base": 0.95}),
)
ALPHA0, BATCH = 0.1, 4
START = np.array([-2.5, 4.5])


def _problem(seed: int, N: int):
    rng = np.random.default_rng([seed, 0])
    X = rng.normal(size=(N, 2)) * np.array([1.0, 0.35])
    y = X @ np.array([1.0, 1.5]) + rng.normal(scale=0.8, size=N)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    return X, y, w_star


def run(seed: int = 0, quick: bool = False) -> dict:
    epochs, N = (40 if quick else 60), 512
    X, y, w_star = _problem(seed, N)
    W = np.tile(START, (len(SCHEDULES), 1))  # (K, 2)
    schedules = [caviar.make_schedule(kind, ALPHA0, **kw) for _, kind, kw in SCHEDULES]
    opt = caviar.GradientDescent([W], backend="numpy")
    path, step = [W.copy()], 0
    for epoch in range(epochs):
        order = np.random.default_rng([seed, 1, epoch]).permutation(N)
        for s in range(0, N, BATCH):
            xb, yb = X[order[s : s + BATCH]], y[order[s : s + BATCH]]
            grad = (xb @ W.T - yb[:, None]).T @ xb / len(yb)  # (K, 2)
            lr = np.concatenate([sch.alpha(epoch, step) for sch in schedules])
            opt.step([grad], lr=lr)
            path.append(W.copy())
            step += 1
    path = np.stack(path)  # (steps + 1, K, 2)
    per_epoch = N // BATCH
    last = max(1, epochs // 4)
    dist = np.linalg.norm(path - w_star, axis=2)
    thin = max(1, len(path) // 600)
    return {
        "alpha0": ALPHA0,
        "batch_size": BATCH,
        "epochs": epochs,
        "last_epochs": last,
        "schedules": [label for label, _, _ in SCHEDULES],
        "w_star": w_star,
        "mean_distance_last": dist[-last * per_epoch :].mean(axis=0),
        "distance_per_epoch": dist[per_epoch::per_epoch].T,
        "path": path[::thin].transpose(1, 0, 2),
        "hessian": X.T @ X / N,
    }


def judge(numbers: dict) -> tuple[bool, str]:
    fixed, inv, exp = numbers["mean_distance_last"]
    holds = inv < 0.5 * fixed and exp < 0.5 * fixed
    labels = numbers["schedules"]
    parts = ", ".join(f"{lab} {d:.3f}" for lab, d in zip(labels, (fixed, inv, exp), strict=True))
    last = numbers["last_epochs"]
    return holds, f"mean distance to the optimum over the last {last} epochs: {parts}"


def _contours(ax, numbers: dict, centre, radius: float) -> None:
    """Contours of ``J(w) − J(w*) = ½ (w − w*)ᵀ H (w − w*)`` (the surface is quadratic)."""
    H, w_star = np.asarray(numbers["hessian"]), np.asarray(numbers["w_star"])
    a = np.linspace(centre[0] - radius, centre[0] + radius, 80)
    b = np.linspace(centre[1] - radius, centre[1] + radius, 80)
    D = np.stack(np.meshgrid(a, b), axis=-1) - w_star
    J = 0.5 * np.einsum("...i,ij,...j->...", D, H, D)
    ax.contour(a, b, np.log(J + 1e-6), levels=15, colors="0.8", linewidths=0.6)
    ax.plot(*w_star, "k*", ms=10, label="optimum", zorder=5)


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx, cx) = figure(3, width=3.6)
    paths = [np.asarray(p) for p in numbers["path"]]
    w_star = np.asarray(numbers["w_star"])
    _contours(ax, numbers, w_star, 1.2 * np.abs(paths[0][0] - w_star).max())
    for label, p in zip(numbers["schedules"], paths, strict=True):
        ax.plot(p[:, 0], p[:, 1], lw=0.7, label=label)
    ax.set(xlabel="w1", ylabel="w2", title="paths on the loss contours")
    ax.legend(fontsize=7)
    tail = len(paths[0]) * numbers["last_epochs"] // numbers["epochs"]
    radius = 2.5 * max(numbers["mean_distance_last"])
    _contours(bx, numbers, w_star, radius)
    for p in paths:
        bx.plot(p[-tail:, 0], p[-tail:, 1], lw=0.6, marker=".", ms=2)
    bx.set(xlabel="w1", title=f"last {numbers['last_epochs']} epochs, zoomed")
    bx.set_xlim(w_star[0] - radius, w_star[0] + radius)
    bx.set_ylim(w_star[1] - radius, w_star[1] + radius)
    for label, d in zip(numbers["schedules"], numbers["distance_per_epoch"], strict=True):
        cx.semilogy(np.arange(1, len(d) + 1), d, label=label)
    cx.set(xlabel="epoch", ylabel="‖w − w*‖ at the epoch's end", title="distance to the optimum")
    save(fig, path)
