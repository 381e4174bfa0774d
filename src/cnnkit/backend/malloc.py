"""Keep freed memory in the process for the next training step (glibc's malloc, Linux).

Why: every op returns fresh arrays of several MB (activations, gradients, temporaries), and a
training step frees them all again. glibc's defaults hand such blocks straight back to the kernel
(``munmap``, or trimming the top of the heap), so the next step page-faults and zero-fills every
page once more: about 2,500 page faults and 15 ms of system time per LeNet-5 step at batch 128,
a fifth of the step's CPU time. Raising the mmap threshold to its maximum (32 MiB) and the trim
threshold to 256 MiB keeps those blocks in malloc's free lists, where the next step finds them
(a trim threshold of 64 or 128 MiB still left 1,200 or 500 page faults per VGG-block step).
Peak memory does not grow (the same blocks are reused: LeNet training peaks at 257 MiB with it,
254 MiB without), but the memory held *after* a peak does: a process that once needed a few hundred
MB more (a large evaluation batch, say) keeps up to 256 MiB per malloc arena (the main thread's
and each worker thread's) instead of returning it to the system.

This is process-wide, like :func:`cnnkit.backend.parallel.pin_blas`, and is applied once, by the
first :func:`cnnkit.backend.parallel.split` (every fast-path op that splits work calls it). Set
``CNNKIT_MALLOC_TUNE=0`` to leave malloc alone; it is a no-op on other C libraries and systems.
"""

from __future__ import annotations

import ctypes
import os
import platform
import threading

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 << 20
_done = False
_applied = False
_lock = threading.Lock()


def tune() -> bool:
    """Apply the thresholds once per process; True when they are in effect."""
    global _done, _applied
    if _done:
        return _applied
    with _lock:
        if not _done:
            _applied = _apply()
            _done = True
    return _applied


def _apply() -> bool:
    if os.environ.get("CNNKIT_MALLOC_TUNE", "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; a fixed mmap threshold also stops glibc's own adjustments
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
