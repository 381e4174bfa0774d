"""Activation functions: the slides' fourteen plus GELU, SiLU, Hardtanh and Mish.

Learnable activations (PReLU, SReLU, APL) take their parameters as tensors with one value per
channel (dim 1 of the input) or a single shared value; they are compositions of
differentiable ops, so their parameter gradients come from the graph.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from cnnkit import random as _random
from cnnkit._dims import normalize_dim
from cnnkit.autograd.function import user_stacklevel
from cnnkit.functional.basic import where
from cnnkit.ops import activation as A
from cnnkit.tensor import Tensor

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _per_channel(param: Tensor, x: Tensor, what: str) -> Tensor:
    """Reshape a ``(C,)`` (or ``(1,)``) parameter to broadcast over dim 1 of ``x``."""
    if param.ndim == 1 and param.shape[0] == 1:
        return param.reshape(())
    channels = x.shape[1] if x.ndim >= 2 else x.shape[0] if x.ndim == 1 else 1
    if param.ndim != 1 or param.shape[0] != channels:
        raise ValueError(f"{what}: the parameter has shape {param.shape}; expected (1,) or one value per channel "
                         f"({channels},) for an input of shape {x.shape}")
    if x.ndim < 2:
        return param
    return param.reshape((1, channels) + (1,) * (x.ndim - 2))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, ``negative_slope · x`` otherwise.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.leaky_relu(cnnkit.tensor([-100.0, 2.0])).tolist()
        [-1.0, 2.0]
    """
    return A.LeakyReLU.apply(_t(input), negative_slope=negative_slope)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: ``x`` for ``x > 0``, ``a · x`` otherwise, ``a`` learnable (shared or per channel)."""
    x = _t(input)
    a = _per_channel(_t(weight), x, "prelu")
    return where(x > 0, x, x * a)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator: Optional[np.random.Generator] = None) -> Tensor:
    """Randomized leaky ReLU: in training each negative element gets a slope ~ U(lower, upper);
    in evaluation the slope is ``(lower + upper) / 2`` (PyTorch's rule).
    """
    x = _t(input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slope = _random.resolve(generator).uniform(lower, upper, x.shape).astype(x.dtype)
    return where(x >= 0, x, x * Tensor(slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha · (eˣ − 1)`` otherwise."""
    return A.ELU.apply(_t(input), alpha=alpha, scale=1.0)


def selu(input: Tensor) -> Tensor:
    """Scaled ELU with λ = 1.0507009873554805 and α = 1.6732632423543772 (self-normalising)."""
    return A.ELU.apply(_t(input), alpha=SELU_ALPHA, scale=SELU_SCALE)


def srelu(input: Tensor, t_left: Tensor, a_left: Tensor, t_right: Tensor, a_right: Tensor) -> Tensor:
    """S-shaped ReLU with learnable thresholds and slopes (per channel or shared).

    ``t_r + a_r (x − t_r)`` for ``x ≥ t_r``; ``x`` between; ``t_l + a_l (x − t_l)`` for ``x ≤ t_l``.
    """
    x = _t(input)
    tl, al = _per_channel(_t(t_left), x, "srelu"), _per_channel(_t(a_left), x, "srelu")
    tr, ar = _per_channel(_t(t_right), x, "srelu"), _per_channel(_t(a_right), x, "srelu")
    left = tl + al * (x - tl)
    right = tr + ar * (x - tr)
    return where(x >= tr, right, where(x <= tl, left, x))


def isrlu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Inverse square root linear unit: ``x / √(1 + αx²)`` for ``x < 0``, ``x`` otherwise."""
    if alpha < 0:
        raise ValueError(f"isrlu: alpha must be non-negative, got {alpha}")
    return A.ISRLU.apply(_t(input), alpha=alpha)


def apl(input: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Adaptive piecewise linear unit: ``max(0, x) + Σ_s a_s · max(0, −x + b_s)``.

    Args:
        input: ``(N, C, *)`` or ``(N, C)``.
        a, b: hinge slopes and positions, shape ``(S, C)`` (or ``(S, 1)`` shared over channels).
    """
    x, a_t, b_t = _t(input), _t(a), _t(b)
    if a_t.ndim != 2 or a_t.shape != b_t.shape:
        raise ValueError(f"apl: a and b must both have shape (hinges, channels), got {a_t.shape} and {b_t.shape}")
    hinges, channels = a_t.shape
    if x.ndim < 1:
        raise ValueError("apl: the input needs at least one dimension (the channels)")
    have = x.shape[1] if x.ndim >= 2 else x.shape[0]  # a 1-D input is one sample's channels
    if channels not in (1, have):
        raise ValueError(f"apl: parameters have {channels} channels but the input {x.shape} has {have}")
    shape = (hinges, 1, channels) + (1,) * (x.ndim - 2) if x.ndim >= 2 else (hinges, channels)
    hinge = (b_t.reshape(shape) - x.unsqueeze(0)).relu()
    return x.relu() + (a_t.reshape(shape) * hinge).sum(dim=0)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^(βx)) / β``; reverts to ``x`` where ``βx > threshold`` for numerical stability."""
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    return A.Softplus.apply(_t(input), beta=beta, threshold=threshold)


def bent_identity(input: Tensor) -> Tensor:
    """``(√(x² + 1) − 1) / 2 + x``.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.bent_identity(cnnkit.tensor([0.0])).tolist()
        [0.0]
    """
    x = _t(input)
    return ((x * x + 1).sqrt() - 1) * 0.5 + x


def _softmax_dim(x: Tensor, dim: Optional[int], what: str) -> int:
    if dim is not None:
        return normalize_dim(dim, x.ndim)
    implicit = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's (deprecated) implicit choice
    warnings.warn(f"{what}: no dim given, so dim={implicit} is used as in PyTorch for a {x.ndim}-D input; "
                  "pass dim explicitly (dim=1 for (N, C) logits).", UserWarning, stacklevel=user_stacklevel())
    return implicit


def softmax(input: Tensor, dim: Optional[int] = None) -> Tensor:
    """``exp(x_i) / Σ_j exp(x_j)`` along ``dim`` (computed stably).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.softmax(cnnkit.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    x = _t(input)
    return A.Softmax.apply(x, axis=_softmax_dim(x, dim, "softmax"))


def log_softmax(input: Tensor, dim: Optional[int] = None) -> Tensor:
    """``x_i − log Σ_j exp(x_j)`` along ``dim``, without overflow."""
    x = _t(input)
    return A.LogSoftmax.apply(x, axis=_softmax_dim(x, dim, "log_softmax"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x · Φ(x)``; ``approximate='tanh'`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return A.GELU.apply(_t(input), approximate=approximate)


def silu(input: Tensor) -> Tensor:
    """``x · σ(x)`` (also called swish)."""
    return A.SiLU.apply(_t(input))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clamp to ``[min_val, max_val]``; the gradient is 1 strictly inside and 0 at and beyond the bounds."""
    from cnnkit.ops.unary import Clamp

    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Clamp.apply(_t(input), min=min_val, max=max_val, strict=True)


def mish(input: Tensor) -> Tensor:
    """``x · tanh(softplus(x))``."""
    return A.Mish.apply(_t(input))
