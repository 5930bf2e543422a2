"""The bundled digits, split and standardised once, for the experiments that train networks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from caviar.data import Standardizer, load, train_val_test_split


@lru_cache(maxsize=4)
def digits(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_val, y_val)``: 80 / 20 stratified split of the 1,797 digits
    from ``seed``, standardised with the training part's statistics (float32)."""
    train, val, _ = train_val_test_split(load("digits"), val=0.2, test=0.0, seed=seed)
    std = Standardizer.fit(train.X)
    return std.transform(train.X), train.y, std.transform(val.X), val.y
