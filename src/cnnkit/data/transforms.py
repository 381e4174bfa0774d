"""Image transforms on NumPy arrays, for one sample ``(C, H, W)`` or a whole batch ``(N, C, H, W)``.

Batches are processed vectorised: random transforms draw one set of parameters per sample and
gather all samples at once (no Python loop over samples or pixels).

Determinism (one seed drives shuffling and augmentation): a random transform takes its
randomness from the ``generator`` passed to it. A :class:`~cnnkit.data.DataLoader` passes a
generator derived from its seed and the epoch, so the same loader seed gives the same
augmentations, epoch by epoch. Called directly without a generator, a transform uses its own
``seed=`` generator when given, else cnnkit's generator (:func:`cnnkit.manual_seed`); the global
NumPy random state is never used.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnkit import random as _random
from cnnkit.data._arrays import to_array

_PADDING_MODES = ("constant", "reflect", "edge", "symmetric")


def _as_image(x: Any, where: str) -> np.ndarray:
    array = to_array(x)
    if array.ndim not in (3, 4):
        raise ValueError(f"{where}: expected one image (C, H, W) or a batch (N, C, H, W), got shape "
                         f"{array.shape}; add the channel axis first (e.g. x[:, None] for (N, H, W) MNIST), "
                         f"or use ToFloat(channels_last=True) for (N, H, W, C) arrays")
    return array


def _pair(value: Any, name: str, where: str, minimum: int) -> tuple:
    values = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum
                               for v in values):
        raise ValueError(f"{where}: {name} must be an integer >= {minimum} or a pair (h, w) of them, got {value!r}")
    return int(values[0]), int(values[1])


def _fill_for(fill: Any, dtype: np.dtype, where: str) -> Any:
    """``fill`` checked to be representable in the image's ``dtype`` (NumPy would wrap 300 to 44 in uint8)."""
    if dtype.kind not in "biu":
        return fill
    if isinstance(fill, (bool, np.bool_)) or not float(fill).is_integer() or (
            dtype.kind != "b" and not np.iinfo(dtype).min <= fill <= np.iinfo(dtype).max) or (
            dtype.kind == "b" and fill not in (0, 1)):
        limits = "0 or 1" if dtype.kind == "b" else f"an integer in [{np.iinfo(dtype).min}, {np.iinfo(dtype).max}]"
        raise ValueError(f"{where}: fill={fill!r} does not fit the image's dtype {dtype}; pass {limits}, or "
                         f"convert the images first (ToFloat())")
    return fill


class Transform:
    """Base class of cnnkit's transforms: ``t(x, generator=None)`` on ``(C, H, W)`` or ``(N, C, H, W)``.

    A deterministic transform ignores ``generator``. Random ones resolve it with :meth:`rng`.
    """

    seed: Optional[int] = None
    _own: Optional[np.random.Generator] = None

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def _init_seed(self, seed: Optional[int]) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{type(self).__name__}: seed must be a non-negative integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own = None if seed is None else np.random.default_rng(self.seed)

    def rng(self, generator: Optional[np.random.Generator]) -> np.random.Generator:
        """The generator to draw from: ``generator`` if given, else the own ``seed=`` one, else cnnkit's."""
        if generator is not None:
            return _random.resolve(generator)
        return self._own if self._own is not None else _random.default_generator()


def _apply(transform: Callable, x: Any, generator: Optional[np.random.Generator]) -> Any:
    # Only cnnkit transforms take a generator; a plain function gets the array alone.
    return transform(x, generator=generator) if isinstance(transform, Transform) else transform(x)


class Compose(Transform):
    """Apply ``transforms`` in order, passing the same generator along.

    Args:
        transforms: cnnkit transforms or plain callables ``f(x) -> x``.

    Example:
        >>> import numpy as np
        >>> t = Compose([ToFloat(), Normalize(0.5, 0.5)])
        >>> t(np.full((1, 2, 2), 255, np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        if callable(transforms) or not hasattr(transforms, "__iter__") or isinstance(transforms, str):
            raise TypeError(f"Compose: expected a list of transforms, got {type(transforms).__name__}; wrap it in "
                            f"a list: Compose([t1, t2])")
        self.transforms = list(transforms)
        for k, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {k} is not callable ({type(t).__name__})")

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> Any:
        for t in self.transforms:
            x = _apply(t, x, generator)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class ToFloat(Transform):
    """Convert to floating point and scale: ``uint8`` pixels become float32 in [0, 1].

    Args:
        scale: factor applied to every input (any dtype, as Keras's ``Rescaling``); None or 1 for
            none. The result is correctly rounded (``v * (1/255)`` as ``v / 255``), so 255 maps to
            exactly 1.0.
        dtype: the floating output dtype.
        channels_last: input is ``(H, W, C)`` / ``(N, H, W, C)`` (Keras, CIFAR arrays); the output
            is moved to ``(C, H, W)`` / ``(N, C, H, W)``.

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)`` (channels-last with ``channels_last=True``).
        - Output: the same, channels first, C-contiguous.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[0, 51], [255, 102]]], np.uint8)
        >>> ToFloat()(x).tolist()
        [[[0.0, 0.20000000298023224], [1.0, 0.4000000059604645]]]
        >>> ToFloat(channels_last=True)(np.zeros((32, 32, 3), np.uint8)).shape
        (3, 32, 32)
    """

    def __init__(self, scale: Optional[float] = 1.0 / 255.0, dtype: Any = np.float32,
                 channels_last: bool = False) -> None:
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float, np.number))
                                  or not np.isfinite(scale)):
            raise ValueError(f"ToFloat: scale must be a finite number or None, got {scale!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"ToFloat: dtype must be a floating type (float32, float64), got {self.dtype}")
        self.scale, self.channels_last = scale, bool(channels_last)

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        array = _as_image(x, "ToFloat")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"ToFloat: expected numeric pixels, got dtype {array.dtype}")
        if self.channels_last:
            array = np.moveaxis(array, -1, -3)  # a view; the conversion below writes channels-first memory
        scale = 1.0 if self.scale is None else float(self.scale)
        divisor = 1.0 / scale if scale else 0.0
        if (array.dtype.kind in "biu" and array.dtype.itemsize <= 2 and self.dtype.itemsize >= 4 and divisor
                and divisor == round(divisor)):
            # Small integers are exact in float32, so dividing there is correctly rounded (255 -> 1.0)
            # and 4x faster than a float64 round trip.
            out = array.astype(self.dtype, order="C")
            if divisor != 1.0:
                out /= self.dtype.type(divisor)
        else:
            out = (array.astype(np.float64, order="C") * scale).astype(self.dtype)
        return np.ascontiguousarray(out)

    def __repr__(self) -> str:
        return f"ToFloat(scale={self.scale!r}, dtype={self.dtype.name}, channels_last={self.channels_last})"


class Normalize(Transform):
    """Per-channel standardisation: ``out[c] = (x[c] - mean[c]) / std[c]`` (channel axis -3).

    Args:
        mean: one value, or one per channel.
        std: one value, or one per channel (all > 0).

    Shape:
        - Input: floating ``(C, H, W)`` or ``(N, C, H, W)``. Output: the same shape and dtype.

    Example:
        >>> import numpy as np
        >>> x = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 1.0)]).astype(np.float32)
        >>> Normalize(mean=[0.5, 0.0], std=[0.25, 2.0])(x)[:, 0, 0].tolist()
        [0.0, 0.5]
    """

    def __init__(self, mean: Any, std: Any) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
                raise ValueError(f"Normalize: {name} must be a finite number or a flat list of them, got {v.tolist()}")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: every std must be > 0, got {self.std.tolist()}")
        if self.mean.size != self.std.size and 1 not in (self.mean.size, self.std.size):
            raise ValueError(f"Normalize: mean has {self.mean.size} values but std has {self.std.size}")

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        array = _as_image(x, "Normalize")
        if array.dtype.kind != "f":
            raise TypeError(f"Normalize: expected floating pixels, got {array.dtype}; put ToFloat() before "
                            f"Normalize (Compose([ToFloat(), Normalize(mean, std)]))")
        channels = array.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, channels):
                raise ValueError(f"Normalize: {name} has {v.size} values but the input has {channels} channel(s) "
                                 f"on axis -3 (shape {array.shape}); pass one value or one per channel")
        mean = self.mean.astype(array.dtype)[:, None, None]
        std = self.std.astype(array.dtype)[:, None, None]
        return (array - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _crop_windows(padded: np.ndarray, top: np.ndarray, left: np.ndarray, size: tuple) -> np.ndarray:
    """Per-sample windows ``padded[n, :, top[n]:top[n]+h, left[n]:left[n]+w]`` gathered at once."""
    windows = sliding_window_view(padded, size, axis=(2, 3))  # (N, C, H'-h+1, W'-w+1, h, w), a view
    return windows[np.arange(len(padded)), :, top, left]  # advanced indices first: (N, C, h, w), a copy


def _batched(x: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return fn(x[None])[0] if x.ndim == 3 else fn(x)


class RandomCrop(Transform):
    """Crop a random ``size`` window, after padding the borders (torchvision's ``RandomCrop``).

    Every sample of a batch gets its own offsets.

    Args:
        size: output ``(h, w)``, or one int for a square.
        padding: added before cropping: an int (all sides), ``(left/right, top/bottom)``, or
            ``(left, top, right, bottom)``.
        padding_mode: ``'constant'`` (``fill``), ``'reflect'`` (mirror without the edge pixel),
            ``'edge'`` (repeat the edge) or ``'symmetric'`` (mirror with the edge pixel).
        fill: the value for ``'constant'`` padding.
        pad_if_needed: when the padded image is still smaller than ``size``, pad each side of the
            short dimension by the shortfall (torchvision's rule) instead of raising.
        seed: own generator's seed, used when no generator is passed (see the module notes).

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``, any dtype. Output: ``(C, h, w)`` / ``(N, C, h, w)``.

    Example:
        >>> import numpy as np
        >>> x = np.arange(16.0).reshape(1, 4, 4)
        >>> RandomCrop(4, padding=1, seed=0)(x).shape
        (1, 4, 4)
        >>> RandomCrop(4)(x).tolist() == x.tolist()  # no padding, full size: the only window
        True
    """

    def __init__(self, size: Any, padding: Any = 0, padding_mode: str = "constant", fill: float = 0,
                 pad_if_needed: bool = False, seed: Optional[int] = None) -> None:
        self.size = _pair(size, "size", "RandomCrop", 1)
        self.pad_if_needed = bool(pad_if_needed)
        pad = (padding,) if isinstance(padding, (int, np.integer)) else tuple(padding)
        if len(pad) not in (1, 2, 4) or any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0
                                            for p in pad):
            raise ValueError(f"RandomCrop: padding must be a non-negative int, (left/right, top/bottom) or "
                             f"(left, top, right, bottom), got {padding!r}")
        pad = pad * 4 if len(pad) == 1 else (pad * 2 if len(pad) == 2 else pad)
        self.padding = tuple(int(p) for p in pad)  # (left, top, right, bottom)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode, self.fill = padding_mode, fill
        self._init_seed(seed)

    def _pad(self, batch: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
        if not (left or top or right or bottom):
            return batch
        widths = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "reflect" and (max(top, bottom) >= batch.shape[2] or max(left, right) >= batch.shape[3]):
            raise ValueError(f"RandomCrop: 'reflect' padding (left {left}, top {top}, right {right}, bottom {bottom}) "
                             f"needs each pad smaller than the image side ({batch.shape[2]}x{batch.shape[3]}); use "
                             f"'symmetric' or 'edge'")
        if self.padding_mode == "constant":
            fill = _fill_for(self.fill, batch.dtype, "RandomCrop")
            return np.pad(batch, widths, mode="constant", constant_values=fill)
        return np.pad(batch, widths, mode=self.padding_mode)

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        array = _as_image(x, "RandomCrop")
        rng = self.rng(generator)

        def crop(batch: np.ndarray) -> np.ndarray:
            padded = self._pad(batch, *self.padding)
            (h, w), (ph, pw) = self.size, padded.shape[2:]
            if self.pad_if_needed and (h > ph or w > pw):
                dh, dw = max(h - ph, 0), max(w - pw, 0)
                padded = self._pad(padded, dw, dh, dw, dh)
                ph, pw = padded.shape[2:]
            if h > ph or w > pw:
                raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image ({ph}, {pw}) "
                                 f"(input {batch.shape[2:]} with padding {self.padding}); increase padding or "
                                 f"pass pad_if_needed=True")
            top = rng.integers(0, ph - h + 1, size=len(padded))
            left = rng.integers(0, pw - w + 1, size=len(padded))
            return _crop_windows(padded, top, left, self.size)

        return _batched(array, crop)

    def __repr__(self) -> str:
        return (f"RandomCrop(size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}, "
                f"fill={self.fill!r}, pad_if_needed={self.pad_if_needed}, seed={self.seed!r})")


class RandomShift(Transform):
    """Translate each image by a random whole number of pixels, filling the uncovered border.

    The shift ``(dy, dx)`` is uniform in ``[-max_dy, max_dy] x [-max_dx, max_dx]``, drawn per
    sample; ``out[c, i, j] = x[c, i - dy, j - dx]`` where that pixel exists, else ``fill``.

    Args:
        max_shift: the largest shift in pixels, one int or ``(max_dy, max_dx)``.
        fill: the value of uncovered pixels.
        seed: own generator's seed, used when no generator is passed (see the module notes).

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``, any dtype. Output: the same shape and dtype.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 3, 3))
        >>> out = RandomShift(1, seed=0)(x)
        >>> out.shape, bool(4 <= out.sum() <= 9)
        ((1, 3, 3), True)
    """

    def __init__(self, max_shift: Any, fill: float = 0, seed: Optional[int] = None) -> None:
        self.max_shift = _pair(max_shift, "max_shift", "RandomShift", 0)
        self.fill = fill
        self._init_seed(seed)

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        array = _as_image(x, "RandomShift")
        rng = self.rng(generator)
        my, mx = self.max_shift

        def shift(batch: np.ndarray) -> np.ndarray:
            # Shifting by (dy, dx) is cropping the fill-padded image at offset (my - dy, mx - dx).
            fill = _fill_for(self.fill, batch.dtype, "RandomShift") if my or mx else 0
            padded = np.pad(batch, ((0, 0), (0, 0), (my, my), (mx, mx)), mode="constant", constant_values=fill)
            dy = rng.integers(-my, my + 1, size=len(batch))
            dx = rng.integers(-mx, mx + 1, size=len(batch))
            return _crop_windows(padded, my - dy, mx - dx, batch.shape[2:])

        return _batched(array, shift)

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill!r}, seed={self.seed!r})"


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right (last axis) with probability ``p``, decided per sample.

    Args:
        p: probability of flipping, in [0, 1].
        seed: own generator's seed, used when no generator is passed (see the module notes).

    Shape:
        - Input: ``(C, H, W)`` or ``(N, C, H, W)``, any dtype. Output: the same shape and dtype.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1, 2, 3]]])
        >>> RandomHorizontalFlip(p=1.0)(x).tolist()
        [[[3, 2, 1]]]
    """

    def __init__(self, p: float = 0.5, seed: Optional[int] = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self._init_seed(seed)

    def __call__(self, x: Any, generator: Optional[np.random.Generator] = None) -> np.ndarray:
        array = _as_image(x, "RandomHorizontalFlip")
        rng = self.rng(generator)

        def flip(batch: np.ndarray) -> np.ndarray:
            chosen = rng.random(len(batch)) < self.p
            out = batch.copy()  # never write into the caller's (dataset's) memory
            out[chosen] = batch[chosen][..., ::-1]
            return out

        return _batched(array, flip)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p}, seed={self.seed!r})"
