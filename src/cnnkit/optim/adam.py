"""Adam and AdamW (optionally AMSGrad), with PyTorch's bias correction and epsilon placement."""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional

import numpy as np

from cnnkit.optim.optimizer import Optimizer, elementwise


class Adam(Optimizer):
    """Adam, exactly as ``torch.optim.Adam``.

    ``m ← β₁m + (1 − β₁)g``, ``v ← β₂v + (1 − β₂)g²``,
    ``θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)``; AMSGrad uses the running maximum of
    ``v``. ``weight_decay`` adds ``λθ`` to the gradient (L2); see :class:`AdamW` for decoupled decay.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (Keras and PyTorch default 1e-3).
        betas: ``(β₁, β₂)`` decay rates of the moment estimates.
        eps: added to the denominator.
        weight_decay: L2 penalty λ.
        amsgrad: use the AMSGrad variant.
        maximize: ascend the objective instead.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0], requires_grad=True)
        >>> opt = cnnkit.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)
        0.9
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        beta1, beta2 = group["betas"]
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {group['betas']!r}")
        if group["eps"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid eps {group['eps']!r}; it must be >= 0")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        maximize, amsgrad, decoupled = group["maximize"], group["amsgrad"], self._decoupled
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        bias1 = 1 - beta1 ** step
        root_bias2 = math.sqrt(1 - beta2 ** step)

        def rule(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, vmax: Optional[np.ndarray]) -> None:
            if maximize:
                g = -g
            if decay:
                if decoupled:
                    p *= 1 - lr * decay  # AdamW: shrink the weights, independent of the gradient
                else:
                    g = g + decay * p
            m += (1 - beta1) * (g - m)  # m ← β₁m + (1 − β₁)g, written as PyTorch's lerp
            v *= beta2
            v += (1 - beta2) * g * g
            if vmax is not None:
                np.maximum(vmax, v, out=vmax)
            denom = np.sqrt(v if vmax is None else vmax)
            denom /= root_bias2
            denom += eps
            p -= (lr / bias1) * (m / denom)

        # the group's flag decides, as in PyTorch (a missing maximum after turning it on: KeyError)
        vmax = state["max_exp_avg_sq"] if amsgrad else None
        elementwise(rule, param, grad, state["exp_avg"], state["exp_avg_sq"], vmax)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), exactly as ``torch.optim.AdamW``.

    Each step first shrinks the weights, ``θ ← θ·(1 − lr·λ)``, then applies the Adam update to
    the plain gradient. Arguments as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.

    Example:
        >>> import cnnkit
        >>> w = cnnkit.tensor([1.0], requires_grad=True)
        >>> opt = cnnkit.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)
        0.85
    """

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
