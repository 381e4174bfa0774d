"""Lazy imports of the optional plotting libraries (the ``viz`` extra).

``import cnnkit`` must work without matplotlib or Pillow, so every function that needs one asks
here at call time; a missing library raises an ImportError that names the install command.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

_HINT = 'install the viz extra: pip install "cnnkit[viz]"'


def require_pil(caller: str) -> ModuleType:
    """Return ``PIL.Image`` or raise an ImportError naming ``caller`` and the install command."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(f"{caller} needs Pillow, which is not installed; {_HINT}") from error
    return Image


def require_matplotlib(caller: str) -> ModuleType:
    """Return ``matplotlib`` or raise an ImportError naming ``caller`` and the install command.

    pyplot is never imported and no backend is selected: the user's own pyplot (an interactive
    window, a notebook) keeps whatever backend it has or gets later.
    """
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(f"{caller} needs matplotlib, which is not installed; {_HINT}") from error
    return matplotlib


def new_figure(caller: str, figsize: tuple, dpi: int, layout: Any = None) -> Any:
    """A matplotlib Figure that is not registered with pyplot (so it is never shown or leaked).

    Figures built with ``matplotlib.figure.Figure`` directly are garbage-collected like any
    object, unlike ``plt.figure()`` ones, which pyplot keeps until closed; ``savefig`` draws them
    through matplotlib's Agg renderer whatever backend pyplot uses, so no display is needed.
    """
    require_matplotlib(caller)
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, dpi=dpi, layout=layout)


def save_figure(fig: Any, path: Any) -> None:
    """Write ``fig`` as a PNG at ``path`` (creating the parent directory), at the figure's own dpi.

    No ``bbox_inches='tight'``: the pixel size stays exactly ``figsize * dpi``.
    """
    import os
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fig.savefig(path, format="png", dpi=fig.dpi)


def to_array(value: Any, caller: str, what: str = "input") -> np.ndarray:
    """A float64 NumPy copy of an array-like or cnnkit Tensor (detached), with a clear error."""
    data = getattr(value, "data", value) if hasattr(value, "requires_grad") else value
    try:
        array = np.array(data, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{caller}: {what} must be a NumPy array or cnnkit Tensor of numbers, "
                        f"got {type(value).__name__} ({error})") from None
    return array
