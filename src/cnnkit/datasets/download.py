"""Downloads into the dataset cache: mirrors, a progress bar, SHA-256 checks, atomic writes and a lock.

A file is streamed to ``dest.part-<pid>``, hashed while it arrives, fsynced, and renamed over ``dest``
only when its SHA-256 matches; a mismatch or a short transfer deletes the temporary file and moves on
to the next mirror. ``dest.lock`` (``fcntl.flock``; ``msvcrt.locking`` on Windows) makes a second
process wait for the first one's download instead of starting its own. Only ``urllib`` is used.

The cache is ``$CNNKIT_DATA`` (default ``~/.cache/cnnkit``), one folder per dataset. ``download=False``
or ``CNNKIT_OFFLINE=1`` means the network is never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from typing import Iterator, Mapping, Optional, Sequence

from cnnkit.datasets.idx import DatasetError

try:  # POSIX: flock locks belong to an open file, so two threads of one process also exclude each other
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_CHUNK = 1 << 16


class DownloadError(DatasetError):
    """No location delivered the file with the expected SHA-256; ``attempts`` holds ``(url, reason)``."""

    def __init__(self, message: str, attempts: Sequence[tuple] = ()) -> None:
        super().__init__(message)
        self.attempts = list(attempts)


def cache_dir() -> str:
    """The dataset cache: ``$CNNKIT_DATA`` when set, else ``~/.cache/cnnkit`` (not created here)."""
    root = os.environ.get("CNNKIT_DATA")
    return os.path.abspath(os.path.expanduser(root)) if root else os.path.join(os.path.expanduser("~"), ".cache", "cnnkit")


def offline() -> bool:
    """True when ``CNNKIT_OFFLINE`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get("CNNKIT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks so large archives never sit in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: str, timeout: float = 3600.0, poll: float = 0.05) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing), waiting up to ``timeout`` seconds.

    The lock file is left in place: deleting it would let a third process lock a fresh file while
    a second still waits on the old one.

    Raises:
        DatasetError: when the lock is still held by someone else after ``timeout`` seconds.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline, told = time.monotonic() + timeout, False
    try:
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:  # pragma: no cover - Windows
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise DatasetError(f"{path}: another process has held this download lock for over {timeout:.0f} s; "
                                       "if no other cnnkit is downloading, delete the lock file and retry") from None
                if not told:
                    print(f"cnnkit: waiting for another download to finish (lock {path})", file=sys.stderr)
                    told = True
                time.sleep(poll)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                import msvcrt

                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)


def _stream(url: str, tmp: str, sha256: str, timeout: float, progress: bool, label: str) -> Optional[str]:
    """Download ``url`` into ``tmp``; None when it arrived whole with the right hash, else the reason."""
    import urllib.request  # here, not at module level: `import cnnkit` should not pay for http/ssl

    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "cnnkit"})
    digest, received = hashlib.sha256(), 0
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed dataset URLs
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with open(tmp, "wb") as f, tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                                        file=sys.stderr, disable=not progress, leave=False) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())  # the rename below must never publish bytes still in the page cache only
    if total is not None and received != total:
        return f"truncated download: received {received} of {total} bytes"
    got = digest.hexdigest()
    if got != sha256:
        return f"SHA-256 mismatch for {label}: expected {sha256}, got {got} ({received} bytes)"
    return None


def fetch(urls: Sequence[str], dest: str, sha256: str, *, timeout: float = 30.0, progress: bool = True,
          lock_timeout: float = 3600.0) -> str:
    """Download ``dest`` from the first of ``urls`` that delivers it with the expected SHA-256.

    Args:
        urls: the official location first, then mirrors (``http(s)://`` or ``file://``).
        dest: the final path; its folder is created. A file already there with the right hash is
            kept and nothing is downloaded; one with a wrong hash is replaced only by a verified copy.
        sha256: expected SHA-256 (hex) of the downloaded bytes.
        timeout: seconds a connection or a single read may stall before that mirror is abandoned.
        progress: show a tqdm progress bar on stderr.
        lock_timeout: seconds to wait for another process downloading the same file.

    Returns:
        ``dest``.

    Raises:
        DownloadError: when ``CNNKIT_OFFLINE`` is set, or no location delivered the right bytes; the
            message names the file, each URL and why it failed (for a bad hash: expected and got).

    Example:
        >>> fetch(["https://example.org/a.gz", "https://mirror.example.net/a.gz"], "/tmp/a.gz", "ab12...")  # doctest: +SKIP
    """
    import http.client

    name = os.path.basename(dest)
    if offline():
        raise DownloadError(f"{name}: not downloaded because CNNKIT_OFFLINE is set")
    folder = os.path.dirname(os.path.abspath(dest))
    with contextlib.ExitStack() as stack:
        try:
            os.makedirs(folder, exist_ok=True)
            stack.enter_context(file_lock(dest + ".lock", lock_timeout))
        except OSError as error:
            raise DatasetError(f"{folder}: cannot write the download cache here ({error.strerror or error}); "
                               "set CNNKIT_DATA to a writable directory") from None
        # Whoever held the lock before us may have just finished this very file.
        if os.path.isfile(dest) and file_sha256(dest) == sha256:
            return dest
        attempts = []
        tmp = f"{dest}.part-{os.getpid()}"
        for url in urls:
            try:
                reason = _stream(url, tmp, sha256, timeout, progress, name)
            except (OSError, http.client.HTTPException, ValueError) as error:  # URLError and timeouts are OSErrors
                reason = _describe(error, timeout)
            except BaseException:  # Ctrl-C mid-transfer: leave no partial file behind
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                raise
            if reason is None:
                os.replace(tmp, dest)
                _fsync_dir(folder)
                return dest
            attempts.append((url, reason))
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        lines = "\n".join(f"  {url}: {reason}" for url, reason in attempts) or "  (no URL given)"
        raise DownloadError(f"{name}: could not download it from any location:\n{lines}", attempts)


def _describe(error: BaseException, timeout: float) -> str:
    import urllib.error

    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, TimeoutError):
        return f"timed out (no data for {timeout:g} s)"
    return f"{type(error).__name__}: {error}"


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX); directories cannot be opened this way on Windows."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def ensure(title: str, directory: str, files: Mapping[str, str], urls: Mapping[str, Sequence[str]],
           download: bool = True, loader: str = "load_data", progress: bool = True, note: str = "") -> dict:
    """Make every file of a dataset present and verified in ``directory`` (the cache), downloading if allowed.

    Args:
        title: the dataset's name for messages, e.g. ``"Fashion-MNIST"``.
        directory: the cache folder for this dataset.
        files: file name -> expected SHA-256 of the file's bytes.
        urls: file name -> locations to try in order.
        download: False never touches the network (neither does ``CNNKIT_OFFLINE=1``).
        loader: how users call the loader, for the message (e.g. ``"fashion_mnist.load_data"``).
        progress: show a progress bar while downloading.
        note: a last line for the manual instructions (e.g. other accepted layouts).

    Returns:
        file name -> path.

    Raises:
        DatasetError: when a file is missing or fails its hash and cannot be downloaded; the message
            lists every needed file, its SHA-256 and where it comes from, and the exact folder to put it in.
    """
    paths, problems, unreachable = {}, [], False
    allowed = download and not offline()
    for name, digest in files.items():
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            got = file_sha256(path)
            if got == digest:
                paths[name] = path
                continue
            problems.append(f"  {path}: SHA-256 is {got}, expected {digest} (corrupted or another version)")
            if allowed:
                print(f"cnnkit: {path} fails its SHA-256 check; downloading a fresh copy", file=sys.stderr)
        if not allowed or unreachable:
            continue
        try:
            paths[name] = fetch(urls[name], path, digest, progress=progress)
        except DownloadError as error:
            problems.append("  " + str(error).replace("\n", "\n  "))
            # No location answered at all: the rest would only wait out the same timeouts.
            unreachable = bool(error.attempts) and all(reason.startswith(("unreachable", "timed out"))
                                                       for _, reason in error.attempts)
    if len(paths) == len(files):
        return paths
    if allowed:
        why = f"{title} could not be downloaded: this machine looks offline, or every location failed:"
    else:
        why = (f"{title} is not in the cache and downloads are off "
               f"({'CNNKIT_OFFLINE is set' if offline() else 'download=False'}).")
        if problems:
            why += "\nProblems found:"
    raise DatasetError(why + ("\n" + "\n".join(problems) if problems else "") + "\n" + manual_instructions(
        title, directory, files, urls, loader, note))


def manual_instructions(title: str, directory: str, files: Mapping[str, str], urls: Mapping[str, Sequence[str]],
                        loader: str = "load_data", note: str = "") -> str:
    """The text telling a user which files to fetch by hand, their SHA-256 and where to put them."""
    what = "this file" if len(files) == 1 else f"these {len(files)} files"
    lines = [f"To install {title} by hand, download {what} (check the SHA-256 of each):"]
    for name, digest in files.items():
        lines.append(f"  {name}\n      sha256 {digest}\n      from   {'  or  '.join(urls.get(name, ())) or '-'}")
    lines.append(f"and put {'it' if len(files) == 1 else 'them'} in {directory}\n"
                 f"(or in any directory DIR and call {loader}(path=DIR)).")
    return "\n".join(lines) + (("\n" + note) if note else "")
