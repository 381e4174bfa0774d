"""RMSprop and Adagrad: adaptive learning rates from running squared-gradient statistics."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnkit.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop, exactly as ``torch.optim.RMSprop``.

    ``s ← αs + (1 − α)g²``; the step is ``g / (√s + eps)`` (centred: ``√(s − ḡ²)`` with
    ``ḡ ← αḡ + (1 − α)g``), optionally through a momentum buffer ``b ← μb + step``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2, as PyTorch; Keras uses 1e-3).
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator.
        weight_decay: L2 penalty λ.
        momentum: momentum factor μ.
        centered: normalise by the estimated variance instead of the second moment.
        maximize: ascend the objective instead.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0], requires_grad=True)
        >>> opt = cnnkit.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        if not 0 <= group["alpha"] <= 1 or group["momentum"] < 0 or group["eps"] < 0:
            raise ValueError(f"RMSprop: need 0 <= alpha <= 1, momentum >= 0 and eps >= 0, got alpha={group['alpha']}, "
                             f"momentum={group['momentum']}, eps={group['eps']}")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        g = -grad if group["maximize"] else grad
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * param
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if momentum:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if momentum:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (g / avg)


class Adagrad(Optimizer):
    """Adagrad, exactly as ``torch.optim.Adagrad``: ``Σ ← Σ + g²``, ``θ ← θ − lr_t · g / (√Σ + eps)``
    with ``lr_t = lr / (1 + (t − 1)·lr_decay)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty λ.
        initial_accumulator_value: starting value of Σ.
        eps: added to the denominator (default 1e-10).
        maximize: ascend the objective instead.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0], requires_grad=True)
        >>> opt = cnnkit.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)
        0.9
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        if group["lr_decay"] < 0 or group["initial_accumulator_value"] < 0 or group["eps"] < 0:
            raise ValueError("Adagrad: lr_decay, initial_accumulator_value and eps must be >= 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        g = -grad if group["maximize"] else grad
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"]:
            g = g + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        param -= clr * (g / (np.sqrt(state["sum"]) + group["eps"]))
