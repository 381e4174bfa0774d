"""Pooling layers: max/min/avg/LP (1d-3d), adaptive, global, and pooling across channels."""

from __future__ import annotations

from typing import Any, Optional

import cnnkit.functional as F
from cnnkit.functional import pooling as P
from cnnkit.functional.conv import ntuple
from cnnkit.nn._fit import check_fit
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


class _WindowPool(Module):
    _nd = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 ceil_mode: bool = False, strict: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = ntuple(kernel_size, self._nd, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else ntuple(stride, self._nd, "stride", name)
        self.padding = ntuple(padding, self._nd, "padding", name, minimum=0)
        self.dilation = ntuple(dilation, self._nd, "dilation", name)
        self.ceil_mode, self.strict = bool(ceil_mode), strict
        self._max_padding = tuple((d * (k - 1) + 1) // 2 for k, d in zip(self.kernel_size, self.dilation))
        for axis, (p, k, d) in enumerate(zip(self.padding, self.kernel_size, self.dilation)):
            if p > (d * (k - 1) + 1) // 2:
                raise ValueError(f"{name}: padding ({p}) must be at most half the kernel extent ({d * (k - 1) + 1}) "
                                 f"along spatial dim {axis}, as in PyTorch; use a larger kernel or less padding")

    def _check(self, x: Tensor) -> None:
        if not self.ceil_mode and x.ndim >= self._nd:
            check_fit(self, x.shape[-self._nd:], self.kernel_size, self.stride,
                      tuple((p, p) for p in self.padding), self.dilation, self._max_padding)

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if any(self.padding):
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.ceil_mode:
            text += ", ceil_mode=True"
        return text


class _MaxPoolNd(_WindowPool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False, strict: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode, strict)
        self.return_indices = return_indices

    def forward(self, x: Tensor) -> Any:
        self._check(x)
        return P.max_pool_nd(self._nd, x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, self.return_indices, what=repr(self))


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling layer; see :class:`MaxPool2d`. Shape: ``(N, C, L)`` → ``(N, C, L_out)``."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling: keep the largest activation of each window (the slides' 2×2, stride 2 default use).

    Args:
        kernel_size: window size; stride: step (default = kernel_size); padding: −∞ padding
            (at most half the kernel); dilation: tap spacing; return_indices: also return the
            flat index of each maximum; ceil_mode: round the output size up; strict: raise when
            the windows do not tile the input (instead of a warning).

    Shape:
        ``(N, C, H, W)`` → ``(N, C, H_out, W_out)``; ``H_out = floor((H + 2P − D(K−1) − 1)/S) + 1``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MaxPool2d(2)(cnnkit.zeros(1, 20, 28, 28)).shape
        (1, 20, 14, 14)
    """

    _nd = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling layer; see :class:`MaxPool2d`."""

    _nd = 3


class _MinPoolNd(_WindowPool):
    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return P.min_pool_nd(self._nd, x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, what=repr(self))


class MinPool1d(_MinPoolNd):
    """1-D min pooling layer; see :class:`MinPool2d`."""

    _nd = 1


class MinPool2d(_MinPoolNd):
    """Min pooling: keep the smallest value of each window (arguments as :class:`MaxPool2d`).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MinPool2d(2)(cnnkit.tensor([[[[1., 2.], [3., 4.]]]])).tolist()
        [[[[1.0]]]]
    """

    _nd = 2


class MinPool3d(_MinPoolNd):
    """3-D min pooling layer; see :class:`MinPool2d`."""

    _nd = 3


class _AvgPoolNd(_WindowPool):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Optional[int] = None,
                 strict: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, 1, ceil_mode, strict)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return P.avg_pool_nd(self._nd, x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                             self.count_include_pad, self.divisor_override, what=repr(self))


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling layer; see :class:`AvgPool2d`."""

    _nd = 1


class AvgPool2d(_AvgPoolNd):
    """Average pooling: the mean of each window.

    Args:
        kernel_size, stride, padding, ceil_mode: as :class:`MaxPool2d` (zero padding).
        count_include_pad: count padding cells in the divisor (PyTorch's default).
        divisor_override: divide by this instead of the window size.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AvgPool2d(2)(cnnkit.ones(1, 1, 4, 4)).shape
        (1, 1, 2, 2)
    """

    _nd = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling layer; see :class:`AvgPool2d`."""

    _nd = 3


class _LPPoolNd(_WindowPool):
    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False,
                 strict: bool = False) -> None:
        super().__init__(kernel_size, stride, 0, 1, ceil_mode, strict)
        self.norm_type = norm_type

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return P.lp_pool_nd(self._nd, x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode,
                            what=repr(self))

    def extra_repr(self) -> str:
        return f"norm_type={self.norm_type}, " + super().extra_repr()


class LPPool1d(_LPPoolNd):
    """1-D power-average pooling; see :class:`LPPool2d`."""

    _nd = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(Σ_window x^p)^(1/p)``; ``norm_type=2`` is the slides' L2 pooling √Σx².

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LPPool2d(2, 2)(cnnkit.tensor([[[[3., 0.], [0., 4.]]]])).tolist()
        [[[[5.0]]]]
    """

    _nd = 2


class LPPool3d(_LPPoolNd):
    """3-D power-average pooling; see :class:`LPPool2d`."""

    _nd = 3


class _AdaptivePool(Module):
    _nd, _mode = 0, "avg"

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        if return_indices and self._mode != "max":
            raise ValueError(f"{type(self).__name__}: return_indices is only available for max pooling")
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor) -> Any:
        return P.adaptive_pool_nd(self._nd, x, self.output_size, self._mode, repr(self), self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvg(_AdaptivePool):
    def __init__(self, output_size: Any) -> None:
        super().__init__(output_size)


class AdaptiveAvgPool1d(_AdaptiveAvg):
    """Average pooling to a fixed output length."""

    _nd, _mode = 1, "avg"


class AdaptiveAvgPool2d(_AdaptiveAvg):
    """Average pooling to a fixed ``output_size`` whatever the input size (PyTorch's windows).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AdaptiveAvgPool2d((1, 1))(cnnkit.ones(2, 8, 5, 7)).shape
        (2, 8, 1, 1)
    """

    _nd, _mode = 2, "avg"


class AdaptiveAvgPool3d(_AdaptiveAvg):
    """Average pooling to a fixed 3-D output size."""

    _nd, _mode = 3, "avg"


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max pooling to a fixed output length."""

    _nd, _mode = 1, "max"


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max pooling to a fixed ``output_size`` (values only)."""

    _nd, _mode = 2, "max"


class AdaptiveMaxPool3d(_AdaptivePool):
    """Max pooling to a fixed 3-D output size."""

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
    """Average over all spatial positions: ``(N, C, H, W)`` → ``(N, C)`` (or ``(N, C, 1, 1)`` with keepdim).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.GlobalAvgPool2d()(cnnkit.ones(2, 8, 5, 5)).shape
        (2, 8)
    """

    def _reduce(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3), keepdim=self.keepdim)


class GlobalMaxPool2d(_GlobalPool):
    """Maximum over all spatial positions: ``(N, C, H, W)`` → ``(N, C)`` (or keepdim)."""

    def _reduce(self, x: Tensor) -> Tensor:
        # A window covering the whole map: the gradient goes to one (the first) maximum, as PyTorch.
        out = P.max_pool_nd(2, x, x.shape[2:], x.shape[2:], what=repr(self))
        return out if self.keepdim else out.reshape(out.shape[:2])


class ChannelPool(Module):
    """Pool across groups of ``kernel_size`` consecutive channels: ``'max'``, ``'avg'`` or ``'l2'``.

    The slides' "pooling between filters" and "L2 pooling over features". Shape:
    ``(N, C, *spatial)`` → ``(N, C / kernel_size, *spatial)``.

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
    """Maxout units: the maximum over each group of ``pieces`` consecutive channels/features.

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
