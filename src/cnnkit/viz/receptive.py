"""Which input pixels one output unit sees: the empirical receptive field beside the closed form.

Method (gradient back-projection): the model runs on a random input that requires grad; a
one-hot gradient is placed on the chosen unit of ``layer``'s output (summed over channels, or one
channel) and back-propagated; ``|∂unit/∂input|`` is non-zero only inside the unit's receptive
field. The theoretical box (``RF_L = RF_{L−1} + (K_L − 1)·jump_{L−1}``, from
:func:`cnnkit.training.trace.receptive_fields`) is drawn over it.

Why a *random* input, averaged over a few draws: with a constant or natural image, ReLUs that are
off and max-pool windows (which pass the gradient to one winner) hide parts of the field; a fresh
random input switches different units on each draw, so the summed map fills the field. For a
linear stack of convolutions (no ReLU or max-pool) a single draw already lights exactly the
theoretical box; with nonlinearities the lit region can be smaller (the *effective* receptive
field), never larger. Weights are the model's own (trained or not); its parameters receive no
gradient, and training flags are restored afterwards.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from cnnkit.autograd.grad_mode import enable_grad
from cnnkit.tensor import Tensor
from cnnkit.viz._deps import new_figure, save_figure
from cnnkit.viz._layers import LayerRef, as_module, capture, eval_mode, param_dtype, resolve_layer


def _theoretical_box(module: Any, target: Any, input_shape: tuple, position: tuple) -> Optional[tuple]:
    """``(top, left, bottom, right)`` inclusive input rows/columns of the unit's closed-form field.

    Not clipped to the image (padding makes fields hang over the border). None when the layer's
    output has no spatial layout to speak of.
    """
    from cnnkit.training.trace import receptive_fields, trace

    records = trace(module, input_shape)
    fields = receptive_fields(records)
    inside = {id(m) for m in target.modules()}
    chosen = None
    for record, field in zip(records, fields):
        if id(record.module) in inside:
            chosen = field  # the last leaf of the layer (a block's output)
    if chosen is None:
        return None
    size, jump, start = chosen
    bounds = []
    for s, j, c, u in zip(size, jump, start, position):
        centre = c + u * j
        bounds.append((centre - (s - 1) / 2, centre + (s - 1) / 2))
    (top, bottom), (left, right) = bounds
    return (top, left, bottom, right)


def receptive_field_map(model: Any, input_shape: Sequence[int], layer: LayerRef, position: Sequence[int],
                        channel: Optional[int] = None, samples: int = 4, seed: int = 0) -> tuple:
    """The empirical receptive field of one output unit and its closed-form box.

    Args:
        model: a cnnkit Module or ``cnnkit.Model`` taking ``(N, C, H, W)`` inputs.
        input_shape: ``(C, H, W)`` of one input (no batch dim).
        layer: a submodule, an index into a Sequential, or a dotted name from ``named_modules()``.
        position: ``(row, col)`` of the unit in the layer's output map.
        channel: the output channel of the unit (default None: all channels at that position).
        samples: random standard-normal inputs whose ``|gradient|`` maps are summed.
        seed: seed of the NumPy generator drawing the inputs.

    Returns:
        ``(grad, box)``: ``grad`` is ``Σ_samples Σ_input-channels |∂unit/∂x|``, shape ``(H, W)``;
        ``box`` is ``(top, left, bottom, right)`` inclusive, unclipped (None when the layer has no
        closed-form field).

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(1, 1, 3), cnnkit.nn.Conv2d(1, 1, 3))
        >>> grad, box = receptive_field_map(net, (1, 9, 9), 1, (2, 2))
        >>> box, [int(v) for v in np.argwhere(grad > 0).min(0)], [int(v) for v in np.argwhere(grad > 0).max(0)]
        ((2.0, 2.0, 6.0, 6.0), [2, 2], [6, 6])
    """
    caller = "receptive_field_map()"
    module = as_module(model, caller)
    name, target = resolve_layer(module, layer, caller)
    shape = tuple(int(n) for n in input_shape)
    if len(shape) != 3:
        raise ValueError(f"{caller}: input_shape must be (C, H, W) of one input, got {tuple(input_shape)}")
    if int(samples) < 1:
        raise ValueError(f"{caller}: samples must be >= 1, got {samples}")
    rng = np.random.default_rng(seed)
    dtype = param_dtype(module)
    params = [(p, p.requires_grad) for p in module.parameters()]
    total = np.zeros(shape[1:])
    try:
        for p, _ in params:  # only the input needs a gradient; the model's .grad stays untouched
            p.requires_grad = False
        with eval_mode(module), enable_grad():
            for _ in range(int(samples)):
                x = Tensor(rng.standard_normal((1,) + shape).astype(dtype), requires_grad=True)
                out = capture(module, target, x, name, caller)
                seed_grad = _one_hot(out.shape, channel, position, name, caller)
                out.backward(seed_grad.astype(out.dtype))
                total += np.abs(np.asarray(x.grad.data, dtype=np.float64)[0]).sum(axis=0)
    finally:
        for p, flag in params:
            p.requires_grad = flag
    box = _theoretical_box(module, target, shape, tuple(int(p) for p in position))
    return total, box


def _one_hot(shape: tuple, channel: Optional[int], position: Sequence[int], name: str, caller: str) -> np.ndarray:
    if len(shape) != 4:
        raise ValueError(f"{caller}: layer {name!r} outputs shape {shape}; a receptive field needs a "
                         f"(N, C, H, W) feature map (pick a conv or pooling layer before Flatten)")
    pos = tuple(int(p) for p in position)
    if len(pos) != 2 or not all(0 <= p < n for p, n in zip(pos, shape[2:])):
        raise ValueError(f"{caller}: position {tuple(position)} is outside layer {name!r}'s output map of "
                         f"{shape[2]}×{shape[3]}; use (row, col) with 0 <= row < {shape[2]}, 0 <= col < {shape[3]}")
    grad = np.zeros(shape)
    if channel is None:
        grad[0, :, pos[0], pos[1]] = 1.0
    elif not 0 <= int(channel) < shape[1]:
        raise ValueError(f"{caller}: channel {channel} is out of range; layer {name!r} has {shape[1]} channels")
    else:
        grad[0, int(channel), pos[0], pos[1]] = 1.0
    return grad


def plot_receptive_field(model: Any, input_shape: Sequence[int], layer: LayerRef, position: Sequence[int],
                         path: Any = None, channel: Optional[int] = None, samples: int = 4, seed: int = 0,
                         cmap: str = "magma", figsize: tuple = (6.0, 6.0), dpi: int = 100) -> Any:
    """Show ``|gradient|`` of one output unit on the input, with the theoretical field boxed.

    Args and method as in :func:`receptive_field_map`; ``path`` writes a PNG; ``cmap``,
    ``figsize`` and ``dpi`` style the figure. The title gives the lit extent and the box size.

    Example:
        >>> import cnnkit
        >>> net = cnnkit.nn.Sequential(cnnkit.nn.Conv2d(1, 2, 5), cnnkit.nn.MaxPool2d(2))
        >>> fig = plot_receptive_field(net, (1, 16, 16), 1, (3, 3))
        >>> fig.axes[0].patches[0].get_width()
        6.0
    """
    grad, box = receptive_field_map(model, input_shape, layer, position, channel, samples, seed)
    from matplotlib.patches import Rectangle

    name, target = resolve_layer(as_module(model, "plot_receptive_field()"), layer, "plot_receptive_field()")
    fig = new_figure("plot_receptive_field()", figsize, dpi)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(grad, cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="Σ |∂unit/∂input|")
    lit = np.argwhere(grad > 0)
    extent = "nothing lit" if lit.size == 0 else \
        "lit {}×{}".format(*(lit.max(axis=0) - lit.min(axis=0) + 1))
    if box is not None:
        top, left, bottom, right = box
        # pixel (r, c) covers [c - 0.5, c + 0.5] on the axes, so the box edges sit half a pixel out
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor="cyan", linewidth=2, linestyle="--", label="theoretical field"))
        ax.legend(loc="upper right", fontsize=8)
        theory = f"theory {int(bottom - top + 1)}×{int(right - left + 1)}"
        h, w = grad.shape
        clipped = (int(min(bottom, h - 1) - max(top, 0) + 1), int(min(right, w - 1) - max(left, 0) + 1))
        if clipped != (int(bottom - top + 1), int(right - left + 1)):
            theory += f" ({clipped[0]}×{clipped[1]} inside the image, the rest is padding)"
    else:
        theory = "no closed-form field"
    ax.set_title(f"{name or 'output'} ({type(target).__name__}) unit {tuple(int(p) for p in position)}"
                 f"{'' if channel is None else f', channel {channel}'}: {extent}, {theory}", fontsize=9)
    ax.set_xlim(-0.5, grad.shape[1] - 0.5)
    ax.set_ylim(grad.shape[0] - 0.5, -0.5)
    if path is not None:
        save_figure(fig, path)
    return fig
