"""Adaptive pooling (fixed output size, PyTorch's windows) and pooling across channels (maxout)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from cnnkit.functional.conv import batched
from cnnkit.functional.pooling import _finish, avg_pool_nd, max_pool_nd
from cnnkit.tensor import Tensor


def _adaptive_windows(n: int, o: int) -> list:
    """PyTorch's adaptive windows along one axis: ``[floor(i·n/o), ceil((i+1)·n/o))``."""
    return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def adaptive_pool_nd(nd: int, input: Any, output_size: Any, mode: str, what: str,
                     return_indices: bool = False) -> Any:
    """Pool to a fixed output size with PyTorch's windows: ``[floor(i·In/Out), ceil((i+1)·In/Out))``.

    When every input size is a multiple of its output size this is plain pooling with kernel =
    stride = In/Out (fast path); otherwise it pools one axis at a time, last axis first (windows
    are rectangles, so a mean of means is exact, and a max over the last axis then the previous
    ones picks the row-major first maximum, the element PyTorch's gradient goes to).
    """
    x, unbatched = batched(input, nd, what)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(sizes) != nd:
        raise ValueError(f"{what}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    spatial = x.shape[2:]
    target = tuple(n if o is None else int(o) for o, n in zip(sizes, spatial))
    if any(o <= 0 for o in target):
        raise ValueError(f"{what}: output sizes must be positive, got {output_size!r}")
    if all(n % o == 0 for n, o in zip(spatial, target)):
        kernel = tuple(n // o for n, o in zip(spatial, target))
        if mode == "max":
            out = max_pool_nd(nd, x, kernel, kernel, return_indices=return_indices, what=what)
            return (_finish(out[0], unbatched), _finish(out[1], unbatched)) if return_indices else _finish(out, unbatched)
        return _finish(avg_pool_nd(nd, x, kernel, kernel, what=what), unbatched)
    from cnnkit.functional.basic import cat

    out = x
    for axis in reversed(range(2, nd + 2)):
        pieces = []
        for start, end in _adaptive_windows(spatial[axis - 2], target[axis - 2]):
            block = out[(slice(None),) * axis + (slice(start, end),)]
            if mode == "max":
                window = tuple(end - start if a == axis else 1 for a in range(2, nd + 2))
                pieces.append(max_pool_nd(nd, block, window, window, what=what))
            else:
                pieces.append(block.mean(dim=axis, keepdim=True))
        out = cat(pieces, dim=axis)
    out = _finish(out, unbatched)
    if not return_indices:
        return out
    return out, _finish(Tensor(_adaptive_argmax(x.data, spatial, target)), unbatched)


def _adaptive_argmax(x: np.ndarray, spatial: tuple, target: tuple) -> np.ndarray:
    """Flat (per-plane) index of the first maximum of every adaptive window, as PyTorch returns."""
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    plane = np.arange(int(np.prod(spatial))).reshape(spatial)
    out = np.zeros((n, c) + target, dtype=np.int64)
    windows = [_adaptive_windows(size, o) for size, o in zip(spatial, target)]
    for position in itertools.product(*(range(o) for o in target)):
        cells = plane[tuple(slice(*windows[a][i]) for a, i in enumerate(position))].reshape(-1)
        out[(slice(None), slice(None)) + position] = cells[np.argmax(flat[:, :, cells], axis=2)]
    return out


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed length: window ``i`` is ``[floor(i·L/L_out), ceil((i+1)·L/L_out))``.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        output_size: ``L_out`` (int; None keeps the input length).

    Shape:
        Output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.adaptive_avg_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 4.0]]]), 2).tolist()
        [[[2.0, 3.0]]]
    """
    return adaptive_pool_nd(1, input, output_size, "avg", "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed ``(H_out, W_out)`` whatever the input size (PyTorch's windows).

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(H_out, W_out)`` or one int for both; a None entry keeps that input size.

    Shape:
        Output ``(N, C, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.adaptive_avg_pool2d(cnnkit.ones(2, 3, 7, 9), (2, 4)).shape
        (2, 3, 2, 4)
    """
    return adaptive_pool_nd(2, input, output_size, "avg", "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed ``(D_out, H_out, W_out)``; see :func:`adaptive_avg_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        output_size: ``(D_out, H_out, W_out)`` or one int for all; a None entry keeps that size.

    Shape:
        Output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.adaptive_avg_pool3d(cnnkit.ones(2, 3, 4, 5, 6), (1, None, 2)).shape
        (2, 3, 1, 5, 2)
    """
    return adaptive_pool_nd(3, input, output_size, "avg", "adaptive_avg_pool3d")


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed length ``output_size``; see :func:`adaptive_max_pool2d`.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        output_size: ``L_out`` (int; None keeps the input length).
        return_indices: also return the index of each maximum (default False).

    Shape:
        Output (and indices) ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.adaptive_max_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 4.0]]]), 2).tolist()
        [[[3.0, 4.0]]]
    """
    return adaptive_pool_nd(1, input, output_size, "max", "adaptive_max_pool1d", return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed ``(H_out, W_out)`` whatever the input size (PyTorch's windows).

    The gradient goes to one maximum per window (the first, row-major), as PyTorch.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(H_out, W_out)`` or one int for both; a None entry keeps that input size.
        return_indices: also return the flat index (within each H·W plane) of each maximum
            (default False).

    Shape:
        Output (and indices) ``(N, C, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([[[[1., 5.], [3., 2.]]]])
        >>> [t.tolist() for t in cnnkit.functional.adaptive_max_pool2d(x, 1, return_indices=True)]
        [[[[[5.0]]]], [[[[1]]]]]
    """
    return adaptive_pool_nd(2, input, output_size, "max", "adaptive_max_pool2d", return_indices)


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed ``(D_out, H_out, W_out)``; see :func:`adaptive_max_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        output_size: ``(D_out, H_out, W_out)`` or one int for all; a None entry keeps that size.
        return_indices: also return the flat index of each maximum (default False).

    Shape:
        Output (and indices) ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.adaptive_max_pool3d(cnnkit.ones(2, 3, 4, 5, 6), 1).shape
        (2, 3, 1, 1, 1)
    """
    return adaptive_pool_nd(3, input, output_size, "max", "adaptive_max_pool3d", return_indices)


def channel_pool(input: Tensor, kernel_size: int, mode: str = "max") -> Tensor:
    """Pool across channels in consecutive groups of ``kernel_size``: max, mean or ``√Σx²`` (a cnnkit extra).

    The slides' "pooling between filters" (``'max'`` is maxout) and "L2 pooling over features".

    Args:
        input: ``(N, C, *spatial)``; C must be divisible by ``kernel_size``.
        kernel_size: channels per group.
        mode: ``'max'`` (default), ``'avg'`` or ``'l2'`` (``√Σ x²`` over each group).

    Shape:
        Input ``(N, C, *spatial)``; output ``(N, C / kernel_size, *spatial)``.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([[3.0, 4.0, 1.0, -2.0]])
        >>> [round(v, 4) for v in cnnkit.functional.channel_pool(x, 2, "l2").tolist()[0]]
        [5.0, 2.2361]
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if mode not in ("max", "avg", "l2"):
        raise ValueError(f"channel_pool: mode must be 'max', 'avg' or 'l2', got {mode!r}")
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size <= 0:
        raise ValueError(f"channel_pool: kernel_size must be a positive integer, got {kernel_size!r}")
    if x.ndim < 2 or x.shape[1] % kernel_size:
        raise ValueError(f"channel_pool: the channel dimension (dim 1) of input {x.shape} must be divisible "
                         f"by kernel_size={kernel_size}")
    grouped = x.reshape(x.shape[0], x.shape[1] // kernel_size, kernel_size, *x.shape[2:])
    if mode == "max":
        return grouped.max(dim=2)
    if mode == "avg":
        return grouped.mean(dim=2)
    return (grouped * grouped).sum(dim=2).sqrt()


def maxout(input: Tensor, pieces: int) -> Tensor:
    """Maxout ``out[:, k] = max_{j < pieces} x[:, k·pieces + j]`` (Goodfellow et al.; a cnnkit extra).

    The maximum over each group of ``pieces`` consecutive channels: ``channel_pool(x, pieces, 'max')``.

    Args:
        input: ``(N, C, *)``; C must be divisible by ``pieces``.
        pieces: group size.

    Shape:
        Input ``(N, C, *)``; output ``(N, C / pieces, *)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.maxout(cnnkit.tensor([[1.0, 3.0, -1.0, -2.0]]), 2).tolist()
        [[3.0, -1.0]]
    """
    return channel_pool(input, pieces, "max")
