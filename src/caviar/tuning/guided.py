"""Model-based proposals from Optuna's samplers (``--sampler tpe|gp|cmaes``, the ``optuna``
extra): points chosen from what finished instead of blindly.

The space goes to Optuna as its unit cube (:mod:`caviar.tuning.transform`): each searched
dimension is a ``FloatDistribution(0, 1)`` on its own scale's unit coordinate, the one
random search draws uniformly (log for ``log``, 1 − β on a log scale for
``one_minus_log``, equal bins for a choice), so a model-based sampler and random search
propose on the same scales. Each round asks Optuna for all its points at once, after
telling it every finished trial of the earlier rounds (``val_loss``; a diverged or failed
trial as failed); TPE runs with its constant liar, so the points of one batch spread out.
The sampler is seeded with the tune's seed and the round, and rebuilt from the study for
each round, so a resumed tune asks what an uninterrupted one asked. With one round there is
nothing to learn from: the points are Optuna's start-up draws (use ``--rounds``).
"""

from __future__ import annotations

import numpy as np

from caviar.errors import InvalidArgument
from caviar.tuning.space import SearchSpace
from caviar.tuning.transform import decode, encode

GUIDED = ("tpe", "gp", "cmaes")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InvalidArgument(
            "The tpe, gp and cmaes samplers are Optuna's, which is not installed; "
            "pip install 'caviar-nn[optuna]' (or use --sampler random)."
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(optuna, method: str, seed: int):
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
    if method == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise InvalidArgument(
                "The cmaes sampler needs the cmaes package; pip install 'caviar-nn[optuna]'."
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed)
    try:
        import torch  # noqa: F401  (Optuna's GP sampler computes with it)
    except ImportError:
        raise InvalidArgument(
            "Optuna's gp sampler needs torch, which caviar does not install; "
            "pip install torch==2.13.0 (the CPU wheel), or use --sampler tpe."
        ) from None
    return optuna.samplers.GPSampler(seed=seed)


def available(method: str) -> None:
    """An InvalidArgument saying what to install when ``method`` cannot run here."""
    _sampler(_optuna(), method, 0)


def guided_sample(
    method: str, space: SearchSpace, n: int, seed: int, history: list[tuple]
) -> list[dict]:
    """``n`` configurations of ``space`` proposed by Optuna's ``method`` sampler (seeded
    with ``seed``) after it is told ``history``: ``(configuration, val_loss, pruned_at)``
    triples; ``val_loss`` None for a trial that diverged or failed (told as failed),
    ``pruned_at`` the epoch a halving rung stopped it at (told as pruned, with its loss
    there as its intermediate value), else None."""
    optuna = _optuna()
    sampler = _sampler(optuna, method, seed)
    if space.d == 0:
        return decode(space, np.empty((n, 0)))
    names = [f"u{j}" for j in range(space.d)]
    dists = {name: optuna.distributions.FloatDistribution(0.0, 1.0) for name in names}
    study = optuna.create_study(direction="minimize", sampler=sampler)
    if history:
        U = encode(space, [config for config, *_ in history])
        for u, (_, loss, pruned_at) in zip(U, history, strict=True):
            params = {name: float(np.clip(x, 0.0, 1.0)) for name, x in zip(names, u, strict=True)}
            study.add_trial(_told(optuna, params, dists, loss, pruned_at))
    asked = [study.ask(dists) for _ in range(n)]
    U = np.array([[t.params[name] for name in names] for t in asked])
    return decode(space, np.clip(U, 0.0, np.nextafter(1.0, 0.0)))


def _told(optuna, params: dict, dists: dict, loss, pruned_at):
    """One finished trial as Optuna records it: complete, pruned at its rung, or failed."""
    State = optuna.trial.TrialState
    finite = loss is not None and np.isfinite(loss)
    if not finite:
        return optuna.trial.create_trial(params=params, distributions=dists, state=State.FAIL)
    if pruned_at is not None:
        return optuna.trial.create_trial(
            params=params,
            distributions=dists,
            state=State.PRUNED,
            intermediate_values={int(pruned_at): float(loss)},
        )
    return optuna.trial.create_trial(params=params, distributions=dists, value=float(loss))
