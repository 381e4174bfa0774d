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

import gc

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath
from cnnkit.backend import winograd as W
from cnnkit.ops import conv_winograd
from cnnkit.ops.conv import ConvNd

needs_kernels = pytest.mark.skipif(W._load() is None, reason="numba not installed (no compiled Winograd kernels)")
TOL = 2e-5  # of max|reference|: float32 Winograd rounding (see the module docstring)
ALL_TILES = [(m, r) for r, ms in W._TILES.items() for m in ms]


# --- independent float64 references ----------------------------------------------------------------

def _correlate2d_loops(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D 'valid' cross-correlation with one scalar loop per output pixel and kernel tap."""
    out = np.zeros((d.shape[0] - g.shape[0] + 1, d.shape[1] - g.shape[1] + 1))
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            for i in range(g.shape[0]):
                for j in range(g.shape[1]):
                    out[y, x] += d[y + i, x + j] * g[i, j]
    return out


def _ref_forward(x, w, b, pads):
    """y = b + Σ_{i,j} w[:, :, i, j] · x_padded[:, :, i:i+Ho, j:j+Wo], in float64.
    ``pads`` = ((top, bottom), (left, right))."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    kh, kw = w.shape[2:]
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    y = np.zeros((w.shape[0], x.shape[0], ho, wo))  # (K, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            y += np.tensordot(w[:, :, i, j], xp[:, :, i:i + ho, j:j + wo], axes=([1], [1]))
    if b is not None:
        y += np.asarray(b, np.float64)[:, None, None, None]
    return y.transpose(1, 0, 2, 3)


def _ref_backward(x, w, g, pads):
    """(dx, dw, db) of ``sum(y · g)`` for :func:`_ref_forward`, in float64, by the same offset loops."""
    x, w, g = (np.asarray(a, np.float64) for a in (x, w, g))
    (top, _), (left, _) = pads
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    kh, kw = w.shape[2:]
    ho, wo = g.shape[2:]
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + ho, j:j + wo]
            dw[:, :, i, j] = np.tensordot(g, patch, axes=([0, 2, 3], [0, 2, 3]))
            dxp[:, :, i:i + ho, j:j + wo] += np.tensordot(g, w[:, :, i, j], axes=([1], [0])).transpose(0, 3, 1, 2)
    dx = dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    return dx, dw, g.sum(axis=(0, 2, 3))


def _close(actual, reference, tol=TOL, what=""):
    reference = np.asarray(reference, np.float64)
    atol = tol * max(np.abs(reference).max(), 1e-30)
    np.testing.assert_allclose(np.asarray(actual, np.float64), reference, rtol=0, atol=atol, err_msg=what)


def _is_winograd(y) -> bool:
    return y.creator is not None and y.creator.saved[0] is conv_winograd


def _data(rng, n, c_in, c_out, k, hw, dtype=np.float32, bias=True):
    x = rng.standard_normal((n, c_in, *hw)).astype(dtype)
    w = (rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def _run(x, w, b, grad=None, conv=None, **kw):
    """Forward (and backward with upstream ``grad``) through cnnkit. Returns (y tensor, dx, dw, db,
    wino): ``wino`` is what the Winograd path kept, ``(plan, U, chunks)``, or None on im2col."""
    xt, wt = cnnkit.from_numpy(x).requires_grad_(), cnnkit.from_numpy(w).requires_grad_()
    bt = None if b is None else cnnkit.from_numpy(b).requires_grad_()
    y = conv(xt, wt, bt) if conv is not None else F.conv2d(xt, wt, bt, **kw)
    wino = y.creator.saved[1] if _is_winograd(y) else None  # read now: backward releases it
    if grad is not None:
        y.backward(grad)
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return y, *grads, wino


def _check_all(x, w, b, pads, y, dx, dw, db, grad, tol=TOL):
    _close(y.numpy(), _ref_forward(x, w, b, pads), tol, "forward")
    rdx, rdw, rdb = _ref_backward(x, w, grad, pads)
    _close(dx, rdx, tol, "dx")
    _close(dw, rdw, tol, "dw")
    if b is not None:
        _close(db, rdb, tol, "db")
    for a in (y.numpy(), dx, dw) + ((db,) if b is not None else ()):
        assert a.dtype == np.float32


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


# --- 7. eligibility ------------------------------------------------------------------------------------------

# (name, conv, x shape, w shape, kwargs, dtype)
INELIGIBLE = [
    ("float64", F.conv2d, (3, 8, 9, 9), (4, 8, 3, 3), dict(padding=1), np.float64),
    ("float64_5x5", F.conv2d, (33, 16, 10, 10), (6, 16, 5, 5), dict(padding=2), np.float64),
    ("stride2", F.conv2d, (3, 8, 9, 9), (4, 8, 3, 3), dict(stride=2, padding=1), np.float32),
    ("stride_1x2", F.conv2d, (3, 8, 9, 9), (4, 8, 3, 3), dict(stride=(1, 2)), np.float32),
    ("dilation2", F.conv2d, (3, 8, 9, 9), (4, 8, 3, 3), dict(dilation=2, padding=2), np.float32),
    ("groups2", F.conv2d, (3, 16, 9, 9), (4, 8, 3, 3), dict(groups=2, padding=1), np.float32),
    ("c_in_below_min", F.conv2d, (3, W.MIN_CHANNELS - 1, 9, 9), (4, W.MIN_CHANNELS - 1, 3, 3), {}, np.float32),
    ("kernel7", F.conv2d, (3, 8, 9, 9), (4, 8, 7, 7), dict(padding=3), np.float32),
    ("kernel1", F.conv2d, (3, 8, 9, 9), (4, 8, 1, 1), {}, np.float32),
    ("kernel_3x5", F.conv2d, (3, 8, 9, 9), (4, 8, 3, 5), {}, np.float32),
    ("kernel4_same", F.conv2d, (3, 8, 9, 9), (4, 8, 4, 4), dict(padding="same"), np.float32),
    ("output_1x1", F.conv2d, (3, 8, 3, 3), (4, 8, 3, 3), {}, np.float32),
    ("output_1_row", F.conv2d, (3, 8, 3, 9), (4, 8, 3, 3), {}, np.float32),
    ("conv1d", F.conv1d, (3, 8, 20), (4, 8, 3), dict(padding=1), np.float32),
    ("conv3d", F.conv3d, (2, 8, 5, 6, 7), (4, 8, 3, 3, 3), dict(padding=1), np.float32),
]


@needs_kernels
@pytest.mark.parametrize("name,conv,xs,ws,kw,dtype", INELIGIBLE, ids=[c[0] for c in INELIGIBLE])
def test_ineligible_convolutions_use_im2col(name, conv, xs, ws, kw, dtype):
    rng = np.random.default_rng(13)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    y, *_, wino = _run(x, w, b, None, conv=lambda xt, wt, bt: conv(xt, wt, bt, **kw))
    assert y.creator is not None and y.creator.saved and wino is None
    # the planner itself says no (conv.py only asks it for 2-D kernels)
    out = y.shape[2:]
    stride = tuple(kw.get("stride", 1) for _ in out) if isinstance(kw.get("stride", 1), int) else kw["stride"]
    dilation = tuple(kw.get("dilation", 1) for _ in out)
    assert W.plan(x, w, out, stride, dilation, kw.get("groups", 1)) is None


@needs_kernels
@pytest.mark.parametrize("bias", [True, False])
def test_float64_stays_exact(bias):
    """float64 never takes Winograd, so it matches the float64 loop reference to rounding."""
    rng = np.random.default_rng(14)
    x, w, b = _data(rng, 33, 16, 6, 5, (10, 9), dtype=np.float64, bias=bias)
    grad = rng.standard_normal((33, 6, 10, 9))
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=2)
    assert y.dtype == np.float64 and wino is None
    assert _run(x.astype(np.float32), w.astype(np.float32), None, None, padding=2)[4] is not None
    pads = ((2, 2), (2, 2))
    exact = (_ref_forward(x, w, b, pads), *_ref_backward(x, w, grad, pads))
    for a, e in zip((y.numpy(), dx, dw, db), exact):
        if a is None:
            continue
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12 * np.abs(e).max())


@needs_kernels
def test_without_compiled_kernels_im2col_is_used(monkeypatch):
    rng = np.random.default_rng(15)
    x, w, b = _data(rng, 5, 8, 4, 3, (7, 7))
    grad = rng.standard_normal((5, 4, 7, 7)).astype(np.float32)
    monkeypatch.setattr(W, "_compiled", {})  # as after a failed numba import: loaded, nothing in it
    assert W.plan(x, w, (7, 7), (1, 1), (1, 1), 1) is None
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=1)
    assert wino is None
    _check_all(x, w, b, ((1, 1), (1, 1)), y, dx, dw, db, grad, tol=2e-6)
    monkeypatch.undo()
    assert W.plan(x, w, (7, 7), (1, 1), (1, 1), 1) is not None


# --- 8. buffers and graphs --------------------------------------------------------------------------------

def _step(x, w, b, grad):
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=1)
    assert wino is not None
    return y.numpy().copy(), dx, dw, db


@needs_kernels
def test_pooled_buffers_are_reused_correctly(monkeypatch):
    """v (the transformed tiles kept for backward) goes back to the pool after backward and the
    next step of the same shape takes it, dirty with the previous input gradient: results must
    be bit-identical and right."""
    monkeypatch.setenv("CNNKIT_THREADS", "2")  # 2 chunks of 32 images: tile buffers big enough to pool
    fastpath.clear()
    rng = np.random.default_rng(16)
    x, w, b = _data(rng, 64, 16, 8, 3, (16, 16))  # two chunks of 32: each v is 1.2 MB (poolable)
    grad = rng.standard_normal((64, 8, 16, 16)).astype(np.float32)
    xt, wt, bt = (cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b))
    y1 = F.conv2d(xt, wt, bt, padding=1)
    assert _is_winograd(y1)
    y1.backward(grad)
    first = (y1.numpy().copy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())
    pooled = {id(a) for stack in fastpath._free.values() for a in stack}
    xt, wt, bt = (cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b))
    y2 = F.conv2d(xt, wt, bt, padding=1)
    assert {id(item[0]) for item in y2.creator.saved[1][2]} <= pooled  # used buffers, not fresh ones
    y2.backward(grad)
    second = (y2.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())
    for a, c in zip(first, second):
        np.testing.assert_array_equal(a, c)
    _check_all(x, w, b, ((1, 1), (1, 1)), y2, *second[1:], grad)


@needs_kernels
def test_interleaved_graphs_and_dropped_graph(monkeypatch):
    """Two live graphs of the same shape hold different buffers; a graph dropped without backward
    and one computed under no_grad (which gives its buffers back at once) do not disturb them."""
    monkeypatch.setenv("CNNKIT_THREADS", "2")
    fastpath.clear()
    rng = np.random.default_rng(17)
    data = [_data(rng, 64, 16, 8, 3, (16, 16)) for _ in range(3)]
    grads = [rng.standard_normal((64, 8, 16, 16)).astype(np.float32) for _ in range(3)]
    _step(*data[2], grads[2])  # fill the pool
    leaves = [[cnnkit.from_numpy(a).requires_grad_() for a in d] for d in data]
    ya = F.conv2d(*leaves[0], padding=1)
    dropped = F.conv2d(*leaves[2], padding=1)
    yb = F.conv2d(*leaves[1], padding=1)
    ids_a, ids_b = ({id(item[0]) for item in y.creator.saved[1][2]} for y in (ya, yb))
    assert not ids_a & ids_b
    del dropped
    gc.collect()
    with cnnkit.no_grad():
        F.conv2d(*(cnnkit.from_numpy(a) for a in data[2]), padding=1)
    yb.backward(grads[1])
    _step(*data[2], grads[2])  # another step in between, taking yb's released buffers
    ya.backward(grads[0])
    for (x, w, b), g, y, (xt, wt, bt) in zip(data[:2], grads[:2], (ya, yb), leaves[:2]):
        _check_all(x, w, b, ((1, 1), (1, 1)), y, xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), g)


@needs_kernels
def test_backward_twice_without_retain_graph_raises():
    rng = np.random.default_rng(18)
    x, w, b = _data(rng, 4, 8, 4, 3, (6, 6))
    y = F.conv2d(*(cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b)), padding=1)
    assert _is_winograd(y)
    loss = y.sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


@needs_kernels
@pytest.mark.parametrize("wanted", ["dx", "dw"])
def test_backward_twice_with_retain_graph(wanted):
    """The kept tiles must survive the first backward (dw of the second one is computed from them)."""
    rng = np.random.default_rng(19)
    x, w, b = _data(rng, 4, 8, 4, 3, (6, 6))
    grad = rng.standard_normal((4, 4, 6, 6)).astype(np.float32)
    rdx, rdw, rdb = _ref_backward(x, w, grad, ((1, 1), (1, 1)))
    xt, wt, bt = (cnnkit.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, padding=1)
    assert _is_winograd(y)
    y.backward(grad, retain_graph=True)
    y.backward(grad)  # gradients accumulate: twice the reference
    got, expect = {"dx": (xt.grad, rdx), "dw": (wt.grad, rdw)}[wanted]
    _close(got.numpy(), 2 * expect)
    _close(bt.grad.numpy(), 2 * rdb)


# --- 9. training ---------------------------------------------------------------------------------------------

def _train(reference: bool) -> list:
    cnnkit.manual_seed(0)
    layer = cnnkit.nn.Conv2d(8, 8, 3, padding=1)
    opt = cnnkit.optim.SGD(layer.parameters(), lr=0.5)
    rng = np.random.default_rng(20)
    x = cnnkit.from_numpy(rng.standard_normal((16, 8, 8, 8)).astype(np.float32))
    target = cnnkit.from_numpy(rng.standard_normal((16, 8, 8, 8)).astype(np.float32))
    losses = []
    for _ in range(20):
        if reference:
            with fastpath.reference_only():
                y = layer(x)
        else:
            y = layer(x)
        assert _is_winograd(y) != reference
        loss = ((y - target) * (y - target)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@needs_kernels
def test_training_decreases_loss_like_reference():
    fast, ref = _train(False), _train(True)
    assert fast[-1] < 0.8 * fast[0] and ref[-1] < 0.8 * ref[0]
    np.testing.assert_allclose(fast, ref, rtol=1e-4)


# --- 10. NaN ---------------------------------------------------------------------------------------------------

@needs_kernels
@pytest.mark.parametrize("k,pos", [(3, (4, 6)), (5, (0, 9)), (3, (10, 0))])
def test_nan_propagates_to_its_receptive_field(k, pos):
    """A NaN input pixel makes NaN exactly the outputs whose window covers it, as im2col and
    PyTorch do: Winograd would spread it over whole tiles, so a non-finite input takes im2col
    (winograd.in_range). Every other output, and dx, stay finite and right."""
    rng = np.random.default_rng(21)
    pad = k // 2
    x, w, b = _data(rng, 3, 8, 4, k, (11, 10))
    assert _run(x, w, b, rng.standard_normal((3, 4, 11, 10)).astype(np.float32), padding=pad)[4] is not None
    x[1, 5, pos[0], pos[1]] = np.nan
    grad = rng.standard_normal((3, 4, 11, 10)).astype(np.float32)
    y, dx, dw, db, wino = _run(x, w, b, grad, padding=pad)
    yy = y.numpy()
    assert wino is None  # the eligible layer fell back to im2col for this input
    clean = x.copy()
    clean[1, 5, pos[0], pos[1]] = 0
    ref = _ref_forward(clean, w, b, ((pad, pad),) * 2)
    # outputs whose k×k window (in padded coordinates) holds the pixel: NaN, and only those
    must = np.zeros(yy.shape[2:], bool)
    must[max(pos[0] - pad, 0):pos[0] + k - pad, max(pos[1] - pad, 0):pos[1] + k - pad] = True
    assert np.isnan(yy[1][:, must]).all()
    assert not np.isnan(yy[1][:, ~must]).any()
    _close(yy[1][:, ~must], ref[1][:, ~must])
    _close(yy[[0, 2]], ref[[0, 2]])
    rdx, rdw, _ = _ref_backward(clean, w, grad, ((pad, pad),) * 2)
    assert np.isfinite(dx).all()
    _close(dx, rdx)
    # dw: NaN exactly in the NaN pixel's input channel, the other channels finite and right
    assert np.isnan(dw[:, 5]).any()
    keep = [c for c in range(8) if c != 5]
    _close(dw[:, keep], rdw[:, keep])
    _close(db, grad.sum(axis=(0, 2, 3)))
