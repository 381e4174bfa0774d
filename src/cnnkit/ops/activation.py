"""Activation ops with hand-derived gradients.

These are primitives rather than compositions because a composition through ``where`` would
evaluate ``exp`` on the unselected branch too, and ``0 · inf`` there turns gradients into NaN;
each forward here is overflow-free. Derivatives at kinks follow PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from cnnkit.autograd.function import Function

try:  # SciPy's erf is exact and vectorised; without SciPy, math.erf elementwise (slower, exact).
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - depends on the environment
    _erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class LeakyReLU(Function):
    def forward(self, x: np.ndarray, negative_slope: float) -> np.ndarray:
        self.slope = x.dtype.type(negative_slope)
        self.save_for_backward(x)
        return np.where(x > 0, x, x * self.slope)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (x,) = self.saved
        return (np.where(x > 0, grad_out, grad_out * self.slope),)


class ELU(Function):
    """``scale · (x if x > 0 else alpha · (e^x − 1))``; SELU is ELU with fixed scale and alpha."""

    def forward(self, x: np.ndarray, alpha: float, scale: float) -> np.ndarray:
        t = x.dtype.type
        self.alpha, self.scale = t(alpha), t(scale)
        negative = self.alpha * np.expm1(np.minimum(x, 0))
        self.save_for_backward(x, negative)
        return self.scale * np.where(x > 0, x, negative)

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, negative = self.saved
        return (grad_out * self.scale * np.where(x > 0, 1, negative + self.alpha).astype(x.dtype, copy=False),)


class Softplus(Function):
    """``log(1 + e^(βx)) / β``, linear where ``βx > threshold`` (PyTorch's rule)."""

    def forward(self, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
        t = x.dtype.type
        self.beta, self.threshold = t(beta), t(threshold)
        scaled = x * self.beta
        self.save_for_backward(scaled)
        return np.where(scaled > self.threshold, x, _softplus(scaled) / self.beta)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (scaled,) = self.saved
        return (grad_out * np.where(scaled > self.threshold, 1, _sigmoid(scaled)).astype(grad_out.dtype, copy=False),)


class ISRLU(Function):
    """Inverse square root linear unit: ``x / √(1 + αx²)`` for ``x < 0``, ``x`` otherwise."""

    def forward(self, x: np.ndarray, alpha: float) -> np.ndarray:
        self.alpha = x.dtype.type(alpha)
        inv = 1 / np.sqrt(1 + self.alpha * np.minimum(x, 0) ** 2)
        self.save_for_backward(x, inv)
        return np.where(x < 0, x * inv, x)

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, inv = self.saved
        return (grad_out * np.where(x < 0, inv ** 3, 1).astype(grad_out.dtype, copy=False),)


class GELU(Function):
    """``x · Φ(x)`` exactly (erf), or with PyTorch's tanh approximation."""

    def forward(self, x: np.ndarray, approximate: str) -> np.ndarray:
        self.approximate = approximate
        self.save_for_backward(x)
        if approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
            return (0.5 * x * (1 + np.tanh(inner))).astype(x.dtype, copy=False)
        return (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (x,) = self.saved
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = np.tanh(k * (x + 0.044715 * x ** 3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        else:
            cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
            d = cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return ((grad_out * d).astype(grad_out.dtype, copy=False),)


class SiLU(Function):
    """``x · σ(x)`` (swish); derivative ``σ(x)(1 + x(1 − σ(x)))``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = _sigmoid(x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, s = self.saved
        return (grad_out * s * (1 + x * (1 - s)),)


class Mish(Function):
    """``x · tanh(softplus(x))``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        t = np.tanh(_softplus(x))
        self.save_for_backward(x, t)
        return x * t

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, t = self.saved
        return (grad_out * (t + x * (1 - t * t) * _sigmoid(x)),)


class Softmax(Function):
    saves_output = True

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        out = e / np.sum(e, axis=axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        (y,) = self.saved
        return (y * (grad_out - np.sum(grad_out * y, axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    saves_output = True

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        (y,) = self.saved
        return (grad_out - np.exp(y) * np.sum(grad_out, axis=self.axis, keepdims=True),)
