"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from cnnkit.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, exactly as ``torch.optim.SGD``.

    With weight decay λ the gradient becomes ``g + λθ`` (the slides' λ∇Ω(θ) with Ω = ½‖θ‖²);
    with momentum μ the buffer is ``b ← μb + (1 − dampening)g`` (``b = g`` at the first step)
    and the step uses ``b`` (or ``g + μb`` with Nesterov); then ``θ ← θ − lr · step``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate.
        momentum: momentum factor μ (0 disables it).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty λ.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend the objective instead.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = cnnkit.optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.tolist()
        [0.800000011920929, 1.600000023841858]
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']!r}; it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        g = -grad if group["maximize"] else grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=param.dtype, copy=True)
            else:
                buf *= momentum
                # without dampening, add g itself: (1 - 0)·g would be a parameter-sized temporary
                buf += (1 - group["dampening"]) * g if group["dampening"] else g
            g = g + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * g
