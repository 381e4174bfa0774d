"""Functions that create tensors: from data, filled with constants, ranges and random draws.

Floating-point results default to float32. Random functions use cnnkit's seeded default
generator (:func:`cnnkit.manual_seed`) unless a ``numpy.random.Generator`` is passed.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit import random as _random
from cnnkit._dims import shape_args
from cnnkit.tensor import DEFAULT_DTYPE, Tensor


def _float_dtype(dtype: Any) -> np.dtype:
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Create a tensor from data (copied when it is a Tensor).

    Args:
        data: a number, (nested) list, NumPy array or Tensor.
        requires_grad: record operations for ``backward`` (floating-point only).
        dtype: target dtype. By default NumPy arrays keep theirs (float64 stays float64) and
            Python numbers/lists become float32.

    Example:
        >>> import cnnkit
        >>> cnnkit.tensor([1, 2]).dtype
        dtype('float32')
    """
    if isinstance(data, Tensor):
        data = data.data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` and keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` both work."""
    return Tensor(np.zeros(shape_args(size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(shape_args(size, "ones"), _float_dtype(dtype)), requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``."""
    return Tensor(np.full(shape_args((size,), "full"), fill_value, _float_dtype(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (its values are arbitrary)."""
    return Tensor(np.empty(shape_args(size, "empty"), _float_dtype(dtype)), requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix."""
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def _like(t: Tensor, dtype: Any) -> tuple:
    return t.shape, (t.dtype if dtype is None else np.dtype(dtype))


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(t, dtype)
    return Tensor(np.zeros(shape, dt), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(t, dtype)
    return Tensor(np.ones(shape, dt), requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like(t, dtype)
    return Tensor(np.full(shape, fill_value, dt), requires_grad)


def arange(start: float, end: Optional[float] = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive); int64 for integer arguments, else float32.

    Example:
        >>> import cnnkit
        >>> cnnkit.arange(3)
        tensor([0, 1, 2])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = np.dtype(dtype) if dtype is not None else (np.dtype(np.int64) if integral else DEFAULT_DTYPE)
    return Tensor(np.arange(start, end, step).astype(dt), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return Tensor(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad)


def rand(*size: Any, generator: Optional[np.random.Generator] = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in ``[0, 1)``."""
    rng = _random.resolve(generator)
    data = rng.random(shape_args(size, "rand"), dtype=np.float64).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad)


def randn(*size: Any, generator: Optional[np.random.Generator] = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    rng = _random.resolve(generator)
    data = rng.standard_normal(shape_args(size, "randn")).astype(_float_dtype(dtype))
    return Tensor(data, requires_grad)


def randint(low: int, high: Optional[int] = None, size: Any = (), *,
            generator: Optional[np.random.Generator] = None, dtype: Any = np.int64) -> Tensor:
    """Integers uniformly drawn from ``[low, high)`` (``randint(high, size=...)`` starts at 0)."""
    if high is None:
        low, high = 0, low
    rng = _random.resolve(generator)
    return Tensor(rng.integers(low, high, size=shape_args((size,), "randint")).astype(dtype))


def rand_like(t: Tensor, generator: Optional[np.random.Generator] = None) -> Tensor:
    return rand(t.shape, generator=generator, dtype=t.dtype if t.dtype.kind == "f" else None)


def randn_like(t: Tensor, generator: Optional[np.random.Generator] = None) -> Tensor:
    return randn(t.shape, generator=generator, dtype=t.dtype if t.dtype.kind == "f" else None)
