"""Empirical receptive fields: which input pixels receive gradient from one output unit.

The check runs on a copy of the model in which every path that *can* carry influence does: conv
weights become positive averages, biases zero, every pooling window becomes an all-ones
depthwise convolution (max pooling would route the gradient to one winner), and the input is a
constant 0.5 so no activation saturates.
"""

from __future__ import annotations

import copy
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.functional.conv import conv_nd
from cnnkit.nn.conv import _ConvNd
from cnnkit.nn.module import Module
from cnnkit.nn.adaptive_pooling import _AdaptivePool, _GlobalPool
from cnnkit.nn.pooling import _WindowPool
from cnnkit.tensor import Tensor


class _OnesWindow(Module):
    """Sum over the same windows as a pooling layer (every cell of a window influences its output)."""

    def __init__(self, pool: Module) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: Tensor) -> Tensor:
        nd = x.ndim - 2
        channels = x.shape[1]
        if isinstance(self.pool, _WindowPool):
            kernel, stride, padding, dilation = (self.pool.kernel_size, self.pool.stride, self.pool.padding,
                                                 self.pool.dilation)
        else:  # global or adaptive pooling: one window over the whole map (what it sees, at most)
            kernel, stride, padding, dilation = x.shape[2:], x.shape[2:], 0, 1
        weight = Tensor(np.ones((channels, 1, *kernel), dtype=x.dtype) / np.prod(kernel))
        return conv_nd(nd, x, weight, None, stride, padding, dilation, channels) if nd in (1, 2, 3) else x


def _positive_copy(module: Module) -> Module:
    clone = copy.deepcopy(module).eval()
    for _, parent in list(clone.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, (_WindowPool, _GlobalPool, _AdaptivePool)):
                setattr(parent, name, _OnesWindow(child))
    from cnnkit.nn.normalization import _BatchNorm

    for m in clone.modules():
        if isinstance(m, _BatchNorm):  # the identity: a negative scale or shift could zero a ReLU after it
            m.reset_parameters()
        if isinstance(m, _ConvNd):
            m.weight.data = np.full_like(m.weight.data, 1.0 / max(m.weight[0].size, 1))
            if m.bias is not None:
                m.bias.data = np.zeros_like(m.bias.data)
    return clone


def empirical_extents(module: Module, input_shape: Sequence[int], layers: list) -> list:
    """For each ``(record, (size, jump, start))``, the measured per-axis extent, or None.

    None means no output unit's closed-form field lies inside the input, so nothing can be checked.
    """
    clone = _positive_copy(module)
    names = [record.name for record, _ in layers]
    outputs: dict = {}

    def hook(layer: Module, args: tuple, out: Any) -> None:
        outputs.setdefault(id(layer), out)

    by_name = dict(clone.named_modules())
    handles = []
    for name in names:
        target = by_name.get(name)
        if target is not None:
            handles.append(target.register_forward_hook(hook))
    x = Tensor(np.full((1,) + tuple(input_shape), 0.5, dtype=np.float64), requires_grad=True)
    clone.double()
    from cnnkit.nn._fit import probing

    try:
        with probing():
            clone(x)
    finally:
        for h in handles:
            h.remove()
    spatial_in = tuple(input_shape[1:])
    extents: list = []
    for (record, (size, jump, start)), name in zip(layers, names):
        out = outputs.get(id(by_name.get(name)))
        extents.append(None if out is None else _measure(out, x, spatial_in, size, jump, start))
    return extents


def _measure(out: Tensor, x: Tensor, spatial_in: tuple, size: tuple, jump: tuple, start: tuple) -> Optional[tuple]:
    unit = []
    for n_out, n_in, s, j, c in zip(out.shape[2:], spatial_in, size, jump, start):
        # The centre unit, or the nearest one whose whole field lies inside the input.
        candidates = sorted(range(n_out), key=lambda u: abs(u - n_out // 2))
        inside = [u for u in candidates if c + u * j - (s - 1) / 2 >= 0 and c + u * j + (s - 1) / 2 <= n_in - 1]
        if not inside:
            return None
        unit.append(inside[0])
    grad = np.zeros(out.shape)
    grad[(0, 0) + tuple(unit)] = 1.0
    x.grad = None
    out.backward(grad, retain_graph=True)
    lit = np.abs(x.grad.data[0]).sum(axis=0) > 0
    extent = []
    for axis in range(lit.ndim):
        hits = np.nonzero(lit.any(axis=tuple(a for a in range(lit.ndim) if a != axis)))[0]
        extent.append(int(hits[-1] - hits[0] + 1) if hits.size else 0)
    return tuple(extent)
