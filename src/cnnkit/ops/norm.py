"""Normalisation and dropout ops.

``Normalize`` standardises over any set of axes with the biased variance and, optionally, applies
a broadcast affine transform in the same pass; BatchNorm, LayerNorm and GroupNorm all use it.
Its backward is the closed form ``inv/M · (M·ĝ − Σĝ − x̂·Σ(ĝ·x̂))`` with ``ĝ = g·γ``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.backend import fastpath
from cnnkit.backend import jit_kernels as J
from cnnkit.backend import parallel
from cnnkit.ops._broadcast import unbroadcast

_MIN_SPLIT = 1 << 18  # elements below which one thread beats the hand-off


def _channel_rows(a: np.ndarray) -> np.ndarray:
    """``(N, C, *S)`` as ``(C, N·prod(S))``: a view when the memory is channel-major (conv outputs
    are NCHW views of CNHW buffers), one copy otherwise."""
    return np.ascontiguousarray(np.moveaxis(a, 1, 0)).reshape(a.shape[1], -1)


def _from_rows(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of :func:`_channel_rows`: an NCHW view of the channel-major buffer."""
    return np.moveaxis(rows.reshape((shape[1], shape[0]) + shape[2:]), 0, 1)


def _row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Σ_j a[i, j]·b[i, j]`` per row, through BLAS (no temporary; its blocked float32
    accumulation is ~10× more accurate than einsum's running sum over 10⁵ terms)."""
    return np.matmul(a[:, None, :], b[:, :, None]).reshape(a.shape[0])


class Normalize(Function):
    def forward(self, x: np.ndarray, *affine: np.ndarray, axes: tuple, eps: float,
                stats: Optional[list] = None) -> np.ndarray:
        self.per_channel = (fastpath.enabled() and x.ndim >= 2 and x.dtype.kind == "f"
                            and axes == (0,) + tuple(range(2, x.ndim))
                            and all(a.size == x.shape[1] and a.dtype == x.dtype for a in affine))
        if self.per_channel:
            return self._forward_channels(x, affine, eps, stats)
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
        self.saves_output = True  # the output *is* the saved x̂: an in-place edit must raise
        self.save_for_backward(xhat, inv, None, None)
        return xhat

    def _forward_channels(self, x: np.ndarray, affine: tuple, eps: float, stats: Optional[list]) -> np.ndarray:
        """BatchNorm's case (every axis but the channels) on ``(C, M)`` rows: each reduction runs
        over contiguous memory, the affine transform is one fused pass per output, and blocks of
        channels run on cnnkit's threads (every row is independent)."""
        rows = _channel_rows(x)
        c, count = rows.shape
        t = x.dtype.type
        mean, var = np.empty(c, x.dtype), np.empty(c, x.dtype)
        xhat = np.empty_like(rows)
        out = np.empty_like(rows) if affine else xhat
        weight, bias = (a.reshape(-1) for a in affine) if affine else (None, None)

        def part(_: int, lo: int, hi: int) -> None:
            r, xh = rows[lo:hi], xhat[lo:hi]
            np.mean(r, axis=1, out=mean[lo:hi])
            np.subtract(r, mean[lo:hi, None], out=xh)
            var[lo:hi] = _row_dots(xh, xh) / t(count)
            np.multiply(xh, (1 / np.sqrt(var[lo:hi] + t(eps)))[:, None], out=xh)
            if weight is not None:
                np.multiply(xh, weight[lo:hi, None], out=out[lo:hi])
                out[lo:hi] += bias[lo:hi, None]

        if J.available(rows) and rows.flags.c_contiguous and count > 0:
            # compiled: one read of each row from memory, two passes in cache, one write (or two)
            inv = J.batch_norm(rows, weight, bias, eps, xhat, out, mean, var)
        else:
            parallel.split(part, parallel.chunks(c) if rows.size >= _MIN_SPLIT else [(0, c)])
            inv = 1 / np.sqrt(var + t(eps))
        if stats is not None:
            keep = (1, -1) + (1,) * (x.ndim - 2)
            stats.extend([mean.reshape(keep), var.reshape(keep)])
        self.count, self.shape = count, x.shape
        if not affine:
            self.saves_output = True  # the output is a view of the saved x̂ (see forward)
            self.save_for_backward(xhat, inv, None, None)
            return _from_rows(xhat, x.shape)
        self.save_for_backward(xhat, inv, weight, affine[1].shape, affine[0].shape)
        return _from_rows(out, x.shape)

    def _backward_channels(self, grad_out: np.ndarray) -> tuple:
        xhat, inv, weight = self.saved[:3]
        g = _channel_rows(grad_out)
        c = g.shape[0]
        gb, gw = np.empty(c, g.dtype), np.empty(c, g.dtype)
        rows = np.empty_like(g) if self.needs_input_grad[0] else None
        m = grad_out.dtype.type(self.count)

        def part(_: int, lo: int, hi: int) -> None:
            gk, xk = g[lo:hi], xhat[lo:hi]
            np.sum(gk, axis=1, out=gb[lo:hi])
            gw[lo:hi] = _row_dots(gk, xk)
            if rows is not None:
                # inv/M·(M·ĝ − Σĝ − x̂·Σ(ĝ·x̂)) with ĝ = γ·g, so Σĝ = γ·gb and Σ(ĝ·x̂) = γ·gw.
                scale = inv[lo:hi] if weight is None else inv[lo:hi] * weight[lo:hi]
                shift = np.multiply(xk, (scale * gw[lo:hi] / m)[:, None])
                shift += (scale * gb[lo:hi] / m)[:, None]
                np.multiply(gk, scale[:, None], out=rows[lo:hi])
                rows[lo:hi] -= shift

        if (J.available(g, xhat) and g.dtype == xhat.dtype and g.flags.c_contiguous and xhat.flags.c_contiguous
                and g.shape[1] > 0):
            J.batch_norm_backward(g, xhat, inv, weight, rows, gb, gw)  # two passes, the second in cache
        else:
            parallel.split(part, parallel.chunks(c) if g.size >= _MIN_SPLIT else [(0, c)])
        gx = None if rows is None else _from_rows(rows, self.shape)
        if weight is None:
            return (gx,)
        bias_shape, weight_shape = self.saved[3], self.saved[4]
        return (gx, gw.reshape(weight_shape) if self.needs_input_grad[1] else None,
                gb.reshape(bias_shape) if self.needs_input_grad[2] else None)

    def backward(self, grad_out: np.ndarray) -> tuple:
        if self.per_channel:
            return self._backward_channels(grad_out)
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
