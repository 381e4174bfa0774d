"""Convolution layers: Conv1d, Conv2d, Conv3d (PyTorch arguments, defaults and initialisation)."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit.functional.conv import conv_nd, ntuple, resolve_padding
from cnnkit.nn import init
from cnnkit.nn._fit import check_fit
from cnnkit.nn.module import Module, Parameter
from cnnkit.tensor import DEFAULT_DTYPE, Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 0

    def __init__(self, in_channels: Optional[int], out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", strict: bool = False, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if out_channels is None or isinstance(out_channels, bool) or not isinstance(out_channels, (int, np.integer)) or out_channels <= 0:
            raise ValueError(f"{name}: out_channels must be a positive integer, got {out_channels!r}")
        if in_channels is not None and (isinstance(in_channels, bool) or not isinstance(in_channels, (int, np.integer)) or in_channels <= 0):
            raise ValueError(f"{name}: in_channels must be a positive integer or None (inferred), got {in_channels!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if out_channels % groups or (in_channels is not None and in_channels % groups):
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                             f"both be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.kernel_size = ntuple(kernel_size, self._nd, "kernel_size", name)
        self.stride = ntuple(stride, self._nd, "stride", name)
        self.dilation = ntuple(dilation, self._nd, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            self.padding: Any = padding
        else:
            self.padding = ntuple(padding, self._nd, "padding", name, minimum=0)
        self.in_channels = None if in_channels is None else int(in_channels)
        self.out_channels, self.groups = int(out_channels), groups
        self.padding_mode, self.strict = padding_mode, strict
        self._dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        # Lazy layers hold an (out, 0, *kernel) placeholder, filled in place at the first call.
        self.weight = Parameter(np.zeros((self.out_channels, (self.in_channels or 0) // groups,
                                          *self.kernel_size), self._dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, self._dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _materialize(self, in_channels: int) -> None:
        if in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: the input has {in_channels} channels, not divisible "
                             f"by groups ({self.groups})")
        self.in_channels = in_channels
        self.weight.data = np.zeros((self.out_channels, in_channels // self.groups, *self.kernel_size), self._dtype)
        self.reset_parameters()

    def _lazy_load(self, prefix: str, state_dict: Any) -> None:
        key = prefix + "weight"
        if self.in_channels is None and key in state_dict:
            self._materialize(int(np.shape(getattr(state_dict[key], "data", state_dict[key]))[1]) * self.groups)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=√5) weights, bias ~ U(±1/√fan_in)."""
        if self.in_channels is not None:
            init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        nd = self._nd
        if x.ndim not in (nd + 1, nd + 2):
            raise ValueError(f"{self!r} expects a {nd + 2}-D input (N, C, *spatial) or {nd + 1}-D unbatched, "
                             f"got shape {x.shape}")
        channels = x.shape[-nd - 1]
        if self.in_channels is None:
            self._materialize(channels)
        elif channels != self.in_channels:
            raise ValueError(
                f"{self!r} expected {self.in_channels} input channels but received {channels} "
                f"(input shape {x.shape}). Check in_channels or the layer feeding this one."
            )
        spatial = x.shape[-nd:]
        pads = resolve_padding(self.padding, spatial, self.kernel_size, self.stride, self.dilation, repr(self))
        check_fit(self, spatial, self.kernel_size, self.stride, pads, self.dilation)
        return conv_nd(nd, x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                       self.padding_mode, what=repr(self))

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            text += f", padding={self.padding}"  # 'same' prints as padding=same, as in PyTorch
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv1d(_ConvNd):
    """1-D convolution layer (cross-correlation) over sequences; arguments as :class:`Conv2d`.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation: as :class:`Conv2d`,
            with ints (or 1-tuples) for sizes.
        groups, bias, padding_mode, strict, dtype: as :class:`Conv2d`.

    Shape:
        Input ``(N, C_in, L)`` or unbatched ``(C_in, L)``; output ``(N, C_out, L_out)`` with
        ``L_out = floor((L + 2P − D(K − 1) − 1) / S) + 1``. Weight ``(C_out, C_in/groups, K)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Conv1d(3, 8, 5, padding=2)(cnnkit.zeros(2, 3, 50)).shape
        (2, 8, 50)
    """

    _nd = 1


class Conv2d(_ConvNd):
    """2-D convolution layer: ``out[n, o] = bias[o] + Σ_c weight[o, c] ⋆ x[n, c]`` (cross-correlation).

    A bank of learnable filters slid over the image. Arguments, defaults and initialisation
    (:func:`cnnkit.nn.init.default_layer_init_`) are PyTorch's; cnnkit adds lazy
    ``in_channels=None`` (as ``LazyConv2d``), strided ``padding='same'`` and ``strict``.

    Args:
        in_channels: input channels, or None to infer them at the first call (lazy).
        out_channels: number of filters (output channels).
        kernel_size: filter size (int or pair).
        stride: step between windows (int or pair; default 1).
        padding: int or pair (default 0), ``'valid'`` or ``'same'``: output ``ceil(size / stride)``
            for any stride, the odd extra cell at the bottom/right (PyTorch refuses strided 'same').
        dilation: spacing between filter taps (default 1).
        groups: independent channel groups; ``groups = in_channels`` is depthwise (default 1).
        bias: learn a bias per filter (default True).
        padding_mode: ``'zeros'`` (default), ``'reflect'``, ``'replicate'`` or ``'circular'``.
        strict: raise instead of warning when (W − K + 2P) is not divisible by S (default False;
            see :func:`cnnkit.set_strict_shapes`).
        dtype: parameter dtype (default None: float32).

    Shape:
        Input ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``; output ``(N, C_out, H_out, W_out)``
        with ``H_out = floor((H + 2P − D(K − 1) − 1) / S) + 1``. Weight ``(C_out, C_in/groups, kH, kW)``,
        bias ``(C_out,)``.

    Example:
        >>> import cnnkit
        >>> conv = cnnkit.nn.Conv2d(3, 10, kernel_size=5, stride=1, padding=2)
        >>> conv(cnnkit.zeros(1, 3, 32, 32)).shape, sum(p.size for p in conv.parameters())
        ((1, 10, 32, 32), 760)
    """

    _nd = 2


class Conv3d(_ConvNd):
    """3-D convolution layer (volumes or video); arguments as :class:`Conv2d`.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation: as :class:`Conv2d`,
            with ints or triples for sizes.
        groups, bias, padding_mode, strict, dtype: as :class:`Conv2d`.

    Shape:
        Input ``(N, C_in, D, H, W)`` or unbatched ``(C_in, D, H, W)``; output
        ``(N, C_out, D_out, H_out, W_out)``, each size as in :class:`Conv2d`.
        Weight ``(C_out, C_in/groups, kD, kH, kW)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Conv3d(1, 4, 3)(cnnkit.zeros(2, 1, 5, 6, 7)).shape
        (2, 4, 3, 4, 5)
    """

    _nd = 3
