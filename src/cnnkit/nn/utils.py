"""Gradient clipping (``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Union

import numpy as np

from cnnkit.tensor import Tensor


def _grads(parameters: Union[Tensor, Iterable[Tensor]]) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Union[Tensor, Iterable[Tensor]], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    The gradients are multiplied in place by ``min(1, max_norm / (total_norm + 1e-6))``, as PyTorch.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm (``float('inf')`` for the maximum absolute value).
        error_if_nonfinite: raise if the total norm is NaN or infinite (otherwise the gradients
            become NaN, as in PyTorch).

    Returns:
        The total norm of the gradients before clipping (a 0-d Tensor).

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([3.0, 4.0], requires_grad=True)
        >>> w.grad = cnnkit.tensor([3.0, 4.0])
        >>> round(cnnkit.nn.utils.clip_grad_norm_([w], 1.0).item(), 4), [round(g, 4) for g in w.grad.tolist()]
        (5.0, [0.6, 0.8])
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        # np.max (unlike Python's max) propagates a NaN from any gradient.
        total = float(np.max([np.max(np.abs(g)) if g.size else 0.0 for g in grads]))
    else:
        total = float(sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           "the gradients cannot be clipped. Find where the NaN/Inf comes from "
                           "(cnnkit.detect_anomaly() names the op).")
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= g.dtype.type(coefficient)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters: Union[Tensor, Iterable[Tensor]], clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        clip_value: the largest allowed absolute value.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0, 1.0], requires_grad=True)
        >>> w.grad = cnnkit.tensor([-3.0, 0.5])
        >>> cnnkit.nn.utils.clip_grad_value_([w], 1.0); w.grad.tolist()
        [-1.0, 0.5]
    """
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def zero_grads(parameters: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Clear the ``.grad`` of every tensor: set it to None, or zero it in place (``set_to_none=False``).

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0], requires_grad=True)
        >>> w.grad = cnnkit.tensor([3.0])
        >>> cnnkit.nn.utils.zero_grads([w], set_to_none=False); w.grad.tolist()
        [0.0]
    """
    for p in parameters:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.data[...] = 0


def parameters_to_vector(parameters: Iterable[Any]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (a copy)."""
    return Tensor(np.concatenate([p.data.reshape(-1) for p in parameters]))
