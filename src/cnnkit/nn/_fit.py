"""Warnings (or errors, in strict mode) when a window does not tile its padded input exactly.

The slides' example: a 7×7 input with a 3×3 filter at stride 3 gives (7 − 3 + 0)/3 + 1 = 2.33,
so the last column and row are silently ignored. Every conv/pool layer calls :func:`check_fit`.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator, Optional

from cnnkit.autograd.function import user_stacklevel

_strict = {"value": False, "probing": False}


def set_strict_shapes(strict: bool) -> None:
    """Make every conv/pool layer raise (instead of warn) when ``(W − K + 2P)`` is not divisible by ``S``.

    By default (strict off) a layer whose windows do not tile its input warns once, naming the
    ignored rows/columns and fixes; PyTorch silently drops them. A layer's own ``strict=True``
    argument turns this on for that layer only. A cnnkit extra.

    Args:
        strict: True to raise ``ValueError``, False (the initial state) to warn.

    Example:
        >>> import cnnkit
        >>> cnnkit.set_strict_shapes(True)
        >>> cnnkit.set_strict_shapes(False)
    """
    _strict["value"] = bool(strict)


def strict_shapes() -> bool:
    """Whether :func:`set_strict_shapes` turned strict mode on."""
    return _strict["value"]


@contextlib.contextmanager
def probing() -> Iterator[None]:
    """Skip fit checks while cnnkit itself runs trial forwards (e.g. to explain an error)."""
    previous = _strict["probing"]
    _strict["probing"] = True
    try:
        yield
    finally:
        _strict["probing"] = previous


def _suggest(size: int, extent: int, pad: int, stride: int, max_padding: Optional[int]) -> str:
    """Fixes that make the windows tile: a padding, a stride, and the layer-specific option."""
    fixes = []
    for p in range(pad, pad + stride + 1):
        if max_padding is not None and p > max_padding:
            break
        if (size - extent + 2 * p) % stride == 0:
            fixes.append(f"padding={p}")
            break
    for s in range(stride - 1, 1, -1):
        if (size - extent + 2 * pad) % s == 0:
            fixes.append(f"stride={s}")
            break
    # Pooling can keep the partial last window; a convolution can pad to ceil(size / stride).
    fixes.append("ceil_mode=True" if max_padding is not None else "padding='same'")
    crop = (size - extent + 2 * pad) % stride
    fixes.append(f"an input {crop} smaller (or {stride - crop} larger)")
    return ", ".join(fixes[:-1]) + " or " + fixes[-1]


def check_fit(layer: Any, spatial: tuple, kernel: tuple, stride: tuple, padding: tuple,
              dilation: tuple, max_padding: Optional[tuple] = None) -> None:
    """Warn once per layer (or raise in strict mode) about sizes that do not fit exactly.

    ``padding`` holds ``(before, after)`` pairs; asymmetric ('same') padding always fits.
    ``max_padding`` (per axis) limits the suggested padding (pooling allows at most half the
    window). Windows larger than the padded input are left to the layer's own error.
    """
    if _strict["probing"]:
        return
    for axis, (n, k, s, (lo, hi), d) in enumerate(zip(spatial, kernel, stride, padding, dilation)):
        extent = d * (k - 1) + 1
        if n + lo + hi < extent:
            return  # the window does not fit at all: the op raises a clearer error
        remainder = (n - extent + lo + hi) % s
        if remainder == 0 or lo != hi:
            continue
        message = (
            f"{layer!r}: along spatial dim {axis} the windows do not tile the input: "
            f"(W − K + 2P) / S + 1 = ({n} − {extent} + 2·{lo}) / {s} + 1 = "
            f"{(n - extent + 2 * lo) / s + 1:.2f}, so the last {remainder} row(s)/column(s) are "
            f"ignored. Use {_suggest(n, extent, lo, s, None if max_padding is None else max_padding[axis])} "
            "to fit exactly."
        )
        if getattr(layer, "strict", False) or strict_shapes():
            raise ValueError(message)
        if not getattr(layer, "_fit_warned", False):
            object.__setattr__(layer, "_fit_warned", True)
            warnings.warn(message, UserWarning, stacklevel=user_stacklevel())
        return
