"""Activation layers: the slides' fourteen (with Identity) plus GELU, SiLU, Hardtanh and Mish.

Learnable ones (PReLU, SReLU, APL) hold one parameter set shared by all channels
(``num_parameters=1``) or one per channel (dim 1 of the input).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import cnnkit.functional as F
from cnnkit.nn.module import Module, Parameter
from cnnkit.tensor import Tensor


class _Elementwise(Module):
    """An activation without parameters: ``forward`` calls one functional with fixed options."""

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self._call(x)


class Sigmoid(_Elementwise):
    """Logistic sigmoid ``1 / (1 + e^(−x))``, range (0, 1).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.Sigmoid()(cnnkit.tensor([0.0])).tolist()
        [0.5]
    """

    def _call(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(_Elementwise):
    """Hyperbolic tangent, range (−1, 1)."""

    def _call(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class ReLU(_Elementwise):
    """Rectified linear unit ``max(0, x)``.

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
    """``x`` for ``x > 0``, ``negative_slope · x`` otherwise (default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def _call(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """Parametric ReLU: a learnable negative slope, shared (``num_parameters=1``) or per channel.

    Args:
        num_parameters: 1, or the number of channels (dim 1 of the input).
        init: initial slope (PyTorch's default 0.25).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.PReLU()(cnnkit.tensor([-4.0, 2.0])).tolist()
        [-1.0, 2.0]
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer, got {num_parameters!r}")
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype or np.float32))

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    """Randomized leaky ReLU: slope ~ U(lower, upper) per element in training, (lower+upper)/2 in eval."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def forward(self, x: Tensor) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, training=self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class ELU(_Elementwise):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha · (eˣ − 1)`` otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def _call(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class SELU(_Elementwise):
    """Scaled ELU (λ = 1.0507009873554805, α = 1.6732632423543772); pair it with lecun_normal_ init."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def _call(self, x: Tensor) -> Tensor:
        return F.selu(x)


class SReLU(Module):
    """S-shaped ReLU with learnable thresholds ``t_l, t_r`` and slopes ``a_l, a_r`` per channel.

    Args:
        num_parameters: 1 (shared) or the number of channels.
        t_left, a_left, t_right, a_right: initial values (by default identity in [−1, 1]
            and slopes 0.1 outside it).

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.SReLU()(cnnkit.tensor([-3.0, 0.5, 3.0])).tolist()
        [-1.2000000476837158, 0.5, 1.2000000476837158]
    """

    def __init__(self, num_parameters: int = 1, t_left: float = -1.0, a_left: float = 0.1,
                 t_right: float = 1.0, a_right: float = 0.1) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self._init = (t_left, a_left, t_right, a_right)
        for name, value in zip(("t_left", "a_left", "t_right", "a_right"), self._init):
            setattr(self, name, Parameter(np.full(num_parameters, value, dtype=np.float32)))

    def reset_parameters(self) -> None:
        for name, value in zip(("t_left", "a_left", "t_right", "a_right"), self._init):
            getattr(self, name).data[...] = value

    def forward(self, x: Tensor) -> Tensor:
        return F.srelu(x, self.t_left, self.a_left, self.t_right, self.a_right)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ISRLU(_Elementwise):
    """Inverse square root linear unit: ``x / √(1 + αx²)`` for ``x < 0``, ``x`` otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def _call(self, x: Tensor) -> Tensor:
        return F.isrlu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class APL(Module):
    """Adaptive piecewise linear unit ``max(0, x) + Σ_s a_s · max(0, −x + b_s)``, learnable per channel.

    Args:
        num_parameters: 1 (shared) or the number of channels.
        hinges: number of hinges S.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.APL(num_parameters=3, hinges=2)(cnnkit.zeros(4, 3)).shape
        (4, 3)
    """

    def __init__(self, num_parameters: int = 1, hinges: int = 1, generator: Optional[np.random.Generator] = None) -> None:
        super().__init__()
        if isinstance(hinges, bool) or not isinstance(hinges, int) or hinges < 1:
            raise ValueError(f"APL: hinges must be a positive integer, got {hinges!r}")
        self.num_parameters, self.hinges = num_parameters, hinges
        self.a = Parameter(np.zeros((hinges, num_parameters), np.float32))
        self.b = Parameter(np.zeros((hinges, num_parameters), np.float32))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: Optional[np.random.Generator] = None) -> None:
        """Small random slopes and hinge positions (the original paper's initialisation scale)."""
        from cnnkit.nn import init

        init.uniform_(self.a, -0.1, 0.1, generator)
        init.uniform_(self.b, -0.5, 0.5, generator)

    def forward(self, x: Tensor) -> Tensor:
        return F.apl(x, self.a, self.b)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}, hinges={self.hinges}"


class Softplus(_Elementwise):
    """``log(1 + e^(βx)) / β``, linear where ``βx > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def _call(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class BentIdentity(_Elementwise):
    """``(√(x² + 1) − 1) / 2 + x``."""

    def _call(self, x: Tensor) -> Tensor:
        return F.bent_identity(x)


class Softmax(_Elementwise):
    """Softmax along ``dim`` (outputs sum to 1 along it).

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
    """Log of the softmax along ``dim``, computed stably (pair with NLLLoss)."""

    def _call(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


class GELU(_Elementwise):
    """Gaussian error linear unit ``x · Φ(x)`` (``approximate='tanh'`` for the tanh formula)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def _call(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Elementwise):
    """``x · σ(x)`` (swish)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # ``inplace`` is accepted for PyTorch compatibility; cnnkit never mutates

    def _call(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Hardtanh(_Elementwise):
    """Clamp to ``[min_val, max_val]`` (default [−1, 1])."""

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
    """``x · tanh(softplus(x))``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # ``inplace`` is accepted for PyTorch compatibility

    def _call(self, x: Tensor) -> Tensor:
        return F.mish(x)
