"""Tensor-level functions (math, joins, ``where``, ``pad``, ``linear``); also ``cnnkit.cat`` etc."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from cnnkit._dims import normalize_dim
from cnnkit._tensor_math import as_operand, promote
from cnnkit.ops import elementwise as E
from cnnkit.ops import shape as S
from cnnkit.tensor import Tensor


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(input: Tensor) -> Tensor:
    """Rectified linear unit ``max(0, x)``, elementwise; its gradient at 0 is 0 (as PyTorch).

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.relu(cnnkit.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return _tensor(input).relu()


def sigmoid(input: Tensor) -> Tensor:
    """Logistic function ``σ(x) = 1 / (1 + e^(−x))``, overflow-free; derivative ``σ(1 − σ)``.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.sigmoid(cnnkit.tensor([0.0])).tolist()
        [0.5]
    """
    return _tensor(input).sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent ``(eˣ − e^(−x)) / (eˣ + e^(−x))``; derivative ``1 − tanh²``.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.tanh(cnnkit.tensor([0.0])).tolist()
        [0.0]
    """
    return _tensor(input).tanh()


def exp(input: Tensor) -> Tensor:
    """Exponential ``eˣ``, elementwise.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.exp(cnnkit.tensor([0.0])).tolist()
        [1.0]
    """
    return _tensor(input).exp()


def log(input: Tensor) -> Tensor:
    """Natural logarithm ``ln x``, elementwise (NaN below 0, −inf at 0, as NumPy and PyTorch).

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.log(cnnkit.tensor([1.0])).tolist()
        [0.0]
    """
    return _tensor(input).log()


def sqrt(input: Tensor) -> Tensor:
    """Square root ``√x``, elementwise (NaN below 0; the gradient at 0 is +inf).

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.sqrt(cnnkit.tensor([4.0, 9.0])).tolist()
        [2.0, 3.0]
    """
    return _tensor(input).sqrt()


def abs(input: Tensor) -> Tensor:
    """Absolute value ``|x|``, elementwise.

    Args:
        input: a tensor of any shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.abs(cnnkit.tensor([-2.0, 3.0])).tolist()
        [2.0, 3.0]
    """
    return _tensor(input).abs()


def clamp(input: Tensor, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
    """Limit values to ``[min, max]``: ``min(max(x, min), max)``; ``clip`` is the same function.

    The gradient passes where ``min <= x <= max`` (bounds included, as PyTorch's clamp; compare
    :func:`hardtanh`, whose gradient is 0 at the bounds).

    Args:
        input: a tensor of any shape.
        min: lower bound (default None: no lower bound).
        max: upper bound (default None: no upper bound).

    Example:
        >>> import cnnkit
        >>> cnnkit.clamp(cnnkit.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
        [0.0, 0.5, 1.0]
    """
    return _tensor(input).clamp(min, max)


clip = clamp


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise maximum ``max(input, other)`` with broadcasting.

    The larger input gets the gradient; ties split it half and half.

    Args:
        input: a tensor (or number).
        other: a tensor or number, broadcast against ``input``.

    Shape:
        Output: the broadcast shape of ``input`` and ``other``.

    Example:
        >>> import cnnkit
        >>> cnnkit.maximum(cnnkit.tensor([1.0, 5.0]), cnnkit.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return _tensor(input).maximum(other)


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise minimum ``min(input, other)`` with broadcasting.

    The smaller input gets the gradient; ties split it half and half.

    Args:
        input: a tensor (or number).
        other: a tensor or number, broadcast against ``input``.

    Shape:
        Output: the broadcast shape of ``input`` and ``other``.

    Example:
        >>> import cnnkit
        >>> cnnkit.minimum(cnnkit.tensor([1.0, 5.0]), cnnkit.tensor([3.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    return _tensor(input).minimum(other)


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product ``input @ other``, batched and with 1-D operands as in NumPy (and ``torch.matmul``).

    Args:
        input: a tensor with at least 1 dimension.
        other: a tensor with at least 1 dimension.

    Shape:
        ``(*, n, k) @ (*, k, m)`` → ``(*, n, m)`` with broadcast batch dims; a 1-D operand is a
        vector (its dimension is removed from the result).

    Example:
        >>> import cnnkit
        >>> cnnkit.matmul(cnnkit.ones(2, 3), cnnkit.ones(3, 4)).shape
        (2, 4)
    """
    return _tensor(input).matmul(other)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """Pick ``input`` where ``condition`` is true, else ``other``; all three broadcast.

    The condition is not differentiable; each branch receives the gradient where it was chosen.

    Args:
        condition: a boolean tensor or array (compare first, e.g. ``x > 0``).
        input: values where ``condition`` is true (tensor or number).
        other: values where it is false (tensor or number).

    Shape:
        Output: the broadcast shape of ``condition``, ``input`` and ``other``.

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([-1.0, 2.0])
        >>> cnnkit.where(x > 0, x, 0.0)
        tensor([0., 2.])
    """
    cond = np.asarray(getattr(condition, "data", condition))
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype} (compare first, e.g. x > 0)")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(input)
    a = input if isinstance(input, Tensor) else as_operand(input, other)
    b = other if isinstance(other, Tensor) else as_operand(other, a)
    a, b = promote(a, b)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, input {a.shape} and other {b.shape} cannot be broadcast together"
        ) from None
    if cond.shape != np.broadcast_shapes(a.shape, b.shape):
        # Broadcast the operands first so the op's output has the full shape.
        full = np.broadcast_shapes(cond.shape, a.shape, b.shape)
        a, b = a.broadcast_to(full), b.broadcast_to(full)
    return E.Where.apply(a, b, condition=cond)


def _same_rank(tensors: Sequence[Any], what: str) -> list:
    items = [_tensor(t) for t in tensors]
    if not items:
        raise ValueError(f"{what}: expected a non-empty sequence of tensors")
    return items


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: Optional[int] = None) -> Tensor:
    """Join tensors along an existing dimension; ``concatenate`` is the same function.

    Integer tensors joining float ones take the float dtype, as PyTorch.

    Args:
        tensors: a non-empty sequence of tensors with the same shape except in ``dim``.
        dim: the dimension to join along (default 0).
        axis: NumPy's spelling of ``dim``; overrides it when given (default None).

    Shape:
        Inputs ``(*, n_i, *)``; output ``(*, Σ n_i, *)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.cat([cnnkit.zeros(1, 2), cnnkit.ones(2, 2)]).shape
        (3, 2)
    """
    items = _same_rank(tensors, "cat")
    dim = dim if axis is None else axis
    for i, t in enumerate(items):
        if t.ndim == 0:
            raise ValueError(f"cat: tensor {i} is zero-dimensional and cannot be concatenated; "
                             "use stack, or unsqueeze(0) it first")
    floats = [t.dtype for t in items if t.dtype.kind in "fc"]
    if floats and len(floats) < len(items):
        target = np.result_type(*floats)  # PyTorch: integers joining floats take the float dtype
        items = [t if t.dtype.kind in "fc" else t.to(target) for t in items]
    axis_ = normalize_dim(dim, items[0].ndim)
    for i, t in enumerate(items):
        if t.ndim != items[0].ndim or t.shape[:axis_] + t.shape[axis_ + 1:] != items[0].shape[:axis_] + items[0].shape[axis_ + 1:]:
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape} but tensor 0 has shape {items[0].shape}; all "
                f"sizes must match except in dim {dim}"
            )
    return S.Concatenate.apply(*items, axis=axis_)


concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: Optional[int] = None) -> Tensor:
    """Join equally shaped tensors along a new dimension ``dim``.

    Args:
        tensors: a non-empty sequence of tensors of the same shape.
        dim: position of the new dimension in the output (default 0).
        axis: NumPy's spelling of ``dim``; overrides it when given (default None).

    Shape:
        K inputs of shape ``S``; output ``S`` with a new dimension of size K inserted at ``dim``.

    Example:
        >>> import cnnkit
        >>> cnnkit.stack([cnnkit.zeros(2), cnnkit.ones(2)], dim=1).tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    items = _same_rank(tensors, "stack")
    for i, t in enumerate(items):
        if t.shape != items[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {items[0].shape}; all must match")
    dim = dim if axis is None else axis
    return S.Stack.apply(*items, axis=normalize_dim(dim, items[0].ndim + 1))


def check_pad_widths(shape: tuple, pairs: Sequence[tuple], mode: str, what: str) -> None:
    """Validate ``(before, after)`` widths per axis for a padding mode (shared by pad and conv).

    Reflection needs widths below the axis length (the edge is not repeated); replicate and
    circular need widths at most the length; only constant mode may crop (negative widths).
    """
    for axis, (lo, hi) in enumerate(pairs):
        if shape[axis] + lo + hi < 0:
            raise ValueError(f"{what}: widths {(lo, hi)} would leave dim {axis} of size {shape[axis]} negative")
        if mode in ("constant", "zeros"):
            continue
        if min(lo, hi) < 0:
            raise ValueError(f"{what}: negative widths only crop in constant mode, got {(lo, hi)} with mode {mode!r}")
        limit = shape[axis] - 1 if mode == "reflect" else shape[axis]
        if max(lo, hi) > limit:
            raise ValueError(
                f"{what}: {mode} padding of {max(lo, hi)} needs dim {axis} to have more than "
                f"{max(lo, hi) - (mode != 'reflect')} elements, but it has {shape[axis]}"
            )


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad (or, in constant mode, crop with negative widths) the last ``len(pad) // 2`` dimensions.

    ``pad`` lists ``(left, right)`` for the last dimension first, then the one before, as in
    ``torch.nn.functional.pad``: ``pad(x, (1, 1, 2, 2))`` pads width by 1 and height by 2.

    Args:
        input: tensor to pad.
        pad: an even-length sequence of integers.
        mode: ``"constant"`` (default; fill with ``value``), ``"reflect"`` (mirror without
            repeating the edge), ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap around).
        value: fill value of constant mode (default 0.0).

    Shape:
        Each padded dimension grows by ``left + right``; the others are unchanged.

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.pad(cnnkit.ones(1, 2), (1, 0)).tolist()
        [[0.0, 1.0, 1.0]]
        >>> cnnkit.functional.pad(cnnkit.tensor([[1.0, 2.0, 3.0]]), (2, 0), mode="reflect").tolist()
        [[3.0, 2.0, 1.0, 2.0, 3.0]]
    """
    from cnnkit.ops.conv import PadMode

    x = _tensor(input)
    modes = ("constant", "reflect", "replicate", "circular")
    if mode not in modes:
        raise ValueError(f"pad: mode must be one of {modes}, got {mode!r}")
    widths = [int(p) for p in pad]
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(
            f"pad: expected an even number of widths covering at most {x.ndim} dims, got {tuple(pad)}"
        )
    pairs = [(0, 0)] * x.ndim
    for k in range(len(widths) // 2):
        pairs[x.ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    check_pad_widths(x.shape, pairs, mode, "pad")
    if mode != "constant":
        return PadMode.apply(x, widths=tuple(pairs), mode=mode)
    return S.Pad.apply(x, widths=tuple(pairs), value=value)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Sum ``Σ x`` over ``dim`` (all elements by default).

    Args:
        input: a tensor.
        dim: an int or tuple of dims to reduce (default None: all of them).
        keepdim: keep the reduced dims with size 1 (default False).

    Shape:
        The input's shape without the reduced dims (size 1 with ``keepdim``); ``()`` for all dims.

    Example:
        >>> import cnnkit
        >>> cnnkit.sum(cnnkit.ones(2, 3), dim=1).tolist()
        [3.0, 3.0]
    """
    return _tensor(input).sum(dim, keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Arithmetic mean ``Σ x / n`` over ``dim`` (all elements by default).

    Args:
        input: a tensor.
        dim: an int or tuple of dims to reduce (default None: all of them).
        keepdim: keep the reduced dims with size 1 (default False).

    Shape:
        The input's shape without the reduced dims (size 1 with ``keepdim``); ``()`` for all dims.

    Example:
        >>> import cnnkit
        >>> cnnkit.mean(cnnkit.tensor([[1.0, 2.0], [3.0, 6.0]]), dim=0, keepdim=True).tolist()
        [[2.0, 4.0]]
    """
    return _tensor(input).mean(dim, keepdim)


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """Affine map ``input @ weight.T + bias`` in one op (PyTorch's ``F.linear``).

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``, same float dtype as ``input``.
        bias: ``(out_features,)`` or None (default None).

    Shape:
        Input ``(*, in_features)``; output ``(*, out_features)``.

    Example:
        >>> import cnnkit
        >>> F = cnnkit.functional
        >>> F.linear(cnnkit.ones(2, 3), cnnkit.ones(4, 3), cnnkit.zeros(4)).shape
        (2, 4)
    """
    from cnnkit.ops.linalg import Linear

    from cnnkit.functional.conv import check_same_float_dtype

    x, w = _tensor(input), _tensor(weight)
    check_same_float_dtype(x, w, "linear")
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input {x.shape} and weight {w.shape} do not fit: weight must be "
            f"(out_features, in_features) with in_features equal to the input's last dimension"
        )
    if bias is None:
        return Linear.apply(x, w)
    b = _tensor(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {b.shape}")
    return Linear.apply(x, w, b)
