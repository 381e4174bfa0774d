"""Dropout layers (inverted dropout: scaled by 1/(1 − p) in training, identity in eval)."""

from __future__ import annotations

import cnnkit.functional as F
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability p must be in [0, 1), got {p!r} "
                             "(p = 1 would drop everything and the 1/(1 − p) scale is undefined)")
        self.p = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training and scale the rest by 1/(1 − p).

    Randomness comes from cnnkit's seeded generator (:func:`cnnkit.manual_seed`).

    Example:
        >>> import cnnkit
        >>> drop = cnnkit.nn.Dropout(0.5).eval()
        >>> drop(cnnkit.ones(4)).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` inputs."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of ``(N, C, H, W)`` inputs (spatial dropout), scaled by 1/(1 − p)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` inputs."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))
