"""Images from arrays: tile a stack of maps or filters into one grid, encode it as PNG / data URI.

These are the building blocks of the plots (:mod:`cnnkit.viz.plots`) and of the HTML inspector:
:func:`tile` returns a plain float array (2-D grayscale or ``H x W x 3`` RGB) so the same grid can
go to matplotlib, to a PNG file, or inline into HTML via :func:`png_data_uri`.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any, Optional

import numpy as np

from cnnkit.viz._deps import require_pil, to_array

_NORMALIZE = ("each", "all", None)


def _unit_range(values: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1]; a constant block maps to 0 (nothing to contrast)."""
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.zeros_like(values)
    return (values - low) / (high - low)


def tile(array: Any, ncols: Optional[int] = None, pad: int = 1, normalize: Optional[str] = "each",
         pad_value: Optional[float] = None) -> np.ndarray:
    """Lay a stack of 2-D maps or filters out as one grid image.

    Args:
        array: ``(H, W)`` (one tile), ``(N, H, W)`` (N grayscale tiles) or ``(N, C, H, W)``: with
            ``C == 3`` each item is one RGB tile, otherwise every channel of every item is its own
            grayscale tile (item-major: item 0's channels first). NumPy array or cnnkit Tensor.
        ncols: tiles per row; default ``ceil(sqrt(number of tiles))``.
        pad: pixels of gap between tiles (not around the border).
        normalize: ``'each'`` min-max scales every tile to [0, 1] on its own (an RGB tile over its
            three channels together, so colours keep their balance); ``'all'`` scales the whole stack
            with one min and max (tiles stay comparable); ``None`` keeps the values. A constant tile
            (or stack) becomes 0.
        pad_value: value of the gap pixels; default the maximum of the tiled values (white in a
            gray colormap), so tiles stand apart.

    Returns:
        A float64 array ``(rows*H + (rows-1)*pad, ncols*W + (ncols-1)*pad)``, with a trailing
        axis of 3 for RGB. Tile ``k`` sits at row ``k // ncols``, column ``k % ncols``; unused
        cells of the last row are filled with ``pad_value``.

    Shape:
        ``(N, H, W)`` or ``(N, C, H, W)`` -> ``(rows*H + (rows-1)*pad, ncols*W + (ncols-1)*pad[, 3])``.

    Example:
        >>> import numpy as np
        >>> grid = tile(np.arange(8.0).reshape(2, 2, 2), pad=1, normalize=None, pad_value=-1)
        >>> grid
        array([[ 0.,  1., -1.,  4.,  5.],
               [ 2.,  3., -1.,  6.,  7.]])
    """
    data = to_array(array, "tile()", "array")
    if normalize not in _NORMALIZE:
        raise ValueError(f"tile(): normalize must be 'each', 'all' or None, got {normalize!r}")
    if not isinstance(pad, (int, np.integer)) or pad < 0:
        raise ValueError(f"tile(): pad must be an integer >= 0, got {pad!r}")
    if ncols is not None and (not isinstance(ncols, (int, np.integer)) or ncols < 1):
        raise ValueError(f"tile(): ncols must be a positive integer or None, got {ncols!r}")
    if data.ndim == 2:
        data = data[None]
    if data.ndim == 3:
        tiles, rgb = data, False
    elif data.ndim == 4:
        rgb = data.shape[1] == 3
        # RGB tiles move the channel axis last; other channel counts become separate tiles
        tiles = data.transpose(0, 2, 3, 1) if rgb else data.reshape(-1, *data.shape[2:])
    else:
        raise ValueError(f"tile(): array must be (H, W), (N, H, W) or (N, C, H, W), got shape "
                         f"{data.shape}")
    if tiles.shape[0] == 0 or tiles.shape[1] == 0 or tiles.shape[2] == 0:
        raise ValueError(f"tile(): nothing to tile: array of shape {data.shape} is empty")
    if not np.all(np.isfinite(tiles)):
        raise ValueError("tile(): array contains NaN or infinite values; a trained model with NaN "
                         "weights or activations cannot be drawn (check the training loss)")
    if normalize == "each":
        tiles = np.stack([_unit_range(t) for t in tiles])
    elif normalize == "all":
        tiles = _unit_range(tiles)
    n, h, w = tiles.shape[:3]
    cols = int(ncols) if ncols is not None else math.ceil(math.sqrt(n))
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fill = float(tiles.max()) if pad_value is None else float(pad_value)
    shape = (rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad) + ((3,) if rgb else ())
    grid = np.full(shape, fill, dtype=np.float64)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[k]
    return grid


def _to_uint8(image: np.ndarray, cmap: str, vmin: Optional[float], vmax: Optional[float]) -> np.ndarray:
    """Map a 2-D image through ``cmap`` (or an RGB image directly) to uint8 pixels."""
    if image.ndim == 3:
        low = 0.0 if vmin is None else float(vmin)
        high = 1.0 if vmax is None else float(vmax)
        scaled = np.clip((image - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(image)
        return np.round(scaled * 255).astype(np.uint8)
    low = float(image.min()) if vmin is None else float(vmin)
    high = float(image.max()) if vmax is None else float(vmax)
    scaled = np.clip((image - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(image)
    if cmap in ("gray", "grey", "Greys_r"):
        return np.round(scaled * 255).astype(np.uint8)
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(f"to_png_bytes(): cmap={cmap!r} needs matplotlib (only 'gray' works with "
                          f'Pillow alone); install the viz extra: pip install "cnnkit[viz]"') from error
    try:
        colormap = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(f"to_png_bytes(): unknown colormap {cmap!r}; use a matplotlib colormap name "
                         f"such as 'gray', 'viridis', 'RdBu_r' or 'magma'") from None
    return np.round(colormap(scaled)[..., :3] * 255).astype(np.uint8)


def to_png_bytes(image: Any, cmap: str = "gray", scale: Optional[int] = None,
                 vmin: Optional[float] = None, vmax: Optional[float] = None) -> bytes:
    """Encode a 2-D (grayscale, through ``cmap``) or ``H x W x 3`` RGB image as PNG bytes.

    Args:
        image: 2-D array (mapped through ``cmap``) or ``(H, W, 3)`` RGB with values in
            [``vmin``, ``vmax``] (default [0, 1], clipped), e.g. the output of :func:`tile`.
        cmap: matplotlib colormap name for 2-D images; ``'gray'`` needs only Pillow.
        scale: integer nearest-neighbour upscaling factor (every pixel becomes a ``scale x scale``
            block), so a 5x5 filter stays crisp instead of blurred; None means 1.
        vmin, vmax: value range mapped to the ends of the colormap; default the image's own
            min and max for 2-D images, and 0 and 1 for RGB.

    Returns:
        The PNG file contents, ``H*scale x W*scale`` pixels (RGB, or 8-bit gray for ``'gray'``).

    Example:
        >>> import numpy as np
        >>> to_png_bytes(np.eye(3), scale=4)[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    data = to_array(image, "to_png_bytes()", "image")
    if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] == 3)):
        raise ValueError(f"to_png_bytes(): image must be 2-D (H, W) or RGB (H, W, 3), got shape "
                         f"{data.shape}; use cnnkit.viz.tile() to lay out a stack of maps first")
    if data.size == 0:
        raise ValueError(f"to_png_bytes(): image of shape {data.shape} is empty")
    if not np.all(np.isfinite(data)):
        raise ValueError("to_png_bytes(): image contains NaN or infinite values")
    factor = 1 if scale is None else scale
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"to_png_bytes(): scale must be a positive integer or None, got {scale!r}")
    Image = require_pil("to_png_bytes()")
    pixels = _to_uint8(data, cmap, vmin, vmax)
    if factor > 1:
        pixels = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_uri(image: Any, cmap: str = "gray", scale: Optional[int] = None,
                 vmin: Optional[float] = None, vmax: Optional[float] = None) -> str:
    """The image as a ``data:image/png;base64,...`` URI, for an ``<img src=...>`` in HTML.

    Args and pixels as in :func:`to_png_bytes`.

    Example:
        >>> import numpy as np
        >>> png_data_uri(np.zeros((2, 2))).startswith("data:image/png;base64,")
        True
    """
    payload = base64.b64encode(to_png_bytes(image, cmap=cmap, scale=scale, vmin=vmin, vmax=vmax))
    return "data:image/png;base64," + payload.decode("ascii")
