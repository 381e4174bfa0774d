"""The Winograd F(m×m, r×r) fast path of 2-D convolution (``backend.winograd`` + ``ops.conv_winograd``).

Every value is checked against a float64 NumPy reference written here with explicit loops over
the kernel offsets (itself checked against per-pixel scalar loops), never against cnnkit's own
im2col. Each test asserts which path really ran: a Winograd graph node keeps the module
``cnnkit.ops.conv_winograd`` as ``creator.saved[0]``.

Tolerances: in float32 Winograd differs from an exact correlation by about 1e-6 (F(4×4, 3×3)) to
5e-6 (F(3×3, 5×5)) of the output's scale, so float32 results are compared with
``atol = 2e-5 · max|reference|`` (no rtol: individual entries near zero carry the scale's error).
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath
from cnnkit.backend import winograd as W
from cnnkit.ops.conv import ConvNd

from .winograd_reference import (
    ALL_TILES, _check_all, _close, _correlate2d_loops, _data, _is_winograd, _ref_backward,
    _ref_forward, _run, needs_kernels,
)


# --- the reference itself -----------------------------------------------------------------------------

def test_reference_matches_scalar_loops():
    """The offset-loop reference used everywhere below: forward against per-pixel scalar loops,
    backward against differences of the forward (exact, as the correlation is linear)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((2, 3, 3, 2))
    b = rng.standard_normal(2)
    pads = ((1, 2), (0, 1))
    y = _ref_forward(x, w, b, pads)
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    expect = np.array([[sum(_correlate2d_loops(xp[n, c], w[k, c]) for c in range(3)) + b[k] for k in range(2)]
                       for n in range(2)])
    np.testing.assert_allclose(y, expect, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    grads = _ref_backward(x, w, g, pads)
    for which, grad in enumerate(grads):
        for idx in np.ndindex(grad.shape):
            args = [x.copy(), w.copy(), b.copy()]
            args[which][idx] += 1.0
            assert np.isclose(((_ref_forward(*args, pads) - y) * g).sum(), grad[idx], rtol=1e-10, atol=1e-10)


# --- 1. the transform matrices -----------------------------------------------------------------------

@pytest.mark.parametrize("m,r", ALL_TILES)
def test_matrices_1d_identity(m, r):
    at, g, bt = W.matrices(m, r)
    alpha = m + r - 1
    assert at.shape == (m, alpha) and g.shape == (alpha, r) and bt.shape == (alpha, alpha)
    assert at.dtype == g.dtype == bt.dtype == np.float64
    rng = np.random.default_rng(m * 10 + r)
    for _ in range(5):
        d, k = rng.standard_normal(alpha), rng.standard_normal(r)
        np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), np.correlate(d, k, "valid"), rtol=0, atol=1e-9)


@pytest.mark.parametrize("m,r", ALL_TILES)
def test_matrices_2d_nested_identity(m, r):
    at, g, bt = W.matrices(m, r)
    alpha = m + r - 1
    rng = np.random.default_rng(100 + m * 10 + r)
    for _ in range(3):
        d, k = rng.standard_normal((alpha, alpha)), rng.standard_normal((r, r))
        y = at @ ((g @ k @ g.T) * (bt @ d @ bt.T)) @ at.T
        np.testing.assert_allclose(y, _correlate2d_loops(d, k), rtol=0, atol=1e-9)


# --- 2. forward and backward against the float64 reference -------------------------------------------

# (name, N, C_in, C_out, kernel, (H, W), padding given to conv2d)
SHAPES = [
    ("lenet_conv2", 17, 20, 50, 5, (14, 14), 2),
    ("mnist_conv2", 33, 32, 64, 3, (26, 26), 0),
    ("vgg_8x8", 2, 64, 64, 3, (8, 8), 1),
    ("odd_11x13_batch70", 70, 8, 5, 3, (11, 13), 1),
    ("odd_13x11_5x5_rowcol_pad", 1, 9, 4, 5, (13, 11), (1, 2)),
    ("same_3x3_batch33", 33, 8, 3, 3, (7, 9), "same"),
    ("out_3x8_smaller_than_tile", 3, 8, 3, 3, (5, 10), 0),
    ("out_3x2_5x5", 2, 10, 4, 5, (7, 6), 0),
    ("out_2x2", 1, 8, 2, 3, (2, 2), 1),
    ("padding_beyond_kernel", 4, 8, 6, 3, (5, 5), 3),
]


def _pads(padding, k):
    if padding == "same":
        return (((k - 1) // 2, k // 2),) * 2
    p = (padding, padding) if isinstance(padding, int) else padding
    return tuple((q, q) for q in p)


@needs_kernels
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("name,n,c_in,c_out,k,hw,padding", SHAPES, ids=[s[0] for s in SHAPES])
def test_forward_backward_match_reference(name, n, c_in, c_out, k, hw, padding, bias):
    rng = np.random.default_rng(len(name) * 31 + n)
    x, w, b = _data(rng, n, c_in, c_out, k, hw, bias=bias)
    pads = _pads(padding, k)
    out_hw = tuple(s + lo + hi - k + 1 for s, (lo, hi) in zip(hw, pads))
    grad = rng.standard_normal((n, c_out, *out_hw)).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=padding)
    assert wino is not None and y.shape == (n, c_out, *out_hw)
    _check_all(x, w, b, pads, y, dx, dw, db, grad)


@needs_kernels
def test_small_output_cases_really_use_partial_tiles():
    """The 'smaller than a tile' shapes above do get a tile larger than one output side."""
    x, w = np.zeros((1, 8, 5, 10), np.float32), np.zeros((3, 8, 3, 3), np.float32)
    p = W.plan(x, w, (3, 8), (1, 1), (1, 1), 1)
    assert p is not None and p.m > 3 and p.tiles == (1, 2)
    p = W.plan(np.zeros((1, 10, 7, 6), np.float32), np.zeros((4, 10, 5, 5), np.float32), (3, 2), (1, 1), (1, 1), 1)
    assert p is not None and p.m == 3 and p.tiles == (1, 1)


@needs_kernels
@pytest.mark.parametrize("m,r", ALL_TILES)
def test_every_tile_size_through_the_op(monkeypatch, m, r):
    """Force each F(m, r) of ``_TILES`` (normally chosen by cost) on odd, non-square outputs with
    per-axis padding, through forward and backward."""
    monkeypatch.setattr(W, "_TILES", {r: (m,)})
    rng = np.random.default_rng(m * 7 + r)
    x, w, b = _data(rng, 5, 8, 6, r, (11, 9))
    pads = ((1, 1), (2, 2))
    grad = rng.standard_normal((5, 6, 11 + 2 - r + 1, 9 + 4 - r + 1)).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=(1, 2))
    assert wino is not None and wino[0].m == m
    _check_all(x, w, b, pads, y, dx, dw, db, grad)


@needs_kernels
@pytest.mark.parametrize("pads", [((1, 2), (0, 3)), ((2, 0), (0, 1)), ((0, 4), (3, 0))])
@pytest.mark.parametrize("k", [3, 5])
def test_asymmetric_padding(pads, k):
    """conv2d only makes symmetric pairs for odd kernels ('same' is symmetric at stride 1), so the
    op is applied directly with (before, after) pairs that differ, as the kernels must support."""
    rng = np.random.default_rng(k)
    x, w, b = _data(rng, 3, 8, 4, k, (9, 10))
    xt, wt, bt = (cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = ConvNd.apply(xt, wt, bt, stride=(1, 1), padding=pads, dilation=(1, 1), groups=1)
    assert _is_winograd(y)
    grad = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(grad)
    _check_all(x, w, b, pads, y, xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), grad)


@needs_kernels
@pytest.mark.parametrize("threads, n, chunks, shared", [("1", 70, 2, False), ("2", 70, 2, False),
                                                        ("3", 70, 1, True), ("2", 32, 1, True),
                                                        ("2", 9, 1, True), ("4", 130, 4, False)])
def test_thread_counts(monkeypatch, threads, n, chunks, shared):
    """The batch is cut into chunks of about 32 images, one per thread or more; with fewer
    chunks than threads one chunk's stages are shared out by channel: same results either way."""
    monkeypatch.setenv("CNNKIT_THREADS", threads)
    rng = np.random.default_rng(5)
    x, w, b = _data(rng, n, 9, 5, 3, (6, 7))
    grad = rng.standard_normal((n, 5, 6, 7)).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=1)
    assert wino is not None and len(wino[2]) == chunks and wino[3] is shared
    _check_all(x, w, b, ((1, 1), (1, 1)), y, dx, dw, db, grad)


@needs_kernels
def test_unbatched_input_and_reflect_padding_mode():
    rng = np.random.default_rng(6)
    x, w, b = _data(rng, 1, 8, 3, 3, (6, 6))
    y = F.conv2d(cnnkit.from_numpy(x[0]), cnnkit.from_numpy(w).requires_grad_(), cnnkit.from_numpy(b), padding=1)
    assert y.shape == (3, 6, 6) and _is_winograd(y.creator.inputs[0])  # y = squeeze(conv(x[None]))
    _close(y.numpy(), _ref_forward(x, w, b, ((1, 1), (1, 1)))[0])
    # reflect: padded by PadMode first, then a padding-0 convolution on the Winograd path
    y = F.conv2d(cnnkit.from_numpy(x).requires_grad_(), cnnkit.from_numpy(w), cnnkit.from_numpy(b), padding=1,
                 padding_mode="reflect")
    assert y.creator.inputs[0].creator is not None and _is_winograd(y)
    _close(y.numpy(), _ref_forward(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"), w, b, ((0, 0),) * 2))


# --- 3./4. partial gradients and inference ----------------------------------------------------------------

@needs_kernels
def test_first_layer_without_input_grad(monkeypatch):
    """Input without requires_grad: dw and db right, and the input-gradient kernel never runs."""
    W._load()
    calls = []
    original = W._compiled["from_points"]

    def spy(*args):  # from_points(points, rt, step, tiles_y, tiles_x, plane, bias, add, c0, c1)
        if args[7]:  # add=True: the input transform's adjoint, i.e. dx
            calls.append(1)
        return original(*args)

    monkeypatch.setitem(W._compiled, "from_points", spy)
    rng = np.random.default_rng(7)
    x, w, b = _data(rng, 33, 8, 6, 5, (10, 10))
    xt, wt, bt = cnnkit.from_numpy(x), cnnkit.from_numpy(w).requires_grad_(), cnnkit.from_numpy(b).requires_grad_()
    y = F.conv2d(xt, wt, bt, padding=2)
    assert _is_winograd(y)
    grad = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(grad)
    assert xt.grad is None and calls == []
    _, rdw, rdb = _ref_backward(x, w, grad, ((2, 2), (2, 2)))
    _close(wt.grad.numpy(), rdw)
    _close(bt.grad.numpy(), rdb)
    # and the kernel is counted when dx is wanted (the check above is not vacuous)
    y = F.conv2d(cnnkit.from_numpy(x).requires_grad_(), wt, bt, padding=2)
    y.backward(grad)
    assert calls


@needs_kernels
def test_only_bias_or_only_input_requires_grad():
    rng = np.random.default_rng(8)
    x, w, b = _data(rng, 4, 8, 3, 3, (6, 6))
    grad = rng.standard_normal((4, 3, 6, 6)).astype(np.float32)
    rdx, _, rdb = _ref_backward(x, w, grad, ((1, 1), (1, 1)))
    xt, wt, bt = cnnkit.from_numpy(x), cnnkit.from_numpy(w), cnnkit.from_numpy(b).requires_grad_()
    y = F.conv2d(xt, wt, bt, padding=1)
    assert _is_winograd(y)
    assert all(item[0] is None for item in y.creator.saved[1][2])  # only the bias: no tiles kept
    y.backward(grad)
    assert xt.grad is None and wt.grad is None
    _close(bt.grad.numpy(), rdb)
    xt = cnnkit.from_numpy(x).requires_grad_()
    y = F.conv2d(xt, wt, cnnkit.from_numpy(b), padding=1)
    assert _is_winograd(y)
    # a frozen weight: the transformed input tiles (only the weight gradient reads them) are not kept
    assert all(item[0] is None for item in y.creator.saved[1][2])
    y.backward(grad)
    assert wt.grad is None
    _close(xt.grad.numpy(), rdx)


@needs_kernels
def test_inference_keeps_nothing(monkeypatch):
    monkeypatch.setenv("CNNKIT_THREADS", "2")  # 2 chunks of 32 images: tile buffers big enough to pool
    rng = np.random.default_rng(9)
    x, w, b = _data(rng, 64, 16, 8, 3, (16, 16))
    ref = _ref_forward(x, w, b, ((1, 1), (1, 1)))
    xt, wt, bt = (cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b))
    with cnnkit.no_grad():
        y = F.conv2d(xt, wt, bt, padding=1)
    assert y.creator is None and not y.requires_grad
    _close(y.numpy(), ref)
    # no input requires grad: no graph either
    y = F.conv2d(cnnkit.from_numpy(x), cnnkit.from_numpy(w), cnnkit.from_numpy(b), padding=1)
    assert y.creator is None
    _close(y.numpy(), ref)
    # the same computation with a graph does take the Winograd path (so the above did too) ...
    kept = _run(x, w, b, None, padding=1)[4]
    assert kept is not None
    shapes = {item[0].shape for item in kept[2]}
    assert all(np.prod(s) * 4 >= fastpath._MIN_BYTES for s in shapes)
    # ... and without a graph, its tile buffers go straight back to the pool
    del kept
    fastpath.clear()
    with cnnkit.no_grad():
        F.conv2d(xt, wt, bt, padding=1)
    assert shapes <= {key[0] for key, stack in fastpath._free.items() if stack}


# --- 5. memory layouts -----------------------------------------------------------------------------------

@needs_kernels
def test_non_contiguous_input_weight_and_grad():
    rng = np.random.default_rng(10)
    n, c_in, c_out = 35, 8, 5
    # x: a transposed, strided, reversed view; w: a transposed view; grad: a channel-major strided view
    big = rng.standard_normal((n, 12, c_in, 22)).astype(np.float32)
    x = big.transpose(0, 2, 1, 3)[:, :, 1:, ::-2]  # (n, 8, 11, 11)
    w = np.ascontiguousarray((rng.standard_normal((c_in, c_out, 3, 3)) / 5).astype(np.float32)).transpose(1, 0, 3, 2)
    gbig = rng.standard_normal((c_out, n, 11, 22)).astype(np.float32)
    grad = gbig.transpose(1, 0, 2, 3)[..., 1::2]
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or grad.flags.c_contiguous)
    b = rng.standard_normal(c_out).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=1)
    assert wino is not None
    _check_all(x, w, b, ((1, 1), (1, 1)), y, dx, dw, db, grad)


# --- 6. agreement with the reference path and with PyTorch ----------------------------------------------

@needs_kernels
@pytest.mark.parametrize("k,padding,hw", [(3, 1, (9, 10)), (5, 2, (14, 14)), (3, 0, (13, 8))])
def test_matches_reference_path(k, padding, hw):
    rng = np.random.default_rng(11 + k)
    x, w, b = _data(rng, 20, 12, 7, k, hw)
    pads = _pads(padding, k)
    grad = rng.standard_normal((20, 7, *(s + 2 * padding - k + 1 for s in hw))).astype(np.float32)
    fast = _run(x, w, b, grad, padding=padding)
    with fastpath.reference_only():
        ref = _run(x, w, b, grad, padding=padding)
    assert fast[4] is not None and ref[4] is None
    exact = (_ref_forward(x, w, b, pads), *_ref_backward(x, w, grad, pads))
    for a, r, e in zip((fast[0].numpy(), *fast[1:4]), (ref[0].numpy(), *ref[1:4]), exact):
        assert a.dtype == r.dtype == np.float32
        _close(a, r)
        _close(r, e, 2e-6)  # im2col itself is near-exact: the loose tolerance is Winograd's


@needs_kernels
@pytest.mark.parametrize("k,padding,n", [(3, 1, 17), (5, 2, 33), (5, 0, 2)])
def test_matches_torch(torch, k, padding, n):
    rng = np.random.default_rng(12 + k)
    x, w, b = _data(rng, n, 16, 10, k, (12, 11))
    grad = rng.standard_normal((n, 10, 12 + 2 * padding - k + 1, 11 + 2 * padding - k + 1)).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=padding)
    assert wino is not None
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=padding)
    ty.backward(torch.tensor(grad))
    for a, t in ((y.numpy(), ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        _close(a, t.detach().numpy())
