"""Data sets that need no network: scikit-learn's bundled sets, MNIST-1D, synthetic clusters
and two real mixed-type tables (``penguins``, ``wage``: text columns, missing cells).

``load(name, **options)`` is the one entry point; ``LOADERS`` maps each name to its loader.
"""

from __future__ import annotations

import gzip
import importlib.util
import inspect
import math
from pathlib import Path

import numpy as np

from caviar._validate import POSITIVE, positive_int, scalar
from caviar.data.dataset import Dataset
from caviar.data.mnist1d import load_mnist1d
from caviar.errors import DataError, InvalidArgument


def _sklearn(name: str, loader: str, label_names: bool) -> Dataset:
    """A scikit-learn bundled set; classes are its target names when ``label_names``."""
    from sklearn import datasets  # 0.6 s to import: only for the sets that need it

    bunch = getattr(datasets, loader)()
    y = bunch.target_names[bunch.target] if label_names else bunch.target
    names = getattr(bunch, "feature_names", None)
    return Dataset.from_arrays(bunch.data, y, name=name, feature_names=names)


def load_digits() -> Dataset:
    """8x8 handwritten digits: ``X (1797, 64)`` pixel values 0..16, classes 0..9 (ints).

    Read straight from the CSV file scikit-learn ships (what its ``load_digits`` reads),
    found without importing scikit-learn, whose import takes 0.6 s: more than the README's
    first command spends training. Falls back to ``sklearn.datasets.load_digits``.
    """
    path = _sklearn_data_file("digits.csv.gz")
    if path is None:
        return _sklearn("digits", "load_digits", label_names=False)
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    names = [f"pixel_{row}_{col}" for row in range(8) for col in range(8)]
    return Dataset.from_arrays(
        data[:, :-1], data[:, -1].astype(int), name="digits", feature_names=names
    )


def _sklearn_data_file(name: str) -> Path | None:
    """``sklearn/datasets/data/<name>`` of the installed scikit-learn, or None."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / name
        if path.is_file():
            return path
    return None


def load_iris() -> Dataset:
    """Iris: ``X (150, 4)`` in cm, classes 'setosa', 'versicolor', 'virginica'."""
    return _sklearn("iris", "load_iris", label_names=True)


def load_wine() -> Dataset:
    """Wine: ``X (178, 13)`` chemical measurements, classes 'class_0', 'class_1', 'class_2'."""
    return _sklearn("wine", "load_wine", label_names=True)


def load_breast_cancer() -> Dataset:
    """Breast cancer (Wisconsin): ``X (569, 30)``, classes 'benign', 'malignant'."""
    return _sklearn("breast_cancer", "load_breast_cancer", label_names=True)


def load_synthetic(
    n_samples: int = 1000,
    n_features: int = 20,
    n_classes: int = 3,
    seed: int = 0,
    class_sep: float = 1.0,
) -> Dataset:
    """Gaussian clusters of any size, for benchmarks: ``X (n_samples, n_features)``.

    Each class c has a centre ``mu_c ~ N(0, (2 class_sep^2 / d) I)`` and rows
    ``x = mu_c + N(0, I)``, so two centres lie about ``2 class_sep`` noise standard deviations
    apart whatever d. Classes are balanced (sizes differ by at most one) and rows shuffled.
    Deterministic for a seed.

    Example:
        >>> load_synthetic(n_samples=10, n_features=3, n_classes=2).X.shape
        (10, 3)
    """
    positive_int("n_classes", n_classes, minimum=2)
    positive_int("n_samples", n_samples, minimum=n_classes)
    d = positive_int("n_features", n_features)
    sep = scalar("class_sep", class_sep, POSITIVE)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, d)) * (sep * math.sqrt(2.0 / d))
    y = rng.permutation(np.arange(n_samples) % n_classes)
    X = rng.standard_normal((n_samples, d), dtype=np.float32)
    X += centres.astype(np.float32)[y]
    return Dataset.from_arrays(X, y, name="synthetic")


TABLES = Path(__file__).parent / "tables"  # their sources and licences: tables/README.md


def _table(file: str, target: str) -> Dataset:
    from caviar.data.readers import read_table

    return read_table(TABLES / file, target)


def load_penguins() -> Dataset:
    """Palmer penguins: 344 birds, ``species`` from the island (text), bill and flipper
    sizes and body mass (2 missing each), sex (text, 11 missing) and year."""
    return _table("penguins.csv.gz", "species")


def load_wage() -> Dataset:
    """Wage (ISLR): 3,000 workers, whether they have health insurance (``health_ins``)
    from age, year, wage and six text columns (marital status, race, education, ...)."""
    return _table("wage.csv.gz", "health_ins")


LOADERS = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "mnist1d": load_mnist1d,
    "synthetic": load_synthetic,
    "penguins": load_penguins,
    "wage": load_wage,
}


def load(name: str, **options) -> Dataset:
    """The bundled data set ``name`` (one of ``LOADERS``), built with ``options``.

    Example:
        >>> load("iris").X.shape
        (150, 4)
    """
    if name not in LOADERS:
        known = ", ".join(repr(k) for k in LOADERS)
        raise DataError(f"No bundled data set is called {name!r}; the known names are {known}")
    loader = LOADERS[name]
    try:
        inspect.signature(loader).bind(**options)
    except TypeError:
        accepted = ", ".join(inspect.signature(loader).parameters) or "none"
        raise InvalidArgument(
            f"load({name!r}) got options {sorted(options)}; the options it accepts: {accepted}"
        ) from None
    return loader(**options)
