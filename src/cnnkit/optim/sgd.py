"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from cnnkit.optim.optimizer import Optimizer, elementwise


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
        lr, momentum, dampening, decay = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        nesterov, maximize = group["nesterov"], group["maximize"]
        buf = state.get("momentum_buffer") if momentum else None
        first = momentum and buf is None
        if first:
            buf = state["momentum_buffer"] = np.empty_like(param)

        def rule(p: np.ndarray, g: np.ndarray, b: Optional[np.ndarray]) -> None:
            if maximize:
                g = -g
            if decay:
                g = g + decay * p
            if b is not None:
                if first:
                    b[...] = g  # the first buffer is the gradient itself, as in PyTorch
                else:
                    b *= momentum
                    # without dampening, add g itself: (1 - 0)·g would be a temporary
                    b += (1 - dampening) * g if dampening else g
                g = g + momentum * b if nesterov else b
            p -= lr * g

        elementwise(rule, param, grad, buf)
