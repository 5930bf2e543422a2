"""The one exception family of caviar.

Every error caviar raises on purpose derives from :class:`CaviarError`, and its message
names the argument (or file, row, column), the rule it broke, the value it got and,
where there is one, the fix. Errors about argument values are also ``ValueError`` so
that ``except ValueError`` in user code keeps working.
"""

from __future__ import annotations


class CaviarError(Exception):
    """Root of every error caviar raises on purpose."""


class InvalidArgument(CaviarError, ValueError):
    """A hyperparameter, shape or option is outside what caviar accepts."""


class UnknownParameter(CaviarError, TypeError):
    """A keyword that a caviar function or class does not take; the message names caviar's
    own name for it when there is one. Also a ``TypeError``, as Python's own is."""


class DataError(CaviarError, ValueError):
    """A data set or file cannot be used as it is (NaN, ragged rows, one class, ...)."""


class CheckpointError(CaviarError):
    """A checkpoint is truncated, corrupt, holds the wrong arrays or holds pickled objects."""


class DivergedError(CaviarError):
    """A model (or every trial of a tune) diverged: its loss or weights are not finite, so
    there is nothing to use. The command line exits with status 3 for it."""

    exit_code = 3


# Other libraries' names for caviar's hyperparameters (Keras, PyTorch, scikit-learn): a
# suggestion by meaning beats one by spelling ('learning_rate' is closest to 'decay_rate')
OTHER_NAMES = {
    "learning_rate": "lr",
    "learning_rate_init": "lr",
    "alpha": "l2",
    "hidden_layer_sizes": "hidden",
    "hidden_layers": "hidden",
    "layers": "hidden",
    "max_iter": "epochs",
    "n_epochs": "epochs",
    "random_state": "seed",
    "dropout": "keep_prob",
    "momentum": "beta1",
    "beta_1": "beta1",
    "beta_2": "beta2",
    "epsilon": "eps",
    "batch": "batch_size",
    "solver": "optimizer",
    "patience": "early_stopping",
}


def did_you_mean(name, known) -> str:
    """`` (did you mean 'hidden'?)`` for what ``name`` means among ``known`` (another
    library's name for it, else the closest spelling), or ``""``."""
    import difflib

    known = [str(k) for k in known]
    if OTHER_NAMES.get(str(name)) in known:
        return f" (did you mean {OTHER_NAMES[str(name)]!r}?)"
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
