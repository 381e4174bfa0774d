"""Fully connected layers."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import cnnkit.functional as F
from cnnkit.nn import init
from cnnkit.nn.module import Module, Parameter
from cnnkit.tensor import DEFAULT_DTYPE, Tensor


class Linear(Module):
    """Fully connected layer: the affine map ``y = x Wᵀ + b``.

    Initialisation is PyTorch's: weight and bias ~ U(−1/√in_features, 1/√in_features).

    Args:
        in_features: size of each input sample, or None to infer it at the first call (lazy, as
            PyTorch's ``LazyLinear``).
        out_features: size of each output sample.
        bias: learn an additive bias (default True).
        dtype: parameter dtype (default None: float32).

    Shape:
        Input ``(*, in_features)``; output ``(*, out_features)``.
        ``weight``: ``(out_features, in_features)``; ``bias``: ``(out_features,)``.

    Example:
        >>> import cnnkit
        >>> layer = cnnkit.nn.Linear(20, 30)
        >>> layer(cnnkit.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: Optional[int], out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if value is None and name == "in_features":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.in_features = None if in_features is None else int(in_features)
        self.out_features = int(out_features)
        self._dtype = np.dtype(dtype) if dtype is not None else DEFAULT_DTYPE
        # A lazy layer holds a (out_features, 0) placeholder that is filled in place at the first
        # call, so parameter lists taken before then (e.g. by an optimizer) stay valid.
        self.weight = Parameter(np.zeros((self.out_features, self.in_features or 0), self._dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, self._dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _materialize(self, in_features: int) -> None:
        self.in_features = in_features
        self.weight.data = np.zeros((self.out_features, in_features), self._dtype)
        self.reset_parameters()

    def _lazy_load(self, prefix: str, state_dict: Any) -> None:
        key = prefix + "weight"
        if self.in_features is None and key in state_dict:
            self._materialize(int(np.shape(getattr(state_dict[key], "data", state_dict[key]))[1]))

    def reset_parameters(self) -> None:
        """Re-draw the parameters with PyTorch's default initialisation."""
        if self.in_features is not None:
            init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.in_features is None:
            if x.ndim < 1:
                raise ValueError("Linear (lazy): the input needs at least one dimension")
            self._materialize(x.shape[-1])
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self._describe()} received input of shape {x.shape}: its last dimension must be "
                f"{self.in_features} (in_features). If it follows a Flatten after convolutions, the "
                f"images are not the size the model was built for, or in_features is wrong."
            )
        return F.linear(x, self.weight, self.bias)

    def _describe(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
