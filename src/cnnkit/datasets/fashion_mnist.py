"""Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando Research; MIT licence) as Keras gives it: uint8 arrays.

Same IDX format and sizes as MNIST: 60,000 training and 10,000 test images of 28x28 grey pixels,
labels 0..9 (see :data:`class_names`). Not embedded in the package: the four ``.gz`` files are
downloaded on first use into ``$CNNKIT_DATA/fashion_mnist`` (default ``~/.cache/cnnkit/fashion_mnist``)
from Zalando's server, or its GitHub copy when that fails, and every load checks their SHA-256.
"""

from __future__ import annotations

import os
from typing import Optional

from cnnkit.datasets import download as _download
from cnnkit.datasets.idx import DatasetError, read_idx

title = "Fashion-MNIST"

class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# SHA-256 of the published .gz files (the current release, which replaced an early one with
# train/test duplicates). Cross-checked in several public projects, e.g. a dataset_info.py listing
# them beside Zalando's official MD5s (8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310, as in torchvision's FashionMNIST).
FILES = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}

# The official location first, then the copy in Zalando's GitHub repository.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)


def urls() -> dict:
    """File name -> the locations tried in order."""
    return {name: [base + name for base in MIRRORS] for name in FILES}


def cache_path() -> str:
    """Where downloads go: ``<cache_dir()>/fashion_mnist``."""
    return os.path.join(_download.cache_dir(), "fashion_mnist")


def load_data(path: Optional[str] = None, download: bool = True) -> tuple:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000/10000, 28, 28) and uint8 labels (N,).

    Args:
        path: a directory holding the four published ``.gz`` files; nothing is downloaded then.
            None uses the cache, downloading what is missing.
        download: False (or ``CNNKIT_OFFLINE=1``) never touches the network.

    Raises:
        DatasetError: when files are missing and cannot be downloaded (the message lists each file,
            its SHA-256 and the folder to put it in), fail their SHA-256, or are malformed.

    Example:
        >>> from cnnkit.datasets import fashion_mnist
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> fashion_mnist.class_names[y_train[0]]  # doctest: +SKIP
        'Ankle boot'
    """
    if path is None:
        found = _download.ensure(title, cache_path(), FILES, urls(), download, loader="fashion_mnist.load_data")
    else:
        found = local_files(path)
    arrays = {name: read_idx(found[name], max_label=9 if "labels" in name else None) for name in FILES}
    splits = []
    for split in ("train", "t10k"):
        images, labels = arrays[f"{split}-images-idx3-ubyte.gz"], arrays[f"{split}-labels-idx1-ubyte.gz"]
        # The SHA-256 already pins the content; this guards the invariant the arrays' users rely on.
        if (images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]
                or images.dtype != "uint8" or labels.dtype != "uint8"):
            raise DatasetError(f"Fashion-MNIST {split}: expected uint8 images (N, 28, 28) and labels (N,), "
                               f"got {images.dtype} {images.shape} and {labels.dtype} {labels.shape}")
        splits.append((images, labels))
    return tuple(splits)


def local_files(path: str) -> dict:
    """Check the four ``.gz`` files in a user's directory against their SHA-256; file name -> path."""
    found, problems = {}, []
    for name, digest in FILES.items():
        candidate = os.path.join(path, name)
        if not os.path.isfile(candidate):
            problems.append(f"  {name}: missing" + (" (only the uncompressed file is there: the published .gz "
                                                    "is what gets verified)" if os.path.isfile(candidate[:-3]) else ""))
            continue
        got = _download.file_sha256(candidate)
        if got != digest:
            problems.append(f"  {candidate}: SHA-256 is {got}, expected {digest} (corrupted or another version)")
            continue
        found[name] = candidate
    if problems:
        raise DatasetError(f"Fashion-MNIST in {path}:\n" + "\n".join(problems) + "\n"
                           + _download.manual_instructions(title, path, FILES, urls(), "fashion_mnist.load_data"))
    return found
