"""N-d convolution (cross-correlation, as in the slides and every framework) by im2col + GEMM.

Forward gathers windows into one matrix per group and multiplies once; backward reuses the
saved column matrix for the weight gradient and scatters the column gradient back with one
slice-add per kernel offset (never a loop over output pixels). Padding here is zeros and may be
asymmetric (TensorFlow-style 'same'); other padding modes are applied before, by ``PadMode``.

On the fast path (:mod:`cnnkit.backend.fastpath`) the batch is split into chunks that run on
cnnkit's threads (:mod:`cnnkit.backend.parallel`; NumPy releases the GIL in its copies and BLAS
calls), each with its own padding, im2col, GEMMs and col2im; the weight gradient sums the chunks'
products. The reference path does the same over the whole batch in one piece.

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
from cnnkit.backend import parallel
from cnnkit.backend import winograd
from cnnkit.ops import conv_winograd

_MIN_SPLIT = 1 << 18  # column-matrix elements below which one thread beats the hand-off


class ConvNd(Function):
    owns_grads = True  # backward's gradients are fresh arrays (or views of fresh ones)

    def forward(self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, stride: tuple, padding: tuple,
                dilation: tuple, groups: int) -> np.ndarray:
        widths = ((0, 0), (0, 0)) + tuple(padding)
        kernel = w.shape[2:]
        n, c_out = x.shape[0], w.shape[0]
        padded = x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
        out_shape = tuple(K.conv_output_size(s, k, 0, st, d) for s, k, st, d in zip(padded[2:], kernel, stride, dilation))
        self.meta = (padded, x.shape, widths, kernel, stride, dilation, out_shape, groups)
        wm = w.reshape(groups, c_out // groups, -1)
        if fastpath.enabled():
            plan = winograd.plan(x, w, out_shape, stride, dilation, groups) if len(kernel) == 2 else None
            if plan is not None and winograd.in_range(x, (w,), w[0].size):
                out, saved = conv_winograd.forward(plan, x, w, bias, padding, out_shape, self.requires_grad,
                                                   self.requires_grad and self.needs_input_grad[1])
                if self.requires_grad:
                    self.save_for_backward(conv_winograd, saved, (x, wm))
                return out
            return self._forward_split(x, wm, bias)
        cols, out_shape = K.im2col(K.pad(x, widths), kernel, stride, dilation, groups)  # (G, Cg·k, N·L)
        out = np.matmul(wm, cols).reshape((c_out, n, *out_shape))  # one GEMM per group
        if bias:
            out += bias[0].reshape((c_out,) + (1,) * (len(out_shape) + 1))
        if self.requires_grad:
            self.save_for_backward(cols, wm, None)
        return out.swapaxes(0, 1)  # NCHW view of a CNHW buffer: no copy

    def _forward_split(self, x: np.ndarray, wm: np.ndarray, bias: tuple) -> np.ndarray:
        """Per batch chunk, on its own thread: pad, im2col into a pooled buffer, the GEMM into its
        columns of the shared output, the bias. Each chunk keeps its columns for backward."""
        _, _, widths, kernel, stride, dilation, out_shape, groups = self.meta
        n, c_out, length = x.shape[0], wm.shape[0] * wm.shape[1], math.prod(out_shape)
        rows = x.shape[1] // groups * math.prod(kernel)
        out = np.empty((c_out, n, *out_shape), dtype=np.result_type(x, wm))
        flat = out.reshape(groups, c_out // groups, n * length)
        parts = parallel.chunks(n) if x.size * math.prod(kernel) >= _MIN_SPLIT else [(0, n)]
        saved: list = [None] * len(parts)

        def part(k: int, lo: int, hi: int) -> None:
            buffer = fastpath.take((groups * rows * (hi - lo) * length,), x.dtype)
            cols, _ = K.im2col(K.pad(x[lo:hi], widths), kernel, stride, dilation, groups, out=buffer)
            target = flat[:, :, lo * length:hi * length]
            np.matmul(wm, cols, out=target)
            if bias:
                target += bias[0].reshape(groups, c_out // groups, 1)
            if self.requires_grad:
                saved[k] = (cols, buffer, lo, hi)
            else:
                fastpath.give(buffer)  # no graph: nothing will read the columns again

        parallel.split(part, parts)
        if self.requires_grad:
            self.save_for_backward(saved, wm, None)
        return out.swapaxes(0, 1)  # NCHW view of a CNHW buffer: no copy

    def backward(self, grad_out: np.ndarray) -> tuple:
        xp_shape, x_shape, widths, kernel, stride, dilation, out_shape, groups = self.meta
        c_out = grad_out.shape[1]
        # (N, C_out, *out) -> (G, C_out/G, N·L), the layout of the forward GEMM's output (no copy
        # when grad_out keeps that CNHW layout, as ReLU and pooling outputs of a conv do).
        rows = grad_out.shape[0] * math.prod(out_shape)
        g = np.ascontiguousarray(grad_out.swapaxes(0, 1)).reshape(groups, c_out // groups, rows)
        if self.saved[0] is conv_winograd:
            x, wm = self.saved[2]
            if not any(self.needs_input_grad[:2]):
                gx = gw = None  # only the bias wants a gradient
            elif conv_winograd.in_range(self.saved[1], grad_out, x):
                gx, gw = conv_winograd.backward(self.saved[1], grad_out, x_shape, widths[2:], *self.needs_input_grad[:2])
            else:  # a non-finite or huge gradient: the exact im2col products (see winograd.in_range)
                cols, _ = K.im2col(K.pad(x, widths), kernel, stride, dilation, groups)
                gx, gw = self._backward_whole(g, xp_shape, cols, wm)
        elif isinstance(self.saved[0], list):
            gx, gw = self._backward_split(g, xp_shape)
        else:
            gx, gw = self._backward_whole(g, xp_shape, *self.saved[:2])
        if gw is not None and gw.ndim == 3:
            gw = np.ascontiguousarray(gw.transpose(0, 2, 1)).reshape((c_out, -1, *kernel))
        grads = (gx, gw)
        if len(self.needs_input_grad) == 3:
            gb = g.sum(axis=2).reshape(c_out) if self.needs_input_grad[2] else None
            grads += (gb,)
        return grads

    def _backward_whole(self, g: np.ndarray, xp_shape: tuple, cols: np.ndarray, wm: np.ndarray) -> tuple:
        """The reference path: one GEMM per product over the whole batch."""
        _, _, widths, kernel, stride, dilation, out_shape, _ = self.meta
        gx = gw = None
        if self.needs_input_grad[0]:
            dcols = np.matmul(wm.transpose(0, 2, 1), g)
            gx = K.unpad(K.col2im(dcols, xp_shape, kernel, stride, dilation, out_shape), widths)
        if self.needs_input_grad[1]:
            # cols @ gᵀ (transposed by the caller): OpenBLAS runs g @ colsᵀ (a short-wide times a
            # long transposed operand) up to 10× slower for the same product at conv shapes.
            gw = np.matmul(cols, g.transpose(0, 2, 1))
        return gx, gw

    def _backward_split(self, g: np.ndarray, xp_shape: tuple) -> tuple:
        """Per forward chunk, on its own thread: the weight-gradient product of its columns
        (summed afterwards), and the column gradient (a pooled buffer) added by col2im into the
        chunk's slice of one padded channel-major input gradient."""
        saved, wm, _ = self.saved
        _, _, widths, kernel, stride, dilation, out_shape, _ = self.meta
        length = math.prod(out_shape)
        grad = None
        if self.needs_input_grad[0]:
            grad = np.empty((xp_shape[1], xp_shape[0], *xp_shape[2:]), dtype=g.dtype)
        partial: list = [None] * len(saved)

        def part(k: int, lo: int, hi: int) -> None:
            cols = saved[k][0]
            gk = g[:, :, lo * length:hi * length]
            if self.needs_input_grad[1]:
                partial[k] = np.matmul(cols, gk.transpose(0, 2, 1))  # see _backward_whole
            if grad is not None:
                buffer = fastpath.take((cols.size,), np.result_type(wm, gk))
                dcols = np.matmul(wm.transpose(0, 2, 1), gk, out=buffer.reshape(cols.shape))
                target = grad[:, lo:hi]
                target.fill(0)
                K.col2im(dcols, (hi - lo,) + tuple(xp_shape[1:]), kernel, stride, dilation, out_shape, out=target)
                fastpath.give(buffer)

        parallel.split(part, [(lo, hi) for _, _, lo, hi in saved])
        gw = None
        if self.needs_input_grad[1]:
            gw = partial[0]
            for p in partial[1:]:
                gw += p
        gx = None if grad is None else K.unpad(grad.swapaxes(0, 1), widths)
        return gx, gw

    def release(self) -> None:
        buffers = []
        if self.saved and self.saved[0] is conv_winograd:
            conv_winograd.release(self.saved[1])
        elif self.saved and isinstance(self.saved[0], list):
            buffers = [item[1] for item in self.saved[0] if item is not None]
        super().release()
        for buffer in buffers:
            fastpath.give(buffer)


class PadMode(Function):
    """Padding by reflection, replication or wrap-around (any axes); backward folds gradients back."""

    def forward(self, x: np.ndarray, widths: tuple, mode: str) -> np.ndarray:
        self.widths, self.mode = widths, mode
        return K.pad(x, widths, mode)

    def backward(self, grad_out: np.ndarray) -> tuple:
        return (np.ascontiguousarray(K.unpad(grad_out, self.widths, self.mode)),)
