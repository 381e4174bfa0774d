"""Fast paths against their reference paths (``backend.fastpath.reference_only``) and against
independent NumPy computations: max-pool winners, per-channel BatchNorm, the pooled im2col
buffer of convolutions, and Linear's transposed products."""

from __future__ import annotations

import numpy as np
import pytest

import cnnkit
import cnnkit.functional as F
from cnnkit.backend import fastpath


def _grads(fn, arrays, grad_out, reference):
    """Forward ``fn`` on fresh leaf tensors, backward ``grad_out``; return (output, input grads)."""
    leaves = [cnnkit.tensor(a, requires_grad=True) for a in arrays]
    if reference:
        with fastpath.reference_only():
            out = fn(*leaves)
            out.backward(cnnkit.tensor(grad_out))
    else:
        out = fn(*leaves)
        out.backward(cnnkit.tensor(grad_out))
    return out.numpy(), [leaf.grad.numpy() for leaf in leaves]


def _compare(fn, arrays, rng, rtol=1e-5, atol=1e-6):
    out_shape = fn(*[cnnkit.tensor(a) for a in arrays]).shape
    g = rng.standard_normal(out_shape).astype(np.float32)
    fast_out, fast_grads = _grads(fn, arrays, g, reference=False)
    ref_out, ref_grads = _grads(fn, arrays, g, reference=True)
    np.testing.assert_allclose(fast_out, ref_out, rtol=rtol, atol=atol)
    for a, b in zip(fast_grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return fast_out, fast_grads


def _cnhw(a: np.ndarray) -> np.ndarray:
    """The same values laid out channel-major, as a conv output is."""
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil", [
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), (2, 3, 0, 2, True), (3, 1, 1, 1, False), (2, 2, 1, 1, True),
])
def test_max_pool_fast_matches_reference(kernel, stride, padding, dilation, ceil):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    x[0, 0, :4, :4] = 1.0  # ties: the first maximum in the window must win
    fn = lambda t: F.max_pool2d(t, kernel, stride, padding, dilation, ceil)  # noqa: E731
    _compare(fn, [x], rng)
    _compare(fn, [_cnhw(x)], rng)


def test_max_pool_fast_path_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 4, 6)).astype(np.float32)
    x[1, 1, 0:2, 0:2] = 5.0  # four-way tie: the top-left cell takes the gradient
    g = rng.standard_normal((2, 2, 2, 3)).astype(np.float32)
    out, (gx,) = _grads(lambda t: F.max_pool2d(t, 2), [x], g, reference=False)
    windows = x.reshape(2, 2, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 2, 3, 4)
    np.testing.assert_array_equal(out, windows.max(axis=-1))
    expected = np.zeros_like(windows)
    first = windows.argmax(axis=-1)  # NumPy's argmax also picks the first maximum
    np.put_along_axis(expected, first[..., None], g[..., None], axis=-1)
    expected = expected.reshape(2, 2, 2, 3, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)
    np.testing.assert_array_equal(gx, expected)


def test_max_pool_indices_fast_matches_reference():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 7, 7)).astype(np.float32)
    _, fast = F.max_pool2d(cnnkit.tensor(x), 3, 2, 1, return_indices=True)
    with fastpath.reference_only():
        _, ref = F.max_pool2d(cnnkit.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(fast.numpy(), ref.numpy())


@pytest.mark.parametrize("special", ["nan", "neginf", "inf_grad"])
def test_max_pool_special_values_match_reference(special):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    g = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    if special == "nan":
        x[0, 0, 1, 1] = np.nan
    elif special == "neginf":
        x[0, 1, :2, :2] = -np.inf  # a window of real -inf beside -inf padding
    else:
        g[0, 0, 0, 0] = np.inf  # inf·0 must not leave NaN in cells that get no gradient
    fn = lambda t: F.max_pool2d(t, 2, 2, 1)  # noqa: E731
    fast_out, (fast_g,) = _grads(fn, [x], g, reference=False)
    ref_out, (ref_g,) = _grads(fn, [x], g, reference=True)
    np.testing.assert_array_equal(fast_out, ref_out)
    np.testing.assert_array_equal(fast_g, ref_g)
    # Tiling windows (no padding) take the multiply route: same check there.
    g2 = rng.standard_normal((1, 2, 3, 3)).astype(np.float32)
    g2[0, 0, 0, 0] = np.inf
    fast = _grads(lambda t: F.max_pool2d(t, 2), [x], g2, reference=False)[1][0]
    ref = _grads(lambda t: F.max_pool2d(t, 2), [x], g2, reference=True)[1][0]
    np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (6, 4), (3, 2, 4, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_fast_matches_reference(shape, affine):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    c = shape[1]
    w = rng.standard_normal(c).astype(np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    if affine:
        fn = lambda t, wt, bt: F.batch_norm(t, None, None, wt, bt, training=True)  # noqa: E731
        _compare(fn, [x, w, b], rng, rtol=1e-4, atol=1e-5)
        if len(shape) == 4:
            _compare(fn, [_cnhw(x), w, b], rng, rtol=1e-4, atol=1e-5)
    else:
        _compare(lambda t: F.batch_norm(t, None, None, training=True), [x], rng, rtol=1e-4, atol=1e-5)


def test_batch_norm_fast_path_against_numpy_and_running_stats():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    layer = cnnkit.nn.BatchNorm2d(3)
    out = layer(cnnkit.tensor(x)).numpy()
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3))
    expected = (x64 - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.running_var.numpy(), 0.9 + 0.1 * var * 128 / 127, rtol=1e-5)


@pytest.mark.parametrize("groups,stride,padding", [(1, 1, 2), (2, 2, 1), (1, 1, 0)])
def test_conv_pooled_buffer_reuse_is_exact(groups, stride, padding):
    """Several training steps (the im2col buffer goes back to the pool after each backward and is
    reused, also by no-grad forwards in between) give exactly the fresh-buffer results."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((6, 4 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    fn = lambda t, wt, bt: F.conv2d(t, wt, bt, stride, padding, 1, groups)  # noqa: E731
    for _ in range(3):
        _compare(fn, [x, w, b], rng, rtol=0, atol=0)
        with cnnkit.no_grad():
            fn(cnnkit.tensor(x * 2), cnnkit.tensor(w), cnnkit.tensor(b))


def test_conv_weight_gradient_against_numpy():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    g = rng.standard_normal((2, 4, 4, 4)).astype(np.float32)
    _, (gx, gw) = _grads(lambda t, wt: F.conv2d(t, wt), [x, w], g, reference=False)
    expected = np.zeros(w.shape)
    for i in range(2):
        for j in range(2):
            expected[:, :, i, j] = np.einsum("nohw,nchw->oc", g, x[:, :, i:i + 4, j:j + 4])
    np.testing.assert_allclose(gw, expected, rtol=1e-5, atol=1e-5)
    assert gw.flags.c_contiguous and gw.dtype == np.float32


def test_linear_transposed_products_against_numpy():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    w = rng.standard_normal((3, 7)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    out, (gx, gw, gb) = _grads(F.linear, [x, w, b], g, reference=False)
    np.testing.assert_allclose(out, x @ w.T + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, g @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, g.T @ x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, g.sum(axis=0), rtol=1e-5, atol=1e-6)
    assert out.dtype == gx.dtype == np.float32


def test_buffer_pool_reuses_only_matching_buffers():
    fastpath.clear()
    a = fastpath.take((1 << 19,), np.float32)  # 2 MiB
    fastpath.give(a)
    assert fastpath.take((1 << 19,), np.float32) is a
    fastpath.give(a)
    assert fastpath.take((1 << 19,), np.float64) is not a  # dtype is part of the key
    small = fastpath.take((10,), np.float32)
    fastpath.give(small)  # too small to pool
    assert fastpath.take((10,), np.float32) is not small
    fastpath.give(a[1:])  # a view is never pooled
    assert fastpath.take((1 << 19,), np.float32) is a
    fastpath.clear()


def test_reference_only_is_scoped():
    assert fastpath.enabled()
    with fastpath.reference_only():
        assert not fastpath.enabled()
        with fastpath.reference_only():
            assert not fastpath.enabled()
        assert not fastpath.enabled()
    assert fastpath.enabled()


def test_max_pool_without_graph_matches_and_indices_still_work():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    with_graph = F.max_pool2d(cnnkit.tensor(x, requires_grad=True), 2).numpy()
    with cnnkit.no_grad():
        plain, idx = F.max_pool2d(cnnkit.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(plain.numpy(), with_graph)
    flat = x.reshape(2, 3, 64)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, -1), axis=2).reshape(2, 3, 4, 4),
                                  with_graph)


def test_relu_backward_blocks_inf_and_nan_gradients_like_pytorch():
    # The fast multiply-by-mask would turn a blocked inf into NaN; PyTorch's threshold_backward gives 0.
    x = cnnkit.tensor(np.array([-1.0, 0.0, 2.0, -3.0, 4.0], np.float32), requires_grad=True)
    y = x.relu()
    y.backward(cnnkit.tensor(np.array([np.inf, np.nan, 5.0, -np.inf, np.inf], np.float32)))
    np.testing.assert_array_equal(x.grad.numpy(), np.array([0.0, 0.0, 5.0, 0.0, np.inf], np.float32))


def test_relu_backward_on_a_strided_conv_output_matches_the_mask_rule():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4, 5, 6)).astype(np.float32).transpose(1, 0, 2, 3)  # a CNHW-strided view
    x = cnnkit.tensor(a, requires_grad=True)
    g = rng.normal(size=(4, 3, 5, 6)).astype(np.float32)
    x.relu().backward(cnnkit.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), np.where(a > 0, g, 0.0).astype(np.float32))
    assert x.grad.dtype == np.float32
