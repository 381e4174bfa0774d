"""Keras optimizer names and arguments, mapped to :mod:`cnnkit.optim` (PyTorch's update rules).

Each returns a factory that ``compile`` calls with the model's parameters, since a Keras
optimizer is created before the model's weights are known.
"""

from __future__ import annotations

from typing import Any, Callable

from cnnkit import optim


def SGD(learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,  # noqa: N802
        weight_decay: float = 0.0) -> Callable[[Any], optim.Optimizer]:
    """Keras ``SGD`` (default learning rate 0.01)."""
    return lambda params: optim.SGD(params, lr=learning_rate, momentum=momentum, nesterov=nesterov,
                                    weight_decay=weight_decay)


def Adam(learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,  # noqa: N802
         epsilon: float = 1e-7, amsgrad: bool = False) -> Callable[[Any], optim.Optimizer]:
    """Keras ``Adam`` (default learning rate 0.001, epsilon 1e-7)."""
    return lambda params: optim.Adam(params, lr=learning_rate, betas=(beta_1, beta_2), eps=epsilon, amsgrad=amsgrad)


def RMSprop(learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,  # noqa: N802
            epsilon: float = 1e-7, centered: bool = False) -> Callable[[Any], optim.Optimizer]:
    """Keras ``RMSprop`` (default learning rate 0.001, rho 0.9)."""
    return lambda params: optim.RMSprop(params, lr=learning_rate, alpha=rho, eps=epsilon, momentum=momentum,
                                        centered=centered)
