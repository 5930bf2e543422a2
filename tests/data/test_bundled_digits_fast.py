"""Digits load without importing scikit-learn (0.6 s) and equal its own loader's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def test_digits_equal_scikit_learns():
    from sklearn.datasets import load_digits as sk_digits

    from caviar.data.bundled import load_digits

    ours, theirs = load_digits(), sk_digits()
    np.testing.assert_array_equal(ours.X, theirs.data)
    np.testing.assert_array_equal(np.asarray(ours.y), theirs.target)
    assert list(ours.feature_names) == list(theirs.feature_names)


def test_digits_load_without_importing_scikit_learn():
    code = (
        "import sys; from caviar.data import load; d = load('digits'); "
        "print(d.X.shape, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["(1797,", "64)", "False"], out.stdout
