"""CIFAR-10 (Krizhevsky, 2009) from its official *binary* version, as Keras gives it: uint8, channels-last.

The archive ``cifar-10-binary.tar.gz`` holds ``cifar-10-batches-bin/`` with five training files
``data_batch_1.bin`` .. ``data_batch_5.bin`` and ``test_batch.bin``: each exactly 10,000 records of
3,073 bytes, a label byte 0..9 followed by a 32x32 image as three 1,024-byte planes (red, green, blue),
rows top to bottom. The pickled "python version" is never read (no pickle for anything a user loads).

On first use the archive is downloaded into ``$CNNKIT_DATA/cifar10`` (default ``~/.cache/cnnkit/cifar10``)
and read from there on each load (its members are read in memory; nothing is extracted).
A local directory may hold the archive or the extracted ``.bin`` files instead.

Labels come back with shape ``(N, 1)``, as ``keras.datasets.cifar10.load_data()`` gives them
(use ``y.ravel()`` or ``y[:, 0]`` for a flat vector); images are ``(N, 32, 32, 3)``.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from typing import Optional

import numpy as np

from cnnkit.datasets import download as _download
from cnnkit.datasets.idx import DatasetError

title = "CIFAR-10"

class_names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

ARCHIVE = "cifar-10-binary.tar.gz"
# SHA-256 of the archive as served by the University of Toronto (170,052,171 bytes); it is the value in
# TensorFlow Datasets' checksum registry, and independent projects report the same digest beside the
# archive's published MD5 c32a1d4ab5d03f1284b67883e8d87530 (torchvision's value).
ARCHIVE_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
URLS = ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",)  # no mirror of the binary version is known

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
# SHA-256 of the extracted files, for a local directory of .bin files: as recorded by torchvision-ruby
# (ankane/torchvision-ruby, lib/torchvision/datasets/cifar10.rb); the test_batch.bin value is also
# reported independently for the 30,730,000-byte official file.
BIN_SHA256 = {
    "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
}

RECORDS_PER_FILE = 10000
RECORD_BYTES = 1 + 3 * 32 * 32


def cache_path() -> str:
    """Where the archive is downloaded: ``<cache_dir()>/cifar10``."""
    return os.path.join(_download.cache_dir(), "cifar10")


def read_batch(data: bytes, source: str, records: Optional[int] = None) -> tuple:
    """Decode one binary batch: ``(images (N, 32, 32, 3) uint8, labels (N,) uint8)``.

    Args:
        data: the file's bytes.
        source: the file's name or path, for messages.
        records: the exact number of records required (default :data:`RECORDS_PER_FILE`).

    Raises:
        DatasetError: naming ``source`` when the length is not ``records`` x 3,073 bytes or a label
            is outside 0..9.
    """
    records = RECORDS_PER_FILE if records is None else records
    if len(data) != records * RECORD_BYTES:
        whole, rest = divmod(len(data), RECORD_BYTES)
        shape = f"{whole} records" + (f" and {rest} stray bytes" if rest else "")
        raise DatasetError(f"{source}: holds {len(data)} bytes ({shape}) but a CIFAR-10 binary batch is exactly "
                           f"{records} records x {RECORD_BYTES} bytes = {records * RECORD_BYTES}: the file is "
                           "truncated or not a CIFAR-10 binary batch (the pickled 'python version' is not supported)")
    table = np.frombuffer(data, np.uint8).reshape(records, RECORD_BYTES)
    labels = table[:, 0].copy()
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DatasetError(f"{source}: record {bad[0]} has label {labels[bad[0]]}, outside 0..9 "
                           "(the file is corrupted or not CIFAR-10; CIFAR-100's layout differs)")
    # Each record stores planes R, G, B of 32x32; Keras hands out channels-last.
    images = np.ascontiguousarray(table[:, 1:].reshape(records, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels


def read_batch_file(path: str, records: Optional[int] = None) -> tuple:
    """:func:`read_batch` on a file; a missing or unreadable file raises :class:`DatasetError` naming it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    return read_batch(data, path, records)


def read_archive(path: str) -> dict:
    """The six ``.bin`` members of ``cifar-10-binary.tar.gz`` as bytes: file name -> bytes.

    Only the expected member names are read, through ``TarFile.extractfile`` into memory, so no name
    in the archive ever becomes a path on disk (no traversal, links or devices can be created).

    Raises:
        DatasetError: naming the archive when it is not a readable tar.gz, a member is missing,
            duplicated or not a regular file.
    """
    import tarfile  # only needed when an archive is read

    wanted = {f"{FOLDER}/{name}": name for name in BIN_SHA256}
    members: dict = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None:
                    continue  # batches.meta.txt, readme.html: not needed (class_names is a constant)
                if name in members:
                    raise DatasetError(f"{path}: the archive holds {member.name} more than once")
                if not member.isfile():
                    raise DatasetError(f"{path}: {member.name} is not a regular file in the archive")
                handle = tar.extractfile(member)
                members[name] = handle.read() if handle is not None else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable tar.gz archive ({error}); the file is truncated or corrupted, "
                           f"delete it and load again") from None
    missing = [f"{FOLDER}/{name}" for name in BIN_SHA256 if name not in members]
    if missing:
        raise DatasetError(f"{path}: the archive lacks {', '.join(missing)}; it is not the CIFAR-10 binary version "
                           f"({ARCHIVE} from {URLS[0]})")
    return members


def load_data(path: Optional[str] = None, download: bool = True) -> tuple:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (50000/10000, 32, 32, 3), uint8 labels (N, 1).

    Args:
        path: a directory holding ``cifar-10-binary.tar.gz``, or the six extracted ``.bin`` files
            (directly or in ``cifar-10-batches-bin/``), or the path of the archive itself; nothing is
            downloaded then. None uses the cache, downloading the archive when it is missing.
        download: False (or ``CNNKIT_OFFLINE=1``) never touches the network.

    Raises:
        DatasetError: when the data is missing and cannot be downloaded (the message lists the file,
            its SHA-256 and the folder to put it in), fails its SHA-256, or is malformed.

    Example:
        >>> from cnnkit.datasets import cifar10
        >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000, 1))
    """
    if path is None:
        found = _download.ensure(title, cache_path(), {ARCHIVE: ARCHIVE_SHA256}, {ARCHIVE: URLS}, download,
                                 loader="cifar10.load_data",
                                 note=f"DIR may also hold the six extracted .bin files of {FOLDER}/.")
        return _assemble(read_archive(found[ARCHIVE]), found[ARCHIVE])
    return _assemble(*_local(path))


def _local(path: str) -> tuple:
    """Find the data in a user's directory (or archive path): (file name -> bytes, where)."""
    archive = path if os.path.isfile(path) else os.path.join(path, ARCHIVE)
    for folder in (path, os.path.join(path, FOLDER)):
        if os.path.isdir(folder) and all(os.path.isfile(os.path.join(folder, n)) for n in BIN_SHA256):
            return {name: _verified(os.path.join(folder, name), digest) for name, digest in BIN_SHA256.items()}, folder
    if os.path.isfile(archive):
        got = _download.file_sha256(archive)
        if got != ARCHIVE_SHA256:
            raise DatasetError(f"{archive}: SHA-256 is {got}, expected {ARCHIVE_SHA256}: the archive is corrupted, "
                               f"truncated or not the CIFAR-10 binary version")
        return read_archive(archive), archive
    present = sorted(n for n in BIN_SHA256 if os.path.isfile(os.path.join(path, n))
                     or os.path.isfile(os.path.join(path, FOLDER, n))) if os.path.isdir(path) else []
    raise DatasetError(
        f"CIFAR-10 not found in {path}: it needs {ARCHIVE} (sha256 {ARCHIVE_SHA256}, from {URLS[0]}), "
        f"or all six extracted files in {path} or {os.path.join(path, FOLDER)}:\n  "
        + "\n  ".join(f"{n}  sha256 {d}" + ("  (present)" if n in present else "  (missing)")
                      for n, d in BIN_SHA256.items())
        + "\nOnly the binary version is read; the pickled 'python version' (cifar-10-python.tar.gz) is not.")


def _verified(path: str, digest: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    got = hashlib.sha256(data).hexdigest()
    if got != digest:
        # Say what is wrong with the layout too when it is plainly not a batch (more useful than a hash).
        read_batch(data, path)
        raise DatasetError(f"{path}: SHA-256 is {got}, expected {digest}: the file is corrupted or another version")
    return data


def _assemble(blobs: dict, where: str) -> tuple:
    """Decode the six batches into Keras's arrays, checking each one strictly."""
    def source(name: str) -> str:
        return os.path.join(where, name) if os.path.isdir(where) else f"{where}:{FOLDER}/{name}"

    per = RECORDS_PER_FILE
    x_train = np.empty((per * len(TRAIN_FILES), 32, 32, 3), np.uint8)
    y_train = np.empty((per * len(TRAIN_FILES), 1), np.uint8)
    for i, name in enumerate(TRAIN_FILES):  # filled in place: no second 150 MB copy from concatenating
        x_train[i * per:(i + 1) * per], y_train[i * per:(i + 1) * per, 0] = read_batch(blobs[name], source(name))
    x_test, labels = read_batch(blobs[TEST_FILE], source(TEST_FILE))
    return (x_train, y_train), (x_test, labels[:, None])
