"""Matrix products with ``numpy.matmul`` semantics: 1-D operands and batch broadcasting."""

from __future__ import annotations

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.ops._broadcast import unbroadcast


class MatMul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.save_for_backward(a, b)
        return np.asarray(np.matmul(a, b))

    def backward(self, grad_out: np.ndarray) -> tuple:
        a, b = self.saved
        # Promote 1-D operands to matrices so one formula covers every case, then undo it.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad_out[..., None] if b.ndim == 1 else grad_out
        g = g[..., None, :] if a.ndim == 1 else g
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(np.matmul(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """``y = x @ weight.T + bias`` in one node, for inputs of shape ``(*, in_features)``."""

    def forward(self, x: np.ndarray, weight: np.ndarray, *bias: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, weight)
        # For a batch of rows, (W @ xᵀ)ᵀ: the same product, but the long side of the result is
        # the features, not the batch; 2-thread OpenBLAS runs it 2–3× faster when the other core
        # is busy (and as fast when it is not). The result is a transposed view, which every
        # following op accepts.
        out = np.matmul(weight, x.T).T if x.ndim == 2 else x @ weight.T
        if bias:
            b = bias[0]
            # In place when the dtypes agree (saves a pass over the output); promote otherwise.
            out = np.add(out, b, out=out) if np.result_type(out, b) == out.dtype else out + b
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, weight = self.saved
        gx = None
        if self.needs_input_grad[0]:
            gx = np.matmul(weight.T, grad_out.T).T if grad_out.ndim == 2 else grad_out @ weight
        gw = None
        if self.needs_input_grad[1]:
            gw = grad_out.reshape(-1, grad_out.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        grads = (gx, gw)
        if len(self.needs_input_grad) == 3:
            gb = grad_out.reshape(-1, grad_out.shape[-1]).sum(axis=0) if self.needs_input_grad[2] else None
            grads += (gb,)
        return grads
