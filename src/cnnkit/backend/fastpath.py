"""Switch between the fast kernels and the reference kernels, and a pool of reusable buffers.

Ops with a fast path (max-pool winners, per-channel BatchNorm reductions, convolution buffers)
keep their reference path beside it; :func:`reference_only` turns the fast paths off so tests can
compare the two, and users can rule a fast path out when hunting a numerical difference.

The buffer pool keeps a few large freed arrays (im2col matrices, tens of MB) for the next step of
the same shape: a fresh ``np.empty`` of that size is page-faulted and zeroed by the kernel on
every step, which costs about as much as filling it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import numpy as np

_state = threading.local()
_lock = threading.Lock()
_free: dict = {}  # (shape, dtype) -> list of arrays
_MIN_BYTES = 1 << 20  # smaller arrays come quickly from malloc's own free lists
_MAX_POOLED = 4  # per shape: forward of a few graphs before one backward still hits the pool
_MAX_BYTES = 1 << 29  # 512 MiB in all; past it the pool is emptied (e.g. the batch size changed)
_pooled_bytes = 0


def enabled() -> bool:
    """Whether ops may take their fast paths (True unless inside :func:`reference_only`)."""
    return not getattr(_state, "reference", False)


@contextlib.contextmanager
def reference_only() -> Iterator[None]:
    """Run every op on its reference path inside this block (this thread only).

    Example:
        >>> import cnnkit
        >>> from cnnkit.backend import fastpath
        >>> with fastpath.reference_only():
        ...     y = cnnkit.nn.functional.max_pool2d(cnnkit.ones(1, 1, 2, 2), 2)
        >>> y.tolist()
        [[[[1.0]]]]
    """
    previous = getattr(_state, "reference", False)
    _state.reference = True
    try:
        yield
    finally:
        _state.reference = previous


def take(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """An uninitialised array, reused from the pool when one of this shape was given back."""
    global _pooled_bytes
    key = (tuple(shape), np.dtype(dtype))
    with _lock:
        stack = _free.get(key)
        if stack:
            array = stack.pop()
            _pooled_bytes -= array.nbytes
            return array
    return np.empty(shape, dtype=dtype)


def give(array: np.ndarray) -> None:
    """Return an array from :func:`take` that nothing references any more."""
    if array.nbytes < _MIN_BYTES or not array.flags.c_contiguous or array.base is not None:
        return
    if array.nbytes > _MAX_BYTES:  # one array past the cap would otherwise be kept for good
        return
    global _pooled_bytes
    key = (array.shape, array.dtype)
    with _lock:
        if _pooled_bytes + array.nbytes > _MAX_BYTES:
            _free.clear()
            _pooled_bytes = 0
        stack = _free.setdefault(key, [])
        if len(stack) < _MAX_POOLED:
            stack.append(array)
            _pooled_bytes += array.nbytes


def clear() -> None:
    """Drop every pooled buffer (frees the memory)."""
    global _pooled_bytes
    with _lock:
        _free.clear()
        _pooled_bytes = 0
