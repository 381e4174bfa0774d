"""What datasets cnnkit knows, where each one is right now, and one entry point to load any of them.

Used by ``cnnkit datasets``: :func:`available` describes every dataset (shape, classes, files with
their SHA-256, and whether it is embedded, cached or missing) without touching the network, and
:func:`load` returns the Keras-style ``((x_train, y_train), (x_test, y_test))`` tuple.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Optional

from cnnkit.datasets import cifar10, fashion_mnist, mnist
from cnnkit.datasets.download import cache_dir, file_sha256


@dataclass(frozen=True)
class DatasetFile:
    """One file a dataset needs: ``sha256`` is of the file's bytes, or of its gunzipped bytes when
    ``hashed == "uncompressed"`` (MNIST); ``urls`` are the download locations in order (empty: embedded)."""

    name: str
    sha256: str
    hashed: str = "file"
    urls: tuple = ()


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's description and where it is found now.

    Attributes:
        name: the key for :func:`load` (``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``).
        shape: one image as (C, H, W); ``load`` returns images channels-last, as Keras does.
        label_shape: one label's shape in ``load``'s arrays: ``()`` gives ``y`` of shape (N,), ``(1,)`` gives (N, 1).
        status: ``"embedded"`` (shipped in the package), ``"cached"`` (in ``cache_dir()``), ``"local"``
            (found elsewhere, e.g. a development checkout) or ``"missing"`` (``load`` would download it).
        location: the directory it is loaded from, or None when missing.
        cache_path: where downloads go (and where hand-fetched files can be put).
        verified: True when ``available(verify=True)`` hashed the files and they all matched.
    """

    name: str
    title: str
    shape: tuple
    num_classes: int
    class_names: tuple
    train_size: int
    test_size: int
    label_shape: tuple
    files: tuple
    status: str
    location: Optional[str]
    cache_path: str
    loader: str
    homepage: str
    license: str
    verified: Optional[bool] = None

    def as_dict(self) -> dict:
        """Plain dicts, lists and strings (e.g. for JSON)."""
        return asdict(self)


def _names() -> dict:
    return {"mnist": mnist, "fashion_mnist": fashion_mnist, "cifar10": cifar10}


def _normalise(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"the dataset name must be a string, one of {', '.join(_names())}; got {name!r}")
    key = name.strip().lower().replace("-", "_")
    return {"fashion": "fashion_mnist", "fmnist": "fashion_mnist", "cifar_10": "cifar10"}.get(key, key)


def _mnist_info(verify: bool) -> DatasetInfo:
    here = os.path.dirname(os.path.abspath(__file__))
    embedded, cached = os.path.join(here, "data", "mnist"), os.path.join(cache_dir(), "mnist")
    location, status = None, "missing"
    for place in mnist._candidates(None):
        if all(mnist._find(place, stem) for stem in mnist.FILES):
            location = place
            status = "embedded" if place == os.path.normpath(embedded) else (
                "cached" if place == os.path.normpath(cached) else "local")
            break
    files = tuple(DatasetFile(stem + ".gz", digest, "uncompressed") for stem, digest in mnist.FILES.items())
    verified = None
    if verify and location is not None:
        from cnnkit.datasets.idx import read_idx

        try:
            for stem, digest in mnist.FILES.items():
                read_idx(mnist._find(location, stem), digest)
            verified = True
        except ValueError:
            verified = False
    return DatasetInfo("mnist", mnist.title, (1, 28, 28), 10, mnist.class_names, 60000, 10000, (), files, status,
                       location, cached, "cnnkit.datasets.mnist.load_data", "http://yann.lecun.com/exdb/mnist/",
                       "CC BY-SA 3.0", verified)


def _downloaded_info(name: str, files: dict, urls: dict, directory: str, verify: bool, **fields) -> DatasetInfo:
    present = all(os.path.isfile(os.path.join(directory, f)) for f in files)
    verified = None
    if verify and present:
        verified = all(file_sha256(os.path.join(directory, f)) == digest for f, digest in files.items())
    records = tuple(DatasetFile(f, digest, "file", tuple(urls[f])) for f, digest in files.items())
    return DatasetInfo(name=name, files=records, status="cached" if present else "missing",
                       location=directory if present else None, cache_path=directory,
                       loader=f"cnnkit.datasets.{name}.load_data", verified=verified, **fields)


def available(verify: bool = False) -> list:
    """Every dataset cnnkit can load, as :class:`DatasetInfo` records (``.as_dict()`` for plain dicts).

    Never touches the network. ``status``/``location`` say where each dataset is now.

    Args:
        verify: also hash the files found (slower: ~200 MB for CIFAR-10) and set ``verified``.

    Example:
        >>> import cnnkit.datasets as ds
        >>> [(d.name, d.shape, d.num_classes) for d in ds.available()]
        [('mnist', (1, 28, 28), 10), ('fashion_mnist', (1, 28, 28), 10), ('cifar10', (3, 32, 32), 10)]
    """
    return [
        _mnist_info(verify),
        _downloaded_info("fashion_mnist", fashion_mnist.FILES, fashion_mnist.urls(), fashion_mnist.cache_path(), verify,
                         title=fashion_mnist.title, shape=(1, 28, 28), num_classes=10,
                         class_names=fashion_mnist.class_names, train_size=60000, test_size=10000, label_shape=(),
                         homepage="https://github.com/zalandoresearch/fashion-mnist", license="MIT"),
        _downloaded_info("cifar10", {cifar10.ARCHIVE: cifar10.ARCHIVE_SHA256}, {cifar10.ARCHIVE: cifar10.URLS},
                         cifar10.cache_path(), verify, title=cifar10.title, shape=(3, 32, 32), num_classes=10,
                         class_names=cifar10.class_names, train_size=50000, test_size=10000, label_shape=(1,),
                         homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
                         license="no licence stated; cite Krizhevsky (2009)"),
    ]


def info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of one dataset (names as in :func:`load`)."""
    key = _normalise(name)
    for record in available():
        if record.name == key:
            return record
    raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_names())}")


def load(name: str, path: Optional[str] = None, download: bool = True) -> tuple:
    """``((x_train, y_train), (x_test, y_test))`` of a dataset, exactly as its module's ``load_data`` gives it.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` (or ``"fashion-mnist"``) or ``"cifar10"`` (or ``"cifar-10"``).
        path: a local directory holding the dataset's files; nothing is downloaded then.
        download: False (or ``CNNKIT_OFFLINE=1``) never touches the network. MNIST is embedded and
            never downloaded.

    Raises:
        ValueError: for an unknown name.
        DatasetError: when the data is missing and cannot be fetched, or fails its checks.

    Example:
        >>> import cnnkit.datasets as ds
        >>> (x_train, y_train), (x_test, y_test) = ds.load("mnist")
        >>> x_train.shape, y_test.shape
        ((60000, 28, 28), (10000,))
    """
    key = _normalise(name)
    module = _names().get(key)
    if module is None:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(_names())}")
    if module is mnist:
        return mnist.load_data(path)
    return module.load_data(path, download=download)
