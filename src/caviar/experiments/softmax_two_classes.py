"""softmax-two-classes: "if C = 2, softmax reduces to logistic regression".

Softmax regression with C = 2 (a :class:`caviar.Network` ``[2, 2]``: no hidden layer, float64)
is trained with Adam by :func:`caviar.fit` on two seeded, overlapping Gaussian clouds in the
plane (300 points each, 30 % held out). Its two rows of weights ``w₀, w₁`` and biases
``b₀, b₁`` give

    p(y = 1 | x) = e^{z₁} / (e^{z₀} + e^{z₁}) = 1 / (1 + e^{−(z₁ − z₀)})
                 = σ(x · (w₁ − w₀) + (b₁ − b₀))

so the logistic regression with ``w = w₁ − w₀`` and ``b = b₁ − b₀`` is the same model. Both
are evaluated on the held-out points and on a grid over the plane.

Verdict rule: holds when the two give the same probabilities to float64 rounding (at most
1e-12 apart on every point) and the same decision boundary (the same predicted class on
every held-out and grid point, the boundary being the line ``x · w + b = 0``).
"""

from __future__ import annotations

import numpy as np

import caviar

CLAIM = "with C = 2, softmax regression is logistic regression on w = w1 - w0, b = b1 - b0"
PER_CLASS, GRID, TOLERANCE = 300, 60, 1e-12


def clouds(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X (600, 2)``, ``y``: two Gaussian clouds whose means are 2.2 apart, shuffled."""
    rng = np.random.default_rng([seed, 2])
    X = np.concatenate([rng.normal((-1.1, 0.3), 1.0, (PER_CLASS, 2)),
                        rng.normal((1.1, -0.3), 1.0, (PER_CLASS, 2))])  # fmt: skip
    y = np.repeat([0, 1], PER_CLASS)
    order = rng.permutation(len(y))
    return X[order], y[order]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def run(seed: int = 0, quick: bool = False) -> dict:
    X, y = clouds(seed)
    n_test = int(0.3 * len(y))
    Xte, yte, Xtr, ytr = X[:n_test], y[:n_test], X[n_test:], y[n_test:]
    net = caviar.Network([2, 2], K=1, seeds=seed, dtype="float64", backend="numpy")
    opt = caviar.Adam(net.params, backend="numpy")
    epochs = 20 if quick else 100
    caviar.fit(net, opt, Xtr, ytr, epochs=epochs, schedule=0.05, batch_size=32, seed=seed)
    params = net.get_params()
    W, b = params["dense1.W"][0], params["dense1.b"][0, 0]  # (2, C = 2), (2,)
    w, c = W[:, 1] - W[:, 0], b[1] - b[0]
    lim = np.abs(X).max() * 1.05
    axis = np.linspace(-lim, lim, GRID)
    grid = np.stack([g.ravel() for g in np.meshgrid(axis, axis)], axis=1)
    points = np.concatenate([Xte, grid])
    p_softmax = net.predict_proba(points)[0, :, 1]
    p_logistic = _sigmoid(points @ w + c)
    return {
        "epochs": epochs,
        "X_test": Xte,
        "y_test": yte,
        "w": w,
        "b": c,
        "p_softmax_test": p_softmax[:n_test],
        "p_logistic_test": p_logistic[:n_test],
        "test_accuracy": float(np.mean((p_softmax[:n_test] > 0.5) == yte)),
        "max_probability_difference": float(np.abs(p_softmax - p_logistic).max()),
        "points_compared": len(points),
        "same_predictions": bool(np.all((p_softmax > 0.5) == (p_logistic > 0.5))),
    }


def judge(numbers: dict) -> tuple[bool, str]:
    diff = numbers["max_probability_difference"]
    same = numbers["same_predictions"]
    figure = (
        f"max |p_softmax − σ(x·(w1−w0) + b1−b0)| = {diff:.1e} over "
        f"{numbers['points_compared']} points; decision boundary "
        f"{'the same' if same else 'different'} on every point; test accuracy "
        f"{numbers['test_accuracy']:.3f}"
    )
    return diff <= TOLERANCE and same, figure


def plot(numbers: dict, path) -> None:
    from caviar.experiments.plotting import figure, save

    fig, (ax, bx) = figure(2)
    X, y = np.asarray(numbers["X_test"]), np.asarray(numbers["y_test"])
    lo, hi = X.min(axis=0) - 0.3, X.max(axis=0) + 0.3
    (w1, w2), b = numbers["w"], numbers["b"]
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    shade = ax.contourf(g1, g2, _sigmoid(w1 * g1 + w2 * g2 + b), levels=10, cmap="RdBu_r",
                        alpha=0.35)  # fmt: skip
    fig.colorbar(shade, ax=ax, label="σ(x·w + b)")
    for k, color in ((0, "tab:blue"), (1, "tab:red")):
        ax.scatter(*X[y == k].T, s=8, color=color, label=f"class {k} (held out)")
    ax.contour(g1, g2, w1 * g1 + w2 * g2 + b, levels=[0], colors="k")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="x1", ylabel="x2",
           title="boundary x·(w1 − w0) + (b1 − b0) = 0")  # fmt: skip
    ax.legend(fontsize=7, loc="lower left")
    bx.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    bx.scatter(numbers["p_logistic_test"], numbers["p_softmax_test"], s=8, color="tab:purple")
    bx.set(
        xlabel="logistic regression σ(x·w + b)",
        ylabel="softmax p(y = 1)",
        title=f"the same probabilities (max |Δ| {numbers['max_probability_difference']:.0e})",
    )
    save(fig, path)
