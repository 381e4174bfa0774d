"""Activation layers: the slides' fourteen (with Identity) plus GELU, SiLU, Hardtanh and Mish.

Learnable ones (PReLU, SReLU, APL) hold one parameter set shared by all channels
(``num_parameters=1``) or one per channel (dim 1 of the input).
"""

from __future__ import annotations

from typing import Optional

import cnnkit.functional as F
from cnnkit.nn.module import Module
from cnnkit.tensor import Tensor


class _Elementwise(Module):
    """An activation without parameters: ``forward`` calls one functional with fixed options."""

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self._call(x)


class Sigmoid(_Elementwise):
    """Logistic sigmoid ``σ(x) = 1 / (1 + e^(−x))``, elementwise, range (0, 1).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Sigmoid()(cnnkit.tensor([0.0])).tolist()
        [0.5]
    """

    def _call(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(_Elementwise):
    """Hyperbolic tangent ``(eˣ − e^(−x)) / (eˣ + e^(−x))``, elementwise, range (−1, 1).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Tanh()(cnnkit.tensor([0.0])).tolist()
        [0.0]
    """

    def _call(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(_Elementwise):
    """Rectified linear unit ``max(0, x)``, elementwise (gradient 0 at ``x = 0``, as PyTorch).

    Args:
        inplace: accepted for PyTorch compatibility and ignored: cnnkit never mutates the input
            (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.ReLU()(cnnkit.tensor([-1.0, 3.0])).tolist()
        [0.0, 3.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # ``inplace`` is accepted for PyTorch compatibility; cnnkit never mutates

    def _call(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(_Elementwise):
    """Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope · x``.

    Args:
        negative_slope: slope for negative inputs (default 0.01).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.LeakyReLU(0.5)(cnnkit.tensor([-2.0, 3.0])).tolist()
        [-1.0, 3.0]
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def _call(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(_Elementwise):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha · (eˣ − 1)``.

    Args:
        alpha: scale of the negative branch, which saturates at ``−alpha`` (default 1.0).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.ELU()(cnnkit.tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def _call(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(_Elementwise):
    """Scaled ELU ``λ · (x if x > 0 else α · (eˣ − 1))``, λ = 1.0507009873554805, α = 1.6732632423543772.

    Self-normalising; pair it with :func:`cnnkit.nn.init.lecun_normal_` weights.

    Args:
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.SELU()(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 1.0507]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def _call(self, x: Tensor) -> Tensor:
        return F.selu(x)


class ISRLU(_Elementwise):
    """Inverse square root linear unit (a cnnkit extra): ``x`` if ``x ≥ 0`` else ``x / √(1 + α·x²)``.

    Args:
        alpha: curvature of the negative branch, which saturates at ``−1/√alpha``; must be ≥ 0
            (checked at the first call; default 1.0).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.ISRLU()(cnnkit.tensor([-1.0, 2.0])).tolist()]
        [-0.7071, 2.0]
    """

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def _call(self, x: Tensor) -> Tensor:
        return F.isrlu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(_Elementwise):
    """Softplus ``log(1 + e^(β·x)) / β``, a smooth ReLU; it returns ``x`` where ``β·x > threshold``.

    Args:
        beta: sharpness β, must be positive (default 1.0).
        threshold: above this value of ``β·x`` the output is ``x`` (default 20.0).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.Softplus()(cnnkit.tensor([0.0, 30.0])).tolist()]
        [0.6931, 30.0]
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def _call(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class BentIdentity(_Elementwise):
    """Bent identity (a cnnkit extra, not in PyTorch): ``(√(x² + 1) − 1) / 2 + x``.

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.BentIdentity()(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 1.2071]
    """

    def _call(self, x: Tensor) -> Tensor:
        return F.bent_identity(x)


class Softmax(_Elementwise):
    """Softmax ``exp(x_i) / Σ_j exp(x_j)`` along ``dim``: outputs in (0, 1) summing to 1 along it.

    Args:
        dim: the dimension to normalise (default None: as PyTorch's deprecated implicit choice,
            dim 0 for 0-, 1- and 3-D inputs and dim 1 otherwise, with a ``UserWarning``; pass it
            explicitly, e.g. ``dim=1`` for ``(N, C)`` logits).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Softmax(dim=1)(cnnkit.zeros(1, 4)).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def _call(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax ``x_i − log Σ_j exp(x_j)`` along ``dim``, computed stably (pair it with NLLLoss).

    Args:
        dim: the dimension to normalise (default None: PyTorch's implicit choice with a warning,
            as :class:`Softmax`).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> out = cnnkit.nn.LogSoftmax(dim=1)(cnnkit.zeros(1, 2))
        >>> [round(v, 4) for v in out.tolist()[0]]
        [-0.6931, -0.6931]
    """

    def _call(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


class GELU(_Elementwise):
    """Gaussian error linear unit ``x · Φ(x)``, Φ the standard normal CDF.

    Args:
        approximate: ``'none'`` (exact, default) or ``'tanh'``
            (``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.GELU()(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.8413]
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def _call(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Elementwise):
    """Sigmoid linear unit (swish) ``x · σ(x)``.

    Args:
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.SiLU()(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.7311]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # ``inplace`` is accepted for PyTorch compatibility; cnnkit never mutates

    def _call(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Hardtanh(_Elementwise):
    """Hard tanh ``min(max(x, min_val), max_val)``: clamp to ``[min_val, max_val]``.

    The gradient is 1 strictly inside ``(min_val, max_val)`` and 0 at the bounds and beyond, as
    PyTorch's hardtanh (unlike :func:`cnnkit.clamp`, whose gradient also passes at the bounds).

    Args:
        min_val: lower bound (default −1.0).
        max_val: upper bound, at least ``min_val`` (default 1.0).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Hardtanh()(cnnkit.tensor([-2.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
        self.min_val, self.max_val = min_val, max_val

    def _call(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Mish(_Elementwise):
    """Mish ``x · tanh(softplus(x))``, with ``softplus(x) = log(1 + eˣ)``.

    Args:
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.Mish()(cnnkit.tensor([0.0, 1.0])).tolist()]
        [0.0, 0.8651]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # ``inplace`` is accepted for PyTorch compatibility

    def _call(self, x: Tensor) -> Tensor:
        return F.mish(x)
