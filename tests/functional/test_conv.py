"""conv1d / conv2d / conv3d / convolve2d: loop reference, gradcheck and PyTorch parity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F

from . import references as R
from .helpers import ck, gradcheck, parity

DTYPES = [np.float64, np.float32]


# ----------------------------------------------------------------------------- helpers


def legal(spatial, kernel, stride, padding, dilation):
    pads = R.resolve_conv_pads(padding, spatial, kernel, stride, dilation)
    return all(n + lo + hi >= d * (k - 1) + 1 for n, k, d, (lo, hi) in zip(spatial, kernel, dilation, pads))


def norm_stride(s, nd):
    return s if isinstance(s, tuple) else (s,) * nd


def torch_can(padding, stride):
    """PyTorch refuses 'same' with a stride other than 1."""
    return not (padding == "same" and any(s != 1 for s in stride))


# ----------------------------------------------------------------------------- conv2d grid

K2 = [(1, 1), (2, 2), (3, 3), (5, 5), (2, 3), (3, 1)]
S2 = [1, 2, 3]
P2 = [0, 1, 2, (2, 1), "valid", "same"]
D2 = [1, 2]
G2 = [1, 2, 4]
X2 = (2, 4, 9, 8)  # odd height, even width


def _cases2d():
    """Every (kernel, stride, padding); each test runs every legal dilation × groups combination."""
    for k, s, p in itertools.product(K2, S2, P2):
        yield pytest.param(k, s, p, id=f"k{k[0]}x{k[1]}-s{s}-p{p}".replace(" ", ""))


def combos(spatial, k, s, p, dilations, groups):
    """The legal (dilation, groups) pairs for this geometry, with a label for failure messages."""
    nd = len(spatial)
    for d, g in itertools.product(dilations, groups):
        if legal(spatial, k, norm_stride(s, nd), p, (d,) * nd):
            yield d, g, f"[dilation={d}, groups={g}] "


def labelled(label, check):
    try:
        check()
    except AssertionError as error:
        raise AssertionError(label + str(error)) from None


CASES2D = list(_cases2d())


def _data2d(k, g, c_out=4):
    rng = np.random.default_rng(hash((k, g, c_out)) % 2**32)
    x = rng.standard_normal(X2)
    w = rng.standard_normal((c_out, X2[1] // g) + k)
    b = rng.standard_normal(c_out)
    return x, w, b


def test_conv_ref_fast_agrees_with_scalar_loop_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 5))
    w = rng.standard_normal((4, 2, 3, 2))
    b = rng.standard_normal(4)
    for s, p, d in [(1, 0, 1), (2, 1, 1), (1, (2, 1), 2), (3, "same", 1), (2, "same", 2)]:
        np.testing.assert_allclose(R.conv_ref_fast(x, w, b, s, p, d, 2), R.conv_ref(x, w, b, s, p, d, 2), rtol=1e-12)


@pytest.mark.parametrize("k,s,p", CASES2D)
def test_conv2d_forward(k, s, p):
    for d, g, label in combos(X2[2:], k, s, p, D2, G2):
        x, w, b = _data2d(k, g)
        want = R.conv_ref_fast(x, w, b, s, p, d, g)
        for dtype in DTYPES:
            out = F.conv2d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), stride=s, padding=p,
                           dilation=d, groups=g)
            labelled(label, lambda: R.assert_forward(out.numpy(), want, dtype))


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k,s,p", [c for c in CASES2D if torch_can(c.values[2], (c.values[1],) * 2)])
def test_conv2d_parity(k, s, p, torch):
    for d, g, label in combos(X2[2:], k, s, p, D2, G2):
        x, w, b = _data2d(k, g)
        labelled(label, lambda: parity(
            torch,
            lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=s, padding=p, dilation=d, groups=g),
            lambda x_, w_, b_: torch.nn.functional.conv2d(x_, w_, b_, stride=s, padding=p, dilation=d, groups=g),
            [x, w, b]))


GRAD2 = [
    # kernel, stride, padding, dilation, groups
    ((1, 1), 1, 0, 1, 1),
    ((2, 2), 1, 0, 1, 1),
    ((3, 3), 1, 1, 1, 1),
    ((3, 3), 2, 1, 1, 1),
    ((3, 3), 3, 2, 1, 2),
    ((2, 3), 2, (1, 0), 1, 2),
    ((3, 1), 1, "same", 2, 1),
    ((2, 2), 2, "same", 1, 1),
    ((3, 3), 3, "same", 1, 2),
    ((2, 2), 1, "same", 1, 2),
    ((3, 3), 1, "valid", 2, 2),
    ((5, 5), 1, 2, 1, 1),
    ((3, 3), 2, 1, 1, 2),  # depthwise (C_in = groups = 2)
]


@pytest.mark.parametrize("k,s,p,d,g", GRAD2, ids=[f"k{c[0]}-s{c[1]}-p{c[2]}-d{c[3]}-g{c[4]}" for c in GRAD2])
def test_conv2d_gradcheck(k, s, p, d, g):
    rng = np.random.default_rng(1)
    x = ck(rng.standard_normal((2, 2, 5, 6)), True)
    w = ck(rng.standard_normal((2, 2 // g) + k), True)
    b = ck(rng.standard_normal(2), True)
    gradcheck(lambda x_, w_, b_: F.conv2d(x_, w_, b_, stride=s, padding=p, dilation=d, groups=g), x, w, b)


def test_conv2d_gradcheck_without_bias_and_depthwise_multiplier():
    rng = np.random.default_rng(2)
    x = ck(rng.standard_normal((1, 2, 5, 5)), True)
    w = ck(rng.standard_normal((4, 1, 3, 3)), True)  # depthwise, channel multiplier 2
    gradcheck(lambda x_, w_: F.conv2d(x_, w_, None, stride=2, padding=1, groups=2), x, w)


# ----------------------------------------------------------------------------- depthwise multiplier, asymmetric stride


DEPTHWISE = [((3, 3), 1, 1, 1), ((3, 3), 2, "same", 1), ((2, 3), (1, 2), 0, 2), ((5, 5), 1, "same", 1)]


@pytest.mark.parametrize("k,s,p,d", DEPTHWISE)
def test_conv2d_depthwise_channel_multiplier(k, s, p, d):
    x, w, b = _data2d(k, 4, c_out=8)  # groups = C_in = 4, two filters per input channel
    want = R.conv_ref_fast(x, w, b, s, p, d, 4)
    for dtype in DTYPES:
        out = F.conv2d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), s, p, d, 4)
        R.assert_forward(out.numpy(), want, dtype)


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p,d", [c for c in DEPTHWISE if torch_can(c[2], norm_stride(c[1], 2))])
def test_conv2d_depthwise_parity(k, s, p, d, torch):
    x, w, b = _data2d(k, 4, c_out=8)
    parity(torch, lambda *a: F.conv2d(*a, stride=s, padding=p, dilation=d, groups=4),
           lambda *a: torch.nn.functional.conv2d(*a, stride=s, padding=p, dilation=d, groups=4), [x, w, b])


@pytest.mark.parametrize("stride,padding,dilation", [((1, 2), (0, 1), (2, 1)), ((3, 1), (1, 2), (1, 2)),
                                                     ((2, 3), "same", (1, 2))])
def test_conv2d_per_axis_arguments(stride, padding, dilation):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 8, 9))
    w = rng.standard_normal((2, 3, 3, 2))
    want = R.conv_ref(x, w, None, stride, padding, dilation)
    for dtype in DTYPES:
        out = F.conv2d(ck(x, dtype=dtype), ck(w, dtype=dtype), stride=stride, padding=padding, dilation=dilation)
        R.assert_forward(out.numpy(), want, dtype)


# ----------------------------------------------------------------------------- TensorFlow 'same' for any stride


@pytest.mark.parametrize("size", [5, 6, 7, 8, 9])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_conv2d_same_padding_follows_tensorflow(size, k, s):
    """Output ceil(in/s); total pad max((out−1)·s + (k−1) + 1 − in, 0), extra cell bottom/right."""
    rng = np.random.default_rng(size * 100 + k * 10 + s)
    x = rng.standard_normal((1, 1, size, size + 1))
    w = rng.standard_normal((1, 1, k, k))
    out = F.conv2d(ck(x), ck(w), stride=s, padding="same").numpy()
    expected_hw = (-(-size // s), -(-(size + 1) // s))
    assert out.shape == (1, 1) + expected_hw
    pads = []
    for n in (size, size + 1):
        o = -(-n // s)
        total = max((o - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    # Explicit zero padding by hand, then a valid cross-correlation: the same numbers.
    xp = np.zeros((1, 1, size + sum(pads[0]), size + 1 + sum(pads[1])))
    xp[0, 0, pads[0][0]:pads[0][0] + size, pads[1][0]:pads[1][0] + size + 1] = x[0, 0]
    np.testing.assert_allclose(out, R.conv_ref(xp, w, None, s, 0), rtol=1e-7, atol=1e-9)


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k", [(1, 1), (2, 2), (3, 3), (4, 4), (2, 5)])
@pytest.mark.parametrize("d", [1, 2])
def test_conv2d_same_stride1_matches_torch(k, d, torch):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((2, 3) + k), rng.standard_normal(2)
    parity(torch, lambda *a: F.conv2d(*a, padding="same", dilation=d),
           lambda *a: torch.nn.functional.conv2d(*a, padding="same", dilation=d), [x, w, b])


# ----------------------------------------------------------------------------- padding modes

MODES = ["zeros", "reflect", "replicate", "circular"]
PM_CASES = [(p, s, d) for p in [1, 2, (1, 2), "same"] for s in [1, 2] for d in [1, 2]
            if not (p == "same" and s != 1)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p,s,d", PM_CASES)
def test_conv2d_padding_mode_forward(mode, p, s, d):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)
    want = R.conv_ref_fast(x, w, b, s, p, d, 1, padding_mode=mode)
    for dtype in DTYPES:
        out = F.conv2d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), s, p, d, 1, padding_mode=mode)
        R.assert_forward(out.numpy(), want, dtype)


def test_reference_padding_modes_match_numpy_pad():
    x = np.arange(20.0).reshape(1, 1, 4, 5)
    for mode, np_mode in [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]:
        np.testing.assert_array_equal(R.pad_ref(x, ((2, 1), (3, 2)), mode),
                                      np.pad(x, ((0, 0), (0, 0), (2, 1), (3, 2)), mode=np_mode))


@pytest.mark.parity
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p,s,d", PM_CASES)
def test_conv2d_padding_mode_matches_torch_module(mode, p, s, d, torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 7))
    w = rng.standard_normal((3, 2, 3, 3))
    b = rng.standard_normal(3)

    def torch_fn(x_, w_, b_):
        conv = torch.nn.Conv2d(2, 3, 3, stride=s, padding=p, dilation=d, padding_mode=mode)
        del conv.weight, conv.bias  # use the leaf tensors themselves so their .grad fills
        conv.weight, conv.bias = w_, b_
        return conv(x_)

    parity(torch, lambda *a: F.conv2d(*a, stride=s, padding=p, dilation=d, padding_mode=mode), torch_fn, [x, w, b])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p,s", [(1, 1), (2, 2), ((1, 2), 1), ("same", 1)])
def test_conv2d_padding_mode_gradcheck(mode, p, s):
    rng = np.random.default_rng(6)
    x = ck(rng.standard_normal((1, 2, 4, 5)), True)
    w = ck(rng.standard_normal((2, 2, 3, 3)), True)
    b = ck(rng.standard_normal(2), True)
    gradcheck(lambda *a: F.conv2d(*a, stride=s, padding=p, padding_mode=mode), x, w, b)


# ----------------------------------------------------------------------------- batch 1, unbatched, non-contiguous


def test_conv2d_batch_one_and_unbatched():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 7, 6))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    want = R.conv_ref(x[None], w, b, 2, 1)
    for dtype in DTYPES:
        batched = F.conv2d(ck(x[None], dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), 2, 1)
        R.assert_forward(batched.numpy(), want, dtype)
        unbatched = F.conv2d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), 2, 1)
        R.assert_forward(unbatched.numpy(), want[0], dtype)


def test_conv2d_unbatched_gradcheck():
    rng = np.random.default_rng(8)
    x = ck(rng.standard_normal((2, 4, 5)), True)
    w = ck(rng.standard_normal((3, 2, 2, 3)), True)
    b = ck(rng.standard_normal(3), True)
    gradcheck(lambda *a: F.conv2d(*a, padding=1, stride=(2, 1)), x, w, b)


@pytest.mark.parity
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_unbatched_parity(nd, torch):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3,) + (6,) * nd)
    w = rng.standard_normal((2, 3) + (3,) * nd)
    b = rng.standard_normal(2)
    c_fn = getattr(F, f"conv{nd}d")
    t_fn = getattr(torch.nn.functional, f"conv{nd}d")
    parity(torch, lambda *a: c_fn(*a, stride=2, padding=1), lambda *a: t_fn(*a, stride=2, padding=1), [x, w, b])


NONCONTIG = {
    "transposed_hw": lambda a: np.swapaxes(a, 2, 3),
    "sliced_step": lambda a: a[:, :, ::2, 1:],
    "channels_last_view": lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1)).transpose(0, 3, 1, 2),
    "negative_strides": lambda a: a[:, ::-1, ::-1, :],
}


@pytest.mark.parametrize("name", list(NONCONTIG))
def test_conv2d_non_contiguous_numpy_views(name):
    rng = np.random.default_rng(10)
    base = rng.standard_normal((2, 4, 10, 9))
    view = NONCONTIG[name](base)
    assert not view.flags["C_CONTIGUOUS"]
    w_base = rng.standard_normal((3, 3, 4, 2))
    w = w_base.transpose(0, 2, 3, 1)[:, :, ::-1]  # (3, 4, 3, 2) non-contiguous weight
    want = R.conv_ref_fast(np.ascontiguousarray(view), np.ascontiguousarray(w), None, (2, 1), 1, 1)
    for dtype in DTYPES:
        v = view.astype(dtype, copy=False) if dtype == np.float64 else view.astype(dtype)
        out = F.conv2d(cnnkit.tensor(v), cnnkit.tensor(w.astype(dtype)), stride=(2, 1), padding=1)
        R.assert_forward(out.numpy(), want, dtype)


def test_conv2d_non_contiguous_tensor_views_gradcheck():
    rng = np.random.default_rng(11)
    x = ck(rng.standard_normal((1, 2, 5, 6)), True)
    w = ck(rng.standard_normal((2, 3, 2, 2)), True)

    def fn(x_, w_):
        # a transposed, sliced input and a permuted weight: neither is C-contiguous
        xt = x_.transpose(2, 3)[:, :, 1:, ::2]
        return F.conv2d(xt, w_.permute(0, 1, 3, 2).transpose(0, 1)[:2].permute(1, 0, 2, 3)[:, :, :, :],
                        stride=1, padding=1)

    gradcheck(fn, x, w)


@pytest.mark.parity
def test_conv2d_non_contiguous_parity(torch):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 8, 7))
    w = rng.standard_normal((4, 3, 3, 2))
    parity(torch,
           lambda x_, w_: F.conv2d(x_.transpose(2, 3)[:, :, ::2], w_.transpose(2, 3), stride=(1, 2), padding=1),
           lambda x_, w_: torch.nn.functional.conv2d(x_.transpose(2, 3)[:, :, ::2], w_.transpose(2, 3),
                                                     stride=(1, 2), padding=1),
           [x, w])


# ----------------------------------------------------------------------------- conv1d


def _cases1d():
    for k, s, p in itertools.product([1, 2, 3, 5], [1, 2, 3], [0, 1, 2, "valid", "same"]):
        yield pytest.param(k, s, p, id=f"k{k}-s{s}-p{p}")


CASES1D = list(_cases1d())
G1 = [1, 2, 4]


def _data1d(k, g):
    rng = np.random.default_rng(k * 10 + g)
    return rng.standard_normal((2, 4, 11)), rng.standard_normal((4, 4 // g, k)), rng.standard_normal(4)


@pytest.mark.parametrize("k,s,p", CASES1D)
def test_conv1d_forward(k, s, p):
    for d, g, label in combos((11,), (k,), s, p, [1, 2], G1):
        x, w, b = _data1d(k, g)
        want = R.conv_ref_fast(x, w, b, s, p, d, g)
        for dtype in DTYPES:
            out = F.conv1d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), s, p, d, g)
            labelled(label, lambda: R.assert_forward(out.numpy(), want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p", [c for c in CASES1D if torch_can(c.values[2], (c.values[1],))])
def test_conv1d_parity(k, s, p, torch):
    for d, g, label in combos((11,), (k,), s, p, [1, 2], G1):
        x, w, b = _data1d(k, g)
        labelled(label, lambda: parity(
            torch, lambda *a: F.conv1d(*a, stride=s, padding=p, dilation=d, groups=g),
            lambda *a: torch.nn.functional.conv1d(*a, stride=s, padding=p, dilation=d, groups=g), [x, w, b]))


@pytest.mark.parametrize("k,s,p,d,g", [(1, 1, 0, 1, 1), (3, 2, 1, 1, 2), (2, 3, "same", 2, 1), (5, 1, 2, 1, 2),
                                       (3, 1, "same", 2, 2)])
def test_conv1d_gradcheck(k, s, p, d, g):
    rng = np.random.default_rng(13)
    x = ck(rng.standard_normal((2, 2, 9)), True)
    w = ck(rng.standard_normal((4, 2 // g, k)), True)
    b = ck(rng.standard_normal(4), True)
    gradcheck(lambda *a: F.conv1d(*a, stride=s, padding=p, dilation=d, groups=g), x, w, b)


@pytest.mark.parametrize("mode", MODES)
def test_conv1d_padding_modes(mode):
    rng = np.random.default_rng(14)
    x, w, b = rng.standard_normal((2, 2, 7)), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)
    want = R.conv_ref(x, w, b, 1, 2, 1, padding_mode=mode)
    out = F.conv1d(ck(x), ck(w), ck(b), padding=2, padding_mode=mode)
    R.assert_forward(out.numpy(), want, np.float64)


# ----------------------------------------------------------------------------- conv3d


def _cases3d():
    for k, s, p in itertools.product([(1, 1, 1), (2, 2, 2), (3, 3, 3), (2, 3, 1)], [1, 2, (1, 2, 3)],
                                     [0, 1, (1, 0, 2), "same"]):
        yield pytest.param(k, s, p, id=f"k{''.join(map(str, k))}-s{s}-p{p}".replace(" ", ""))


CASES3D = list(_cases3d())
G3 = [1, 2]


def _data3d(k, g):
    rng = np.random.default_rng(sum(k) * 10 + g)
    return rng.standard_normal((2, 2, 5, 6, 5)), rng.standard_normal((2, 2 // g) + k), rng.standard_normal(2)


@pytest.mark.parametrize("k,s,p", CASES3D)
def test_conv3d_forward(k, s, p):
    for d, g, label in combos((5, 6, 5), k, s, p, [1, 2], G3):
        x, w, b = _data3d(k, g)
        want = R.conv_ref_fast(x, w, b, s, p, d, g)
        for dtype in DTYPES:
            out = F.conv3d(ck(x, dtype=dtype), ck(w, dtype=dtype), ck(b, dtype=dtype), s, p, d, g)
            labelled(label, lambda: R.assert_forward(out.numpy(), want, dtype))


@pytest.mark.parity
@pytest.mark.parametrize("k,s,p", [c for c in CASES3D if torch_can(c.values[2], norm_stride(c.values[1], 3))])
def test_conv3d_parity(k, s, p, torch):
    for d, g, label in combos((5, 6, 5), k, s, p, [1, 2], G3):
        x, w, b = _data3d(k, g)
        labelled(label, lambda: parity(
            torch, lambda *a: F.conv3d(*a, stride=s, padding=p, dilation=d, groups=g),
            lambda *a: torch.nn.functional.conv3d(*a, stride=s, padding=p, dilation=d, groups=g), [x, w, b]))


@pytest.mark.parametrize("k,s,p,g", [((2, 2, 2), 1, 0, 1), ((2, 1, 2), 2, 1, 2), ((3, 3, 3), 2, "same", 1)])
def test_conv3d_gradcheck(k, s, p, g):
    rng = np.random.default_rng(15)
    x = ck(rng.standard_normal((1, 2, 3, 4, 3)), True)
    w = ck(rng.standard_normal((2, 2 // g) + k), True)
    b = ck(rng.standard_normal(2), True)
    gradcheck(lambda *a: F.conv3d(*a, stride=s, padding=p, groups=g), x, w, b)


@pytest.mark.parity
@pytest.mark.parametrize("mode", MODES[1:])
def test_conv3d_padding_mode_matches_torch_module(mode, torch):
    rng = np.random.default_rng(16)
    x, w, b = rng.standard_normal((1, 2, 4, 5, 4)), rng.standard_normal((2, 2, 3, 3, 3)), rng.standard_normal(2)

    def torch_fn(x_, w_, b_):
        conv = torch.nn.Conv3d(2, 2, 3, padding=1, padding_mode=mode)
        del conv.weight, conv.bias
        conv.weight, conv.bias = w_, b_
        return conv(x_)

    parity(torch, lambda *a: F.conv3d(*a, padding=1, padding_mode=mode), torch_fn, [x, w, b])


# ----------------------------------------------------------------------------- convolve2d (true convolution)


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 0), (1, 1), (2, 2)])
def test_convolve2d_flips_the_kernel(stride, padding):
    rng = np.random.default_rng(17)
    img = rng.standard_normal((7, 6))
    k = rng.standard_normal((3, 2))
    want = R.true_convolve2d_ref(img, k, stride, padding)
    for dtype in DTYPES:
        out = F.convolve2d(ck(img, dtype=dtype), ck(k, dtype=dtype), stride=stride, padding=padding)
        R.assert_forward(out.numpy(), want, dtype)


def test_convolve2d_batched_and_gradcheck():
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, 2, 5, 5))
    k = rng.standard_normal((3, 2, 3, 3))
    want = R.conv_ref(x, k[..., ::-1, ::-1], None, 1, 1)
    R.assert_forward(F.convolve2d(ck(x), ck(k), padding=1).numpy(), want, np.float64)
    gradcheck(lambda a, b: F.convolve2d(a, b, stride=2), ck(rng.standard_normal((6, 5)), True),
              ck(rng.standard_normal((2, 3)), True))


def test_convolve2d_equals_conv2d_for_symmetric_kernel():
    rng = np.random.default_rng(19)
    img = rng.standard_normal((6, 6))
    k = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    a = F.convolve2d(ck(img), ck(k)).numpy()
    b = F.conv2d(ck(img[None, None]), ck(k[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(a, b, rtol=1e-12)


# ----------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize("kwargs", [dict(groups=3), dict(stride=0), dict(padding=-1), dict(dilation=0),
                                    dict(padding="full"), dict(padding_mode="mirror", padding=1)])
def test_conv2d_rejects_bad_arguments(kwargs):
    x = cnnkit.ones(1, 4, 5, 5)
    w = cnnkit.ones(4, 4 // kwargs.get("groups", 1) if kwargs.get("groups", 1) != 3 else 4, 3, 3)
    with pytest.raises(ValueError):
        F.conv2d(x, w, **kwargs)


def test_conv2d_rejects_kernel_larger_than_padded_input():
    with pytest.raises(ValueError):
        F.conv2d(cnnkit.ones(1, 1, 4, 4), cnnkit.ones(1, 1, 3, 3), dilation=2)


# ----------------------------------------------------------------------------- signature, partial gradients, edge cases


@pytest.mark.parity
@pytest.mark.parametrize("name", ["conv1d", "conv2d", "conv3d"])
def test_signature_matches_torch(name, torch):
    assert R.signature_mismatches(getattr(F, name), R.torch_signature(torch, name)) == []


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (True, False, True)])
def test_conv2d_gradients_only_for_inputs_that_require_them(needs):
    rng = np.random.default_rng(20)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    tensors = [ck(a, g) for a, g in zip((x, w, b), needs)]
    out = F.conv2d(*tensors, stride=2, padding=1)
    g = rng.standard_normal(out.shape)
    out.backward(cnnkit.tensor(g))
    # the same gradients as when every input requires grad (those are checked above by gradcheck and
    # PyTorch parity); the others stay None; the bias gradient is Σ of g over batch and positions
    full = [ck(a, True) for a in (x, w, b)]
    F.conv2d(*full, stride=2, padding=1).backward(cnnkit.tensor(g))
    for t, f, need in zip(tensors, full, needs):
        if need:
            np.testing.assert_allclose(t.grad.numpy(), f.grad.numpy(), rtol=1e-12)
        else:
            assert t.grad is None
    np.testing.assert_allclose(full[2].grad.numpy(), g.sum(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("s", [2, 3])
def test_conv2d_strided_same_with_padding_modes(mode, s):
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((2, 2, 3, 2))
    want = R.conv_ref(x, w, None, s, "same", 1, 1, padding_mode=mode)
    assert want.shape[2:] == (-(-7 // s), -(-8 // s))
    R.assert_forward(F.conv2d(ck(x), ck(w), stride=s, padding="same", padding_mode=mode).numpy(), want, np.float64)


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_conv2d_padding_mode_with_groups_and_dilation(mode, groups):
    rng = np.random.default_rng(22)
    x, w, b = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((4, 4 // groups, 3, 3)), rng.standard_normal(4)
    want = R.conv_ref_fast(x, w, b, 1, 2, 2, groups, padding_mode=mode)
    R.assert_forward(F.conv2d(ck(x), ck(w), ck(b), 1, 2, 2, groups, padding_mode=mode).numpy(), want, np.float64)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_empty_batch(nd):
    x = cnnkit.zeros(0, 2, *(5,) * nd)
    w = cnnkit.ones(3, 2, *(3,) * nd)
    out = getattr(F, f"conv{nd}d")(x, w, padding=1)
    assert out.shape == (0, 3) + (5,) * nd
