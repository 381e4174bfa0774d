"""The seeded random-number source shared by every random operation in cnnkit.

One seed (:func:`manual_seed`) drives initialisation, shuffling, dropout and augmentation.
Functions that draw random numbers also accept an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed cnnkit's default generator and return it.

    Example:
        >>> import cnnkit
        >>> _ = cnnkit.manual_seed(0)
        >>> a = cnnkit.randn(3)
        >>> _ = cnnkit.manual_seed(0)
        >>> bool((cnnkit.randn(3) == a).all())
        True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is passed."""
    return _generator


def get_rng_state() -> dict:
    """The default generator's state (a JSON-serialisable dict), for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state


def resolve(generator: Optional[Any]) -> np.random.Generator:
    """Return ``generator`` if given, else the default generator."""
    if generator is None:
        return _generator
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
            f"got {type(generator).__name__}"
        )
    return generator
