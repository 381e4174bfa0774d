"""Fashion-MNIST and CIFAR-10 loaders and the registry, on small files generated in the exact formats."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import numpy as np
import pytest

import cnnkit.datasets as ds
from cnnkit.datasets import DatasetError, cifar10, fashion_mnist

RECORDS = 3  # records per generated CIFAR batch (the real files hold 10,000)


# ---------------------------------------------------------------- generators (written from the format specs)

def idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def cifar_record(label: int, image) -> bytes:
    """One 3,073-byte record: the label, then the red plane, green plane, blue plane, each row by row."""
    planes = [image[r][c][ch] for ch in range(3) for r in range(32) for c in range(32)]
    return bytes([label]) + bytes(int(v) for v in planes)


def cifar_batches(seed: int = 0) -> tuple:
    """Six batches: name -> bytes, plus the images (channels-last) and labels each should decode to."""
    rng = np.random.default_rng(seed)
    blobs, images, labels = {}, {}, {}
    for name in cifar10.BIN_SHA256:
        images[name] = rng.integers(0, 256, (RECORDS, 32, 32, 3), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, RECORDS, dtype=np.uint8)
        blobs[name] = b"".join(cifar_record(int(y), x.tolist()) for x, y in zip(images[name], labels[name]))
    return blobs, images, labels


def tar_gz(members: list) -> bytes:
    """members: (name, bytes) for files, or (name, None, linkname) for a symlink."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for entry in members:
            info = tarfile.TarInfo(entry[0])
            if entry[1] is None:
                info.type, info.linkname = tarfile.SYMTYPE, entry[2]
                tar.addfile(info)
            else:
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return out.getvalue()


def archive_members(blobs: dict) -> list:
    names = "\n".join(cifar10.class_names).encode() + b"\n\n"
    return [(f"cifar-10-batches-bin/{n}", b) for n, b in blobs.items()] + [("cifar-10-batches-bin/batches.meta.txt", names)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def small_cifar(monkeypatch):
    blobs, images, labels = cifar_batches()
    monkeypatch.setattr(cifar10, "RECORDS_PER_FILE", RECORDS)
    monkeypatch.setattr(cifar10, "BIN_SHA256", {name: sha(b) for name, b in blobs.items()})
    archive = tar_gz(archive_members(blobs))
    monkeypatch.setattr(cifar10, "ARCHIVE_SHA256", sha(archive))
    return blobs, images, labels, archive


def expected_cifar(images: dict, labels: dict) -> tuple:
    train = [f"data_batch_{i}.bin" for i in range(1, 6)]
    return ((np.concatenate([images[n] for n in train]), np.concatenate([labels[n] for n in train])[:, None]),
            (images["test_batch.bin"], labels["test_batch.bin"][:, None]))


def assert_same(got: tuple, want: tuple) -> None:
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.dtype == gy.dtype == np.uint8
        assert gx.shape == wx.shape and gy.shape == wy.shape
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)


# ---------------------------------------------------------------- CIFAR-10 reader

def test_full_size_batch_decodes_channels_last():
    image = np.arange(32 * 32 * 3).reshape(32, 32, 3) % 251
    data = cifar_record(7, image.tolist()) + bytes(3073 * 9999)
    x, y = cifar10.read_batch(data, "one.bin")
    assert x.shape == (10000, 32, 32, 3) and y.shape == (10000,) and x.dtype == y.dtype == np.uint8
    np.testing.assert_array_equal(x[0], image)
    assert y[0] == 7 and x[0, 0, 1].tolist() == [3, 4, 5] and not x[1:].any()


@pytest.mark.parametrize("cut, message", [
    (-1, r"30729999 bytes \(9999 records and 3072 stray bytes\).*exactly 10000 records x 3073 bytes = 30730000"),
    (1, r"30730001 bytes \(10000 records and 1 stray bytes\)"),
    (-3073, r"30726927 bytes \(9999 records\)"),
])
def test_batch_length_must_be_exact(cut, message):
    data = bytes(10000 * 3073 + cut)
    with pytest.raises(DatasetError, match=rf"^bad\.bin: holds {message}"):
        cifar10.read_batch(data, "bad.bin")


def test_label_out_of_range_names_file_and_record(tmp_path):
    data = bytearray(bytes(3073 * 4))
    data[2 * 3073] = 10
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"data_batch_1\.bin: record 2 has label 10, outside 0\.\.9"):
        cifar10.read_batch_file(str(path), records=4)
    with pytest.raises(DatasetError, match=r"nope\.bin: cannot read the file"):
        cifar10.read_batch_file(str(tmp_path / "nope.bin"))


# ---------------------------------------------------------------- CIFAR-10 loader: local directories

def test_load_from_a_directory_with_the_archive(tmp_path, small_cifar):
    blobs, images, labels, archive = small_cifar
    (tmp_path / cifar10.ARCHIVE).write_bytes(archive)
    want = expected_cifar(images, labels)
    assert_same(cifar10.load_data(str(tmp_path)), want)
    assert_same(cifar10.load_data(str(tmp_path / cifar10.ARCHIVE)), want)  # the archive's own path works too
    assert sorted(os.listdir(tmp_path)) == [cifar10.ARCHIVE]  # read in memory: nothing extracted


@pytest.mark.parametrize("sub", ["", "cifar-10-batches-bin"])
def test_load_from_extracted_bin_files(tmp_path, small_cifar, sub):
    blobs, images, labels, _ = small_cifar
    folder = tmp_path / sub
    folder.mkdir(exist_ok=True)
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    assert_same(cifar10.load_data(str(tmp_path)), expected_cifar(images, labels))


def test_bin_file_with_wrong_hash(tmp_path, small_cifar):
    blobs = small_cifar[0]
    for name, data in blobs.items():
        (tmp_path / name).write_bytes(data)
    changed = bytearray(blobs["data_batch_3.bin"])
    changed[100] ^= 1
    (tmp_path / "data_batch_3.bin").write_bytes(bytes(changed))
    with pytest.raises(DatasetError, match=rf"data_batch_3\.bin: SHA-256 is {sha(bytes(changed))}, "
                                           rf"expected {sha(blobs['data_batch_3.bin'])}"):
        cifar10.load_data(str(tmp_path))
    (tmp_path / "data_batch_3.bin").write_bytes(bytes(changed[:-5]))  # a wrong layout is named as such
    with pytest.raises(DatasetError, match=r"data_batch_3\.bin: holds 9214 bytes"):
        cifar10.load_data(str(tmp_path))


def test_archive_with_wrong_hash_and_missing_data(tmp_path, small_cifar):
    (tmp_path / cifar10.ARCHIVE).write_bytes(small_cifar[3][:-10])
    with pytest.raises(DatasetError, match=r"cifar-10-binary\.tar\.gz: SHA-256 is [0-9a-f]{64}, expected"):
        cifar10.load_data(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "test_batch.bin").write_bytes(b"")
    with pytest.raises(DatasetError) as caught:
        cifar10.load_data(str(empty))
    message = str(caught.value)
    assert "cifar-10-binary.tar.gz (sha256 " in message and "test_batch.bin  sha256" in message
    assert "(present)" in message and "data_batch_1.bin" in message and "python version" in message


def test_archive_members_strictly_checked(tmp_path, small_cifar):
    blobs = small_cifar[0]
    members = archive_members(blobs)

    def check(entries, message):
        path = tmp_path / "a.tar.gz"
        path.write_bytes(tar_gz(entries))
        with pytest.raises(DatasetError, match=message):
            cifar10.read_archive(str(path))

    check(members[1:], r"a\.tar\.gz: the archive lacks cifar-10-batches-bin/data_batch_1\.bin; it is not the "
                       r"CIFAR-10 binary version")
    check(members + members[:1], r"holds cifar-10-batches-bin/data_batch_1\.bin more than once")
    check([("cifar-10-batches-bin/data_batch_1.bin", None, "/etc/passwd")] + members[1:], r"not a regular file")
    packed = tar_gz(members)
    (tmp_path / "cut.tar.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DatasetError, match=r"cut\.tar\.gz: not a readable tar\.gz archive"):
        cifar10.read_archive(str(tmp_path / "cut.tar.gz"))


def test_hostile_member_names_are_never_written(tmp_path, small_cifar):
    blobs = small_cifar[0]
    hostile = [("../escaped.bin", b"x"), ("/tmp/absolute-cnnkit-test.bin", b"x"),
               ("cifar-10-batches-bin/../../escaped2.bin", b"x")]
    path = tmp_path / "inner" / "a.tar.gz"
    path.parent.mkdir()
    path.write_bytes(tar_gz(hostile + archive_members(blobs)))
    got = cifar10.read_archive(str(path))
    assert sorted(got) == sorted(blobs) and got["test_batch.bin"] == blobs["test_batch.bin"]
    assert sorted(os.listdir(tmp_path)) == ["inner"] and os.listdir(path.parent) == ["a.tar.gz"]


# ---------------------------------------------------------------- downloads into the cache

def test_cifar_downloads_into_the_cache_once(tmp_path, small_cifar, monkeypatch):
    blobs, images, labels, archive = small_cifar
    served = tmp_path / "served" / cifar10.ARCHIVE
    served.parent.mkdir()
    served.write_bytes(archive)
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    monkeypatch.setattr(cifar10, "URLS", (served.as_uri(),))
    want = expected_cifar(images, labels)
    assert_same(ds.load("cifar-10"), want)
    cached = tmp_path / "cache" / "cifar10" / cifar10.ARCHIVE
    assert cached.read_bytes() == archive
    served.unlink()
    assert_same(cifar10.load_data(download=False), want)
    record = ds.info("cifar10")
    assert record.status == "cached" and record.location == str(cached.parent)


def test_fashion_mnist_mirror_fallback_then_offline_reload(tmp_path, monkeypatch, closed_port_url):
    rng = np.random.default_rng(1)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 5, dtype=np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": np.array([9, 0], np.uint8)}
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = {}
    for name, array in arrays.items():
        (mirror / name).write_bytes(idx_gz(array))
        files[name] = sha((mirror / name).read_bytes())
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    monkeypatch.setattr(fashion_mnist, "MIRRORS", (closed_port_url, mirror.as_uri() + "/"))
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNKIT_OFFLINE", raising=False)
    assert ds.info("fashion_mnist").status == "missing"
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, [9, 0])
    assert x_train.shape == (5, 28, 28) and y_train.shape == (5,) and x_test.dtype == np.uint8
    assert fashion_mnist.class_names[y_test[0]] == "Ankle boot"
    assert sorted(os.listdir(tmp_path / "cache" / "fashion_mnist")) == sorted(
        list(files) + [n + ".lock" for n in files])
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    (x2, _), _ = ds.load("fashion-mnist")
    np.testing.assert_array_equal(x2, x_train)
    assert ds.available(verify=True)[1].verified is True
    # A local directory is used as it is, checked file by file.
    (x3, _), _ = fashion_mnist.load_data(str(mirror))
    np.testing.assert_array_equal(x3, x_train)
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(idx_gz(np.array([9, 1], np.uint8)))
    with pytest.raises(DatasetError, match=r"(?s)t10k-labels-idx1-ubyte\.gz: SHA-256 is [0-9a-f]{64}, expected "
                                           + files["t10k-labels-idx1-ubyte.gz"]):
        fashion_mnist.load_data(str(mirror))


def test_fashion_mnist_offline_message_lists_the_real_files(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetError) as caught:
        fashion_mnist.load_data(download=False)
    message = str(caught.value)
    assert "downloads are off (download=False)" in message
    for name, digest in fashion_mnist.FILES.items():
        assert f"{name}\n      sha256 {digest}" in message
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz" in message
    assert f"put them in {tmp_path / 'fashion_mnist'}" in message and "fashion_mnist.load_data(path=DIR)" in message
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz: missing \(only the uncompressed file"):
        fashion_mnist.load_data(str(tmp_path))


def test_published_hashes_are_well_formed():
    digests = list(fashion_mnist.FILES.values()) + list(cifar10.BIN_SHA256.values()) + [cifar10.ARCHIVE_SHA256]
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests) and len(set(digests)) == len(digests)


# ---------------------------------------------------------------- registry and keras.datasets

def test_available_describes_every_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    records = {r.name: r for r in ds.available()}
    assert list(records) == ["mnist", "fashion_mnist", "cifar10"]
    assert records["mnist"].status == "embedded" and records["mnist"].location.endswith(os.path.join("data", "mnist"))
    assert records["cifar10"].shape == (3, 32, 32) and records["cifar10"].label_shape == (1,)
    assert records["fashion_mnist"].shape == (1, 28, 28) and records["fashion_mnist"].num_classes == 10
    assert records["fashion_mnist"].status == "missing" and records["fashion_mnist"].location is None
    assert records["cifar10"].cache_path == str(tmp_path / "cifar10")
    assert [f.name for f in records["cifar10"].files] == ["cifar-10-binary.tar.gz"]
    assert records["cifar10"].files[0].sha256 == cifar10.ARCHIVE_SHA256
    assert records["mnist"].files[0].hashed == "uncompressed" and records["mnist"].files[0].urls == ()
    assert records["cifar10"].class_names[0] == "airplane" and records["cifar10"].class_names[9] == "truck"
    json.dumps([r.as_dict() for r in records.values()])  # plain data for `cnnkit datasets --json`
    assert ds.cache_dir() == str(tmp_path)


def test_load_by_name(tmp_path, monkeypatch):
    (x, y), _ = ds.load("MNIST")
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'; available: mnist, fashion_mnist, cifar10"):
        ds.load("imagenet")
    for bad in (None, 10):
        with pytest.raises(TypeError, match=rf"dataset name must be a string, one of mnist, .*; got {bad}"):
            ds.load(bad)
        with pytest.raises(TypeError, match="dataset name must be a string"):
            ds.info(bad)
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetError, match="CIFAR-10 is not in the cache and downloads are off"):
        ds.load("cifar10", download=False)


def test_keras_datasets_are_the_same_modules():
    from cnnkit import keras

    assert keras.datasets.mnist is ds.mnist
    assert keras.datasets.fashion_mnist is ds.fashion_mnist and keras.datasets.cifar10 is ds.cifar10
