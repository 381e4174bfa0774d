"""Pooling layers: max/min/avg/LP (1d-3d), adaptive, global, and pooling across channels."""

from __future__ import annotations

from typing import Any, Optional

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
    """1-D max pooling: the largest value of each window along the length; see :class:`MaxPool2d`.

    Args:
        kernel_size, stride, padding, dilation, return_indices, ceil_mode, strict: as :class:`MaxPool2d`.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``, ``L_out`` as ``H_out`` in MaxPool2d.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MaxPool1d(2)(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
        [[[3.0, 2.0]]]
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling: ``out[n, c, i, j]`` is the maximum of window ``(i, j)`` (the slides' 2×2, stride 2 use).

    Padding cells are −∞, so they never win. Arguments and defaults are PyTorch's, plus ``strict``.

    Args:
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        padding: implicit −∞ padding on each side, at most half the kernel (default 0).
        dilation: spacing between window taps (default 1).
        return_indices: also return the flat index (within each H·W plane) of each maximum
            (default False).
        ceil_mode: round the output size up, keeping a last partial window (default False).
        strict: raise instead of warning when the windows do not tile the input (default False;
            see :func:`cnnkit.set_strict_shapes`).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)`` with
        ``H_out = floor((H + 2P − D(K−1) − 1)/S) + 1`` (ceil in ceil mode), likewise ``W_out``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MaxPool2d(2)(cnnkit.zeros(1, 20, 28, 28)).shape
        (1, 20, 14, 14)
    """

    _nd = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling over ``(D, H, W)`` windows; see :class:`MaxPool2d`.

    Args:
        kernel_size, stride, padding, dilation, return_indices, ceil_mode, strict: as :class:`MaxPool2d`.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MaxPool3d(2)(cnnkit.zeros(1, 1, 4, 4, 4)).shape
        (1, 1, 2, 2, 2)
    """

    _nd = 3


class _MinPoolNd(_WindowPool):
    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return P.min_pool_nd(self._nd, x, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, what=repr(self))


class MinPool1d(_MinPoolNd):
    """1-D min pooling (a cnnkit extra); see :class:`MinPool2d`.

    Args:
        kernel_size, stride, padding, dilation, ceil_mode, strict: as :class:`MaxPool2d`.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MinPool1d(2)(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
        [[[1.0, 0.0]]]
    """

    _nd = 1


class MinPool2d(_MinPoolNd):
    """Min pooling ``min`` over each window, computed as ``−max_pool(−x)`` (a cnnkit extra, not in PyTorch).

    Args:
        kernel_size, stride, padding, dilation, ceil_mode, strict: as :class:`MaxPool2d` (padding
            cells never win).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)`` as :class:`MaxPool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MinPool2d(2)(cnnkit.tensor([[[[1., 2.], [3., 4.]]]])).tolist()
        [[[[1.0]]]]
    """

    _nd = 2


class MinPool3d(_MinPoolNd):
    """3-D min pooling (a cnnkit extra); see :class:`MinPool2d`.

    Args:
        kernel_size, stride, padding, dilation, ceil_mode, strict: as :class:`MaxPool2d`.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.MinPool3d(2)(cnnkit.zeros(1, 1, 4, 4, 4)).shape
        (1, 1, 2, 2, 2)
    """

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
    """1-D average pooling; see :class:`AvgPool2d`.

    Args:
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, strict: as
            :class:`AvgPool2d`.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AvgPool1d(2)(cnnkit.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
        [[[2.0, 1.0]]]
    """

    _nd = 1


class AvgPool2d(_AvgPoolNd):
    """Average pooling: ``out[n, c, i, j] = mean`` of window ``(i, j)``, as PyTorch.

    Args:
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        padding: implicit zero padding on each side, at most half the kernel (default 0).
        ceil_mode: round the output size up (default False).
        count_include_pad: count padding cells in the divisor (default True, PyTorch's).
        divisor_override: divide every window sum by this instead (default None).
        strict: raise instead of warning when the windows do not tile the input (default False).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)`` as :class:`MaxPool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AvgPool2d(2)(cnnkit.tensor([[[[1., 2.], [3., 6.]]]])).tolist()
        [[[[3.0]]]]
    """

    _nd = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling; see :class:`AvgPool2d`.

    Args:
        kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, strict: as
            :class:`AvgPool2d`.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.AvgPool3d(2)(cnnkit.ones(1, 1, 4, 4, 4)).shape
        (1, 1, 2, 2, 2)
    """

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
    """1-D power-average pooling ``(Σ_window x^p)^(1/p)``; see :class:`LPPool2d`.

    Args:
        norm_type, kernel_size, stride, ceil_mode, strict: as :class:`LPPool2d`.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, L_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LPPool1d(2, 2)(cnnkit.tensor([[[3.0, 4.0, 0.0, 0.0]]])).tolist()
        [[[5.0, 0.0]]]
    """

    _nd = 1


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(Σ_window x^p)^(1/p)``; ``norm_type=2`` is the slides' L2 pooling √Σx².

    Args:
        norm_type: the power p > 0 (p → ∞ tends to max pooling).
        kernel_size: window size (int or pair).
        stride: step between windows (default None: ``kernel_size``).
        ceil_mode: round the output size up (default False).
        strict: raise instead of warning when the windows do not tile the input (default False).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)`` as :class:`MaxPool2d`.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LPPool2d(2, 2)(cnnkit.tensor([[[[3., 0.], [0., 4.]]]])).tolist()
        [[[[5.0]]]]
    """

    _nd = 2


class LPPool3d(_LPPoolNd):
    """3-D power-average pooling; see :class:`LPPool2d`.

    Args:
        norm_type, kernel_size, stride, ceil_mode, strict: as :class:`LPPool2d`.

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LPPool3d(2, 2)(cnnkit.ones(1, 1, 4, 4, 4)).shape
        (1, 1, 2, 2, 2)
    """

    _nd = 3
