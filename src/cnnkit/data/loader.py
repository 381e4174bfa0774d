"""``DataLoader``: batches of NumPy arrays from a map-style dataset, with reproducible shuffling.

Determinism (one seed drives shuffling and augmentation): epoch ``e`` draws its sample order
and its augmentation generator from ``numpy.random.SeedSequence([seed, e])``. Iterating again
starts the next epoch (a new order); two loaders with the same seed give identical batches; and
:meth:`DataLoader.set_epoch` resumes at any epoch. With ``seed=None`` the seed is drawn from
cnnkit's generator when the loader is built, so :func:`cnnkit.manual_seed` makes it reproducible.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import numpy as np

from cnnkit import random as _random
from cnnkit.data._arrays import to_array
from cnnkit.data.transforms import _apply


def default_collate(samples: list) -> Any:
    """Stack a list of samples into a batch, keeping the samples' structure.

    Tuples and lists are collated field by field (a tuple stays a tuple, a namedtuple keeps its
    type), dicts key by key, strings become a list, and arrays, Tensors and numbers are stacked
    along a new first axis.

    Example:
        >>> import numpy as np
        >>> x, y = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
        >>> x.shape, y.tolist()
        ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("default_collate: no samples to collate")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        sizes = {len(s) if isinstance(s, (tuple, list)) else -1 for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different structures (tuple lengths "
                             f"{sorted(sizes)}, -1 = not a tuple); every sample must look alike")
        fields = [default_collate(list(column)) for column in zip(*samples)]
        if hasattr(first, "_fields"):
            return type(first)(*fields)
        return type(first)(fields)
    if isinstance(first, dict):
        for s in samples:
            if not isinstance(s, dict) or s.keys() != first.keys():
                raise ValueError(f"default_collate: samples have different keys ({sorted(first)} and "
                                 f"{sorted(s) if isinstance(s, dict) else type(s).__name__})")
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (str, bytes)):
        return list(samples)
    if first is None:
        raise TypeError("default_collate: a sample is None; the dataset's __getitem__ must return a value")
    arrays = [to_array(s) for s in samples]
    for k, a in enumerate(arrays):
        if a.dtype == object:
            raise TypeError(f"default_collate: sample {k} is not numeric ({type(samples[k]).__name__}); pass "
                            f"collate_fn= to batch it yourself")
        if a.shape != arrays[0].shape:
            raise ValueError(f"default_collate: samples have different shapes: {arrays[0].shape} (sample 0) "
                             f"and {a.shape} (sample {k}); resize them in the dataset or pass collate_fn=")
    return np.stack(arrays)


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader: {name} must be True or False, got {value!r}")
    return bool(value)


class DataLoader:
    """Iterate a dataset in batches of NumPy arrays; reshuffled reproducibly each epoch.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``): a
            :class:`~cnnkit.data.TensorDataset`, a :class:`~cnnkit.data.Subset` of one, a NumPy
            array, a list of samples, or your own class. TensorDatasets (and their Subsets) and
            arrays are indexed a whole batch at once, without a Python loop over samples.
        batch_size: samples per batch (>= 1).
        shuffle: visit the samples in a new random order each epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: drives the order and the augmentations (see the module notes); None draws it from
            cnnkit's generator now.
        transform: applied to the first element of every batch (the inputs ``x``), e.g. a
            :class:`~cnnkit.data.transforms.Compose` of random augmentations, with this loader's
            per-epoch generator.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`). It
            gets the samples as tuples (one entry per array of a TensorDataset).

    Shape:
        - each batch: the samples' structure with a new first axis of ``batch_size`` (the last
          batch may be smaller unless ``drop_last``). ``len(loader)`` is the number of batches.

    Example:
        >>> import numpy as np
        >>> from cnnkit.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
        >>> loader = DataLoader(ds, batch_size=2, shuffle=True, seed=0)
        >>> len(loader)
        3
        >>> [x.shape for x, y in loader]
        [(2, 2), (2, 2), (1, 2)]
        >>> epoch_1 = [y.tolist() for _, y in loader]  # iterating again: the next epoch's order
        >>> sorted(sum(epoch_1, []))
        [0, 1, 2, 3, 4]
        >>> twin = DataLoader(ds, batch_size=2, shuffle=True, seed=0)
        >>> twin.set_epoch(1)
        >>> [y.tolist() for _, y in twin] == epoch_1
        True
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: Optional[int] = None, transform: Optional[Callable] = None,
                 collate_fn: Optional[Callable] = None) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__ (e.g. TensorDataset(x, y)), "
                            f"got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = _check_flag(shuffle, "shuffle")
        self.drop_last = _check_flag(drop_last, "drop_last")
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty (len 0); there is nothing to load")
        if self.drop_last and n < self.batch_size:
            raise ValueError(f"DataLoader: drop_last=True with batch_size={self.batch_size} and only {n} samples "
                             f"leaves no batch; lower batch_size or set drop_last=False")
        for name, fn in (("transform", transform), ("collate_fn", collate_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {type(fn).__name__}")
        self.transform, self.collate_fn = transform, collate_fn
        if seed is None:
            seed = int(_random.default_generator().integers(2**63 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        self.seed = int(seed)
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """The epoch the next iteration will run."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration run epoch ``epoch`` (its order and augmentations), e.g. to resume."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self._epoch = int(epoch)

    def state_dict(self) -> dict:
        """``{"seed", "epoch"}``: all a checkpoint needs to continue the same sequence of batches."""
        return {"seed": self.seed, "epoch": self._epoch}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`."""
        if not isinstance(state, dict) or set(state) != {"seed", "epoch"}:
            raise ValueError(f"DataLoader.load_state_dict: expected a dict with keys 'seed' and 'epoch', got {state!r}")
        seed = state["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"DataLoader.load_state_dict: seed must be a non-negative integer, got {seed!r}")
        self.set_epoch(state["epoch"])
        self.seed = int(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _generators(self, epoch: int) -> tuple:
        # Separate streams: the order and the augmentations do not shift each other.
        order, augment = np.random.SeedSequence([self.seed, epoch]).spawn(2)
        return np.random.default_rng(order), np.random.default_rng(augment)

    def _fetch(self, indices: np.ndarray, generator: np.random.Generator) -> Any:
        data = self.dataset
        batchable = getattr(data, "batchable", False) and hasattr(data, "get_batch")
        if self.collate_fn is None:
            if isinstance(data, np.ndarray):
                return data[indices]
            if batchable:
                return data.get_batch(indices, generator=generator)
        elif batchable:
            # Split a batch into its samples rather than index them: a dataset's random transform then
            # draws from this loader's generator too (dataset[i] would use the transform's own or
            # cnnkit's generator, and the augmentations would not follow (seed, epoch)).
            return self.collate_fn(list(zip(*data.get_batch(indices, generator=generator))))
        samples = [data[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self) -> Iterator[Any]:
        # Claim the epoch now, not at the first next(): a second iterator gets the next epoch.
        epoch = self._epoch
        self._epoch += 1
        return self._batches(epoch)

    def _batches(self, epoch: int) -> Iterator[Any]:
        n = len(self.dataset)
        order_rng, augment_rng = self._generators(epoch)
        order = order_rng.permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            batch = self._fetch(order[start:start + self.batch_size], augment_rng)
            if self.transform is not None:
                if isinstance(batch, (tuple, list)):
                    head = _apply(self.transform, batch[0], augment_rng)
                    batch = type(batch)((head, *batch[1:])) if not hasattr(batch, "_fields") \
                        else batch._replace(**{batch._fields[0]: head})
                else:
                    batch = _apply(self.transform, batch, augment_rng)
            yield batch

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, epoch={self._epoch})")
