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
    """Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope · x``.

    Args:
        input: a tensor of any shape.
        negative_slope: slope for negative inputs (default 0.01).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.leaky_relu(cnnkit.tensor([-100.0, 2.0])).tolist()
        [-1.0, 2.0]
    """
    return A.LeakyReLU.apply(_t(input), negative_slope=negative_slope)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Parametric ReLU: ``x`` if ``x > 0`` else ``a · x``, ``a`` learnable (shared or one per channel).

    Args:
        input: ``(N, C, *)`` or unbatched ``(C,)`` (any shape with a single shared slope).
        weight: the slopes ``a``, shape ``(1,)`` (shared) or ``(C,)`` (per channel, dim 1).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.prelu(cnnkit.tensor([-2.0, 1.0]), cnnkit.tensor([0.25])).tolist()
        [-0.5, 1.0]
    """
    x = _t(input)
    a = _per_channel(_t(weight), x, "prelu")
    return where(x > 0, x, x * a)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          generator: Optional[np.random.Generator] = None) -> Tensor:
    """Randomized leaky ReLU: ``x`` if ``x ≥ 0`` else ``a · x``; in training ``a ~ U(lower, upper)``.

    A slope is drawn per element in training; in evaluation (``training=False``, the default, as
    PyTorch) the slope is ``(lower + upper) / 2``.

    Args:
        input: a tensor of any shape.
        lower: lower bound of the slope (default 1/8); ``0 ≤ lower ≤ upper``.
        upper: upper bound of the slope (default 1/3).
        training: draw random slopes (default False).
        generator: a ``numpy.random.Generator`` for the slopes (default None: cnnkit's seeded
            generator; a cnnkit extra).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.rrelu(cnnkit.tensor([-2.0, 1.0]), 0.25, 0.75).tolist()
        [-1.0, 1.0]
    """
    x = _t(input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    slope = _random.resolve(generator).uniform(lower, upper, x.shape).astype(x.dtype)
    return where(x >= 0, x, x * Tensor(slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha · (eˣ − 1)``.

    Args:
        input: a tensor of any shape.
        alpha: scale of the negative branch, which saturates at ``−alpha`` (default 1.0).

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.elu(cnnkit.tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    return A.ELU.apply(_t(input), alpha=alpha, scale=1.0)


def selu(input: Tensor) -> Tensor:
    """Scaled ELU ``λ · (x if x > 0 else α · (eˣ − 1))``, λ = 1.0507009873554805, α = 1.6732632423543772.

    Self-normalising with :func:`cnnkit.nn.init.lecun_normal_` weights.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.selu(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 1.0507]
    """
    return A.ELU.apply(_t(input), alpha=SELU_ALPHA, scale=SELU_SCALE)


def srelu(input: Tensor, t_left: Tensor, a_left: Tensor, t_right: Tensor, a_right: Tensor) -> Tensor:
    """S-shaped ReLU (a cnnkit extra) with learnable thresholds and slopes, per channel or shared.

    ``t_r + a_r · (x − t_r)`` for ``x ≥ t_r``; ``x`` between; ``t_l + a_l · (x − t_l)`` for ``x ≤ t_l``.

    Args:
        input: ``(N, C, *)`` or unbatched ``(C,)`` (any shape with shared parameters).
        t_left, a_left: left threshold ``t_l`` and slope ``a_l``, shape ``(1,)`` or ``(C,)``.
        t_right, a_right: right threshold ``t_r`` and slope ``a_r``, shape ``(1,)`` or ``(C,)``.

    Example:
        >>> import cnnkit
        >>> t_l, a_l, t_r, a_r = (cnnkit.tensor([v]) for v in (-1.0, 0.5, 1.0, 0.5))
        >>> cnnkit.functional.srelu(cnnkit.tensor([-3.0, 0.5, 3.0]), t_l, a_l, t_r, a_r).tolist()
        [-2.0, 0.5, 2.0]
    """
    x = _t(input)
    tl, al = _per_channel(_t(t_left), x, "srelu"), _per_channel(_t(a_left), x, "srelu")
    tr, ar = _per_channel(_t(t_right), x, "srelu"), _per_channel(_t(a_right), x, "srelu")
    left = tl + al * (x - tl)
    right = tr + ar * (x - tr)
    return where(x >= tr, right, where(x <= tl, left, x))


def isrlu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """Inverse square root linear unit (a cnnkit extra): ``x`` if ``x ≥ 0`` else ``x / √(1 + α·x²)``.

    Args:
        input: a tensor of any shape.
        alpha: curvature α ≥ 0 of the negative branch, which saturates at ``−1/√alpha``
            (default 1.0).

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.isrlu(cnnkit.tensor([-1.0, 2.0])).tolist()]
        [-0.7071, 2.0]
    """
    if alpha < 0:
        raise ValueError(f"isrlu: alpha must be non-negative, got {alpha}")
    return A.ISRLU.apply(_t(input), alpha=alpha)


def apl(input: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Adaptive piecewise linear unit (a cnnkit extra): ``max(0, x) + Σ_s a_s · max(0, −x + b_s)``.

    Args:
        input: ``(N, C, *)``, ``(N, C)`` or one sample's channels ``(C,)``.
        a, b: hinge slopes and positions, shape ``(S, C)`` (or ``(S, 1)`` shared over channels).

    Example:
        >>> import cnnkit
        >>> a, b = cnnkit.tensor([[0.5]]), cnnkit.tensor([[0.0]])
        >>> cnnkit.functional.apl(cnnkit.tensor([[-1.0, 2.0]]), a, b).tolist()
        [[0.5, 2.0]]
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
    """Softplus ``log(1 + e^(β·x)) / β``; reverts to ``x`` where ``β·x > threshold`` for stability.

    Args:
        input: a tensor of any shape.
        beta: sharpness β, must be positive (default 1.0).
        threshold: above this value of ``β·x`` the output is ``x`` (default 20.0).

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.softplus(cnnkit.tensor([0.0, 30.0])).tolist()]
        [0.6931, 30.0]
    """
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    return A.Softplus.apply(_t(input), beta=beta, threshold=threshold)


def bent_identity(input: Tensor) -> Tensor:
    """Bent identity (a cnnkit extra, not in PyTorch): ``(√(x² + 1) − 1) / 2 + x``.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.bent_identity(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 1.2071]
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
    """Softmax ``exp(x_i) / Σ_j exp(x_j)`` along ``dim`` (computed stably): outputs sum to 1 along it.

    Args:
        input: a tensor of any shape.
        dim: the dimension to normalise (default None: PyTorch's deprecated implicit choice, dim 0
            for 0-, 1- and 3-D inputs and dim 1 otherwise, with a ``UserWarning``; pass it
            explicitly, e.g. ``dim=1`` for ``(N, C)`` logits).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.softmax(cnnkit.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
    """
    x = _t(input)
    return A.Softmax.apply(x, axis=_softmax_dim(x, dim, "softmax"))


def log_softmax(input: Tensor, dim: Optional[int] = None) -> Tensor:
    """Log-softmax ``x_i − log Σ_j exp(x_j)`` along ``dim``, without overflow (pair it with ``nll_loss``).

    Args:
        input: a tensor of any shape.
        dim: the dimension to normalise (default None: PyTorch's implicit choice with a
            ``UserWarning``, as :func:`softmax`).

    Example:
        >>> import cnnkit
        >>> out = cnnkit.functional.log_softmax(cnnkit.tensor([[0.0, 0.0]]), dim=1)
        >>> [round(v, 4) for v in out.tolist()[0]]
        [-0.6931, -0.6931]
    """
    x = _t(input)
    return A.LogSoftmax.apply(x, axis=_softmax_dim(x, dim, "log_softmax"))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x · Φ(x)``, Φ the standard normal CDF.

    Args:
        input: a tensor of any shape.
        approximate: ``'none'`` (exact, default) or ``'tanh'``
            (``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``).

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.gelu(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return A.GELU.apply(_t(input), approximate=approximate)


def silu(input: Tensor) -> Tensor:
    """Sigmoid linear unit (swish) ``x · σ(x)``.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.silu(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.7311]
    """
    return A.SiLU.apply(_t(input))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Hard tanh ``min(max(x, min_val), max_val)``: clamp to ``[min_val, max_val]``.

    The gradient is 1 strictly inside ``(min_val, max_val)`` and 0 at and beyond the bounds, as
    PyTorch's hardtanh (unlike :func:`clamp`, whose gradient also passes at the bounds).

    Args:
        input: a tensor of any shape.
        min_val: lower bound (default −1.0).
        max_val: upper bound, at least ``min_val`` (default 1.0).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.hardtanh(cnnkit.tensor([-2.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    from cnnkit.ops.unary import Clamp

    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Clamp.apply(_t(input), min=min_val, max=max_val, strict=True)


def mish(input: Tensor) -> Tensor:
    """Mish ``x · tanh(softplus(x))``, with ``softplus(x) = log(1 + eˣ)``.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.functional.mish(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.8651]
    """
    return A.Mish.apply(_t(input))
