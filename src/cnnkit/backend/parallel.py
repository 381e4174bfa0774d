"""cnnkit's own worker threads, and OpenBLAS kept to one thread while they are in use.

Why: NumPy's copies and ufuncs are single-threaded, and OpenBLAS's own threads busy-wait after
every product. On a machine where another process holds a core, a 2-thread OpenBLAS makes a
LeNet-5 training step 1.7× slower than a 1-thread one (each product waits for its descheduled
worker, and the spinning worker takes the core that the next NumPy pass needs). The fast paths
therefore split a batch into contiguous chunks and run each chunk (compiled im2col, its own GEMM,
col2im, pooling) on a small pool of plain threads that block instead of spinning, with OpenBLAS
set to one thread: the same cores are used, without the busy-waiting.

The first :func:`split` pins NumPy's OpenBLAS to one thread for the rest of the process (found
through the loaded library, as threadpoolctl does); set ``CNNKIT_PIN_BLAS=0`` to leave BLAS
threading alone (then keep ``CNNKIT_THREADS=1`` too, or both pools compete for the cores). It
also keeps freed memory in malloc for the next step (:mod:`cnnkit.backend.malloc`). The
thread count is ``CNNKIT_THREADS`` if set, else ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` if
set, else the usable CPUs (at most 4).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np

from cnnkit.backend import malloc

_executor: Optional[ThreadPoolExecutor] = None
_executor_pid = 0
_local = threading.local()  # .inside: this thread is running a chunk of a split
_lock = threading.Lock()
_blas_pinned = False
_blas_checked = False


def num_threads() -> int:
    """Threads a batch is split over (see the module docstring for the environment variables)."""
    for var in ("CNNKIT_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _openblas_setter() -> Optional[Callable[[int], None]]:
    """``set_num_threads`` of the OpenBLAS that NumPy loaded, or None when there is none."""
    paths = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split()
                name = os.path.basename(fields[-1]).lower() if len(fields) >= 6 else ""
                if "openblas" in name and ".so" in name:
                    paths.add(fields[-1])
    except OSError:  # pragma: no cover - not Linux
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes = [ctypes.c_int]
                fn.restype = None
                return fn
    return None


def pin_blas() -> bool:
    """Set NumPy's OpenBLAS (``np.show_config()``) to one thread, once; False when none was found
    (or ``CNNKIT_PIN_BLAS=0``)."""
    global _blas_pinned, _blas_checked
    if _blas_checked:
        return _blas_pinned
    with _lock:
        if not _blas_checked:
            np.__version__  # NumPy (imported above) has loaded the OpenBLAS looked for here
            setter = None if os.environ.get("CNNKIT_PIN_BLAS") == "0" else _openblas_setter()
            if setter is not None:
                setter(1)
            _blas_pinned, _blas_checked = setter is not None, True
    return _blas_pinned


def active() -> bool:
    """Whether :func:`pin_blas` has set BLAS to one thread (products should then be split)."""
    return bool(_blas_pinned)


def chunks(total: int, parts: Optional[int] = None) -> list:
    """``total`` split into at most ``parts`` (default :func:`num_threads`) contiguous ``(lo, hi)``."""
    parts = max(1, min(num_threads() if parts is None else parts, total))
    bounds = [total * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts)]


def split(fn: Callable[[int, int, int], None], parts: list) -> None:
    """Run ``fn(index, lo, hi)`` for every chunk in ``parts`` on at most :func:`num_threads`
    threads, this one included; once every chunk has stopped, re-raises the first error (this
    thread's, else the lowest worker's).

    Chunks are claimed one at a time, in order, by whichever thread is free: a worker that wakes
    late (tens of µs on a virtual machine) then takes fewer chunks, or none, instead of keeping
    this thread waiting for its fixed share. A split inside a chunk (nested) runs on its own
    thread only: pool workers that waited for other pool work could otherwise all wait at once.
    """
    global _executor, _executor_pid
    pin_blas()
    malloc.tune()
    threads = 1 if getattr(_local, "inside", False) else min(num_threads(), len(parts))
    claim = itertools.count()  # next() is atomic under the GIL: each chunk is claimed once

    def share(_: int) -> None:
        previous = getattr(_local, "inside", False)
        _local.inside = True
        try:
            k = next(claim)
            while k < len(parts):
                fn(k, *parts[k])
                k = next(claim)
        finally:
            _local.inside = previous

    if threads <= 1:
        share(0)
        return
    with _lock:
        # a forked child inherits the executor object but not its threads: start a new one
        if _executor is None or _executor_pid != os.getpid() or _executor._max_workers < threads - 1:
            _executor = ThreadPoolExecutor(max_workers=max(threads - 1, num_threads() - 1),
                                           thread_name_prefix="cnnkit")
            _executor_pid = os.getpid()
        executor = _executor
    futures = [executor.submit(share, t) for t in range(1, threads)]
    error: Optional[BaseException] = None
    try:
        share(0)
    except BaseException as e:  # noqa: B902 - re-raised below, after every chunk has stopped
        error = e
    # wait for every chunk, even after an error: none may still write into the caller's arrays
    for f in futures:
        try:
            f.result()
        except BaseException as e:  # noqa: B902
            error = error or e
    if error is not None:
        raise error


def by_memory(fn: Callable[[tuple], None], like: "np.ndarray", min_size: int = 1 << 18) -> None:
    """Run ``fn(index)`` over chunks of an array shaped like ``like``, cut along its outermost
    axis in memory (so each chunk is one contiguous block for C-, F- or channel-major layouts);
    small arrays run whole, on this thread."""
    if like.ndim == 0 or like.size < min_size:
        fn((Ellipsis,))  # a view even of a 0-d array (``a[()]`` would be a scalar)
        return
    # the outermost axis that has more than one element (a batch of 1 is cut along channels)
    axis = max(range(like.ndim), key=lambda a: (like.shape[a] > 1, abs(like.strides[a]), -a))
    whole = (slice(None),) * axis

    def part(_: int, lo: int, hi: int) -> None:
        fn(whole + (slice(lo, hi),))

    split(part, chunks(like.shape[axis]))
