"""N-d convolution (cross-correlation, as in the slides and every framework) by im2col + GEMM.

Forward gathers windows into one matrix per group and multiplies once; backward reuses the
saved column matrix for the weight gradient and scatters the column gradient back with one
slice-add per kernel offset (never a loop over output pixels). Padding here is zeros and may be
asymmetric (TensorFlow-style 'same'); other padding modes are applied before, by ``PadMode``.
"""

from __future__ import annotations

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.backend import conv_kernels as K


class ConvNd(Function):
    def forward(self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, stride: tuple, padding: tuple,
                dilation: tuple, groups: int) -> np.ndarray:
        widths = ((0, 0), (0, 0)) + tuple(padding)
        xp = K.pad(x, widths)
        kernel = w.shape[2:]
        cols, out_shape = K.im2col(xp, kernel, stride, dilation, groups)  # (G, Cg·k, N·L)
        n, c_out = x.shape[0], w.shape[0]
        wm = w.reshape(groups, c_out // groups, -1)
        out = np.matmul(wm, cols).reshape((c_out, n, *out_shape))  # one GEMM per group
        if bias:
            out += bias[0].reshape((c_out,) + (1,) * (len(out_shape) + 1))
        self.save_for_backward(cols, wm)
        self.meta = (xp.shape, widths, kernel, stride, dilation, out_shape, groups)
        return out.swapaxes(0, 1)  # NCHW view of a CNHW buffer: no copy

    def backward(self, grad_out: np.ndarray) -> tuple:
        cols, wm = self.saved
        xp_shape, widths, kernel, stride, dilation, out_shape, groups = self.meta
        c_out = grad_out.shape[1]
        # (N, C_out, *out) -> (G, C_out/G, N·L), the layout of the forward GEMM's output.
        rows = grad_out.shape[0] * int(np.prod(out_shape))
        g = np.ascontiguousarray(grad_out.swapaxes(0, 1)).reshape(groups, c_out // groups, rows)
        gx = gw = None
        if self.needs_input_grad[0]:
            dcols = np.matmul(wm.transpose(0, 2, 1), g)
            gx = K.unpad(K.col2im(dcols, xp_shape, kernel, stride, dilation, out_shape), widths)
        if self.needs_input_grad[1]:
            gw = np.matmul(g, cols.transpose(0, 2, 1)).reshape((c_out, -1, *kernel))
        grads = (gx, gw)
        if len(self.needs_input_grad) == 3:
            gb = grad_out.sum(axis=(0,) + tuple(range(2, grad_out.ndim))) if self.needs_input_grad[2] else None
            grads += (gb,)
        return grads


class PadMode(Function):
    """Padding by reflection, replication or wrap-around (any axes); backward folds gradients back."""

    def forward(self, x: np.ndarray, widths: tuple, mode: str) -> np.ndarray:
        self.widths, self.mode = widths, mode
        return K.pad(x, widths, mode)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (np.ascontiguousarray(K.unpad(grad_out, self.widths, self.mode)),)
