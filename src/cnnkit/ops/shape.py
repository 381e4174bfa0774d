"""Ops that move, select or combine elements without arithmetic.

Indexing backward scatter-adds (``np.add.at``) only when the index is advanced (integer or
boolean arrays, which may repeat elements); basic slices assign directly, which is faster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.ops._broadcast import unbroadcast


class Reshape(Function):
    def forward(self, a: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (grad_out.reshape(self.in_shape),)


class Permute(Function):
    def forward(self, a: np.ndarray, dims: tuple) -> np.ndarray:
        self.inverse = tuple(np.argsort(dims))
        return a.transpose(dims)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (grad_out.transpose(self.inverse),)


class BroadcastTo(Function):
    def forward(self, a: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (unbroadcast(grad_out, self.in_shape),)


def is_advanced_index(index: Any) -> bool:
    """True when ``index`` holds an array or list, i.e. NumPy advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, list) or (isinstance(i, np.ndarray) and i.ndim > 0) for i in items)


class GetItem(Function):
    def forward(self, a: np.ndarray, index: Any) -> np.ndarray:
        self.in_shape, self.in_dtype, self.index = a.shape, a.dtype, index
        out = a[index]
        # A basic-index result is a view: copy it so later in-place edits of ``a`` cannot leak in.
        return np.array(out, copy=True) if isinstance(out, np.ndarray) else np.asarray(out)

    def backward(self, grad_out: np.ndarray) -> tuple:
        grad = np.zeros(self.in_shape, dtype=grad_out.dtype)
        if is_advanced_index(self.index):
            np.add.at(grad, self.index, grad_out)
        else:
            grad[self.index] = grad_out
        return (grad,)


class Concatenate(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return tuple(np.split(grad_out, self.bounds, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad_out, self.axis, 0))


class Pad(Function):
    """Constant padding; negative widths crop, as in ``torch.nn.functional.pad``.

    ``widths`` holds one ``(before, after)`` pair per axis of the input.
    """

    def forward(self, a: np.ndarray, widths: tuple, value: float) -> np.ndarray:
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        padded = np.pad(a, grow, mode="constant", constant_values=value)
        self.grown_shape = padded.shape
        self.crop = tuple(
            slice(-min(lo, 0), n - (-min(hi, 0))) for (lo, hi), n in zip(widths, padded.shape)
        )
        self.inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, a.shape))
        return np.ascontiguousarray(padded[self.crop])

    def backward(self, grad_out: np.ndarray) -> tuple:
        grad = np.zeros(self.grown_shape, dtype=grad_out.dtype)
        grad[self.crop] = grad_out
        return (grad[self.inner],)
