"""Normalisation and dropout functions (PyTorch's ``batch_norm``, ``layer_norm``, ``group_norm``, ``dropout``)."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from cnnkit import random as _random
from cnnkit.autograd.grad_mode import no_grad
from cnnkit.ops.norm import MaskScale, Normalize
from cnnkit.tensor import Tensor


def _t(x: Any) -> Optional[Tensor]:
    return x if isinstance(x, Tensor) or x is None else Tensor(x)


def _affine(weight: Optional[Tensor], bias: Optional[Tensor], shape: tuple, x: Tensor) -> tuple:
    """Reshape weight/bias to ``shape`` so they broadcast; missing ones become identity constants."""
    if weight is None and bias is None:
        return ()
    w = weight.reshape(shape) if weight is not None else Tensor(np.ones(shape, x.dtype))
    b = bias.reshape(shape) if bias is not None else Tensor(np.zeros(shape, x.dtype))
    return (w, b)


def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None, training: bool = False,
               momentum: Optional[float] = 0.1, eps: float = 1e-5,
               num_batches_tracked: Optional[Tensor] = None) -> Tensor:
    """Batch normalisation ``γ · (x − mean) / √(var + eps) + β`` over every dim except 1 (the channels).

    In training (or without running statistics) it uses the batch mean and *biased* variance, and
    updates the running estimates in place with the *unbiased* variance:
    ``running = (1 − momentum)·running + momentum·batch``. In evaluation it uses the running
    statistics. As PyTorch's ``F.batch_norm``, plus ``num_batches_tracked``.

    Args:
        input: ``(N, C, *)``; training needs more than one value per channel.
        running_mean, running_var: ``(C,)`` buffers updated in place in training, or None.
        weight: γ ``(C,)`` or None (default None: 1).
        bias: β ``(C,)`` or None (default None: 0).
        training: use (and update) batch statistics (default False).
        momentum: running-average factor (default 0.1; None: cumulative average over
            ``num_batches_tracked``).
        eps: added to the variance for stability (default 1e-5).
        num_batches_tracked: a 0-d integer tensor incremented in place in training (default None;
            needed for ``momentum=None``, a cnnkit extra).

    Example:
        >>> import cnnkit
        >>> x = cnnkit.tensor([[1.0], [3.0]])
        >>> y = cnnkit.functional.batch_norm(x, None, None, training=True)
        >>> [round(v, 4) for v in y.reshape(-1).tolist()]
        [-1.0, 1.0]
    """
    x = _t(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {x.shape}")
    channels = x.shape[1]
    shape = (1, channels) + (1,) * (x.ndim - 2)
    affine = _affine(_t(weight), _t(bias), shape, x)
    axes = (0,) + tuple(range(2, x.ndim))
    use_batch = training or running_mean is None or running_var is None
    if not use_batch:
        scale = (running_var.data.reshape(shape) + eps) ** -0.5
        centred = x - Tensor(running_mean.data.reshape(shape).astype(x.dtype, copy=False))
        normed = centred * Tensor(scale.astype(x.dtype, copy=False))
        return normed * affine[0] + affine[1] if affine else normed
    count = x.size // channels
    if count <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape}. Use a batch of at least 2 (or call .eval() for single-sample inference).")
    stats: list = []
    out = Normalize.apply(x, *affine, axes=axes, eps=eps, stats=stats)
    if training and running_mean is not None and running_var is not None:
        mean, var = stats[0].reshape(-1), stats[1].reshape(-1) * (count / (count - 1))
        with no_grad():
            if num_batches_tracked is not None:
                num_batches_tracked.data[...] += 1
            factor = (1.0 / float(num_batches_tracked.item())) if momentum is None and num_batches_tracked is not None \
                else (0.1 if momentum is None else momentum)
            # In place, so state_dict() views taken earlier see the same statistics as the weights.
            for buffer, batch in ((running_mean, mean), (running_var, var)):
                np.copyto(buffer.data, (1 - factor) * buffer.data + factor * batch, casting="unsafe")
    return out


def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation ``γ · (x − mean) / √(var + eps) + β`` over the last ``len(normalized_shape)`` dims.

    Each sample is normalised with its own mean and biased variance, as PyTorch.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: int or tuple: the trailing dims to normalise over.
        weight: elementwise γ of shape ``normalized_shape``, or None (default None: 1).
        bias: elementwise β of shape ``normalized_shape``, or None (default None: 0).
        eps: added to the variance for stability (default 1e-5).

    Example:
        >>> import cnnkit
        >>> y = cnnkit.functional.layer_norm(cnnkit.tensor([[1.0, 3.0]]), (2,))
        >>> [round(v, 4) for v in y.reshape(-1).tolist()]
        [-1.0, 1.0]
    """
    x = _t(input)
    shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (int(normalized_shape),)
    if x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: the input's trailing dims {x.shape[max(x.ndim - len(shape), 0):]} must equal "
                         f"normalized_shape {shape} (input shape {x.shape})")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return Normalize.apply(x, *_affine(_t(weight), _t(bias), shape, x), axes=axes, eps=eps)


def group_norm(input: Tensor, num_groups: int, weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation ``(x − mean) / √(var + eps)`` per (sample, channel group), then γ, β.

    Statistics cover the group's channels and all positions; γ and β are per channel, as PyTorch.

    Args:
        input: ``(N, C, *)``.
        num_groups: number of groups; must divide C.
        weight: per-channel γ ``(C,)`` or None (default None: 1).
        bias: per-channel β ``(C,)`` or None (default None: 0).
        eps: added to the variance for stability (default 1e-5).

    Example:
        >>> import cnnkit
        >>> y = cnnkit.functional.group_norm(cnnkit.tensor([[1.0, 3.0, 5.0, 5.0]]), 2)
        >>> [round(v, 4) for v in y.reshape(-1).tolist()]
        [-1.0, 1.0, 0.0, 0.0]
    """
    x = _t(input)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: the channel count (dim 1 of {x.shape}) must be divisible by num_groups={num_groups}")
    n, c = x.shape[:2]
    grouped = x.reshape(n, num_groups, -1)
    normed = Normalize.apply(grouped, axes=(2,), eps=eps).reshape(x.shape)
    affine = _affine(_t(weight), _t(bias), (1, c) + (1,) * (x.ndim - 2), x)
    return normed * affine[0] + affine[1] if affine else normed


def _check_p(p: float, what: str) -> None:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"{what}: dropout probability p must be in [0, 1), got {p!r} "
                         "(p = 1 would drop everything and the 1/(1 − p) scale is undefined)")


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1 − p).

    Identity when ``training`` is False. Draws from cnnkit's seeded generator unless given one.

    Args:
        input: a tensor of any shape.
        p: drop probability in [0, 1) (default 0.5); unlike PyTorch, p = 1 is refused (the
            1/(1 − p) scale is undefined).
        training: apply dropout; False returns the input (default True, as PyTorch's ``F.dropout``).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.dropout(cnnkit.ones(3), 0.5, training=False).tolist()
        [1.0, 1.0, 1.0]
    """
    _check_p(p, "dropout")
    x = _t(input)
    if not training or p == 0:
        return x
    keep = _random.resolve(generator).random(x.shape) >= p
    scale = 1.0 / (1.0 - p)
    return MaskScale.apply(x, mask=(keep * scale).astype(x.dtype))


def dropout_channels(input: Tensor, p: float = 0.5, training: bool = True,
                     generator: Optional[np.random.Generator] = None, what: str = "dropout2d") -> Tensor:
    """Channel dropout (``dropout1d/2d/3d``): zero whole channels and scale the rest by 1/(1 − p).

    One draw per (sample, channel); identity when ``training`` is False.

    Args:
        input: ``(N, C, *spatial)`` (at least 2 dims).
        p: drop probability in [0, 1) (default 0.5; p = 1 is refused).
        training: apply dropout; False returns the input (default True).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).
        what: the name used in error messages (default ``'dropout2d'``).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.dropout_channels(cnnkit.ones(2, 3, 4), 0.5).shape
        (2, 3, 4)
    """
    _check_p(p, what)
    x = _t(input)
    if x.ndim < 2:
        raise ValueError(f"{what}: expected an input of shape (N, C, *spatial), got {x.shape}")
    if not training or p == 0:
        return x
    keep = _random.resolve(generator).random(x.shape[:2] + (1,) * (x.ndim - 2)) >= p
    scale = 1.0 / (1.0 - p)
    return MaskScale.apply(x, mask=(keep * scale).astype(x.dtype))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              generator: Optional[np.random.Generator] = None) -> Tensor:
    """Spatial dropout: zero entire channels of ``(N, C, H, W)`` with probability ``p``, scaled by 1/(1 − p).

    Args:
        input: ``(N, C, H, W)`` (any input with at least 2 dims is read as ``(N, C, *)``).
        p: drop probability in [0, 1) (default 0.5; p = 1 is refused).
        training: apply dropout; False returns the input (default True).
        generator: a ``numpy.random.Generator`` (default None: cnnkit's seeded generator).

    Example:
        >>> import cnnkit
        >>> cnnkit.functional.dropout2d(cnnkit.ones(1, 2, 2, 2), 0.5, training=False).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]]]
    """
    return dropout_channels(input, p, training, generator, "dropout2d")
