"""Convolution kernels on raw arrays: output sizes, padding, im2col and col2im (N-d).

These are the only copies of the sizing formulas and of im2col/col2im; convolution, pooling
and the sizing calculators all call them. Layout is NCHW (N, C, *spatial) throughout.
"""

from __future__ import annotations

import itertools
import math
from typing import Optional, Sequence

import numpy as np

_NP_PAD_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect",
                 "replicate": "edge", "circular": "wrap"}


def conv_output_size(W: int, K: int, P: int = 0, S: int = 1, D: int = 1) -> int:
    """Output length of a convolution: ``floor((W + 2P − D·(K−1) − 1) / S) + 1``.

    With ``D = 1`` this is the slides' ``(W − K + 2P) / S + 1``. ``P`` may also be a
    ``(before, after)`` pair for asymmetric padding.

    Example:
        >>> conv_output_size(32, 5, P=2, S=1)
        32
    """
    total = sum(P) if isinstance(P, (tuple, list)) else 2 * P
    span = W + total - D * (K - 1) - 1
    if span < 0:
        return 0
    return span // S + 1


def pool_output_size(W: int, K: int, S: Optional[int] = None, P: int = 0, ceil_mode: bool = False,
                     D: int = 1) -> int:
    """Output length of a pooling window, with PyTorch's ``ceil_mode`` rule.

    In ceil mode the last window may hang over the end, but it must start inside the input or
    the left padding (otherwise it is dropped), exactly as PyTorch decides.

    Example:
        >>> pool_output_size(5, 2, 2), pool_output_size(5, 2, 2, ceil_mode=True)
        (2, 3)
    """
    S = K if S is None else S
    span = W + 2 * P - D * (K - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // S) if ceil_mode else span // S) + 1
    if ceil_mode and (out - 1) * S >= W + P:
        out -= 1
    return out


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple:
    """TensorFlow's 'same' padding ``(before, after)``: output ``ceil(size / stride)``, extra after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def pad(x: np.ndarray, widths: Sequence[tuple], mode: str = "zeros", value: float = 0.0) -> np.ndarray:
    """Pad every axis by its ``(before, after)`` pair; modes zeros/reflect/replicate/circular."""
    if not any(lo or hi for lo, hi in widths):
        return x
    np_mode = _NP_PAD_MODES[mode]
    if np_mode == "constant":
        # A filled array and one copy: np.pad does the same in ~20 Python-level steps, which
        # costs more than the copy itself for small batches (and holds the GIL meanwhile).
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, widths))
        out = np.zeros(shape, dtype=x.dtype) if value == 0 else np.full(shape, value, dtype=x.dtype)
        out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, widths))] = x
        return out
    return np.pad(x, widths, mode=np_mode)


def offset_slices(offset: Sequence[int], dilation: Sequence[int], stride: Sequence[int],
                  out_shape: Sequence[int]) -> tuple:
    """The strided block of a padded ``(N, C, *spatial)`` input that kernel tap ``offset`` sees,
    one element per output position."""
    return (slice(None), slice(None)) + tuple(
        slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, dilation, stride, out_shape)
    )


def kernel_offsets(kernel: Sequence[int]) -> list:
    """Every tap of a kernel, in row-major order."""
    return list(itertools.product(*(range(k) for k in kernel)))


def im2col(xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
           groups: int = 1, out: Optional[np.ndarray] = None) -> tuple:
    """Gather windows into one column matrix per group: ``(G, C/G·prod(kernel), N·L)``.

    Returns the matrix and the output spatial shape. Rows run over (c, *kernel), matching a
    weight reshaped to ``(G, C_out/G, C/G·prod(kernel))``; columns over (n, *out). The layout
    ``(C, *kernel, N, *out)`` keeps each output row a contiguous run of the input row (for
    stride 1), where an ``(N, *out, C, *kernel)`` layout would gather with tiny inner strides. ``out``, when
    given, is a C-contiguous buffer of ``C·prod(kernel)·N·L`` elements to fill (reused memory).
    """
    n, c = xp.shape[:2]
    out_shape = tuple(conv_output_size(w, k, 0, s, d)
                      for w, k, s, d in zip(xp.shape[2:], kernel, stride, dilation))
    shape = (c, *kernel, n, *out_shape)
    cols = np.empty(shape, dtype=xp.dtype) if out is None else out.reshape(shape)
    # Every window of every tap as one strided (read-only) view in the column layout, copied in
    # one call: no Python loop over taps, and the GIL stays released for the whole copy.
    spatial = xp.strides[2:]
    windows = np.lib.stride_tricks.as_strided(
        xp, shape=shape, writeable=False,
        strides=(xp.strides[1], *(s * d for s, d in zip(spatial, dilation)), xp.strides[0],
                 *(s * st for s, st in zip(spatial, stride))))
    np.copyto(cols, windows)
    # Explicit sizes (no -1): an empty batch must still give a well-defined shape.
    return cols.reshape(groups, c // groups * math.prod(kernel), n * math.prod(out_shape)), out_shape


def col2im(dcols: np.ndarray, padded_shape: Sequence[int], kernel: Sequence[int],
           stride: Sequence[int], dilation: Sequence[int], out_shape: Sequence[int],
           out: Optional[np.ndarray] = None) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add ``(G, C/G·prod(kernel), N·L)`` into the padded input.

    One vectorised slice-add of a contiguous ``(C, N, *out)`` block per kernel tap (prod(kernel)
    of them), never a loop over pixels. Returns an ``(N, C, *padded)`` array: the NCHW view of
    ``out`` when given (a zero-filled channel-major ``(C, N, *padded)`` array or view, added to).
    """
    n, c = padded_shape[:2]
    blocks = dcols.reshape((c, *kernel, n, *out_shape))
    # channel-major, like the blocks
    grad = np.zeros((c, n, *padded_shape[2:]), dtype=dcols.dtype) if out is None else out
    for offset in kernel_offsets(kernel):
        grad[offset_slices(offset, dilation, stride, out_shape)] += blocks[(slice(None),) + offset]
    return grad.swapaxes(0, 1)


def unpad(grad: np.ndarray, widths: Sequence[tuple], mode: str = "zeros") -> np.ndarray:
    """Adjoint of :func:`pad`: fold the gradient of padded cells back onto their sources.

    Per padded axis: the inner part is the core, and each border is added, flipped (reflect),
    summed (replicate) or as is (circular), onto the cells it copied: slice-adds, no scatter.
    Widths must satisfy the mode's limits (below the length for reflect, at most it otherwise).
    """
    if not any(lo or hi for lo, hi in widths):
        return grad
    np_mode = _NP_PAD_MODES[mode]
    for axis, (lo, hi) in enumerate(widths):
        if not (lo or hi):
            continue
        g = np.moveaxis(grad, axis, -1)
        size = g.shape[-1] - lo - hi
        core = g[..., lo:lo + size]
        if np_mode == "constant":
            grad = np.moveaxis(core, -1, axis)
            continue
        core = core.copy()
        left, right = g[..., :lo], g[..., lo + size:]
        if np_mode == "reflect":  # padded cell lo − j copies x[j]; right cell size+j copies x[size−2−j]
            core[..., 1:lo + 1] += left[..., ::-1]
            core[..., size - 1 - hi:size - 1] += right[..., ::-1]
        elif np_mode == "edge":
            core[..., :1] += left.sum(axis=-1, keepdims=True)
            core[..., size - 1:] += right.sum(axis=-1, keepdims=True)
        else:  # wrap: left copies the last lo cells, right the first hi cells
            core[..., size - lo:] += left
            core[..., :hi] += right
        grad = np.moveaxis(core, -1, axis)
    return grad
