"""``cnnkit predict CHECKPOINT IMAGE...``: classify image files of any size or colour.

For a model trained on MNIST an image is prepared as the MNIST digits were (LeCun et al.): a
grayscale digit, white on black, scaled to fit a 20×20 box with its aspect ratio kept, then placed
in a 28×28 field so that its centre of mass is at the centre (:func:`preprocess_digit`).
Fashion-MNIST images are fitted into the whole 28×28 field; colour (CIFAR-10) images are
centre-cropped to a square and resized. Reading images needs Pillow (``pip install "cnnkit[viz]"``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

import numpy as np

from cnnkit.cli.common import DATASETS, load_trained, positive_int, prepare
from cnnkit.cli.errors import CLIError, MissingExtra

BORDER = 0.05  # share of each side used to decide whether the background is light
INK = 0.1  # a pixel belongs to the digit when at least this bright after background removal
MAX_SIDE = 1024  # longer side images are reduced to on loading (see _shrink)


def _pil(what: str) -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise MissingExtra(what, "Pillow") from None
    return Image


def load_image(path: str) -> Any:
    """Open ``path`` with Pillow (fully read, so a truncated file fails here, with its name).

    Args:
        path: an image file (PNG, JPEG, BMP, GIF, TIFF, ... any size, mode or bit depth).

    Raises:
        CLIError: a directory, a file that is not an image Pillow can read, a damaged one, or one
            too large to decode safely (Pillow's decompression-bomb limit).
        FileNotFoundError: no such file.

    Example:
        >>> import tempfile, os
        >>> from PIL import Image
        >>> path = os.path.join(tempfile.mkdtemp(), "seven.png"); Image.new("L", (40, 30), 255).save(path)
        >>> load_image(path).size
        (40, 30)
    """
    Image = _pil("cnnkit predict")
    from PIL import ImageOps

    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory, not an image file; pass the image files themselves")
    try:
        with Image.open(path) as image:
            image.load()
            # Phone photos are stored sideways with an EXIF rotation tag; apply it as viewers do.
            return _shrink(ImageOps.exif_transpose(image))
    except FileNotFoundError:
        raise
    except Image.DecompressionBombError as error:  # not an OSError: it would escape as a traceback
        raise CLIError(f"{path}: too large for Pillow to open safely ({error}); shrink it first") from None
    except Image.UnidentifiedImageError:
        raise CLIError(f"{path}: not an image file Pillow can read (PNG, JPEG, BMP, GIF, TIFF, ...)") from None
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt data
        raise CLIError(f"{path}: the image is damaged and cannot be decoded ({error})") from None


def _shrink(image: Any, side: int = MAX_SIDE) -> Any:
    """``image`` reduced by a whole factor (box averaging) until its longer side is at most about
    ``side``: the model sees 28×28 or 32×32, and a 100-megapixel photo as float64 arrays would
    take gigabytes. Modes Pillow cannot reduce (1-bit, palette, 16-bit) are widened first."""
    factor = -(-max(image.size) // side)  # ceiling division
    if factor <= 1:
        return image
    widened = {"1": "L", "P": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "CMYK": "RGB"}.get(image.mode)
    return (image.convert(widened) if widened else image).reduce(factor)


def _gray(image: Any) -> np.ndarray:
    """Grayscale in [0, 1] (float64); transparent areas are taken as white paper."""
    Image = _pil("preprocess_digit")
    if isinstance(image, Image.Image) and (image.mode.startswith("I") or image.mode == "F"):
        # 16/32-bit grayscale: convert("L") would clip everything above 255 to white.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0) if image.mode != "F" else np.clip(values, 0.0, 1.0)
    if not isinstance(image, Image.Image):
        array = np.asarray(image)
        if array.dtype.kind == "f":
            array = np.clip(array * 255.0 if array.max(initial=0) <= 1.0 else array, 0, 255)
        image = Image.fromarray(array.astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _light_on_dark(gray: np.ndarray) -> np.ndarray:
    """Invert when the border is mostly light (a dark drawing on paper), then stretch so the
    background is 0 and the brightest stroke 1."""
    h, w = gray.shape
    bh, bw = max(1, int(round(h * BORDER))), max(1, int(round(w * BORDER)))
    border = np.concatenate([gray[:bh].ravel(), gray[-bh:].ravel(), gray[:, :bw].ravel(), gray[:, -bw:].ravel()])
    if np.mean(border > 0.5) > 0.5:
        gray, border = 1.0 - gray, 1.0 - border
    background, top = float(np.median(border)), float(gray.max())
    if top - background < 0.1:
        raise CLIError("the image is blank (no stroke stands out from the background)")
    return np.clip((gray - background) / (top - background), 0.0, 1.0)


def _fit(array: np.ndarray, box: int) -> np.ndarray:
    """Resize so the longer side is ``box`` pixels, keeping the aspect ratio (antialiased)."""
    Image = _pil("preprocess_digit")
    h, w = array.shape
    scale = box / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    resized = Image.fromarray(array.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _crop_to_ink(array: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(array >= INK)
    return array[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]


def preprocess_digit(image: Any) -> np.ndarray:
    """An image of a handwritten digit as an MNIST sample: ``(28, 28)`` float32 in [0, 1].

    Grayscale; inverted when the border is mostly light (MNIST digits are white on black);
    background set to 0 and the brightest stroke to 1; cropped to the digit; scaled (antialiased)
    so that its longer side is 20 pixels, aspect ratio kept; placed in a 28×28 field with its
    centre of mass moved to the field's centre (13.5, 13.5) by a whole-pixel shift, so it lies
    within half a pixel of it (the digit is kept inside the field when the shift would cut it).

    Args:
        image: a Pillow image, or an array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` (uint8, or
            floats in [0, 1]).

    Raises:
        CLIError: for a blank image.

    Example:
        >>> import numpy as np
        >>> page = np.full((100, 200), 255, np.uint8); page[20:80, 90:110] = 0  # a dark bar on white
        >>> digit = preprocess_digit(page)
        >>> digit.shape, digit[0, 0], float(digit.max())
        ((28, 28), np.float32(0.0), 1.0)
    """
    glyph = _fit(_crop_to_ink(_light_on_dark(_gray(image))), 20)
    h, w = glyph.shape
    rows, cols = np.indices(glyph.shape)
    mass = glyph.sum()
    centre_r, centre_c = (rows * glyph).sum() / mass, (cols * glyph).sum() / mass
    top = int(np.clip(np.round(13.5 - centre_r), 0, 28 - h))
    left = int(np.clip(np.round(13.5 - centre_c), 0, 28 - w))
    field = np.zeros((28, 28), np.float32)
    field[top: top + h, left: left + w] = glyph
    return field


def preprocess_image(image: Any, dataset: str, shape: Sequence[int]) -> np.ndarray:
    """An image prepared for a model trained on ``dataset``: uint8-scaled (C, H, W) floats in [0, 255]
    (normalise with :func:`cnnkit.cli.common.prepare`).

    Args:
        image: a Pillow image or an array, as for :func:`preprocess_digit`.
        dataset: ``"mnist"`` (:func:`preprocess_digit`), another one-channel dataset (the object
            fitted into the whole field) or a colour one (centre square, resized).
        shape: the model's input (C, H, W).

    Example:
        >>> page = np.full((60, 40), 255, np.uint8); page[10:50, 18:22] = 0
        >>> preprocess_image(page, "mnist", (1, 28, 28)).shape
        (1, 28, 28)
    """
    if dataset == "mnist":
        return preprocess_digit(image)[None] * 255.0
    c, h, w = (int(s) for s in shape)
    if c == 1:  # Fashion-MNIST: light object on black, filling the field
        fitted = _fit(_crop_to_ink(_light_on_dark(_gray(image))), min(h, w))
        field = np.zeros((h, w))
        top, left = (h - fitted.shape[0]) // 2, (w - fitted.shape[1]) // 2
        field[top: top + fitted.shape[0], left: left + fitted.shape[1]] = fitted
        return field[None] * 255.0
    Image = _pil("cnnkit predict")
    rgb = image.convert("RGB") if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image)).convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    square = rgb.crop((left, top, left + side, top + side)).resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(square, dtype=np.float64).transpose(2, 0, 1)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so large logits do not overflow.

    Args:
        logits: ``(N, K)`` scores.

    Example:
        >>> softmax(np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]])).round(3).tolist()
        [[0.25, 0.75], [0.5, 0.5]]
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def add_parser(sub: Any) -> None:
    """Register the ``predict`` subcommand on an argparse subparsers object."""
    p = sub.add_parser("predict", help="classify image files with a trained model",
                       description="Classify PNG/JPEG images of any size or colour; for an MNIST model they are "
                                   "prepared like MNIST digits (grayscale, white on black, fitted into 20×20, "
                                   "centred by mass in 28×28).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint file or a `cnnkit train` run directory")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--dataset", default=None, metavar="NAME", help=f"what the model was trained on: {', '.join(DATASETS)} "
                                                   "(default: from the checkpoint or run, else mnist)")
    p.add_argument("--model", default=None, metavar="NAME", help="the zoo model of a weights-only checkpoint")
    p.add_argument("--top", type=positive_int, default=None, metavar="N", help="print only the N most probable classes")
    p.set_defaults(run=run)


def _prepared(image: Any, path: str, trained: Any) -> np.ndarray:
    """:func:`preprocess_image` for the model of ``trained``, its errors naming the file."""
    try:
        return preprocess_image(image, trained.dataset, trained.input_shape)
    except CLIError as error:
        raise CLIError(f"{path}: {error}") from None


def run(args: argparse.Namespace) -> int:
    """Classify the images and print each one's class and probabilities.

    Raises:
        CLIError: a bad checkpoint or image (``main()`` prints one line and exits with code 2).
    """
    from cnnkit import nn

    trained = load_trained(args.checkpoint, args.dataset, args.model)
    images = [load_image(path) for path in args.images]  # every file checked before any output
    raw = np.stack([_prepared(image, path, trained) for image, path in zip(images, args.images)])
    x = prepare(raw, trained.normalisation, trained.input_shape, "the image")
    outputs = trained.model.predict(x)
    last = list(trained.model.module.modules())[-1]
    probabilities = outputs if isinstance(last, nn.Softmax) else softmax(outputs.astype(np.float64))
    k = probabilities.shape[1]
    names = trained.class_names if len(trained.class_names) == k else [str(i) for i in range(k)]
    for path, p in zip(args.images, probabilities):
        best = int(np.argmax(p))
        print(f"{path}: {names[best]} ({p[best]:.1%})")
        order = np.argsort(-p, kind="stable")[: args.top] if args.top else range(k)
        print("  " + "  ".join(f"{names[j]} {p[j]:.3f}" for j in order))
    return 0
