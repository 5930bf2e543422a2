"""MNIST-1D (Greydanus, 2020), generated in NumPy: ten 1-D digit shapes made hard to tell apart.

Each example starts from one of ten length-12 templates and goes through, in this order:
pad with 36..60 zeros, stretch back to 72 points, random scale, random translation (a roll),
correlated (Gaussian-smoothed) noise on the padding, iid noise everywhere, random shear, and
a final linear interpolation to 40 points. The whole set is then shuffled and standardised
with one global mean and standard deviation.

The random draws follow the order of the reference generator (``greydanus/mnist1d``), with
NumPy's legacy ``RandomState`` seeded like it: the output matched a SciPy-based run of the
reference procedure to 1e-15 (not checked against the published pickle). The first
``int(0.8 * n_samples)`` rows are the canonical training part, the rest the test part.
"""

from __future__ import annotations

import functools

import numpy as np

from caviar._validate import positive_int
from caviar.data.dataset import Dataset
from caviar.errors import InvalidArgument

TEMPLATE_LEN = 12
PADDING = (36, 60)
SCALE_COEFF = 0.4
MAX_TRANSLATION = 48
CORR_NOISE_SCALE = 0.25
IID_NOISE_SCALE = 0.02
SHEAR_SCALE = 0.75
FINAL_LENGTH = 40
TRAIN_SPLIT = 0.8
EPS = 1e-8  # added to the template so that the mask below tells it from the zero padding

_DIGITS = [
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
]


def templates() -> np.ndarray:
    """The ten digit templates ``(10, 12)``: whitened, starting at 0, divided by 6."""
    x = np.asarray(_DIGITS, dtype=np.float64)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return (x - x[:, :1]) / 6.0


@functools.lru_cache(maxsize=64)
def _grid(n: int) -> np.ndarray:
    """``np.linspace(0, 1, n)``, made once per length (read-only)."""
    g = np.linspace(0, 1, n)
    g.flags.writeable = False
    return g


def interpolate(x: np.ndarray, N: int) -> np.ndarray:
    """Resample ``x (L,)`` linearly to ``(N,)`` points, both spanning [0, 1]."""
    return np.interp(_grid(N), _grid(len(x)), x)


def smooth(x: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Gaussian smoothing of ``x (L,)`` (kernel radius 4σ, mirrored edges ``d c b a | a b c d``)."""
    radius = int(4.0 * sigma + 0.5)
    k = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * (k / sigma) ** 2)
    padded = np.concatenate([x[radius - 1 :: -1], x, x[: -radius - 1 : -1]])  # as np.pad's
    return np.convolve(padded, w / w.sum(), mode="valid")


def stretched(template: np.ndarray, p: int) -> np.ndarray:
    """The template ``(12,)`` padded with ``p`` zeros and stretched back to 72 points."""
    x = np.concatenate([template + EPS, np.zeros(p)])
    return interpolate(x, TEMPLATE_LEN + PADDING[1])


def transform(template: np.ndarray, rng: np.random.RandomState, stretch=stretched) -> np.ndarray:
    """One example ``(40,)`` from one template ``(12,)``; draws from ``rng`` in reference order.
    ``stretch(template, p)``: :func:`stretched`, or a memo of it (one per template and
    padding: :func:`generate` makes 250 of them instead of 5,000)."""
    low, high = PADDING
    p = low + int(rng.rand() * (high - low + 1))
    x = stretch(template, p)
    x = x * (1 + SCALE_COEFF * (rng.rand() - 0.5))
    shift = rng.choice(MAX_TRANSLATION)
    x = np.concatenate([x[len(x) - shift :], x[: len(x) - shift]])  # np.roll(x, shift)
    signal = x != 0
    x = np.where(signal, x, smooth(CORR_NOISE_SCALE * rng.randn(len(x))))
    x = x + IID_NOISE_SCALE * rng.randn(len(x))
    x = x - SHEAR_SCALE * (rng.rand() - 0.5) * (_grid(len(x)) - 0.5)  # linspace(-0.5, 0.5)
    return interpolate(x, FINAL_LENGTH)


def generate(n_samples: int = 5000, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, 40)`` float64 standardised as a whole, ``y (n,)`` int64 digits, shuffled."""
    rng = np.random.RandomState(seed)  # legacy generator: the reference's stream of draws
    per_class = n_samples // 10
    T = templates()
    memo: dict[tuple[int, int], np.ndarray] = {}

    def stretch(template, p):
        key = (id(template), p)  # the ten rows of T, alive for the whole loop
        if key not in memo:
            memo[key] = stretched(template, p)
        return memo[key]

    rows = [T[c] for c in range(10)]
    X = np.stack([transform(rows[c], rng, stretch) for c in range(10) for _ in range(per_class)])
    y = np.repeat(np.arange(10, dtype=np.int64), per_class)
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    return (X - X.mean()) / X.std(), y


def load_mnist1d(n_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D as one data set: ``X (n_samples, 40)``, 10 classes (digits 0..9).

    The first ``int(0.8 * n_samples)`` rows are the canonical training part, the rest the
    canonical test part (``test_start``: every split of caviar's tests on exactly those, as
    the MNIST-1D paper reports); :func:`mnist1d_train_test` returns the two. Deterministic
    for a seed.

    Example:
        >>> ds = load_mnist1d(n_samples=100, seed=0)
        >>> ds.X.shape, ds.n_classes
        ((100, 40), 10)
    """
    positive_int("n_samples", n_samples, minimum=20)
    if n_samples % 10:
        raise InvalidArgument(
            "The 'n_samples' parameter of mnist1d must be a multiple of 10 (one tenth per "
            f"digit). Got {n_samples!r} instead."
        )
    X, y = generate(n_samples, seed)
    names = tuple(f"t{j}" for j in range(FINAL_LENGTH))
    return Dataset.from_arrays(
        X,
        y,
        name="mnist1d",
        feature_names=names,
        classes=np.arange(10),
        test_start=int(n_samples * TRAIN_SPLIT),
    )


def mnist1d_train_test(n_samples: int = 5000, seed: int = 42) -> tuple[Dataset, Dataset]:
    """The canonical split of :func:`load_mnist1d`: first 80 % train, last 20 % test."""
    ds = load_mnist1d(n_samples, seed)
    cut = int(len(ds) * TRAIN_SPLIT)
    return ds.subset(slice(None, cut), "mnist1d-train"), ds.subset(slice(cut, None), "mnist1d-test")
