"""Normalisation and dropout ops.

``Normalize`` standardises over any set of axes with the biased variance and, optionally, applies
a broadcast affine transform in the same pass; BatchNorm, LayerNorm and GroupNorm all use it.
Its backward is the closed form ``inv/M · (M·ĝ − Σĝ − x̂·Σ(ĝ·x̂))`` with ``ĝ = g·γ``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.ops._broadcast import unbroadcast


class Normalize(Function):
    def forward(self, x: np.ndarray, *affine: np.ndarray, axes: tuple, eps: float,
                stats: Optional[list] = None) -> np.ndarray:
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + x.dtype.type(eps))
        xhat = centred * inv
        if stats is not None:  # hands the batch statistics to BatchNorm's running averages
            stats.extend([mean, var])
        self.axes, self.count = axes, int(np.prod([x.shape[a] for a in axes]))
        if affine:
            weight, bias = affine
            self.save_for_backward(xhat, inv, weight, bias.shape)
            return xhat * weight + bias
        self.save_for_backward(xhat, inv, None, None)
        return xhat

    def backward(self, grad_out: np.ndarray) -> tuple:
        xhat, inv, weight, bias_shape = self.saved
        ghat = grad_out if weight is None else grad_out * weight
        gx = None
        if self.needs_input_grad[0]:
            total = ghat.sum(axis=self.axes, keepdims=True)
            dot = (ghat * xhat).sum(axis=self.axes, keepdims=True)
            gx = (inv / self.count) * (self.count * ghat - total - xhat * dot)
        if weight is None:
            return (gx,)
        gw = unbroadcast(grad_out * xhat, weight.shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(grad_out, bias_shape) if self.needs_input_grad[2] else None
        return gx, gw, gb


class MaskScale(Function):
    """``x · mask`` with a constant (already scaled) mask: inverted dropout's forward and backward."""

    def forward(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.save_for_backward(mask)
        return x * mask

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (grad_out * self.saved[0],)
