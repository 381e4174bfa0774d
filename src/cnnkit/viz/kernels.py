"""The kernel playground: the slides' classic 3x3 kernels applied to an image, both ways.

``apply_kernel`` uses :func:`cnnkit.functional.conv2d`, which (like every CNN library) computes
cross-correlation; the true, mathematical convolution is the same operation with the kernel
flipped in both axes. The slides' seven kernels are all symmetric under that flip, so for them
the two results agree; :data:`ASYMMETRIC_EXAMPLE` (a Sobel kernel, not from the slides) shows
where they differ.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

import numpy as np

from cnnkit.autograd.grad_mode import no_grad
from cnnkit.tensor import Tensor
from cnnkit.viz._deps import new_figure, require_pil, save_figure, to_array


def _frozen(rows: list, scale: float = 1.0) -> np.ndarray:
    kernel = np.array(rows, dtype=np.float64) * scale
    kernel.setflags(write=False)  # shared constants: a caller must not change them for everyone
    return kernel


#: The slides' "Convolution Recap" kernels, with the slides' exact values.
CLASSIC_KERNELS: Mapping[str, np.ndarray] = {
    "identity": _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "edge_diagonal": _frozen([[1, 0, -1], [0, 0, 0], [-1, 0, 1]]),
    "edge_laplacian_4": _frozen([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "edge_laplacian_8": _frozen([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
    "sharpen": _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "box_blur": _frozen([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 1 / 9),
    "gaussian_blur": _frozen([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16),
}

#: Not from the slides: a horizontal Sobel kernel, whose flip negates it (convolution = −correlation).
ASYMMETRIC_EXAMPLE = ("sobel_x (not in the slides)", _frozen([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))

_MODES = ("correlation", "convolution")


def _kernel_array(kernel: Union[str, Any]) -> np.ndarray:
    if isinstance(kernel, str):
        if kernel not in CLASSIC_KERNELS:
            raise ValueError(f"apply_kernel(): unknown kernel {kernel!r}; the classic kernels are "
                             f"{', '.join(CLASSIC_KERNELS)} (or pass a 2-D array)")
        return np.array(CLASSIC_KERNELS[kernel])
    array = to_array(kernel, "apply_kernel()", "kernel")
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"apply_kernel(): kernel must be a non-empty 2-D array (kH, kW), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("apply_kernel(): kernel contains NaN or infinite values")
    return array


def apply_kernel(image: Any, kernel: Union[str, Any], mode: str = "correlation",
                 padding: str = "same") -> np.ndarray:
    """Filter a grayscale image with one kernel, by cross-correlation or by true convolution.

    Args:
        image: 2-D ``(H, W)`` array or Tensor (convert colour images to grayscale first, e.g.
            with :func:`load_image`).
        kernel: a 2-D array ``(kH, kW)`` or a name from :data:`CLASSIC_KERNELS`.
        mode: ``'correlation'`` (what ``conv2d`` and CNN layers compute:
            ``out[i, j] = Σ_{u,v} k[u, v] · x[i + u − a, j + v − b]``) or ``'convolution'`` (the
            kernel flipped in both axes: ``Σ k[u, v] · x[i − u + a, j − v + b]``), where
            ``(a, b) = ((kH − 1) // 2, (kW − 1) // 2)`` (PyTorch's 'same' anchor: a kernel that is 1
            at ``(a, b)`` only is the identity in both modes) and x is 0 outside the image.
        padding: ``'same'`` (zero padding, output the size of the image) or ``'valid'`` (no
            padding: only the outputs whose window lies inside the image, ``(H − kH + 1, W − kW + 1)``).

    Returns:
        The filtered image as a float64 array.

    Example:
        >>> import numpy as np
        >>> apply_kernel(np.arange(9.0).reshape(3, 3), "identity").tolist()
        [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
        >>> apply_kernel(np.eye(3), np.array([[1.0, 2.0]]), "convolution", padding="valid").tolist()
        [[2.0, 0.0], [1.0, 2.0], [0.0, 1.0]]
    """
    if mode not in _MODES:
        raise ValueError(f"apply_kernel(): mode must be 'correlation' or 'convolution', got {mode!r}")
    if padding not in ("same", "valid"):
        raise ValueError(f"apply_kernel(): padding must be 'same' or 'valid', got {padding!r}")
    picture = to_array(image, "apply_kernel()", "image")
    if picture.ndim != 2 or picture.size == 0:
        raise ValueError(f"apply_kernel(): image must be a non-empty grayscale (H, W) array, got shape "
                         f"{picture.shape}; convert colour images with cnnkit.viz.kernels.load_image()")
    weights = _kernel_array(kernel)
    if padding == "valid" and (weights.shape[0] > picture.shape[0] or weights.shape[1] > picture.shape[1]):
        raise ValueError(f"apply_kernel(): a {weights.shape} kernel does not fit a {picture.shape} image "
                         f"with padding='valid'; use padding='same'")
    pad: Any = padding
    if mode == "convolution":
        weights = weights[::-1, ::-1]  # convolution = correlation with the kernel rotated 180°
        if padding == "same":
            # Both modes anchor output (i, j) at kernel cell ((kH - 1) // 2, (kW - 1) // 2), as
            # conv2d's 'same' does; the rotated kernel moves that cell for even sizes, so the
            # zero padding moves with it (more on the top/left). Odd kernels: the usual k // 2.
            (kh, kw) = weights.shape
            picture = np.pad(picture, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)))
            pad = 0
    from cnnkit.functional import conv2d

    with no_grad():
        out = conv2d(Tensor(picture[None, None]), Tensor(np.ascontiguousarray(weights)[None, None]),
                     padding=pad)
    return np.array(out.data[0, 0], dtype=np.float64)


def load_image(path: Union[str, os.PathLike], max_size: Optional[int] = 512) -> np.ndarray:
    """Read any image Pillow opens as a grayscale float64 array in [0, 1].

    Args:
        path: the image file (PNG, JPEG, GIF, BMP, ...; any size and colour mode).
        max_size: shrink (keeping the aspect ratio) so the longer side is at most this many
            pixels, which keeps the filtering fast on photos; None keeps the full size.

    Raises:
        FileNotFoundError: no such file. ValueError: the file is not an image Pillow can read.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "red.png")
        ...     Image.fromarray(np.full((600, 300, 3), (255, 0, 0), np.uint8)).save(path)
        ...     image = load_image(path)
        >>> image.shape, round(float(image[0, 0]), 3)  # shrunk to 512 on the long side; luma of pure red
        ((512, 256), 0.298)
    """
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer))
                                 or max_size < 1):
        raise ValueError(f"load_image(): max_size must be a positive whole number of pixels or None, got {max_size!r}")
    Image = require_pil("load_image()")
    name = os.fspath(path)
    if os.path.isdir(name):
        raise IsADirectoryError(f"load_image(): {name!r} is a directory; pass one image file inside it")
    if not os.path.isfile(name):
        raise FileNotFoundError(f"load_image(): no such file {name!r}")
    try:
        with Image.open(name) as opened:
            opened.load()
            gray = opened.convert("L")  # ITU-R 601 luma, whatever the mode (RGB, RGBA, P, I;16 ...)
    except (OSError, Image.UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ValueError(f"load_image(): {name!r} is not an image Pillow can read ({error}); pass a PNG, "
                         f"JPEG, GIF or BMP file") from None
    if max_size is not None and max(gray.size) > max_size:
        gray.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.float64) / 255.0


def _default_image() -> np.ndarray:
    from cnnkit.datasets import mnist

    (_, _), (x_test, _) = mnist.load_data()
    return x_test[0].astype(np.float64) / 255.0  # the first test digit (a 7)


def plot_kernels(image: Any = None, path: Any = None, kernels: Optional[Mapping[str, Any]] = None,
                 include_asymmetric: bool = True, cell: float = 2.0, dpi: int = 100) -> Any:
    """Each kernel beside its cross-correlation result, its true-convolution result and their difference.

    Args:
        image: a 2-D grayscale array, or a path to an image file (read with :func:`load_image`);
            default the first MNIST test digit, scaled to [0, 1].
        path: write the figure here as PNG (optional).
        kernels: ``{name: 2-D array}``; default :data:`CLASSIC_KERNELS`.
        include_asymmetric: add :data:`ASYMMETRIC_EXAMPLE` as a last row, where the two operations
            differ (the slides' kernels are all symmetric under a 180° flip).
        cell: inches per panel; the figure is ``4·cell x (rows + 1)·cell`` inches (the first row
            shows the input image). dpi: resolution.

    Example:
        >>> import numpy as np
        >>> fig = plot_kernels(np.eye(8), include_asymmetric=False)
        >>> len(fig.axes), [float(v) for v in fig.get_size_inches()]
        (32, [8.0, 16.0])
    """
    if image is None:
        picture = _default_image()
    elif isinstance(image, (str, os.PathLike)):
        picture = load_image(image)
    else:
        picture = to_array(image, "plot_kernels()", "image")
    table = dict(CLASSIC_KERNELS if kernels is None else kernels)
    if include_asymmetric:
        table[ASYMMETRIC_EXAMPLE[0]] = ASYMMETRIC_EXAMPLE[1]
    if not table:
        raise ValueError("plot_kernels(): no kernels to show")
    rows = len(table) + 1
    fig = new_figure("plot_kernels()", (4 * cell, rows * cell), dpi)
    top = fig.add_subplot(rows, 4, 1)
    top.imshow(picture, cmap="gray", interpolation="nearest")
    top.set_title(f"input {picture.shape[0]}×{picture.shape[1]}", fontsize=8)
    top.set_axis_off()
    for column, heading in enumerate(("kernel", "cross-correlation\n(conv2d)", "true convolution\n(kernel flipped)",
                                      "convolution − correlation")):
        ax = fig.add_subplot(rows, 4, 1 + column) if column else None
        if ax is not None:
            ax.set_axis_off()
            ax.text(0.5, 0.5, heading, ha="center", va="center", fontsize=9, transform=ax.transAxes)
    for r, (name, kernel) in enumerate(table.items(), start=1):
        k = _kernel_array(kernel)
        corr = apply_kernel(picture, k, "correlation")
        conv = apply_kernel(picture, k, "convolution")
        diff = conv - corr
        panels = [(k, "RdBu_r", name), (corr, "gray", None), (conv, "gray", None),
                  (diff, "RdBu_r", f"max |diff| {np.abs(diff).max():.3g}")]
        for c, (data, cmap, label) in enumerate(panels):
            ax = fig.add_subplot(rows, 4, r * 4 + c + 1)
            bound = float(np.abs(data).max()) or 1.0
            limits = {"vmin": -bound, "vmax": bound} if cmap == "RdBu_r" else {}
            ax.imshow(data, cmap=cmap, interpolation="nearest", **limits)
            ax.set_xticks([])
            ax.set_yticks([])
            if label:
                ax.set_title(label, fontsize=8)
            if c == 0 and k.size <= 49:  # write the weights into the cells of small kernels
                for (i, j), value in np.ndenumerate(k):
                    ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=6,
                            color="white" if abs(value) > 0.6 * bound else "black")
    # fixed margins instead of tight_layout(), which costs seconds on dozens of panels
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.01, top=0.98, wspace=0.08, hspace=0.25)
    if path is not None:
        save_figure(fig, path)
    return fig
