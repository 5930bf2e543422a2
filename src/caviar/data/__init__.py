"""The data layer: checked data sets, bundled data, file readers, splits and standardisation.

Every loader and reader returns a :class:`Dataset`: ``X (n, d)`` float32, ``y (n,)`` int64
codes, ``classes (C,)`` the original labels.
"""

from caviar.data.bundled import LOADERS, load
from caviar.data.dataset import Dataset
from caviar.data.mnist1d import load_mnist1d, mnist1d_train_test
from caviar.data.readers import (
    read,
    read_csv,
    read_features,
    read_idx,
    read_idx_images,
    read_npz,
)
from caviar.data.split import Standardizer, train_val_test_split

__all__ = [
    "LOADERS",
    "Dataset",
    "Standardizer",
    "load",
    "load_mnist1d",
    "mnist1d_train_test",
    "read",
    "read_csv",
    "read_features",
    "read_idx",
    "read_idx_images",
    "read_npz",
    "train_val_test_split",
]
