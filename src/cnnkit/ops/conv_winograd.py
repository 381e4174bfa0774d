"""The Winograd path of :class:`cnnkit.ops.conv.ConvNd`: forward and backward per batch chunk.

Used for float32 2-D convolutions with stride 1, no dilation, one group, a 3×3 or 5×5 kernel and
at least :data:`cnnkit.backend.winograd.MIN_CHANNELS` input channels, when the fast paths are on
(:mod:`cnnkit.backend.winograd` explains the method, the layouts and the accuracy). Everything else,
and every float64 convolution, takes im2col.

As on the im2col path, the batch is split into chunks on cnnkit's threads; each chunk turns its
images batch-last (the kernels vectorise over them), transforms them, multiplies and transforms
back into its slice of the output. The transformed input tiles ``v`` (a pooled buffer, 5.4× the
input at F(3×3, 5×5)) are what backward keeps: the weight gradient needs them. Backward leaves
them untouched, so a second backward (``retain_graph=True``) gives the same gradients.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cnnkit.backend import fastpath
from cnnkit.backend import parallel
from cnnkit.backend import winograd as W

_CHUNK = 32  # images per chunk: the kernels' vector length; larger chunks fall out of cache


def _parts(n: int) -> tuple:
    """Batch chunks of about :data:`_CHUNK` images, and whether each stage of a chunk is shared
    out over the threads by channel: done when there are fewer chunks than threads (a small batch),
    because halving the chunks instead makes the kernels' vectors short (LeNet's conv2 on 2
    threads, forward + backward: 5.1 vs 5.4 ms at 16 images; at 32 both ways take 7.8 ms)."""
    count = max(round(n / _CHUNK), 1)
    if count < parallel.num_threads():
        return [(0, n)], True
    return parallel.chunks(n, count), False


def _stage(fn: Callable[[int, int], None], total: int, shared: bool) -> None:
    """``fn(lo, hi)`` over ``range(total)`` (channels or transform points): split over the
    threads when ``shared``, else whole on this thread."""
    if shared and total > 1:
        parallel.split(lambda _, lo, hi: fn(lo, hi), parallel.chunks(total))
    else:
        fn(0, total)


def _padded_batch_last(a: np.ndarray, shape: tuple, top: int, left: int) -> np.ndarray:
    """(n, C, H, W) of any strides -> a float32 (C, *shape, n) copy with ``a`` at (top, left) and
    zeros around it: the kernels' layout, every tile in bounds."""
    n, c, h, w = a.shape
    out = np.empty((c, *shape, n), np.float32)
    out[:, :top] = 0
    out[:, top + h:] = 0
    out[:, top:top + h, :left] = 0
    out[:, top:top + h, left + w:] = 0
    out[:, top:top + h, left:left + w] = a.transpose(1, 2, 3, 0)
    return out


def forward(plan: W.Plan, x: np.ndarray, w: np.ndarray, bias: tuple, padding: tuple, out_shape: tuple,
            keep: bool, keep_tiles: bool) -> tuple:
    """y (N, C_out, *out_shape), a view of a channel-major buffer, and what backward needs
    (None unless ``keep``; the transformed input tiles only with ``keep_tiles``, i.e. when the
    weight gradient is wanted)."""
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    u = W.transform_weight(plan, w)
    b = bias[0].astype(np.float32) if bias else np.zeros(c_out, np.float32)
    out = np.empty((c_out, n, *out_shape), dtype=np.float32)
    parts, shared = _parts(n)
    saved: list = [None] * len(parts)
    alpha2 = plan.bt.shape[0] ** 2
    tiles = plan.tiles[0] * plan.tiles[1]
    to_points, from_points = W.kernel("to_points"), W.kernel("from_points")
    m = plan.m

    def part(k: int, lo: int, hi: int) -> None:
        xp = _padded_batch_last(x[lo:hi], plan.padded, padding[0][0], padding[1][0])
        v = fastpath.take((alpha2, c_in, tiles * (hi - lo)), np.float32)
        _stage(lambda c0, c1: to_points(xp, plan.bt, m, *plan.tiles, v, c0, c1), c_in, shared)
        mm = fastpath.take((alpha2, c_out, v.shape[2]), np.float32)
        _stage(lambda p0, p1: np.matmul(u[p0:p1], v[p0:p1], out=mm[p0:p1]), alpha2, shared)
        yp = np.empty((c_out, plan.tiles[0] * plan.m, plan.tiles[1] * plan.m, hi - lo), np.float32)
        _stage(lambda c0, c1: from_points(mm, plan.at, m, *plan.tiles, yp, b, False, c0, c1), c_out, shared)
        fastpath.give(mm)
        out[:, lo:hi] = yp[:, :out_shape[0], :out_shape[1]].transpose(0, 3, 1, 2)
        if keep:
            saved[k] = (v if keep_tiles else None, lo, hi)
        if not (keep and keep_tiles):
            fastpath.give(v)

    if shared:
        part(0, 0, n)
    else:
        parallel.split(part, parts)
    return out.swapaxes(0, 1), ((plan, u, saved, shared) if keep else None)


def backward(saved: tuple, grad_out: np.ndarray, x_shape: tuple, padding: tuple, need_x: bool,
             need_w: bool) -> tuple:
    """(grad x or None, grad w or None) from what :func:`forward` kept; frees its buffers."""
    plan, u, chunks, shared = saved
    c_out, c_in = u.shape[1:]
    alpha2 = u.shape[0]
    gx = np.empty(x_shape, np.float32) if need_x else None
    ut = np.ascontiguousarray(u.transpose(0, 2, 1)) if need_x else None
    partial: list = [None] * len(chunks)
    to_points, from_points = W.kernel("to_points"), W.kernel("from_points")
    m = plan.m
    zeros = np.zeros(c_in, np.float32)  # no bias in the input gradient

    if not (need_x or need_w):
        return None, None
    columns = plan.tiles[0] * plan.tiles[1]

    def part(k: int, lo: int, hi: int) -> None:
        v = chunks[k][0]  # None unless the weight gradient is wanted
        gp = _padded_batch_last(grad_out[lo:hi], (plan.tiles[0] * plan.m, plan.tiles[1] * plan.m), 0, 0)
        dmm = fastpath.take((alpha2, c_out, columns * (hi - lo)), np.float32)
        _stage(lambda c0, c1: to_points(gp, plan.a, m, *plan.tiles, dmm, c0, c1), c_out, shared)
        if need_w:
            du = partial[k] = np.empty((alpha2, c_out, c_in), np.float32)
            _stage(lambda p0, p1: np.matmul(dmm[p0:p1], v[p0:p1].transpose(0, 2, 1), out=du[p0:p1]), alpha2, shared)
        if need_x:
            # a buffer of its own, not v: a second backward (retain_graph=True) needs v again
            dv = fastpath.take((alpha2, c_in, dmm.shape[2]), np.float32)
            _stage(lambda p0, p1: np.matmul(ut[p0:p1], dmm[p0:p1], out=dv[p0:p1]), alpha2, shared)
            dxp = np.empty((c_in, *plan.padded, hi - lo), np.float32)
            _stage(lambda c0, c1: from_points(dv, plan.b, m, *plan.tiles, dxp, zeros, True, c0, c1), c_in, shared)
            fastpath.give(dv)
            top, left = padding[0][0], padding[1][0]
            gx[lo:hi] = dxp[:, top:top + x_shape[2], left:left + x_shape[3]].transpose(3, 0, 1, 2)
        fastpath.give(dmm)

    if shared:
        part(0, 0, x_shape[0])
    else:
        parallel.split(part, [(lo, hi) for _, lo, hi in chunks])
    gw = None
    if need_w:
        du = partial[0]
        for p in partial[1:]:
            du += p
        gw = W.weight_grad(plan, du)
    return gx, gw


def in_range(saved: tuple, grad_out: np.ndarray, x: np.ndarray) -> bool:
    """Whether backward may run on Winograd for this upstream gradient: finite, and not huge next
    to the transformed kernel or the input (:func:`cnnkit.backend.winograd.in_range`)."""
    u = saved[1]
    return W.in_range(grad_out, (u, x), u.shape[0] * max(u.shape[1], grad_out.shape[0]))


def release(saved: tuple) -> None:
    """Give the kept tile buffers back to the pool."""
    for item in saved[2]:
        if item is not None and item[0] is not None:
            fastpath.give(item[0])
