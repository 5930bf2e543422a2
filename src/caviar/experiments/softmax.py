"""softmax: the notes' worked example, and what hidden layers add to softmax regression.

The worked example: ``z = [5, 2, −1, 3]``, ``t = e^z = [148.4, 7.4, 0.4, 20.1]``,
``Σ t = 176.3``, ``a = t / Σ t``, whose first entry the notes give as 0.842; computed here
with :func:`caviar.softmax`.

The decision regions: a 2-D data set of C = 3 interleaved spiral arms (seeded, 200 points
per class, 30 % held out). Softmax regression is a :class:`caviar.Network` with no hidden
layer (``[2, 3]``: its regions are convex, bounded by lines); the other network has two
hidden layers (``[2, 64, 64, 3]``, batch norm, ReLU). Both are trained with Adam by
:func:`caviar.fit` on the same mini-batches; the regions are each model's predicted class on
a grid over the plane.

Verdict rule: holds when the worked example rounds to 0.842 (and Σ t to 176.3) and the
network with hidden layers is at least 10 points more accurate on the held-out points than
softmax regression.
"""

from __future__ import annotations

import numpy as np

import caviar

CLAIM = "softmax regression draws linear regions; hidden layers classify non-linear points"
C, PER_CLASS, GRID = 3, 200, 70
MODELS = {"softmax regression": [2, C], "2 hidden layers": [2, 64, 64, C]}


def spirals(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``X (C · 200, 2)``, ``y``: C spiral arms with Gaussian noise, shuffled."""
    rng = np.random.default_rng([seed, 0])
    r = np.tile(np.linspace(0.05, 1, PER_CLASS), C)
    y = np.repeat(np.arange(C), PER_CLASS)
    theta = y * 2 * np.pi / C + 4 * r + rng.normal(scale=0.25, size=r.shape)
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    order = rng.permutation(len(y))
    return X[order], y[order]


def _worked_example() -> dict:
    z = np.array([5.0, 2.0, -1.0, 3.0])
    t = np.exp(z)
    return {"z": z, "t": t, "sum_t": float(t.sum()), "a": caviar.softmax(z)}


def run(seed: int = 0, quick: bool = False) -> dict:
    epochs = 60 if quick else 300
    X, y = spirals(seed)
    n_test = int(0.3 * len(y))
    Xte, yte, Xtr, ytr = X[:n_test], y[:n_test], X[n_test:], y[n_test:]
    lim = np.abs(X).max() * 1.05
    axis = np.linspace(-lim, lim, GRID)
    grid = np.stack([g.ravel() for g in np.meshgrid(axis, axis)], axis=1)
    models = {}
    for name, sizes in MODELS.items():
        net = caviar.Network(
            sizes, K=1, seeds=seed, batchnorm=True, dtype="float64", backend="numpy"
        )
        opt = caviar.Adam(net.params, backend="numpy")
        history = caviar.fit(
            net, opt, Xtr, ytr, epochs=epochs, schedule=0.01, batch_size=32, seed=seed
        )
        models[name] = {
            "train_accuracy": float((net.predict(Xtr)[0] == ytr).mean()),
            "test_accuracy": float((net.predict(Xte)[0] == yte).mean()),
            "final_loss": float(history.loss[-1][0]),
            "regions": net.predict(grid)[0].reshape(GRID, GRID),
        }
    return {
        "worked_example": _worked_example(),
        "epochs": epochs,
        "axis": axis,
        "points": {"X": X, "y": y},
        "models": models,
    }


def judge(numbers: dict) -> tuple[bool, str]:
    ex = numbers["worked_example"]
    a0, total = round(ex["a"][0], 3), round(ex["sum_t"], 1)
    acc = {name: m["test_accuracy"] for name, m in numbers["models"].items()}
    lin, deep = acc["softmax regression"], acc["2 hidden layers"]
    holds = a0 == 0.842 and total == 176.3 and deep >= lin + 0.10
    figure = (
        f"softmax([5, 2, -1, 3])[0] = {a0:.3f}, Σt = {total:.1f}; held-out accuracy on "
        f"{C} spirals: softmax regression {lin:.3f}, 2 hidden layers {deep:.3f}"
    )
    return holds, figure


def plot(numbers: dict, path) -> None:
    from matplotlib.colors import ListedColormap

    from caviar.experiments.plotting import figure, save

    fig, axes = figure(2)
    cmap = ListedColormap(["#f4b6b6", "#b6d7f4", "#c8ecb6"])
    dots = ListedColormap(["#c0392b", "#2471a3", "#1e8449"])
    X, y = np.asarray(numbers["points"]["X"]), np.asarray(numbers["points"]["y"])
    for ax, (name, m) in zip(axes, numbers["models"].items(), strict=True):
        ax.pcolormesh(
            numbers["axis"],
            numbers["axis"],
            np.asarray(m["regions"]),
            cmap=cmap,
            shading="auto",
            vmin=0,
            vmax=C - 1,
        )
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=dots, s=6, vmin=0, vmax=C - 1)
        ax.set_title(f"{name}: held-out accuracy {m['test_accuracy']:.3f}", fontsize=9)
        ax.set(xticks=[], yticks=[], aspect="equal")
    save(fig, path)
