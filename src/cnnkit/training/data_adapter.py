"""Turn what users pass to ``fit``/``evaluate``/``predict`` into batches of NumPy arrays.

Accepted: arrays or Tensors ``x`` and ``y`` (split into batches, shuffled each epoch with cnnkit's
seeded generator), or any iterable of ``(x, y)`` batches (used as is; e.g. a DataLoader).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from cnnkit import random as _random


def as_array(value: Any, what: str) -> np.ndarray:
    array = np.asarray(getattr(value, "data", value))
    if array.dtype == object:
        raise TypeError(f"{what} must be a numeric array or Tensor, got an object array")
    return array


class ArrayBatches:
    """Batches over in-memory ``x`` (and ``y``), optionally shuffled each epoch."""

    def __init__(self, x: Any, y: Optional[Any], batch_size: int, shuffle: bool, fold_single_tail: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x = as_array(x, "x")
        self.y = None if y is None else as_array(y, "y")
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"x and y hold different numbers of samples: {len(self.x)} and {len(self.y)}")
        if len(self.x) == 0:
            raise ValueError("x holds no samples")
        self.batch_size, self.shuffle = batch_size, shuffle
        # A last batch of one sample cannot be batch-normalised in training: it joins the previous one.
        self.fold = fold_single_tail and len(self.x) > batch_size and len(self.x) % batch_size == 1

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size) - (1 if self.fold else 0)

    def __iter__(self) -> Iterator[tuple]:
        n = len(self.x)
        order = _random.default_generator().permutation(n) if self.shuffle else None
        starts = list(range(0, n, self.batch_size))
        ends = starts[1:] + [n]
        if self.fold:
            starts, ends = starts[:-1], ends[:-2] + [n]
        for start, end in zip(starts, ends):
            index = slice(start, end) if order is None else order[start:end]
            yield self.x[index], None if self.y is None else self.y[index]


class IterableBatches:
    """Batches from a user iterable of ``(x, y)`` pairs (or of ``x`` alone, for predict)."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches

    def __len__(self) -> int:
        try:
            return len(self.batches)
        except TypeError:
            return 0  # unknown: progress bars show no total

    def __iter__(self) -> Iterator[tuple]:
        for item in self.batches:
            if not isinstance(item, (tuple, list)):
                yield as_array(item, "x"), None
            elif len(item) == 1:  # a one-array TensorDataset gives (x,) batches, as PyTorch's
                yield as_array(item[0], "x"), None
            elif len(item) == 2:
                yield as_array(item[0], "x"), as_array(item[1], "y")
            else:
                raise ValueError(f"a batch from the data iterable has {len(item)} parts; batches must be x, (x,) "
                                 "or (x, y) (sample weights in batches are not supported)")


def batches(x: Any, y: Optional[Any], batch_size: int, shuffle: bool, fold_single_tail: bool = False) -> Any:
    """Pick the adapter for ``x`` (and ``y``)."""
    if y is None and not isinstance(x, np.ndarray) and not hasattr(x, "creator") and hasattr(x, "__iter__"):
        return IterableBatches(x)
    return ArrayBatches(x, y, batch_size, shuffle, fold_single_tail)


def split_validation(x: Any, y: Any, fraction: float) -> tuple:
    """Keras's ``validation_split``: the *last* ``fraction`` of the samples, taken before shuffling."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {fraction}")
    xa, ya = as_array(x, "x"), as_array(y, "y")
    cut = int(len(xa) * (1.0 - fraction))
    if cut == 0 or cut == len(xa):
        raise ValueError(f"validation_split={fraction} leaves {cut} training and {len(xa) - cut} validation samples")
    return (xa[:cut], ya[:cut]), (xa[cut:], ya[cut:])
