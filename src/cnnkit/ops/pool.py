"""Window pooling ops (max and sum-based average) over N spatial dims.

Forward visits the prod(kernel) window offsets as strided sub-views of the padded input and
combines them elementwise (27× faster than reducing a reshaped tiny axis); backward is one
masked slice-add per offset. Ties and NaN follow PyTorch: the first maximum in the window wins,
and NaN propagates. (One difference: in a window with several NaNs the first gets the gradient,
where PyTorch's CPU kernel picks the last; the output is NaN either way.)
"""

from __future__ import annotations

import numpy as np

from cnnkit.autograd.function import Function
from cnnkit.backend import conv_kernels as K
from cnnkit.backend import fastpath
from cnnkit.backend import jit_kernels as J


_offset_slices = K.offset_slices
_offsets = K.kernel_offsets


def _like_layout(shape: tuple, model: np.ndarray, make, dtype) -> np.ndarray:
    """A new array of ``shape`` whose axes lie in memory in the order of ``model``'s strides."""
    perm = sorted(range(model.ndim), key=lambda a: -model.strides[a])
    return make([shape[a] for a in perm], dtype=dtype).transpose(np.argsort(perm))


class MaxPoolNd(Function):
    """Max over windows. ``padding`` holds ``(before, after)`` pairs (after includes ceil overhang).

    Forward is a running ``np.maximum`` over the window offsets that also records, per output,
    the index of the offset that won (``uint8``/``uint16``; a strict ``>`` keeps the *first*
    maximum, PyTorch's tie rule). Backward then routes each gradient to its winner with one
    masked copy per offset, without comparing the input again. Rare inputs take the reference
    path, which finds each winner again as the first offset equal to the maximum: a NaN in the
    output (NaN wins as in PyTorch) or a real ``-inf`` maximum next to ``-inf`` padding.
    """

    saves_output = True

    def forward(self, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                out_shape: tuple) -> np.ndarray:
        self.jit = len(kernel) == 2 and fastpath.enabled() and J.available(x)
        if self.jit:
            # One compiled pass: padding skipped arithmetically, winners tracked (first maximum,
            # first NaN) for every window, so no input has to take the reference path.
            padded = x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
            like = lambda shape, dtype: _like_layout(shape, x, np.empty, dtype)  # noqa: E731
            best, self.winner = J.max_pool2d(x, kernel, stride, tuple(lo for lo, _ in padding), dilation,
                                             out_shape, like)
            self.meta = (x.shape, padded, kernel, stride, padding, dilation, out_shape)
            self.save_for_backward(None, best)
            return best
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = K.pad(x, ((0, 0), (0, 0)) + padding, mode="zeros", value=fill)
        offsets = _offsets(kernel)
        # order="K": keep the input's memory layout (a conv output is an NCHW view of a CNHW
        # buffer); mixing layouts makes every elementwise pass a slow strided one.
        best = np.copy(xp[_offset_slices(offsets[0], dilation, stride, out_shape)], order="K")
        winner = np.zeros_like(best, dtype=np.uint8 if len(offsets) <= 256 else np.uint16)
        better, step = np.empty_like(best, dtype=bool), np.empty_like(winner)
        track = self.requires_grad  # without a graph only the maximum is needed
        for k, offset in enumerate(offsets[1:], start=1):
            view = xp[_offset_slices(offset, dilation, stride, out_shape)]
            if not track:
                np.maximum(best, view, out=best)
                continue
            np.greater(view, best, out=better)
            # winner ← k where better: winner + better·(k − winner) in wrap-around unsigned
            # arithmetic, three fast passes (a masked copyto is ~10× slower than all three).
            np.subtract(winner.dtype.type(k), winner, out=step)
            np.multiply(step, better, out=step)
            np.add(winner, step, out=winner)
            np.maximum(best, view, out=best)
        self.meta = (x.shape, xp.shape, kernel, stride, padding, dilation, out_shape)
        if not track:
            self.winner = None
            self.save_for_backward(xp, best)  # dropped by apply() when no graph is recorded
        elif not fastpath.enabled() or self._needs_reference(best, padding):
            self.winner = None
            self.save_for_backward(xp, best)
        else:
            self.winner = winner
            self.save_for_backward(None, best)
        return best

    @staticmethod
    def _needs_reference(best: np.ndarray, padding: tuple) -> bool:
        if best.dtype.kind != "f":
            return False
        if np.isnan(best).any():
            return True
        return any(lo or hi for lo, hi in padding) and bool(np.isneginf(best).any())

    def _winners(self):
        """Yield ``(offset index, slices, mask)``: where each offset is its window's first maximum."""
        xp, best = self.saved
        x_shape, _, kernel, stride, padding, dilation, out_shape = self.meta
        has_nan = xp.dtype.kind == "f" and bool(np.isnan(best).any())
        real = None
        if any(lo or hi for lo, hi in padding) and xp.dtype.kind == "f" and bool(np.isneginf(best).any()):
            # A window of real −inf values ties with its −inf padding; only real cells may win.
            real = K.pad(np.ones(x_shape, dtype=bool), ((0, 0), (0, 0)) + padding, value=False)
        claimed = np.zeros(best.shape, dtype=bool)
        for k, offset in enumerate(_offsets(kernel)):
            slices = _offset_slices(offset, dilation, stride, out_shape)
            view = xp[slices]
            hit = view == best
            if has_nan:
                hit |= np.isnan(view) & np.isnan(best)
            if real is not None:
                hit &= real[slices]
            hit &= ~claimed
            claimed |= hit
            yield k, slices, hit

    def backward(self, grad_out: np.ndarray) -> tuple:
        _, xp_shape, kernel, stride, padding, dilation, out_shape = self.meta
        if self.winner is None:
            return self._backward_reference(grad_out)
        if self.jit:
            like = lambda shape, dtype: _like_layout(shape, self.winner, np.empty, dtype)  # noqa: E731
            return (J.max_pool2d_backward(grad_out, self.winner, self.meta[0], kernel, stride,
                                          tuple(lo for lo, _ in padding), dilation, like),)
        zero = grad_out.dtype.type(0)
        extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
        disjoint = all(s >= e for s, e in zip(stride, extents))
        # Windows that tile the padded input exactly write every cell once: no zero-fill needed.
        tiles = all(d == 1 and s == k and m * s == n
                    for k, s, d, m, n in zip(kernel, stride, dilation, out_shape, xp_shape[2:]))
        tiles = tiles and bool(np.isfinite(grad_out).all())  # inf·0 would leave NaN where no gradient goes
        grad = _like_layout(xp_shape, self.winner, np.empty if tiles else np.zeros, grad_out.dtype)
        hit = np.empty_like(self.winner, dtype=bool)
        for k, offset in enumerate(_offsets(kernel)):
            np.equal(self.winner, k, out=hit)
            target = grad[_offset_slices(offset, dilation, stride, out_shape)]
            if tiles:
                np.multiply(grad_out, hit, out=target)
            elif disjoint:
                np.copyto(target, grad_out, where=hit)
            else:
                target += np.where(hit, grad_out, zero)
        return (K.unpad(grad, ((0, 0), (0, 0)) + padding),)

    def _backward_reference(self, grad_out: np.ndarray) -> tuple:
        _, xp_shape, _, _, padding, _, _ = self.meta
        grad = np.zeros(xp_shape, dtype=grad_out.dtype)
        zero = grad_out.dtype.type(0)
        for _, slices, hit in self._winners():
            grad[slices] += np.where(hit, grad_out, zero)
        return (K.unpad(grad, ((0, 0), (0, 0)) + padding),)

    def release(self) -> None:
        super().release()
        self.winner = None  # saved outside ``saved``: free it with the rest after backward

    def indices(self, in_spatial: tuple) -> np.ndarray:
        """PyTorch's ``return_indices``: the flat index of each maximum within its channel's plane."""
        _, _, kernel, stride, padding, dilation, out_shape = self.meta
        if self.winner is not None:
            winner = self.winner.astype(np.int64)
        else:
            winner = np.zeros(self.saved[1].shape, dtype=np.int64)
            for k, _, hit in self._winners():
                winner[hit] = k
        taps = np.array(_offsets(kernel))[winner]  # (..., nd) offset of the winner
        flat = np.zeros(winner.shape, dtype=np.int64)
        for axis, (s, d, (lo, _), n) in enumerate(zip(stride, dilation, padding, in_spatial)):
            grid = np.arange(out_shape[axis]) * s - lo
            grid = grid.reshape((-1,) + (1,) * (len(out_shape) - 1 - axis))
            flat = flat * n + (grid + taps[..., axis] * d)
        return flat


class SumPoolNd(Function):
    """Sum over windows divided by ``divisor`` (an array broadcast over N and C): average pooling."""

    def forward(self, x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, out_shape: tuple,
                divisor: np.ndarray) -> np.ndarray:
        xp = K.pad(x, ((0, 0), (0, 0)) + padding)
        dilation = (1,) * len(kernel)
        total = None
        for offset in _offsets(kernel):
            view = xp[_offset_slices(offset, dilation, stride, out_shape)]
            total = view.copy() if total is None else np.add(total, view, out=total)
        self.meta = (xp.shape, kernel, stride, padding, out_shape, divisor)
        return total / divisor.astype(x.dtype, copy=False)

    def backward(self, grad_out: np.ndarray) -> tuple:
        xp_shape, kernel, stride, padding, out_shape, divisor = self.meta
        share = grad_out / divisor.astype(grad_out.dtype, copy=False)
        grad = np.zeros(xp_shape, dtype=grad_out.dtype)
        dilation = (1,) * len(kernel)
        for offset in _offsets(kernel):
            grad[_offset_slices(offset, dilation, stride, out_shape)] += share
        return (K.unpad(grad, ((0, 0), (0, 0)) + padding),)


def window_counts(spatial: tuple, kernel: tuple, stride: tuple, padding: tuple, out_shape: tuple,
                  count_include_pad: bool) -> np.ndarray:
    """Per-output divisor of average pooling, as PyTorch counts it.

    With ``count_include_pad`` the padding cells count but the ceil-mode overhang past the
    padding does not; without it only real input cells count.
    """

    ones = np.ones((1, 1) + tuple(spatial))
    sym = tuple((lo, lo) for lo, _ in padding)  # the declared (symmetric) padding
    mask = K.pad(ones, ((0, 0), (0, 0)) + sym, value=1.0 if count_include_pad else 0.0)
    extra = tuple((0, hi - lo) for lo, hi in padding)
    mask = K.pad(mask, ((0, 0), (0, 0)) + extra, value=0.0)
    total = np.zeros((1, 1) + tuple(out_shape))
    for offset in _offsets(kernel):
        total += mask[_offset_slices(offset, (1,) * len(kernel), stride, out_shape)]
    return total
