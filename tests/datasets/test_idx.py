"""The strict IDX reader and the MNIST loader: real files and every kind of malformed one."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest

import cnnkit.datasets as ds
from cnnkit.datasets import DatasetError, mnist, read_idx


def idx_bytes(array: np.ndarray, dtype_byte: int = 0x08) -> bytes:
    header = bytes([0, 0, dtype_byte, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, compress: bool = False) -> str:
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)
    return str(path)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype, byte", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
                                         (np.float32, 0x0D), (np.float64, 0x0E)])
def test_round_trip_every_dtype(tmp_path, compress, dtype, byte):
    array = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    path = write(tmp_path / "a.idx", idx_bytes(array, byte), compress)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_checksum_and_labels(tmp_path):
    labels = np.array([0, 3, 9], np.uint8)
    data = idx_bytes(labels)
    path = write(tmp_path / "labels.idx", data)
    assert read_idx(path, hashlib.sha256(data).hexdigest(), max_label=9).tolist() == [0, 3, 9]
    with pytest.raises(DatasetError, match=r"labels\.idx: SHA-256 of the uncompressed data does not match"):
        read_idx(path, "0" * 64)
    bad = write(tmp_path / "bad.idx", idx_bytes(np.array([0, 10], np.uint8)))
    with pytest.raises(DatasetError, match=r"bad\.idx: label 10 is outside 0\.\.9"):
        read_idx(bad, max_label=9)


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"\x01" + b[1:], r"magic number must start with two zero bytes"),
    (lambda b: b[:2] + b"\x07" + b[3:], r"unknown IDX dtype byte 0x07"),
    (lambda b: b[:-1], r"payload holds 23 bytes but dimensions \(2, 3, 4\) of uint8 need 24"),
    (lambda b: b + b"\x00", r"payload holds 25 bytes"),
    (lambda b: b[:6], r"declares 3 dimensions but the file ends after 6 bytes"),
    (lambda b: b"", r"not an IDX file.*an empty file"),
])
def test_malformed_files_name_the_file_and_the_field(tmp_path, mutate, message):
    data = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    path = write(tmp_path / "broken.idx", mutate(data))
    with pytest.raises(DatasetError, match=rf"broken\.idx: .*{message}"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.zeros((50, 50), np.uint8)))
    path = write(tmp_path / "cut.gz", packed[: len(packed) // 2])
    with pytest.raises(DatasetError, match=r"cut\.gz: the gzip stream is truncated or corrupted"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"nothing\.idx: cannot read the file"):
        read_idx(str(tmp_path / "nothing.idx"))


def test_mnist_not_found_lists_files_hashes_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    monkeypatch.setattr(mnist, "_candidates", lambda path: [str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(DatasetError, match=r"(?s)MNIST files not found.*train-images-idx3-ubyte.*ba891046.*Searched: "):
        mnist.load_data()


def test_mnist_from_a_directory_of_small_valid_files_fails_checksum(tmp_path):
    for stem in mnist.FILES:
        shape = (2, 28, 28) if "images" in stem else (2,)
        write(tmp_path / stem, idx_bytes(np.zeros(shape, np.uint8)))
    with pytest.raises(DatasetError, match=r"SHA-256 of the uncompressed data does not match"):
        mnist.load_data(str(tmp_path))


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist")


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="the canonical MNIST files are not beside this checkout")
def test_real_mnist_loads_as_keras_gives_it():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y_train).tolist()[:3] == [5923, 6742, 5958]


def test_mnist_is_embedded_in_the_package(monkeypatch):
    monkeypatch.delenv("CNNKIT_DATA", raising=False)
    embedded = mnist._candidates(None)[0]
    assert embedded.endswith(os.path.join("cnnkit", "datasets", "data", "mnist"))
    assert sorted(f for f in os.listdir(embedded) if f.endswith(".gz")) == sorted(f + ".gz" for f in mnist.FILES)
    assert "CC BY-SA 3.0" in open(os.path.join(embedded, "README.md")).read()
    (x_train, _), (x_test, _) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)


def test_mnist_looks_in_cnnkit_data_with_a_tilde_like_the_other_datasets(tmp_path, monkeypatch):
    embedded = mnist._candidates(None)[-2]
    (tmp_path / "data").mkdir()
    os.symlink(embedded, tmp_path / "data" / "mnist")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CNNKIT_DATA", "~/data")
    assert mnist._candidates(None)[0] == str(tmp_path / "data" / "mnist")
    record = ds.info("mnist")
    assert (record.status, record.location) == ("cached", str(tmp_path / "data" / "mnist"))


def test_an_explicit_folder_without_the_files_is_an_error_not_a_fallback(tmp_path):
    from cnnkit.datasets import mnist

    with pytest.raises(DatasetError, match="MNIST files not found") as info:
        mnist.load_data(path=str(tmp_path))
    assert f"Searched: {tmp_path}" in str(info.value)
