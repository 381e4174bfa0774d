"""``keras.datasets``: the same loaders as :mod:`cnnkit.datasets`."""

from cnnkit.datasets import mnist as mnist
