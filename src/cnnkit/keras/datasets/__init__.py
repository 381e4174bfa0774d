"""``keras.datasets``: the same loaders as :mod:`cnnkit.datasets` (``mnist``, ``fashion_mnist``, ``cifar10``)."""

from cnnkit.datasets import cifar10 as cifar10
from cnnkit.datasets import fashion_mnist as fashion_mnist
from cnnkit.datasets import mnist as mnist
