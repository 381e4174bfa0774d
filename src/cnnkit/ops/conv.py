"""N-d convolution (cross-correlation, as in the slides and every framework) by im2col + GEMM.

Forward gathers windows into one matrix per group and multiplies once; backward reuses the
saved column matrix for the weight gradient and scatters the column gradient back with one
slice-add per kernel offset (never a loop over output pixels). Padding here is zeros and may be
asymmetric (TensorFlow-style 'same'); other padding modes are applied before, by ``PadMode``.

The column matrix (tens of MB at LeNet sizes) comes from :mod:`cnnkit.backend.fastpath`'s buffer
pool and goes back to it once backward has used it (or at once without a graph), so a training
loop does not page-fault a fresh one in every step.
"""

from __future__ import annotations

import math

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.backend import conv_kernels as K
from cnnkit.backend import fastpath


class ConvNd(Function):
    def forward(self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, stride: tuple, padding: tuple,
                dilation: tuple, groups: int) -> np.ndarray:
        widths = ((0, 0), (0, 0)) + tuple(padding)
        xp = K.pad(x, widths)
        kernel = w.shape[2:]
        n, c_out = x.shape[0], w.shape[0]
        out_shape = tuple(K.conv_output_size(s, k, 0, st, d) for s, k, st, d in zip(xp.shape[2:], kernel, stride, dilation))
        pooled = fastpath.enabled()
        buffer = fastpath.take((xp.shape[1] * math.prod(kernel) * n * math.prod(out_shape),), xp.dtype) if pooled else None
        cols, out_shape = K.im2col(xp, kernel, stride, dilation, groups, out=buffer)  # (G, Cg·k, N·L)
        wm = w.reshape(groups, c_out // groups, -1)
        out = np.matmul(wm, cols).reshape((c_out, n, *out_shape))  # one GEMM per group
        if bias:
            out += bias[0].reshape((c_out,) + (1,) * (len(out_shape) + 1))
        if self.requires_grad:
            self.save_for_backward(cols, wm, buffer)
        elif buffer is not None:
            fastpath.give(buffer)  # no graph: nothing will read the columns again
        self.meta = (xp.shape, widths, kernel, stride, dilation, out_shape, groups)
        return out.swapaxes(0, 1)  # NCHW view of a CNHW buffer: no copy

    def backward(self, grad_out: np.ndarray) -> tuple:
        cols, wm, _ = self.saved
        xp_shape, widths, kernel, stride, dilation, out_shape, groups = self.meta
        c_out = grad_out.shape[1]
        # (N, C_out, *out) -> (G, C_out/G, N·L), the layout of the forward GEMM's output (no copy
        # when grad_out keeps that CNHW layout, as ReLU and pooling outputs of a conv do).
        rows = grad_out.shape[0] * math.prod(out_shape)
        g = np.ascontiguousarray(grad_out.swapaxes(0, 1)).reshape(groups, c_out // groups, rows)
        gx = gw = None
        if self.needs_input_grad[0]:
            # The column gradient is as large as the columns; a pooled buffer avoids page-faulting
            # a fresh one every step (it goes back as soon as col2im has read it).
            buffer = fastpath.take((cols.size,), cols.dtype) if fastpath.enabled() else None
            dcols = np.matmul(wm.transpose(0, 2, 1), g, out=None if buffer is None else buffer.reshape(cols.shape))
            gx = K.unpad(K.col2im(dcols, xp_shape, kernel, stride, dilation, out_shape), widths)
            if buffer is not None:
                fastpath.give(buffer)
        if self.needs_input_grad[1]:
            # cols @ gᵀ, transposed afterwards: OpenBLAS runs g @ colsᵀ (a short-wide times a long
            # transposed operand) up to 10× slower for the same product at conv shapes.
            gw = np.matmul(cols, g.transpose(0, 2, 1)).transpose(0, 2, 1)
            gw = np.ascontiguousarray(gw).reshape((c_out, -1, *kernel))
        grads = (gx, gw)
        if len(self.needs_input_grad) == 3:
            gb = g.sum(axis=2).reshape(c_out) if self.needs_input_grad[2] else None
            grads += (gb,)
        return grads

    def release(self) -> None:
        if self.saved and self.saved[2] is not None:
            buffer = self.saved[2]
            super().release()
            fastpath.give(buffer)
            return
        super().release()


class PadMode(Function):
    """Padding by reflection, replication or wrap-around (any axes); backward folds gradients back."""

    def forward(self, x: np.ndarray, widths: tuple, mode: str) -> np.ndarray:
        self.widths, self.mode = widths, mode
        return K.pad(x, widths, mode)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (np.ascontiguousarray(K.unpad(grad_out, self.widths, self.mode)),)
