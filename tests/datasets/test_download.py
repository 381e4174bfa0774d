"""fetch()/ensure(): mirrors, SHA-256, truncation, timeouts, the lock and the offline message — all on loopback."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnnkit.datasets import DatasetError, DownloadError, cache_dir, fetch
from cnnkit.datasets.download import ensure, file_lock, file_sha256

PAYLOAD = bytes(range(256)) * 400  # 100 KiB, several read chunks
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def leftovers(directory: Path) -> list:
    return sorted(p.name for p in directory.iterdir() if ".part-" in p.name)


def test_file_url_download_verifies_and_renames(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "sub" / "data.bin"
    assert fetch([source.as_uri()], str(dest), DIGEST, progress=False) == str(dest)
    assert dest.read_bytes() == PAYLOAD and leftovers(dest.parent) == []
    source.unlink()  # a verified file already in place is kept: no second download
    assert fetch([source.as_uri()], str(dest), DIGEST, progress=False) == str(dest)


def test_mirror_fallback_after_404_and_unreachable(tmp_path, server, closed_port_url):
    server.serve("/good/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    urls = [server.url("/missing/data.bin"), closed_port_url + "data.bin", server.url("/good/data.bin")]
    fetch(urls, str(dest), DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.hits == {"/missing/data.bin": 1, "/good/data.bin": 1}


def test_hash_mismatch_tries_next_mirror_then_names_file_expected_and_got(tmp_path, server):
    wrong = PAYLOAD[::-1]
    server.serve("/a/data.bin", wrong)
    server.serve("/b/data.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    fetch([server.url("/a/data.bin"), server.url("/b/data.bin")], str(dest), DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD

    other = tmp_path / "other.bin"
    with pytest.raises(DownloadError) as caught:
        fetch([server.url("/a/data.bin")], str(other), DIGEST, progress=False)
    message = str(caught.value)
    assert "other.bin" in message and f"expected {DIGEST}" in message
    assert f"got {hashlib.sha256(wrong).hexdigest()}" in message
    assert not other.exists() and leftovers(tmp_path) == []
    assert caught.value.attempts[0][0] == server.url("/a/data.bin")


def test_truncated_download_is_discarded(tmp_path, server):
    server.serve("/cut.bin", PAYLOAD[:5000], declared_length=len(PAYLOAD))
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match=r"(?s)data\.bin: could not download.*cut\.bin: .*(truncated|IncompleteRead)"):
        fetch([server.url("/cut.bin")], str(dest), DIGEST, progress=False)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_stalled_server_times_out_and_next_mirror_is_used(tmp_path, server):
    server.serve("/slow.bin", PAYLOAD, delay=3.0)
    server.serve("/fast.bin", PAYLOAD)
    dest = tmp_path / "data.bin"
    start = time.monotonic()
    fetch([server.url("/slow.bin"), server.url("/fast.bin")], str(dest), DIGEST, timeout=0.3, progress=False)
    assert time.monotonic() - start < 2.5 and dest.read_bytes() == PAYLOAD


def test_bad_existing_file_is_replaced_only_by_a_verified_copy(tmp_path, server):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"stale")
    with pytest.raises(DownloadError):
        fetch([server.url("/nothing.bin")], str(dest), DIGEST, progress=False)
    assert dest.read_bytes() == b"stale"  # a failed download leaves what was there
    server.serve("/ok.bin", PAYLOAD)
    fetch([server.url("/ok.bin")], str(dest), DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_two_threads_one_download(tmp_path, server):
    server.serve("/data.bin", PAYLOAD, delay=0.4)
    dest = tmp_path / "data.bin"
    results, errors = [], []

    def worker():
        try:
            results.append(fetch([server.url("/data.bin")], str(dest), DIGEST, progress=False))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and results == [str(dest)] * 3
    assert server.hits["/data.bin"] == 1  # the others waited on the lock and found the file done
    assert dest.read_bytes() == PAYLOAD and leftovers(tmp_path) == []


def test_another_process_holding_the_lock_makes_fetch_wait(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(PAYLOAD)
    dest = tmp_path / "data.bin"
    code = ("import sys, time; from cnnkit.datasets.download import file_lock\n"
            "with file_lock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(1.0)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(dest) + ".lock"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        fetch([source.as_uri()], str(dest), DIGEST, progress=False)
        waited = time.monotonic() - start
    finally:
        holder.wait(10)
    assert waited > 0.5 and dest.read_bytes() == PAYLOAD


def test_lock_timeout_says_what_to_do(tmp_path):
    lock = str(tmp_path / "x.lock")
    with file_lock(lock):
        result = {}

        def other():
            try:
                with file_lock(lock, timeout=0.2):
                    result["got"] = True
            except DatasetError as error:
                result["error"] = str(error)

        t = threading.Thread(target=other)
        t.start()
        t.join(5)
    assert "got" not in result and "delete the lock file" in result["error"]


def test_offline_environment_never_touches_the_network(tmp_path, server, monkeypatch):
    server.serve("/data.bin", PAYLOAD)
    monkeypatch.setenv("CNNKIT_OFFLINE", "1")
    with pytest.raises(DownloadError, match="CNNKIT_OFFLINE"):
        fetch([server.url("/data.bin")], str(tmp_path / "data.bin"), DIGEST, progress=False)
    files = {"data.bin": DIGEST}
    with pytest.raises(DatasetError) as caught:
        ensure("Toy", str(tmp_path / "toy"), files, {"data.bin": [server.url("/data.bin")]}, loader="toy.load_data")
    assert server.hits == {}
    message = str(caught.value)
    assert "downloads are off (CNNKIT_OFFLINE is set)" in message
    assert "data.bin" in message and DIGEST in message and str(tmp_path / "toy") in message
    assert "toy.load_data(path=DIR)" in message


def test_unreachable_message_lists_every_file_hash_and_directory(tmp_path, closed_port_url):
    files = {"a.gz": "1" * 64, "b.gz": "2" * 64}
    urls = {name: [closed_port_url + name] for name in files}
    directory = str(tmp_path / "cache" / "toy")
    with pytest.raises(DatasetError) as caught:
        ensure("Toy", directory, files, urls, loader="toy.load_data", progress=False)
    message = str(caught.value)
    assert message.startswith("Toy could not be downloaded: this machine looks offline")
    assert "unreachable" in message
    for name, digest in files.items():
        assert name in message and digest in message and closed_port_url + name in message
    assert f"put them in {directory}" in message and "toy.load_data(path=DIR)" in message
    with pytest.raises(DatasetError, match=r"downloads are off \(download=False\)"):
        ensure("Toy", directory, files, urls, download=False)


def test_ensure_downloads_missing_and_keeps_verified(tmp_path, server):
    server.serve("/a", PAYLOAD)
    directory = tmp_path / "toy"
    directory.mkdir()
    (directory / "b").write_bytes(b"bee")
    files = {"a": DIGEST, "b": hashlib.sha256(b"bee").hexdigest()}
    paths = ensure("Toy", str(directory), files, {"a": [server.url("/a")], "b": [server.url("/b")]}, progress=False)
    assert paths == {"a": str(directory / "a"), "b": str(directory / "b")}
    assert server.hits == {"/a": 1} and file_sha256(paths["a"]) == DIGEST


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    assert cache_dir() == str(tmp_path)
    monkeypatch.delenv("CNNKIT_DATA")
    assert cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "cnnkit")


def test_unwritable_cache_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"file/sub: cannot write the download cache here.*set CNNKIT_DATA"):
        fetch(["file:///x"], str(blocker / "sub" / "data.bin"), DIGEST, progress=False)


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    from cnnkit.datasets import download

    def interrupted(url, tmp, *args):
        Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(download, "_stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch(["file:///x"], str(tmp_path / "data.bin"), DIGEST, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin.lock"]
    with file_lock(str(tmp_path / "data.bin.lock"), timeout=0.1):
        pass  # and the lock was released


def test_once_nothing_answers_the_other_files_are_not_attempted(tmp_path, closed_port_url, server):
    server.serve("/b", PAYLOAD)
    files = {"a": DIGEST, "b": DIGEST}
    with pytest.raises(DatasetError) as caught:
        ensure("Toy", str(tmp_path), files, {"a": [closed_port_url + "a"], "b": [server.url("/b")]}, progress=False)
    assert server.hits == {} and "b\n      sha256" in str(caught.value)
