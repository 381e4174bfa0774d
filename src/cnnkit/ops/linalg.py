"""Matrix products with ``numpy.matmul`` semantics: 1-D operands and batch broadcasting."""

from __future__ import annotations

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.backend import fastpath
from cnnkit.backend import parallel
from cnnkit.ops._broadcast import unbroadcast

_MIN_SPLIT = 1 << 20  # multiply-adds below which one thread beats the hand-off


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
    """``y = x @ weight.T + bias`` in one node, for inputs of shape ``(*, in_features)``.

    Once cnnkit's threads run the fast paths, NumPy's BLAS is single-threaded
    (:mod:`cnnkit.backend.parallel`), so a large 2-D product is split here: forward and the weight
    gradient by output features, the input gradient by batch rows (disjoint outputs, no sums).
    """

    owns_grads = True  # backward's three gradients are fresh arrays

    def forward(self, x: np.ndarray, weight: np.ndarray, *bias: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, weight)
        b = bias[0] if bias else None
        self.split = (x.ndim == 2 and fastpath.enabled() and parallel.active() and x.dtype == weight.dtype
                      and x.shape[0] * weight.size >= _MIN_SPLIT and (b is None or b.dtype == x.dtype))
        if self.split:
            # by output features, as W[a:b] @ xᵀ: each thread reads only its rows of the weight
            # matrix (at small batches the product is bound by reading W: 2.3× faster than
            # splitting the batch at 32 rows, as fast at 128); the result is a transposed view
            out_t = np.empty((weight.shape[0], x.shape[0]), dtype=x.dtype)

            def part(_: int, lo: int, hi: int) -> None:
                np.matmul(weight[lo:hi], x.T, out=out_t[lo:hi])
                if b is not None:
                    out_t[lo:hi] += b[lo:hi, None]

            parallel.split(part, parallel.chunks(weight.shape[0]))
            return out_t.T
        # For a batch of rows, (W @ xᵀ)ᵀ: the same product, but the long side of the result is
        # the features, not the batch; 2-thread OpenBLAS runs it 2–3× faster when the other core
        # is busy (and as fast when it is not). The result is a transposed view, which every
        # following op accepts.
        out = np.matmul(weight, x.T).T if x.ndim == 2 else x @ weight.T
        if b is not None:
            # In place when the dtypes agree (saves a pass over the output); promote otherwise.
            out = np.add(out, b, out=out) if np.result_type(out, b) == out.dtype else out + b
        return out

    def backward(self, grad_out: np.ndarray) -> tuple:
        x, weight = self.saved
        if self.split and grad_out.dtype == x.dtype:
            gx, gw = self._backward_split(grad_out, x, weight)
        else:
            gx = gw = None
            if self.needs_input_grad[0]:
                gx = np.matmul(weight.T, grad_out.T).T if grad_out.ndim == 2 else grad_out @ weight
            if self.needs_input_grad[1]:
                gw = grad_out.reshape(-1, grad_out.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        grads = (gx, gw)
        if len(self.needs_input_grad) == 3:
            gb = grad_out.reshape(-1, grad_out.shape[-1]).sum(axis=0) if self.needs_input_grad[2] else None
            grads += (gb,)
        return grads

    def _backward_split(self, g: np.ndarray, x: np.ndarray, weight: np.ndarray) -> tuple:
        gx = np.empty(x.shape, dtype=x.dtype) if self.needs_input_grad[0] else None
        gw = np.empty(weight.shape, dtype=x.dtype) if self.needs_input_grad[1] else None
        rows, features = parallel.chunks(x.shape[0]), parallel.chunks(weight.shape[0])
        parts = rows if len(rows) == len(features) else [(0, x.shape[0])]
        features = features if len(rows) == len(features) else [(0, weight.shape[0])]

        def part(k: int, lo: int, hi: int) -> None:
            if gx is not None:
                np.matmul(g[lo:hi], weight, out=gx[lo:hi])
            if gw is not None:
                a, b = features[k]
                np.matmul(g[:, a:b].T, x, out=gw[a:b])

        parallel.split(part, parts)
        return gx, gw
