"""Weight initialisation, one random stream per member.

He: ``W ~ N(0, 2 / n_in)`` (for ReLU). Xavier: ``W ~ N(0, 1 / n_in)`` (the course's
Xavier, for tanh and sigmoid). Member k draws from its own generator, so member k of a
population gets exactly the weights of a solo run with the same seed.
"""

from __future__ import annotations

import numpy as np

from caviar._validate import choice
from caviar.errors import InvalidArgument

SCALES = {"he": 2.0, "xavier": 1.0}


def normal_weights(
    rngs: list[np.random.Generator], n_in: int, n_out: int, scheme: str
) -> np.ndarray:
    """Draw ``W: (K, n_in, n_out)`` with variance ``SCALES[scheme] / n_in``; member k draws
    from ``rngs[k]``."""
    choice("init", scheme, tuple(SCALES))
    std = np.sqrt(SCALES[scheme] / n_in)
    return np.stack([rng.standard_normal((n_in, n_out)) * std for rng in rngs])


def member_rngs(seeds: np.ndarray, stream: int) -> list[np.random.Generator]:
    """One generator per member; ``stream`` separates initialisation (0) from dropout (1)."""
    return [np.random.default_rng([int(s), stream]) for s in seeds]


_MASK = (1 << 64) - 1


def rng_to_array(rng: np.random.Generator) -> np.ndarray:
    """A PCG64 generator's state as 6 uint64 words: state and increment (128 bits each, high
    word first), ``has_uint32`` and ``uinteger``."""
    st = rng.bit_generator.state
    if st["bit_generator"] != "PCG64":
        raise InvalidArgument(f"Only PCG64 generators are saved. Got {st['bit_generator']}.")
    s, inc = st["state"]["state"], st["state"]["inc"]
    words = [s >> 64, s & _MASK, inc >> 64, inc & _MASK, st["has_uint32"], st["uinteger"]]
    return np.array(words, dtype=np.uint64)


def rng_from_array(w: np.ndarray) -> dict:
    w = [int(x) for x in w]
    return {
        "bit_generator": "PCG64",
        "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
