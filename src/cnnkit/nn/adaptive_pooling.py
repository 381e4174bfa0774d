"""Adaptive and global pooling layers, and pooling across channels (ChannelPool, Maxout)."""

from __future__ import annotations

from typing import Any

import cnnkit.functional as F
from cnnkit.functional import adaptive_pooling as AP
from cnnkit.functional import pooling as P
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


class _AdaptivePool(Module):
    _nd, _mode = 0, "avg"

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        if return_indices and self._mode != "max":
            raise ValueError(f"{type(self).__name__}: return_indices is only available for max pooling")
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor) -> Any:
        return AP.adaptive_pool_nd(self._nd, x, self.output_size, self._mode, repr(self), self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvg(_AdaptivePool):
    def __init__(self, output_size: Any) -> None:
        super().__init__(output_size)


class AdaptiveAvgPool1d(_AdaptiveAvg):
    """Average pooling to a fixed length: window ``i`` is ``[floor(i·L/L_out), ceil((i+1)·L/L_out))``.

    Args:
        output_size: ``L_out`` (int; None keeps the input length).

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveAvgPool1d(2)(cnnkit.tensor([[[1.0, 3.0, 2.0, 4.0]]])).tolist()
        [[[2.0, 3.0]]]
    """

    _nd, _mode = 1, "avg"


class AdaptiveAvgPool2d(_AdaptiveAvg):
    """Average pooling to a fixed ``output_size`` whatever the input size (PyTorch's windows).

    Args:
        output_size: ``(H_out, W_out)`` or one int for both; a None entry keeps that input size.

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveAvgPool2d((1, 1))(cnnkit.ones(2, 8, 5, 7)).shape
        (2, 8, 1, 1)
    """

    _nd, _mode = 2, "avg"


class AdaptiveAvgPool3d(_AdaptiveAvg):
    """Average pooling to a fixed 3-D output size; see :class:`AdaptiveAvgPool2d`.

    Args:
        output_size: ``(D_out, H_out, W_out)`` or one int for all; a None entry keeps that size.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveAvgPool3d(1)(cnnkit.ones(2, 3, 4, 5, 6)).shape
        (2, 3, 1, 1, 1)
    """

    _nd, _mode = 3, "avg"


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max pooling to a fixed length ``output_size`` (PyTorch's windows); see :class:`AdaptiveMaxPool2d`.

    Args:
        output_size: ``L_out`` (int; None keeps the input length).
        return_indices: also return the index of each maximum (default False).

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveMaxPool1d(2)(cnnkit.tensor([[[1.0, 3.0, 2.0, 4.0]]])).tolist()
        [[[3.0, 4.0]]]
    """

    _nd, _mode = 1, "max"


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max pooling to a fixed ``output_size`` whatever the input size (PyTorch's windows).

    The gradient goes to one maximum per window (the first, row-major), as PyTorch.

    Args:
        output_size: ``(H_out, W_out)`` or one int for both; a None entry keeps that input size.
        return_indices: also return the flat index (within each H·W plane) of each maximum
            (default False).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output (and indices) ``(N, C, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> pool = cnnkit.nn.AdaptiveMaxPool2d(1, return_indices=True)
        >>> [t.tolist() for t in pool(cnnkit.tensor([[[[1., 5.], [3., 2.]]]]))]
        [[[[[5.0]]]], [[[[1]]]]]
    """

    _nd, _mode = 2, "max"


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max pooling to a fixed 3-D output size; see :class:`AdaptiveMaxPool2d`.

    Args:
        output_size: ``(D_out, H_out, W_out)`` or one int for all; a None entry keeps that size.
        return_indices: also return the flat index of each maximum (default False).

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveMaxPool3d((1, 2, None))(cnnkit.ones(2, 3, 4, 5, 6)).shape
        (2, 3, 1, 2, 6)
    """

    _nd, _mode = 3, "max"


class _GlobalPool(Module):
    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a 4-D input (N, C, H, W), got shape {x.shape}")
        return self._reduce(x)

    def extra_repr(self) -> str:
        return "keepdim=True" if self.keepdim else ""


class GlobalAvgPool2d(_GlobalPool):
    """Global average pooling ``out[n, c] = mean_{h,w} x[n, c, h, w]`` (a cnnkit extra).

    PyTorch writes it ``AdaptiveAvgPool2d(1)``, which keeps the 1×1 dims; here they are dropped
    unless ``keepdim=True``.

    Args:
        keepdim: keep the spatial dims as size 1 (default False).

    Shape:
        Input ``(N, C, H, W)`` only; output ``(N, C)``, or ``(N, C, 1, 1)`` with ``keepdim=True``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.GlobalAvgPool2d()(cnnkit.ones(2, 8, 5, 5)).shape
        (2, 8)
    """

    def _reduce(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3), keepdim=self.keepdim)


class GlobalMaxPool2d(_GlobalPool):
    """Global max pooling ``out[n, c] = max_{h,w} x[n, c, h, w]`` (a cnnkit extra).

    The gradient goes to one (the first) maximum of each map, as PyTorch's max pooling; the 1×1
    dims are dropped unless ``keepdim=True`` (see :class:`GlobalAvgPool2d`).

    Args:
        keepdim: keep the spatial dims as size 1 (default False).

    Shape:
        Input ``(N, C, H, W)`` only; output ``(N, C)``, or ``(N, C, 1, 1)`` with ``keepdim=True``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.GlobalMaxPool2d(keepdim=True)(cnnkit.tensor([[[[1., 5.], [3., 2.]]]])).tolist()
        [[[[5.0]]]]
    """

    def _reduce(self, x: Tensor) -> Tensor:
        # A window covering the whole map: the gradient goes to one (the first) maximum, as PyTorch.
        out = P.max_pool_nd(2, x, x.shape[2:], x.shape[2:], what=repr(self))
        return out if self.keepdim else out.reshape(out.shape[:2])


class ChannelPool(Module):
    """Pool across groups of ``kernel_size`` consecutive channels: max, mean or ``√Σx²`` (a cnnkit extra).

    The slides' "pooling between filters" and "L2 pooling over features".

    Args:
        kernel_size: channels per group; must divide C.
        mode: ``'max'`` (maxout; default), ``'avg'`` or ``'l2'``.

    Shape:
        Input ``(N, C, *)``; output ``(N, C / kernel_size, *)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.ChannelPool(4, mode="l2")(cnnkit.ones(2, 8, 3, 3)).shape
        (2, 2, 3, 3)
    """

    def __init__(self, kernel_size: int, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "avg", "l2"):
            raise ValueError(f"ChannelPool: mode must be 'max', 'avg' or 'l2', got {mode!r}")
        self.kernel_size, self.mode = kernel_size, mode

    def forward(self, x: Tensor) -> Tensor:
        return F.channel_pool(x, self.kernel_size, self.mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, mode={self.mode!r}"


class Maxout(Module):
    """Maxout units ``out[:, k] = max_{j < pieces} x[:, k·pieces + j]`` (a cnnkit extra, not in PyTorch).

    ``ChannelPool(pieces, 'max')``: the maximum over each group of ``pieces`` consecutive
    channels or features.

    Args:
        pieces: group size; must divide C.

    Shape:
        Input ``(N, C, *)``; output ``(N, C / pieces, *)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Maxout(2)(cnnkit.tensor([[1.0, 3.0, -1.0, -2.0]])).tolist()
        [[3.0, -1.0]]
    """

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        return F.maxout(x, self.pieces)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"
