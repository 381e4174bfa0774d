"""Gradient clipping: ``cnnkit.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` against
``torch.nn.utils`` and against NumPy float64 norms computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import cnnkit
from cnnkit.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (5,), (2, 3, 2)]
NORM_TYPES = [1, 2, 2.0, 3, math.inf, "inf"]


def make_grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(scale * rng.standard_normal(s)).astype(np.float32) for s in SHAPES]


def ck_params(grads, with_grad=None):
    params = []
    for i, g in enumerate(grads):
        p = cnnkit.tensor(np.zeros(g.shape, np.float32), requires_grad=True)
        if with_grad is None or with_grad[i]:
            p.grad = cnnkit.tensor(g.copy())
        params.append(p)
    return params


def torch_params(torch, grads, with_grad=None):
    params = []
    for i, g in enumerate(grads):
        p = torch.zeros(g.shape, requires_grad=True)
        if with_grad is None or with_grad[i]:
            p.grad = torch.tensor(g.copy())
        params.append(p)
    return params


def norm64(grads, norm_type):
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads])
    if math.isinf(norm_type):
        return float(np.max(np.abs(flat)))
    return float(np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type))


def as_float(norm_type):
    return math.inf if norm_type == "inf" else float(norm_type)


# ------------------------------------------------------------------------------- clip_grad_norm_
@pytest.mark.parity
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("ratio", [0.3, 0.999, 1.5, 100.0], ids=["clip", "just-below", "above", "far-above"])
def test_clip_grad_norm_parity(torch, norm_type, ratio):
    grads = make_grads()
    nt = as_float(norm_type)
    max_norm = ratio * norm64(grads, nt)
    params, tparams = ck_params(grads), torch_params(torch, grads)
    total = clip_grad_norm_(params, max_norm, norm_type=nt)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=nt)
    assert isinstance(total, cnnkit.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    for p, tp in zip(params, tparams):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_clip_grad_norm_returns_the_pre_clip_total_and_scales_to_max_norm(norm_type):
    grads = make_grads(seed=3, scale=2.0)
    nt = as_float(norm_type)
    total64 = norm64(grads, nt)
    params = ck_params(grads)
    total = clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert total.item() == pytest.approx(total64, rel=1e-6)
    coefficient = 0.5 / (total64 + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.data, g * coefficient, rtol=1e-6)
    assert norm64([p.grad.data for p in params], nt) == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_clip_grad_norm_above_total_leaves_grads_bit_identical(norm_type):
    grads = make_grads()
    params = ck_params(grads)
    before = [p.grad for p in params]
    total = clip_grad_norm_(params, max_norm=norm64(grads, as_float(norm_type)) * 2, norm_type=norm_type)
    assert total.item() == pytest.approx(norm64(grads, as_float(norm_type)), rel=1e-6)
    for p, g, b in zip(params, grads, before):
        assert p.grad is b
        np.testing.assert_array_equal(p.grad.data, g)


def test_clip_grad_norm_works_in_place():
    grads = make_grads()
    params = ck_params(grads)
    arrays = [p.grad.data for p in params]
    clip_grad_norm_(params, 0.1)
    for p, a in zip(params, arrays):
        assert p.grad.data is a
    assert norm64(arrays, 2) == pytest.approx(0.1, rel=1e-5)


@pytest.mark.parity
def test_parameters_without_grad_are_ignored(torch):
    grads = make_grads()
    with_grad = [True, False, True]
    params, tparams = ck_params(grads, with_grad), torch_params(torch, grads, with_grad)
    total = clip_grad_norm_(params, 0.5)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 0.5)
    assert total.item() == pytest.approx(norm64([grads[0], grads[2]], 2), rel=1e-6)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    assert params[1].grad is None
    for i in (0, 2):
        np.testing.assert_allclose(params[i].grad.data, tparams[i].grad.numpy(), rtol=2e-6)


def test_no_gradients_at_all_returns_zero():
    params = ck_params(make_grads(), with_grad=[False, False, False])
    total = clip_grad_norm_(params, 1.0)
    assert isinstance(total, cnnkit.Tensor) and total.item() == 0.0
    assert all(p.grad is None for p in params)


@pytest.mark.parity
@pytest.mark.parametrize("norm_type", [2, math.inf])
def test_single_tensor_argument(torch, norm_type):
    g = np.array([3.0, -4.0, 12.0], np.float32)
    p = cnnkit.tensor(np.zeros(3, np.float32), requires_grad=True)
    p.grad = cnnkit.tensor(g.copy())
    tp = torch.zeros(3, requires_grad=True)
    tp.grad = torch.tensor(g.copy())
    total = clip_grad_norm_(p, 1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0, norm_type=norm_type)
    assert total.item() == pytest.approx(13.0 if norm_type == 2 else 12.0, rel=1e-7)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-7)
    np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6)


def test_generator_argument():
    grads = make_grads()
    params = ck_params(grads)
    total = clip_grad_norm_((p for p in params), 0.5)
    assert total.item() == pytest.approx(norm64(grads, 2), rel=1e-6)
    assert norm64([p.grad.data for p in params], 2) == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("norm_type", [2, 1, math.inf])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_error_if_nonfinite_raises(norm_type, bad):
    grads = make_grads()
    grads[0][1, 2] = bad  # the non-finite value is in the first gradient
    params = ck_params(grads)
    with pytest.raises(RuntimeError, match="total norm of order .* is (nan|inf)"):
        clip_grad_norm_(params, 1.0, norm_type=norm_type, error_if_nonfinite=True)


@pytest.mark.parametrize("norm_type", [
    2, 1,
    math.inf,
])
def test_error_if_nonfinite_raises_for_nan_in_a_later_gradient(norm_type):
    a = cnnkit.tensor(np.ones(3, np.float32), requires_grad=True)
    a.grad = cnnkit.tensor(np.array([1, 2, 3], np.float32))
    b = cnnkit.tensor(np.ones(2, np.float32), requires_grad=True)
    b.grad = cnnkit.tensor(np.array([np.nan, 1], np.float32))
    with pytest.raises(RuntimeError, match="total norm"):
        clip_grad_norm_([a, b], 1.0, norm_type=norm_type, error_if_nonfinite=True)


@pytest.mark.parity
@pytest.mark.parametrize("norm_type", [2, math.inf])
def test_nonfinite_without_error_flag_matches_torch(torch, norm_type):
    grads = make_grads()
    grads[0][0, 0] = np.nan
    params, tparams = ck_params(grads), torch_params(torch, grads)
    total = clip_grad_norm_(params, 1.0, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type=norm_type)
    assert math.isnan(total.item()) and math.isnan(ttotal.item())
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(np.isnan(p.grad.data), np.isnan(tp.grad.numpy()))


# ------------------------------------------------------------------------------- clip_grad_value_
@pytest.mark.parity
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 1.0, 10.0])
def test_clip_grad_value_parity(torch, clip_value):
    grads = make_grads(scale=1.5)
    params, tparams = ck_params(grads), torch_params(torch, grads)
    arrays = [p.grad.data for p in params]
    assert clip_grad_value_(params, clip_value) is None
    torch.nn.utils.clip_grad_value_(tparams, clip_value)
    for p, a, tp, g in zip(params, arrays, tparams, grads):
        assert p.grad.data is a  # in place
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
        np.testing.assert_array_equal(p.grad.data, np.clip(g, -clip_value, clip_value))


def test_clip_grad_value_single_tensor_and_missing_grads():
    p = cnnkit.tensor(np.zeros(3, np.float32), requires_grad=True)
    p.grad = cnnkit.tensor(np.array([-5.0, 0.25, 7.0], np.float32))
    clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.data, np.array([-1.0, 0.25, 1.0], np.float32))
    q = cnnkit.tensor(np.zeros(2, np.float32), requires_grad=True)
    clip_grad_value_([p, q], 0.5)
    assert q.grad is None
    np.testing.assert_array_equal(p.grad.data, np.array([-0.5, 0.25, 0.5], np.float32))


@pytest.mark.parametrize("clip_value", [-0.1, -1])
def test_clip_grad_value_negative_raises(clip_value):
    params = ck_params(make_grads())
    with pytest.raises(ValueError, match=r"clip_value must be >= 0, got -"):
        clip_grad_value_(params, clip_value)
    np.testing.assert_array_equal(params[0].grad.data, make_grads()[0])  # untouched
