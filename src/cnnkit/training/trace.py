"""Run a model once on zeros and record what every leaf layer did: the basis of summaries and sizing.

Each record holds the layer, its dotted name, input and output shapes (batch excluded), its
window geometry (for conv and pooling layers) and its parameter and multiply-add counts. The
trial pass runs in eval mode without a graph, and leaves the model exactly as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from cnnkit import random as _random
from cnnkit.autograd.grad_mode import no_grad
from cnnkit.nn.conv import _ConvNd
from cnnkit.nn.linear import Linear
from cnnkit.nn.module import Module
from cnnkit.nn.adaptive_pooling import _AdaptivePool, _GlobalPool
from cnnkit.nn.pooling import _WindowPool
from cnnkit.tensor import Tensor


@dataclass
class LayerRecord:
    """One leaf layer's call during the trial pass."""

    name: str
    module: Module
    input_shape: tuple
    output_shape: tuple
    kernel: Optional[tuple] = None      # effective (dilated) window per spatial axis
    stride: Optional[tuple] = None
    padding: Optional[tuple] = None     # total padding per spatial axis
    params: int = 0
    trainable: int = 0
    macs: int = 0
    bias_macs: int = 0
    formula: str = "0"
    fits: bool = True
    extra: dict = field(default_factory=dict)


def _window(record: LayerRecord) -> None:
    """Fill the window geometry of conv and pooling layers."""
    m, spatial_in = record.module, record.input_shape[1:]
    if isinstance(m, _ConvNd):
        from cnnkit.functional.conv import resolve_padding

        pads = resolve_padding(m.padding, spatial_in, m.kernel_size, m.stride, m.dilation, repr(m))
        record.kernel = tuple(d * (k - 1) + 1 for k, d in zip(m.kernel_size, m.dilation))
        record.stride, record.padding = tuple(m.stride), tuple(lo + hi for lo, hi in pads)
    elif isinstance(m, _WindowPool):
        record.kernel = tuple(d * (k - 1) + 1 for k, d in zip(m.kernel_size, m.dilation))
        record.stride, record.padding = tuple(m.stride), tuple(2 * p for p in m.padding)
    elif isinstance(m, (_GlobalPool, _AdaptivePool)) and len(spatial_in) >= 1:
        spatial_out = record.output_shape[1:] if len(record.output_shape) > 1 else (1,) * len(spatial_in)
        spatial_out = spatial_out if len(spatial_out) == len(spatial_in) else (1,) * len(spatial_in)
        # An adaptive window spans at most ceil(In/Out) cells, stepping by about In/Out.
        record.kernel = tuple(-(-n // o) for n, o in zip(spatial_in, spatial_out))
        record.stride = tuple(max(n // o, 1) for n, o in zip(spatial_in, spatial_out))
        record.padding = (0,) * len(spatial_in)
    if record.kernel is not None and not isinstance(m, (_GlobalPool, _AdaptivePool)):
        ceil_mode = getattr(m, "ceil_mode", False)
        record.fits = ceil_mode or all((n + p - k) % s == 0 for n, p, k, s in
                                       zip(spatial_in, record.padding, record.kernel, record.stride))


def _counts(record: LayerRecord) -> None:
    """Parameters, the slides' weight formula and multiply-adds (weights only, per sample)."""
    m = record.module
    params = [p for p in m.parameters(recurse=False)]
    record.params = sum(p.size for p in params)
    record.trainable = sum(p.size for p in params if p.requires_grad)
    outputs = int(np.prod(record.output_shape))
    if isinstance(m, _ConvNd):
        per_output = m.weight.shape[1] * int(np.prod(m.kernel_size))
        dims = " × ".join(str(n) for n in (m.weight.shape[1], *m.kernel_size))
        record.formula = f"{m.out_channels} × ({dims}{' + 1' if m.bias is not None else ''})"
        record.macs = outputs * per_output
        record.bias_macs = outputs if m.bias is not None else 0
    elif isinstance(m, Linear):
        record.formula = f"{m.out_features} × ({m.in_features}{' + 1' if m.bias is not None else ''})"
        record.macs = outputs * m.in_features
        record.bias_macs = outputs if m.bias is not None else 0
    elif record.params:
        record.formula = " + ".join(f"{p.size}" for p in params)


def trace(module: Module, input_shape: Sequence[int], dtype: Any = np.float32) -> list:
    """Run ``module`` on one zero sample of ``input_shape`` (no batch dim) and record each leaf layer.

    Lazy layers get built (as Keras builds a model on its first call); nothing else changes, the
    random stream included.

    Raises:
        ValueError: when the model cannot run on that shape (the model's own error is chained).
    """
    from cnnkit.nn._fit import probing

    input_shape = tuple(int(n) for n in input_shape)
    names = {id(m): name for name, m in module.named_modules()}
    records: list = []

    def hook(layer: Module, args: tuple, out: Any) -> None:
        x = args[0] if args else None
        record = LayerRecord(name=names.get(id(layer), type(layer).__name__), module=layer,
                             input_shape=tuple(getattr(x, "shape", ())[1:]),
                             output_shape=tuple(getattr(out, "shape", ())[1:]))
        _window(record)
        _counts(record)
        records.append(record)

    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    modes = [(m, m.training) for m in module.modules()]
    rng_state = _random.get_rng_state()  # lazy layers built here must not shift the user's random stream
    try:
        for m, _ in modes:
            object.__setattr__(m, "training", False)
        with no_grad(), probing():
            module(Tensor(np.zeros((1,) + input_shape, dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
        _random.set_rng_state(rng_state)
    return records


def receptive_fields(records: list) -> list:
    """Closed form per layer: ``RF_L = RF_{L−1} + (K_L − 1)·jump_{L−1}``, ``jump_L = jump_{L−1}·S_L``.

    Returns ``(size, jump, start)`` per record, each a per-axis tuple, or None once the output
    has no spatial dims (after Flatten). ``start`` is the input coordinate of the centre of
    output unit 0's field, used to check the closed form empirically.
    """
    out: list = []
    if not records:
        return out
    nd = max(len(records[0].input_shape) - 1, 0)
    size, jump, start = (1,) * nd, (1,) * nd, (0.0,) * nd
    spatial = True
    for record in records:
        if not spatial or len(record.output_shape) != nd + 1 or nd == 0:
            spatial = False
            out.append(None)
            continue
        if record.kernel is not None:
            start = tuple(s + ((k - 1) / 2 - p / 2) * j for s, k, p, j in zip(start, record.kernel, record.padding, jump))
            size = tuple(r + (k - 1) * j for r, k, j in zip(size, record.kernel, jump))
            jump = tuple(j * st for j, st in zip(jump, record.stride))
        out.append((size, jump, start))
    return out


def flat(value: tuple) -> Any:
    """A per-axis tuple shown as one number when all axes agree."""
    return value[0] if len(set(value)) == 1 else value


def prod(shape: Sequence[int]) -> int:
    return int(math.prod(shape))
