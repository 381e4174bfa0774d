"""Map-style datasets with PyTorch's semantics: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``.

A dataset is anything with ``__len__`` and ``__getitem__(int)`` returning one sample (often an
``(x, y)`` tuple). :class:`TensorDataset` also hands out whole batches at once
(:meth:`TensorDataset.get_batch`), which :class:`~cnnkit.data.DataLoader` uses to skip the
per-sample Python loop.
"""

from __future__ import annotations

import math
import warnings
from itertools import accumulate
from typing import Any, Callable, Optional, Sequence

import numpy as np

from cnnkit import random as _random
from cnnkit.data._arrays import to_array
from cnnkit.data.transforms import Transform


class Dataset:
    """Base class for map-style datasets: override ``__len__`` and ``__getitem__``.

    Subclassing is optional: the :class:`~cnnkit.data.DataLoader` accepts any object with both
    methods (a list of samples, a NumPy array).

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i, i * i
        >>> Squares()[3]
        (3, 9)
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


def _as_array(value: Any, where: str) -> np.ndarray:
    array = to_array(value)
    if array.dtype == object:
        raise TypeError(f"{where}: expected a numeric array or Tensor, got an object array "
                        f"(ragged or mixed-type input?)")
    return array


def _check_index(index: Any, length: int, where: str) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{where}: index must be an integer, got {type(index).__name__}; "
                        f"for many samples at once use a DataLoader (or get_batch)")
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for {length} samples")
    return index % length


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays: ``dataset[i] == (a[i], b[i], ...)``.

    Args:
        *arrays: NumPy arrays or cnnkit Tensors sharing their first (sample) dimension. They are
            kept by reference, not copied.
        transform: optional callable applied to the first element of every sample (the input
            ``x``). A :class:`~cnnkit.data.transforms.Transform` is applied by the DataLoader to the
            whole batch at once, with the loader's generator; another callable is applied sample by
            sample.

    Shape:
        - ``dataset[i]``: a tuple of ``arrays[k][i]``, one per array.

    Example:
        >>> import numpy as np
        >>> ds = TensorDataset(np.arange(6).reshape(3, 2), np.array([0, 1, 0]))
        >>> len(ds)
        3
        >>> x, y = ds[1]
        >>> x.tolist(), int(y)
        ([2, 3], 1)
    """

    def __init__(self, *arrays: Any, transform: Optional[Callable] = None) -> None:
        if not arrays:
            raise ValueError("TensorDataset: pass at least one array, e.g. TensorDataset(x, y)")
        self.arrays = tuple(_as_array(a, f"TensorDataset: array {k}") for k, a in enumerate(arrays))
        for k, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {k} is a scalar; every array needs a first (sample) "
                                 f"dimension")
        sizes = [len(a) for a in self.arrays]
        if len(set(sizes)) > 1:
            listed = ", ".join(f"array {k}: {n}" for k, n in enumerate(sizes))
            raise ValueError(f"TensorDataset: all arrays need the same first dimension (number of samples); "
                             f"got {listed}")
        if transform is not None and not callable(transform):
            raise TypeError(f"TensorDataset: transform must be callable, got {type(transform).__name__}")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple:
        i = _check_index(index, len(self), "TensorDataset")
        sample = tuple(a[i] for a in self.arrays)
        if self.transform is None:
            return sample
        return (self.transform(sample[0]),) + sample[1:]

    @property
    def batchable(self) -> bool:
        """True when :meth:`get_batch` gives the same samples as indexing one by one would."""
        return self.transform is None or isinstance(self.transform, Transform)

    def get_batch(self, indices: np.ndarray, generator: Optional[np.random.Generator] = None) -> tuple:
        """The samples at ``indices`` stacked: ``tuple(a[indices] for a in arrays)``, transformed.

        Args:
            indices: 1-D integer array of sample indices (fancy indexing: the result is a copy).
            generator: the random source for a random ``transform`` (the DataLoader's per-epoch one).
        """
        batch = tuple(a[indices] for a in self.arrays)
        if self.transform is None:
            return batch
        if not isinstance(self.transform, Transform):
            raise TypeError("TensorDataset.get_batch: the transform is not a cnnkit.data.transforms.Transform, "
                            "so it may not accept a batch; index samples one by one instead")
        return (self.transform(batch[0], generator=generator),) + batch[1:]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        extra = f", transform={self.transform!r}" if self.transform is not None else ""
        return f"TensorDataset({shapes}{extra})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: any map-style dataset.
        indices: integer indices into ``dataset`` (checked to be in range).

    Example:
        >>> import numpy as np
        >>> sub = Subset(TensorDataset(np.arange(10) * 10), [7, 2])
        >>> len(sub), int(sub[0][0]), int(sub[1][0])
        (2, 70, 20)
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        index_array = np.asarray(indices)
        if index_array.ndim != 1 or (index_array.size and not np.issubdtype(index_array.dtype, np.integer)):
            raise TypeError(f"Subset: indices must be a 1-D sequence of integers, got "
                            f"{index_array.dtype} with shape {index_array.shape}")
        n = len(dataset)
        bad = index_array[(index_array < 0) | (index_array >= n)]
        if bad.size:
            raise IndexError(f"Subset: index {int(bad[0])} is out of range for a dataset of {n} samples")
        self.dataset = dataset
        self.indices = index_array.astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[_check_index(index, len(self), "Subset")])]

    @property
    def batchable(self) -> bool:
        """True when the underlying dataset can hand out whole batches."""
        return bool(getattr(self.dataset, "batchable", False))

    def get_batch(self, indices: np.ndarray, generator: Optional[np.random.Generator] = None) -> tuple:
        """The underlying dataset's batch at ``self.indices[indices]``."""
        return self.dataset.get_batch(self.indices[indices], generator=generator)

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} indices)"


def _split_lengths(n: int, lengths: Sequence[Any]) -> list:
    values = list(lengths)
    if not values:
        raise ValueError("random_split: lengths is empty; pass counts like [800, 200] or fractions like [0.8, 0.2]")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or v < 0:
            raise ValueError(f"random_split: lengths must be non-negative counts or fractions, got {v!r}")
    total = sum(values)
    if math.isclose(total, 1.0) and total <= 1.0:
        # Fractions (PyTorch): floor each share, then hand the remainder out one by one, round-robin.
        counts = [int(math.floor(n * f)) for f in values]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: split {i} is empty ({values[i]} of {n} samples)", UserWarning,
                              stacklevel=3)
        return counts
    if not all(isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"random_split: fractions must sum to 1, got {values} (sum {total}); counts must be "
                         f"integers")
    if total != n:
        raise ValueError(f"random_split: the counts {values} sum to {total}, but the dataset holds {n} samples")
    return [int(v) for v in values]


def random_split(dataset: Any, lengths: Sequence[Any], seed: Optional[int] = None,
                 generator: Optional[np.random.Generator] = None) -> list:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s (PyTorch's semantics).

    Args:
        dataset: any map-style dataset.
        lengths: sample counts summing to ``len(dataset)``, or fractions summing to 1 (each
            share is floored and the remainder given one by one to the first splits).
        seed: seed of the permutation; None draws it from cnnkit's generator, so
            :func:`cnnkit.manual_seed` makes the split reproducible.
        generator: a ``numpy.random.Generator`` to draw the permutation from instead of ``seed``
            (PyTorch's ``generator=``).

    Example:
        >>> import numpy as np
        >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], seed=0)
        >>> len(train), len(val)
        (8, 2)
        >>> sorted(int(s[0]) for s in (*(train[i] for i in range(8)), *(val[i] for i in range(2))))
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"random_split: seed must be a non-negative integer or None, got {seed!r}")
    if seed is not None and generator is not None:
        raise ValueError("random_split: pass seed or generator, not both")
    counts = _split_lengths(len(dataset), lengths)
    if generator is None:
        generator = _random.default_generator() if seed is None else np.random.default_rng(int(seed))
    else:
        generator = _random.resolve(generator)
    order = generator.permutation(sum(counts))
    return [Subset(dataset, order[end - count:end]) for end, count in zip(accumulate(counts), counts)]
