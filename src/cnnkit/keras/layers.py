"""Keras layer names and arguments over cnnkit's NCHW core.

Each Keras layer expands into core modules (``Conv2D(..., activation='relu')`` becomes a
Conv2d and a ReLU). Data stays channels-last at the boundary, as Keras users pass it: the
facade's Sequential turns ``(N, H, W, C)`` into NCHW at the input, and ``Flatten`` turns it back
first, so flattened features come out in Keras's (H, W, C) order. Kernels start Glorot-uniform
and biases zero, Keras's defaults.
"""

from __future__ import annotations

from typing import Any, Optional

import cnnkit.nn as nn
from cnnkit.nn import init
from cnnkit.nn.normalization import _BatchNorm
from cnnkit.tensor import Tensor

class ChannelSoftmax(nn.Softmax):
    """Softmax over Keras's last (channel) axis: dim 1 of the NCHW core for 2-D/4-D data, the last dim otherwise."""

    def _call(self, x: Tensor) -> Tensor:
        import cnnkit.functional as F

        return F.softmax(x, 1 if x.ndim in (2, 4) else -1)


_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softmax": lambda: ChannelSoftmax(dim=1),
                "elu": nn.ELU, "selu": nn.SELU, "softplus": nn.Softplus, "gelu": nn.GELU, "swish": nn.SiLU,
                "silu": nn.SiLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "mish": nn.Mish}
_INITIALIZERS = {"glorot_uniform": init.xavier_uniform_, "glorot_normal": init.xavier_normal_,
                 "he_uniform": lambda t: init.kaiming_uniform_(t, nonlinearity="relu"),
                 "he_normal": lambda t: init.kaiming_normal_(t, nonlinearity="relu"),
                 "lecun_normal": init.lecun_normal_, "zeros": init.zeros_, "ones": init.ones_}


def _activation(name: Optional[str]) -> list:
    if name is None or name == "linear":
        return []
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)} or 'linear'")
    return [_ACTIVATIONS[name]()]


def _initializer(name: str) -> Any:
    if name not in _INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; choose one of {sorted(_INITIALIZERS)}")
    return _INITIALIZERS[name]


def _pair(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class ToChannelsFirst(nn.Module):
    """``(N, H, W, C)`` → ``(N, C, H, W)``; other ranks pass through."""

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(0, 3, 1, 2) if x.ndim == 4 else x


class ToChannelsLast(nn.Module):
    """``(N, C, H, W)`` → ``(N, H, W, C)``; other ranks pass through."""

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(0, 2, 3, 1) if x.ndim == 4 else x


class _KerasInit:
    """Mixin: Keras's kernel/bias initialisation instead of PyTorch's."""

    kernel_initializer, bias_initializer = "glorot_uniform", "zeros"

    def reset_parameters(self) -> None:
        if getattr(self, "in_features", None) is None and getattr(self, "in_channels", None) is None:
            return  # lazy: initialised when the input size is known
        _initializer(self.kernel_initializer)(self.weight)
        if self.bias is not None:
            _initializer(self.bias_initializer)(self.bias)


class KerasConv2D(_KerasInit, nn.Conv2d):
    """The core convolution behind ``layers.Conv2D`` (Keras initialisation)."""


class KerasDense(_KerasInit, nn.Linear):
    """The core affine layer behind ``layers.Dense`` (Keras initialisation); on images it acts on the
    channels (Keras's last axis), which are dim 1 inside."""

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return super().forward(x)


class _AnyRankBatchNorm(_BatchNorm):
    _ranks, _layout = (2, 3, 4, 5), "(N, C, *)"


class Layer:
    """A Keras layer description; :meth:`modules` gives the core modules it stands for."""

    def __init__(self, input_shape: Optional[tuple] = None, name: Optional[str] = None) -> None:
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.name = name

    def modules(self) -> list:
        raise NotImplementedError


class InputLayer(Layer):
    """``keras.Input(shape)``: declares one sample's shape (channels-last, no batch dim)."""

    def __init__(self, shape: tuple) -> None:
        super().__init__(input_shape=shape)

    def modules(self) -> list:
        return []


class Conv2D(Layer):
    """``Conv2D(filters, kernel_size, strides=1, padding='valid'|'same', activation=None, use_bias=True)``."""

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 activation: Optional[str] = None, use_bias: bool = True, dilation_rate: Any = (1, 1),
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 input_shape: Optional[tuple] = None, name: Optional[str] = None) -> None:
        super().__init__(input_shape, name)
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        _initializer(kernel_initializer), _initializer(bias_initializer), _activation(activation)
        self.args = (filters, _pair(kernel_size), _pair(strides), padding, _pair(dilation_rate), use_bias)
        self.initializers, self.activation = (kernel_initializer, bias_initializer), activation

    def modules(self) -> list:
        filters, kernel, strides, padding, dilation, use_bias = self.args
        conv = KerasConv2D(None, filters, kernel, stride=strides, padding=padding, dilation=dilation, bias=use_bias)
        conv.kernel_initializer, conv.bias_initializer = self.initializers
        return [conv] + _activation(self.activation)


class _SamePool2d(nn.Module):
    """TensorFlow's 'same' pooling for stride = pool size: ``ceil(n / s)`` windows, the padding split
    as TF does (extra after); padded cells never win a max nor count in an average."""

    def __init__(self, mode: str, pool_size: tuple) -> None:
        super().__init__()
        self.mode, self.pool_size = mode, pool_size

    def forward(self, x: Tensor) -> Tensor:
        import cnnkit.functional as F

        before = tuple((-(-n // k) * k - n) // 2 for n, k in zip(x.shape[2:], self.pool_size))
        if self.mode == "max":
            return F.max_pool2d(x, self.pool_size, self.pool_size, before, ceil_mode=True)
        return F.avg_pool2d(x, self.pool_size, self.pool_size, before, ceil_mode=True, count_include_pad=False)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, padding='same'"


class _Pooling2D(Layer):
    _mode = "max"

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 name: Optional[str] = None) -> None:
        super().__init__(None, name)
        self.pool_size = _pair(pool_size)
        self.strides = self.pool_size if strides is None else _pair(strides)
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be 'valid' or 'same', got {padding!r}")
        if padding == "same" and self.strides != self.pool_size:
            raise ValueError(f"{type(self).__name__}: padding='same' is supported when strides equal pool_size; "
                             "pad the input explicitly otherwise")
        self.padding = padding

    def modules(self) -> list:
        if self.padding == "same":
            return [_SamePool2d(self._mode, self.pool_size)]
        if self._mode == "max":
            return [nn.MaxPool2d(self.pool_size, self.strides)]
        return [nn.AvgPool2d(self.pool_size, self.strides)]


class MaxPooling2D(_Pooling2D):
    """``MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid')``."""

    _mode = "max"


class AveragePooling2D(_Pooling2D):
    """``AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid')`` (padding cells never counted)."""

    _mode = "avg"


class GlobalAveragePooling2D(Layer):
    """Average over all positions: ``(N, H, W, C)`` → ``(N, C)``."""

    def modules(self) -> list:
        return [nn.GlobalAvgPool2d()]


class Flatten(Layer):
    """Flatten each sample, in Keras's (H, W, C) order."""

    def modules(self) -> list:
        return [ToChannelsLast(), nn.Flatten()]


class Dense(Layer):
    """``Dense(units, activation=None, use_bias=True)`` on ``(N, features)`` inputs."""

    def __init__(self, units: int, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 input_shape: Optional[tuple] = None, name: Optional[str] = None) -> None:
        super().__init__(input_shape, name)
        _initializer(kernel_initializer), _initializer(bias_initializer), _activation(activation)
        self.units, self.use_bias, self.activation = units, use_bias, activation
        self.initializers = (kernel_initializer, bias_initializer)

    def modules(self) -> list:
        linear = KerasDense(None, self.units, bias=self.use_bias)
        linear.kernel_initializer, linear.bias_initializer = self.initializers
        return [linear] + _activation(self.activation)


class Dropout(Layer):
    """``Dropout(rate)``: inverted dropout during ``fit`` only."""

    def __init__(self, rate: float, name: Optional[str] = None) -> None:
        super().__init__(None, name)
        self.rate = rate
        nn.Dropout(rate)  # validates the rate now, as Keras does

    def modules(self) -> list:
        return [nn.Dropout(self.rate)]


class BatchNormalization(Layer):
    """``BatchNormalization(momentum=0.99, epsilon=1e-3)`` over the channels (Keras's momentum is
    the share of the old running average, PyTorch's ``1 − momentum``)."""

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, name: Optional[str] = None) -> None:
        super().__init__(None, name)
        self.momentum, self.epsilon = momentum, epsilon

    def modules(self) -> list:
        return [_AnyRankBatchNorm(None, eps=self.epsilon, momentum=1.0 - self.momentum)]


class Activation(Layer):
    """``Activation('relu')`` etc."""

    def __init__(self, activation: str, name: Optional[str] = None) -> None:
        super().__init__(None, name)
        _activation(activation)
        self.activation = activation

    def modules(self) -> list:
        return _activation(self.activation)


class ReLU(Layer):
    """``ReLU()``."""

    def modules(self) -> list:
        return [nn.ReLU()]


def Input(shape: tuple) -> InputLayer:  # noqa: N802 - Keras's name
    """``keras.layers.Input(shape)``: one sample's shape (channels-last, no batch dimension)."""
    return InputLayer(tuple(shape))
