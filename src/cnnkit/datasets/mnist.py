"""MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0) as Keras gives it: uint8 arrays.

The files are looked for, in order, in: the ``path`` argument, ``$CNNKIT_DATA/mnist``, the copy
embedded in the package (``cnnkit/datasets/data/mnist``, about 11 MB, with its licence note), and
the ``shared/data/mnist`` folder beside a development checkout. Every load verifies the SHA-256
of each file's uncompressed bytes.
"""

from __future__ import annotations

import os
from typing import Optional

from cnnkit.datasets.download import cache_dir
from cnnkit.datasets.idx import DatasetError, read_idx

title = "MNIST"

class_names = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")

# SHA-256 of the uncompressed canonical files (they match the published originals).
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def _candidates(path: Optional[str]) -> list:
    if path:  # a folder named by the user is the only place looked at: no silent fallback elsewhere
        return [os.path.normpath(os.path.expanduser(path))]
    places = []
    if os.environ.get("CNNKIT_DATA"):
        # cache_dir() expands ``~`` and makes the path absolute, as for the downloaded datasets.
        places.append(os.path.join(cache_dir(), "mnist"))
    here = os.path.dirname(os.path.abspath(__file__))
    places.append(os.path.join(here, "data", "mnist"))  # embedded: works offline right after install
    package = os.path.dirname(here)
    places.append(os.path.join(package, "..", "..", "..", "shared", "data", "mnist"))
    return [os.path.normpath(p) for p in places]


def _find(directory: str, stem: str) -> Optional[str]:
    for name in (stem + ".gz", stem):
        candidate = os.path.join(directory, name)
        if os.path.exists(candidate):
            return candidate
    return None


def load_data(path: Optional[str] = None) -> tuple:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000/10000, 28, 28) and uint8 labels.

    Args:
        path: a directory holding the four IDX files (``.gz`` or not); when given, it is the only place searched.

    Raises:
        DatasetError: listing the files needed and every place searched when they are not found,
            or naming the file and the problem when one is malformed or fails its checksum.

    Example:
        >>> from cnnkit.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
        >>> x_train.shape, x_train.dtype.name, y_test[:5].tolist()
        ((60000, 28, 28), 'uint8', [7, 2, 1, 0, 4])
    """
    places = _candidates(path)
    for directory in places:
        found = {stem: _find(directory, stem) for stem in FILES}
        if all(found.values()):
            break
    else:
        raise DatasetError(
            "MNIST files not found. Put these four files (gzip-compressed or not) in one directory and pass it "
            "as load_data(path=...) or set CNNKIT_DATA to its parent (files in $CNNKIT_DATA/mnist):\n  "
            + "\n  ".join(f"{stem}  (SHA-256 of the uncompressed file: {digest})" for stem, digest in FILES.items())
            + "\nSearched: " + ", ".join(places))
    arrays = {stem: read_idx(found[stem], FILES[stem], max_label=9 if "labels" in stem else None) for stem in FILES}
    x_train, y_train = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    x_test, y_test = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(f"MNIST {split}: {images.shape} images do not match {labels.shape} labels")
    return (x_train, y_train), (x_test, y_test)
