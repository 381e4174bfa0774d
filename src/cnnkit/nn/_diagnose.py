"""Explain a shape error inside a Sequential: the shapes seen so far and the likely cause.

When a Linear after a Flatten gets the wrong number of features, the usual cause is an image
size the model was not built for. The flattened size of a conv/pool stack never shrinks as the
image grows, so a binary search over square sizes (batch of one, no graph) finds the size the
model expects, which the message then states.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from cnnkit.autograd.grad_mode import no_grad


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def _features_for(prefix: list, channels: int, size: int, dtype: Any) -> Optional[int]:
    from cnnkit.nn._fit import probing
    from cnnkit.tensor import Tensor

    x = Tensor(np.zeros((1, channels, size, size), dtype=dtype))
    modes = [(m, m.training) for module in prefix for m in module.modules()]
    try:
        # Eval mode: trial passes must not move BatchNorm statistics or consume dropout randomness.
        for m, _ in modes:
            object.__setattr__(m, "training", False)
        with no_grad(), probing():
            for module in prefix:
                x = module(x)
    except (ValueError, IndexError, TypeError):
        return None
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return x.size if x.ndim else None


def _expected_image_size(prefix: list, channels: int, want: int, got_size: int, dtype: Any) -> Optional[int]:
    low, high = 1, max(4 * got_size, 64)
    while low < high:  # smallest size whose flattened features reach ``want``
        mid = (low + high) // 2
        features = _features_for(prefix, channels, mid, dtype)
        if features is None or features < want:
            low = mid + 1
        else:
            high = mid
    return low if _features_for(prefix, channels, low, dtype) == want else None


def explain(modules: list, index: int, trace: list, error: Exception) -> str:
    """Build the message for ``error`` raised by ``modules[index]``, given the shapes in ``trace``.

    ``trace`` holds the input shape of every module up to and including the failing one.
    """
    from cnnkit.nn.container import Flatten
    from cnnkit.nn.linear import Linear

    failing = modules[index]
    lines = [str(error), "", "Shapes through the Sequential:"]
    for i, shape in enumerate(trace):
        marker = "  <-- fails here" if i == index else ""
        lines.append(f"  ({i}) {type(modules[i]).__name__:<12} input {_fmt(shape)}{marker}")
    model_input = trace[0]
    previous = index - 1
    while previous > 0 and trace[previous] == trace[previous + 1]:
        previous -= 1  # skip shape-preserving layers (Dropout, activations) between Flatten and Linear
    if (isinstance(failing, Linear) and failing.in_features and previous >= 0
            and isinstance(modules[previous], Flatten) and len(trace[previous]) == 4 and len(model_input) == 4):
        got = trace[index][-1]
        factors = "×".join(str(n) for n in trace[previous][1:])
        lines.append("")
        lines.append(f"{failing._describe()} received {got} features (= {factors}) from Flatten.")
        size = _expected_image_size(modules[:index], model_input[1], failing.in_features, model_input[-1],
                                    failing.weight.dtype)
        h, w = model_input[2], model_input[3]
        if size is not None and size != h:
            lines.append(f"This model was sized for {size}×{size} inputs, it got {h}×{w}: resize the images, "
                         f"or set in_features={got} (or None, to infer it) in that Linear.")
        else:
            lines.append(f"Set in_features={got} (or None, to infer it), or check the layers before the Flatten.")
    return "\n".join(lines)
