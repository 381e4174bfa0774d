"""A strict reader for LeCun's IDX format (MNIST, Fashion-MNIST), plain or gzip-compressed.

Layout: a 4-byte magic number (two zero bytes, a dtype byte, the number of dimensions), one
big-endian uint32 per dimension, then the data in C order. Every violation raises
:class:`DatasetError` naming the file and the field; nothing is ever loaded half-checked.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from typing import Optional

import numpy as np

_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DatasetError(ValueError):
    """A data file is missing, malformed or not the expected one; the message names the file."""


def read_idx(path: str, sha256: Optional[str] = None, max_label: Optional[int] = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into an array, checking every field.

    Args:
        path: the file.
        sha256: expected SHA-256 of the *uncompressed* bytes (None to skip).
        max_label: when given, every value must be in ``[0, max_label]`` (label files).

    Raises:
        DatasetError: on a missing file, truncated gzip, bad magic or dtype byte, a payload whose
            length disagrees with the dimensions, a checksum mismatch, or an out-of-range label.
    """
    name = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise DatasetError(f"{path}: the gzip stream is truncated or corrupted ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{path}: not an IDX file: the magic number must start with two zero bytes, "
                           f"got {raw[:4].hex() or 'an empty file'}")
    if raw[2] not in _DTYPES:
        raise DatasetError(f"{path}: unknown IDX dtype byte 0x{raw[2]:02x} (expected one of "
                           f"{', '.join(f'0x{k:02x}' for k in _DTYPES)})")
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0:
        raise DatasetError(f"{path}: the header declares 0 dimensions; an IDX file has at least one")
    if len(raw) < header:
        raise DatasetError(f"{path}: the header declares {ndim} dimensions but the file ends after {len(raw)} bytes")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims) * dtype.itemsize  # exact for any size (np.prod would overflow)
    if len(raw) - header != expected:
        raise DatasetError(f"{path}: the payload holds {len(raw) - header} bytes but dimensions {dims} of "
                           f"{dtype.name} need {expected}: the file is truncated or not {name}")
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise DatasetError(f"{path}: SHA-256 of the uncompressed data does not match the published value "
                           f"({sha256[:16]}...): the file is corrupted or a different version")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
    if max_label is not None and data.size:
        bad = data[~((data >= 0) & (data <= max_label))]  # NaN fails both comparisons
        if bad.size:
            raise DatasetError(f"{path}: label {bad[0]} is outside 0..{max_label}")
    return data
