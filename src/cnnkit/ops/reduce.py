"""Reductions over a tuple of axes (``None`` = all axes), with or without kept dimensions.

``Max``/``Min`` split the gradient evenly among tied extreme elements (the rule of
``torch.amax``); ``Var`` uses Bessel's ``correction`` as ``torch.var`` does.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnnkit.autograd.function import Function

Axes = Optional[tuple]


def _expand(grad: np.ndarray, axes: Axes, keepdim: bool) -> np.ndarray:
    """Re-insert reduced axes so ``grad`` broadcasts against the input."""
    if keepdim or axes is None:
        return grad
    return np.expand_dims(grad, axes)


class _Reduce(Function):
    def _setup(self, a: np.ndarray, axis: Axes, keepdim: bool) -> None:
        self.shape, self.axis, self.keepdim = a.shape, axis, keepdim
        self.count = a.size if axis is None else int(np.prod([a.shape[i] for i in axis]))

    def _spread(self, grad: np.ndarray) -> np.ndarray:
        return np.broadcast_to(_expand(grad, self.axis, self.keepdim), self.shape)


class Sum(_Reduce):
    def forward(self, a: np.ndarray, axis: Axes, keepdim: bool) -> np.ndarray:
        self._setup(a, axis, keepdim)
        return np.asarray(np.sum(a, axis=axis, keepdims=keepdim))

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (self._spread(grad_out),)


class Mean(_Reduce):
    def forward(self, a: np.ndarray, axis: Axes, keepdim: bool) -> np.ndarray:
        self._setup(a, axis, keepdim)
        return np.asarray(np.mean(a, axis=axis, keepdims=keepdim), dtype=a.dtype)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (self._spread(grad_out / grad_out.dtype.type(self.count)),)


class Var(_Reduce):
    def forward(self, a: np.ndarray, axis: Axes, keepdim: bool, correction: float) -> np.ndarray:
        self._setup(a, axis, keepdim)
        self.denominator = max(self.count - correction, 0)
        centred = a - np.mean(a, axis=axis, keepdims=True)
        self.save_for_backward(centred)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.sum(centred * centred, axis=axis, keepdims=keepdim)
            return np.asarray(total / a.dtype.type(self.denominator), dtype=a.dtype)

    def backward(self, grad_out: np.ndarray) -> tuple:
        (centred,) = self.saved
        scale = centred.dtype.type(2) / centred.dtype.type(self.denominator) if self.denominator else np.nan
        return (_expand(grad_out, self.axis, self.keepdim) * (centred * scale),)


class _Extremum(_Reduce):
    def forward(self, a: np.ndarray, axis: Axes, keepdim: bool) -> np.ndarray:
        self._setup(a, axis, keepdim)
        out = np.asarray(self._reduce(a, axis=axis, keepdims=keepdim))
        self.save_for_backward(a, out)
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        a, out = self.saved
        winners = a == _expand(out, self.axis, self.keepdim)
        ties = np.sum(winners, axis=self.axis, keepdims=True)
        share = _expand(grad_out, self.axis, self.keepdim) / ties.astype(grad_out.dtype)
        return (np.where(winners, share, 0).astype(grad_out.dtype, copy=False),)


class Max(_Extremum):
    _reduce = staticmethod(np.max)


class Min(_Extremum):
    _reduce = staticmethod(np.min)
