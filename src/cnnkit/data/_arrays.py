"""The one conversion every part of cnnkit.data applies to its inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.tensor import Tensor


def to_array(value: Any) -> np.ndarray:
    """``value`` as a NumPy array without copying: a Tensor's data, an array as is, a list converted.

    A ragged nested list gives an object array (NumPy refuses it outright), which callers reject
    with their own message.
    """
    if isinstance(value, Tensor):
        return value.data
    try:
        return np.asarray(value)
    except ValueError:
        return np.empty(0, dtype=object)
