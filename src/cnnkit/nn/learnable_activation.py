"""Activations with learnable parameters (PReLU, SReLU, APL) or randomness (RReLU).

Learnable ones hold one parameter set shared by all channels (``num_parameters=1``) or one per
channel (dim 1 of the input).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

import cnnkit.functional as F
from cnnkit.nn.module import Module, Parameter
from cnnkit.tensor import Tensor


class PReLU(Module):
    """Parametric ReLU: ``x`` if ``x > 0`` else ``a · x``, ``a`` learnable (shared or one per channel).

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of channels C, dim 1
            of the input (default 1).
        init: initial slope (default 0.25, PyTorch's).
        dtype: parameter dtype (default float32).

    Shape:
        Input ``(N, C, *)`` or unbatched ``(C,)`` (any shape when ``num_parameters=1``); output
        same shape. ``weight``: ``(num_parameters,)``.

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
    """Randomized leaky ReLU: ``x`` if ``x ≥ 0`` else ``a · x``, with ``a ~ U(lower, upper)`` per element.

    In training a new slope is drawn for every element (from cnnkit's seeded generator, see
    :func:`cnnkit.manual_seed`); in eval mode the slope is fixed to ``(lower + upper) / 2``, as PyTorch.

    Args:
        lower: lower bound of the slope (default 1/8); ``0 ≤ lower ≤ upper``.
        upper: upper bound of the slope (default 1/3).
        inplace: accepted for PyTorch compatibility and ignored (default False).

    Shape:
        Input ``(*)``, any shape; output same shape.

    Example:
        >>> import cnnkit
        >>> cnnkit.nn.RReLU(0.25, 0.75).eval()(cnnkit.tensor([-2.0, 1.0])).tolist()
        [-1.0, 1.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= lower <= upper:
            raise ValueError(f"RReLU: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
        self.lower, self.upper = lower, upper

    def forward(self, x: Tensor) -> Tensor:
        return F.rrelu(x, self.lower, self.upper, training=self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class SReLU(Module):
    """S-shaped ReLU (a cnnkit extra, not in PyTorch) with learnable thresholds and slopes.

    ``t_r + a_r · (x − t_r)`` if ``x ≥ t_r``; ``t_l + a_l · (x − t_l)`` if ``x ≤ t_l``; ``x`` in between.

    Args:
        num_parameters: 1 (shared by all channels) or the number of channels C (default 1).
        t_left: initial left threshold ``t_l`` (default −1.0).
        a_left: initial left slope ``a_l`` (default 0.1).
        t_right: initial right threshold ``t_r`` (default 1.0).
        a_right: initial right slope ``a_r`` (default 0.1).

    Shape:
        Input ``(N, C, *)`` or unbatched ``(C,)`` (any shape when ``num_parameters=1``); output
        same shape. ``t_left``, ``a_left``, ``t_right``, ``a_right``: ``(num_parameters,)`` each.

    Example:
        >>> import cnnkit
        >>> [round(v, 4) for v in cnnkit.nn.SReLU()(cnnkit.tensor([-3.0, 0.5, 3.0])).tolist()]
        [-1.2, 0.5, 1.2]
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


class APL(Module):
    """Adaptive piecewise linear unit (a cnnkit extra): ``max(0, x) + Σ_s a_s · max(0, −x + b_s)``.

    The hinge slopes ``a`` and positions ``b`` are learnable, shared or per channel; they start
    at ``a ~ U(−0.1, 0.1)`` and ``b ~ U(−0.5, 0.5)`` (the original paper's scale).

    Args:
        num_parameters: 1 (shared by all channels) or the number of channels C (default 1).
        hinges: number of hinges S (default 1).
        generator: ``numpy.random.Generator`` for the initial values (default None: cnnkit's
            seeded generator).

    Shape:
        Input ``(N, C, *)``, ``(N, C)`` or unbatched ``(C,)``; output same shape.
        ``a``, ``b``: ``(hinges, num_parameters)``.

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
