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
    """Inverted dropout: in training zero each element with probability ``p``, scale the rest by 1/(1 − p).

    Identity in eval mode. Randomness comes from cnnkit's seeded generator (:func:`cnnkit.manual_seed`).

    Args:
        p: drop probability in [0, 1) (default 0.5); unlike PyTorch, p = 1 is refused (the
            1/(1 − p) scale is undefined).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> drop = cnnkit.nn.Dropout(0.5).eval()
        >>> drop(cnnkit.ones(4)).tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Channel dropout for sequences: zero whole channels of ``(N, C, L)`` inputs, scaled by 1/(1 − p).

    One draw per (sample, channel) in training; identity in eval mode.

    Args:
        p: drop probability in [0, 1) (default 0.5; p = 1 is refused).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(N, C, L)``; output same shape. Any input with at least 2 dims is read as
        ``(N, C, *)`` (PyTorch would read a 2-D input as unbatched ``(C, L)``).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Dropout1d(0.5).eval()(cnnkit.ones(1, 2, 2)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))


class Dropout2d(_DropoutNd):
    """Spatial dropout: zero whole feature maps of ``(N, C, H, W)`` inputs, scale the rest by 1/(1 − p).

    One draw per (sample, channel) in training; identity in eval mode.

    Args:
        p: drop probability in [0, 1) (default 0.5; p = 1 is refused).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(N, C, H, W)``; output same shape (any input with at least 2 dims is read as
        ``(N, C, *)``).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Dropout2d(0.25)(cnnkit.ones(2, 3, 4, 4)).shape
        (2, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))


class Dropout3d(_DropoutNd):
    """Channel dropout for volumes: zero whole channels of ``(N, C, D, H, W)`` inputs, scaled by 1/(1 − p).

    One draw per (sample, channel) in training; identity in eval mode.

    Args:
        p: drop probability in [0, 1) (default 0.5; p = 1 is refused).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(N, C, D, H, W)``; output same shape (any input with at least 2 dims is read as
        ``(N, C, *)``).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Dropout3d(0.5)(cnnkit.ones(1, 2, 2, 3, 3)).shape
        (1, 2, 2, 3, 3)
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout_channels(x, self.p, self.training, what=repr(self))
