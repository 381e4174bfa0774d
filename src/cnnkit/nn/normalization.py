"""Normalisation layers: BatchNorm1d/2d/3d (exactly PyTorch's statistics), LayerNorm, GroupNorm."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import cnnkit.functional as F
from cnnkit.nn.module import Module, Parameter
from cnnkit.tensor import DEFAULT_DTYPE, Tensor


class _BatchNorm(Module):
    _ranks: tuple = ()
    _layout = ""

    def __init__(self, num_features: Optional[int], eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if num_features is not None and (isinstance(num_features, bool) or not isinstance(num_features, int) or num_features <= 0):
            raise ValueError(f"{name}: num_features must be a positive integer or None (inferred), got {num_features!r}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self._dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        # Lazy layers hold empty placeholders, filled in place at the first call.
        size = num_features or 0
        if affine:
            self.weight = Parameter(np.ones(size, self._dtype))
            self.bias = Parameter(np.zeros(size, self._dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(size, self._dtype)))
            self.register_buffer("running_var", Tensor(np.ones(size, self._dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            for bname in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(bname, None)

    def _materialize(self, num_features: int) -> None:
        self.num_features = num_features
        for name, fill in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            tensor = getattr(self, name)
            if tensor is not None:
                tensor.data = np.full(num_features, fill, self._dtype)

    def _lazy_load(self, prefix: str, state_dict: Any) -> None:
        for name in ("running_mean", "weight"):
            key = prefix + name
            if self.num_features is None and key in state_dict:
                self._materialize(int(np.shape(getattr(state_dict[key], "data", state_dict[key]))[0]))

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Zero the running statistics, γ = 1, β = 0 (PyTorch's defaults)."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ranks:
            raise ValueError(f"{self!r} expects input of shape {self._layout}, got {x.shape} "
                             f"({x.ndim}-D); use BatchNorm1d for (N, C[, L]), 2d for (N, C, H, W), 3d for (N, C, D, H, W)")
        if self.num_features is None:
            self._materialize(x.shape[1])
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expected {self.num_features} channels (dim 1) but the input {x.shape} has "
                             f"{x.shape[1]}. Check num_features or the layer feeding this one.")
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None, self.weight, self.bias,
            training=use_batch_stats, momentum=self.momentum, eps=self.eps,
            num_batches_tracked=self.num_batches_tracked if self.training else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation ``γ · (x − mean) / √(var + eps) + β`` per channel of ``(N, C)`` or ``(N, C, L)``.

    Statistics and running averages exactly as :class:`BatchNorm2d`, over N (and L).

    Args:
        num_features, eps, momentum, affine, track_running_stats, dtype: as :class:`BatchNorm2d`.

    Shape:
        Input ``(N, C)`` or ``(N, C, L)``; output same shape. Parameters and running statistics ``(C,)``.

    Example:
        >>> import cnnkit
        >>> y = cnnkit.nn.BatchNorm1d(1)(cnnkit.tensor([[1.0], [3.0]]))
        >>> [round(v, 4) for v in y.reshape(-1).tolist()]
        [-1.0, 1.0]
    """

    _ranks, _layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation ``γ · (x − mean) / √(var + eps) + β`` per channel of ``(N, C, H, W)``, as PyTorch.

    Training uses the batch mean and biased variance over (N, H, W) and updates ``running_mean``
    and ``running_var`` (the latter with the unbiased variance) by ``momentum``; eval mode uses
    the running statistics (or batch statistics when ``track_running_stats=False``).

    Args:
        num_features: channels C, or None to infer them at the first call (lazy).
        eps: added to the variance for stability (default 1e-5).
        momentum: ``running = (1 − momentum)·running + momentum·batch`` (default 0.1; None: a
            cumulative average over ``num_batches_tracked``).
        affine: learn γ (``weight``, starts at 1) and β (``bias``, starts at 0) (default True).
        track_running_stats: keep running estimates for eval mode (default True).
        dtype: parameter and buffer dtype (default None: float32).

    Shape:
        Input ``(N, C, H, W)``; output same shape. ``weight``, ``bias``, ``running_mean``,
        ``running_var``: ``(C,)``.

    Example:
        >>> import cnnkit
        >>> bn = cnnkit.nn.BatchNorm2d(3)
        >>> bn(cnnkit.randn(4, 3, 5, 5)).shape
        (4, 3, 5, 5)
    """

    _ranks, _layout = (4,), "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation ``γ · (x − mean) / √(var + eps) + β`` per channel of ``(N, C, D, H, W)``.

    Statistics and running averages exactly as :class:`BatchNorm2d`, over (N, D, H, W).

    Args:
        num_features, eps, momentum, affine, track_running_stats, dtype: as :class:`BatchNorm2d`.

    Shape:
        Input ``(N, C, D, H, W)``; output same shape. Parameters and running statistics ``(C,)``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.BatchNorm3d(2)(cnnkit.randn(2, 2, 3, 4, 4)).shape
        (2, 2, 3, 4, 4)
    """

    _ranks, _layout = (5,), "(N, C, D, H, W)"


class LayerNorm(Module):
    """Layer normalisation ``γ · (x − mean) / √(var + eps) + β`` over each sample's last dims.

    Mean and biased variance are taken over the trailing ``normalized_shape`` dims, as PyTorch.

    Args:
        normalized_shape: int or tuple: the trailing dims to normalise over.
        eps: added to the variance for stability (default 1e-5).
        elementwise_affine: learn elementwise γ (``weight``) and β (``bias``) (default True).
        bias: learn β as well, when ``elementwise_affine`` (default True).
        dtype: parameter dtype (default None: float32).

    Shape:
        Input ``(*, *normalized_shape)``; output same shape. ``weight``, ``bias``: ``normalized_shape``.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LayerNorm(8)(cnnkit.randn(2, 8)).shape
        (2, 8)
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else (int(normalized_shape),)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        self.weight = Parameter(np.ones(shape, dt)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dt)) if elementwise_affine and bias else None
        if self.weight is None:
            self.register_parameter("weight", None)
        if self.bias is None:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalisation: ``(x − mean) / √(var + eps)`` over each group of channels of a sample, then γ, β.

    Statistics are per (sample, group), over the group's channels and all positions; γ and β
    are per channel, as PyTorch.

    Args:
        num_groups: number of groups; must divide ``num_channels``.
        num_channels: channels C (dim 1 of the input).
        eps: added to the variance for stability (default 1e-5).
        affine: learn per-channel γ (``weight``) and β (``bias``) (default True).
        dtype: parameter dtype (default None: float32).

    Shape:
        Input ``(N, C, *)``; output same shape. ``weight``, ``bias``: ``(C,)``.

    Example:
        >>> import cnnkit
        >>> y = cnnkit.nn.GroupNorm(2, 4)(cnnkit.tensor([[1.0, 3.0, 5.0, 5.0]]))
        >>> [round(v, 4) for v in y.reshape(-1).tolist()]
        [-1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dt = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        if affine:
            self.weight = Parameter(np.ones(num_channels, dt))
            self.bias = Parameter(np.zeros(num_channels, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """γ = 1, β = 0 (PyTorch's default)."""
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self!r} expected {self.num_channels} channels (dim 1), got input {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
