"""The Winograd convolution path, continued: which convolutions take it, buffers and graphs,
training, and non-finite values (see test_conv_winograd.py for the method and the tolerances)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath
from cnnkit.backend import winograd as W

from .winograd_reference import (
    _check_all, _close, _data, _is_winograd, _ref_backward, _ref_forward, _run, needs_kernels,
)


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
