"""Datasets, batching and augmentation: ``TensorDataset``, ``DataLoader`` and ``transforms``.

One seed drives shuffling and augmentation: a :class:`DataLoader` derives each epoch's sample
order and the generator it passes to its (random) transforms from ``(seed, epoch)``; with
``seed=None`` the seed comes from :func:`cnnkit.manual_seed`'s generator.

Example:
    >>> import numpy as np
    >>> from cnnkit.data import DataLoader, TensorDataset, transforms as T
    >>> x = np.zeros((10, 3, 8, 8), np.uint8)
    >>> y = np.arange(10)
    >>> augment = T.Compose([T.ToFloat(), T.RandomCrop(8, padding=2), T.RandomHorizontalFlip()])
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=0, transform=augment)
    >>> [(xb.shape, xb.dtype.name, yb.shape) for xb, yb in loader][-1]
    ((2, 3, 8, 8), 'float32', (2,))
"""

from cnnkit.data import transforms as transforms
from cnnkit.data.dataset import Dataset as Dataset
from cnnkit.data.dataset import Subset as Subset
from cnnkit.data.dataset import TensorDataset as TensorDataset
from cnnkit.data.dataset import random_split as random_split
from cnnkit.data.loader import DataLoader as DataLoader
from cnnkit.data.loader import default_collate as default_collate
