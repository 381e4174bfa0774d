"""Pooling functions: max/min/avg/LP window pooling, adaptive pooling, pooling across channels."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit.backend.conv_kernels import pool_output_size
from cnnkit.functional.conv import batched, ntuple
from cnnkit.ops.pool import MaxPoolNd, SumPoolNd, window_counts
from cnnkit.tensor import Tensor


def _prepare(nd: int, input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
             ceil_mode: bool, what: str) -> tuple:
    """Validate pooling arguments; return the batched input and the window geometry."""
    x, unbatched = batched(input, nd, what)
    kernel = ntuple(kernel_size, nd, "kernel_size", what)
    stride_t = kernel if stride is None or stride == () else ntuple(stride, nd, "stride", what)
    pad = ntuple(padding, nd, "padding", what, minimum=0)
    dil = ntuple(dilation, nd, "dilation", what)
    pairs, out_shape = [], []
    for axis, (n, k, s, p, d) in enumerate(zip(x.shape[2:], kernel, stride_t, pad, dil)):
        extent = d * (k - 1) + 1
        if p > extent // 2:
            raise ValueError(f"{what}: padding ({p}) must be at most half the kernel extent ({extent}) along "
                             f"spatial dim {axis}, as in PyTorch; use a larger kernel or less padding")
        out = pool_output_size(n, k, s, p, ceil_mode, d)
        if out <= 0:
            raise ValueError(
                f"{what}: the window (extent {extent}) does not fit the padded input along spatial dim {axis} "
                f"(size {n} + 2·{p}); the output would be empty. Use a smaller kernel or a larger input."
            )
        pairs.append((p, p + max(0, (out - 1) * s + extent - (n + 2 * p))))
        out_shape.append(out)
    return x, unbatched, kernel, stride_t, tuple(pairs), dil, tuple(out_shape)


def _finish(out: Tensor, unbatched: bool) -> Tensor:
    return out.squeeze(0) if unbatched else out


def max_pool_nd(nd: int, input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False,
                what: Optional[str] = None) -> Any:
    """Shared implementation of ``max_pool1d/2d/3d``."""
    what = what or f"max_pool{nd}d"
    x, unbatched, kernel, stride_t, pairs, dil, out_shape = _prepare(
        nd, input, kernel_size, stride, padding, dilation, ceil_mode, what)
    out = MaxPoolNd.apply(x, kernel=kernel, stride=stride_t, padding=pairs, dilation=dil, out_shape=out_shape)
    if not return_indices:
        return _finish(out, unbatched)
    # Recompute the winners without recording a graph, to report PyTorch-style flat indices.
    probe = MaxPoolNd()
    probe.forward(x.data, kernel, stride_t, pairs, dil, out_shape)
    indices = Tensor(probe.indices(x.shape[2:]))
    return _finish(out, unbatched), _finish(indices, unbatched)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling: the largest value of each window along the length; see :func:`max_pool2d`.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        kernel_size, stride, padding, dilation, ceil_mode, return_indices: as :func:`max_pool2d`.

    Shape:
        Output ``(N, C, L_out)``, ``L_out`` as ``H_out`` in :func:`max_pool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.max_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[3.0, 2.0]]]
    """
    return max_pool_nd(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """2-D max pooling: ``out[n, c, i, j]`` is the largest value of window ``(i, j)``.

    Padding cells are −∞ and never win; the gradient goes to one maximum per window, as PyTorch.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        padding: implicit −∞ padding on each side, at most half the kernel (default 0).
        dilation: spacing between window taps (default 1).
        ceil_mode: round the output size up (a last, partial window is kept if it starts
            inside the input or the left padding; default False).
        return_indices: also return the flat index (within each H·W plane) of every maximum
            (default False).

    Shape:
        Output ``(N, C, H_out, W_out)``, ``H_out = floor((H + 2P − D(K − 1) − 1) / S) + 1``
        (ceil instead of floor in ceil mode); indices have the output's shape.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([[[[1., 1., 2., 4.], [5., 6., 7., 8.], [3., 2., 1., 0.], [1., 2., 3., 4.]]]])
        >>> cnnkit.functional.max_pool2d(x, 2).tolist()
        [[[[6.0, 8.0], [3.0, 4.0]]]]
    """
    return max_pool_nd(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """3-D max pooling over ``(D, H, W)`` windows; see :func:`max_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        kernel_size, stride, padding, dilation, ceil_mode, return_indices: as :func:`max_pool2d`.

    Shape:
        Output ``(N, C, D_out, H_out, W_out)``, each size as in :func:`max_pool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.max_pool3d(cnnkit.ones(1, 1, 4, 4, 4), 2).shape
        (1, 1, 2, 2, 2)
    """
    return max_pool_nd(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def min_pool_nd(nd: int, input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                dilation: Any = 1, ceil_mode: bool = False, what: Optional[str] = None) -> Tensor:
    """Min pooling as ``−max_pool(−x)``: the smallest value in each window."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    return -max_pool_nd(nd, -x, kernel_size, stride, padding, dilation, ceil_mode, what=what or f"min_pool{nd}d")


def min_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """2-D min pooling ``min`` over each window, as ``−max_pool2d(−x)``; a cnnkit extra (PyTorch has none).

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size, stride, padding, dilation, ceil_mode: as :func:`max_pool2d` (padding never wins).

    Shape:
        Output ``(N, C, H_out, W_out)`` as :func:`max_pool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.min_pool2d(cnnkit.tensor([[[[1., 2.], [3., 4.]]]]), 2).tolist()
        [[[[1.0]]]]
    """
    return min_pool_nd(2, input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool_nd(nd: int, input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                ceil_mode: bool = False, count_include_pad: bool = True,
                divisor_override: Optional[int] = None, what: Optional[str] = None) -> Tensor:
    """Shared implementation of ``avg_pool1d/2d/3d``."""
    what = what or f"avg_pool{nd}d"
    x, unbatched, kernel, stride_t, pairs, _, out_shape = _prepare(
        nd, input, kernel_size, stride, padding, 1, ceil_mode, what)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override <= 0:
            raise ValueError(f"{what}: divisor_override must be a positive integer, got {divisor_override!r}")
        divisor = np.full((1, 1) + out_shape, float(divisor_override))
    else:
        divisor = window_counts(x.shape[2:], kernel, stride_t, pairs, out_shape, count_include_pad)
    out = SumPoolNd.apply(x, kernel=kernel, stride=stride_t, padding=pairs, out_shape=out_shape, divisor=divisor)
    return _finish(out, unbatched)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling; see :func:`avg_pool2d`.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        kernel_size, stride, padding, ceil_mode, count_include_pad: as :func:`avg_pool2d`.

    Shape:
        Output ``(N, C, L_out)`` as :func:`max_pool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.avg_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[2.0, 1.0]]]
    """
    return avg_pool_nd(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Optional[int] = None) -> Tensor:
    """2-D average pooling: ``out[n, c, i, j]`` is the mean of window ``(i, j)``, as PyTorch.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        padding: implicit zero padding on each side, at most half the kernel (default 0).
        ceil_mode: round the output size up (default False).
        count_include_pad: count padding cells in the mean's divisor (default True, PyTorch's).
        divisor_override: divide every window sum by this number instead (default None).

    Shape:
        Output ``(N, C, H_out, W_out)`` as :func:`max_pool2d` (dilation 1).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.avg_pool2d(cnnkit.tensor([[[[1., 2.], [3., 6.]]]]), 2).tolist()
        [[[[3.0]]]]
    """
    return avg_pool_nd(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: Optional[int] = None) -> Tensor:
    """3-D average pooling; see :func:`avg_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: as
            :func:`avg_pool2d`.

    Shape:
        Output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.avg_pool3d(cnnkit.ones(1, 1, 4, 4, 4), 2).shape
        (1, 1, 2, 2, 2)
    """
    return avg_pool_nd(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def lp_pool_nd(nd: int, input: Any, norm_type: float, kernel_size: Any, stride: Any = None,
               ceil_mode: bool = False, what: Optional[str] = None) -> Tensor:
    """``(Σ_window x^p)^(1/p)``; p = 2 is the slides' L2 pooling ``√Σx²``, p → ∞ tends to max pooling."""
    what = what or f"lp_pool{nd}d"
    if not isinstance(norm_type, (int, float)) or isinstance(norm_type, bool) or norm_type <= 0:
        raise ValueError(f"{what}: norm_type must be a positive number, got {norm_type!r}")
    x = input if isinstance(input, Tensor) else Tensor(input)
    kernel = ntuple(kernel_size, nd, "kernel_size", what)
    window = int(np.prod(kernel))
    summed = avg_pool_nd(nd, x ** norm_type, kernel, stride, 0, ceil_mode, what=what) * float(window)
    return summed ** (1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """2-D power-average pooling ``(Σ_window x^p)^(1/p)`` (PyTorch's ``lp_pool2d``); p = 2 is L2 pooling.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        norm_type: the power p > 0 (p → ∞ tends to max pooling).
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        ceil_mode: round the output size up (default False).

    Shape:
        Output ``(N, C, H_out, W_out)`` as :func:`max_pool2d` (no padding).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.lp_pool2d(cnnkit.tensor([[[[3., 0.], [0., 4.]]]]), 2, 2).tolist()
        [[[[5.0]]]]
    """
    return lp_pool_nd(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """1-D power-average pooling ``(Σ_window x^p)^(1/p)``; see :func:`lp_pool2d`.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        norm_type, kernel_size, stride, ceil_mode: as :func:`lp_pool2d`.

    Shape:
        Output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.lp_pool1d(cnnkit.tensor([[[3.0, 4.0, 0.0, 0.0]]]), 2, 2).tolist()
        [[[5.0, 0.0]]]
    """
    return lp_pool_nd(1, input, norm_type, kernel_size, stride, ceil_mode)


def min_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """1-D min pooling (a cnnkit extra); see :func:`min_pool2d`.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        kernel_size, stride, padding, dilation, ceil_mode: as :func:`max_pool2d`.

    Shape:
        Output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.min_pool1d(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
        [[[1.0, 0.0]]]
    """
    return min_pool_nd(1, input, kernel_size, stride, padding, dilation, ceil_mode)


def min_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False) -> Tensor:
    """3-D min pooling (a cnnkit extra); see :func:`min_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        kernel_size, stride, padding, dilation, ceil_mode: as :func:`max_pool2d`.

    Shape:
        Output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.min_pool3d(cnnkit.ones(1, 1, 4, 4, 4), 2).shape
        (1, 1, 2, 2, 2)
    """
    return min_pool_nd(3, input, kernel_size, stride, padding, dilation, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """3-D power-average pooling; see :func:`lp_pool2d`.

    Args:
        input: ``(N, C, D, H, W)`` or ``(C, D, H, W)``.
        norm_type, kernel_size, stride, ceil_mode: as :func:`lp_pool2d`.

    Shape:
        Output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.lp_pool3d(cnnkit.ones(1, 1, 2, 2, 2), 1, 2).tolist()
        [[[[[8.0]]]]]
    """
    return lp_pool_nd(3, input, norm_type, kernel_size, stride, ceil_mode)
