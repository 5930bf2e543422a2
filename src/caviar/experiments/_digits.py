"""The bundled digits, split and standardised once, for the experiments that train networks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

import caviar
from caviar.data import Standardizer, load, train_val_test_split


@lru_cache(maxsize=4)
def digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_val, y_val)``: 80 / 20 stratified split of the 1,797 digits
    from ``seed``, standardised with the training part's statistics (float32)."""
    train, val, _ = train_val_test_split(load("digits"), val=0.2, test=0.0, seed=seed)
    std = Standardizer.fit(train.X)
    return std.transform(train.X), train.y, std.transform(val.X), val.y


def adam_val_accuracy(lr, hidden, epochs: int, seed: int, **adam) -> np.ndarray:
    """Final validation accuracy ``(K,)`` of K batch-norm networks ``64 → hidden → 10`` on
    :func:`digits`, trained together with Adam: member k at learning rate ``lr[k]`` (and
    Adam's per-member ``adam`` arguments, e.g. ``eps``), every member from weights seed
    ``seed``, batch 64, on the NumPy path."""
    Xtr, ytr, Xv, yv = digits(seed)
    lr = np.atleast_1d(np.asarray(lr, dtype=np.float64))
    K = len(lr)
    net = caviar.Network(
        [Xtr.shape[1], *hidden, 10], K=K, seeds=np.full(K, seed), batchnorm=True, backend="numpy"
    )
    opt = caviar.Adam(net.params, backend="numpy", **adam)
    history = caviar.fit(
        net,
        opt,
        Xtr,
        ytr,
        epochs=epochs,
        batch_size=64,
        schedule=lr,
        seed=seed,
        validation=(Xv, yv),
    )
    return history.val_accuracy[-1]
