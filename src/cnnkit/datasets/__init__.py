"""Datasets as Keras loads them: MNIST (embedded), Fashion-MNIST and CIFAR-10 (downloaded into a cache).

``cnnkit.datasets.mnist.load_data()`` (also ``fashion_mnist``, ``cifar10``) returns
``((x_train, y_train), (x_test, y_test))`` uint8 arrays; :func:`available` lists the datasets and
where they are, :func:`load` loads one by name, :func:`cache_dir` is where downloads go.
"""

from cnnkit.datasets import cifar10 as cifar10
from cnnkit.datasets import fashion_mnist as fashion_mnist
from cnnkit.datasets import mnist as mnist
from cnnkit.datasets.download import DownloadError as DownloadError
from cnnkit.datasets.download import cache_dir as cache_dir
from cnnkit.datasets.download import fetch as fetch
from cnnkit.datasets.idx import DatasetError as DatasetError
from cnnkit.datasets.idx import read_idx as read_idx
from cnnkit.datasets.registry import DatasetFile as DatasetFile
from cnnkit.datasets.registry import DatasetInfo as DatasetInfo
from cnnkit.datasets.registry import available as available
from cnnkit.datasets.registry import info as info
from cnnkit.datasets.registry import load as load
