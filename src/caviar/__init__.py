"""caviar: deep-network classifiers on NumPy, trained and tuned as populations.

The public surface: networks (:class:`Network`), optimizers, learning-rate schedules, the
training loop (:func:`fit`), gradient checking and the error family.
"""

__version__ = "0.1.0"

from caviar.errors import CaviarError, CheckpointError, DataError, InvalidArgument
from caviar.gradcheck import gradient_check
from caviar.nn import Network, softmax
from caviar.optim import (
    OPTIMIZERS,
    Adam,
    AdamW,
    GradientDescent,
    Momentum,
    RMSprop,
    make_schedule,
)
from caviar.train import Divergence, History, evaluate, fit


def __getattr__(name: str):
    # scikit-learn is heavy to import: load the estimator only when asked for
    if name == "Classifier":
        from caviar.estimator import Classifier

        return Classifier
    if name in ("load", "tune"):  # the functions of caviar.api; the package is caviar.tuning
        from caviar import api

        return getattr(api, name)
    if name == "Model":
        from caviar.model import Model

        return Model
    raise AttributeError(f"module 'caviar' has no attribute {name!r}")


__all__ = [
    "Classifier",
    "OPTIMIZERS",
    "Adam",
    "AdamW",
    "CaviarError",
    "CheckpointError",
    "DataError",
    "Divergence",
    "GradientDescent",
    "History",
    "InvalidArgument",
    "Model",
    "Momentum",
    "Network",
    "RMSprop",
    "__version__",
    "evaluate",
    "fit",
    "gradient_check",
    "load",
    "make_schedule",
    "softmax",
    "tune",
]
