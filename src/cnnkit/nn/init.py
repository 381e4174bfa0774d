"""Weight initialisers with PyTorch's names, formulas and in-place convention.

Every function fills its tensor in place (under no_grad), returns it, and draws from
cnnkit's seeded default generator unless ``generator=`` (a ``numpy.random.Generator``) is given.
Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``, ``fan_in = in * prod(kernel)``
and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from cnnkit import random as _random
from cnnkit.tensor import Tensor

_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
          "selu": 3.0 / 4}
_CONV = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for ``nonlinearity`` (PyTorch's table): e.g. √2 for ReLU, 5/3 for tanh.

    Linear, identity, sigmoid and conv/conv-transpose names give 1; ``'selu'`` gives 3/4; leaky
    ReLU gives ``√(2 / (1 + slope²))``.

    Args:
        nonlinearity: the activation's name, e.g. ``'relu'``, ``'tanh'``, ``'leaky_relu'``,
            ``'conv2d'`` (case-insensitive).
        param: the negative slope for ``'leaky_relu'`` (default None: 0.01).

    Raises:
        ValueError: for an unknown nonlinearity (listing the supported ones).

    Example:
        >>> import cnnkit
        >>> round(cnnkit.nn.init.calculate_gain("relu"), 4)
        1.4142
    """
    name = nonlinearity.lower()
    if name in _CONV:
        return 1.0
    if name == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if name not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                         f"{sorted(set(_GAINS) | _CONV | {'leaky_relu'})}")
    return _GAINS[name]


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """``(fan_in, fan_out)`` of a weight: ``in · prod(kernel)`` and ``out · prod(kernel)``.

    For a weight of shape ``(out, in, *kernel)`` (Linear: ``(out, in)``), as PyTorch's
    ``_calculate_fan_in_and_fan_out``.

    Args:
        tensor: a weight with at least 2 dimensions.

    Raises:
        ValueError: for fewer than 2 dimensions.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.calculate_fan_in_and_fan_out(cnnkit.empty(16, 3, 5, 5))
        (75, 400)
    """
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype, copy=False)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """Fill ``tensor`` in place with samples of the uniform distribution ``U(a, b)``; returns it.

    Args:
        tensor: the tensor to fill (its shape and dtype are kept).
        a: lower bound (default 0.0).
        b: upper bound (default 1.0).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> w = cnnkit.nn.init.uniform_(cnnkit.empty(2, 3), -0.5, 0.5)
        >>> w.shape, bool((w.abs() <= 0.5).all())
        ((2, 3), True)
    """
    return _fill(tensor, _random.resolve(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """Fill ``tensor`` in place with samples of the normal distribution ``N(mean, std²)``; returns it.

    Args:
        tensor: the tensor to fill (its shape and dtype are kept).
        mean: mean of the distribution (default 0.0).
        std: standard deviation (default 1.0).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.normal_(cnnkit.empty(2, 3), std=0.01).shape
        (2, 3)
    """
    return _fill(tensor, _random.resolve(generator).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` in place with the value ``val``; returns it.

    Args:
        tensor: the tensor to fill.
        val: the fill value.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.constant_(cnnkit.empty(3), 0.5).tolist()
        [0.5, 0.5, 0.5]
    """
    tensor.data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` in place with zeros; returns it.

    Args:
        tensor: the tensor to fill.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.zeros_(cnnkit.ones(2)).tolist()
        [0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` in place with ones; returns it.

    Args:
        tensor: the tensor to fill.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.ones_(cnnkit.zeros(2)).tolist()
        [1.0, 1.0]
    """
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """Glorot uniform: ``U(−a, a)``, ``a = gain · √(6 / (fan_in + fan_out))`` (Keras' default kernel init).

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        gain: scaling factor, e.g. from :func:`calculate_gain` (default 1.0).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> w = cnnkit.nn.init.xavier_uniform_(cnnkit.empty(3, 5))
        >>> w.shape, bool((w.abs() <= 1.0).all())
        ((3, 5), True)
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """Glorot normal: ``N(0, std²)`` with ``std = gain · √(2 / (fan_in + fan_out))``.

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        gain: scaling factor (default 1.0).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.xavier_normal_(cnnkit.empty(3, 5)).shape
        (3, 5)
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: Optional[np.random.Generator] = None) -> Tensor:
    """He uniform: ``U(−b, b)`` with ``b = gain · √(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        a: negative slope of the following leaky ReLU (default 0.0, i.e. a ReLU: gain √2).
        mode: ``'fan_in'`` (default; preserves the forward variance) or ``'fan_out'`` (backward).
        nonlinearity: name for :func:`calculate_gain` (default ``'leaky_relu'``).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> w = cnnkit.nn.init.kaiming_uniform_(cnnkit.empty(4, 6), nonlinearity="relu")
        >>> w.shape, bool((w.abs() <= 1.0).all())
        ((4, 6), True)
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: Optional[np.random.Generator] = None) -> Tensor:
    """He normal: ``N(0, std²)`` with ``std = gain / √fan``, ``gain = calculate_gain(nonlinearity, a)``.

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        a: negative slope of the following leaky ReLU (default 0.0, i.e. a ReLU: gain √2).
        mode: ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity: name for :func:`calculate_gain` (default ``'leaky_relu'``).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.kaiming_normal_(cnnkit.empty(8, 3, 3, 3), mode="fan_out").shape
        (8, 3, 3, 3)
    """
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def lecun_normal_(tensor: Tensor, generator: Optional[np.random.Generator] = None) -> Tensor:
    """LeCun normal: ``N(0, 1 / fan_in)``, the initialisation SELU networks expect (a cnnkit extra).

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.init.lecun_normal_(cnnkit.empty(4, 16)).shape
        (4, 16)
    """
    fan_in, _ = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Optional[np.random.Generator] = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a Gaussian matrix.

    The weight is viewed as ``(rows, prod(other dims))``; rows (or columns, whichever are fewer)
    come out orthonormal, as PyTorch's ``orthogonal_``.

    Args:
        tensor: a weight with at least 2 dimensions, filled in place and returned.
        gain: scaling factor (default 1.0).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> q = cnnkit.nn.init.orthogonal_(cnnkit.empty(3, 5))
        >>> ((q @ q.T) - cnnkit.eye(3)).abs().max().item() < 1e-5
        True
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = _random.resolve(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def default_layer_init_(weight: Tensor, bias: Optional[Tensor] = None,
                        generator: Optional[np.random.Generator] = None) -> None:
    """PyTorch's default Linear/Conv init: ``kaiming_uniform_(a=√5)`` weights and bias ``~ U(±1/√fan_in)``.

    ``kaiming_uniform_(a=√5)`` amounts to ``U(±1/√fan_in)`` for the weights as well. Fills in place.

    Args:
        weight: the layer's weight ``(out, in, *kernel)``.
        bias: the layer's bias ``(out,)``, or None (default None).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> w, b = cnnkit.empty(4, 9), cnnkit.empty(4)
        >>> cnnkit.nn.init.default_layer_init_(w, b)
        >>> bool((w.abs() <= 1 / 3).all()), bool((b.abs() <= 1 / 3).all())
        (True, True)
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        uniform_(bias, -bound, bound, generator)
