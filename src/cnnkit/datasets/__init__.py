"""Datasets: MNIST as Keras loads it, and the strict IDX reader."""

from cnnkit.datasets import mnist as mnist
from cnnkit.datasets.idx import DatasetError as DatasetError
from cnnkit.datasets.idx import read_idx as read_idx
