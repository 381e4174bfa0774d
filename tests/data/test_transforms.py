"""Transforms against explicit references: hand-padded borders, window-by-window crop and shift
loops, [..., ::-1] flips, the normalisation formula and exact [0, 1] scaling."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
from cnnkit.data import transforms as T


def distinct_images(n: int, c: int = 2, h: int = 5, w: int = 6) -> np.ndarray:
    """Every pixel of every image distinct and > 0, so a window or a shift is identified by its values."""
    return (np.arange(n * c * h * w, dtype=np.float64).reshape(n, c, h, w) + 1.0)


# ------------------------------------------------------------------------------------- ToFloat
def test_to_float_scales_every_uint8_value_exactly():
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    out = T.ToFloat()(x)
    assert out.dtype == np.float32 and out.shape == (1, 16, 16)
    expected = np.array([np.float32(v / 255.0) for v in range(256)], np.float32).reshape(1, 16, 16)
    np.testing.assert_array_equal(out, expected)
    assert out.min() == 0.0 and out.max() == 1.0


def test_to_float_channels_last_batch_and_sample():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(3, 4, 5, 2), dtype=np.uint8)  # (N, H, W, C)
    out = T.ToFloat(scale=None, channels_last=True)(x)
    assert out.shape == (3, 2, 4, 5) and out.flags.c_contiguous
    for n in range(3):
        for c in range(2):
            np.testing.assert_array_equal(out[n, c], x[n, :, :, c].astype(np.float32))
    single = T.ToFloat(channels_last=True, dtype=np.float64)(x[1])
    assert single.shape == (2, 4, 5) and single.dtype == np.float64
    np.testing.assert_allclose(single, np.transpose(x[1], (2, 0, 1)) / 255.0, rtol=0, atol=0)


def test_to_float_other_dtypes_and_scales():
    ints = np.array([[[-300, 0, 1000]]], np.int32)
    np.testing.assert_array_equal(T.ToFloat()(ints), np.array([[[-300 / 255, 0, 1000 / 255]]], np.float32))
    floats = np.array([[[0.25, 1.5]]], np.float64)
    np.testing.assert_array_equal(T.ToFloat(scale=2.0)(floats), [[[0.5, 3.0]]])
    half = T.ToFloat(dtype=np.float16)(np.array([[[255, 51]]], np.uint8))
    assert half.dtype == np.float16 and half.tolist() == [[[1.0, float(np.float16(0.2))]]]
    words = np.array([[[65535, 3]]], np.uint16)
    np.testing.assert_array_equal(T.ToFloat(scale=1 / 65535)(words), np.array([[[1.0, 3 / 65535]]], np.float32))


def test_to_float_errors():
    with pytest.raises(ValueError, match="floating"):
        T.ToFloat(dtype=np.int32)
    with pytest.raises(ValueError, match="scale"):
        T.ToFloat(scale=float("nan"))
    with pytest.raises(ValueError, match=r"x\[:, None\]"):
        T.ToFloat()(np.zeros((28, 28), np.uint8))
    with pytest.raises(TypeError, match="numeric"):
        T.ToFloat()(np.zeros((1, 2, 2), "U1"))


# ----------------------------------------------------------------------------------- Normalize
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
def test_normalize_matches_the_formula_per_channel(shape):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    mean, std = [0.1, -0.2, 0.3], [0.5, 2.0, 0.25]
    out = T.Normalize(mean, std)(x)
    assert out.dtype == np.float32 and out.shape == shape
    for c in range(3):
        channel = x[..., c, :, :].astype(np.float64)
        np.testing.assert_allclose(out[..., c, :, :], (channel - mean[c]) / std[c], rtol=1e-6, atol=1e-6)
    one = T.Normalize(0.5, 2.0)(x)
    np.testing.assert_allclose(one, (x.astype(np.float64) - 0.5) / 2.0, rtol=1e-6, atol=1e-6)


def test_normalize_matches_torchvision_convention_for_mnist_constants():
    x = np.array([[[0.0, 1.0]]], np.float32)
    out = T.Normalize((0.1307,), (0.3081,))(x)
    np.testing.assert_allclose(out, [[[-0.1307 / 0.3081, 0.8693 / 0.3081]]], rtol=1e-6)


def test_normalize_errors():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"mean has 2 values but the input has 3 channel"):
        T.Normalize([0.0, 0.0], 1.0)(x)
    with pytest.raises(TypeError, match="ToFloat"):
        T.Normalize(0.0, 1.0)(x.astype(np.uint8))
    with pytest.raises(ValueError, match="> 0"):
        T.Normalize(0.0, [1.0, 0.0])
    with pytest.raises(ValueError, match="mean has 2 values but std has 3"):
        T.Normalize([0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="finite"):
        T.Normalize(float("inf"), 1.0)


# --------------------------------------------------------------------------------- RandomCrop
def test_padding_modes_match_hand_written_borders():
    row = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)  # (C=1, H=1, W=3)
    expected = {"constant": [0, 0, 1, 2, 3, 0, 0], "reflect": [3, 2, 1, 2, 3, 2, 1],
                "edge": [1, 1, 1, 2, 3, 3, 3], "symmetric": [2, 1, 1, 2, 3, 3, 2]}
    for mode, values in expected.items():
        crop = T.RandomCrop((1, 7), padding=(2, 0), padding_mode=mode, seed=0)  # full padded width: one window
        assert crop(row).reshape(-1).tolist() == values, mode
    assert T.RandomCrop((1, 7), padding=(2, 0), fill=9, seed=0)(row).reshape(-1).tolist() == [9, 9, 1, 2, 3, 9, 9]


def test_padding_modes_match_torch_pad(torch):
    x = distinct_images(1, 1, 4, 5)[0]
    for mode, torch_mode in (("reflect", "reflect"), ("edge", "replicate"), ("constant", "constant")):
        ref = torch.nn.functional.pad(torch.tensor(x[None]), (1, 3, 2, 0), mode=torch_mode).numpy()[0]
        out = T.RandomCrop(ref.shape[1:], padding=(1, 2, 3, 0), padding_mode=mode, seed=0)(x)
        np.testing.assert_array_equal(out, ref)


def reference_windows(image: np.ndarray, size: tuple, padding: tuple, mode: str) -> dict:
    """Every crop window of ``image`` (C, H, W) by np.pad and slicing in a loop: {(top, left): window}."""
    left, top, right, bottom = padding
    padded = np.pad(image, ((0, 0), (top, bottom), (left, right)), mode=mode)
    h, w = size
    return {(i, j): padded[:, i:i + h, j:j + w]
            for i in range(padded.shape[1] - h + 1) for j in range(padded.shape[2] - w + 1)}


@pytest.mark.parametrize("size, padding, mode", [((5, 6), 2, "constant"), ((4, 4), (1, 2), "reflect"),
                                                 ((3, 5), (0, 1, 2, 3), "edge"), ((5, 6), 0, "constant")])
def test_random_crop_picks_reference_windows_uniformly_per_sample(size, padding, mode):
    crop = T.RandomCrop(size, padding=padding, padding_mode=mode)
    pad = (padding,) * 4 if isinstance(padding, int) else (padding * 2 if len(padding) == 2 else padding)
    image = distinct_images(1)[0]
    batch = np.repeat(image[None], 400, axis=0)  # identical images: only the offsets differ
    out = crop(batch, generator=np.random.default_rng(0))
    assert out.shape == (400, 2) + size and out.dtype == batch.dtype
    windows = reference_windows(image, size, pad, mode)
    hits = {}
    for sample in out:
        found = [key for key, window in windows.items() if np.array_equal(sample, window)]
        assert found, "the output is not a window of the padded image"
        hits[found[0]] = hits.get(found[0], 0) + 1
    distinct = {key for key in windows if not any(np.array_equal(windows[key], windows[o]) for o in windows
                                                  if o < key)}
    assert set(hits) == distinct  # every position is drawn (400 draws over at most 30 positions)
    np.testing.assert_array_equal(batch[0], image)  # the input is not modified


def test_random_crop_single_sample_and_dtype():
    image = np.arange(2 * 5 * 5, dtype=np.uint8).reshape(2, 5, 5)
    out = T.RandomCrop(3, padding=1, seed=4)(image)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    windows = reference_windows(image, (3, 3), (1, 1, 1, 1), "constant")
    assert any(np.array_equal(out, w) for w in windows.values())


def test_random_crop_pad_if_needed_pads_each_side_by_the_shortfall():
    image = distinct_images(1, 1, 3, 4)[0]
    crop = T.RandomCrop((5, 4), pad_if_needed=True, padding_mode="edge")
    windows = reference_windows(image, (5, 4), (0, 2, 0, 2), "edge")  # height short by 2: 2 rows each side
    outs = crop(np.repeat(image[None], 50, axis=0), generator=np.random.default_rng(0))
    assert outs.shape == (50, 1, 5, 4)
    assert all(any(np.array_equal(o, w) for w in windows.values()) for o in outs)
    assert "pad_if_needed=True" in repr(crop)


def test_random_crop_errors():
    with pytest.raises(ValueError, match="pad_if_needed=True"):
        T.RandomCrop(8, padding=1)(np.zeros((1, 5, 5)))
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(3, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(3, padding=-1)
    with pytest.raises(ValueError, match="size"):
        T.RandomCrop(0)
    with pytest.raises(ValueError, match="'symmetric' or 'edge'"):
        T.RandomCrop(3, padding=3, padding_mode="reflect")(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="seed"):
        T.RandomCrop(3, seed=-2)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        T.RandomCrop(3)(np.zeros((1, 3, 3)), generator=42)


# -------------------------------------------------------------------------------- RandomShift
def shifted(image: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """out[c, i, j] = image[c, i - dy, j - dx] where it exists, else fill; an explicit pixel loop."""
    c, h, w = image.shape
    out = np.full_like(image, fill)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = image[:, i - dy, j - dx]
    return out


def test_random_shift_matches_the_pixel_loop_and_covers_every_shift():
    image = distinct_images(1, 2, 4, 5)[0]
    batch = np.repeat(image[None], 300, axis=0)
    out = T.RandomShift((1, 2), fill=-1.0)(batch, generator=np.random.default_rng(1))
    assert out.shape == batch.shape
    refs = {(dy, dx): shifted(image, dy, dx, -1.0) for dy in range(-1, 2) for dx in range(-2, 3)}
    seen = set()
    for sample in out:
        found = [key for key, ref in refs.items() if np.array_equal(sample, ref)]
        assert len(found) == 1
        seen.add(found[0])
    assert seen == set(refs)
    assert T.RandomShift(0)(image).tolist() == image.tolist()


@pytest.mark.parametrize("make", [lambda fill: T.RandomCrop(4, padding=1, fill=fill, seed=0),
                                  lambda fill: T.RandomShift(1, fill=fill, seed=0)])
def test_fill_that_does_not_fit_integer_pixels_is_refused_not_wrapped(make):
    images = np.full((2, 1, 4, 4), 7, np.uint8)
    for fill in (300, -1, 0.5):
        with pytest.raises(ValueError, match=rf"fill={fill!r} does not fit the image's dtype uint8.*\[0, 255\]"):
            make(fill)(images)
    assert make(255)(images).max() <= 255 and make(255.0)(images).dtype == np.uint8
    out = make(-1)(images.astype(np.int16))  # fits int16: every pixel is the image's or the fill
    assert set(np.unique(out).tolist()) <= {-1, 7}
    assert make(0.5)(images.astype(np.float32)).dtype == np.float32
    assert T.RandomCrop(4, fill=300)(images).shape == (2, 1, 4, 4)  # no padding: the fill is never used


def test_random_shift_errors():
    with pytest.raises(ValueError, match="max_shift"):
        T.RandomShift(-1)
    with pytest.raises(ValueError, match="max_shift"):
        T.RandomShift((1, 2, 3))


# ------------------------------------------------------------------------------------- Flip
def test_horizontal_flip_per_sample():
    x = distinct_images(2000, 1, 2, 3)
    out = T.RandomHorizontalFlip(0.5)(x, generator=np.random.default_rng(2))
    flipped = np.array([np.array_equal(o, s[..., ::-1]) for o, s in zip(out, x)])
    kept = np.array([np.array_equal(o, s) for o, s in zip(out, x)])
    assert np.all(flipped ^ kept)
    assert 0.45 < flipped.mean() < 0.55
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    single = T.RandomHorizontalFlip(1.0)(x[0])
    np.testing.assert_array_equal(single, x[0][..., ::-1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        T.RandomHorizontalFlip(1.5)


# ------------------------------------------------------------------------------- determinism
def augment() -> T.Compose:
    return T.Compose([T.RandomCrop(5, padding=2), T.RandomShift(1), T.RandomHorizontalFlip()])


def test_randomness_comes_from_the_generator_then_seed_then_cnnkit():
    x = distinct_images(16, 1, 5, 5)
    a = augment()(x, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(augment()(x, generator=np.random.default_rng(5)), a)
    assert not np.array_equal(augment()(x, generator=np.random.default_rng(6)), a)
    seeded = T.RandomCrop(5, padding=2, seed=3)
    np.testing.assert_array_equal(seeded(x), T.RandomCrop(5, padding=2, seed=3)(x))
    np.testing.assert_array_equal(seeded(x, generator=np.random.default_rng(5)),
                                  T.RandomCrop(5, padding=2, seed=9)(x, generator=np.random.default_rng(5)))
    cnnkit.manual_seed(11)
    b = augment()(x)
    cnnkit.manual_seed(11)
    np.testing.assert_array_equal(augment()(x), b)


def test_global_numpy_random_state_is_never_used():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    x = distinct_images(8, 1, 5, 5)
    augment()(x)
    T.RandomCrop(5, padding=1, seed=1)(x)
    assert np.array_equal(np.random.get_state()[1], before)


def test_compose_passes_plain_callables_the_array_only():
    calls = []

    def double(a):
        calls.append(a.shape)
        return a * 2

    out = T.Compose([T.ToFloat(scale=None), double, T.Normalize(1.0, 2.0)])(np.ones((1, 2, 2), np.uint8))
    assert calls == [(1, 2, 2)] and out.tolist() == [[[0.5, 0.5], [0.5, 0.5]]]
    assert "ToFloat" in repr(T.Compose([T.ToFloat()]))
    with pytest.raises(TypeError, match="transform 1 is not callable"):
        T.Compose([T.ToFloat(), 3])
    for single in (T.ToFloat(), double, 3):
        with pytest.raises(TypeError, match=r"Compose: expected a list of transforms.*Compose\(\[t1, t2\]\)"):
            T.Compose(single)
    assert len(T.Compose(t for t in (T.ToFloat(), double)).transforms) == 2


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_every_transform_keeps_batch_size_channels_and_dtype_on_odd_non_square_images(channels, n):
    x = np.random.default_rng(n).integers(0, 256, (n, channels, 5, 7), dtype=np.uint8)
    cases = [(T.ToFloat(), (5, 7), np.float32), (T.RandomCrop((3, 6), padding=1), (3, 6), np.uint8),
             (T.RandomCrop((6, 9), pad_if_needed=True, padding_mode="edge"), (6, 9), np.uint8),
             (T.RandomShift((2, 1)), (5, 7), np.uint8), (T.RandomHorizontalFlip(), (5, 7), np.uint8),
             (T.Compose([T.ToFloat(), T.Normalize([0.5] * channels, [0.25] * channels)]), (5, 7), np.float32)]
    for transform, size, dtype in cases:
        out = transform(x, generator=np.random.default_rng(0))
        assert out.shape == (n, channels) + size and out.dtype == dtype, transform
        if n:  # one sample alone: the (C, H, W) form
            single = transform(x[0], generator=np.random.default_rng(0))
            assert single.shape == (channels,) + size and single.dtype == dtype, transform
