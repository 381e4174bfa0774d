"""The slides' fourteen activation functions beside their derivatives, taken by cnnkit autograd.

The derivative curves are not formulas: each function runs forward on a grid of points that
requires grad and ``y.sum().backward()`` leaves ``f'(x)`` in ``x.grad`` (each output depends only
on its own input, so the gradient of the sum is the elementwise derivative). At a kink the value
shown is the one the op's backward defines (e.g. ReLU's derivative at 0 is 0).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from cnnkit.autograd.grad_mode import enable_grad
from cnnkit.tensor import Tensor
from cnnkit.viz._deps import new_figure, save_figure

# Parameters for the learnable / random ones, shown in the panel titles.
PRELU_SLOPE = 0.25                       # PyTorch's initial PReLU slope
RRELU_BOUNDS = (1.0 / 8, 1.0 / 3)         # evaluation mode: the mean slope (lower + upper) / 2
SRELU_PARAMS = (-1.0, 0.2, 1.0, 0.5)     # t_left, a_left, t_right, a_right
APL_PARAMS = ((0.5, -0.3), (0.0, -2.0))  # hinge slopes a_s and positions b_s, S = 2


def _spec() -> list:
    """``(name, label, fn-or-None)`` for the slides' fourteen, in the slides' order.

    A function cnnkit lacks resolves to None, so the figure can say so instead of failing.
    """
    from cnnkit import functional as F

    def get(attr: str) -> Optional[Callable]:
        return getattr(F, attr, None)

    def bound(attr: str, *args: Any, **kwargs: Any) -> Optional[Callable]:
        fn = get(attr)
        return None if fn is None else (lambda x: fn(x, *args, **kwargs))

    def shared(*values: float) -> list:
        return [Tensor(np.array([v])) for v in values]

    a, b = (Tensor(np.array(v)[:, None]) for v in APL_PARAMS)
    t_l, a_l, t_r, a_r = SRELU_PARAMS
    return [
        ("Identity", "x", lambda x: x * 1.0),
        ("Sigmoid", "1 / (1 + e^-x)", get("sigmoid")),
        ("Tanh", "tanh x", get("tanh")),
        ("ReLU", "max(0, x)", get("relu")),
        ("Leaky ReLU", "0.01x for x < 0", bound("leaky_relu", 0.01)),
        ("PReLU", f"a = {PRELU_SLOPE}", bound("prelu", *shared(PRELU_SLOPE))),
        ("RReLU (eval)", f"a = ({RRELU_BOUNDS[0]:.3g} + {RRELU_BOUNDS[1]:.3g}) / 2",
         bound("rrelu", *RRELU_BOUNDS, training=False)),
        ("ELU", "α = 1", bound("elu", 1.0)),
        ("SELU", "λ = 1.0507, α = 1.67326", get("selu")),
        ("SReLU", f"t_l={t_l}, a_l={a_l}, t_r={t_r}, a_r={a_r}", bound("srelu", *shared(t_l, a_l, t_r, a_r))),
        ("ISRLU", "α = 1", bound("isrlu", 1.0)),
        ("APL", f"a = {APL_PARAMS[0]}, b = {APL_PARAMS[1]}", bound("apl", a, b)),
        ("SoftPlus", "ln(1 + e^x)", get("softplus")),
        ("Bent identity", "(√(x²+1) − 1)/2 + x", get("bent_identity")),
    ]


def activation_curves(x: Any) -> dict:
    """``{name: (f(x), f'(x))}`` for the slides' fourteen activations, derivatives by autograd.

    Functions missing from cnnkit map to None.

    Args:
        x: 1-D points (array-like), evaluated in float64.

    Example:
        >>> y, dy = activation_curves([-1.0, 2.0])["ReLU"]
        >>> y.tolist(), dy.tolist()
        ([0.0, 2.0], [0.0, 1.0])
    """
    points = np.asarray(x, dtype=np.float64).reshape(-1)
    curves: dict = {}
    for name, _, fn in _spec():
        if fn is None:
            curves[name] = None
            continue
        t = Tensor(points.copy(), requires_grad=True)
        with enable_grad():
            y = fn(t)
            y.sum().backward()
        curves[name] = (np.array(y.data, dtype=np.float64), np.array(t.grad.data, dtype=np.float64))
    return curves


def plot_activation_functions(path: Any = None, x_range: tuple = (-4.0, 4.0), num: int = 801,
                              figsize: tuple = (14.0, 12.0), dpi: int = 100) -> Any:
    """A 4x4 grid: each of the slides' fourteen activations (solid) and its autograd derivative (dashed).

    Args:
        path: write the figure here as PNG (optional).
        x_range: the plotted interval; num: the number of points.
        figsize, dpi: figure size in inches and resolution.

    Example:
        >>> fig = plot_activation_functions()
        >>> [ax.get_title().split(":")[0] for ax in fig.axes][:4]
        ['Identity', 'Sigmoid', 'Tanh', 'ReLU']
    """
    low, high = float(x_range[0]), float(x_range[1])
    if not (math.isfinite(low) and math.isfinite(high) and low < high) or num < 2:
        raise ValueError(f"plot_activation_functions(): need a finite x_range (low, high) with low < high and "
                         f"num >= 2, got x_range={x_range}, num={num}")
    x = np.linspace(low, high, int(num))
    spec = _spec()
    curves = activation_curves(x)
    fig = new_figure("plot_activation_functions()", figsize, dpi)
    missing = [name for name, _, fn in spec if fn is None]
    for i, (name, label, _) in enumerate(spec):
        ax = fig.add_subplot(4, 4, i + 1)
        ax.axhline(0, color="0.75", linewidth=0.8)
        ax.axvline(0, color="0.75", linewidth=0.8)
        if curves[name] is None:
            ax.text(0.5, 0.5, "not in cnnkit", ha="center", va="center", transform=ax.transAxes, color="red")
        else:
            y, dy = curves[name]
            ax.plot(x, y, "-", color="tab:blue", label="f(x)")
            ax.plot(x, dy, "--", color="tab:orange", label="f'(x) (autograd)")
        ax.set_title(f"{name}: {label}", fontsize=9)
        ax.set_xlim(low, high)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    legend = fig.add_subplot(4, 4, 15)
    legend.set_axis_off()
    legend.plot([], [], "-", color="tab:blue", label="f(x)")
    legend.plot([], [], "--", color="tab:orange", label="f'(x), by cnnkit autograd")
    legend.legend(loc="center", fontsize=10)
    note = fig.add_subplot(4, 4, 16)
    note.set_axis_off()
    text = ("missing from cnnkit, not plotted:\n" + "\n".join(missing)) if missing else \
        "all 14 activations of the slides\nare in cnnkit.functional"
    note.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="red" if missing else "black")
    # fixed margins instead of tight_layout(), which costs seconds on 16 panels
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.04, top=0.96, wspace=0.25, hspace=0.35)
    if path is not None:
        save_figure(fig, path)
    return fig
